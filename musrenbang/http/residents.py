"""Public pages for residents: the home page, finding a kelurahan or a proposal, and a kelurahan's or
kecamatan's proposals. Proposing is in `proposal_form`, following a proposal in `tracking`."""

from __future__ import annotations

from typing import Any

import asyncpg
from litestar import Controller, Request, Response, get
from litestar.exceptions import NotFoundException
from litestar.params import FromPath
from litestar.response import Template

from musrenbang.domain import proposal as rules
from musrenbang.domain.cycle import STAGE_LABELS, WINDOW_LABELS
from musrenbang.http import feeds, page_cache
from musrenbang.http.deps import PoolDep
from musrenbang.http.inputs import finds_nothing, int_param, typed_search, year_shown
from musrenbang.http.reads import FROM_REPLICA
from musrenbang.http.render import page, page_context, page_count, page_number, rendered
from musrenbang.projections import city as city_views
from musrenbang.projections import cycles
from musrenbang.projections import proposals as proposal_views
from musrenbang.projections.proposals import SEARCH_PAGE
from musrenbang.reference import kecamatan_with_kelurahan, region, villages
from musrenbang.services import cycles as cycle_service

PAGE_SIZE = 25
REGION_PAGE = 50
SEARCH_MODELS = ("proposals", "cycles", "city")
"""What the proposal search reads (regions are reference data)."""


class HomePages(Controller):
    """Public: the home page and the ways from it to a village or a proposal are for anyone, so no guard."""

    path = "/"
    include_in_schema = False

    @get("/", dependencies=FROM_REPLICA)
    async def home(self, request: Request, pool: PoolDep) -> Template:
        """What is open now and until when, every year's cycle, the planned year's programs, and the way to
        a kecamatan's or a village's proposals (villages by kecamatan, or searched: a kabupaten has hundreds).
        "Ajukan usulan" is offered for the newest year that takes proposals (`Cycle.takes_proposals`, as the
        submission itself judges it): not for one whose kelurahan stage is over or Forum Perangkat Daerah
        closed, though its proposals' window may still read open."""
        today = cycle_service.today()
        async with pool.acquire() as conn:
            years = await cycles.overview(conn, today)
            planned = await cycles.current_cycle(conn, today)
            kecamatan = await kecamatan_with_kelurahan(conn)
            counts = await proposal_views.counts_by_year(conn)
        now = cycles.open_windows(years)
        programs: list[Any] = next((c["programs"] for c in years if planned and c["year"] == planned["year"]), [])
        upcoming = sorted((w["opens"], c["year"], w["stage"]) for c in years for w in c["calendar"]
                          if w["opens"] > today and not c["adopted"])  # fmt: skip
        return page(request, "home.html", years=years, now=now, planned=planned, programs=programs, counts=counts,
                    kecamatan=kecamatan, village_count=sum(len(k["kelurahan"]) for k in kecamatan),
                    upcoming=upcoming[0] if upcoming else None, STAGES=STAGE_LABELS, WINDOWS=WINDOW_LABELS,
                    taking=[c["year"] for c in years if c["taking"]])  # fmt: skip

    @get("/wilayah", dependencies=FROM_REPLICA)
    async def regions_page(self, request: Request, pool: PoolDep) -> Template:
        """Kelurahan and desa by name, 50 to a page: how a resident of a kabupaten with hundreds of desa finds
        their own without a page listing them all."""
        typed, number = typed_search(request), page_number(request)
        found: tuple[int, list[asyncpg.Record]] = (0, [])
        if not finds_nothing(typed):
            async with pool.acquire() as conn:
                found = await villages(conn, typed, limit=REGION_PAGE, offset=(number - 1) * REGION_PAGE)
        total, rows = found
        return page(request, "regions.html", typed=typed, rows=rows, total=total, page_number=number,
                    pages=page_count(total, REGION_PAGE, number))  # fmt: skip

    @get("/usulan", dependencies=FROM_REPLICA)
    async def search_proposals(self, request: Request, pool: PoolDep) -> Response:
        """Every proposal of a year found by title, code or kelurahan (`?tahun=2022&q=pondok gede`), 25 to a
        page: how an auditor or a resident finds one without knowing where it was proposed. Public columns
        only (no proposer). A page is kept by what was asked and the checkpoints of the read models it reads
        (in the cache of searches): a search many make is scanned once per state of the proposals, not once
        per reader."""
        typed, number = typed_search(request), page_number(request)

        async def render_on(conn: asyncpg.Connection) -> bytes:
            year, years = await year_shown(request, conn)
            total, rows = await proposal_views.search_year(conn, year, typed, offset=(number - 1) * SEARCH_PAGE) \
                if year and not finds_nothing(typed) else (0, [])  # fmt: skip
            pages = page_count(min(total, proposal_views.SEARCH_COUNTED), SEARCH_PAGE, number)
            return rendered(request, "usulan_cari.html", page_context(
                request, city=await city_views.settings(conn), typed=typed, year=year, years=years, rows=rows,
                total=total, more=total > proposal_views.SEARCH_COUNTED, counted=proposal_views.SEARCH_COUNTED,
                page_number=number, pages=pages,
            ))  # fmt: skip

        # The default year is the cycle being planned today: the day is part of what was asked.
        asked = (request.query_params.get("tahun", ""), typed, number, cycle_service.today())
        return await page_cache.by_checkpoints(request, pool, f"usulan_cari.html {asked!r}", SEARCH_MODELS, render_on,
                                               cache=page_cache.searches_of(request))  # fmt: skip


class PlacePages(Controller):
    """Public: a kelurahan's or kecamatan's proposals (and their feeds) are for anyone, so no guard."""

    path = "/"
    include_in_schema = False

    @get("/kelurahan/{kode:str}", dependencies=FROM_REPLICA)
    async def kelurahan_page(self, request: Request, pool: PoolDep, kode: FromPath[str]) -> Response:
        """A kelurahan's or desa's proposals of one year (`?tahun=`, default the cycle being planned);
        `/kelurahan/{kode}.atom` is its feed of public changes."""
        if kode.endswith(".atom"):
            return await feeds.kelurahan_feed(request, pool, kode.removesuffix(".atom"))
        rw = int_param(request, "rw")
        bidang = request.query_params.get("bidang") or None
        if bidang is not None and bidang not in rules.BIDANG:
            bidang = None
        number = page_number(request)
        async with pool.acquire() as conn:
            place = await region(conn, kode)
            if place is None or place["tingkat"] not in ("kelurahan", "desa"):
                raise NotFoundException()
            year, years = await year_shown(request, conn)
            total, rows = await proposal_views.in_kelurahan(
                conn, kode, rw=rw, bidang=bidang, year=year, limit=PAGE_SIZE, offset=(number - 1) * PAGE_SIZE
            )
            # Counted as the kecamatan page counts (residents' proposals); `total` is what the pages list.
            counted = await proposal_views.counted_in_kelurahan(conn, kode, rw=rw, bidang=bidang, year=year)
            rws = await proposal_views.rws_in_kelurahan(conn, kode)
        return page(request, "kelurahan.html", place=place, proposals=rows, counted=counted, rws=rws, rw=rw,
                    bidang=bidang, page_number=number, pages=page_count(total, PAGE_SIZE, number), year=year,
                    years=years)  # fmt: skip

    @get("/kecamatan/{kode:str}", dependencies=FROM_REPLICA)
    async def kecamatan_page(self, request: Request, pool: PoolDep, kode: FromPath[str]) -> Response:
        """A kecamatan's proposals counted per kelurahan and desa; `/kecamatan/{kode}.atom` is its feed."""
        if kode.endswith(".atom"):
            return await feeds.kecamatan_feed(request, pool, kode.removesuffix(".atom"))
        async with pool.acquire() as conn:
            place = await region(conn, kode)
            if place is None or place["tingkat"] != "kecamatan":
                raise NotFoundException()
            year, years = await year_shown(request, conn)
            rows = await proposal_views.totals_by_kelurahan(conn, kode, year)
        totals = {key: sum(r.outcomes[key] for r in rows) for key in rules.OUTCOMES}
        return page(request, "kecamatan.html", place=place, rows=rows, year=year, years=years, totals=totals,
                    OUTCOMES=rules.OUTCOMES)  # fmt: skip
