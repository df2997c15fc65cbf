"""Projector screens share what they ask the database: a public page that any number of phones may hold
open must not multiply the database's work by its viewers (each stream asked every second on its own,
and tallied every ballot again for each change)."""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
import pytest

from musrenbang.domain import forum as f
from musrenbang.eventlog.store import EventStore
from musrenbang.http.forum_screen import ASKED_EVERY, ScreenFeed
from musrenbang.projections import all_projections
from musrenbang.projections.runner import ProjectionRunner
from musrenbang.services.forums import ForumService
from tests.services.test_forums import META, forum_with_delegates


class Counted(ForumService):
    """The real service, counting how often the database is asked where the forum stands."""

    asked = 0
    failing = False

    async def newest_position(self, forum_id: str) -> int | None:
        self.asked += 1
        if self.failing:
            self.failing = False
            raise OSError("connection lost")
        return await super().newest_position(forum_id)


async def test_fifty_screens_ask_once_a_second_and_a_change_is_tallied_once(
    store: EventStore, pool: asyncpg.Pool
) -> None:
    forums = Counted(pool, store, ProjectionRunner(pool, all_projections()))
    forum_id = await forum_with_delegates(forums, 3)
    feed = ScreenFeed()
    first = await asyncio.gather(*(feed.marker(forums, forum_id) for _ in range(50)))
    assert len(set(first)) == 1 and first[0] is not None and forums.asked == 1
    await forums.cast_ballot(forum_id, f.CastBallot(delegate_id="d0", approvals=("P0",)), META)
    assert await feed.marker(forums, forum_id) == first[0] and forums.asked == 1  # the same second: shared
    await asyncio.sleep(ASKED_EVERY)
    newer = await asyncio.gather(*(feed.marker(forums, forum_id) for _ in range(50)))
    assert set(newer) == {newer[0]} and newer[0] > first[0] and forums.asked == 2  # the ballot seen, asked once

    made: list[int] = []

    async def make() -> dict[str, Any]:
        made.append(1)
        await asyncio.sleep(0.05)
        return {"ballots": (await forums.standing((await forums.load(forum_id))[0])).ballots}

    shown = await asyncio.gather(*(feed.snapshot((forum_id, newer[0], "id"), make) for _ in range(50)))
    assert made == [1] and shown == [{"ballots": 1}] * 50
    await feed.snapshot((forum_id, newer[0], "en"), make)  # another language: its own snapshot
    assert len(made) == 2


async def test_a_failed_question_is_not_kept(store: EventStore, pool: asyncpg.Pool) -> None:
    forums = Counted(pool, store, ProjectionRunner(pool, all_projections()))
    forum_id = await forum_with_delegates(forums, 1)
    feed = ScreenFeed()
    forums.failing = True
    with pytest.raises(OSError):
        await feed.marker(forums, forum_id)
    assert await feed.marker(forums, forum_id) is not None and forums.asked == 2  # asked again at once
