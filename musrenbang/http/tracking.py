"""Following a proposal: finding it by its code, its tracking page, and stopping the messages about it."""

from __future__ import annotations

from typing import Any

import asyncpg
import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.exceptions import NotFoundException
from litestar.params import FromPath
from litestar.response import Redirect

from musrenbang.delivery.channels import printable
from musrenbang.domain import proposal as rules
from musrenbang.domain import values
from musrenbang.domain.errors import N_
from musrenbang.http.deps import PoolDep
from musrenbang.http.errors import code_or_404
from musrenbang.http.i18n import translate
from musrenbang.http.inputs import form_text
from musrenbang.http.ratelimit import client_address, count_attempt
from musrenbang.http.reads import FROM_REPLICA, found_on_standby_or_primary
from musrenbang.http.render import page
from musrenbang.projections import city as city_views
from musrenbang.projections import cycles
from musrenbang.projections import proposals as proposal_views
from musrenbang.reference import region
from musrenbang.services import cycles as cycle_service
from musrenbang.services.proposals import stop_proposer_news

NOT_FOUND = N_("kode tidak ditemukan — periksa lagi setiap hurufnya, atau cari usulan Anda lewat «Lupa kode?»")
"""A well-formed code no proposal has: mistyped, most likely (one letter of eight)."""


class TrackingPages(Controller):
    """A proposal followed by its code, by anyone who has it: no sign-in, so no guard."""

    path = "/lacak"
    include_in_schema = False

    @get("/", dependencies=FROM_REPLICA)
    async def find_proposal(self, request: Request, pool: PoolDep) -> Response:
        """A code typed in the lookup form: its page, or the form again saying why not (a code no proposal
        has too: 404), showing what was typed less the control characters no page can carry."""
        typed = request.query_params.get("kode", "")
        if not printable(typed):
            return page(request, "track_lookup.html", typed="", error="")
        try:
            code = values.normalize_code(typed)
        except ValueError as exc:
            return page(request, "track_lookup.html", status=422, typed=printable(typed[:100]),
                        error=translate(request, exc.args[0]))  # fmt: skip
        try:
            await found_on_standby_or_primary(request, pool, lambda conn: _exists(conn, code))
        except NotFoundException:
            return _not_found(request, printable(typed[:100]))
        return Redirect(f"/lacak/{code}", status_code=303)

    @get("/{code:str}", dependencies=FROM_REPLICA)
    async def track(self, request: Request, pool: PoolDep, code: FromPath[str]) -> Response:
        try:
            canonical = values.normalize_code(code)
        except ValueError:
            return _not_found(request, printable(code[:100]))
        if canonical != code:
            return Redirect(f"/lacak/{canonical}", status_code=301)
        try:
            context = await found_on_standby_or_primary(request, pool, lambda conn: _tracked(conn, code))
        except NotFoundException:
            return _not_found(request, code)
        news = request.query_params.get("kabar")
        return page(request, "track.html", **context, news=news if news == "diminta" else None)

    @post("/{code:str}/berhenti", request_max_body_size=8 * 1024)
    async def stop_news(self, request: Request, pool: PoolDep, code: FromPath[str]) -> Response:
        """The proposer stops the messages about their proposal, by giving the number or e-mail address they
        proposed with. The answer is the same whether it matched (the proposer is told on their channel), and
        tries are limited per client address."""
        code = code_or_404(code)
        form = await request.form()
        contact = form_text(form, "kontak")
        settings = request.app.state.settings
        await count_attempt(pool, "stop", client_address(request, settings.trust_proxy), STOPS_PER_HOUR)
        async with pool.acquire() as conn:
            await stop_proposer_news(conn, code, contact)
        return Redirect(f"/lacak/{code}?kabar=diminta#kabar", status_code=303)  # the same whether it matched


async def _exists(conn: asyncpg.Connection, code: str) -> None:
    if await conn.fetchval("SELECT 1 FROM proposals WHERE code = $1", code) is None:
        raise NotFoundException()


def _not_found(request: Request, typed: str) -> Response:
    """The lookup form again, with the code that names no proposal, answered 404."""
    return page(request, "track_lookup.html", status=404, typed=typed, error=translate(request, NOT_FOUND))


async def _tracked(conn: asyncpg.Connection, code: str) -> dict[str, Any]:
    """What the tracking page shows of a proposal: its face, steps (and a merged duplicate's path on, in the
    proposal it was merged into), years, place, the year's programs, and the soonest year that would take
    it again from its proposer (when it was not accommodated and not carried over yet). A DPRD pokir is
    never proposed again by residents, only by its member from a later reses (`pokir_again`). Whether its
    news has ended (`news_ended`: no form to follow it by) is the query module's (`proposals.tracked`)."""
    proposal = await proposal_views.get(conn, code)
    if proposal is None:
        raise NotFoundException()
    tracked = await proposal_views.tracked(conn, code)
    years = await proposal_views.history(conn, code)
    place = await region(conn, proposal["kelurahan"])
    programs = await cycles.priority_programs(conn, proposal["year"])
    own = await cycles.cycle_row(conn, proposal["year"])
    open_today = cycles.open_windows(await cycles.overview(conn, cycle_service.today()))
    taking = [c["year"] for c, stage, _ in open_today if stage == "usulan"]
    again = min((y for y in taking if y > proposal["year"]), default=None)
    dropped = tracked.line_dropped
    unmet = rules.not_accommodated(proposal["status"], bool(own and own["adopted"]), line_dropped=dropped)
    pokir = proposal["source"] == "pokir"
    if proposal["carried_to"] or not unmet or pokir:
        again = None
    return {"p": proposal, "steps": tracked.steps, "merged": tracked.merged, "place": place, "years": years,
            "again": again, "pokir_again": pokir and unmet and not proposal["carried_to"], "dropped": dropped,
            "news_ended": tracked.news_ended,  # no follow form then: asking would be refused (services/following.py)
            "programs": {r["number"]: r["title"] for r in programs},
            "forum_regions": await _forum_regions(conn, [tracked.steps, *(m.steps for m in tracked.merged)]),
            "agency_name": await city_views.agency_names(conn)}  # each step by the names of its day  # fmt: skip


async def _forum_regions(conn: asyncpg.Connection, paths: list[list[asyncpg.Record]]) -> dict[str, str]:
    """forum id -> its region, for the forums the steps name: a kelurahan-level forum held in a desa is
    written as a Musrenbang Desa (`labels.forum_level`)."""
    ids = sorted({msgspec.json.decode(s["details"]).get("forum_id", "") for steps in paths for s in steps
                  if s["kind"] == "proposal.decided_at_forum"})  # fmt: skip
    if not ids:
        return {}
    rows = await conn.fetch("SELECT forum_id, region FROM forums WHERE forum_id = ANY($1::text[])", ids)
    return {r["forum_id"]: r["region"] for r in rows}


STOPS_PER_HOUR = 10
