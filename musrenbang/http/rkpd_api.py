"""The RKPD list and lineage as JSON (public, no personal data), and the city-level staff API: Bappeda
takes up the kecamatan results and adopts the RKPD; agencies pass, decline and map proposals into lines.

`rkpd_out` and `lineage_of_*` are shared with the pages and the CSV/XLSX exports, so every form of the
list says the same thing.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import asyncpg
import msgspec
from litestar import Controller, Request, Response, get, post, put
from litestar.exceptions import NotFoundException
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromPath, JSONBody
from litestar.serialization import encode_json

from musrenbang.domain import bounds, realisation
from musrenbang.domain import city_forums as city_forums_rules
from musrenbang.domain import rkpd as rules
from musrenbang.domain.access import require_role
from musrenbang.domain.city import City
from musrenbang.domain.events import RkpdLine
from musrenbang.domain.values import kecamatan_of
from musrenbang.eventlog.store import AppendResult
from musrenbang.http import page_cache
from musrenbang.http.deps import ActorDep, PoolDep, RkpdDep, RunnerDep, Year
from musrenbang.http.errors import code_or_404
from musrenbang.http.idempotency import OptionalKey, keyed
from musrenbang.http.reads import FROM_REPLICA
from musrenbang.projections import cycles
from musrenbang.projections import lineage as lineage_views
from musrenbang.projections import proposals as proposal_views
from musrenbang.projections import rkpd as rkpd_views
from musrenbang.projections.runner import ProjectionRunner
from musrenbang.reference import region_names
from musrenbang.services import cycles as cycle_service
from musrenbang.services.rkpd import acting_agency

Text = Annotated[str, msgspec.Meta(max_length=500)]
Reason = Annotated[str, msgspec.Meta(max_length=1000)]
CITY_PROJECTIONS = ("rkpd", "proposals", "lineage")
ADOPTION_PROJECTIONS = (*CITY_PROJECTIONS, "cycles")
"""An adoption marks its cycle ditetapkan in the same transaction (services/rkpd.py), and the pages that pick a
year for the staff (`cycles.years_at_work`) or show a cycle's stage read that from `cycles`: the answer waits
for it too, or the page after an adoption may still offer the year as the one at work."""


# --- the list ---------------------------------------------------------------------------------------


class OriginOut(msgspec.Struct, frozen=True, kw_only=True):
    """A resident's proposal a line comes from (public fields), with the duplicates merged into it."""

    code: str
    title: str
    kelurahan: str
    rw: int | None
    kind: str
    source: str
    """Who proposed it, as the proposal says (`warga`, `opd`, or `pokir`: a DPRD member's pokok-pikiran, the
    one that did not come through the forums)."""
    bidang: str
    estimated_cost: int
    beneficiaries: int
    merged: list[str]


class PlaceOut(msgspec.Struct, frozen=True):
    kode: str
    nama: str


class MilestoneOut(msgspec.Struct, frozen=True, kw_only=True):
    """What happened to a line after adoption (`stage`: kua_ppas, apbd, dpa, kontrak, pelaksanaan, selesai,
    batal), on which day, for how much, how far, and the photos of the work (`/photos/{id}`)."""

    stage: str
    date: dt.date
    amount: int | None
    progress: int | None
    note: str
    contractor: str | None
    ends: dt.date | None
    photos: list[str]


class RkpdItemOut(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    no: int
    priority_program: int
    priority_program_title: str
    agency: str
    agency_name: str
    program: str
    kegiatan: str
    sub_kegiatan: str
    sub_kegiatan_code: str
    nomenclature: str
    output_indicator: str
    target: str
    target_unit: str
    locations: list[PlaceOut]
    kecamatan: list[PlaceOut]
    volume: str
    unit: str
    pagu: int
    funding_source: str
    origins: list[OriginOut]
    renja_reason: str = ""
    """A line from the agency's own work plan (Renja), with no resident origin: why it is there."""
    stage: str = realisation.ADOPTED
    """`rancangan` (the list is a draft), `rkpd` (adopted, nothing since) or the latest milestone's stage."""
    budgeted: int | None = None
    """The amount the APBD (or the DPA after it) budgeted; None until then."""
    progress: int = 0
    """Percent of the work done (100 once finished)."""
    spent: int | None = None
    """The latest amount reported spent."""
    milestones: list[MilestoneOut] = []


class HeadOut(msgspec.Struct, frozen=True, kw_only=True):
    """The log event the adopted list was frozen in: anyone can check it with `/periksa/{hash}`."""

    stream: str
    version: int
    position: int
    hash: str
    adopted_at: dt.datetime
    """When the adoption was recorded in the log."""
    adopted_on: dt.date | None = None
    """The day the Musrenbang Kota adopted it (None for adoptions recorded before the day was kept)."""


class EnactmentOut(msgspec.Struct, frozen=True, kw_only=True):
    """The Peraturan Wali Kota/Bupati setting the list: which adopted revision, and the SHA-256 of that
    list's canonical JSON (anyone can recompute it from the adoption event)."""

    regulation: str
    date: dt.date
    revision: int
    list_hash: str
    amendment: bool


class RkpdOut(msgspec.Struct, frozen=True, kw_only=True):
    year: int
    status: str
    """`ditetapkan` (adopted; `revision` says which adoption) or `rancangan` (draft, nothing adopted yet)."""
    revision: int
    changed_since_adoption: bool
    head: HeadOut | None
    total_pagu: int
    items: list[RkpdItemOut]
    enactment: EnactmentOut | None = None
    """The latest enactment; its `revision` is older than `revision` while an amendment awaits its own."""


async def rkpd_out(pool: asyncpg.Pool, year: int) -> RkpdOut:
    async with pool.acquire() as conn:
        return await rkpd_out_on(conn, year)


async def rkpd_out_on(conn: asyncpg.Connection, year: int, city: City | None = None) -> RkpdOut:
    """The list of `year` read on `conn` (in the caller's transaction, if it has one); `city`: the settings
    already read there."""
    programs = {r["number"]: r["title"] for r in await cycles.priority_programs(conn, year)}
    if not programs:
        raise NotFoundException()
    published = await rkpd_views.published(conn, year)
    codes = [c for line in published.lines for c in line.origins]
    origins = await _origins(conn, codes)
    places = await region_names(conn)
    city = await rkpd_views.settings_of(conn, published, city)
    after = _After(await rkpd_views.progress(conn, year), await rkpd_views.milestones(conn, year)) \
        if published.revision else _After({}, [], draft=True)  # fmt: skip
    ordered = sorted(published.lines, key=lambda line: _order(line, city))
    items = [_item(n, line, programs, origins, places, city, after) for n, line in enumerate(ordered, start=1)]
    a = published.adoption
    head = (
        HeadOut(
            stream=a["stream_id"],
            version=a["stream_version"],
            position=a["position"],
            hash=a["hash"].hex(),
            adopted_at=a["adopted_at"],
            adopted_on=a["adopted_on"],
        )  # fmt: skip
        if a is not None
        else None
    )
    en = published.enactment
    enactment = EnactmentOut(regulation=en["regulation"], date=en["enacted_on"], revision=en["revision"],
                             list_hash=en["list_hash"], amendment=en["amendment"]) if en else None  # fmt: skip
    return RkpdOut(year=year, status="ditetapkan" if a is not None else "rancangan", revision=published.revision,
                   changed_since_adoption=published.changed_since_adoption, head=head,
                   total_pagu=sum(i.pagu for i in items), items=items, enactment=enactment)  # fmt: skip


def _order(line: RkpdLine, city: City) -> tuple[int, str, str, str]:
    """The RKPD list's order: by priority program, then agency, then program code, then line."""
    return (line.priority_program, city.agency_name(line.agency), line.sub_kegiatan_code, line.line_id)


class _After:
    """What happened to a year's lines after adoption, by line (rkpd_views.progress and .milestones)."""

    def __init__(self, progress: dict[str, asyncpg.Record], milestones: list[asyncpg.Record], *,
                 draft: bool = False) -> None:  # fmt: skip
        self.progress, self.draft = progress, draft
        self.milestones: dict[str, list[MilestoneOut]] = {}
        for m in milestones:
            self.milestones.setdefault(m["line_id"], []).append(MilestoneOut(
                stage=m["stage"], date=m["on_date"], amount=m["amount"], progress=m["progress"], note=m["note"],
                contractor=m["contractor"], ends=m["ends"], photos=msgspec.json.decode(m["photos"])))  # fmt: skip


def _item(n: int, line: RkpdLine, programs: dict[int, str], origins: dict[str, OriginOut],
          places: dict[str, str], city: City, after: _After) -> RkpdItemOut:  # fmt: skip
    kecamatan = sorted({kecamatan_of(k) for k in line.locations})
    now = after.progress.get(line.line_id)
    return RkpdItemOut(
        id=line.line_id, no=n, priority_program=line.priority_program,
        priority_program_title=programs.get(line.priority_program, ""), agency=line.agency,
        agency_name=city.agency_name(line.agency), program=line.program, kegiatan=line.kegiatan,
        sub_kegiatan=line.sub_kegiatan, sub_kegiatan_code=line.sub_kegiatan_code, nomenclature=line.nomenclature,
        output_indicator=line.output_indicator, target=line.target, target_unit=line.target_unit,
        locations=[PlaceOut(k, places.get(k, k)) for k in line.locations],
        kecamatan=[PlaceOut(k, places.get(k, k)) for k in kecamatan], volume=line.volume, unit=line.unit,
        pagu=line.pagu, funding_source=line.funding_source, origins=[origins[c] for c in line.origins if c in origins],
        renja_reason=line.renja_reason,
        stage=now["stage"] if now else ("rancangan" if after.draft else realisation.ADOPTED),
        budgeted=now["budgeted"] if now else None,
        progress=now["progress"] if now else 0, spent=now["spent"] if now else None,
        milestones=after.milestones.get(line.line_id, []),
    )  # fmt: skip


async def _origins(conn: asyncpg.Connection, codes: list[str]) -> dict[str, OriginOut]:
    rows = await conn.fetch(
        "SELECT code, title, kelurahan, rw, kind, source, bidang, estimated_cost, beneficiaries, merged_from"
        " FROM proposals WHERE code = ANY($1::text[])",
        codes,
    )
    return {
        r["code"]: OriginOut(
            code=r["code"],
            title=r["title"],
            kelurahan=r["kelurahan"],
            rw=r["rw"],
            kind=r["kind"],
            source=r["source"],
            bidang=r["bidang"],
            estimated_cost=r["estimated_cost"],
            beneficiaries=r["beneficiaries"],
            merged=sorted(r["merged_from"]),
        )  # fmt: skip
        for r in rows
    }


class WorkingLineOut(msgspec.Struct, frozen=True, kw_only=True):
    version: str
    """Send it back as `seen` with `PUT /api/v1/rkpd/{year}/lines/{line_id}`."""
    line: RkpdLine


class WorkingOut(msgspec.Struct, frozen=True, kw_only=True):
    year: int
    agency: str | None
    """The agency whose lines these are (an agency's account reads its own); null: the whole city's."""
    list_version: str | None
    """The whole working list's version (Bappeda, auditors; null for an agency): send it back as `seen` to
    adopt or to close a city forum, so that neither freezes a list changed since it was reviewed."""
    lines: list[WorkingLineOut]
    declined: dict[str, str]
    """The proposals agencies declined, code → reason."""


class RkpdListApi(Controller):
    """The year's list: the published one is an open record, for anyone; the working one is the staff's, its
    role checked in the handler (`require_role`), so no guard."""

    path = "/api/v1/rkpd/{year:int}"
    tags = ["rkpd"]

    @get("/", summary="The RKPD priority list, each line with its origin proposals",
         responses={200: ResponseSpec(data_container=RkpdOut, description="The list (with an ETag: send it back in"
                                      " If-None-Match, and an unchanged list is 304)")},
         dependencies=FROM_REPLICA)  # fmt: skip
    async def rkpd_list(self, request: Request, pool: PoolDep, year: Year) -> Response:
        """Served from the bytes cached by the read model's state (http/page_cache.py): the same JSON as
        encoding `rkpd_out` each time."""
        async with pool.acquire() as conn:
            version = await rkpd_views.list_version(conn, year)
        if version.programs is None:
            raise NotFoundException()

        async def render() -> tuple[tuple[object, ...], bytes]:
            async with pool.acquire() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
                read_at = await rkpd_views.list_version(conn, year)
                return list_key("json", year, read_at), encode_json(await rkpd_out_on(conn, year))

        return await page_cache.cached(request, list_key("json", year, version), render, "application/json")

    @get("/working", summary="The working RKPD list as the agencies have it now (staff), with the versions a"
         " decision sends back as `seen`")  # fmt: skip
    async def working(self, pool: PoolDep, year: Year, actor: ActorDep) -> WorkingOut:
        """Read on the primary, in one snapshot: it is what the next decision is checked against."""
        require_role(actor, "admin", "auditor", "opd")
        agency = acting_agency(actor) if actor.role == "opd" else None
        async with pool.acquire() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
            if not await cycles.priority_programs(conn, year):
                raise NotFoundException()
            lines = await rkpd_views.working_lines(conn, year, agency)
            declined = await rkpd_views.declined(conn, year, agency)
        whole = None if agency else city_forums_rules.list_version(lines, declined)
        return WorkingOut(year=year, agency=agency, list_version=whole, declined=declined,
                          lines=[WorkingLineOut(version=rules.line_version(line), line=line) for line in lines])


def list_key(kind: str, year: int, version: rkpd_views.ListVersion) -> tuple[object, ...]:
    """What the list as JSON, CSV or XLSX (`kind`) depends on: not the language, nor the seal."""
    return (f"rkpd.{kind}", year, version.rkpd, version.programs, version.city, version.tables)


# --- lineage ----------------------------------------------------------------------------------------


class ProposalNode(msgspec.Struct, frozen=True, kw_only=True):
    code: str
    title: str
    kelurahan: str
    rw: int | None
    bidang: str
    estimated_cost: int
    status: str
    status_reason: str | None
    merged_into: str | None


class LineRef(msgspec.Struct, frozen=True):
    year: int
    line_id: str


class LineageOut(msgspec.Struct, frozen=True, kw_only=True):
    """Every step of the path, in log order. `subject` of a step is a proposal code or
    `rkpd/{year}/{line_id}`; `proposals` are the nodes (a merge joins branches), `lines` where it ended."""

    subject: str
    root: str | None
    proposals: list[ProposalNode]
    lines: list[LineRef]
    steps: list[lineage_views.Step]
    years: list[YearOut] = []
    """A need proposed in several years: each year's proposal and where it ended, oldest first; the
    nodes and steps above cover all of them."""


class YearOut(msgspec.Struct, frozen=True):
    year: int
    code: str
    outcome: str


def _node(r: asyncpg.Record) -> ProposalNode:
    return ProposalNode(code=r["code"], title=r["title"], kelurahan=r["kelurahan"], rw=r["rw"], bidang=r["bidang"],
                        estimated_cost=r["estimated_cost"], status=r["status"], status_reason=r["status_reason"],
                        merged_into=r["merged_into"])  # fmt: skip


async def lineage_of_proposal(pool: asyncpg.Pool, code: str) -> LineageOut:
    """Two round trips: the graph (root, family, lines), then the steps of every subject in it. A
    projection batch committing in between can only add steps after the graph was read."""
    async with pool.acquire() as conn:
        return await proposal_lineage_on(conn, code)


async def proposal_lineage_on(conn: asyncpg.Connection, code: str) -> LineageOut:
    """`lineage_of_proposal` on a connection the caller holds (in a snapshot of its choosing)."""
    code = code_or_404(code)
    rows = await lineage_views.proposal_graph(conn, code)
    if not rows:
        raise NotFoundException()
    root = rows[0]["root"]
    chain = await proposal_views.history(conn, code)
    lines = _lines(rows)
    for other in (y["code"] for y in chain if y["code"] != code):  # the need's other years
        more = await lineage_views.proposal_graph(conn, other)
        rows += [r for r in more if r["code"] not in {x["code"] for x in rows}]
        lines += [x for x in _lines(more) if x not in lines]
    subjects = [r["code"] for r in rows] + [lineage_views.line_subject(x.year, x.line_id) for x in lines]
    return LineageOut(subject=code, root=root, proposals=[_node(r) for r in rows], lines=lines,
                      steps=await lineage_views.steps(conn, subjects),
                      years=[YearOut(y["year"], y["code"], y["outcome"]) for y in chain])  # fmt: skip


def _lines(rows: list[asyncpg.Record]) -> list[LineRef]:
    return [LineRef(int(year), line_id) for year, line_id in (x.split("/", 1) for x in rows[0]["lines"])]


async def lineage_of_line(pool: asyncpg.Pool, year: int, line_id: str) -> LineageOut:
    async with pool.acquire() as conn:
        return await line_lineage_on(conn, year, line_id)


async def line_lineage_on(conn: asyncpg.Connection, year: int, line_id: str) -> LineageOut:
    """`lineage_of_line` on a connection the caller holds (in a snapshot of its choosing)."""
    rows = await lineage_views.line_graph(conn, year, line_id)
    if not rows and not await lineage_views.line_exists(conn, year, line_id):
        raise NotFoundException()
    subject = lineage_views.line_subject(year, line_id)
    return LineageOut(subject=subject, root=None, proposals=[_node(r) for r in rows],
                      lines=[LineRef(year, line_id)],
                      steps=await lineage_views.steps(conn, [subject, *(r["code"] for r in rows)]))  # fmt: skip


class LineageApi(Controller):
    """Public: why a proposal ended where it did, and what is behind a line, are an open record, so no guard."""

    path = "/api/v1"
    tags = ["rkpd"]

    @get("/lineage/{code:str}", summary="Every step from a proposal to where it ended, with log hashes",
         dependencies=FROM_REPLICA)  # fmt: skip
    async def proposal_lineage(self, pool: PoolDep, code: FromPath[str]) -> LineageOut:
        return await lineage_of_proposal(pool, code)

    @get("/rkpd/{year:int}/items/{item_id:str}/lineage", summary="Every step behind one RKPD line",
         dependencies=FROM_REPLICA)  # fmt: skip
    async def line_lineage(self, pool: PoolDep, year: Year, item_id: FromPath[str]) -> LineageOut:
        return await lineage_of_line(pool, year, item_id)


# --- staff: Forum Perangkat Daerah and Musrenbang Kota ---------------------------------------------------


class ReasonIn(msgspec.Struct, forbid_unknown_fields=True):
    reason: Reason


class PassIn(msgspec.Struct, forbid_unknown_fields=True):
    to_agency: Annotated[str, msgspec.Meta(max_length=40)]
    reason: Reason


class LineIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """An RKPD line as an agency enters it (`agency` defaults to the account's own)."""

    agency: Annotated[str, msgspec.Meta(max_length=40)] | None = None
    origins: Annotated[list[Annotated[str, msgspec.Meta(max_length=12)]], msgspec.Meta(max_length=200,
        description="The proposals the line comes from; empty only with `renja_reason`")]  # fmt: skip
    renja_reason: Annotated[str, msgspec.Meta(max_length=1000, description="For an agency's own plan (Renja) with"
                            " no resident origin: why (strategic plan, minimum service standard, continuation)")] = ""
    locations: Annotated[list[Annotated[str, msgspec.Meta(max_length=20)]], msgspec.Meta(max_length=200,
        description="For a Renja line: the kelurahan/desa codes it serves (none: city-wide)")] = []  # fmt: skip
    priority_program: Annotated[int, msgspec.Meta(ge=-(2**31), le=2**31 - 1)]
    sub_kegiatan_code: Annotated[str, msgspec.Meta(max_length=40)]
    nomenclature: Text = rules.DEFAULT_NOMENCLATURE
    program: Text
    kegiatan: Text
    sub_kegiatan: Text
    funding_source: Annotated[str, msgspec.Meta(max_length=40,
                                                description="apbd_kota | apbd_provinsi | apbn | dana_kelurahan |"
                                                " dana_desa (only in a region with desa)")]
    volume: Annotated[str, msgspec.Meta(max_length=30)]
    unit: Annotated[str, msgspec.Meta(max_length=60)]
    pagu: Annotated[int, msgspec.Meta(ge=-bounds.MAX_RUPIAH, le=bounds.MAX_RUPIAH, description="Whole rupiah")]
    output_indicator: Text
    target: Annotated[str, msgspec.Meta(max_length=30)]
    target_unit: Annotated[str, msgspec.Meta(max_length=60)]
    reason: Reason = ""


Seen = Annotated[str, msgspec.Meta(max_length=64, description=(
    "The version the client last read (`GET /api/v1/rkpd/{year}/working`); when given, the decision is refused"
    " with 409 if what it covers changed since. Empty: not checked."))]


class RevisedLineIn(LineIn, forbid_unknown_fields=True, kw_only=True):
    seen: Seen = ""
    """The line's `version` as the client read it: a revision made meanwhile is not silently undone."""


ConfirmOverPagu = Annotated[bool, msgspec.Meta(description=(
    "Adopt although the lines put some kecamatan over its pagu indikatif. Without it such an adoption is refused"
    " (422, errors.confirm_over_pagu naming each kecamatan and by how much), and nothing is recorded"))]


class AdoptIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    note: Reason = ""
    seen: Seen = ""
    """The working list's `list_version` as the client reviewed it."""
    confirm_over_pagu: ConfirmOverPagu = False


class EnactmentIn(msgspec.Struct, forbid_unknown_fields=True):
    regulation: Annotated[str, msgspec.Meta(max_length=200,
                                            examples=["Peraturan Wali Kota Bekasi Nomor 30 Tahun 2021"])]
    date: dt.date


class DoneOut(msgspec.Struct, frozen=True, kw_only=True):
    stream: str
    position: int
    line_id: str | None = None


async def _done(runner: ProjectionRunner, result: AppendResult, line_id: str | None = None,
                projections: tuple[str, ...] = CITY_PROJECTIONS) -> DoneOut:  # fmt: skip
    await runner.wait_until_applied(list(projections), result.last)
    return DoneOut(stream=next(iter(result.heads)), position=result.last.position, line_id=line_id)


def line_command(data: LineIn, line_id: str | None, by_agency: str | None, programs: int) -> rules.SetLine:
    fields = msgspec.structs.asdict(data)
    reason = fields.pop("reason")
    seen = fields.pop("seen", "")
    fields["agency"] = data.agency or by_agency or ""
    fields["origins"] = tuple(code_or_404(c) for c in data.origins)
    fields["locations"] = tuple(data.locations)
    return rules.SetLine(line=rules.LineInput(line_id=line_id, **fields), priority_programs=programs,
                         reason=reason, by_agency=by_agency, seen=seen)  # fmt: skip


class RkpdStaffApi(Controller):
    """The commands of Bappeda (`admin`) and the agencies (`opd`). Each handler checks the role itself
    (`require_role`, `acting_agency`), so no guard (http/guards.py: a guard would answer before the path's year
    and the body are read)."""

    path = "/api/v1/rkpd/{year:int}"
    tags = ["rkpd"]

    @post("/receive", summary="Take up what the kecamatan forums forwarded (Bappeda)", status_code=200)
    async def receive(self, request: Request, year: Year, actor: ActorDep, rkpd: RkpdDep, runner: RunnerDep,
                      idempotency_key: OptionalKey = None) -> DoneOut:  # fmt: skip
        require_role(actor, "admin")
        key, meta = keyed(request, actor, idempotency_key)
        return await _done(runner, await rkpd.receive(year, meta, key))

    @post("/proposals/{code:str}/pass", summary="Pass a proposal to another agency", status_code=200)
    async def pass_proposal(self, request: Request, year: Year, code: FromPath[str], data: JSONBody[PassIn],
                            actor: ActorDep, rkpd: RkpdDep, runner: RunnerDep,
                            idempotency_key: OptionalKey = None) -> DoneOut:  # fmt: skip
        command = rules.PassProposal(code=code_or_404(code), to_agency=data.to_agency, reason=data.reason,
                                     by_agency=acting_agency(actor))  # fmt: skip
        key, meta = keyed(request, actor, idempotency_key, data)
        return await _done(runner, await rkpd.execute(year, command, meta, key))

    @post("/proposals/{code:str}/decline", summary="Declare a proposal not accommodated, with the reason",
          status_code=200)  # fmt: skip
    async def decline_proposal(self, request: Request, year: Year, code: FromPath[str], data: JSONBody[ReasonIn],
                               actor: ActorDep, rkpd: RkpdDep, runner: RunnerDep,
                               idempotency_key: OptionalKey = None) -> DoneOut:  # fmt: skip
        command = rules.DeclineProposal(code=code_or_404(code), reason=data.reason, by_agency=acting_agency(actor))
        key, meta = keyed(request, actor, idempotency_key, data)
        return await _done(runner, await rkpd.execute(year, command, meta, key))

    @post("/lines", summary="Add an RKPD line from one or more proposals", status_code=201)
    async def add_line(self, request: Request, year: Year, data: JSONBody[LineIn], actor: ActorDep, rkpd: RkpdDep,
                       runner: RunnerDep, idempotency_key: OptionalKey = None) -> DoneOut:  # fmt: skip
        by_agency = acting_agency(actor)
        command = line_command(data, None, by_agency, await rkpd.priority_programs(year))
        key, meta = keyed(request, actor, idempotency_key, data)
        result = await rkpd.execute(year, command, meta, key)
        return await _done(runner, result, await rkpd.line_id_at(result))

    @put("/lines/{line_id:str}", summary="Revise an RKPD line (restated whole)", status_code=200)
    async def revise_line(self, request: Request, year: Year, line_id: FromPath[str], data: JSONBody[RevisedLineIn],
                          actor: ActorDep, rkpd: RkpdDep, runner: RunnerDep, idempotency_key: OptionalKey = None
                          ) -> DoneOut:  # fmt: skip
        by_agency = acting_agency(actor)
        command = line_command(data, line_id, by_agency, await rkpd.priority_programs(year))
        key, meta = keyed(request, actor, idempotency_key, data)
        return await _done(runner, await rkpd.execute(year, command, meta, key), line_id)

    @post("/lines/{line_id:str}/withdraw", summary="Take a line out of the RKPD", status_code=200)
    async def withdraw_line(self, request: Request, year: Year, line_id: FromPath[str], data: JSONBody[ReasonIn],
                            actor: ActorDep, rkpd: RkpdDep, runner: RunnerDep,
                            idempotency_key: OptionalKey = None) -> DoneOut:  # fmt: skip
        command = rules.WithdrawLine(line_id=line_id, reason=data.reason, by_agency=acting_agency(actor))
        key, meta = keyed(request, actor, idempotency_key, data)
        return await _done(runner, await rkpd.execute(year, command, meta, key), line_id)

    @post("/adopt", summary="Adopt the RKPD (Musrenbang Kota, Bappeda)", status_code=200)
    async def adopt(self, request: Request, year: Year, data: JSONBody[AdoptIn], actor: ActorDep, rkpd: RkpdDep,
                    runner: RunnerDep, idempotency_key: OptionalKey = None) -> DoneOut:  # fmt: skip
        require_role(actor, "admin")
        key, meta = keyed(request, actor, idempotency_key, data)
        command = rules.Adopt(year=year, note=data.note, seen=data.seen, confirm_over_pagu=data.confirm_over_pagu)
        result = await rkpd.execute(year, command, meta, key)
        return await _done(runner, result, projections=ADOPTION_PROJECTIONS)

    @post("/enactment", summary="Record the regulation that sets the adopted RKPD (Bappeda)", status_code=201)
    async def enact(self, request: Request, year: Year, data: JSONBody[EnactmentIn], actor: ActorDep, rkpd: RkpdDep,
                    runner: RunnerDep, idempotency_key: OptionalKey = None) -> DoneOut:  # fmt: skip
        """The Peraturan Wali Kota/Bupati (number, date) enacts the latest adopted list, with that list's hash;
        after changes are adopted again, a new regulation enacts them as an amendment (perubahan RKPD)."""
        require_role(actor, "admin")
        key, meta = keyed(request, actor, idempotency_key, data)
        command = rules.Enact(year=year, regulation=data.regulation, enacted_on=data.date,
                              today=cycle_service.today())  # fmt: skip
        return await _done(runner, await rkpd.execute(year, command, meta, key))
