"""Read models derived from the event log. Each module owns its tables (created in migrations/) and is
the only writer of them; `replay` can drop and rebuild any of them from the log."""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Hashable, Iterable, Sequence
from typing import ClassVar

import asyncpg

from musrenbang.domain.events import event_tag
from musrenbang.eventlog.store import RecordedEvent

_REGISTRY: dict[str, type[Projection]] = {}
_NOT_PROJECTIONS = {"feeds", "rebuild", "runner", "status", "supervisor"}


class Projection:
    """A read model. Subclasses register themselves by being defined (pass `register=False` to opt out,
    e.g. for a projection that exists only in a test or a benchmark).

    `apply` receives a batch of events in the safe global order and must be deterministic: time comes
    from the events, never from the clock, so that a replay gives byte-identical tables.
    """

    name: ClassVar[str]
    tables: ClassVar[tuple[str, ...]]
    handles: ClassVar[tuple[type, ...] | None] = None
    """The event classes `apply` does anything with (None: it looks at every event). A rebuild hands it
    only those: six projections each matching every event of the log against a dozen kinds added up to
    a fair share of a rebuild's CPU. Whatever `apply` ignores must not change what it writes."""

    kinds: ClassVar[frozenset[str] | None] = None
    """The event types `handles` names, as the log stores them (None: every type); set from `handles`.
    What a rebuild hands the projection, what wakes its worker and what counts as its lag."""

    appended: ClassVar[tuple[str, ...]] = ()
    """Of `tables`, those `apply` only ever adds rows to: it never reads, updates or deletes their rows and
    never counts on their keys to catch a conflict. A rebuild fills their copies with no index and builds
    the indexes once the rows are in: one sort instead of a btree insertion per row (for the 2.3M lineage
    steps of a 1M-event log, 11 s of PostgreSQL's time instead of 19). A row written twice then fails the
    rebuild when the key is built, before anything is switched, instead of at its event."""

    def __init_subclass__(cls, register: bool = True, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        cls.kinds = None if cls.handles is None else frozenset(event_tag(c) for c in cls.handles)
        if not set(cls.appended) <= set(getattr(cls, "tables", ())):
            raise RuntimeError(f"{cls.__name__}.appended names tables it does not have")
        if register:
            if cls.name in _REGISTRY:
                raise RuntimeError(f"two projections are named {cls.name!r}")
            _REGISTRY[cls.name] = cls

    async def apply(self, conn: asyncpg.Connection, events: Sequence[RecordedEvent]) -> None:
        raise NotImplementedError

    def last_change(self, events: Sequence[RecordedEvent]) -> int | None:
        """The global position of the last of `events` (in their order) of a kind this projection handles:
        where applying them last changes its tables (None: nowhere). Per event, not per batch, so that a
        replay in batches of another size ends with the same value."""
        kinds = self.kinds
        for r in reversed(events):
            if kinds is None or r.event_type in kinds:
                return r.global_position
        return None


class Statements:
    """The writes of one batch, sent many rows at a time: each run of rows of the same SQL goes to the
    server as one `executemany` (one round trip however many rows).

    `add` keeps strict order: the row goes after everything queued before it, so a projection can write
    as if statement by statement. `add_for(keys, ...)` is for a write that touches only the rows `keys`
    name (and reads no other): it may join an earlier run of its SQL, ahead of writes to *other* rows,
    as long as it stays after every write queued for its own keys and after every `add`. A batch whose
    event kinds interleave (submitted, accepted, decided, ...) then goes as a few runs instead of one per
    change of kind, and each row still sees its own writes in log order. `flush` before reading the
    tables back."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self._conn = conn
        self._runs: list[tuple[str, list[tuple[object, ...]]]] = []
        self._last_run_of_sql: dict[str, int] = {}
        self._last_run_of_key: dict[Hashable, int] = {}
        self._floor = 0
        """No row may join a run before this one: an `add` (rows unknown) went there."""

    async def add(self, sql: str, *args: object) -> None:
        self._floor = self._queue(sql, args, len(self._runs) - 1)

    async def add_for(self, keys: Iterable[Hashable], sql: str, *args: object) -> None:
        keys = keys if isinstance(keys, list | tuple) else list(keys)
        last_run_of_key = self._last_run_of_key
        earliest = self._floor
        for k in keys:  # a plain loop: a rebuild queues tens of thousands of rows
            run = last_run_of_key.get(k, 0)
            if run > earliest:
                earliest = run
        at = self._queue(sql, args, earliest)
        for k in keys:
            last_run_of_key[k] = at

    def _queue(self, sql: str, args: tuple[object, ...], earliest: int) -> int:
        """Append the row to the last run of `sql` if that run is at `earliest` or later, else to a new
        run at the end; returns the run's index."""
        at = self._last_run_of_sql.get(sql, -1)
        if at < max(earliest, 0):
            self._runs.append((sql, []))
            at = self._last_run_of_sql[sql] = len(self._runs) - 1
        self._runs[at][1].append(args)
        return at

    @property
    def pending_runs(self) -> int:
        """How many `executemany` (round trips) the next `flush` sends."""
        return len(self._runs)

    async def flush(self) -> None:
        runs = self._runs
        self._runs, self._last_run_of_sql, self._last_run_of_key, self._floor = [], {}, {}, 0
        for sql, rows in runs:
            await self._conn.executemany(sql, rows)


COPY_FROM = 100
"""From this many rows on, `insert_rows` sends them with COPY (a live batch of a few events keeps its
plain INSERT, which needs no introspection of the table the first time)."""


async def insert_rows(conn: asyncpg.Connection, table: str, columns: Sequence[str],
                      rows: list[tuple[object, ...]]) -> None:  # fmt: skip
    """Insert `rows` into `table` (found through the search_path, so a rebuild writes into its copies):
    many at once by COPY, which a rebuild's tens of thousands of timeline rows per batch need; a few by
    INSERT."""
    if len(rows) >= COPY_FROM:
        await conn.copy_records_to_table(table, columns=list(columns), records=rows)
    elif rows:
        values = ", ".join(f"${i}" for i in range(1, len(columns) + 1))
        await conn.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({values})", rows)


def all_projections() -> list[Projection]:
    """One instance of every projection of the application, in name order."""
    for module in pkgutil.iter_modules(__path__):
        if module.name not in _NOT_PROJECTIONS:
            importlib.import_module(f"{__name__}.{module.name}")
    return [_REGISTRY[name]() for name in sorted(_REGISTRY)]
