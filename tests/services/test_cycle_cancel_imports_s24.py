"""An imported Pabulib election names a year (its `instance`) but belongs to no cycle of the city: it does
not stop a cycle of that year opened by mistake from being withdrawn (review s24: it did, as "1 musyawarah"
that no page of the year lists), and the staff page offers the withdrawal. A forum of the city's own still
does."""

from __future__ import annotations

import asyncpg

from musrenbang import pabulib
from musrenbang.domain import cycle as cycle_rules
from musrenbang.eventlog.store import EventStore
from musrenbang.projections import all_projections
from musrenbang.projections import cycles as cycle_views
from musrenbang.projections.runner import ProjectionRunner
from musrenbang.services import cycles
from musrenbang.services.forums import ForumService, new_forum_id
from tests.cycles import open_test_cycle
from tests.services.test_cycle_cancel_race_s23 import META
from tests.test_pabulib import pb

YEAR = 2031


async def test_an_imported_election_of_the_year_does_not_hold_a_withdrawal(store: EventStore,
                                                                          pool: asyncpg.Pool) -> None:  # fmt: skip
    await open_test_cycle(store)  # the city set up
    await cycles.open_cycle(store, cycle_rules.StartCycle(year=YEAR, region="32.75", theme="Tahun keliru",
                                                          priority_programs=("Program",),
                                                          calendar=cycle_rules.default_calendar_for(YEAR)), META)
    runner = ProjectionRunner(pool, all_projections())
    meta = dict(line.split(";", 1) for line in pb({"budget": "100", "rule": "greedy"}, [], []).splitlines()[2:9])
    meta |= {"instance": str(YEAR), "budget": "100", "rule": "greedy"}
    await ForumService(pool, store, runner).schedule(pabulib.schedule(meta, new_forum_id(), "impor"), META)
    await runner.catch_up_all()
    async with pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM forums WHERE year = $1", YEAR) == 1
        assert await cycle_views.made_in(conn, YEAR) == {}
        assert YEAR in await cycle_views.withdrawable(conn, [YEAR])
    await cycles.cancel_cycle(store, runner, YEAR, "salah tahun", META)
    assert not (await cycles.load_cycle(store, YEAR)).exists
