"""The kelurahan facilitator's verification queue: new proposals with filters, a decision per proposal
(accept, accept with changes, return with what to fix, reject), and merging duplicates."""

from __future__ import annotations

import asyncpg
from litestar import Request, Response, get, post
from litestar.response import Redirect, Template

from musrenbang.domain import proposal as rules
from musrenbang.domain import values
from musrenbang.domain.access import Actor, require_region, require_role
from musrenbang.domain.errors import DomainError
from musrenbang.eventlog.store import Metadata
from musrenbang.http.city_context import city_of
from musrenbang.http.errors import code_or_404
from musrenbang.http.i18n import translate
from musrenbang.http.render import page
from musrenbang.projections.runner import ProjectionRunner
from musrenbang.services.proposals import ProposalService


@get("/petugas/verifikasi", include_in_schema=False)
async def queue(request: Request, actor: Actor, pool: asyncpg.Pool) -> Template:
    require_role(actor, "admin", "facilitator")
    status = request.query_params.get("status") or rules.DIAJUKAN
    bidang = request.query_params.get("bidang") or None
    scope = actor.region or city_of(request).region  # admin: the whole city
    rows = await pool.fetch(
        "SELECT code, kelurahan, rw, rt, title, problem, bidang, kind, estimated_cost, volume::text AS volume, unit,"
        " beneficiaries, status, status_reason, submitted_at, first_year, times FROM proposals"
        " WHERE (kelurahan = $1 OR kelurahan LIKE $1 || '.%') AND status = $2 AND ($3::text IS NULL OR bidang = $3)"
        " AND source <> 'pokir'"  # pokir are checked by the DPRD secretariat, not verified at the kelurahan
        " ORDER BY first_year, kelurahan, rw, submitted_at LIMIT 300",
        scope, status, bidang,
    )  # fmt: skip
    return page(request, "verification_queue.html", actor=actor, rows=rows, current=status, bidang=bidang,
                message=request.query_params.get("pesan"))  # fmt: skip


@post("/petugas/verifikasi/{code:str}", include_in_schema=False)
async def decide(request: Request, actor: Actor, proposals: ProposalService, runner: ProjectionRunner,
                 code: str) -> Response:  # fmt: skip
    code = code_or_404(code)
    require_role(actor, "admin", "facilitator")
    require_region(actor, await proposals.kelurahan_of(code))
    form = await request.form()
    decision = str(form.get("decision", ""))
    cost_text, volume_text = str(form.get("agreed_cost", "")).strip(), str(form.get("agreed_volume", "")).strip()
    try:
        command = rules.VerifyProposal(
            code=code, decision=decision, reason=str(form.get("reason", ""))[:1000],
            agreed_cost=values.parse_rupiah(cost_text) if cost_text else None,
            agreed_volume=values.parse_decimal(volume_text, places=3) if volume_text else None,
        )  # fmt: skip
        result = await proposals.verify(command, Metadata(actor=actor.username, role=actor.role))
    except (DomainError, ValueError) as exc:
        message = exc.errors if hasattr(exc, "errors") else {"": exc.args[0]}
        text = "; ".join(translate(request, m) for m in message.values())
        return Redirect(f"/petugas/verifikasi?pesan={code}:{text}", status_code=303)
    await runner.wait_until_applied(["proposals"], result.last)
    return Redirect(f"/petugas/verifikasi?pesan={code}", status_code=303)


@post("/petugas/gabung", include_in_schema=False)
async def merge(request: Request, actor: Actor, proposals: ProposalService, runner: ProjectionRunner) -> Response:
    require_role(actor, "admin", "facilitator")
    form = await request.form()
    codes = tuple(code_or_404(str(c)) for c in form.getall("codes", []))
    into = code_or_404(str(form.get("into", "")))
    try:
        for c in (into, *codes):
            require_region(actor, await proposals.kelurahan_of(c))
        result = await proposals.merge(
            rules.MergeProposals(into=into, codes=tuple(c for c in codes if c != into),
                                 reason=str(form.get("reason", ""))[:1000]),
            Metadata(actor=actor.username, role=actor.role),
        )  # fmt: skip
    except DomainError as exc:
        text = "; ".join(translate(request, m) for m in getattr(exc, "errors", {"": exc.message}).values())
        return Redirect(f"/petugas/verifikasi?pesan={into}:{text}", status_code=303)
    await runner.wait_until_applied(["proposals"], result.last)
    return Redirect(f"/petugas/verifikasi?pesan={into}", status_code=303)
