"""Projections that exist only for tests of the runner."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import asyncpg

from musrenbang.eventlog.store import RecordedEvent
from musrenbang.projections import Projection

TALLY_TABLE = """
CREATE TABLE IF NOT EXISTS test_tally (
    global_position bigint PRIMARY KEY,
    stream_id text NOT NULL,
    stream_version integer NOT NULL,
    recorded_at timestamptz NOT NULL
)
"""


class Recorder(Projection, register=False):
    """Remembers the event ids it was given, in order."""

    name = "test_recorder"
    tables = ()

    def __init__(self) -> None:
        self.seen: list = []

    async def apply(self, conn: asyncpg.Connection, events: Sequence[RecordedEvent]) -> None:
        self.seen.extend(e.event_id for e in events)


class Tally(Projection, register=False):
    """One row per event, written slowly (so a test can kill it in the middle of a batch)."""

    name = "test_tally"
    tables = ("test_tally",)

    def __init__(self, delay: float = 0.0) -> None:
        self.delay = delay

    async def apply(self, conn: asyncpg.Connection, events: Sequence[RecordedEvent]) -> None:
        for e in events:
            # A primary key on the position: applying an event twice would fail loudly.
            await conn.execute(
                "INSERT INTO test_tally VALUES ($1, $2, $3, $4)",
                e.global_position,
                e.stream_id,
                e.stream_version,
                e.recorded_at,
            )
            if self.delay:
                await asyncio.sleep(self.delay)


async def table_checksum(conn: asyncpg.Connection, table: str) -> str:
    return await conn.fetchval(f"SELECT md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), '')) FROM {table} t")
