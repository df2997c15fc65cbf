"""What happens to RKPD lines after adoption, over HTTP: agencies (and Bappeda) record each milestone —
one at a time, or a whole CSV at once — as JSON (`RealisationApi`) and on a staff page
(`RealisationPages`). The public sees it on `/rkpd/{year}`, the lineage and tracking pages, and the
realisation view (http/rkpd_pages.py).
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Any

import asyncpg
import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.datastructures import UploadFile
from litestar.exceptions import HTTPException, NotFoundException
from litestar.params import FromPath, JSONBody, MultipartBody
from litestar.response import Redirect, Template

from musrenbang.domain import bounds, values
from musrenbang.domain import realisation as rules
from musrenbang.domain.access import Actor
from musrenbang.domain.errors import N_, DomainError, Message, NotFound, ValidationFailed
from musrenbang.domain.events import MilestonePhoto, RkpdLine
from musrenbang.eventlog.store import AppendResult, IdempotencyKeyReused
from musrenbang.http.city_context import city_of
from musrenbang.http.deps import ActorDep, PoolDep, RealisationDep, RunnerDep, Year
from musrenbang.http.guards import roles
from musrenbang.http.i18n import translate
from musrenbang.http.idempotency import OptionalKey, keyed
from musrenbang.http.inputs import form_key
from musrenbang.http.ratelimit import RateLimited, client_address, count_photo_decode
from musrenbang.http.render import page
from musrenbang.http.rkpd_files import CSV_TYPE
from musrenbang.photos import MAX_BYTES, original_sha256, process_off_loop
from musrenbang.photos import check as check_photo
from musrenbang.projections import rkpd as rkpd_views
from musrenbang.projections.runner import ProjectionRunner
from musrenbang.services import cycles
from musrenbang.services.realisation import RealisationService, RowsInvalid, parse_csv
from musrenbang.services.rkpd import acting_agency

AGENCY_OR_BAPPEDA = roles("admin", "opd")
PROJECTIONS = ["rkpd", "proposals", "lineage"]
MAX_CSV = 1024 * 1024


class MilestoneIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """A milestone of an adopted line. `amount` in whole rupiah: proposed (kua_ppas), budgeted (apbd; a
    different amount than the pagu needs a `note`), released (dpa), contracted (kontrak, with
    `contractor` and optionally `ends`), spent so far (pelaksanaan, optional), finally spent (selesai,
    optional) — what is spent goes down, or past the line's budget (the latest KUA-PPAS, APBD or DPA amount,
    else the RKPD pagu, or its contract's value when that is more), only with a `note` saying why, and never
    to twice that budget. `progress` 0-100 for
    pelaksanaan, never going down; 100 or absent for selesai. `amount` and `progress` are JSON integers, not
    text. `note` is required to drop a line (batal). `photos`: ids returned by `POST …/photos`, for
    pelaksanaan and selesai, while the line is neither finished nor dropped."""

    stage: Annotated[str, msgspec.Meta(max_length=20, description=" | ".join(rules.STAGES))]
    date: dt.date
    amount: Annotated[int, msgspec.Meta(ge=-bounds.MAX_RUPIAH, le=bounds.MAX_RUPIAH)] | None = None
    progress: Annotated[int, msgspec.Meta(ge=-(2**31), le=2**31 - 1)] | None = None
    note: Annotated[str, msgspec.Meta(max_length=1000)] = ""
    contractor: Annotated[str, msgspec.Meta(max_length=200)] | None = None
    ends: dt.date | None = None
    photos: Annotated[list[Annotated[str, msgspec.Meta(max_length=40)]], msgspec.Meta(max_length=3)] = []


class RecordedOut(msgspec.Struct, frozen=True, kw_only=True):
    recorded: int
    position: int


class PhotoUpload(msgspec.Struct):
    photo: UploadFile


class PhotoOut(msgspec.Struct, frozen=True):
    photo_id: str
    url: str


async def _recorded(runner: ProjectionRunner, result: AppendResult) -> RecordedOut:
    await runner.wait_until_applied(PROJECTIONS, result.last)
    return RecordedOut(recorded=len(result.positions), position=result.last.position)


async def _photo(request: Request, pool: asyncpg.Pool, service: RealisationService, year: int, line_id: str,
                 raw: bytes, by_agency: str | None) -> MilestonePhoto:  # fmt: skip
    """Checked without decoding first (the line and the agency, then the file's header), counted against
    the address's hourly decodes, then re-encoded."""
    await service.check_photo_line(year, line_id, by_agency)
    check_photo(raw)
    settings = request.app.state.settings
    await count_photo_decode(pool, client_address(request, settings.trust_proxy), settings.photos_per_hour)
    return await service.store_photo(year, line_id, await process_off_loop(raw), by_agency)


class RealisationApi(Controller):
    path = "/api/v1/rkpd/{year:int}"
    guards = [AGENCY_OR_BAPPEDA]
    tags = ["rkpd"]

    @post("/lines/{line_id:str}/milestones", summary="Record what happened to an adopted RKPD line",
          status_code=201)  # fmt: skip
    async def record(self, request: Request, year: Year, line_id: FromPath[str], data: JSONBody[MilestoneIn],
                     actor: ActorDep, realisation: RealisationDep, runner: RunnerDep,
                     idempotency_key: OptionalKey = None) -> RecordedOut:  # fmt: skip
        by_agency = acting_agency(actor)
        photos = await realisation.photos_of(year, line_id, data.photos) if data.photos else ()
        command = rules.RecordMilestone(year=year, line_id=line_id, stage=data.stage, on=data.date,
                                        amount=data.amount, progress=data.progress, note=data.note,
                                        contractor=data.contractor, ends=data.ends, photos=photos,
                                        by_agency=by_agency)  # fmt: skip
        key, meta = keyed(request, actor, idempotency_key, data)
        return await _recorded(runner, await realisation.record(command, meta, key))

    @post("/lines/{line_id:str}/photos", summary="Upload a photo of the work on an adopted line (for a milestone)",
          status_code=201, request_max_body_size=MAX_BYTES + 64 * 1024)  # fmt: skip
    async def photo(self, request: Request, year: Year, line_id: FromPath[str], pool: PoolDep, actor: ActorDep,
                    data: MultipartBody[PhotoUpload],
                    realisation: RealisationDep) -> PhotoOut:  # fmt: skip
        stored = await _photo(request, pool, realisation, year, line_id, await data.photo.read(),
                              acting_agency(actor))  # fmt: skip
        return PhotoOut(stored.photo_id, f"/photos/{stored.photo_id}")

    @post("/milestones", summary="Record many milestones from a CSV (all rows or none)", status_code=201,
          request_max_body_size=MAX_CSV)  # fmt: skip
    async def bulk(self, request: Request, year: Year, actor: ActorDep, realisation: RealisationDep,
                   runner: RunnerDep, idempotency_key: OptionalKey = None) -> RecordedOut:  # fmt: skip
        """Body: CSV (`text/csv`) with the header `baris,tahap,nilai,persen,tanggal,catatan[,penyedia]`
        (English names also read). A wrong row answers 422 naming it (`"3.tanggal"`: row 3, the first row
        after the header being 2) and nothing of the file is recorded."""
        _declared_csv(request)
        raw = await request.body()
        result = await record_file(realisation, raw, year, actor, keyed(request, actor, idempotency_key, raw.hex()))
        return await _recorded(runner, result)


CSV_DECLARED = frozenset({"text/csv", "text/plain", "application/csv", "application/vnd.ms-excel",
                          "application/octet-stream"})
"""What a CSV upload is declared as by the tools that send one (spreadsheets on Windows say vnd.ms-excel)."""


class NotCsv(HTTPException):
    """A body declared as something else sent where a CSV is read."""

    status_code = 415
    detail = "the body is not CSV: send it as text/csv"
    reader_message = N_("jenis isi kiriman tidak didukung: kirim berkas CSV, dengan header Content-Type: text/csv")


def _declared_csv(request: Request) -> None:
    """A JSON list or a form posted here by mistake was read as a CSV and answered as a file without its
    header row: refused for what it is (a body without a type is taken as CSV, RFC 9110 8.3)."""
    declared = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if declared and declared not in CSV_DECLARED:
        raise NotCsv()


async def record_file(realisation: RealisationService, raw: bytes, year: int, actor: Actor,
                      keyed_: tuple[str | None, Any]) -> AppendResult:  # fmt: skip
    rows = rules.read_rows(parse_csv(raw), year, acting_agency(actor))
    errors = {f"{row.number}.{field}": message for row in rows for field, message in row.errors.items()}
    read = [row for row in rows if row.command is not None]
    commands, numbers = [row.command for row in read if row.command], [row.number for row in read]
    key, meta = keyed_
    try:
        if errors:  # the rows that could be read are decided too, so that every wrong row is named at once
            errors.update(await realisation.problems(commands, numbers) if commands else {})
            raise RowsInvalid(errors)
        return await realisation.record_many(commands, meta, key, numbers=numbers)
    except RowsInvalid as exc:
        raise RowsInvalid(_by_column(exc.errors)) from None


def _by_column(errors: dict[str, Any]) -> dict[str, Any]:
    """Errors keyed "row.column" by the file's own column names ("3.tanggal"), in row order."""
    named = {}
    for key, message in errors.items():
        number, _, field = key.partition(".")
        named[f"{number}.{rules.CSV_COLUMNS.get(field, (field,))[0]}"] = message
    return dict(sorted(named.items(), key=lambda e: int(e[0].split(".")[0])))


# --- the staff page ------------------------------------------------------------------------------------


class RealisationPages(Controller):
    path = "/petugas/realisasi"
    guards = [AGENCY_OR_BAPPEDA]
    include_in_schema = False

    @get("/{year:int}")
    async def lines_page(self, request: Request, year: Year, pool: PoolDep, actor: ActorDep) -> Template:
        return await _lines_page(request, pool, actor, year)

    @get("/{year:int}/templat.csv")
    async def template(self, year: Year, pool: PoolDep, actor: ActorDep) -> Response:
        """A file to fill in: one row per line of the account's agency (every line for Bappeda)."""
        lines = await _lines(pool, year, acting_agency(actor))
        body = rules.CSV_TEMPLATE + "".join(f"{line.line_id},,,,,,\r\n" for line in lines)
        return Response("\ufeff" + body, media_type=CSV_TYPE, headers={
            "Content-Disposition": f'attachment; filename="realisasi-rkpd-{year}.csv"'})  # fmt: skip

    @post("/{year:int}/berkas", request_max_body_size=MAX_CSV + 64 * 1024)
    async def upload(self, request: Request, year: Year, pool: PoolDep, actor: ActorDep,
                     realisation: RealisationDep, runner: RunnerDep) -> Response:  # fmt: skip
        form = await request.form()
        upload = form.get("berkas")
        raw = await upload.read() if isinstance(upload, UploadFile) else b""
        # The form's own key: the same file sent twice (a double tap, a refresh) is recorded once.
        key = form_key(form)
        try:
            if not raw:
                raise DomainError(N_("pilih berkas CSV"))
            result = await record_file(realisation, raw, year, actor, keyed(request, actor, key, raw.hex()))
        except RowsInvalid as exc:
            return await _lines_page(request, pool, actor, year, status=422, row_errors=_by_row(request, exc))
        except DomainError as exc:
            return await _lines_page(request, pool, actor, year, status=422,
                                     file_error=translate(request, exc.message))  # fmt: skip
        await runner.wait_until_applied(PROJECTIONS, result.last)
        return Redirect(f"/petugas/realisasi/{year}?dicatat={len(result.positions)}", status_code=303)

    @get("/{year:int}/{line_id:str}")
    async def line_page(self, request: Request, year: Year, line_id: FromPath[str], pool: PoolDep, actor: ActorDep,
                        realisation: RealisationDep) -> Template:  # fmt: skip
        return await _line_page(request, pool, actor, realisation, year, line_id)

    @post("/{year:int}/{line_id:str}", request_max_body_size=3 * MAX_BYTES + 64 * 1024)
    async def record(self, request: Request, year: Year, line_id: FromPath[str], pool: PoolDep, actor: ActorDep,
                     realisation: RealisationDep, runner: RunnerDep) -> Response:  # fmt: skip
        form = await request.form()
        entered = {k: str(v) for k, v in form.items() if isinstance(v, str)}
        given = form.getall("foto") if "foto" in form else []
        uploads = [f for f in given if isinstance(f, UploadFile) and f.filename]
        raws = [await f.read() for f in uploads]
        by_agency = acting_agency(actor)
        # The form's own key: the same form sent twice (a double tap, a refresh of the answer) is recorded
        # once, and the second answered like the first, before anything is decided again. Its photos are
        # part of it (by their bytes' digests): another photo under the same key is another form, refused
        # like another text, not answered "recorded" with the photo dropped.
        fields: dict[str, str] = {k: v for k, v in entered.items() if k not in ("_csrf_token", "idempotency_key")}
        digests = [original_sha256(raw) for raw in raws]
        key, meta = keyed(request, actor, form_key(form), [fields, digests] if digests else fields)
        try:
            result = await realisation.replayed(key, meta.fingerprint)
            if result is None:
                command = _command_from_form(entered, year, line_id, by_agency)
                await realisation.check(command, photos=len(uploads))  # before any photo is kept
                photos = [await _photo(request, pool, realisation, year, line_id, raw, by_agency) for raw in raws]
                command = msgspec.structs.replace(command, photos=tuple(photos))
                result = await realisation.record(command, meta, key)
        except RateLimited:
            raise  # 429, not a field to correct
        except IdempotencyKeyReused:
            # This form was recorded, then changed (Back, edit, send again): nothing new is recorded; the
            # page shows what is recorded now, with what was typed and a key of its own to send it.
            retyped = {k: v for k, v in entered.items() if k != "idempotency_key"}
            errors = {"form": N_("formulir ini sudah dicatat sebelumnya: periksa tahap yang sudah dicatat, lalu"
                                 " kirim lagi bila perlu")}  # fmt: skip
            return await _line_page(request, pool, actor, realisation, year, line_id, status=409, entered=retyped,
                                    errors=_photos_again(errors, uploads))  # fmt: skip
        except ValidationFailed as exc:
            return await _line_page(request, pool, actor, realisation, year, line_id, status=422, entered=entered,
                                    errors=_photos_again(exc.errors, uploads))  # fmt: skip
        except DomainError as exc:
            return await _line_page(request, pool, actor, realisation, year, line_id, status=422, entered=entered,
                                    errors=_photos_again({"form": exc.message}, uploads))  # fmt: skip
        await runner.wait_until_applied(PROJECTIONS, result.last)
        return Redirect(f"/petugas/realisasi/{year}/{line_id}?dicatat=1", status_code=303)


def _photos_again(errors: dict[str, Any], uploads: list[UploadFile]) -> dict[str, Any]:
    """`errors`, saying that the photos must be chosen again when some were sent: a page sent back cannot
    keep the files chosen, and the stage sent again without them would be recorded without its photos."""
    if uploads and "photos" not in errors:
        return {**errors, "photos": N_("pilih foto lagi: foto tidak dapat disimpan sebelum isian lain benar")}
    return errors


def _command_from_form(entered: dict[str, str], year: int, line_id: str, by_agency: str | None
                       ) -> rules.RecordMilestone:  # fmt: skip
    """The form's fields as a command; what cannot even be read (a date, an amount) is refused here,
    everything else by the rules."""
    errors: dict[str, Any] = {}
    on = None
    try:
        on = rules.parse_day(entered.get("date", ""))
    except ValueError as exc:
        errors["date"] = exc.args[0]
    amount = progress = ends = None
    if entered.get("amount", "").strip():
        try:
            amount = values.parse_rupiah(entered["amount"])
        except ValueError as exc:
            errors["amount"] = exc.args[0]
    raw_progress = entered.get("progress", "").strip().rstrip("%")
    if raw_progress:
        if raw_progress.isascii() and raw_progress.isdigit() and len(raw_progress) <= 3:
            progress = int(raw_progress)
        else:
            errors["progress"] = N_("persentase berupa bilangan bulat 0–100")
    if entered.get("ends", "").strip():
        try:
            ends = rules.parse_day(entered["ends"])
        except ValueError as exc:
            errors["ends"] = exc.args[0]
    if errors or on is None:
        raise ValidationFailed(errors)
    return rules.RecordMilestone(year=year, line_id=line_id, stage=entered.get("stage", ""), on=on, amount=amount,
                                 progress=progress, note=entered.get("note", ""),
                                 contractor=entered.get("contractor") or None, ends=ends,
                                 by_agency=by_agency)  # fmt: skip


def _by_row(request: Request, exc: RowsInvalid) -> list[tuple[int, str]]:
    rows: dict[int, list[str]] = {}
    for key, message in exc.errors.items():
        number, _, field = key.partition(".")
        label = translate(request, FIELD_LABELS.get(field, field))
        rows.setdefault(int(number), []).append(f"{label}: {translate(request, message)}")
    return [(n, "; ".join(parts)) for n, parts in sorted(rows.items())]


FIELD_LABELS = {"baris": N_("baris"), "tahap": N_("tahap"), "nilai": N_("nilai"), "persen": N_("persen"),
                "tanggal": N_("tanggal"), "catatan": N_("catatan"), "penyedia": N_("penyedia")}  # fmt: skip
"""The bulk file's columns, as row errors name them (translated on the page)."""


async def _lines(pool: asyncpg.Pool, year: int, agency: str | None) -> list[RkpdLine]:
    async with pool.acquire() as conn:
        published = await rkpd_views.published(conn, year)
    if not published.revision:  # said, not a bare 404: the staff page of next year is reached by its year
        raise NotFound(Message(N_("RKPD %(year)d belum ditetapkan: realisasi dicatat pada baris RKPD yang sudah"
                                  " ditetapkan"), year=year))  # fmt: skip
    return [line for line in published.lines if agency is None or line.agency == agency]


async def _lines_page(request: Request, pool: asyncpg.Pool, actor: Actor, year: int, *, status: int = 200,
                      row_errors: list[tuple[int, str]] | None = None, file_error: str = "") -> Template:  # fmt: skip
    lines = await _lines(pool, year, acting_agency(actor))
    async with pool.acquire() as conn:
        progress = await rkpd_views.progress(conn, year)
    recorded = request.query_params.get("dicatat", "")
    return page(request, "realisation_staff.html", status=status, year=year, lines=lines, progress=progress,
                actor=actor, labels=rules.LABELS, row_errors=row_errors or [], file_error=file_error,
                recorded=int(recorded) if recorded.isascii() and recorded.isdigit() and len(recorded) < 6 else 0,
                key=str(uuid.uuid4()),
                city_name=city_of(request).name)  # fmt: skip


async def _line_page(request: Request, pool: asyncpg.Pool, actor: Actor, realisation: RealisationService, year: int,
                     line_id: str, *, status: int = 200, entered: dict[str, str] | None = None,
                     errors: dict[str, Any] | None = None) -> Template:  # fmt: skip
    line = (await realisation.adopted_lines(year, withdrawn_too=False)).get(line_id)
    withdrawn = line is None  # since the adoption: it takes no milestone (read again only then)
    if withdrawn:
        line = (await realisation.adopted_lines(year)).get(line_id)
    by_agency = acting_agency(actor)
    if line is None or (by_agency is not None and line.agency != by_agency):
        raise NotFoundException()
    async with pool.acquire() as conn:
        done = await rkpd_views.milestones(conn, year, line_id)
        now = (await rkpd_views.progress(conn, year)).get(line_id)
    key = (entered or {}).get("idempotency_key") or str(uuid.uuid4())  # a refused form keeps its key
    return page(request, "realisation_line.html", status=status, year=year, line=line, milestones=done, now=now,
                labels=rules.LABELS, stages=rules.STAGES, values=entered or {"date": cycles.today().isoformat()},
                key=key,
                errors={f: translate(request, m) for f, m in (errors or {}).items()},
                recorded=request.query_params.get("dicatat") == "1", withdrawn=withdrawn,
                photo_ids=lambda raw: msgspec.json.decode(raw))  # fmt: skip
