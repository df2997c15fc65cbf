"""A forum's provisional count is made on a worker thread and kept until its streams change (review s24: a
forum counted with Equal Shares and add1 completion, few delegates and a large ceiling, took 50 s per
projector view and per close, on the event loop: the whole server stood still, /health included)."""

from __future__ import annotations

import asyncio
import time

import asyncpg
import pytest

from musrenbang.domain import forum as f
from musrenbang.eventlog.store import EventStore
from musrenbang.projections import all_projections
from musrenbang.projections.runner import ProjectionRunner
from musrenbang.services.forums import ForumService
from tests.services.test_forums import META, forum_with_delegates


async def test_the_count_is_kept_until_a_ballot_and_made_off_the_event_loop(
    store: EventStore, pool: asyncpg.Pool, monkeypatch: pytest.MonkeyPatch
) -> None:
    forums = ForumService(pool, store, ProjectionRunner(pool, all_projections()))
    forum_id = await forum_with_delegates(forums, 3)
    await forums.cast_ballot(forum_id, f.CastBallot(delegate_id="d0", approvals=("P1",)), META)
    real, counted = f.compute_result, []

    def slow_count(*args: object) -> object:
        counted.append(1)
        time.sleep(0.4)  # a long count (the GIL released: what a count off the loop leaves to the loop)
        return real(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(f, "compute_result", slow_count)
    ticks = 0

    async def ticking() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    ticker = asyncio.create_task(ticking())
    forum, _ = await forums.load(forum_id)
    first = await forums.standing(forum)
    assert ticks >= 10, "the event loop stood still during the count"
    assert await forums.standing(forum) == first and len(counted) == 1  # kept: nothing changed
    await forums.cast_ballot(forum_id, f.CastBallot(delegate_id="d1", approvals=("P2",)), META)
    forum, _ = await forums.load(forum_id)
    second = await forums.standing(forum)
    ticker.cancel()
    assert len(counted) == 2 and second is not None and second.ballots == 2 and first.ballots == 1
