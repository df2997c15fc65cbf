"""The kelurahan facilitator's verification queue: new proposals with filters, a decision per proposal
(accept, accept with changes, return with what to fix, reject), and merging duplicates."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import asyncpg
from litestar import Controller, Request, Response, get, post
from litestar.params import FromPath
from litestar.response import Redirect, Template

from musrenbang.domain import proposal as rules
from musrenbang.domain import values
from musrenbang.domain.access import Actor, require_region, require_role
from musrenbang.domain.errors import N_, DomainError, Message, ValidationFailed
from musrenbang.eventlog.store import Metadata
from musrenbang.http.city_context import city_of
from musrenbang.http.deps import ActorDep, PoolDep, ProposalsDep, RunnerDep
from musrenbang.http.errors import code_or_404
from musrenbang.http.guards import FACILITATORS
from musrenbang.http.i18n import translate
from musrenbang.http.inputs import form_revision, int_param, typed_search
from musrenbang.http.notices import notify
from musrenbang.http.render import page
from musrenbang.projections import cycles as cycle_views
from musrenbang.projections import proposals as proposal_views
from musrenbang.reference import region_names

DECISION_DONE = {
    "accept": N_("Usulan %(code)s «%(title)s» diterima"),
    "accept_with_changes": N_("Usulan %(code)s «%(title)s» diterima dengan perubahan"),
    "return": N_("Usulan %(code)s «%(title)s» dikembalikan kepada pengusul untuk diperbaiki"),
    "reject": N_("Usulan %(code)s «%(title)s» ditolak"),
}
"""The notice after a decision: what was decided, for which proposal."""
DECISION_FIELDS = ("decision", "reason", "agreed_cost", "agreed_volume")


async def _queue_page(request: Request, actor: Actor, pool: asyncpg.Pool, *, failed: str = "",
                      entered: dict[str, Any] | None = None, errors: dict[str, str] | None = None
                      ) -> Template:  # fmt: skip
    """The queue; after a decision or merge with mistakes, that form open again as it was typed (`failed`
    names it: a proposal's code, or "gabung"), the mistakes listed above it, each beside its field too,
    answered 422. `?q=`: only the proposals whose code, title or address holds what was typed."""
    status = request.query_params.get("status") or rules.DIAJUKAN
    bidang = request.query_params.get("bidang") or None
    typed = typed_search(request).strip()
    code = _code_typed(typed)
    scope = actor.region or city_of(request).region  # admin: the whole city
    number = max(int_param(request, "halaman") or 1, 1)
    async with pool.acquire() as conn:
        cycles = [(r["year"], r["adopted"]) for r in await cycle_views.all_cycles(conn)]
        tahun, years = _years_chosen(request.query_params.get("tahun", ""), cycles)
        total, rows = await proposal_views.verification_queue(
            conn, scope, status, bidang, years=years, offset=(number - 1) * proposal_views.QUEUE_PAGE,
            typed=typed, code=code,
        )  # fmt: skip
        if not rows and number > 1 and total:  # the last page emptied by the decisions made on it: the new last
            number = -(-total // proposal_views.QUEUE_PAGE)
            total, rows = await proposal_views.verification_queue(
                conn, scope, status, bidang, years=years, offset=(number - 1) * proposal_views.QUEUE_PAGE,
                typed=typed, code=code,
            )  # fmt: skip
        names = await region_names(conn, sorted({r["kelurahan"] for r in rows}))
    pages = max(-(-total // proposal_views.QUEUE_PAGE), 1)
    return page(request, "verification_queue.html", status=422 if errors else 200, actor=actor, rows=rows,
                total=total, page_number=number, pages=pages, current=status, bidang=bidang, names=names,
                searched=typed, tahun=tahun, cycles=cycles, adopted_years={y for y, adopted in cycles if adopted},
                failed=failed, entered=entered or {}, mergeable=rules.MERGEABLE,
                merge_targets=rules.MERGE_TARGETS,
                errors={f: translate(request, m) for f, m in (errors or {}).items()})  # fmt: skip


def _code_typed(typed: str) -> str | None:
    """The tracking code a search is, as a resident reads it out ("7kq2 m9xo": O for 0, any dash); None
    when it is not one."""
    try:
        return values.normalize_code(typed)
    except ValueError:
        return None


ALL_YEARS = "semua"
"""`?tahun=semua`: the queue of every RKPD year, adopted ones too."""


def _years_chosen(typed: str, cycles: list[tuple[int, bool]]) -> tuple[str, list[int] | None]:
    """The queue's year filter as the form shows it ("" the years still open, ALL_YEARS, or a year) and the
    years it lists (None: every year). By default the years whose RKPD is not adopted yet: a proposal of an
    adopted year can no longer be decided on."""
    if typed == ALL_YEARS:
        return ALL_YEARS, None
    if typed.isascii() and typed.isdigit() and len(typed) == 4:  # "¹²³⁴" is digits to isdigit, not to int
        return typed, [int(typed)]
    return "", [year for year, adopted in cycles if not adopted]


def _back(request: Request) -> Response:
    """To the queue, with the filters the form was sent from."""
    kept = {k: v for k in ("status", "bidang", "tahun", "q", "halaman")
            if (v := typed_search(request).strip() if k == "q" else request.query_params.get(k))}  # fmt: skip
    return Redirect(f"/petugas/verifikasi{'?' + urlencode(kept) if kept else ''}", status_code=303)


async def _decided(request: Request, pool: asyncpg.Pool, code: str, decision: str) -> str:
    title = await pool.fetchval("SELECT title FROM proposals WHERE code = $1", code) or ""
    return translate(request, Message(DECISION_DONE[decision], code=code, title=str(title)[:100]))


class VerificationPages(Controller):
    path = "/petugas"
    include_in_schema = False

    @get("/verifikasi", guards=[FACILITATORS])
    async def queue(self, request: Request, actor: ActorDep, pool: PoolDep) -> Template:
        return await _queue_page(request, actor, pool)

    @post("/verifikasi/{code:str}")
    async def decide(self, request: Request, actor: ActorDep, proposals: ProposalsDep, runner: RunnerDep,
                     pool: PoolDep, code: FromPath[str]) -> Response:  # fmt: skip
        code = code_or_404(code)
        # The role here, not by a guard: a code that cannot be one is 404 to any account, as it always was.
        require_role(actor, "admin", "facilitator")
        require_region(actor, await proposals.kelurahan_of(code))
        form = await request.form()
        entered = {name: str(form.get(name, "")).strip() for name in DECISION_FIELDS}
        cost, volume, errors = values.parse_agreed(entered["agreed_cost"], entered["agreed_volume"])
        if not errors:
            command = rules.VerifyProposal(code=code, decision=entered["decision"], reason=entered["reason"],
                                           agreed_cost=cost, agreed_volume=volume,
                                           seen_revision=form_revision(form))  # fmt: skip
            try:
                result = await proposals.verify(command, Metadata(actor=actor.username, role=actor.role))
            except ValidationFailed as exc:
                errors = dict(exc.errors)
            except DomainError as exc:  # not waiting for verification any more, say
                if exc.code == "forbidden" or not await proposals.decided_already(command):
                    errors = {"form": exc.message}
                else:  # this very decision, sent again (double tap, retry): answered as the first time
                    await runner.wait_for_head(["proposals"], timeout=5)  # its twin may still be on its way
                    return notify(request, _back(request), await _decided(request, pool, code, entered["decision"]))
            else:
                await runner.wait_until_applied(["proposals"], result.last)
                return notify(request, _back(request), await _decided(request, pool, code, entered["decision"]))
        return await _queue_page(request, actor, pool, failed=code, entered=entered, errors=errors)

    @post("/gabung", guards=[FACILITATORS])
    async def merge(self, request: Request, actor: ActorDep, proposals: ProposalsDep, runner: RunnerDep,
                    pool: PoolDep) -> Response:  # fmt: skip
        form = await request.form()
        codes = tuple(code_or_404(str(c)) for c in form.getall("codes", []))
        typed_into = str(form.get("into", ""))
        into = code_or_404(typed_into) if typed_into else ""
        entered: dict[str, Any] = {"codes": codes, "into": into, "reason": str(form.get("reason", "")).strip()}
        if not into:
            return await _queue_page(request, actor, pool, failed="gabung", entered=entered,
                                     errors={"into": N_("pilih usulan tujuan penggabungan")})  # fmt: skip
        if len([c for c in codes if c != into]) > rules.MAX_MERGED:  # before a region is looked up for each
            return await _queue_page(request, actor, pool, failed="gabung", entered=entered, errors={
                "codes": Message(N_("paling banyak %(max)d usulan sekaligus"), max=rules.MAX_MERGED)})  # fmt: skip
        command = rules.MergeProposals(into=into, codes=tuple(c for c in codes if c != into), reason=entered["reason"])
        try:
            for c in (into, *codes):
                require_region(actor, await proposals.kelurahan_of(c))
            result = await proposals.merge(command, Metadata(actor=actor.username, role=actor.role))
        except ValidationFailed as exc:
            return await _queue_page(request, actor, pool, failed="gabung", entered=entered, errors=dict(exc.errors))
        except DomainError as exc:
            if exc.code == "forbidden":
                raise
            if not await proposals.merged_already(command):
                return await _queue_page(request, actor, pool, failed="gabung", entered=entered,
                                         errors={"form": exc.message})  # fmt: skip
            await runner.wait_for_head(["proposals"], timeout=5)  # its twin may still be on its way
        else:
            await runner.wait_until_applied(["proposals"], result.last)
        merged = len(command.codes)  # merged now, or by this very form a moment ago (double tap, retry)
        notice = Message(N_("%(count)d usulan digabungkan ke %(code)s"), count=merged, code=into)
        return notify(request, _back(request), translate(request, notice))
