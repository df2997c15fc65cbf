"""The staff API: verification and merge of proposals, and running forums. Every call needs a signed-in
account (bearer token or session) whose role and scope allow it; otherwise 401/403 and nothing is
written. Every event written carries the actor and role in its metadata.

The role is checked in each handler, not by a guard (http/guards.py): a guard refuses before the body is
read and before the code or forum is looked up, and these have always answered a malformed body (400, 413,
422) or a code or forum that names nothing (404) as such to any caller, signed in or not."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import asyncpg
import msgspec
from litestar import Controller, Request, get, post
from litestar.params import FromPath, JSONBody

from musrenbang.domain import bounds, values
from musrenbang.domain import forum as forum_rules
from musrenbang.domain import proposal as rules
from musrenbang.domain.access import Actor, require_region, require_role
from musrenbang.domain.errors import N_, ValidationFailed
from musrenbang.domain.events import Criterion
from musrenbang.eventlog.store import Metadata, Position
from musrenbang.http.api import ProposalOut, Quantity, SeenRevision, proposal_out
from musrenbang.http.conversion_errors import ClockText, clock_time
from musrenbang.http.deps import ActorDep, ForumsDep, PoolDep, ProposalsDep, RunnerDep
from musrenbang.http.errors import code_or_404
from musrenbang.http.forums import ForumOut, forum_out
from musrenbang.http.idempotency import OptionalKey, keyed
from musrenbang.projections.runner import ProjectionRunner
from musrenbang.services.forums import ForumService, new_forum_id


def _meta(actor: Actor) -> Metadata:
    return Metadata(actor=actor.username, role=actor.role)


# At the edge, what a column can hold (beyond it: 400); within it the domain says what makes sense (422 with a
# message per field).
Money = Annotated[int, msgspec.Meta(ge=-bounds.MAX_RUPIAH, le=bounds.MAX_RUPIAH, description="Whole rupiah")]
Int32 = Annotated[int, msgspec.Meta(ge=-(2**31), le=2**31 - 1)]


class VerificationIn(msgspec.Struct, forbid_unknown_fields=True):
    decision: Annotated[str, msgspec.Meta(description="accept | accept_with_changes | return | reject")]
    reason: Annotated[str, msgspec.Meta(max_length=1000)] = ""
    agreed_volume: Quantity | None = None
    agreed_cost: Money | None = None
    seen_revision: SeenRevision | None = None


class MergeIn(msgspec.Struct, forbid_unknown_fields=True):
    into: Annotated[str, msgspec.Meta(max_length=12)]
    codes: Annotated[list[Annotated[str, msgspec.Meta(max_length=12)]], msgspec.Meta(min_length=1, max_length=50)]
    reason: Annotated[str, msgspec.Meta(max_length=1000)]


async def _proposal_out(pool: asyncpg.Pool, code: str) -> ProposalOut:
    """As GET /api/v1/proposals/{code} gives it (its history too: it was null here)."""
    async with pool.acquire() as conn:
        return await proposal_out(conn, code)


class ProposalStaffApi(Controller):
    path = "/api/v1/proposals"
    tags = ["staff"]

    @post("/{code:str}/verification", summary="Verify a proposal (kelurahan facilitator)", status_code=200,
          request_max_body_size=16 * 1024)  # fmt: skip
    async def verify(
        self, request: Request, code: FromPath[str], data: JSONBody[VerificationIn], actor: ActorDep,
        proposals: ProposalsDep, runner: RunnerDep, pool: PoolDep, idempotency_key: OptionalKey = None,
    ) -> ProposalOut:  # fmt: skip
        code = code_or_404(code)
        require_role(actor, "admin", "facilitator")
        require_region(actor, await proposals.kelurahan_of(code))
        if data.decision not in rules.DECISIONS:
            raise ValidationFailed({"decision": N_("keputusan tidak dikenal")})
        volume = None
        if data.agreed_volume is not None:
            try:
                volume = values.parse_decimal(data.agreed_volume, places=3)
            except ValueError as exc:
                raise ValidationFailed({"agreed_volume": exc.args[0]}) from None
        command = rules.VerifyProposal(code=code, decision=data.decision, reason=data.reason, agreed_volume=volume,
                                       agreed_cost=data.agreed_cost, seen_revision=data.seen_revision)  # fmt: skip
        key, meta = keyed(request, actor, idempotency_key, data)
        result = await proposals.verify(command, meta, key)
        await runner.wait_until_applied(["proposals"], result.last)
        return await _proposal_out(pool, code)

    @post("/merge", summary="Merge duplicate proposals into one (originals stay, linked)", status_code=200,
          request_max_body_size=16 * 1024)  # fmt: skip
    async def merge(self, data: JSONBody[MergeIn], actor: ActorDep, proposals: ProposalsDep, runner: RunnerDep,
                    pool: PoolDep) -> ProposalOut:  # fmt: skip
        into = code_or_404(data.into)
        codes = tuple(code_or_404(c) for c in data.codes)
        require_role(actor, "admin", "facilitator")
        for code in (into, *codes):
            require_region(actor, await proposals.kelurahan_of(code))
        result = await proposals.merge(rules.MergeProposals(into=into, codes=codes, reason=data.reason), _meta(actor))
        await runner.wait_until_applied(["proposals"], result.last)
        return await _proposal_out(pool, into)


# --- forums -------------------------------------------------------------------------------------------


class CriterionIn(msgspec.Struct, forbid_unknown_fields=True):
    key: Annotated[str, msgspec.Meta(max_length=40)]
    label: Annotated[str, msgspec.Meta(max_length=200)]
    weight: Int32


class ForumIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    level: Annotated[str, msgspec.Meta(
        max_length=20, description="kelurahan (a kelurahan or a desa: a Musrenbang Desa is of level kelurahan)"
                                   " | kecamatan")]  # fmt: skip
    region: Annotated[str, msgspec.Meta(max_length=20)]
    year: Int32
    title: Annotated[str, msgspec.Meta(max_length=200)]
    held_on: dt.date | None = None
    starts_at: ClockText | None = None
    place: Annotated[str, msgspec.Meta(max_length=200)] = ""
    chair: Annotated[str, msgspec.Meta(max_length=200)] = ""
    ceiling: Money
    quota: Int32 | None = None
    rule: Annotated[str, msgspec.Meta(max_length=40)] = "weighted-criteria"
    ballot_kind: Annotated[str, msgspec.Meta(
        max_length=40, description="approval | cumulative | choose-1 | ordinal; left out: approval for a rule that"
                                   " counts ballots (as the staff form schedules), none for weighted-criteria",
    )] | None = None  # fmt: skip
    rule_params: Annotated[
        dict[Annotated[str, msgspec.Meta(max_length=40)], Int32],
        msgspec.Meta(max_length=10),
    ] = {}
    criteria: Annotated[list[CriterionIn], msgspec.Meta(max_length=20)] | None = None


class DelegateIn(msgspec.Struct, forbid_unknown_fields=True):
    delegate_id: Annotated[str, msgspec.Meta(max_length=40, pattern=r"^[A-Za-z0-9._-]+$")]
    name: Annotated[str, msgspec.Meta(max_length=200)]
    role: Annotated[str, msgspec.Meta(max_length=100)] = ""
    represents: Annotated[str, msgspec.Meta(max_length=200)] = ""
    gender: Annotated[str, msgspec.Meta(description="P (perempuan) | L (laki-laki) | empty")] = ""
    same_name_confirmed: Annotated[bool, msgspec.Meta(
        description="true: register although a delegate of the same name representing the same is registered"
                    " (another person of that name); otherwise that is refused with 422")] = False  # fmt: skip


class DelegateCorrectionIn(msgspec.Struct, forbid_unknown_fields=True):
    name: Annotated[str, msgspec.Meta(max_length=200)]
    reason: Annotated[str, msgspec.Meta(max_length=bounds.REASON, description="Why it is corrected")]
    represents: Annotated[str, msgspec.Meta(max_length=200)] = ""
    gender: Annotated[str, msgspec.Meta(max_length=1, description="P (perempuan) | L (laki-laki) | empty")] = ""
    role: Annotated[str, msgspec.Meta(max_length=100, description="left out: unchanged")] | None = None
    same_name_confirmed: Annotated[bool, msgspec.Meta(
        description="true: correct although another delegate of that name representing the same is registered")
    ] = False  # fmt: skip


class DelegateWithdrawalIn(msgspec.Struct, forbid_unknown_fields=True):
    reason: Annotated[str, msgspec.Meta(max_length=bounds.REASON, description="Why it is withdrawn")]


class CloseForumIn(msgspec.Struct, forbid_unknown_fields=True):
    no_mandate_confirmed: Annotated[bool, msgspec.Meta(
        description="true: close a kelurahan or kecamatan Musrenbang although no delegate is mandated to the next"
                    " level; otherwise that is refused with 409")] = False  # fmt: skip


DelegateId = Annotated[str, msgspec.Meta(max_length=40, pattern=r"^[A-Za-z0-9._-]+$")]
ItemId = Annotated[str, msgspec.Meta(max_length=100)]


class BallotIn(msgspec.Struct, forbid_unknown_fields=True):
    delegate_id: Annotated[str, msgspec.Meta(max_length=100)]
    approvals: Annotated[list[ItemId], msgspec.Meta(max_length=bounds.MAX_ITEMS)] = []
    points: Annotated[dict[ItemId, Int32], msgspec.Meta(max_length=bounds.MAX_ITEMS)] = {}
    ranking: Annotated[list[ItemId], msgspec.Meta(max_length=bounds.MAX_ITEMS)] = []


Marks = Annotated[dict[Annotated[str, msgspec.Meta(max_length=40)], Int32], msgspec.Meta(max_length=20)]


class ScoresIn(msgspec.Struct, forbid_unknown_fields=True):
    sheet: Annotated[str, msgspec.Meta(max_length=100, description="a delegate id, or 'konsensus'")]
    marks: Annotated[dict[ItemId, Marks], msgspec.Meta(max_length=bounds.MAX_ITEMS)]


class AdjustIn(msgspec.Struct, forbid_unknown_fields=True):
    item_id: ItemId
    reason: Annotated[str, msgspec.Meta(max_length=1000)]
    agreed_volume: Quantity | None = None
    agreed_cost: Money | None = None


Delegates = Annotated[list[DelegateIn], msgspec.Meta(min_length=1, max_length=5000)]


class MandateIn(msgspec.Struct, forbid_unknown_fields=True):
    delegate_ids: Annotated[list[str], msgspec.Meta(min_length=1, max_length=5)]


class CancelForumIn(msgspec.Struct, forbid_unknown_fields=True):
    reason: Annotated[str, msgspec.Meta(max_length=bounds.REASON, description="Why it is called off")]


async def _forum_in_scope(forums: ForumService, forum_id: str, actor: Actor) -> forum_rules.Forum:
    """The forum, if the account's role and region may run it (loaded first: no such forum is 404 to anyone)."""
    forum, _ = await forums.load(forum_id.upper())
    require_role(actor, "admin", "facilitator")
    require_region(actor, forum.scheduled.region)
    return forum


async def _answer(pool: asyncpg.Pool, runner: ProjectionRunner, forum_id: str, last: Position) -> ForumOut:
    await runner.wait_until_applied(["forums"], last)
    return await forum_out(pool, forum_id)


class ForumStaffApi(Controller):
    path = "/api/v1/forums"
    tags = ["forums"]

    @post("/", summary="Schedule a forum", status_code=201, request_max_body_size=64 * 1024)
    async def schedule_forum(self, data: JSONBody[ForumIn], actor: ActorDep, forums: ForumsDep, runner: RunnerDep,
                             pool: PoolDep) -> ForumOut:  # fmt: skip
        require_role(actor, "admin", "facilitator")
        require_region(actor, data.region)
        criteria = (tuple(Criterion(c.key, c.label, c.weight) for c in data.criteria) if data.criteria
                    else forum_rules.DEFAULT_CRITERIA)  # fmt: skip
        forum_id = new_forum_id()
        # Left out, the ballot is the one the staff form gives a rule that counts ballots: approval.
        ballot_kind = data.ballot_kind
        if ballot_kind is None and data.rule != "weighted-criteria":
            ballot_kind = "approval"
        command = forum_rules.ScheduleForum(
            forum_id=forum_id, level=data.level, region=data.region, year=data.year, title=data.title,
            held_on=data.held_on, place=data.place, chair=data.chair, ceiling=data.ceiling, rule=data.rule,
            ballot_kind=ballot_kind, rule_params=data.rule_params, criteria=criteria, quota=data.quota,
            starts_at=clock_time(data.starts_at),
        )  # fmt: skip
        result = await forums.schedule(command, _meta(actor))
        return await _answer(pool, runner, forum_id, result.last)

    @post("/{forum_id:str}/delegates", summary="Register delegates", status_code=200,
          request_max_body_size=256 * 1024)  # fmt: skip
    async def register_delegates(self, forum_id: FromPath[str], data: Delegates, actor: ActorDep,
                                 forums: ForumsDep, runner: RunnerDep, pool: PoolDep) -> ForumOut:  # fmt: skip
        await _forum_in_scope(forums, forum_id, actor)
        commands = [forum_rules.RegisterDelegate(**msgspec.structs.asdict(d)) for d in data]
        result = await forums.register_delegates(forum_id.upper(), commands, _meta(actor))
        return await _answer(pool, runner, forum_id.upper(), result.last)

    @post("/{forum_id:str}/delegates/{delegate_id:str}/correction", status_code=200,
          summary="Correct a delegate's name, whom they represent and gender, with the reason (until the close)",
          request_max_body_size=16 * 1024)  # fmt: skip
    async def correct_delegate(self, forum_id: FromPath[str], delegate_id: FromPath[DelegateId],
                               data: JSONBody[DelegateCorrectionIn], actor: ActorDep, forums: ForumsDep,
                               runner: RunnerDep, pool: PoolDep) -> ForumOut:  # fmt: skip
        """422 without a reason or with nothing changed, or a name of another delegate representing the same
        (unless `same_name_confirmed`); 404 for a delegate not registered; 409 once closed or withdrawn."""
        await _forum_in_scope(forums, forum_id, actor)
        command = forum_rules.CorrectDelegate(delegate_id=delegate_id, **msgspec.structs.asdict(data))
        result = await forums.correct_delegate(forum_id.upper(), command, _meta(actor))
        return await _answer(pool, runner, forum_id.upper(), result.last)

    @post("/{forum_id:str}/delegates/{delegate_id:str}/withdrawal", status_code=200,
          summary="Withdraw a delegate registered by mistake, with the reason (not one who voted or scored)",
          request_max_body_size=16 * 1024)  # fmt: skip
    async def withdraw_delegate(self, forum_id: FromPath[str], delegate_id: FromPath[DelegateId],
                                data: JSONBody[DelegateWithdrawalIn], actor: ActorDep, forums: ForumsDep,
                                runner: RunnerDep, pool: PoolDep) -> ForumOut:  # fmt: skip
        """409 for one whose ballot or score sheet is in (part of the count: correct them instead), one mandated,
        or once closed; 422 without a reason; 404 for a delegate not registered."""
        await _forum_in_scope(forums, forum_id, actor)
        command = forum_rules.WithdrawDelegate(delegate_id=delegate_id, reason=data.reason)
        result = await forums.withdraw_delegate(forum_id.upper(), command, _meta(actor))
        return await _answer(pool, runner, forum_id.upper(), result.last)

    @post("/{forum_id:str}/open", summary="Open: freeze rule, ceiling, criteria and agenda", status_code=200)
    async def open_forum(self, forum_id: FromPath[str], actor: ActorDep, forums: ForumsDep, runner: RunnerDep,
                         pool: PoolDep) -> ForumOut:  # fmt: skip
        await _forum_in_scope(forums, forum_id, actor)
        result = await forums.open(forum_id.upper(), _meta(actor))
        return await _answer(pool, runner, forum_id.upper(), result.last)

    @post("/{forum_id:str}/ballots", summary="Cast (or replace) delegates' ballots",
          status_code=200, request_max_body_size=256 * 1024)  # fmt: skip
    async def cast_ballots(
        self,
        request: Request,
        forum_id: FromPath[str],
        data: Annotated[list[BallotIn], msgspec.Meta(min_length=1, max_length=5000)],
        actor: ActorDep,
        forums: ForumsDep,
        runner: RunnerDep,
        pool: PoolDep,
        idempotency_key: OptionalKey = None,
    ) -> ForumOut:
        await _forum_in_scope(forums, forum_id, actor)
        commands = [forum_rules.CastBallot(delegate_id=b.delegate_id, approvals=tuple(b.approvals), points=b.points,
                                           ranking=tuple(b.ranking)) for b in data]  # fmt: skip
        key, meta = keyed(request, actor, idempotency_key, data)
        result = await forums.cast_ballots(forum_id.upper(), commands, meta, key)
        return await _answer(pool, runner, forum_id.upper(), result.last)

    @post("/{forum_id:str}/scores", summary="Give marks per criterion (a delegate's or consensus)", status_code=200,
          request_max_body_size=256 * 1024)  # fmt: skip
    async def give_scores(self, request: Request, forum_id: FromPath[str], data: JSONBody[ScoresIn],
                          actor: ActorDep, forums: ForumsDep, runner: RunnerDep, pool: PoolDep,
                          idempotency_key: OptionalKey = None) -> ForumOut:  # fmt: skip
        await _forum_in_scope(forums, forum_id, actor)
        command = forum_rules.GiveScores(sheet=data.sheet, marks=data.marks)
        key, meta = keyed(request, actor, idempotency_key, data)
        result = await forums.give_scores(forum_id.upper(), command, meta, key)
        return await _answer(pool, runner, forum_id.upper(), result.last)

    @post("/{forum_id:str}/adjustments", summary="Agree another volume or cost, with a reason", status_code=200)
    async def adjust(self, forum_id: FromPath[str], data: JSONBody[AdjustIn], actor: ActorDep, forums: ForumsDep,
                     runner: RunnerDep, pool: PoolDep) -> ForumOut:  # fmt: skip
        await _forum_in_scope(forums, forum_id, actor)
        volume = None
        if data.agreed_volume is not None:
            try:
                volume = values.parse_decimal(data.agreed_volume, places=3)
            except ValueError as exc:
                raise ValidationFailed({"agreed_volume": exc.args[0]}) from None
        command = forum_rules.AdjustItem(item_id=data.item_id, reason=data.reason, agreed_volume=volume,
                                         agreed_cost=data.agreed_cost)  # fmt: skip
        result = await forums.adjust(forum_id.upper(), command, _meta(actor))
        return await _answer(pool, runner, forum_id.upper(), result.last)

    @post("/{forum_id:str}/mandate", summary="The delegates mandated to the next level", status_code=200)
    async def mandate(self, forum_id: FromPath[str], data: JSONBody[MandateIn], actor: ActorDep, forums: ForumsDep,
                      runner: RunnerDep, pool: PoolDep) -> ForumOut:  # fmt: skip
        await _forum_in_scope(forums, forum_id, actor)
        command = forum_rules.MandateDelegates(delegate_ids=tuple(data.delegate_ids))
        result = await forums.mandate(forum_id.upper(), command, _meta(actor))
        return await _answer(pool, runner, forum_id.upper(), result.last)

    @post("/{forum_id:str}/close", summary="Close: compute the result and forward the selected", status_code=200)
    async def close_forum(self, forum_id: FromPath[str], actor: ActorDep, forums: ForumsDep, runner: RunnerDep,
                          pool: PoolDep, data: JSONBody[CloseForumIn | None] = None) -> ForumOut:  # fmt: skip
        """409 for a kelurahan or kecamatan Musrenbang that mandated no delegate, unless the body says
        `{"no_mandate_confirmed": true}` (no body: not confirmed)."""
        await _forum_in_scope(forums, forum_id, actor)
        confirmed = data is not None and data.no_mandate_confirmed
        result = await forums.close(forum_id.upper(), _meta(actor), no_mandate_confirmed=confirmed)
        await runner.wait_until_applied(["proposals"], result.last)
        return await _answer(pool, runner, forum_id.upper(), result.last)

    @post("/{forum_id:str}/cancel", summary="Call off a scheduled or open forum, with the reason (at any time)",
          status_code=200, request_max_body_size=16 * 1024)  # fmt: skip
    async def cancel_forum(self, request: Request, forum_id: FromPath[str], data: JSONBody[CancelForumIn],
                           actor: ActorDep, forums: ForumsDep, runner: RunnerDep, pool: PoolDep,
                           idempotency_key: OptionalKey = None) -> ForumOut:  # fmt: skip
        """409 once closed or already cancelled; 422 without a reason. Ballots cast stay in the log, uncounted."""
        await _forum_in_scope(forums, forum_id, actor)
        key, meta = keyed(request, actor, idempotency_key, data)
        result = await forums.cancel(forum_id.upper(), forum_rules.CancelForum(reason=data.reason), meta, key)
        await runner.wait_until_applied(["lineage"], result.last)
        return await _answer(pool, runner, forum_id.upper(), result.last)


class AccountApi(Controller):
    path = "/api/v1/me"
    tags = ["auth"]

    @get("/", summary="The signed-in account")
    async def me(self, actor: ActorDep) -> Actor:
        return actor
