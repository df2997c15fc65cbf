"""ForumService.open and close judge the day they are done (`on`, the city's today when not given) against
the forum's day: a history replayed on its own days (the demo: `open(..., on=held_on)`) still opens; a forum
opened on its day is not closed on an earlier one; a refusal writes nothing; an imported election, which has
no day, opens and closes when it is imported."""

from __future__ import annotations

import datetime as dt

import asyncpg
import pytest

from musrenbang.domain import forum as f
from musrenbang.domain.errors import DomainError
from musrenbang.eventlog.store import EventStore
from musrenbang.projections import all_projections
from musrenbang.projections.runner import ProjectionRunner
from musrenbang.services.cycles import today
from musrenbang.services.forums import ForumService, new_forum_id
from tests.cycles import open_test_cycle
from tests.services.test_forums import AGENDA, META


async def _events(pool: asyncpg.Pool) -> int:
    return await pool.fetchval("SELECT count(*) FROM events")


async def test_open_and_close_on_the_day_given_not_before_the_forum_s_day(
    store: EventStore, pool: asyncpg.Pool
) -> None:
    await open_test_cycle(store)
    forums = ForumService(pool, store, ProjectionRunner(pool, all_projections()))
    held_on = today() + dt.timedelta(days=20)  # inside the test cycle's kelurahan window
    forum_id = new_forum_id()
    await forums.schedule(f.ScheduleForum(
        forum_id=forum_id, level="kelurahan", region="32.75.01.1001", year=2022, title="Musrenbang mendatang",
        held_on=held_on, place="Aula", chair="Lurah", ceiling=60, rule="greedy", ballot_kind="approval",
    ), META)  # fmt: skip
    await forums.register_delegates(forum_id, [f.RegisterDelegate(delegate_id="d1", name="Ani")], META)
    before = await _events(pool)
    for on in (None, held_on - dt.timedelta(days=1)):  # today, and the day before its day
        with pytest.raises(DomainError, match="belum dapat dibuka sebelum hari itu"):
            await forums.open(forum_id, META, agenda=AGENDA, on=on)
    assert await _events(pool) == before
    await forums.open(forum_id, META, agenda=AGENDA, on=held_on)  # the demo's way: on its day
    await forums.cast_ballot(forum_id, f.CastBallot(delegate_id="d1", approvals=("P1",)), META)
    before = await _events(pool)
    with pytest.raises(DomainError, match="belum dapat ditutup sebelum hari itu"):
        await forums.close(forum_id, META, no_mandate_confirmed=True)  # today: before its day
    assert await _events(pool) == before
    await forums.close(forum_id, META, on=held_on, no_mandate_confirmed=True)
    forum, _ = await forums.load(forum_id)
    assert forum.status == f.CLOSED

    # An imported election has no day of ours: it opens and closes whenever it is imported.
    forums = ForumService(pool, store, None)  # as the Pabulib import makes it: the agenda from the file
    forum_id = new_forum_id()
    await forums.schedule(f.ScheduleForum(
        forum_id=forum_id, level="kota", region="Warszawa", year=2022, title="Budżet obywatelski", held_on=None,
        place="", chair="", ceiling=60, rule="greedy", ballot_kind="approval", origin="pabulib"), META)  # fmt: skip
    await forums.open(forum_id, META, agenda=AGENDA)
    await forums.register_delegates(forum_id, [f.RegisterDelegate(delegate_id="v1", name="v1")], META)
    await forums.cast_ballot(forum_id, f.CastBallot(delegate_id="v1", approvals=("P1",)), META)
    await forums.close(forum_id, META, no_mandate_confirmed=True)
    assert (await forums.load(forum_id))[0].status == f.CLOSED
