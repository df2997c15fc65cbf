"""What the city-scale pages are cached and counted by, kept in the read models (issue 15, part 4): each RKPD
year's version is the position of the last event the rkpd projection applied for it, and each year's
proposal count is the count of its proposals; both rebuilt the same by a replay."""

from __future__ import annotations

import asyncpg

from musrenbang.domain.events import CycleStageAdvanced
from musrenbang.eventlog.seal import seal
from musrenbang.eventlog.store import Append, EventStore, StreamHead
from musrenbang.projections import all_projections
from musrenbang.projections import proposals as proposal_views
from musrenbang.projections import rkpd as rkpd_views
from musrenbang.projections import status as status_views
from musrenbang.projections.runner import ProjectionRunner
from tests import history


async def test_year_versions_and_counts_follow_the_log(store: EventStore, pool: asyncpg.Pool) -> None:
    await history.build(pool, store)
    counted = dict(await pool.fetch("SELECT year, count(*) FROM proposals GROUP BY year"))
    async with pool.acquire() as conn:
        assert await proposal_views.counts_by_year(conn) == counted and counted[history.YEAR] > 0
        version = await rkpd_views.list_version(conn, history.YEAR)
        last = await conn.fetchval(
            "SELECT max(global_position) FROM events WHERE event_type LIKE 'rkpd.%' AND (data->>'year')::int = $1",
            history.YEAR,
        )
        assert version.rkpd == last and version.programs is not None and version.seal == 1
        assert (await rkpd_views.list_version(conn, 2031)).programs is None  # no cycle: not found
        equity = await status_views.checkpoints(conn, ["rkpd", "proposals"])
        years = "SELECT year, position FROM proposal_year_versions ORDER BY year"
        proposal_years = dict(await conn.fetch(years))
        touched = await conn.fetchval("SELECT max(seq) FROM proposal_timeline t JOIN proposals p USING (code)"
                                      " WHERE p.year = $1", history.YEAR)  # fmt: skip
        assert proposal_years[history.YEAR] == touched  # the last event that changed one of the year's proposals
        runner = ProjectionRunner(pool, all_projections())
        for projection in runner.named(["rkpd", "proposals"]):
            await runner.replay(projection)
        # Rebuilt the same, at the same positions; but in new tables, which a page cached from the old
        # ones must not outlive (its key moves).
        rebuilt = await rkpd_views.list_version(conn, history.YEAR)
        assert (rebuilt.rkpd, rebuilt.programs, rebuilt.seal) == (version.rkpd, version.programs, version.seal)
        assert rebuilt.tables != version.tables
        after = await status_views.checkpoints(conn, ["rkpd", "proposals"])
        assert [p for p, _ in after] == [p for p, _ in equity] and after != equity
        assert await proposal_views.counts_by_year(conn) == counted
        assert dict(await conn.fetch(years)) == proposal_years  # the same, whatever the replay's batches


async def test_a_page_key_moves_only_with_what_its_models_apply(store: EventStore, pool: asyncpg.Pool) -> None:
    """Pages cached by read-model checkpoints key on where each model's tables last changed: an event one
    model handles moves that model's key alone, a seal (which no read model applies) moves none, though
    every checkpoint goes past it; a replay moves the rebuilt model's."""
    await history.build(pool, store)
    runner = ProjectionRunner(pool, all_projections())
    names = ["cycles", "forums", "proposals"]

    async def now() -> tuple[tuple[tuple[int, int], ...], list[int]]:
        await runner.catch_up_all()
        async with pool.acquire() as conn:
            positions = await conn.fetch("SELECT position FROM projection_checkpoints WHERE name = ANY($1)", names)
            return await status_views.checkpoints(conn, names), sorted(r["position"] for r in positions)

    before, positions = await now()
    cycle = await store.read_stream("cycle-2023")
    await store.append(Append("cycle-2023", StreamHead(cycle[-1].stream_version, cycle[-1].hash),
                              [CycleStageAdvanced(year=2023, stage="kelurahan")]))  # fmt: skip
    advanced, _ = await now()
    assert advanced[0] != before[0] and advanced[1:] == before[1:]  # cycles applied it; the others ignore it
    assert await seal(store) > 0
    sealed, past = await now()
    assert sealed == advanced and min(past) > max(positions)  # every checkpoint went past the seal
    await runner.replay(next(p for p in runner.projections if p.name == "forums"))
    replayed, _ = await now()
    assert replayed[1][0] == sealed[1][0] and replayed[1][1] != sealed[1][1] and replayed[::2] == sealed[::2]
