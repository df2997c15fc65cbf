"""What a submission or a forum was judged on is judged again under the year's cycle lock. A proposal
and a forum that passed their check of the cycle (the window open, the day inside it) wait for the lock
while the cycle is withdrawn and opened again with another calendar; once they hold it, they are judged on
the cycle as it is now and refused (before, only the cycle's being there was checked again, and both
committed on the calendar that no longer held)."""

from __future__ import annotations

import datetime as dt

import asyncpg
import pytest

from musrenbang.demo import RKPD_2022_PROGRAMS, RKPD_2022_THEME
from musrenbang.domain import cycle as cycle_rules
from musrenbang.domain.errors import DomainError
from musrenbang.domain.events import StageWindow
from musrenbang.eventlog.store import Append, EventStore
from musrenbang.services import cycles
from musrenbang.services.streams import load
from tests.services.test_cycle_cancel_race_s23 import META, YEAR, forum_and_proposal_held, services_and_content

PAST_CALENDAR = tuple(StageWindow(stage=s, opens=dt.date(2020, 6, 1) + dt.timedelta(days=10 * i),
                                  closes=dt.date(2020, 6, 10) + dt.timedelta(days=10 * i))
                      for i, s in enumerate(cycle_rules.STAGES))  # fmt: skip
"""RKPD 2022 opened again with every window long closed (and none holding the test forums' day)."""


async def _withdraw_and_reopen(store: EventStore, conn: asyncpg.Connection) -> None:
    """Both on `conn`, in its transaction (holding the lock as the withdrawal does)."""
    state, head = await load(store, cycles.CYCLE, cycle_rules.stream_id(YEAR), conn)
    cancelled = cycle_rules.decide(state, cycle_rules.CancelCycle(year=YEAR, reason="salah kalender"))
    for event in cancelled:
        state = cycle_rules.evolve(state, event)
    started = cycle_rules.decide(state, cycle_rules.StartCycle(
        year=YEAR, region="32.75", theme=RKPD_2022_THEME, priority_programs=RKPD_2022_PROGRAMS,
        calendar=PAST_CALENDAR, today=cycles.today()))  # fmt: skip
    await store.append(Append(cycle_rules.stream_id(YEAR), head, [*cancelled, *started]), metadata=META, conn=conn)


async def test_a_proposal_and_a_forum_judged_before_a_reopening_are_judged_again_and_refused(
    store: EventStore, pool: asyncpg.Pool
) -> None:
    forums, proposals, content = await services_and_content(store, pool)
    scheduling, submitting = await forum_and_proposal_held(
        pool, forums, proposals, content, "JUDGED", lambda conn: _withdraw_and_reopen(store, conn))
    with pytest.raises(DomainError, match="ditutup"):  # the new calendar's window for proposals, long closed
        await submitting
    with pytest.raises(DomainError, match="Musrenbang Kelurahan/Desa RKPD 2022 sudah ditutup sejak 20 Juni 2020"):
        await scheduling
    written = await pool.fetchval("SELECT count(*) FROM events WHERE event_type IN ('forum.scheduled',"
                                  " 'proposal.submitted')")  # fmt: skip
    assert written == 0 and not await pool.fetchval("SELECT count(*) FROM proposer_contacts")
    assert (await cycles.load_cycle(store, YEAR)).calendar["usulan"].closes == dt.date(2020, 6, 10)
