"""Read-only JSON for forums (the facilitators' screens come later): GET /api/v1/forums/{id}."""

from __future__ import annotations

import datetime as dt
from typing import Any

import asyncpg
import msgspec
from litestar import Controller, get
from litestar.exceptions import NotFoundException
from litestar.params import FromPath

from musrenbang.http.deps import PoolDep
from musrenbang.http.reads import FROM_REPLICA
from musrenbang.projections import forums as forum_views


class AgendaItemOut(msgspec.Struct):
    item_id: str
    proposal: str | None
    title: str
    cost: int
    agreed_cost: int | None
    agreed_volume: str | None
    adjust_reason: str | None
    kelurahan: str | None


class ResultItemOut(msgspec.Struct):
    rank: int
    item_id: str
    score: str
    """Exact: an integer or a fraction "n/d"."""
    cost: int
    selected: bool
    reason: str | None
    """For an item left out: no_support, below_threshold, over_ceiling, stopped,
    unaffordable_by_supporters, zero_cost_no_satisfaction, over_quota or excluded_by_conflict."""


class ForumOut(msgspec.Struct):
    forum_id: str
    level: str
    region: str
    year: int
    title: str
    held_on: dt.date | None
    place: str
    chair: str
    ceiling: int
    quota: int | None
    rule: str
    ballot_kind: str | None
    rule_params: dict[str, int]
    criteria: list[dict[str, Any]]
    origin: str
    status: str
    delegates: int
    women_delegates: int
    ballots: int
    agenda: list[AgendaItemOut]
    result: list[ResultItemOut] | None
    spent: int | None
    starts_at: dt.time | None = None
    cancel_reason: str | None = None
    """Why it was called off (status `cancelled`)."""


class ForumApi(Controller):
    """Public: a forum's agenda and result are an open record (the staff's commands are staff.ForumStaffApi)."""

    path = "/api/v1/forums"
    tags = ["forums"]

    @get("/{forum_id:str}", summary="A forum, its agenda and (when closed) the result with reasons",
         dependencies=FROM_REPLICA)  # fmt: skip
    async def forum(self, pool: PoolDep, forum_id: FromPath[str]) -> ForumOut:
        return await forum_out(pool, forum_id)


async def forum_out(pool: asyncpg.Pool, forum_id: str) -> ForumOut:
    async with pool.acquire() as conn:
        row = await forum_views.get(conn, forum_id.upper())
        if row is None:
            raise NotFoundException()
        agenda = await forum_views.agenda(conn, row["forum_id"])
        results = await forum_views.results(conn, row["forum_id"]) if row["status"] == "closed" else None
    return ForumOut(
        forum_id=row["forum_id"], level=row["level"], region=row["region"], year=row["year"], title=row["title"],
        held_on=row["held_on"], starts_at=row["starts_at"], place=row["place"], chair=row["chair"],
        ceiling=row["ceiling"], quota=row["quota"], rule=row["rule"], ballot_kind=row["ballot_kind"],
        rule_params=msgspec.json.decode(row["rule_params"]),
        criteria=msgspec.json.decode(row["criteria"]), origin=row["origin"], status=row["status"],
        delegates=row["delegates"], women_delegates=row["women"], ballots=row["ballots"],
        agenda=[AgendaItemOut(a["item_id"], a["proposal"], a["title"], a["cost"], a["agreed_cost"],
                              a["agreed_volume"], a["adjust_reason"], a["kelurahan"]) for a in agenda],
        result=None if results is None else [
            ResultItemOut(r["rank"], r["item_id"], r["score"], r["cost"], r["selected"], r["reason"]) for r in results
        ],
        spent=row["spent"], cancel_reason=row["cancel_reason"],
    )  # fmt: skip
