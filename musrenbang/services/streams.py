"""Running a command against one stream: rebuild the state from its events, decide, append."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

import asyncpg

from musrenbang.domain.errors import DomainError
from musrenbang.domain.events import Event
from musrenbang.eventlog.store import NEW_STREAM, Append, AppendResult, EventStore, Metadata, StreamHead

S = TypeVar("S")
C = TypeVar("C")


class Aggregate(Generic[S, C]):
    """The pure parts of one kind of stream: its empty state, `decide` and `evolve`."""

    def __init__(
        self,
        initial: S,
        decide: Callable[[S, C], Sequence[Event]],
        evolve: Callable[[S, Event], S],
    ) -> None:
        self.initial, self.decide, self.evolve = initial, decide, evolve


async def load(
    store: EventStore, aggregate: Aggregate[S, C], stream_id: str, conn: asyncpg.Connection | None = None
) -> tuple[S, StreamHead]:
    """The stream's current state and head (read on `conn` when given, e.g. one holding a lock)."""
    state, head = aggregate.initial, NEW_STREAM
    for recorded in await store.read_stream(stream_id, conn):
        state = aggregate.evolve(state, recorded.event)
        head = StreamHead(recorded.stream_version, recorded.hash)
    return state, head


async def execute(
    store: EventStore,
    aggregate: Aggregate[S, C],
    stream_id: str,
    command: C,
    *,
    metadata: Metadata | None = None,
    idempotency_key: str | None = None,
) -> AppendResult:
    """Decide `command` on the current state of `stream_id` and append what it decided.

    A command retried with the same idempotency key returns its first result without deciding again
    (the state may have moved on, and deciding again could refuse what was already accepted).
    """
    fingerprint = metadata.fingerprint if metadata else None
    if idempotency_key is not None:
        earlier = await store.find_replay(idempotency_key, fingerprint)
        if earlier is not None:
            return earlier
    state, head = await load(store, aggregate, stream_id)
    try:
        events = aggregate.decide(state, command)
    except DomainError:
        # An identical retry may have committed between the check above and the load: its effect is
        # what made this attempt invalid, and it is this attempt's answer.
        if idempotency_key is not None:
            earlier = await store.find_replay(idempotency_key, fingerprint)
            if earlier is not None:
                return earlier
        raise
    return await store.append(Append(stream_id, head, events), metadata=metadata, idempotency_key=idempotency_key)
