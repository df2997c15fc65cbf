"""The city on the event log: set up once (`musrenbang setup`, or the first start with Kota Bekasi's
settings), its settings changed the same way. Commands read the settings from the log itself, never from
a read model that may be behind: they are one short stream."""

from __future__ import annotations

import asyncpg

from musrenbang.domain import city
from musrenbang.domain.errors import N_, DomainError
from musrenbang.eventlog.store import AppendResult, EventStore, Metadata, read_stream_on
from musrenbang.services.streams import Aggregate, execute, load

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
    """Record the settings; None when they are already the ones in force (nothing is written)."""
    state, _ = await load(store, CITY, city.STREAM)
    if not city.decide(state, command):
        return None
    return await execute(store, CITY, city.STREAM, command, metadata=metadata, idempotency_key=idempotency_key)
