"""Read models derived from the event log. Each module owns its tables (created in migrations/) and is
the only writer of them; `replay` can drop and rebuild any of them from the log."""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Sequence
from typing import ClassVar

import asyncpg

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

    def __init_subclass__(cls, register: bool = True, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        if register:
            if cls.name in _REGISTRY:
                raise RuntimeError(f"two projections are named {cls.name!r}")
            _REGISTRY[cls.name] = cls

    async def apply(self, conn: asyncpg.Connection, events: Sequence[RecordedEvent]) -> None:
        raise NotImplementedError


class Statements:
    """The writes of one batch, sent many rows at a time: consecutive `add`s of the same SQL go to the
    server as one `executemany`. Order is kept — another statement first sends what is queued — so a
    projection can write as if statement by statement. `flush` before reading the tables back."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self._conn = conn
        self._sql: str | None = None
        self._rows: list[tuple[object, ...]] = []

    async def add(self, sql: str, *args: object) -> None:
        if sql != self._sql:
            await self.flush()
            self._sql = sql
        self._rows.append(args)

    async def flush(self) -> None:
        if self._rows:
            await self._conn.executemany(self._sql, self._rows)
        self._sql, self._rows = None, []


def all_projections() -> list[Projection]:
    """One instance of every projection of the application, in name order."""
    for module in pkgutil.iter_modules(__path__):
        if module.name not in _NOT_PROJECTIONS:
            importlib.import_module(f"{__name__}.{module.name}")
    return [_REGISTRY[name]() for name in sorted(_REGISTRY)]
