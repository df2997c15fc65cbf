"""A fresh database becomes ready to serve: regions loaded once, the city set up through the log once, and
no cycle opened behind Bappeda's back."""

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
    assert counts == {"provinsi": 1, "kota": 1, "kecamatan": 12, "kelurahan": 56}


async def test_the_city_is_set_up_through_the_event_log_once_and_no_cycle_is_opened(
    store: EventStore, pool: asyncpg.Pool
) -> None:
    async def prepare_once() -> None:
        async with pool.acquire() as conn:
            await prepare(conn, store)

    await asyncio.gather(*(prepare_once() for _ in range(4)))  # four servers starting together
    await prepare_once()
    events = await pool.fetch("SELECT stream_id, event_type FROM events")
    assert [tuple(e) for e in events] == [("city", "city.configured")]
    assert await pool.fetchval("SELECT count(*) FROM city") == 0  # only the projector writes read models

    await ProjectionRunner(pool, all_projections()).catch_up_all()
    city = await pool.fetchrow("SELECT region, name, planning_agency_short FROM city")
    assert tuple(city) == ("32.75", "Kota Bekasi", "Bappelitbangda")
    assert await pool.fetchval("SELECT count(*) FROM city_agencies") >= 15
    assert await pool.fetchval("SELECT count(*) FROM cycles") == 0  # Bappeda opens each year's cycle
