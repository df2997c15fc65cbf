"""Public RKPD pages: the priority list of the year (`/rkpd/{year}`), its CSV and XLSX
(`/rkpd/{year}.csv`, `.xlsx`), the equity view per kecamatan (`/rkpd/{year}/pemerataan`), and the lineage
pages (`/telusur/usulan/{code}`, `/telusur/rkpd/{year}/{line_id}`) that answer "why is this in the RKPD,
and why was that one left out?".

Everything here reads what the JSON API reads (`rkpd_api.rkpd_out`, `lineage_of_*`), so the page, the
files and the JSON say the same thing. The lineage page turns `LineageOut` into a tree — merged
proposals as branches feeding the one that survived, the forum steps of each proposal grouped per
forum — and states the outcome and its decisive reason at the top.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import itertools
import math
import re
from collections.abc import Awaitable, Callable
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from typing import Any

import asyncpg
import msgspec
from litestar import Controller, Request, Response, get
from litestar.exceptions import NotFoundException
from litestar.params import FromPath
from litestar.response import Redirect, Template

from musrenbang.domain import agency as agencies
from musrenbang.domain import city_forums, values
from musrenbang.domain import realisation as realisation_rules
from musrenbang.domain import rkpd as rkpd_rules
from musrenbang.domain.city import City
from musrenbang.domain.errors import N_
from musrenbang.domain.events import RkpdLine
from musrenbang.http import charts, feeds, page_cache, rkpd_files, rkpd_filters
from musrenbang.http.city_context import city_of
from musrenbang.http.deps import PoolDep
from musrenbang.http.errors import code_or_404
from musrenbang.http.i18n import language, translations
from musrenbang.http.labels import CRITERIA, LEVEL_LABELS, ROLE_LABELS, RULE_LABELS, SOURCE_LABELS, forum_level
from musrenbang.http.log_head import latest_seal_on
from musrenbang.http.reads import FROM_REPLICA
from musrenbang.http.render import (
    fraction_text,
    page,
    page_context,
    page_number,
    remember_language,
    rendered,
    rupiah,
    score_text,
)
from musrenbang.http.render import number as count_text
from musrenbang.http.rkpd_api import (
    LineageOut,
    ProposalNode,
    RkpdOut,
    Year,
    line_lineage_on,
    proposal_lineage_on,
    rkpd_out_on,
)
from musrenbang.http.rkpd_api import list_key as rkpd_list_key
from musrenbang.http.staleness import behind
from musrenbang.projections import city as city_views
from musrenbang.projections import cycles
from musrenbang.projections import lineage as lineage_views
from musrenbang.projections import rkpd as rkpd_views
from musrenbang.reference import region_names

_NAME = re.compile(r"(\d{4})(?:\.(csv|xlsx|atom))?", re.ASCII)

FORUM_KINDS = {"forum.opened", "forum.item_adjusted", "forum.ballot_cast", "forum.scores_given", "forum.closed"}
LINE_KINDS = {"rkpd.line_set", "rkpd.line_withdrawn", "rkpd.adopted", "rkpd.enacted", "rkpd.forum_closed"}


def year_of(name: str) -> tuple[int, str | None]:
    """The year a public RKPD address names (`2027`, `2027.csv`), and the extension; 404 otherwise."""
    m = _NAME.fullmatch(name)
    if m is None:
        raise NotFoundException()
    return int(m[1]), m[2]


def _labels() -> dict[str, Any]:
    return {"RULES": RULE_LABELS, "LEVELS": LEVEL_LABELS, "SOURCES": SOURCE_LABELS, "CRITERIA": CRITERIA,
            "ROLES": ROLE_LABELS, "FUNDING": agencies.FUNDING_SOURCES, "CITY_FORUMS": city_forums.FORUMS,
            "CITY_FORUM_PAGES": city_forums.PAGES, "score_text": score_text, "selected_at": selected_at,
            "forum_level": forum_level, "FINAL_STAGES": realisation_rules.FINAL}  # fmt: skip


# --- the list ---------------------------------------------------------------------------------------


PAGE_SIZE = 50
"""Lines on one page of the list: a phone's first view stays small at city scale (hundreds of lines)."""


@dataclasses.dataclass
class AgencyGroup:
    code: str
    name: str
    items: list[Any]
    total: int
    continued: bool = False
    """Its first lines are on an earlier page."""
    ends: bool = True
    """Its last line is on this page (where its subtotal goes)."""


@dataclasses.dataclass
class ProgramGroup:
    number: int
    title: str
    agencies: list[AgencyGroup]
    total: int
    continued: bool = False
    ends: bool = True

    @property
    def lines(self) -> int:
        return sum(len(a.items) for a in self.agencies)


def grouped(rkpd: RkpdOut) -> list[ProgramGroup]:
    """By priority program, then agency (the items already come in that order), with subtotals."""
    groups = []
    for (number, title), in_program in itertools.groupby(rkpd.items, lambda i: (i.priority_program,
                                                                               i.priority_program_title)):  # fmt: skip
        by_agency = [
            AgencyGroup(code, name, list(items), 0)
            for (code, name), items in itertools.groupby(in_program, lambda i: (i.agency, i.agency_name))
        ]
        for a in by_agency:
            a.total = sum(i.pagu for i in a.items)
        groups.append(ProgramGroup(number, title, by_agency, sum(a.total for a in by_agency)))
    return groups


def page_count(rkpd: RkpdOut) -> int:
    return max(1, math.ceil(len(rkpd.items) / PAGE_SIZE))


def page_of(no: int) -> int:
    """The page line number `no` (1, 2, ...) is on."""
    return (no - 1) // PAGE_SIZE + 1


def on_page(groups: list[ProgramGroup], number: int, position: Callable[[Any], int] | None = None
            ) -> list[ProgramGroup]:  # fmt: skip
    """The groups as page `number` shows them: its lines only, each group's total still the whole group's
    (a subtotal row goes where the group's last line is). `position`: a line's place in the list shown
    (a filtered list keeps the whole list's numbers); its number by default."""
    at = position or (lambda i: i.no)
    first, last = (number - 1) * PAGE_SIZE + 1, number * PAGE_SIZE
    out = []
    for g in groups:
        agencies = []
        for a in g.agencies:
            shown = [i for i in a.items if first <= at(i) <= last]
            if shown:
                agencies.append(dataclasses.replace(a, items=shown, continued=at(shown[0]) > at(a.items[0]),
                                                    ends=at(shown[-1]) == at(a.items[-1])))  # fmt: skip
        if agencies:
            out.append(dataclasses.replace(g, agencies=agencies, continued=agencies[0].continued
                                           or agencies[0].code != g.agencies[0].code,
                                           ends=agencies[-1].ends and agencies[-1].code == g.agencies[-1].code))
    return out


@dataclasses.dataclass
class AgencySummary:
    code: str
    name: str
    lines: int
    total: int
    first: Any
    """Its first line (the summary links to it: `?halaman=N#baris-ID`)."""


def by_agency(rkpd: RkpdOut) -> list[AgencySummary]:
    """Every agency with its lines across the priority programs, by name."""
    out: dict[str, AgencySummary] = {}
    for i in rkpd.items:
        a = out.get(i.agency)
        if a is None:
            a = out[i.agency] = AgencySummary(i.agency, i.agency_name, 0, 0, i)
        a.lines += 1
        a.total += i.pagu
    return sorted(out.values(), key=lambda a: (a.name, a.code))


class RkpdPages(Controller):
    """Public: a year's RKPD, its files, its equity and what became of it are an open record, so no guard."""

    path = "/rkpd/{name:str}"
    include_in_schema = False

    @get("/", dependencies=FROM_REPLICA)
    async def rkpd_page(self, request: Request, pool: PoolDep, name: FromPath[str]) -> Response:
        """`/rkpd/2022` (the page; `?halaman=N` for the rest of the list), `/rkpd/2022.csv`, `.xlsx`, `.atom`."""
        year, extension = year_of(name)
        if extension == "atom":
            return await feeds.rkpd_feed(request, pool, year)
        if extension is not None:
            return await _rkpd_file(request, pool, year, extension)
        number = page_number(request)
        chosen = rkpd_filters.chosen(request)
        async with pool.acquire() as conn:
            version = await rkpd_views.list_version(conn, year)
        if version.programs is None:
            raise NotFoundException()
        pages = page_cache.cache_of(request).noted(_pages_key(year, version, chosen))
        if pages is not None and number > pages:
            raise NotFoundException()

        async def render() -> tuple[tuple[object, ...], bytes]:
            async with pool.acquire() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
                return await _render_list(request, conn, year, number, chosen)

        cache = page_cache.cache_of(request) if chosen.cacheable else page_cache.searches_of(request)
        response = await page_cache.cached(request, _list_key(request, year, number, version, chosen), render,
                                           "text/html", vary_language=True, cache=cache)  # fmt: skip
        remember_language(request, response)
        return response

    @get("/pemerataan", dependencies=FROM_REPLICA)
    async def equity_page(self, request: Request, pool: PoolDep, name: FromPath[str]) -> Response:
        """Cached by what the year's view is a function of (`rkpd_views.equity_version`): it counts every
        proposal of the year, and is rendered again when the year's proposals, RKPD, merges or kecamatan
        ceilings change, not for each proposal of another year."""
        year, extension = year_of(name)
        if extension is not None:
            raise NotFoundException()

        async def render_on(conn: asyncpg.Connection) -> bytes:
            city = await city_views.settings(conn)
            published, rows = await equity_rows(conn, year)
            return _equity_html(request, city, year, published, rows)

        async def versions(conn: asyncpg.Connection) -> tuple[object, ...]:
            return await rkpd_views.equity_version(conn, year)

        return await page_cache.by_versions(request, pool, "rkpd_equity.html", versions, render_on)

    @get("/realisasi", dependencies=FROM_REPLICA)
    async def realisation_page(self, request: Request, pool: PoolDep, name: FromPath[str]) -> Template:
        year, extension = year_of(name)
        if extension is not None:
            raise NotFoundException()
        published, rows = await realisation_rows(pool, year)
        return page(request, "rkpd_realisation.html", year=year, published=published, rows=rows,
                    total={f: sum(getattr(r, f) for r in rows) for f in ("planned", "budgeted", "spent", "finished",
                                                                          "lines", "finished_lines", "dropped_lines")})


async def _rkpd_file(request: Request, pool: asyncpg.Pool, year: int, extension: str) -> Response:
    """The list as a CSV or XLSX download: read in one snapshot (the lines, their origins and progress of
    one state of the log), named by that state's ETag, and 304 while it stands. Not kept in the page
    cache: downloads are rare, and an XLSX does not shrink under gzip."""
    async with pool.acquire() as conn:
        now = await rkpd_views.list_version(conn, year)
    if now.programs is None:
        raise NotFoundException()
    unchanged = page_cache.not_modified(request, page_cache.etag_of(rkpd_list_key(extension, year, now)))
    if unchanged is not None:
        return unchanged
    async with pool.acquire() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
        read_at = await rkpd_views.list_version(conn, year)
        rkpd = await rkpd_out_on(conn, year)
    city = city_of(request)  # its region says "Seluruh kota" or "Seluruh kabupaten" for a line of no place
    content, media_type = (
        (rkpd_files.to_csv(rkpd, city.region), rkpd_files.CSV_TYPE) if extension == "csv"
        else (rkpd_files.to_xlsx(rkpd, city.name, city.region), rkpd_files.XLSX_TYPE)
    )  # fmt: skip
    return Response(content=content, media_type=media_type, headers={
        "Content-Disposition": f'attachment; filename="{rkpd_files.filename(rkpd, extension)}"',
        "Cache-Control": page_cache.CACHE_CONTROL, "ETag": page_cache.etag_of(rkpd_list_key(extension, year, read_at)),
    })  # fmt: skip


def _list_key(request: Request, year: int, number: int, version: rkpd_views.ListVersion,
              chosen: rkpd_filters.Chosen) -> tuple[object, ...]:  # fmt: skip
    """Everything the list page's bytes depend on (the choices normalised: `?kecamatan=32.75.01` and
    `?kecamatan=32.75.01&q=` are one page). The "may be behind" notice is part of the bytes, so it is part
    of the key: a reader who sends the notice's cookie gets the cached page that has it, not a render of
    their own (anyone can send that cookie)."""
    return ("rkpd.html", request.url.path, year, number, language(request), behind(request), version.rkpd,
            version.programs, version.city, version.seal, version.tables, chosen.normalised())  # fmt: skip


def _pages_key(year: int, version: rkpd_views.ListVersion, chosen: rkpd_filters.Chosen) -> tuple[object, ...]:
    return ("rkpd pages", year, version.rkpd, version.tables, chosen.normalised())


async def _render_list(request: Request, conn: asyncpg.Connection, year: int, number: int,
                       chosen: rkpd_filters.Chosen) -> tuple[tuple[object, ...], bytes]:  # fmt: skip
    """The page read in the caller's (repeatable read) transaction, with the key of what it read."""
    version = await rkpd_views.list_version(conn, year)
    city = await city_views.settings(conn)
    index = await _indexed(request, conn, year, version, city)
    whole = index.rkpd
    offered = rkpd_filters.options(index, chosen)
    rkpd = rkpd_filters.narrowed(index, chosen, offered)
    pages = page_count(rkpd)
    if chosen.cacheable:
        page_cache.cache_of(request).note(_pages_key(year, version, chosen), pages)
    if number > pages:
        raise NotFoundException()
    shown = await latest_seal_on(conn, rkpd.head.position if rkpd.head else None)
    forums = await rkpd_views.city_forum_days(conn, year)
    groups = grouped(rkpd)
    position = {i.id: n for n, i in enumerate(rkpd.items, start=1)}
    context = page_context(
        request, city=city, rkpd=rkpd, whole=whole, chosen=chosen, offered=offered, FACETS=FACET_LABELS,
        groups=on_page(groups, number, lambda i: position[i.id]), programs=groups, agencies=by_agency(rkpd),
        page_number=number, pages=pages, page_of=lambda i: page_of(position[i.id]), seal=shown, forums=forums,
        FORUMS=city_forums.FORUMS, FORUM_PAGES=city_forums.PAGES, **_labels(),
    )  # fmt: skip
    return _list_key(request, year, number, version, chosen), rendered(request, "rkpd.html", context)


async def _indexed(request: Request, conn: asyncpg.Connection, year: int, version: rkpd_views.ListVersion,
                   city: City) -> rkpd_filters.Indexed:  # fmt: skip
    """The year's list read whole and indexed for filtering, kept in this process by the state it was read
    at: each new search or filtered page of that state then reads only the small facts around it."""
    key = ("rkpd list", year, version.rkpd, version.programs, version.city, version.tables)
    kept = page_cache.cache_of(request).kept(key)
    if isinstance(kept, rkpd_filters.Indexed):
        return kept
    index = rkpd_filters.indexed(await rkpd_out_on(conn, year, city))
    page_cache.cache_of(request).keep(key, index)
    return index


FACET_LABELS = {"kecamatan": N_("Kecamatan"), "kelurahan": N_("Kelurahan/desa"), "opd": N_("Perangkat daerah"),
                "program": N_("Program prioritas")}  # fmt: skip


# --- equity -----------------------------------------------------------------------------------------


@dataclasses.dataclass
class KecamatanRow:
    kode: str
    """"" (`rkpd_rules.CITY_WIDE`) for the row of Renja lines that name no place (the whole city)."""
    nama: str
    submitted: int | None
    """None on the city-wide row (no kecamatan's proposals): shown as "–"."""
    accepted: int | None
    in_rkpd: int | None
    musrenbang: int
    """The part of the RKPD pagu from residents' proposals of this kecamatan through the Musrenbang: the
    figure its pagu indikatif holds, and that the adoption's ceiling check compares with it
    (`rkpd_rules.musrenbang_by_kecamatan`)."""
    pokir: int
    """The part from DPRD members' pokir located here (another channel: not held to the pagu indikatif)."""
    renja: int
    """The part from the agencies' own work plans (Renja) naming places here (another channel)."""
    ceiling: int | None
    waited: int = 0
    """Proposals of the year carried over from an earlier year's (a need proposed again)."""
    longest_wait: int = 0
    """Years the longest-waiting of them has waited since it was first proposed."""

    @property
    def pagu(self) -> int:
        """All the RKPD pagu reaching the kecamatan, whatever its source (as on `/rkpd/{year}/sumber`)."""
        return self.musrenbang + self.pokir + self.renja

    @property
    def share(self) -> Decimal | None:
        """The Musrenbang share of the pagu as a percentage of the kecamatan's ceiling (what the check compares)."""
        if not self.ceiling:
            return None
        return (Decimal(100 * self.musrenbang) / self.ceiling).quantize(Decimal("0.1"), ROUND_HALF_UP)


async def equity_rows(conn: asyncpg.Connection, year: int) -> tuple[rkpd_views.Published, list[KecamatanRow]]:
    """Read in the caller's (repeatable read) transaction. Each kecamatan's pagu by source (shared as
    `rkpd_rules.pagu_by_source` shares it, as the sources view does), and a last row for the Renja lines that
    name no place, when there are any: so the rows' pagu adds up to the list's total."""
    if not await cycles.priority_programs(conn, year):
        raise NotFoundException()
    published = await rkpd_views.published(conn, year)
    origins = [c for line in published.lines for c in line.origins]
    family = await lineage_views.members(conn, origins) if origins else []
    rows = await rkpd_views.equity(conn, year, family)
    items = await rkpd_views.city_items(conn, year)
    ceilings = await rkpd_views.ceilings(conn, year)
    by_source = rkpd_rules.pagu_by_source(published.lines, items)

    def part(kode: str, source: str) -> int:
        return by_source.get((kode, source), 0)

    out = [
        KecamatanRow(
            kode=r["kode"],
            nama=r["nama"],
            submitted=r["submitted"],
            accepted=r["accepted"],
            in_rkpd=r["in_rkpd"],
            musrenbang=part(r["kode"], "musrenbang"),
            pokir=part(r["kode"], "pokir"),
            renja=part(r["kode"], "renja"),
            ceiling=ceilings.get(r["kode"]),
            waited=r["waited"],
            longest_wait=r["longest_wait"],
        )  # fmt: skip
        for r in rows
    ]
    city_wide = part(rkpd_rules.CITY_WIDE, "renja")
    if city_wide:
        out.append(KecamatanRow(kode=rkpd_rules.CITY_WIDE, nama="", submitted=None, accepted=None, in_rkpd=None,
                                musrenbang=0, pokir=0, renja=city_wide, ceiling=None))  # fmt: skip
    return published, out


def _equity_html(request: Request, city: City, year: int, published: rkpd_views.Published,
                 rows: list[KecamatanRow]) -> bytes:  # fmt: skip
    _ = translations(request).gettext
    places = [r for r in rows if r.kode]
    counts = charts.bar_chart(
        "usulan", _("Usulan per kecamatan"),
        _("Untuk setiap kecamatan: usulan diajukan, diterima saat verifikasi, dan masuk RKPD (termasuk usulan"
          " yang digabungkan). Angka yang sama ada di tabel."),
        [charts.Group(r.nama, [charts.Bar(r.submitted or 0, count_text(r.submitted or 0), 0),
                               charts.Bar(r.accepted or 0, count_text(r.accepted or 0), 1),
                               charts.Bar(r.in_rkpd or 0, count_text(r.in_rkpd or 0), 2)]) for r in places],
        legend=[_("diajukan"), _("diterima"), _("masuk RKPD")],
    )  # fmt: skip
    money = charts.bar_chart(
        "pagu", _("Usulan warga dalam RKPD terhadap pagu indikatif kecamatan"),
        _("Untuk setiap kecamatan: bagian pagu baris RKPD yang berasal dari usulan warga kecamatan itu lewat"
          " Musrenbang (batang gelap; pagu satu baris dibagi menurut biaya usulan asalnya) dan pagu indikatif"
          " kecamatan (batang terang, garis tegak di ujungnya), yang membatasi usulan warga saja. Pokok pikiran"
          " DPRD dan rencana kerja perangkat daerah tidak dihitung di sini: angkanya ada di tabel."),
        [charts.Group(r.nama, [charts.Bar(r.musrenbang, "")], r.ceiling, note=rupiah(r.musrenbang) + (
            _(" dari %(ceiling)s (%(share)s%%)") % {"ceiling": rupiah(r.ceiling), "share": _number(r.share)}
            if r.ceiling and r.share is not None else "")) for r in places],
    )  # fmt: skip
    shares = [r.share for r in rows if r.share is not None]
    total = {f: sum(getattr(r, f) or 0 for r in rows)
             for f in ("submitted", "accepted", "in_rkpd", "musrenbang", "pokir", "renja", "pagu", "waited")}
    return rendered(request, "rkpd_equity.html", page_context(
        request, city=city, year=year, published=published, rows=rows, counts=counts, money=money,
        low=min(shares) if shares else None, high=max(shares) if shares else None,
        reached=sum(1 for r in places if r.pagu), kecamatan_count=len(places), total=total,
        total_pagu=total["pagu"], total_ceiling=sum(r.ceiling or 0 for r in rows),
    ))  # fmt: skip


# --- realisation: what became of the adopted lines, per kecamatan -----------------------------------------


@dataclasses.dataclass
class RealisationRow:
    kode: str
    nama: str
    planned: int
    """The RKPD pagu reaching the kecamatan (as on the equity view)."""
    budgeted: int
    """What the APBD (or DPA) budgeted for those lines, shared the same way."""
    spent: int
    finished: int
    """The planned pagu of the lines handed over."""
    lines: int
    finished_lines: int
    dropped_lines: int


async def realisation_rows(pool: asyncpg.Pool, year: int) -> tuple[rkpd_views.Published, list[RealisationRow]]:
    """Per kecamatan: planned (RKPD pagu) against budgeted, spent and finished, each line's amounts shared
    among the kecamatan of its origins by their costs, as the equity view shares the pagu; and a last row
    (`kode` "") for the Renja lines naming no place, when there are any, so the rows add up to the list."""
    async with pool.acquire() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
        published = await rkpd_views.published(conn, year)
        if not published.revision:
            raise NotFoundException()
        cost_of, kecamatan_of_code = await rkpd_views.item_facts(conn, year)
        progress = await rkpd_views.progress(conn, year)
        kecamatan = await region_names(conn, level="kecamatan")
    lines = published.lines

    def stage(x: RkpdLine) -> str:
        now = progress.get(x.line_id)
        return now["stage"] if now else ""

    def share(amount_of: Callable[[RkpdLine], int | None], only: str | None = None) -> dict[str, int]:
        """Each line's amount (of the lines at stage `only`) shared among its kecamatan as the pagu is."""
        chosen = [msgspec.structs.replace(x, pagu=amount_of(x) or 0) for x in lines
                  if amount_of(x) and (only is None or stage(x) == only)]  # fmt: skip
        return rkpd_rules.pagu_by_kecamatan(chosen, cost_of, kecamatan_of_code)

    def amount(column: str) -> Callable[[RkpdLine], int | None]:
        return lambda x: progress[x.line_id][column] if x.line_id in progress else None

    planned, budgeted, spent = share(lambda x: x.pagu), share(amount("budgeted")), share(amount("spent"))
    finished = share(lambda x: x.pagu, only="selesai")
    places = {x.line_id: {kecamatan_of_code[c] for c in x.origins} | {values.kecamatan_of(k) for k in x.locations}
              for x in lines}  # fmt: skip

    def count(kode: str, only: str | None = None) -> int:
        return sum(1 for x in lines if kode in places[x.line_id] and (only is None or stage(x) == only))

    rows = [
        RealisationRow(kode=kode, nama=nama, planned=planned.get(kode, 0), budgeted=budgeted.get(kode, 0),
                       spent=spent.get(kode, 0), finished=finished.get(kode, 0), lines=count(kode),
                       finished_lines=count(kode, "selesai"), dropped_lines=count(kode, "batal"))
        for kode, nama in kecamatan.items() if count(kode)
    ]  # fmt: skip
    city_wide = [x for x in lines if not places[x.line_id]]  # Renja lines naming no place: the whole city's
    if city_wide:

        def whole(amount_of: Callable[[RkpdLine], int | None], only: str | None = None) -> int:
            return sum(amount_of(x) or 0 for x in city_wide if only is None or stage(x) == only)

        rows.append(RealisationRow(
            kode=rkpd_rules.CITY_WIDE, nama="", planned=whole(lambda x: x.pagu), budgeted=whole(amount("budgeted")),
            spent=whole(amount("spent")), finished=whole(lambda x: x.pagu, "selesai"), lines=len(city_wide),
            finished_lines=sum(1 for x in city_wide if stage(x) == "selesai"),
            dropped_lines=sum(1 for x in city_wide if stage(x) == "batal"),
        ))  # fmt: skip
    return published, rows


def _number(value: Decimal) -> str:
    return format(value, "f").replace(".", ",")


# --- lineage ----------------------------------------------------------------------------------------


@dataclasses.dataclass
class StepView:
    s: lineage_views.Step
    d: dict[str, Any]
    is_forum = False

    @property
    def short(self) -> str:
        return self.s.hash[:12]

    @property
    def at(self) -> dt.datetime:
        return dt.datetime.fromisoformat(self.s.at)


@dataclasses.dataclass
class ForumBlock:
    """One forum's steps for one proposal: on the agenda, adjusted, voted or scored, decided."""

    forum_id: str
    is_forum = True
    opened: StepView | None = None
    adjustments: list[StepView] = dataclasses.field(default_factory=list)
    ballots: list[StepView] = dataclasses.field(default_factory=list)
    sheets: list[StepView] = dataclasses.field(default_factory=list)
    closed: StepView | None = None

    @property
    def info(self) -> dict[str, Any]:
        return self.opened.d if self.opened else {"forum_id": self.forum_id}

    @property
    def individual(self) -> list[StepView]:
        return sorted(self.ballots + self.sheets, key=lambda v: v.s.position)

    @property
    def votes(self) -> dict[str, Any]:
        """Ballots summarised: each delegate's latest ballot counts (a later one replaces an earlier one)."""
        latest: dict[str, dict[str, Any]] = {}
        for v in self.ballots:
            latest[v.d["delegate_id"]] = v.d
        approvals = sum(1 for d in latest.values() if d.get("approved"))
        points = [d["points"] for d in latest.values() if "points" in d]
        positions = [d["position"] for d in latest.values() if "position" in d]
        if self.closed and approvals and not points and not positions and "/" not in self.closed.d["score"]:
            approvals = int(self.closed.d["score"])  # the forum's own count: ballots replaced without this item
        return {"approvals": approvals, "points": sum(points), "point_givers": len(points),
                "positions": len(positions),
                "average_position": _average(positions) if positions else None}  # fmt: skip

    @property
    def marks(self) -> dict[str, Any]:
        """Score sheets summarised: the latest of each sheet, the average mark per criterion."""
        latest: dict[str, dict[str, int]] = {}
        for v in self.sheets:
            latest[v.d["sheet"]] = v.d["marks"]
        per: dict[str, list[int]] = {}
        for marks in latest.values():
            for key, mark in marks.items():
                per.setdefault(key, []).append(mark)
        return {"sheets": len(latest), "criteria": {k: _average(v) for k, v in per.items()},
                "overall": _average([m for v in per.values() for m in v]) if per else None}  # fmt: skip


def _average(values: list[int]) -> str:
    return fraction_text(Fraction(sum(values), len(values)))


@dataclasses.dataclass
class Node:
    """A proposal in the tree: its own steps, and the proposals merged into it as branches."""

    p: ProposalNode
    entries: list[StepView | ForumBlock]
    branches: list[Node]


def _detail(step: lineage_views.Step) -> dict[str, Any]:
    return msgspec.json.decode(step.detail)


def _entries(steps: list[StepView], skip_line: str | None) -> list[StepView | ForumBlock]:
    out: list[StepView | ForumBlock] = []
    forums: dict[str, ForumBlock] = {}
    for v in steps:
        kind = v.s.kind
        if kind in FORUM_KINDS and "forum_id" in v.d:
            block = forums.get(v.d["forum_id"])
            if block is None:
                block = forums[v.d["forum_id"]] = ForumBlock(v.d["forum_id"])
                out.append(block)
            match kind:
                case "forum.opened":
                    block.opened = v
                case "forum.item_adjusted":
                    block.adjustments.append(v)
                case "forum.ballot_cast":
                    block.ballots.append(v)
                case "forum.scores_given":
                    block.sheets.append(v)
                case "forum.closed":
                    block.closed = v
            continue
        if skip_line is not None and kind in LINE_KINDS and (kind == "rkpd.enacted" or _line_id(v) == skip_line) \
                and not v.d.get("removed"):  # fmt: skip
            continue  # shown once, on the line itself
        out.append(v)
    return out


def _line_id(v: StepView) -> str | None:
    return v.d["line"]["line_id"] if "line" in v.d else v.d.get("line_id")


def tree(lineage: LineageOut, roots: list[str], skip_line: str | None = None) -> list[Node]:
    by_subject: dict[str, list[StepView]] = {}
    for s in lineage.steps:
        by_subject.setdefault(s.subject, []).append(StepView(s, _detail(s)))
    nodes = {p.code: p for p in lineage.proposals}
    children: dict[str, list[str]] = {}
    for p in lineage.proposals:
        if p.merged_into and p.merged_into in nodes:
            children.setdefault(p.merged_into, []).append(p.code)

    def build(code: str, depth: int) -> Node:
        below = [build(c, depth + 1) for c in children.get(code, [])] if depth < 50 else []
        return Node(nodes[code], _entries(by_subject.get(code, []), skip_line), below)

    return [build(code, 0) for code in roots if code in nodes]


def _flatten(nodes: list[Node]) -> list[Node]:
    return [x for n in nodes for x in (n, *_flatten(n.branches))]


def _blocks(node: Node) -> list[ForumBlock]:
    return [e for e in node.entries if isinstance(e, ForumBlock)]


def _steps(node: Node, kind: str) -> list[StepView]:
    return [e for e in node.entries if isinstance(e, StepView) and e.s.kind == kind]


def selected_at(node: Node) -> list[ForumBlock]:
    return [b for b in _blocks(node) if b.closed and b.closed.d["selected"]]


def proposal_outcome(lineage: LineageOut, trunk: Node) -> dict[str, Any]:
    """What happened to the surviving proposal, and the step that decided it."""
    p = trunk.p
    if p.status == "masuk_rkpd":
        sets = [v for v in _steps(trunk, "rkpd.line_set") if not v.d.get("removed")]
        line = sets[-1] if sets else None
        adopted = [v for v in _steps(trunk, "rkpd.adopted") if line and v.d["line_id"] == line.d["line"]["line_id"]]
        done = _steps(trunk, "rkpd.milestone_recorded")
        return {"kind": "in_rkpd", "line": line, "adopted": adopted[-1] if adopted else None,
                "forums": selected_at(trunk), "milestone": done[-1] if done else None}  # fmt: skip
    if p.status == "ditolak":
        rejected = _steps(trunk, "proposal.rejected")
        return {"kind": "rejected", "reason": p.status_reason, "step": rejected[-1] if rejected else None}
    if p.status == "tidak_terakomodasi":
        candidates: list[tuple[int, dict[str, Any]]] = [
            (b.closed.s.position, {"kind": "forum_out", "forum": b})
            for b in _blocks(trunk) if b.closed and not b.closed.d["selected"]
        ]  # fmt: skip
        candidates += [(v.s.position, {"kind": "declined", "step": v}) for v in _steps(trunk, "rkpd.proposal_declined")]
        if candidates:
            return max(candidates, key=lambda c: c[0])[1]
        return {"kind": "pending", "reason": p.status_reason}
    if p.status == "dikembalikan":
        return {"kind": "returned", "reason": p.status_reason}
    if p.status == "tidak_diproses":  # short of any outcome when its year's RKPD was adopted: why, by its reason
        return {"kind": "unprocessed", "reason": p.status_reason}
    return {"kind": "pending", "reason": p.status_reason, "forums": selected_at(trunk)}


def line_outcome(trunk_steps: list[StepView]) -> dict[str, Any]:
    sets = [v for v in trunk_steps if v.s.kind == "rkpd.line_set"]
    withdrawn = [v for v in trunk_steps if v.s.kind == "rkpd.line_withdrawn"]
    adopted = [v for v in trunk_steps if v.s.kind == "rkpd.adopted"]
    last = trunk_steps[-1] if trunk_steps else None
    state = "rancangan"
    if last is not None and last.s.kind == "rkpd.line_withdrawn":
        state = "ditarik"
    elif adopted and sets and adopted[-1].s.position > sets[-1].s.position:
        state = "ditetapkan"
    elif adopted:
        state = "diubah"
    done = [v for v in trunk_steps if v.s.kind == "rkpd.milestone_recorded"]
    return {"state": state, "line": sets[-1] if sets else None, "withdrawn": withdrawn[-1] if withdrawn else None,
            "adopted": adopted[-1] if adopted else None, "milestone": done[-1] if done else None}  # fmt: skip


async def _places(conn: asyncpg.Connection) -> dict[str, str]:
    return await region_names(conn)


LINEAGE_MODELS = ("lineage", "proposals", "city")
"""What a lineage page reads (regions are reference data). Its rendering (tens of steps through the
template) cost two to three times a `/health`; cached by these models' checkpoints, a page is rendered
again after any event they handle, in the cache of per-item pages (`page_cache.items_of`)."""


class LineagePages(Controller):
    """Public: the path from a proposal to where it ended, and what is behind a line, are an open record, so no
    guard."""

    path = "/telusur"
    include_in_schema = False

    @get("/usulan/{code:str}", dependencies=FROM_REPLICA)
    async def proposal_lineage_page(self, request: Request, pool: PoolDep, code: FromPath[str]) -> Response:
        canonical = code_or_404(code)
        if canonical != code:
            return Redirect(f"/telusur/usulan/{canonical}", status_code=301)

        async def context_on(conn: asyncpg.Connection) -> dict[str, Any]:
            lineage = await proposal_lineage_on(conn, code)
            root = lineage.root or code
            nodes = tree(lineage, [root])
            if not nodes:
                raise NotFoundException()
            trunk = nodes[0]
            subject = next(n for n in _flatten(nodes) if n.p.code == code)
            other_years = [(y, tree(lineage, [y.code])) for y in lineage.years if y.code not in (code, root)]
            return {"lineage": lineage, "nodes": nodes, "trunk": trunk, "subject": subject,
                    "outcome": proposal_outcome(lineage, trunk), "line": None, "other_years": other_years}  # fmt: skip

        return await _lineage_page(request, pool, context_on)

    @get("/rkpd/{year:int}/{line_id:str}", dependencies=FROM_REPLICA)
    async def line_lineage_page(self, request: Request, pool: PoolDep, year: Year, line_id: FromPath[str]) -> Response:
        async def context_on(conn: asyncpg.Connection) -> dict[str, Any]:
            lineage = await line_lineage_on(conn, year, line_id)
            subject = lineage_views.line_subject(year, line_id)
            trunk_steps = [StepView(s, _detail(s)) for s in lineage.steps if s.subject == subject]
            outcome = line_outcome(trunk_steps)
            origins = list(outcome["line"].d["line"]["origins"]) if outcome["line"] else []
            nodes = tree(lineage, origins, skip_line=line_id)
            return {"lineage": lineage, "nodes": nodes, "trunk": None, "subject": None, "outcome": None,
                    "line": {"year": year, "line_id": line_id, "steps": trunk_steps, **outcome}, "other_years": []}

        return await _lineage_page(request, pool, context_on)


async def _lineage_page(request: Request, pool: asyncpg.Pool,
                        context_on: Callable[[asyncpg.Connection], Awaitable[dict[str, Any]]]) -> Response:  # fmt: skip
    """A lineage page from what `context_on` reads, with the city and place names read in the same
    snapshot, cached by LINEAGE_MODELS' checkpoints among the per-item pages."""

    async def render_on(conn: asyncpg.Connection) -> bytes:
        context = await context_on(conn)
        return rendered(request, "lineage.html", page_context(
            request, city=await city_views.settings(conn), places=await _places(conn), **context, **_labels(),
            agency_name=await city_views.agency_names(conn),  # each step by the names of its day
        ))  # fmt: skip

    return await page_cache.by_checkpoints(request, pool, "lineage.html", LINEAGE_MODELS, render_on,
                                           cache=page_cache.items_of(request))  # fmt: skip
