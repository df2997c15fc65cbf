"""Pokok-pikiran DPRD over HTTP.

- `PokirApi` (`/api/v1/pokir`): a member (`dprd`) submits and revises their own pokir; the secretariat
  (`setwan`, or Bappeda standing in) forwards or returns them; anyone reads the list (`?year=&dapil=`).
- `GET /api/v1/rkpd/{year}/sources`: the RKPD's pagu per kecamatan and per daerah pemilihan by where it
  came from (`musrenbang`, `pokir`, `renja`).
- `PokirPages` (`/petugas/pokir`): the same on staff screens, usable on a phone (members enter pokir
  from the reses itself).
- Public pages: `/pokir/{year}` (every pokir with its member) and `/rkpd/{year}/sumber`.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Any
from urllib.parse import urlencode

import asyncpg
import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, JSONBody, Parameter
from litestar.response import Redirect, Template

from musrenbang.domain import bounds
from musrenbang.domain import pokir as pokir_rules
from musrenbang.domain import proposal as rules
from musrenbang.domain import realisation as realisation_rules
from musrenbang.domain.access import Actor
from musrenbang.domain.city import City
from musrenbang.domain.errors import N_, DomainError, Message, NotFound, ValidationFailed
from musrenbang.eventlog.store import IdempotencyKeyReused
from musrenbang.http import page_cache
from musrenbang.http.api import ContentIn, SeenRevision
from musrenbang.http.city_context import city_of
from musrenbang.http.deps import ActorDep, PokirDep, PoolDep, RunnerDep, Year
from musrenbang.http.errors import SENT_BEFORE, code_or_404
from musrenbang.http.guards import roles
from musrenbang.http.i18n import translate
from musrenbang.http.idempotency import OptionalKey, keyed
from musrenbang.http.inputs import form_key, form_revision, form_text
from musrenbang.http.notices import notify
from musrenbang.http.reads import FROM_REPLICA
from musrenbang.http.render import as_typed, page, page_context, rendered
from musrenbang.http.rkpd_pages import year_of
from musrenbang.projections import city as city_views
from musrenbang.projections import cycles as cycle_views
from musrenbang.projections import pokir as pokir_views
from musrenbang.projections import rkpd as rkpd_views
from musrenbang.projections.runner import ProjectionRunner
from musrenbang.reference import kecamatan_with_kelurahan, region, region_names
from musrenbang.services import cycles
from musrenbang.services.pokir import PokirService, Reses, code_of

MEMBER = roles("dprd")
SECRETARIAT = roles("setwan", "admin")
STAFF = roles("dprd", "setwan", "admin", "auditor")
PROJECTIONS = ["proposals", "lineage"]
Place = Annotated[str, msgspec.Meta(max_length=200)]
PRINTABLE = r"^[^\x00-\x1f\x7f]*$"
"""A name to look for: no control characters (PostgreSQL text holds no NUL)."""


class PokirIn(ContentIn, forbid_unknown_fields=True, kw_only=True):
    """A pokir: the fields of a resident's proposal, the RKPD year, and the reses it was heard at."""

    year: Annotated[int, msgspec.Meta(ge=bounds.MIN_YEAR, le=bounds.MAX_YEAR, description="RKPD year")]
    reses_on: dt.date
    reses_place: Place


class PokirRevisionIn(ContentIn, forbid_unknown_fields=True, kw_only=True):
    reses_on: dt.date
    reses_place: Place


class ForwardIn(msgspec.Struct, forbid_unknown_fields=True):
    note: Annotated[str, msgspec.Meta(max_length=1000)] = ""
    seen_revision: SeenRevision | None = None


class ReturnIn(msgspec.Struct, forbid_unknown_fields=True):
    reason: Annotated[str, msgspec.Meta(max_length=1000)]
    seen_revision: SeenRevision | None = None


class PokirOut(msgspec.Struct, kw_only=True):
    code: str
    year: int
    status: str
    status_reason: str | None
    member_name: str
    """The member as the public pages name them; never their login name (review s29: half a credential)."""
    faction: str
    dapil: str
    reses_on: dt.date
    reses_place: str
    kelurahan: str
    kecamatan: str
    bidang: str
    kind: str
    title: str
    problem: str
    solution: str
    beneficiaries: int
    volume: str
    unit: str
    estimated_cost: int
    address: str
    forwarded_at: dt.datetime | None
    rkpd_line: str | None
    """The RKPD line it went into, once an agency put it in one."""
    submitted_at: dt.datetime
    updated_at: dt.datetime
    revision: int
    """How many times it was revised: what a check names as `seen_revision`."""


class PokirList(msgspec.Struct, kw_only=True):
    year: int | None
    dapil: str | None
    items: list[PokirOut]


class SubmittedPokir(msgspec.Struct, kw_only=True):
    code: str
    status: str


class SourceOut(msgspec.Struct, kw_only=True):
    musrenbang: int
    pokir: int
    renja: int
    total: int


class KecamatanSources(SourceOut, kw_only=True):
    kode: str
    """Kemendagri code; "" for the agencies' city-wide Renja lines (no place named)."""
    nama: str


class DapilSources(SourceOut, kw_only=True):
    name: str
    kecamatan: list[str]


class SourcesOut(msgspec.Struct, kw_only=True):
    """Where the RKPD's pagu came from. `revision` 0: the working draft (nothing adopted yet). Every
    line's pagu is shared among its origins by their costs (a Renja line evenly among its places), so the
    kecamatan rows add up to `totals` exactly; a dapil is the sum of its kecamatan."""

    year: int
    revision: int
    totals: SourceOut
    kecamatan: list[KecamatanSources]
    dapil: list[DapilSources]


def _out(r: asyncpg.Record) -> PokirOut:
    return PokirOut(**{f: r[f] for f in PokirOut.__struct_fields__})


def _reses(given: dt.date | None, place: str) -> Reses:
    return Reses(held_on=given, place=place)


def _source(row: pokir_views.SourceRow) -> dict[str, int]:
    return {"musrenbang": row.musrenbang, "pokir": row.pokir, "renja": row.renja, "total": row.total}


async def sources_of(request: Request, pool: asyncpg.Pool, year: int) -> SourcesOut:
    async with pool.acquire() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
        return await _sources_on(conn, year, city_of(request))


async def _sources_on(conn: asyncpg.Connection, year: int, city: City) -> SourcesOut:
    """Inside the caller's snapshot: the lines, their items and the region names agree. A year with a cycle
    but no line yet is all zeros (the list and the pokir page link here from the first day: it was 404).
    An adopted list is counted by the dapil of its adoption: redistricting later does not move its pagu."""
    published = await rkpd_views.published(conn, year)
    city = await rkpd_views.settings_of(conn, published, city)
    found = await pokir_views.sources(conn, year, city.dapil, published)
    names = await region_names(conn, level="kecamatan")
    if not found.published.lines and (await rkpd_views.list_version(conn, year)).programs is None:
        raise NotFoundException()  # no such year
    kecamatan = [KecamatanSources(kode=k, nama=names.get(k, k) if k else "", **_source(row))
                 for k, row in sorted(found.by_kecamatan.items(), key=lambda e: (e[0] == "", e[0]))]  # fmt: skip
    dapil = [DapilSources(name=d.name, kecamatan=list(d.kecamatan), **_source(found.by_dapil[d.name]))
             for d in city.dapil]  # fmt: skip
    return SourcesOut(year=year, revision=found.published.revision, totals=SourceOut(**_source(found.totals)),
                      kecamatan=kecamatan, dapil=dapil)  # fmt: skip


class SourcesApi(Controller):
    """Public: where an adopted RKPD's pagu came from (read from a replica when there is one)."""

    path = "/api/v1/rkpd/{year:int}/sources"
    tags = ["rkpd"]

    @get("/", summary="Where the RKPD's pagu came from, per kecamatan and per dapil", dependencies=FROM_REPLICA)
    async def sources(self, request: Request, pool: PoolDep, year: Year) -> SourcesOut:
        """Pagu from residents' Musrenbang proposals (`musrenbang`), DPRD members' pokir (`pokir`) and the
        agencies' own plans (`renja`), per kecamatan and per daerah pemilihan."""
        return await sources_of(request, pool, year)


async def _default_year(pool: asyncpg.Pool) -> int | None:
    return await pool.fetchval("SELECT max(year) FROM pokir")


class PokirApi(Controller):
    path = "/api/v1/pokir"
    tags = ["pokir"]

    @post("/", summary="Submit a pokok-pikiran DPRD (a member)", status_code=201, guards=[MEMBER],
          request_max_body_size=64 * 1024)  # fmt: skip
    async def submit(self, request: Request, data: JSONBody[PokirIn], actor: ActorDep, pokir: PokirDep,
                     runner: RunnerDep,
                     idempotency_key: OptionalKey = None) -> Response[SubmittedPokir]:  # fmt: skip
        """201 with the tracking code; the same Idempotency-Key again answers 200 with the same pokir."""
        key, print_ = _fingerprinted(request, actor, idempotency_key or str(uuid.uuid4()), data)
        code, result = await pokir.submit(actor, data.year, data.as_input(), _reses(data.reses_on, data.reses_place),
                                          idempotency_key=key, fingerprint=print_)  # fmt: skip
        await runner.wait_until_applied(PROJECTIONS, result.last)
        return Response(SubmittedPokir(code=code, status=rules.DIAJUKAN), status_code=200 if result.replayed else 201)

    @get("/", summary="The pokir of a year (every member's), optionally of one daerah pemilihan",
         dependencies=FROM_REPLICA)  # fmt: skip
    async def pokir_list(self, pool: PoolDep,
                         year: Annotated[int | None, Parameter(ge=2000, le=2100, description="RKPD year")] = None,
                   dapil: Annotated[str | None, Parameter(max_length=60, pattern=PRINTABLE)] = None,
                   ) -> PokirList:  # fmt: skip
        """A year asked for that has no cycle is 404, as `/pokir/{year}` and `/api/v1/rkpd/{year}` are (an empty
        list would say the year had no pokir); without `year`, the newest year with pokir, if any."""
        year = year or await _default_year(pool)
        if year is None:
            return PokirList(year=None, dapil=dapil, items=[])
        async with pool.acquire() as conn:
            if await cycle_views.cycle_row(conn, year) is None:
                raise NotFound(Message(N_("siklus RKPD %(year)d belum dibuka"), year=year))
            rows = await pokir_views.pokir(conn, year, dapil=dapil)
        return PokirList(year=year, dapil=dapil, items=[_out(r) for r in rows])

    @get("/{code:str}", summary="One pokir", dependencies=FROM_REPLICA)
    async def one(self, pool: PoolDep, code: FromPath[str]) -> PokirOut:
        async with pool.acquire() as conn:
            row = await pokir_views.one(conn, code_or_404(code))
        if row is None:
            raise NotFoundException()
        return _out(row)

    @post("/{code:str}/revise", summary="Revise a returned pokir (its member)", status_code=200, guards=[MEMBER],
          request_max_body_size=64 * 1024)  # fmt: skip
    async def revise(self, request: Request, code: FromPath[str], data: JSONBody[PokirRevisionIn], actor: ActorDep,
                     pokir: PokirDep, runner: RunnerDep, idempotency_key: OptionalKey = None
                     ) -> SubmittedPokir:  # fmt: skip
        key, meta = keyed(request, actor, idempotency_key, data)
        result = await pokir.revise(actor, code_or_404(code), data.as_input(), _reses(data.reses_on, data.reses_place),
                                    idempotency_key=key, fingerprint=meta.fingerprint)  # fmt: skip
        await runner.wait_until_applied(PROJECTIONS, result.last)
        return SubmittedPokir(code=code_or_404(code), status=rules.DIAJUKAN)

    @post("/{code:str}/forward", summary="Forward a complete pokir to the Forum Perangkat Daerah (DPRD secretariat)",
          status_code=200, guards=[SECRETARIAT])  # fmt: skip
    async def forward(self, request: Request, code: FromPath[str], data: JSONBody[ForwardIn], actor: ActorDep,
                      pokir: PokirDep, runner: RunnerDep, idempotency_key: OptionalKey = None
                      ) -> SubmittedPokir:  # fmt: skip
        command = rules.ForwardPokir(code=code_or_404(code), note=data.note, seen_revision=data.seen_revision)
        return await _check(request, actor, pokir, runner, command, idempotency_key, data)

    @post("/{code:str}/return", summary="Return a pokir to its member (DPRD secretariat)", status_code=200,
          guards=[SECRETARIAT])  # fmt: skip
    async def give_back(self, request: Request, code: FromPath[str], data: JSONBody[ReturnIn], actor: ActorDep,
                        pokir: PokirDep, runner: RunnerDep, idempotency_key: OptionalKey = None
                        ) -> SubmittedPokir:  # fmt: skip
        command = rules.ReturnPokir(code=code_or_404(code), reason=data.reason, seen_revision=data.seen_revision)
        return await _check(request, actor, pokir, runner, command, idempotency_key, data)


async def _check(request: Request, actor: Actor, pokir: PokirService, runner: ProjectionRunner,
                 command: rules.ForwardPokir | rules.ReturnPokir, key: str | None, body: object
                 ) -> SubmittedPokir:  # fmt: skip
    """The secretariat's check over the API: recorded, then read back once the read models have it."""
    scoped, meta = keyed(request, actor, key, body)
    result = await pokir.check(actor, command, scoped, meta.fingerprint)
    await runner.wait_until_applied(PROJECTIONS, result.last)
    status = rules.DITERUSKAN_SETWAN if isinstance(command, rules.ForwardPokir) else rules.DIKEMBALIKAN
    return SubmittedPokir(code=command.code, status=status)


# --- staff pages -----------------------------------------------------------------------------------------

FORM_FIELDS = (*rules.ProposalInput.__struct_fields__, "reses_on", "reses_place")


async def _form_context(pool: asyncpg.Pool, actor: Actor, request: Request, year: int) -> dict[str, Any]:
    """The kelurahan a member may choose: those of their daerah pemilihan (all, where none are set)."""
    dapil = next((d for d in city_of(request).dapil if d.name == actor.dapil), None)
    async with pool.acquire() as conn:
        kecamatan = [k for k in await kecamatan_with_kelurahan(conn) if dapil is None or k["kode"] in dapil.kecamatan]
        programs = await cycle_views.priority_programs(conn, year)
    return {"kecamatan": kecamatan, "programs": programs, "cycle": {"year": year}}


def _day(text: str) -> tuple[dt.date | None, dict[str, Any]]:
    """The reses day as typed (2023-03-12 from a date picker; 12/03/2023 from a phone without one), or
    None and what is wrong with it — a day typed otherwise is named as such, not as missing."""
    if not text.strip():
        return None, {}
    try:
        return realisation_rules.parse_day(text), {}
    except ValueError as exc:
        return None, {"reses_on": exc.args[0]}


def _refused(exc: ValidationFailed | DomainError, unread: dict[str, Any]) -> dict[str, Any]:
    """A refused form's errors, field by field, with a day that could not be read named as such."""
    errors = dict(exc.errors) if isinstance(exc, ValidationFailed) else {"form": exc.message}
    return errors | unread


def _entered(form: Any) -> dict[str, str]:
    return {name: str(form.get(name, "")) for name in FORM_FIELDS}


def _raw(entered: dict[str, str]) -> rules.ProposalInput:
    return rules.ProposalInput(**{f: entered[f] for f in rules.ProposalInput.__struct_fields__})


class PokirPages(Controller):
    path = "/petugas/pokir"
    guards = [STAFF]
    include_in_schema = False

    @get("/")
    async def home(self, request: Request, pool: PoolDep, actor: ActorDep) -> Template:
        """A member: their own pokir; the secretariat (and Bappeda, auditors): every pokir of the year, those
        waiting for the completeness check first."""
        years = [state.year for state in reversed(await cycles.all_cycles(request.app.state.store))
                 if state.year is not None]  # fmt: skip
        # The year being planned by default (as the entry form's), not the newest with pokir: once a year
        # is adopted its list is history, and its entry link would only be refused.
        asked = _int(request.query_params.get("tahun"))
        if asked is not None and asked not in years:  # as the public /pokir/{year}: no such cycle
            raise NotFound(Message(N_("siklus RKPD %(year)d belum dibuka"), year=asked))
        year = asked or (await _planned_year(request) if years else None) or cycles.today().year + 1
        async with pool.acquire() as conn:
            rows = await pokir_views.pokir(conn, year, member=actor.username if actor.role == "dprd" else None)
            cycle = await cycles.load_cycle(request.app.state.store, year)
        waiting = [r for r in rows if r["status"] == rules.DIAJUKAN]
        return page(request, "pokir_staff.html", year=year, rows=rows, waiting=waiting, actor=actor,
                    deadline=pokir_rules.deadline(cycle) if cycle.exists else None, years=years,
                    closed=await _closed(request, year) if actor.role == "dprd" else None,
                    STATUSES=rules.POKIR_STATUSES)

    @get("/baru", guards=[MEMBER])
    async def new(self, request: Request, pool: PoolDep, actor: ActorDep) -> Template:
        year = _int(request.query_params.get("tahun")) or await _planned_year(request)
        return page(request, "pokir_form.html", **await _form_context(pool, actor, request, year), values={},
                    errors={}, idempotency_key=str(uuid.uuid4()), p=None,
                    closed=await _closed(request, year))  # fmt: skip

    @post("/baru", guards=[MEMBER])
    async def submit(self, request: Request, pool: PoolDep, actor: ActorDep, pokir: PokirDep,
                     runner: RunnerDep) -> Response:  # fmt: skip
        form = await request.form()
        entered = _entered(form)
        year = _int(str(form.get("year", ""))) or await _planned_year(request)
        key = form_key(form) or str(uuid.uuid4())
        scoped, print_ = _fingerprinted(request, actor, key, entered)
        held_on, unread = _day(entered["reses_on"])
        try:
            code, result = await pokir.submit(actor, year, _raw(entered), _reses(held_on, entered["reses_place"]),
                                              idempotency_key=scoped, fingerprint=print_)  # fmt: skip
        except IdempotencyKeyReused:  # Back, changed, sent again: to the pokir the first sending made
            first = await request.app.state.store.made_with_key(scoped)
            if first is None or not any(h.startswith("proposal-") for h in first.heads):
                raise
            made = code_of(first)
            return notify(request, Redirect(f"/petugas/pokir/{made}", status_code=303), translate(request, SENT_BEFORE))
        except (ValidationFailed, DomainError) as exc:
            errors = _refused(exc, unread)
            return page(request, "pokir_form.html", status=422, **await _form_context(pool, actor, request, year),
                        values=entered, errors={f: translate(request, m) for f, m in errors.items()},
                        idempotency_key=key, p=None, closed=None)  # fmt: skip
        await runner.wait_until_applied(PROJECTIONS, result.last)
        saved = translate(request, N_("Pokok pikiran tersimpan"))
        return notify(request, Redirect(f"/petugas/pokir/{code}", status_code=303), saved)

    @get("/{code:str}")
    async def detail(self, request: Request, pool: PoolDep, actor: ActorDep, code: FromPath[str]) -> Template:
        row = await _visible(pool, actor, code)
        columns = set(row.keys())
        entered = as_typed(row, [f for f in FORM_FIELDS if f in columns])
        return await _detail(request, pool, actor, row, entered, {})

    @post("/{code:str}/perbaiki", guards=[MEMBER])
    async def revise(self, request: Request, pool: PoolDep, actor: ActorDep, pokir: PokirDep,
                     runner: RunnerDep, code: FromPath[str]) -> Response:  # fmt: skip
        row = await _visible(pool, actor, code)
        form = await request.form()
        entered = _entered(form)
        held_on, unread = _day(entered["reses_on"])
        key = form_key(form)  # the same form sent twice is answered as once
        scoped, print_ = _fingerprinted(request, actor, key, entered) if key else (None, None)
        try:
            result = await pokir.revise(actor, row["code"], _raw(entered), _reses(held_on, entered["reses_place"]),
                                        idempotency_key=scoped, fingerprint=print_)  # fmt: skip
        except IdempotencyKeyReused:  # Back, changed, sent again: the pokir as the first sending left it
            now = await _visible(pool, actor, row["code"])
            shown = as_typed(now, [f for f in FORM_FIELDS if f in set(now.keys())])
            return await _detail(request, pool, actor, now, shown, {"check": SENT_BEFORE}, status=409)
        except (ValidationFailed, DomainError) as exc:
            return await _detail(request, pool, actor, row, entered, _refused(exc, unread), status=422,
                                 key=key)  # fmt: skip
        await runner.wait_until_applied(PROJECTIONS, result.last)
        return Redirect(f"/petugas/pokir/{row['code']}", status_code=303)

    @post("/{code:str}/teruskan", guards=[SECRETARIAT])
    async def forward(self, request: Request, pool: PoolDep, actor: ActorDep, pokir: PokirDep,
                      runner: RunnerDep, code: FromPath[str]) -> Response:  # fmt: skip
        form = await request.form()
        command = rules.ForwardPokir(code=code_or_404(code), note=form_text(form, "note"),
                                     seen_revision=form_revision(form))  # fmt: skip
        return await _checked(request, pool, actor, pokir, runner, command, form_key(form))

    @post("/{code:str}/kembalikan", guards=[SECRETARIAT])
    async def give_back(self, request: Request, pool: PoolDep, actor: ActorDep, pokir: PokirDep,
                        runner: RunnerDep, code: FromPath[str]) -> Response:  # fmt: skip
        form = await request.form()
        command = rules.ReturnPokir(code=code_or_404(code), reason=form_text(form, "reason"),
                                    seen_revision=form_revision(form))  # fmt: skip
        return await _checked(request, pool, actor, pokir, runner, command, form_key(form))


async def _checked(request: Request, pool: asyncpg.Pool, actor: Actor, pokir: PokirService, runner: ProjectionRunner,
                   command: rules.ForwardPokir | rules.ReturnPokir, key: str | None) -> Response:  # fmt: skip
    """`key`: the form's own (a second tap on the button is the same check, answered as the first)."""
    row = await _visible(pool, actor, command.code)
    scoped, meta = keyed(request, actor, key, command)
    typed = {"note": command.note} if isinstance(command, rules.ForwardPokir) else {"reason": command.reason}
    try:
        try:
            result = await pokir.check(actor, command, scoped, meta.fingerprint)
        except IdempotencyKeyReused:  # Back, changed, sent again: the page shows what the first did
            raise DomainError(SENT_BEFORE) from None
    except (ValidationFailed, DomainError) as exc:
        errors = exc.errors if isinstance(exc, ValidationFailed) else {"check": exc.message}
        return await _detail(request, pool, actor, row, typed, errors, status=422, key=key)
    await runner.wait_until_applied(PROJECTIONS, result.last)
    done = N_("Diteruskan ke Forum Perangkat Daerah") if isinstance(command, rules.ForwardPokir) else N_(
        "Dikembalikan kepada anggota DPRD")
    query = urlencode({"tahun": row["year"]})
    return notify(request, Redirect(f"/petugas/pokir?{query}", status_code=303), translate(request, done))


async def _visible(pool: asyncpg.Pool, actor: Actor, code: str) -> asyncpg.Record:
    """A pokir the account may open: a member only their own (another's is as good as absent: 404)."""
    async with pool.acquire() as conn:
        row = await pokir_views.one(conn, code_or_404(code))
    if row is None or (actor.role == "dprd" and row["member"] != actor.username):
        raise NotFoundException()
    return row


async def _detail(request: Request, pool: asyncpg.Pool, actor: Actor, row: asyncpg.Record, entered: dict[str, str],
                  errors: dict[str, Any], *, status: int = 200, key: str | None = None) -> Template:  # fmt: skip
    """`key`: a refused form's own, kept, so that its corrected resubmission is still one request."""
    context = await _form_context(pool, actor, request, row["year"]) if actor.role == "dprd" else {}
    async with pool.acquire() as conn:  # the secretariat checks the place is in the member's dapil: by name
        place = await region(conn, row["kelurahan"])
    return page(request, "pokir_detail.html", status=status, p=row, actor=actor, values=entered, place=place,
                errors={f: translate(request, m) for f, m in errors.items()}, STATUSES=rules.POKIR_STATUSES,
                idempotency_key=key or str(uuid.uuid4()),
                **context)  # fmt: skip


async def _planned_year(request: Request) -> int:
    """The cycle a member's pokir go to by default: the earliest whose pokir are still taken, else the one
    being planned (whose form then says why it is closed)."""
    today = cycles.today()
    for state in await cycles.all_cycles(request.app.state.store):
        if state.year is not None and not state.adopted and (pokir_rules.deadline(state) or today) >= today:
            return state.year
    return await cycles.planned_year(request.app.state.store)


async def _closed(request: Request, year: int) -> str | None:
    """Why pokir for `year` are not taken today, in the reader's language (None: they are)."""
    try:
        await request.app.state.pokir.check_open(year, cycles.today())
    except DomainError as exc:
        return translate(request, exc.message)
    return None


def _fingerprinted(request: Request, actor: Actor, key: str, body: object) -> tuple[str, str]:
    """The scoped idempotency key and the request's fingerprint (`keyed` makes both when given a key)."""
    scoped, meta = keyed(request, actor, key, body)
    return scoped or key, meta.fingerprint or ""


def _int(text: str | None) -> int | None:
    text = (text or "").strip()
    return int(text) if text.isascii() and text.isdigit() and len(text) == 4 else None


# --- public pages ----------------------------------------------------------------------------------------


class PublicPokirPages(Controller):
    """Public: the year's pokir with their members, and where the RKPD's pagu came from (read from a replica
    when there is one)."""

    include_in_schema = False

    @get("/pokir/{year:int}", dependencies=FROM_REPLICA)
    async def public_list(self, request: Request, pool: PoolDep, year: Year) -> Template:
        """Every pokir of the year with its member, faction, daerah pemilihan, reses and where it stands; a
        year without a cycle is a page that does not exist (404), as `/rkpd/{year}` is, not a list of none."""
        dapil = "".join(c for c in request.query_params.get("dapil", "")[:60] if c.isprintable()) or None
        async with pool.acquire() as conn:
            if await cycle_views.cycle_row(conn, year) is None:
                raise NotFoundException()
            rows = await pokir_views.pokir(conn, year, dapil=dapil)
            recorded = await pokir_views.dapil_names(conn, year)
        # Today's daerah pemilihan, then any the year's pokir were entered under that a redistricting has
        # since renamed or dropped (review s22: a past year's pokir could not be found by their dapil).
        today = [d.name for d in city_of(request).dapil]
        return page(request, "pokir_public.html", year=year, rows=rows, dapil=dapil,
                    STATUSES=rules.POKIR_STATUSES, dapils=today + [name for name in recorded if name not in today])

    @get("/rkpd/{name:str}/sumber", dependencies=FROM_REPLICA)
    async def sources_page(self, request: Request, pool: PoolDep, name: FromPath[str]) -> Response:
        """Cached by what the year's view is a function of (`rkpd_views.sources_version`), as the equity
        view is (rkpd_pages.py): sent as it is until the year's RKPD or proposals, or the city, change."""
        year, extension = year_of(name)
        if extension is not None:
            raise NotFoundException()

        async def render_on(conn: asyncpg.Connection) -> bytes:
            city = await city_views.settings(conn)
            found = await _sources_on(conn, year, city)
            return rendered(request, "rkpd_sources.html", page_context(request, city=city, year=year, s=found))

        async def versions(conn: asyncpg.Connection) -> tuple[object, ...]:
            return await rkpd_views.sources_version(conn, year)

        return await page_cache.by_versions(request, pool, "rkpd_sources.html", versions, render_on)
