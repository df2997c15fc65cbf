"""The city on the event log: set up once (`musrenbang setup`, or the first start with Kota Bekasi's
settings), its settings changed the same way. Commands read the settings from the log itself, never from
a read model that may be behind: they are one short stream."""

from __future__ import annotations

import asyncpg

from musrenbang.domain import city
from musrenbang.domain.errors import N_, DomainError
from musrenbang.eventlog.store import Append, AppendResult, ConcurrencyError, EventStore, Metadata, read_stream_on
from musrenbang.services.streams import Aggregate, load

CITY = Aggregate(city.City(), city.decide, city.evolve)


async def current(store: EventStore, conn: asyncpg.Connection | None = None) -> city.City:
    """The settings in force (`exists` is False before setup)."""
    state, _ = await load(store, CITY, city.STREAM, conn)
    return state


async def current_on(conn: asyncpg.Connection) -> city.City:
    """The settings in force, read on `conn` (no pool needed)."""
    state = CITY.initial
    for recorded in await read_stream_on(conn, city.STREAM):
        state = CITY.evolve(state, recorded.event)
    return state


async def required(store: EventStore, conn: asyncpg.Connection | None = None) -> city.City:
    """The settings in force; refused before the platform is set up."""
    state = await current(store, conn)
    if not state.exists:
        raise DomainError(N_("platform belum disiapkan untuk sebuah kabupaten/kota (musrenbang setup)"))
    return state


async def configure(store: EventStore, command: city.ConfigureCity, metadata: Metadata,
                    idempotency_key: str | None = None) -> AppendResult | None:  # fmt: skip
    """Record the settings; None when they are already the ones in force (nothing is written). Several
    servers starting at once on a new database all try to record the default settings: one does, the
    others find them in force (or their key's first result) when they decide again."""
    for _ in range(3):
        if idempotency_key is not None:
            earlier = await store.find_replay(idempotency_key, metadata.fingerprint)
            if earlier is not None:
                return earlier
        state, head = await load(store, CITY, city.STREAM)
        events = city.decide(state, command)
        if not events:
            return None
        try:
            return await store.append(Append(city.STREAM, head, events), metadata=metadata,
                                      idempotency_key=idempotency_key)  # fmt: skip
        except ConcurrencyError:
            continue  # another server recorded settings meanwhile: decide again on them
    raise ConcurrencyError([city.STREAM])
