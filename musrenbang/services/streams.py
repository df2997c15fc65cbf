"""Running a command against one stream: rebuild the state from its events, decide, append.

Streams that grow long (a forum with 60,000 delegates on its own stream, a year's city level with
thousands of events) keep their state in a per-process cache (`StateCache`) so a command costs the
same late in the stream as early: `load` reads only the events after the cached version and folds them
onto a copy of the cached state. Why a cache in the process and not snapshots in the database:

- A forum's state holds every delegate, so decoding a stored snapshot would itself grow with the forum:
  a ballot would still cost more on a 60,000-delegate forum. Only a state already in memory answers in
  constant time.
- Nothing is persisted, so nothing can go stale across a deploy (a change to a fold starts a new
  process with an empty cache: no schema version to keep), nothing needs migrating, and there is no
  second copy of the truth beside the log that could disagree with it or be tampered with. `verify`,
  `verify --file` and recomputing a result fold the log itself and never see the cache.
- It is always correct: a cached state is used only after reading, in the same statement as the newer
  events, the event at its version and finding the hash it was cached with. The hash chains the whole
  stream, so an equal hash means an equal prefix; anything else (a database restored from a backup, a
  test's other database, a rolled-back transaction) makes `load` fold the whole stream again. (An event
  altered in place, its stored hash left as it was, is for `verify` to find, as before: commands never
  checked the chain.)

The price: each server process folds a stream in full once (the first command after start-up, or after
the stream was pushed out of the bounded cache), and holds the states it caches in memory.
"""

from __future__ import annotations

import contextlib
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

import asyncpg
import msgspec

from musrenbang.domain.errors import DomainError
from musrenbang.domain.events import Event
from musrenbang.eventlog.store import (
    NEW_STREAM,
    Append,
    AppendResult,
    ConcurrencyError,
    EventStore,
    Metadata,
    StreamHead,
)

S = TypeVar("S")
C = TypeVar("C")


def thawed(state: S) -> S:
    """A copy of a state struct that `evolve` may change without changing `state`: a new struct with
    new top-level dicts, sets and lists (the only things the folds here change in place; what they hold
    is frozen)."""
    assert isinstance(state, msgspec.Struct)
    fields = {
        name: type(value)(value)
        for name in state.__struct_fields__
        if isinstance(value := getattr(state, name), dict | set | list)
    }
    return msgspec.structs.replace(state, **fields)


class StateCache(Generic[S]):
    """The latest states of streams of one kind, least recently used dropped first once the streams kept
    hold more than `max_events` events between them (a state's memory grows with its stream's events;
    the latest stream is always kept). States in it are shared: they are never evolved in place, only
    copied (`thawed`) and the copy evolved, so a caller holding one never sees it change."""

    def __init__(self, max_events: int) -> None:
        self.max_events = max_events
        self._entries: OrderedDict[str, tuple[S, StreamHead]] = OrderedDict()
        self._events = 0

    def get(self, stream_id: str) -> tuple[S, StreamHead] | None:
        entry = self._entries.get(stream_id)
        if entry is not None:
            self._entries.move_to_end(stream_id)
        return entry

    def put(self, stream_id: str, state: S, head: StreamHead) -> None:
        """Keep `state` unless a newer one is kept already (two loads racing: the later read wins)."""
        current = self._entries.get(stream_id)
        if current is not None and current[1].version > head.version:
            return
        self.forget(stream_id)
        self._entries[stream_id] = (state, head)
        self._events += head.version
        while self._events > self.max_events and len(self._entries) > 1:
            self.forget(next(iter(self._entries)))

    def forget(self, stream_id: str) -> None:
        entry = self._entries.pop(stream_id, None)
        if entry is not None:
            self._events -= entry[1].version

    def __len__(self) -> int:
        return len(self._entries)


class Aggregate(Generic[S, C]):
    """The pure parts of one kind of stream: its empty state, `decide` and `evolve`. With `cached` (a
    number of events) the streams' states are kept between commands (module docstring)."""

    def __init__(
        self,
        initial: S,
        decide: Callable[[S, C], Sequence[Event]],
        evolve: Callable[[S, Event], S],
        *,
        cached: int = 0,
    ) -> None:
        self.initial, self.decide, self.evolve = initial, decide, evolve
        self.cache: StateCache[S] | None = StateCache(cached) if cached else None


async def load(
    store: EventStore, aggregate: Aggregate[S, C], stream_id: str, conn: asyncpg.Connection | None = None
) -> tuple[S, StreamHead]:
    """The stream's current state and head (read on `conn` when given, e.g. one holding a lock).

    The state of a cached aggregate is shared with other callers: never evolve it in place, evolve
    `thawed(state)` instead."""
    cache = aggregate.cache
    cached = cache.get(stream_id) if cache is not None else None
    if cache is None or cached is None:
        return await _fold(store, aggregate, stream_id, conn)
    state, head = cached
    # From the cached version on: the first event read proves the cached prefix is still this stream's.
    newer = await store.read_stream(stream_id, conn, from_version=head.version)
    if not newer or newer[0].stream_version != head.version or newer[0].hash != head.hash:
        cache.forget(stream_id)
        return await _fold(store, aggregate, stream_id, conn)
    if len(newer) == 1:
        return state, head
    state = thawed(state)
    for recorded in newer[1:]:
        state = aggregate.evolve(state, recorded.event)
    head = StreamHead(newer[-1].stream_version, newer[-1].hash)
    cache.put(stream_id, state, head)
    return state, head


async def _fold(
    store: EventStore, aggregate: Aggregate[S, C], stream_id: str, conn: asyncpg.Connection | None
) -> tuple[S, StreamHead]:
    """Every event of the stream folded from the empty state (and the result cached, if it is kept)."""
    state, head = aggregate.initial, NEW_STREAM
    for recorded in await store.read_stream(stream_id, conn):
        state = aggregate.evolve(state, recorded.event)
        head = StreamHead(recorded.stream_version, recorded.hash)
    if aggregate.cache is not None and head.version > 0:
        aggregate.cache.put(stream_id, state, head)
    return state, head


Guard = Callable[[asyncpg.Connection, S], Awaitable[None]]
"""What must hold, or be held, in the command's transaction before it decides: a lock taken there is
held to the commit, and a check made under it is true at the commit (raise DomainError to refuse)."""


async def execute(
    store: EventStore,
    aggregate: Aggregate[S, C],
    stream_id: str,
    command: C,
    *,
    metadata: Metadata | None = None,
    idempotency_key: str | None = None,
    guard: Guard[S] | None = None,
    attempts: int = 1,
) -> AppendResult:
    """Decide `command` on the current state of `stream_id` and append what it decided, in one transaction
    that `guard` (if given) runs in first, on the state loaded.

    A command retried with the same idempotency key returns its first result without deciding again
    (the state may have moved on, and deciding again could refuse what was already accepted). A stream
    that moved on between the load and the append (ConcurrencyError) is decided again on what is there
    now, up to `attempts` times in all.
    """
    fingerprint = metadata.fingerprint if metadata else None

    async def once() -> AppendResult:
        try:
            async with store.transaction() as conn:
                if idempotency_key is not None:
                    earlier = await store.find_replay(idempotency_key, fingerprint, conn)
                    if earlier is not None:
                        return earlier
                state, head = await load(store, aggregate, stream_id, conn)
                if guard is not None:
                    await guard(conn, state)
                events = aggregate.decide(state, command)
                return await store.append(Append(stream_id, head, events), metadata=metadata,
                                          idempotency_key=idempotency_key, conn=conn)  # fmt: skip
        except DomainError:
            # An identical retry may have committed between the check above and the load: its effect is
            # what made this attempt invalid, and it is this attempt's answer.
            earlier = None if idempotency_key is None else await store.find_replay(idempotency_key, fingerprint)
            if earlier is not None:
                return earlier
            raise

    for _ in range(attempts - 1):
        with contextlib.suppress(ConcurrencyError):
            return await once()
    return await once()
