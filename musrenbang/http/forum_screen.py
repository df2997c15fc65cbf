"""The projector screen of a forum: the live ranking, sent again (Server-Sent Events) whenever the forum's
streams change.

The screen is public: the hall's projector shows it, and so may every phone in the hall. Each open stream
asks every second whether the forum changed, and a change means tallying every ballot again (61,668 in
the Warsaw election). So the answers are shared by every screen of this process (`ScreenFeed`): the
database is asked at most once a second per forum, and a snapshot is made once per change and language,
however many screens show it.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

import msgspec
from litestar import Controller, Request, get
from litestar.params import FromPath
from litestar.response import ServerSentEvent, Template

from musrenbang.domain import forum as rules
from musrenbang.domain.errors import N_
from musrenbang.http.deps import ForumsDep, StoppingDep
from musrenbang.http.i18n import language, translate
from musrenbang.http.render import page, score_text
from musrenbang.http.stopping import Stopping
from musrenbang.services.forums import ForumService

T = TypeVar("T")
ASKED_EVERY = 1.0
"""Seconds between two questions to the database about one forum, whatever the number of screens."""
KEPT_SNAPSHOTS = 64


def score_heading(s: rules.ForumScheduled) -> str:
    """What a ranking's score column counts, by what the forum's rule reads: votes under approval or
    choose-1 ballots (Equal Shares too), points under cumulative or ordinal ones, marks under criteria scoring."""
    if s.rule == "weighted-criteria":
        return N_("Nilai")
    if s.ballot_kind in ("cumulative", "ordinal"):
        return N_("Poin")
    return N_("Suara")


class ScreenFeed:
    """Per process: the newest position of each forum shown, and its snapshots by (forum, position,
    language). A failed read is not kept: the next screen to ask reads again."""

    def __init__(self) -> None:
        self._markers: dict[str, tuple[float, asyncio.Task[int | None]]] = {}
        self._snapshots: OrderedDict[tuple[str, int | None, str], asyncio.Task[dict[str, Any]]] = OrderedDict()

    async def marker(self, forums: ForumService, forum_id: str) -> int | None:
        now = asyncio.get_running_loop().time()
        kept = self._markers.get(forum_id)
        if kept is None or now - kept[0] >= ASKED_EVERY or _failed(kept[1]):
            kept = (now, asyncio.ensure_future(forums.newest_position(forum_id)))
            self._markers[forum_id] = kept
            self._forget_markers(now)
        return await asyncio.shield(kept[1])

    async def snapshot(self, key: tuple[str, int | None, str], make: Callable[[], Awaitable[dict[str, Any]]]
                       ) -> dict[str, Any]:  # fmt: skip
        task = self._snapshots.get(key)
        if task is None or _failed(task):
            task = asyncio.ensure_future(make())
            self._snapshots[key] = task
            while len(self._snapshots) > KEPT_SNAPSHOTS:
                self._snapshots.popitem(last=False)
        self._snapshots.move_to_end(key)
        return await asyncio.shield(task)

    def _forget_markers(self, now: float) -> None:
        """Forums no screen asked about for a minute: a bounded dict, whatever ids are asked for."""
        if len(self._markers) > KEPT_SNAPSHOTS:
            for forum_id in [f for f, (at, _) in self._markers.items() if now - at > 60 * ASKED_EVERY]:
                del self._markers[forum_id]


def _failed(task: asyncio.Task[T]) -> bool:
    return task.done() and (task.cancelled() or task.exception() is not None)


def feed_of(request: Request) -> ScreenFeed:
    feed: ScreenFeed | None = request.app.state.get("screen_feed")
    if feed is None:
        feed = ScreenFeed()
        request.app.state["screen_feed"] = feed
    return feed


class ScreenPages(Controller):
    """Public, as the hall's projector and every phone in the hall show it: no guard."""

    path = "/forum/{forum_id:str}/layar"
    include_in_schema = False

    @get("/")
    async def projector(self, request: Request, forums: ForumsDep, forum_id: FromPath[str]) -> Template:
        forum, _ = await forums.load(forum_id.upper())
        return page(request, "forum_screen.html", s=forum.scheduled, snapshot=await _snapshot(request, forums, forum),
                    score_heading=score_heading(forum.scheduled))  # fmt: skip

    @get("/aliran")
    async def projector_stream(self, request: Request, forums: ForumsDep, stopping: StoppingDep,
                               forum_id: FromPath[str]) -> ServerSentEvent:  # fmt: skip
        """A new snapshot whenever the forum's streams changed (asked every second, the answer shared by every
        screen: `ScreenFeed`), until it closes or the server stops (the screen's EventSource then reconnects
        by itself, to the server started again)."""
        forum_id = forum_id.upper()
        await forums.load(forum_id)
        return ServerSentEvent(_snapshots(request, forums, stopping, feed_of(request), forum_id))


async def _snapshot(request: Request, forums: ForumService, forum: rules.Forum) -> dict[str, Any]:
    standing = await forums.standing(forum)
    titles = {a.item_id: a.title for a in forum.agenda}
    rows = [] if standing is None else [
        {"rank": r.rank, "title": titles.get(r.item_id, r.item_id), "score": score_text(r.score), "cost": r.cost,
         "selected": r.selected} for r in standing.ranking
    ]  # fmt: skip
    # What has been counted: ballots, or score sheets (a weighted-criteria forum has no ballots at all).
    counted = standing.ballots + standing.sheets if standing else await _cast_before_cancelled(forums, forum)
    return {"status": forum.status, "status_text": _status_text(request, forum),
            "ceiling": forum.scheduled.ceiling, "spent": standing.spent if standing else 0,
            "ballots": counted, "rows": rows}  # fmt: skip


async def _cast_before_cancelled(forums: ForumService, forum: rules.Forum) -> int:
    """A cancelled forum's ballots (the latest of each delegate) and score sheets: kept in the log and not
    counted, yet cast. A screen showing 0 beside "dibatalkan" read as if nobody had voted."""
    if forum.status != rules.CANCELLED:
        return 0
    ballots, sheets = await forums.ballots_and_sheets(forum.scheduled.forum_id)
    return len(rules.latest(ballots)) + len({s.sheet for s in sheets})


def _status_text(request: Request, forum: rules.Forum) -> str:
    """The status in words; a cancelled forum's with its reason, which a screen left open in the hall shows as
    it changes (its stream goes on as a scheduled forum's does: ended, the screen's EventSource would only
    connect again and again; and an hour's questions are shared by every screen)."""
    status = translate(request, rules.STATUS_LABELS.get(forum.status or "", ""))
    if forum.status != rules.CANCELLED:
        return status
    return f"{status} — {translate(request, N_('alasan'))}: {forum.cancel_reason}"


async def _snapshots(request: Request, forums: ForumService, stopping: Stopping, feed: ScreenFeed,
                     forum_id: str) -> AsyncIterator[str]:  # fmt: skip
    """The forum's snapshot, and again after each change, until it closes, the server stops or 3,600
    questions (about an hour) have been asked."""

    async def snapshot_at(marker: int | None) -> dict[str, Any]:
        async def make() -> dict[str, Any]:
            forum, _ = await forums.load(forum_id)
            return await _snapshot(request, forums, forum)

        return await feed.snapshot((forum_id, marker, language(request)), make)

    last = None
    for _ in range(3600):
        marker = await feed.marker(forums, forum_id)
        if marker != last:
            last = marker
            shown = await snapshot_at(marker)
            yield msgspec.json.encode(shown).decode()
            if shown["status"] == rules.CLOSED:
                return
        if await stopping.pause(ASKED_EVERY):
            return
