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


async def test_a_cycle_adopted_before_cycles_closed_themselves_is_closed_at_start(
    store: EventStore, pool: asyncpg.Pool
) -> None:
    """A log from before issue 12: RKPD 2022 opened without a calendar and adopted without the separate
    stage advance. Left alone it would take proposals for 2022 for good; the start closes it, once."""
    from musrenbang.domain.events import CycleStarted, RkpdAdopted
    from musrenbang.eventlog.store import NEW_STREAM, Append
    from musrenbang.services import cycles

    await store.append(Append("cycle-2022", NEW_STREAM, [CycleStarted(
        year=2022, region="32.75", theme="Tema lama", priority_programs=("Program",))]))  # fmt: skip
    await store.append(Append("rkpd-2022", NEW_STREAM, [RkpdAdopted(year=2022, revision=1, lines=(), total_pagu=0)]))
    assert (await cycles.load_cycle(store, 2022)).is_open("usulan", cycles.today())  # the hole
    for _ in range(2):
        async with pool.acquire() as conn:
            await prepare(conn, store)
    state = await cycles.load_cycle(store, 2022)
    assert state.adopted and not state.is_open("usulan", cycles.today())
    events = await pool.fetch("SELECT event_type FROM events WHERE stream_id = 'cycle-2022' ORDER BY stream_version")
    assert [e[0] for e in events] == ["cycle.started", "cycle.stage_advanced"]
