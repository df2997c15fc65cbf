"""A fresh database becomes ready to serve: regions loaded once, the first cycle opened through the log."""

from __future__ import annotations

import asyncio

import asyncpg

from musrenbang.eventlog.store import EventStore
from musrenbang.projections import all_projections
from musrenbang.projections.runner import ProjectionRunner
from musrenbang.reference import load_regions
from musrenbang.services.bootstrap import prepare


async def test_regions_load_idempotently(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        await load_regions(conn)
        await load_regions(conn)
        counts = dict(await conn.fetch("SELECT tingkat, count(*) FROM regions GROUP BY tingkat"))
    assert counts == {"kota": 1, "kecamatan": 12, "kelurahan": 56}


async def test_the_first_cycle_is_opened_through_the_event_log_once(store: EventStore, pool: asyncpg.Pool) -> None:
    async def prepare_once() -> None:
        async with pool.acquire() as conn:
            await prepare(conn, store)

    await asyncio.gather(*(prepare_once() for _ in range(4)))  # four servers starting together
    await prepare_once()
    events = await pool.fetch("SELECT stream_id, event_type FROM events")
    assert [tuple(e) for e in events] == [("cycle-2022", "cycle.started")]
    assert await pool.fetchval("SELECT count(*) FROM cycles") == 0  # only the projector writes read models

    await ProjectionRunner(pool, all_projections()).catch_up_all()
    cycle = await pool.fetchrow("SELECT year, stage, kickoff_on::text FROM cycles")
    assert tuple(cycle) == (2022, "usulan", "2021-01-19")
    programs = await pool.fetch("SELECT title FROM cycle_priority_programs WHERE year = 2022 ORDER BY number")
    assert len(programs) == 6
    assert programs[0]["title"] == "Penguatan dan pengembangan ekonomi kreatif kota"
