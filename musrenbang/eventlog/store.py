"""Appending to and reading from the event log.

An append is one INSERT statement per command, whatever the number of events or streams it touches: no
table lock, no global advisory lock. Optimistic concurrency comes from `UNIQUE (stream_id,
stream_version)`: two writers that loaded the same version both try to insert version n+1 and the
database lets exactly one of them commit. Idempotency comes from `UNIQUE (event_id)`: the event ids of a
command are derived from its idempotency key, so a retried command collides with its first attempt and
gets the first attempt's result back instead of writing twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import uuid
from collections.abc import AsyncIterator, Collection, Sequence
from typing import Any, NamedTuple

import asyncpg
import msgspec

from musrenbang.domain.events import Event, event_tag
from musrenbang.eventlog import codec, outbox

_IDEMPOTENCY_NAMESPACE = uuid.UUID("6d7573726e2d6964656d706f74656e63")

CHANNEL = "musrenbang_events"
"""NOTIFY channel that wakes projection workers after events were committed (and outbox senders).

A notification after an append says what was committed: `events <tx> <position> <origin> <type> ...`,
the last event's place in the safe order, the process whose own projection workers will apply them
(`-`: none does) and the types among them, with `OUTBOX_NOTICE` when they queued messages to residents
(`announcement`), so that outbox senders wake only for messages and a projection worker only for events its
projection does something with, only if it has not applied them already, and not at once for another
process's. One that says anything else (the outbox's `OUTBOX_NOTICE`, or an older version's, which
were empty) carries no such news: read it as "look", except the outbox's, which concerns no projection."""
OUTBOX_NOTICE = "outbox"
"""The notification of code that queued messages without appending an event (delivery.wake_senders)."""

log = logging.getLogger(__name__)


class StreamHead(NamedTuple):
    """Where a stream stands: its last version and that event's hash (version 0: the stream is empty)."""

    version: int
    hash: bytes


NEW_STREAM = StreamHead(0, codec.GENESIS_HASH)


class Position(NamedTuple):
    """A point in the safe global order: (transaction id, global position)."""

    tx: int
    position: int


START = Position(0, 0)


class ConcurrencyError(Exception):
    """The stream moved on since it was read: reload and decide again, or tell the user."""

    def __init__(self, stream_ids: Sequence[str]) -> None:
        super().__init__(f"stream changed since it was read: {', '.join(stream_ids)}")
        self.stream_ids = tuple(stream_ids)


class IdempotencyKeyReused(Exception):
    """The idempotency key was already used for a different command."""


class EventUnreadable(Exception):
    """An event this program cannot decode (an unknown type during a rolling upgrade, or data that does
    not fit its type): a reader stops before it instead of skipping it."""

    def __init__(self, global_position: int, tx: int, event_type: str, cause: Exception) -> None:
        super().__init__(f"event {event_type} at global position {global_position} cannot be read: {cause}")
        self.global_position, self.tx, self.event_type, self.cause = global_position, tx, event_type, cause


class Metadata(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """Who did it and why, recorded beside every event (and covered by its hash)."""

    actor: str | None = None
    role: str | None = None
    request_id: str | None = None
    correlation_id: str | None = None
    causation_id: str | None = None
    idempotency_key: str | None = None
    fingerprint: str | None = None


class Append(NamedTuple):
    """Events to add to one stream that the caller read at `expected`."""

    stream_id: str
    expected: StreamHead
    events: Sequence[Event]


class AppendResult(msgspec.Struct, frozen=True):
    """What an append wrote (or, when `replayed`, what the first attempt with the same key wrote)."""

    event_ids: tuple[uuid.UUID, ...]
    positions: tuple[int, ...]
    heads: dict[str, StreamHead]
    recorded_at: dt.datetime
    last: Position
    """The last event written, in the safe global order: wait for projections to pass it."""
    replayed: bool = False


class RecordedEvent(msgspec.Struct, frozen=True):
    global_position: int
    stream_id: str
    stream_version: int
    event_id: uuid.UUID
    event_type: str
    event: Event
    metadata: Metadata
    recorded_at: dt.datetime
    tx: int
    hash: bytes


def event_ids_for(idempotency_key: str, count: int) -> list[uuid.UUID]:
    """Event ids derived from a command's idempotency key, so a retry produces the very same ids."""
    return [uuid.uuid5(_IDEMPOTENCY_NAMESPACE, f"{idempotency_key}#{i}") for i in range(count)]


_INSERT_MANY = """
WITH expected AS (
    SELECT * FROM unnest($9::text[], $10::int[], $11::bytea[]) AS x(stream_id, version, hash)
)
INSERT INTO events (stream_id, stream_version, event_id, event_type, data, metadata, recorded_at, hash, tx)
SELECT n.stream_id, n.stream_version, n.event_id, n.event_type, n.data, n.metadata, $7, n.hash,
       pg_current_xact_id()::text::bigint + (SELECT order_offset FROM event_order)
FROM unnest($1::text[], $2::int[], $3::uuid[], $4::text[], $5::jsonb[], $6::jsonb[], $8::bytea[])
     AS n(stream_id, stream_version, event_id, event_type, data, metadata, hash)
-- The caller's view of each stream must be real: the event at the expected version exists with the
-- expected hash. If the stream has moved past it, the unique constraint turns the insert into a conflict.
WHERE NOT EXISTS (
    SELECT 1 FROM expected x
    WHERE x.version > 0 AND NOT EXISTS (
        SELECT 1 FROM events e
        WHERE e.stream_id = x.stream_id AND e.stream_version = x.version AND e.hash = x.hash))
RETURNING global_position, tx
"""

# One event is the common command (a proposal submitted, a ballot cast); it gets plain parameters, which
# PostgreSQL executes in half the time of the unnest form. Both compute the order key (eventlog/order.py)
# inline, as event_order_key() does for any other writer: inline it is part of the prepared plan.
_INSERT_ONE = """
INSERT INTO events (stream_id, stream_version, event_id, event_type, data, metadata, recorded_at, hash, tx)
SELECT $1, $2, $3, $4, $5, $6, $7, $8, pg_current_xact_id()::text::bigint + (SELECT order_offset FROM event_order)
WHERE $2 = 1 OR EXISTS (
    SELECT 1 FROM events WHERE stream_id = $1 AND stream_version = $2 - 1 AND hash = $9)
ON CONFLICT DO NOTHING
RETURNING global_position, tx
"""


def _identified(metadata: Metadata, idempotency_key: str | None, total: int) -> tuple[Metadata, list[uuid.UUID]]:
    """The metadata to record and the ids of the `total` events to append. With an idempotency key, the
    ids derive from it, so that a retried command collides (`UNIQUE (event_id)`) with its first attempt
    instead of writing twice; the key is recorded in the metadata, which the hash covers."""
    if idempotency_key is not None:
        return msgspec.structs.replace(metadata, idempotency_key=idempotency_key), event_ids_for(idempotency_key, total)
    return metadata, [uuid.uuid4() for _ in range(total)]


def _chained(appends: Sequence[Append], event_ids: list[uuid.UUID], recorded_at: dt.datetime, meta_bytes: bytes
             ) -> tuple[list[tuple[Any, ...]], dict[str, StreamHead]]:  # fmt: skip
    """The rows to insert, (stream_id, version, event_id, event_type, data, hash), and the head each stream
    will then have. Each stream's versions and hash chain continue from the head the caller read, event
    after event in the order given: the hash of each covers the one before it (codec.chain_hash). A stream
    given twice would chain its second part from the same head as its first, so it is refused."""
    rows: list[tuple[Any, ...]] = []
    heads: dict[str, StreamHead] = {}
    ids = iter(event_ids)
    for stream_id, expected, events in appends:
        if stream_id in heads:
            raise ValueError(f"stream {stream_id} given twice in one append")
        version, previous = expected
        for event in events:
            version += 1
            event_id, event_type, data = next(ids), event_tag(type(event)), codec.encode(event)
            canonical = codec.canonical(stream_id, version, event_id, event_type, recorded_at, data, meta_bytes)
            previous = codec.chain_hash(previous, canonical)
            rows.append((stream_id, version, event_id, event_type, data, previous))
        heads[stream_id] = StreamHead(version, previous)
    return rows, heads


def _statement(appends: Sequence[Append], rows: list[tuple[Any, ...]], meta_bytes: bytes, recorded_at: dt.datetime
               ) -> tuple[str, tuple[Any, ...]]:  # fmt: skip
    """The one INSERT that appends `rows`, and its arguments: `_INSERT_ONE` with plain parameters for a
    single event (the common command, executed in half the time), else `_INSERT_MANY` over arrays, with
    every stream's expected head to check."""
    if len(rows) == 1:
        stream_id, version, event_id, event_type, data, hash_ = rows[0]
        return _INSERT_ONE, (
            stream_id, version, event_id, event_type, data, meta_bytes, recorded_at, hash_, appends[0].expected.hash,
        )  # fmt: skip
    streams, versions, event_ids, types, datas, hashes = (list(c) for c in zip(*rows, strict=True))
    return _INSERT_MANY, (
        streams, versions, event_ids, types, datas, [meta_bytes] * len(rows), recorded_at, hashes,
        [a.stream_id for a in appends], [a.expected.version for a in appends], [a.expected.hash for a in appends],
    )  # fmt: skip


_COLUMNS = "global_position, stream_id, stream_version, event_id, event_type, data, metadata, recorded_at, tx, hash"

_metadata_decoder = msgspec.json.Decoder(Metadata)


def _recorded(row: asyncpg.Record) -> RecordedEvent:
    """An event from a row of `_COLUMNS`, by position (a rebuild turns every event of the log into one)."""
    global_position, stream_id, stream_version, event_id, event_type, data, metadata, recorded_at, tx, hash_ = row
    try:
        event = codec.decode_event(event_type, data)
        meta = _metadata_decoder.decode(metadata)
    except (codec.UnknownEventType, msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise EventUnreadable(global_position, tx, event_type, exc) from exc
    return RecordedEvent(global_position, stream_id, stream_version, event_id, event_type, event, meta, recorded_at,
                         tx, hash_)  # fmt: skip


class EventStore:
    """The event log in one PostgreSQL table (`migrations/0001_event_log.sql`)."""

    def __init__(self, pool: asyncpg.Pool, *, origin: str | None = None) -> None:
        """`origin`: this process's name in its notifications, when projection workers of its own listen
        for them (ProjectionRunner.origin); the workers of other processes then leave its events to them
        for a moment (projections/supervisor.py)."""
        self._pool = pool
        self._notifier = _Notifier(pool, origin)
        self._transactions: dict[asyncpg.Connection, _Appended] = {}
        """What each open `transaction()` appended so far: announced once it commits."""

    @property
    def pool(self) -> asyncpg.Pool:
        return self._pool

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[asyncpg.Connection]:
        """A connection in a transaction, for commands that must read under a lock before appending;
        pass it to `append(conn=...)`. Listeners are notified once it has committed, of what it appended."""
        appended = _Appended()
        async with self._pool.acquire() as conn:
            self._transactions[conn] = appended
            try:
                async with conn.transaction():
                    yield conn
            finally:
                del self._transactions[conn]
        self._notifier.poke(appended)

    async def append(
        self,
        appends: Append | Sequence[Append],
        *,
        metadata: Metadata | None = None,
        idempotency_key: str | None = None,
        conn: asyncpg.Connection | None = None,
    ) -> AppendResult:
        """Append the events of one command atomically, to one stream or several.

        Raises ConcurrencyError when a stream is no longer at its expected head, and IdempotencyKeyReused
        when `idempotency_key` was already used with a different `metadata.fingerprint`.
        """
        if isinstance(appends, Append):
            appends = [appends]
        metadata = metadata or Metadata()
        total = sum(len(a.events) for a in appends)
        if total == 0:
            raise ValueError("nothing to append")
        metadata, event_ids = _identified(metadata, idempotency_key, total)
        recorded_at = dt.datetime.now(dt.UTC)
        meta_bytes = codec.encode(metadata)
        rows, heads = _chained(appends, event_ids, recorded_at, meta_bytes)
        sql, args = _statement(appends, rows, meta_bytes, recorded_at)

        all_events = [e for a in appends for e in a.events]
        news = outbox.sends_news(all_events)
        async with _connection(self._pool, conn) as c:
            in_callers_transaction = c.is_in_transaction()
            # Messages commit with their events (eventlog/outbox.py): a transaction of our own if the
            # caller has none. Events without news stay a single statement.
            own = c.transaction() if news and not in_callers_transaction else contextlib.nullcontext()
            async with own:
                try:
                    inserted = await _insert(c, sql, args)
                except asyncpg.UniqueViolationError as exc:
                    return await self._earlier_or_conflict(c, event_ids, metadata, appends, exc)
                if len(inserted) != total:
                    # The expected head was not found: the caller's view of the stream is stale or invented.
                    return await self._earlier_or_conflict(c, event_ids, metadata, appends, None)
                if news:
                    await outbox.enqueue(c, list(zip(event_ids, all_events, strict=True)))
        last = Position(inserted[-1]["tx"], inserted[-1]["global_position"])
        # Messages queued: the senders' listeners wake for them (and for nothing else of the log's).
        appended = _Appended(last, {row[3] for row in rows} | ({OUTBOX_NOTICE} if news else set()))
        self._announce(c, in_callers_transaction, appended)
        return AppendResult(
            event_ids=tuple(event_ids),
            positions=tuple(r["global_position"] for r in inserted),
            heads=heads,
            recorded_at=recorded_at,
            last=last,
        )

    async def _earlier_or_conflict(
        self,
        conn: asyncpg.Connection,
        event_ids: list[uuid.UUID],
        metadata: Metadata,
        appends: Sequence[Append],
        violation: asyncpg.UniqueViolationError | None,
    ) -> AppendResult:
        """Why an insert wrote nothing (`violation`: the unique violation it raised, if it raised one).
        The earlier result is looked for first, whatever the violation: a retried command's event ids
        are taken, and it gets its first attempt's result back (or IdempotencyKeyReused), written and
        announced then. Otherwise a taken stream version, or an expected head that was not found, means
        the stream is not where the caller read it (ConcurrencyError); any other violation is not ours to
        explain and goes on as it came."""
        earlier = await self._earlier_result(conn, event_ids, metadata)
        if earlier is not None:
            return earlier
        conflict = ConcurrencyError([a.stream_id for a in appends])
        if violation is None:
            raise conflict
        if violation.constraint_name == "events_stream_version_key":
            raise conflict from None
        raise violation

    def _announce(self, conn: asyncpg.Connection, in_callers_transaction: bool, appended: _Appended) -> None:
        """Tell listeners what an append wrote, once it has committed, never before (see `_Notifier` for
        why NOTIFY comes after the commit). Alone, it committed already: poke now. In a `transaction()`,
        it commits with that: add it to what that transaction announces on its way out. In a transaction
        of the caller's own, nothing is announced here: the workers' poll finds the events."""
        if not in_callers_transaction:
            self._notifier.poke(appended)
        elif (pending := self._transactions.get(conn)) is not None:
            pending.add(appended)

    async def _earlier_result(
        self, conn: asyncpg.Connection, event_ids: list[uuid.UUID], metadata: Metadata, *, same_command: bool = True
    ) -> AppendResult | None:
        rows = await conn.fetch(
            "SELECT global_position, stream_id, stream_version, hash, recorded_at, metadata, tx"
            " FROM events WHERE event_id = ANY($1::uuid[]) ORDER BY global_position",
            event_ids,
        )
        if not rows:
            return None
        first = _metadata_decoder.decode(rows[0]["metadata"])
        if same_command and first.fingerprint != metadata.fingerprint:
            raise IdempotencyKeyReused(
                f"idempotency key {metadata.idempotency_key!r} was already used for a different command"
            )
        heads: dict[str, StreamHead] = {}
        for r in rows:
            heads[r["stream_id"]] = StreamHead(r["stream_version"], r["hash"])
        return AppendResult(
            event_ids=tuple(event_ids),
            positions=tuple(r["global_position"] for r in rows),
            heads=heads,
            recorded_at=rows[0]["recorded_at"],
            last=max(Position(r["tx"], r["global_position"]) for r in rows),
            replayed=True,
        )

    async def find_replay(
        self, idempotency_key: str, fingerprint: str | None, conn: asyncpg.Connection | None = None
    ) -> AppendResult | None:
        """The result of an earlier command with this key, if there was one (checked before deciding)."""
        async with _connection(self._pool, conn) as c:
            return await self._earlier_result(
                c,
                event_ids_for(idempotency_key, 1),
                Metadata(idempotency_key=idempotency_key, fingerprint=fingerprint),
            )

    async def made_with_key(self, idempotency_key: str) -> AppendResult | None:
        """What the command that first used this key recorded, whatever that command was: to tell a
        person what their earlier request did, after IdempotencyKeyReused."""
        first = Metadata(idempotency_key=idempotency_key)
        async with _connection(self._pool, None) as c:
            return await self._earlier_result(c, event_ids_for(idempotency_key, 1), first, same_command=False)

    async def read_stream(
        self, stream_id: str, conn: asyncpg.Connection | None = None, from_version: int = 1
    ) -> list[RecordedEvent]:
        async with _connection(self._pool, conn) as c:
            return await read_stream_on(c, stream_id, from_version)

    async def head(self, stream_id: str, conn: asyncpg.Connection | None = None) -> StreamHead:
        async with _connection(self._pool, conn) as c:
            row = await c.fetchrow(
                "SELECT stream_version, hash FROM events WHERE stream_id = $1 ORDER BY stream_version DESC LIMIT 1",
                stream_id,
            )
        return NEW_STREAM if row is None else StreamHead(row["stream_version"], row["hash"])


# The safe global order and why it never skips an event: see eventlog/order.py. The horizon is computed
# in the same statement (and so the same snapshot) as the read.
_READ_AFTER = f"""
SELECT {_COLUMNS} FROM events
WHERE (tx, global_position) > ($1::bigint, $2::bigint)
  AND tx < (SELECT event_horizon())
ORDER BY tx, global_position
LIMIT $3
"""


async def read_after(conn: asyncpg.Connection, after: Position, limit: int) -> list[RecordedEvent]:
    """Up to `limit` events after `after`, in the safe global order (eventlog/order.py)."""
    rows = await conn.fetch(_READ_AFTER, after.tx, after.position, limit)
    return [_recorded(r) for r in rows]


async def count_after(conn: asyncpg.Connection, after: Position, limit: int,
                      kinds: Collection[str] | None = None) -> int:  # fmt: skip
    """How many committed events lie beyond `after` (a projection's lag), counting at most `limit`.
    The ORDER BY and LIMIT make the planner walk the (tx, global_position) index from `after`: without
    them a prepared statement's generic plan scanned the whole log (half a second at 1M events).

    With `kinds`, how many of those types among the next `limit` events; at least 1 when those are all of
    other types, since events of `kinds` may lie beyond them."""
    if kinds is None:  # the index alone answers (an index-only scan)
        return await conn.fetchval(
            "SELECT count(*) FROM (SELECT 1 FROM events WHERE (tx, global_position) > ($1::bigint, $2::bigint)"
            " ORDER BY tx, global_position LIMIT $3) AS beyond",
            after.tx, after.position, limit,
        )  # fmt: skip
    row = await conn.fetchrow(
        "SELECT count(*) FILTER (WHERE event_type = ANY($4::text[])) AS handled, count(*) AS seen FROM"
        " (SELECT event_type FROM events WHERE (tx, global_position) > ($1::bigint, $2::bigint)"
        " ORDER BY tx, global_position LIMIT $3) AS beyond",
        after.tx, after.position, limit, sorted(kinds),
    )  # fmt: skip
    return max(row["handled"], 1 if row["seen"] >= limit else 0)


async def _insert(conn: asyncpg.Connection, sql: str, args: tuple[Any, ...]) -> list[asyncpg.Record]:
    """The rows inserted. A single event never raises on a taken id or version (ON CONFLICT DO NOTHING:
    it inserts nothing, and the caller tells a retried command from a moved stream), so it needs no
    savepoint inside a caller's transaction: two statements fewer for every proposal submitted."""
    if conn.is_in_transaction() and sql is not _INSERT_ONE:
        # A savepoint, so that after a unique violation the caller's transaction can still look up the
        # earlier result of a retried command.
        async with conn.transaction():
            return await conn.fetch(sql, *args)
    # Alone, the statement is its own transaction: one round trip, no BEGIN/COMMIT.
    return await conn.fetch(sql, *args)


async def read_stream_on(conn: asyncpg.Connection, stream_id: str, from_version: int = 1) -> list[RecordedEvent]:
    """The events of one stream from `from_version` on (every event by default), in version order, read on
    `conn` (for code that holds a connection and no pool: a CLI command, a migration-time task)."""
    rows = await conn.fetch(
        f"SELECT {_COLUMNS} FROM events WHERE stream_id = $1 AND stream_version >= $2 ORDER BY stream_version",
        stream_id, from_version,
    )  # fmt: skip
    return [_recorded(r) for r in rows]


def like_prefix(prefix: str) -> str:
    """A LIKE pattern for the stream ids starting with `prefix`, whatever characters it holds."""
    return prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


async def read_stream_prefix(
    pool: asyncpg.Pool, prefix: str, conn: asyncpg.Connection | None = None
) -> list[RecordedEvent]:
    """Every event of every stream whose id starts with `prefix` (e.g. all ballot streams of a forum),
    in global position order. Uses the text_pattern_ops index of migration 0011."""
    pattern = like_prefix(prefix)
    async with _connection(pool, conn) as c:
        rows = await c.fetch(f"SELECT {_COLUMNS} FROM events WHERE stream_id LIKE $1 ORDER BY global_position", pattern)
    return [_recorded(r) for r in rows]


class _Appended:
    """What one or more appends committed: the last event's place in the safe order, and the types."""

    def __init__(self, last: Position | None = None, types: set[str] | None = None) -> None:
        self.last, self.types = last, types or set()

    def add(self, other: _Appended) -> None:
        if other.last is not None and (self.last is None or other.last > self.last):
            self.last = other.last
        self.types |= other.types


class Announced(NamedTuple):
    """What a notification says was committed (see CHANNEL)."""

    last: Position
    origin: str | None
    """The process whose own workers apply these events (None: no process says it will)."""
    types: frozenset[str]


def announcement(appended: _Appended, origin: str | None) -> str:
    """The payload telling listeners what was committed (see CHANNEL); "" when nothing is known."""
    if appended.last is None:
        return ""
    last = appended.last
    return " ".join(("events", str(last.tx), str(last.position), origin or "-", *sorted(appended.types)))


def announced(payload: str) -> Announced | None:
    """What a notification says was committed; None when it does not say (an outbox wake-up, an older
    version's empty notification)."""
    words = payload.split()
    if len(words) < 4 or words[0] != "events" or not (words[1].isdigit() and words[2].isdigit()):
        return None
    return Announced(Position(int(words[1]), int(words[2])), None if words[3] == "-" else words[3],
                     frozenset(words[4:]))  # fmt: skip


class _Notifier:
    """Tells listeners that events were committed, and which, coalescing bursts into few notifications.

    Why not NOTIFY inside the appending transaction: PostgreSQL serialises the commits of all
    transactions that notify (one lock, held across the commit's WAL flush), which halved append
    throughput with 16 writers. A NOTIFY sent after the commit, in a transaction of its own that writes
    nothing, holds that lock for microseconds. Every commit is followed by a notification sent after it;
    if this process dies in between, the workers' poll picks the events up (notifications are hints).
    Bursts are coalesced: at most one notification per few milliseconds per process, saying what all
    the commits since the last one appended.
    """

    COALESCE_SECONDS = 0.005

    def __init__(self, pool: asyncpg.Pool, origin: str | None) -> None:
        self._pool, self._origin = pool, origin
        self._task: asyncio.Task[None] | None = None
        self._pending = _Appended()
        self._again = False

    def poke(self, appended: _Appended) -> None:
        if appended.last is None:  # a transaction that appended nothing (a seal finding nothing): no news
            return
        self._pending.add(appended)
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._send())
        else:
            self._again = True  # a notification is in flight; send one more after it

    async def _send(self) -> None:
        while True:
            # Gather the appends of the next few milliseconds into this one notification.
            await asyncio.sleep(self.COALESCE_SECONDS)
            self._again = False
            payload, self._pending = announcement(self._pending, self._origin), _Appended()
            try:
                await self._pool.execute("SELECT pg_notify($1, $2)", CHANNEL, payload)
            except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError) as exc:
                log.debug("notification not sent (the workers' poll will catch up): %s", exc)
                return
            if not self._again:
                return


class _connection:
    """Use the caller's connection when given, else borrow one from the pool."""

    def __init__(self, pool: asyncpg.Pool, conn: asyncpg.Connection | None) -> None:
        self._pool, self._conn, self._acquired = pool, conn, None

    async def __aenter__(self) -> asyncpg.Connection:
        if self._conn is not None:
            return self._conn
        self._acquired = await self._pool.acquire()
        return self._acquired

    async def __aexit__(self, *exc: object) -> None:
        if self._acquired is not None:
            await self._pool.release(self._acquired)
