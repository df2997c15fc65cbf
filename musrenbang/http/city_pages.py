"""Staff screens of the city level.

- `/petugas/perangkat-daerah` — the Forum Perangkat Daerah for one agency (an `opd` account: its own;
  Bappeda, `admin`: any, picked with `?opd=KODE`): the proposals forwarded to it this cycle and its RKPD
  lines; a line is made from one or more proposals, revised (with a reason once the RKPD was adopted)
  or withdrawn; a proposal is passed to another agency or declined, each with a reason.
- `/petugas/rkpd/{year}` — Musrenbang Kota for Bappeda (auditors read it): take up the kecamatan results,
  the standing per agency and per kecamatan against its ceiling, the Forum Perangkat Daerah and Musrenbang
  Kota as forums (schedule, close with minutes: closing Musrenbang Kota adopts), and adoption of later
  changes (perubahan RKPD).

Every form posts with CSRF and answers with a redirect back and a short notice (shown once on the next
page, http/notices.py); a form with mistakes is shown again with the messages next to the fields and
everything typed kept (422, or 409 when a rule of the city level refuses it). Acting outside one's agency
answers 403 and writes nothing. The agency's forms carry a key: sent twice (a double tap, a retry) they are
recorded once and answered as the first time; a line's edit form also carries the version it showed, so a
tab opened before another change to the line is refused (409) instead of silently undoing it, and a line
withdrawn meanwhile answers its agency's page saying so (410, where an id never given is not found). Bappeda's
new line names its agency (the form's hidden `opd`): a form that names none is refused (400).
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Coroutine
from typing import Any
from urllib.parse import urlencode

import asyncpg
import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.exceptions import NotFoundException
from litestar.params import FromPath
from litestar.response import Redirect, Template

from musrenbang.domain import agency as agencies
from musrenbang.domain import city_forums as city_forums_rules
from musrenbang.domain import rkpd as rules
from musrenbang.domain import values
from musrenbang.domain.access import Actor, Forbidden, require_role
from musrenbang.domain.city import City
from musrenbang.domain.errors import N_, DomainError, Message, ValidationFailed
from musrenbang.domain.events import RkpdLine, RkpdLineWithdrawn, event_tag
from musrenbang.eventlog.store import AppendResult, EventStore, IdempotencyKeyReused, Metadata
from musrenbang.http import city_forums
from musrenbang.http.city_context import city_of
from musrenbang.http.deps import ActorDep, PoolDep, RkpdDep, RunnerDep, StoreDep, Year
from musrenbang.http.errors import SENT_BEFORE, BadForm, code_or_404
from musrenbang.http.i18n import translate
from musrenbang.http.idempotency import keyed
from musrenbang.http.inputs import form_key, int_param
from musrenbang.http.notices import notify
from musrenbang.http.render import number, page
from musrenbang.http.rkpd_api import ADOPTION_PROJECTIONS, CITY_PROJECTIONS
from musrenbang.projections import city as city_views
from musrenbang.projections import cycles
from musrenbang.projections import lineage as lineage_views
from musrenbang.projections import rkpd as rkpd_views
from musrenbang.projections.runner import ProjectionRunner
from musrenbang.reference import region_names
from musrenbang.services import cycles as cycle_service
from musrenbang.services.rkpd import RkpdService, acting_agency, offered_funding_sources

LINE_FIELDS = (
    "program", "kegiatan", "sub_kegiatan", "sub_kegiatan_code", "nomenclature", "priority_program",
    "funding_source", "volume", "unit", "pagu", "output_indicator", "target", "target_unit", "reason",
    "renja_reason",
)  # fmt: skip


def _meta(actor: Actor, fingerprint: str | None = None) -> Metadata:
    return Metadata(actor=actor.username, role=actor.role, fingerprint=fingerprint)


async def _year_at_work(request: Request, pool: asyncpg.Pool, stage: str) -> int:
    """The RKPD year a staff page of `stage` is for: the one asked for (`?tahun=`, which every link and
    form of the Forum Perangkat Daerah pages carries, so that a form posts to the year it showed), else
    the first of `domain.cycle.working_first`: opening the next year's cycle early does not take the
    pages away from a year whose window of that stage still runs."""
    async with pool.acquire() as conn:
        years = await cycles.years_at_work(conn, stage, cycle_service.today())
    asked = int_param(request, "tahun")
    if not years or (asked is not None and asked not in years) or ("tahun" in request.query_params and asked is None):
        raise NotFoundException()
    return asked if asked is not None else years[0]


async def _renja_year(request: Request, pool: asyncpg.Pool) -> int:
    return await _year_at_work(request, pool, "perangkat_daerah")


def _agency(actor: Actor, asked: str | None, city: City) -> str:
    """The agency the page is for: an opd account's own (asking for another is refused), or for Bappeda
    the one picked (the first agency by default)."""
    own = acting_agency(actor)  # 403 for facilitators and auditors
    if own is not None:
        if asked and asked != own:
            raise Forbidden(N_("usulan atau baris ini milik perangkat daerah lain"))
        return own
    known = city.agencies_by_code
    if asked and asked in known:
        return asked
    if not known:
        raise NotFoundException()
    return next(iter(known))


def _agency_written(actor: Actor, posted: str, city: City) -> str:
    """The agency a new line is recorded for: an opd account's own; for Bappeda the one its form names (the
    hidden `opd`). The first agency by default picks a page to show, never whose line to record."""
    if acting_agency(actor) is None and posted not in city.agencies_by_code:
        raise BadForm(N_("formulir ini tidak menyebut perangkat daerah yang dikenal; muat ulang halaman dan kirim"
                         " lagi"))  # fmt: skip
    return _agency(actor, posted or None, city)


def _back(request: Request, agency: str, actor: Actor, year: int, message: str, anchor: str = "") -> Response:
    query = urlencode({"tahun": year, **({"opd": agency} if actor.role == "admin" else {})})
    return notify(request, Redirect(f"/petugas/perangkat-daerah?{query}{anchor}", status_code=303), message)


def _messages(request: Request, exc: DomainError) -> dict[str, str]:
    errors = exc.errors if isinstance(exc, ValidationFailed) else {"form": exc.message}
    return {field or "form": translate(request, m) for field, m in errors.items()}


async def _done(runner: ProjectionRunner, result: AppendResult, projections: tuple[str, ...] = CITY_PROJECTIONS
                ) -> None:  # fmt: skip
    await runner.wait_until_applied(list(projections), result.last)


# --- Forum Perangkat Daerah -------------------------------------------------------------------------


async def _agency_context(pool: asyncpg.Pool, year: int, agency: str) -> dict[str, Any]:
    async with pool.acquire() as conn:
        items = await rkpd_views.items(conn, year, agency)
        lines = await rkpd_views.working_lines(conn, year, agency)
        programs = await cycles.priority_programs(conn, year)
        revision = await conn.fetchval("SELECT revision FROM rkpd_state WHERE year = $1", year) or 0
        places = await region_names(conn)
        city = await city_views.settings(conn)
        years = await cycles.years_at_work(conn, "perangkat_daerah", cycle_service.today())
        offered = await offered_funding_sources(conn, city.region)
    return {
        "year": year, "years": years, "agency": agency, "agency_name": city.agency_name(agency), "items": items,
        "lines": lines,
        "titles": {i["code"]: i["title"] for i in items}, "programs": programs, "adopted": revision > 0,
        "places": places, "AGENCIES": city.agencies_by_code, "FUNDING": agencies.FUNDING_SOURCES,
        "FUNDING_OFFERED": offered, "pending": [i for i in items if i["status"] == rules.MENUNGGU],
    }  # fmt: skip


def _agency_page(request: Request, actor: Actor, context: dict[str, Any], *, status: int = 200,
                 errors: dict[str, str] | None = None, values: dict[str, Any] | None = None,
                 failed: str | None = None) -> Template:  # fmt: skip
    entered = values or {"nomenclature": rules.DEFAULT_NOMENCLATURE, "origins": []}
    return page(request, "city_agency.html", status=status, actor=actor, **context, errors=errors or {},
                values=entered, failed=failed,
                idempotency_key=entered.get("idempotency_key") or str(uuid.uuid4()))  # fmt: skip


class AgencyPages(Controller):
    """The Forum Perangkat Daerah of one agency: an `opd` account's own, any for Bappeda. Each handler checks
    the account itself (`acting_agency`, `_agency`), so no guard (http/guards.py: a guard would answer before
    the path and the form are read)."""

    path = "/petugas/perangkat-daerah"
    include_in_schema = False

    @get("/")
    async def agency_page(self, request: Request, actor: ActorDep, pool: PoolDep) -> Template:
        agency = _agency(actor, request.query_params.get("opd"), city_of(request))
        context = await _agency_context(pool, await _renja_year(request, pool), agency)
        return _agency_page(request, actor, context)

    @post("/baris")
    async def new_line(self, request: Request, actor: ActorDep, pool: PoolDep, rkpd: RkpdDep, runner: RunnerDep,
                       store: StoreDep) -> Response:  # fmt: skip
        return await _set_line(request, actor, pool, rkpd, runner, store, None)

    @get("/baris/{line_id:str}")
    async def line_page(self, request: Request, actor: ActorDep, pool: PoolDep, line_id: FromPath[str]) -> Response:
        return await _unless_withdrawn(request, actor, pool, _line_screen(request, actor, pool, line_id))

    @post("/baris/{line_id:str}")
    async def revise_line(self, request: Request, actor: ActorDep, pool: PoolDep, rkpd: RkpdDep, runner: RunnerDep,
                          store: StoreDep, line_id: FromPath[str]) -> Response:  # fmt: skip
        return await _unless_withdrawn(request, actor, pool,
                                       _set_line(request, actor, pool, rkpd, runner, store, line_id))  # fmt: skip

    @post("/baris/{line_id:str}/tarik")
    async def withdraw_line(self, request: Request, actor: ActorDep, pool: PoolDep, rkpd: RkpdDep, runner: RunnerDep,
                            store: StoreDep, line_id: FromPath[str]) -> Response:  # fmt: skip
        return await _unless_withdrawn(request, actor, pool,
                                       _withdraw(request, actor, pool, rkpd, runner, store, line_id))  # fmt: skip

    @post("/usulan/{code:str}/alihkan")
    async def pass_proposal(self, request: Request, actor: ActorDep, pool: PoolDep, rkpd: RkpdDep, runner: RunnerDep,
                            store: StoreDep, code: FromPath[str]) -> Response:  # fmt: skip
        return await _item_action(request, actor, pool, rkpd, runner, store, code, "pass")

    @post("/usulan/{code:str}/tolak")
    async def decline_proposal(self, request: Request, actor: ActorDep, pool: PoolDep, rkpd: RkpdDep, runner: RunnerDep,
                               store: StoreDep, code: FromPath[str]) -> Response:  # fmt: skip
        return await _item_action(request, actor, pool, rkpd, runner, store, code, "decline")


async def _line_form(request: Request) -> dict[str, Any]:
    form = await request.form()
    entered: dict[str, Any] = {name: str(form.get(name, "")).strip() for name in LINE_FIELDS}
    entered["origins"] = [str(c).strip() for c in form.getall("origins", [])]
    entered["locations"] = [str(c).strip() for c in form.getall("locations", [])]
    entered["idempotency_key"] = form_key(form) or ""
    entered["opd"] = str(form.get("opd", ""))
    entered["version"] = str(form.get("version", "")).strip()
    return entered


def _line_command(entered: dict[str, Any], line_id: str | None, agency: str, by_agency: str | None,
                  programs: int) -> tuple[rules.SetLine, dict[str, str]]:  # fmt: skip
    """The form as a command, and the values that could not even be read (reported next to their fields
    together with what the rules say about the rest)."""
    errors: dict[str, str] = {}
    pagu = 0
    try:
        pagu = values.parse_rupiah(entered["pagu"]) if entered["pagu"] else 0
    except ValueError as exc:
        errors["pagu"] = exc.args[0]
    raw_priority = entered["priority_program"]
    priority = int(raw_priority) if raw_priority.isascii() and raw_priority.isdigit() and len(raw_priority) <= 3 else 0
    quantities = {}
    for name in ("volume", "target"):  # "1.500" is fifteen hundred here, "2,5" two and a half
        try:
            quantities[name] = values.parse_quantity(entered[name]) if entered[name] else ""
        except ValueError as exc:
            errors[name], quantities[name] = exc.args[0], ""
    origins = []
    for raw in entered["origins"]:
        try:
            origins.append(values.normalize_code(raw))
        except ValueError:
            errors["origins"] = Message(N_("usulan %(code)s tidak ada di Forum Perangkat Daerah"), code=raw[:40])
    # A Renja line's places go back unchanged (hidden fields); given proposals, it takes theirs.
    line = rules.LineInput(
        line_id=line_id, agency=agency, origins=tuple(origins), priority_program=priority,
        sub_kegiatan_code=entered["sub_kegiatan_code"], nomenclature=entered["nomenclature"],
        program=entered["program"], kegiatan=entered["kegiatan"], sub_kegiatan=entered["sub_kegiatan"],
        funding_source=entered["funding_source"], volume=quantities["volume"], unit=entered["unit"], pagu=pagu,
        output_indicator=entered["output_indicator"], target=quantities["target"], target_unit=entered["target_unit"],
        renja_reason=entered["renja_reason"], locations=() if entered["origins"] else tuple(entered["locations"]),
    )  # fmt: skip
    command = rules.SetLine(line=line, priority_programs=programs, reason=entered["reason"], by_agency=by_agency,
                            seen=entered.get("version", "") if line_id is not None else "")  # fmt: skip
    return command, errors


async def _refusal(request: Request, rkpd: RkpdService, year: int, command: rules.Command,
                   unreadable: dict[str, str]) -> ValidationFailed:  # fmt: skip
    """The fields a form could not read, with what the rules say about the rest, so that every message
    shows at once; the command (with stand-ins where it could not read) is only checked, never recorded."""
    try:
        rules.decide(await rkpd.load(year), command, agencies=city_of(request).agencies_by_code)
    except ValidationFailed as exc:
        return ValidationFailed({**exc.errors, **unreadable})
    return ValidationFailed(unreadable)


async def _set_line(request: Request, actor: Actor, pool: asyncpg.Pool, rkpd: RkpdService, runner: ProjectionRunner,
                    store: EventStore, line_id: str | None) -> Response:  # fmt: skip
    """Make or change a line. The form's key makes a double tap or a retry record it once (and answer as the
    first did); the version the edit form showed makes a tab opened before another change refuse to undo it."""
    entered = await _line_form(request)
    by_agency = acting_agency(actor)
    year = await _renja_year(request, pool)
    if line_id is not None:
        agency = (await _line_of(pool, year, line_id, by_agency)).agency
    else:
        agency = _agency_written(actor, entered["opd"], city_of(request))
    key = f"staff:{actor.username}:{entered['idempotency_key']}" if entered["idempotency_key"] else None  # as keyed()
    try:
        command, unreadable = _line_command(entered, line_id, agency, by_agency, await rkpd.priority_programs(year))
        if unreadable:
            raise await _refusal(request, rkpd, year, command, unreadable)
        fingerprint = hashlib.sha256(msgspec.json.encode(command)).hexdigest()
        try:
            result = await rkpd.execute(year, command, _meta(actor, fingerprint), key)
        except IdempotencyKeyReused:
            if line_id is not None:  # the line as it is now shows with the form: saving again is on purpose
                entered["idempotency_key"] = ""
            raise DomainError(await _sent_before(rkpd, store, key, line_id)) from None
    except Forbidden:
        raise
    except DomainError as exc:
        status = 422 if isinstance(exc, ValidationFailed) else 409
        context = await _agency_context(pool, year, agency)
        errors = _messages(request, exc)
        if line_id is not None:
            return await _line_page(request, actor, pool, year, line_id, context, status=status, errors=errors,
                                    entered=entered)  # fmt: skip
        return _agency_page(request, actor, context, status=status, errors=errors, values=entered, failed="line")
    await _done(runner, result)
    made = line_id or await rkpd.line_id_at(result)
    text = N_("Baris %(line)s disimpan") if line_id else N_("Baris %(line)s dibuat")
    return _back(request, agency, actor, year, translate(request, Message(text, line=made)), "#baris")


async def _sent_before(rkpd: RkpdService, store: EventStore, key: str | None, line_id: str | None) -> Message:
    """What to tell whoever sends a line form again after changing it (Back, edit, send): the first sending
    already made or saved the line, and sending this one as well would make a second line or undo it."""
    earlier = await store.made_with_key(key) if key else None
    made = line_id or (await rkpd.line_id_at(earlier) if earlier is not None else "")
    if line_id is None:
        return Message(N_("formulir ini sudah terkirim dan membuat baris %(line)s: ubah baris itu bila perlu, atau"
                          " muat ulang halaman ini untuk membuat baris lain"), line=made)  # fmt: skip
    return Message(N_("formulir ini sudah terkirim dan menyimpan baris %(line)s: isinya sekarang tampil di sini;"
                      " simpan lagi hanya untuk mengubahnya lagi"), line=made)  # fmt: skip


class LineWithdrawn(Exception):
    """A line asked for by its id was withdrawn (in another tab, by someone else): whoever still had it open
    is told so, where an id never given is simply not found."""

    def __init__(self, year: int, line_id: str, agency: str) -> None:
        super().__init__(line_id)
        self.year, self.line_id, self.agency = year, line_id, agency


async def _line_of(pool: asyncpg.Pool, year: int, line_id: str, by_agency: str | None) -> RkpdLine:
    """The line as it stands; LineWithdrawn for one withdrawn, 404 for an id never given."""
    async with pool.acquire() as conn:
        line = {x.line_id: x for x in await rkpd_views.working_lines(conn, year)}.get(line_id)
        agency = line.agency if line is not None else await _withdrawn_from(conn, year, line_id)
    if agency is None:
        raise NotFoundException()
    if by_agency is not None and agency != by_agency:
        raise Forbidden(N_("usulan atau baris ini milik perangkat daerah lain"))
    if line is None:
        raise LineWithdrawn(year, line_id, agency)
    return line


async def _withdrawn_from(conn: asyncpg.Connection, year: int, line_id: str) -> str | None:
    """The agency a line was withdrawn from, as its lineage keeps it; None for an id never given (a line
    withdrawn is never set again, so a withdrawal in its lineage means it is gone)."""
    steps = await lineage_views.steps(conn, [lineage_views.line_subject(year, line_id)])
    withdrawals = [s for s in steps if s.kind == event_tag(RkpdLineWithdrawn)]
    return str(msgspec.json.decode(withdrawals[-1].detail)["agency"]) if withdrawals else None


async def _unless_withdrawn(request: Request, actor: Actor, pool: asyncpg.Pool,
                            answer: Coroutine[Any, Any, Response]) -> Response:  # fmt: skip
    """`answer`, or when the line it is about was withdrawn meanwhile, the agency's page saying so (410),
    nothing written: a tab left open learns what happened instead of meeting a bare "not found"."""
    try:
        return await answer
    except LineWithdrawn as gone:
        context = await _agency_context(pool, gone.year, gone.agency)
        text = translate(request, Message(N_("Baris %(line)s sudah ditarik; tidak ada yang diubah"),
                                          line=gone.line_id))  # fmt: skip
        return _agency_page(request, actor, context, status=410, errors={"form": text}, failed="withdrawn")


def _line_values(line: RkpdLine) -> dict[str, Any]:
    entered: dict[str, Any] = {name: str(getattr(line, name, "")) for name in LINE_FIELDS if name != "reason"}
    # A Renja line's places go back unchanged (the page does not edit them; the API does).
    entered.update(origins=list(line.origins), pagu=str(line.pagu), reason="", volume=number(line.volume),
                   target=number(line.target),  # as the form reads them back: "1.500", "2,5"
                   locations=list(line.locations) if not line.origins else [])  # fmt: skip
    return entered


async def _line_page(request: Request, actor: Actor, pool: asyncpg.Pool, year: int, line_id: str,
                     context: dict[str, Any], *, status: int = 200, errors: dict[str, str] | None = None,
                     entered: dict[str, Any] | None = None, **extra: Any) -> Template:  # fmt: skip
    """The edit page of a line, with what was typed kept after a mistake. The form carries the version it was
    made from; when the line changed meanwhile, the page shows it as it is now and takes the new version,
    so that saving again overwrites on purpose."""
    line = await _line_of(pool, year, line_id, acting_agency(actor))
    current = rules.line_version(line)
    seen = (entered or {}).get("version") or current
    changed = line if seen != current else None
    key = (entered or {}).get("idempotency_key") or str(uuid.uuid4())
    return page(request, "city_line.html", status=status, actor=actor, **context, line_id=line_id,
                errors=errors or {}, values=entered or _line_values(line), version=current, changed=changed,
                idempotency_key=key, withdraw_key=str(uuid.uuid4()), **extra)  # fmt: skip


async def _line_screen(request: Request, actor: Actor, pool: asyncpg.Pool, line_id: str) -> Template:
    year = await _renja_year(request, pool)
    line = await _line_of(pool, year, line_id, acting_agency(actor))
    context = await _agency_context(pool, year, line.agency)
    return await _line_page(request, actor, pool, year, line_id, context)


async def _replayed(store: EventStore, runner: ProjectionRunner, key: str | None, meta: Metadata) -> bool:
    """Whether this very form was sent before and recorded (a double tap, a retry after a slow answer):
    asked before the checks against the current state, which the first sending changed (the proposal is
    another agency's now, the line gone), so that the second answers as the first did instead of 403 or
    404. The same form sent again with other content raises IdempotencyKeyReused (`_sent_again`)."""
    if key is None:
        return False
    earlier = await store.find_replay(key, meta.fingerprint)
    if earlier is None:
        return False
    await _done(runner, earlier)
    return True


async def _sent_again(request: Request, actor: Actor, pool: asyncpg.Pool, year: int, form: Any) -> Template:
    """A form sent before and changed since (Back, edit, send): nothing more is done, and the agency's page
    shows what the first sending did."""
    agency = _agency(actor, str(form.get("opd", "")) or None, city_of(request))
    context = await _agency_context(pool, year, agency)
    text = translate(request, SENT_BEFORE)
    return _agency_page(request, actor, context, status=409, errors={"form": text}, failed="sent")


async def _withdraw(request: Request, actor: Actor, pool: asyncpg.Pool, rkpd: RkpdService, runner: ProjectionRunner,
                    store: EventStore, line_id: str) -> Response:  # fmt: skip
    by_agency = acting_agency(actor)
    year = await _renja_year(request, pool)
    form = await request.form()
    reason = str(form.get("reason", "")).strip()
    key, meta = keyed(request, actor, form_key(form), {"reason": reason})
    text = translate(request, Message(N_("Baris %(line)s ditarik"), line=line_id))
    try:
        if await _replayed(store, runner, key, meta):
            agency = _agency(actor, str(form.get("opd", "")) or None, city_of(request))
            return _back(request, agency, actor, year, text, "#baris")
    except IdempotencyKeyReused:
        return await _sent_again(request, actor, pool, year, form)
    line = await _line_of(pool, year, line_id, by_agency)
    try:
        result = await rkpd.execute(year, rules.WithdrawLine(line_id=line_id, reason=reason, by_agency=by_agency),
                                    meta, key)  # fmt: skip
    except Forbidden:
        raise
    except DomainError as exc:
        context = await _agency_context(pool, year, line.agency)
        return await _line_page(request, actor, pool, year, line_id, context,
                                status=422 if isinstance(exc, ValidationFailed) else 409,
                                withdraw_errors=_messages(request, exc), withdraw_reason=reason)  # fmt: skip
    await _done(runner, result)
    return _back(request, line.agency, actor, year, text, "#baris")


async def _item_action(request: Request, actor: Actor, pool: asyncpg.Pool, rkpd: RkpdService,
                       runner: ProjectionRunner, store: EventStore, code: str, action: str) -> Response:  # fmt: skip
    code = code_or_404(code)
    by_agency = acting_agency(actor)
    year = await _renja_year(request, pool)
    form = await request.form()
    reason = str(form.get("reason", "")).strip()
    to_agency = str(form.get("to_agency", ""))
    key, meta = keyed(request, actor, form_key(form), {"reason": reason, "to_agency": to_agency})
    command: rules.Command
    if action == "pass":
        command = rules.PassProposal(code=code, to_agency=to_agency, reason=reason, by_agency=by_agency)
        done = N_("Usulan %(code)s dialihkan ke %(agency)s")
    else:
        command = rules.DeclineProposal(code=code, reason=reason, by_agency=by_agency)
        done = N_("Usulan %(code)s dinyatakan tidak diakomodasi")
    message = Message(done, code=code, agency=city_of(request).agency_name(to_agency))
    try:
        if await _replayed(store, runner, key, meta):
            agency = _agency(actor, str(form.get("opd", "")) or None, city_of(request))
            return _back(request, agency, actor, year, translate(request, message), "#usulan")
    except IdempotencyKeyReused:
        return await _sent_again(request, actor, pool, year, form)
    agency = await pool.fetchval("SELECT agency FROM rkpd_items WHERE year = $1 AND code = $2", year, code)
    if agency is None:
        raise NotFoundException()
    if by_agency is not None and agency != by_agency:
        raise Forbidden(N_("usulan atau baris ini milik perangkat daerah lain"))
    try:
        result = await rkpd.execute(year, command, meta, key)
    except Forbidden:
        raise
    except DomainError as exc:
        context = await _agency_context(pool, year, agency)
        entered = {"reason": reason, "to_agency": to_agency, "nomenclature": rules.DEFAULT_NOMENCLATURE, "origins": []}
        return _agency_page(request, actor, context, status=422 if isinstance(exc, ValidationFailed) else 409,
                            errors=_messages(request, exc), values=entered, failed=f"{action}:{code}")  # fmt: skip
    await _done(runner, result)
    return _back(request, agency, actor, year, translate(request, message), "#usulan")


# --- Musrenbang Kota ------------------------------------------------------------------------------------


def _require_reviewer(actor: Actor) -> None:
    require_role(actor, "admin", "auditor")


async def _review_context(pool: asyncpg.Pool, rkpd: RkpdService, year: int) -> dict[str, Any]:
    async with pool.acquire() as conn:
        programs = await cycles.priority_programs(conn, year)
        if not programs:
            raise NotFoundException()
        received = {r["code"] for r in await conn.fetch("SELECT code FROM rkpd_items WHERE year = $1", year)}
        counts = await conn.fetch(
            "SELECT agency, count(*) FILTER (WHERE status = $2) AS pending,"
            " count(*) FILTER (WHERE status = $3) AS mapped, count(*) FILTER (WHERE status = $4) AS declined"
            " FROM rkpd_items WHERE year = $1 GROUP BY agency",
            year, rules.MENUNGGU, rules.DIPETAKAN, rules.DITOLAK_OPD,
        )  # fmt: skip
        lines = await rkpd_views.working_lines(conn, year)
        declined = await rkpd_views.declined(conn, year)
        items = await rkpd_views.city_items(conn, year)
        ceilings = await rkpd_views.ceilings(conn, year)
        published = await rkpd_views.published(conn, year)
        places = await region_names(conn, level="kecamatan")
        city = await city_views.settings(conn)
    waiting = sum(1 for item in await rkpd.forwarded(year) if item.code not in received)
    per_agency: dict[str, dict[str, int]] = {}
    for r in counts:
        per_agency[r["agency"]] = {"pending": r["pending"], "mapped": r["mapped"], "declined": r["declined"],
                                   "lines": 0, "pagu": 0}  # fmt: skip
    for line in lines:
        row = per_agency.setdefault(line.agency, {"pending": 0, "mapped": 0, "declined": 0, "lines": 0, "pagu": 0})
        row["lines"] += 1
        row["pagu"] += line.pagu
    agency_rows = [{"code": a, "name": city.agency_name(a), **per_agency[a]}
                   for a in sorted(per_agency, key=city.agency_name)]  # fmt: skip
    totals = rules.musrenbang_by_kecamatan(lines, items)  # what the pagu indikatif holds, as the rules check it
    over = rules.over_pagu(totals, ceilings)
    kecamatan_rows = [
        {"kode": k, "nama": places.get(k, k), "pagu": totals.get(k, 0), "ceiling": ceilings.get(k),
         "over": k in over, "excess": over.get(k, 0)}
        for k in sorted(set(totals) | set(ceilings))
    ]  # fmt: skip
    pending = sum(row["pending"] for row in per_agency.values())
    adoption = published.adoption
    return {**await city_forums.forum_forms(pool, year),
        "year": year, "waiting": waiting, "received": len(received), "agency_rows": agency_rows,
        "kecamatan_rows": kecamatan_rows, "over_pagu": [row for row in kecamatan_rows if row["over"]],
        "pending": pending, "total_pagu": sum(x.pagu for x in lines),
        "line_count": len(lines), "revision": published.revision, "adoption": adoption,
        "head": adoption["hash"].hex() if adoption else None, "changed": published.changed_since_adoption,
        "list_version": city_forums_rules.list_version(lines, declined), "adopt_key": str(uuid.uuid4()),
    }  # fmt: skip


class ReviewPages(Controller):
    """Musrenbang Kota for Bappeda (auditors read it). Each handler checks the role itself (`require_role`), so
    no guard (http/guards.py: a guard would answer before the path's year and the form are read)."""

    path = "/petugas/rkpd"
    include_in_schema = False

    @get("/")
    async def review_current(self, request: Request, actor: ActorDep, pool: PoolDep) -> Response:
        _require_reviewer(actor)
        return Redirect(f"/petugas/rkpd/{await _year_at_work(request, pool, 'kota')}", status_code=303)

    @get("/{year:int}")
    async def review_page(self, request: Request, actor: ActorDep, pool: PoolDep, rkpd: RkpdDep,
                          year: Year) -> Template:  # fmt: skip
        _require_reviewer(actor)
        context = await _review_context(pool, rkpd, year)
        return page(request, "city_review.html", actor=actor, **context, errors={}, note="")

    @post("/{year:int}/terima")
    async def review_receive(self, request: Request, actor: ActorDep, rkpd: RkpdDep, runner: RunnerDep,
                             year: Year) -> Response:  # fmt: skip
        require_role(actor, "admin")
        try:
            result = await rkpd.receive(year, _meta(actor))
        except Forbidden:
            raise
        except DomainError as exc:
            text = translate(request, exc.message)
        else:
            await _done(runner, result)
            text = translate(request, N_("Hasil Musrenbang Kecamatan diterima"))
        return notify(request, Redirect(f"/petugas/rkpd/{year}", status_code=303), text)

    @post("/{year:int}/tetapkan")
    async def review_adopt(self, request: Request, actor: ActorDep, pool: PoolDep, rkpd: RkpdDep, runner: RunnerDep,
                           store: StoreDep, year: Year) -> Response:  # fmt: skip
        """Adopt the changes since the last adoption. The form's key makes a double tap or a retry record one
        revision (answered as the first); the version of the list the page showed (`Adopt.seen`, checked by the
        rules under the year's lock) refuses a tab opened before an agency's later change. A list over a
        kecamatan's pagu indikatif is adopted only with the form's box ticked (`confirm_over_pagu`)."""
        require_role(actor, "admin")
        form = await request.form()
        note = str(form.get("note", "")).strip()
        confirmed = bool(form.get("confirm_over_pagu"))
        key, meta = keyed(request, actor, form_key(form), {"note": note})
        done = notify(request, Redirect(f"/petugas/rkpd/{year}", status_code=303),
                      translate(request, N_("RKPD ditetapkan")))  # fmt: skip
        try:
            try:
                earlier = await store.find_replay(key, meta.fingerprint) if key else None
            except IdempotencyKeyReused:
                raise DomainError(SENT_BEFORE) from None
            if earlier is not None:
                await _done(runner, earlier, ADOPTION_PROJECTIONS)
                return done
            command = rules.Adopt(year=year, note=note, seen=str(form.get("seen", "")).strip(),
                                  confirm_over_pagu=confirmed)  # fmt: skip
            result = await rkpd.execute(year, command, meta, key)
        except Forbidden:
            raise
        except DomainError as exc:
            context = await _review_context(pool, rkpd, year)
            return page(request, "city_review.html", status=422 if isinstance(exc, ValidationFailed) else 409,
                        actor=actor, **context, errors=_messages(request, exc), note=note)  # fmt: skip
        await _done(runner, result, ADOPTION_PROJECTIONS)
        return done

    @post("/{year:int}/forum/{forum:str}")
    async def review_forum_schedule(self, request: Request, actor: ActorDep, pool: PoolDep, rkpd: RkpdDep,
                                    runner: RunnerDep, year: Year, forum: FromPath[str]) -> Response:  # fmt: skip
        return await _forum_action(request, actor, pool, rkpd, runner, year, forum, close=False)

    @post("/{year:int}/forum/{forum:str}/tutup")
    async def review_forum_close(self, request: Request, actor: ActorDep, pool: PoolDep, rkpd: RkpdDep,
                                 runner: RunnerDep, year: Year, forum: FromPath[str]) -> Response:  # fmt: skip
        return await _forum_action(request, actor, pool, rkpd, runner, year, forum, close=True)


def _close_command(year: int, forum: str, minutes: str, form: Any) -> city_forums_rules.CloseCityForum:
    """The close form as a command: the list it showed (`seen`) and, for a Musrenbang Kota over a kecamatan's
    pagu indikatif, the box ticked to adopt all the same."""
    return city_forums_rules.CloseCityForum(year=year, forum=forum, minutes=minutes, today=cycle_service.today(),
                                            seen=str(form.get("seen", "")).strip(),
                                            confirm_over_pagu=bool(form.get("confirm_over_pagu")))  # fmt: skip


async def _forum_action(request: Request, actor: Actor, pool: asyncpg.Pool, rkpd: RkpdService,
                        runner: ProjectionRunner, year: int, forum: str, close: bool) -> Response:  # fmt: skip
    """Schedule (or reschedule) or close a city forum from the staff page; mistakes come back beside the
    form with everything typed kept."""
    require_role(actor, "admin")
    forum = city_forums.forum_or_404(forum)
    entered = await city_forums.read_form(request)
    form = await request.form()
    command, unreadable = ((_close_command(year, forum, entered["minutes"], form), {}) if close
                           else city_forums.schedule_from_form(year, forum, entered))  # fmt: skip
    key, meta = keyed(request, actor, form_key(form), entered)
    try:
        if unreadable:
            raise await _refusal(request, rkpd, year, command, unreadable)
        try:
            result = await rkpd.execute(year, command, meta, key)
        except IdempotencyKeyReused:  # Back, changed, sent again: the page shows what the first did
            raise DomainError(SENT_BEFORE) from None
    except Forbidden:
        raise
    except DomainError as exc:
        context = await _review_context(pool, rkpd, year)
        context["forum_values"][forum] = entered
        context["forum_errors"] = {forum: {"close" if close else "schedule": True, **_messages(request, exc)}}
        return page(request, "city_review.html", status=422 if isinstance(exc, ValidationFailed) else 409,
                    actor=actor, **context, errors={}, note="")  # fmt: skip
    await _done(runner, result)
    done = N_("%(forum)s ditutup; berita acara tersedia") if close else N_("%(forum)s dijadwalkan")
    text = translate(request, Message(done, forum=translate(request, city_forums_rules.FORUMS[forum])))
    return notify(request, Redirect(f"/petugas/rkpd/{year}#forum-{forum}", status_code=303), text)
