"""Pages for residents: propose, follow a proposal, browse a kelurahan or kecamatan."""

from __future__ import annotations

import math
import re
import uuid
from typing import Any

import asyncpg
from litestar import Request, Response, get, post
from litestar.datastructures import UploadFile
from litestar.exceptions import NotFoundException
from litestar.response import Redirect, Template

from musrenbang.domain import proposal as rules
from musrenbang.domain import values
from musrenbang.domain.errors import N_, DomainError, ValidationFailed
from musrenbang.http.errors import BadForm, code_or_404
from musrenbang.http.i18n import translate
from musrenbang.http.ratelimit import client_address, count_photo_decode, count_submission
from musrenbang.http.render import page
from musrenbang.photos import MAX_BYTES, PhotoRejected, ProcessedPhoto, original_sha256, process_off_loop
from musrenbang.photos import check as check_photo
from musrenbang.projections import cycles
from musrenbang.projections import proposals as proposal_views
from musrenbang.projections.runner import ProjectionRunner
from musrenbang.reference import kecamatan_with_kelurahan, region
from musrenbang.services.proposals import ProposalService

FORM_MAX_BODY = 3 * MAX_BYTES + 256 * 1024  # three photos and the text fields
PAGE_SIZE = 25
CONTENT_FIELDS = tuple(rules.ProposalInput.__struct_fields__)


@get("/", include_in_schema=False)
async def home(request: Request, pool: asyncpg.Pool) -> Template:
    async with pool.acquire() as conn:
        cycle = await cycles.current_cycle(conn)
        programs = await cycles.priority_programs(conn, cycle["year"]) if cycle else []
        kecamatan = await kecamatan_with_kelurahan(conn)
        count = await conn.fetchval("SELECT count(*) FROM proposals")
    return page(request, "home.html", cycle=cycle, programs=programs, kecamatan=kecamatan,
                kelurahan_count=sum(len(k["kelurahan"]) for k in kecamatan), proposal_count=count)  # fmt: skip


async def _form_context(pool: asyncpg.Pool) -> dict[str, Any]:
    async with pool.acquire() as conn:
        cycle = await cycles.current_cycle(conn)
        return {
            "kecamatan": await kecamatan_with_kelurahan(conn),
            "programs": await cycles.priority_programs(conn, cycle["year"]) if cycle else [],
            "cycle": cycle,
        }


@get("/usulan/baru", include_in_schema=False)
async def new_proposal_form(request: Request, pool: asyncpg.Pool) -> Template:
    chosen = request.query_params.get("kelurahan", "")
    return page(request, "proposal_form.html", **await _form_context(pool), values={"kelurahan": chosen},
                errors={}, idempotency_key=str(uuid.uuid4()))  # fmt: skip


@post("/usulan/baru", include_in_schema=False, request_max_body_size=FORM_MAX_BODY)
async def submit_proposal_form(
    request: Request, pool: asyncpg.Pool, proposals: ProposalService, runner: ProjectionRunner
) -> Template:
    form = await request.form()
    entered = {name: str(form.get(name, "")) for name in (*CONTENT_FIELDS, "proposer_name", "proposer_phone")}
    key = form_key(form) or str(uuid.uuid4())
    errors: dict[str, str] = {}
    content = proposer = None
    try:
        content = await proposals.validate(rules.ProposalInput(**{f: entered[f] for f in CONTENT_FIELDS}))
    except ValidationFailed as exc:
        errors.update(exc.errors)
    try:
        proposer = rules.validate_proposer(entered["proposer_name"], entered["proposer_phone"])
    except ValidationFailed as exc:
        errors.update(exc.errors)
    uploads = [f for f in form.getall("photos", []) if isinstance(f, UploadFile) and f.filename]
    raws: list[bytes] = []
    if len(uploads) > rules.MAX_PHOTOS:
        errors["photos"] = N_("paling banyak 3 foto per usulan")
    else:
        raws = [await upload.read() for upload in uploads]
        _check_photos(raws, errors)
    if errors or content is None or proposer is None:
        return await _form_again(request, pool, entered, errors, key, with_photos=bool(uploads))
    # Only a form that is right in every field and whose photos passed every check short of decoding gets
    # this far. An earlier submission of this very form is answered without counting or decoding anything;
    # otherwise the address's hourly limits are counted first (a submission once per key, each decode).
    print_ = proposals.fingerprint(entered, [original_sha256(raw) for raw in raws])
    submitted = await proposals.find_submitted(key, print_)
    if submitted is None:
        settings = request.app.state.settings
        address = client_address(request, settings.trust_proxy)
        await count_submission(pool, address, key, settings.submissions_per_hour)
        photos: list[ProcessedPhoto] = []
        try:
            for raw in raws:
                await count_photo_decode(pool, address, settings.photos_per_hour)
                photos.append(await process_off_loop(raw))
        except PhotoRejected as exc:
            return await _form_again(request, pool, entered, {"photos": exc.message}, key, with_photos=True)
        submitted = await proposals.submit(
            content, proposer, idempotency_key=key, request_fingerprint=print_, photos=photos, replay_checked=True
        )
    await runner.wait_until_applied(["proposals"], submitted.last)
    return page(request, "proposal_submitted.html", submitted=submitted)


def _check_photos(raws: list[bytes], errors: dict[str, str]) -> None:
    """The checks that need no decoding (size, format, pixels), so a photo's error shows beside the others."""
    for raw in raws:
        try:
            check_photo(raw)
        except PhotoRejected as exc:
            errors["photos"] = exc.message
            return


async def _form_again(request: Request, pool: asyncpg.Pool, entered: dict[str, str], errors: dict[str, str],
                      key: str, *, with_photos: bool) -> Template:  # fmt: skip
    """The form once more, as it was filled in, each error beside its field (a browser cannot keep the
    chosen files, so the photos must be chosen again)."""
    if with_photos and "photos" not in errors:
        errors["photos"] = N_("pilih foto lagi: foto tidak dapat disimpan sebelum isian lain benar")
    return page(request, "proposal_form.html", status=422, **await _form_context(pool), values=entered,
                errors={f: translate(request, m) for f, m in errors.items()}, idempotency_key=key)  # fmt: skip


@get("/lacak", include_in_schema=False)
async def find_proposal(request: Request) -> Response:
    typed = request.query_params.get("kode", "")
    try:
        code = values.normalize_code(typed)
    except ValueError as exc:
        return page(request, "track_lookup.html", status=422, typed=typed, error=translate(request, exc.args[0]))
    return Redirect(f"/lacak/{code}", status_code=303)


@get("/lacak/{code:str}", include_in_schema=False)
async def track(request: Request, pool: asyncpg.Pool, code: str) -> Response:
    canonical = code_or_404(code)
    if canonical != code:
        return Redirect(f"/lacak/{canonical}", status_code=301)
    async with pool.acquire() as conn:
        proposal = await proposal_views.get(conn, code)
        if proposal is None:
            raise NotFoundException()
        steps = await proposal_views.timeline(conn, code)
        place = await region(conn, proposal["kelurahan"])
        programs = await cycles.priority_programs(conn, proposal["year"])
    return page(request, "track.html", p=proposal, steps=steps, place=place,
                programs={r["number"]: r["title"] for r in programs})  # fmt: skip


@get("/lacak/{code:str}/perbaiki", include_in_schema=False)
async def revise_form(request: Request, pool: asyncpg.Pool, code: str) -> Template:
    async with pool.acquire() as conn:
        proposal = await proposal_views.get(conn, code_or_404(code))
    if proposal is None:
        raise NotFoundException()
    entered = {f: "" if proposal[f] is None else str(proposal[f]) for f in CONTENT_FIELDS}
    return page(request, "proposal_revise.html", **await _form_context(pool), p=proposal, values=entered,
                errors={}, idempotency_key=str(uuid.uuid4()))  # fmt: skip


@post("/lacak/{code:str}/perbaiki", include_in_schema=False)
async def revise_submit(
    request: Request, pool: asyncpg.Pool, proposals: ProposalService, runner: ProjectionRunner, code: str
) -> Response:
    code = code_or_404(code)
    form = await request.form()
    entered = {name: str(form.get(name, "")) for name in CONTENT_FIELDS}
    secret = str(form.get("revision_secret", ""))
    key = form_key(form)
    async with pool.acquire() as conn:
        proposal = await proposal_views.get(conn, code)
    if proposal is None:
        raise NotFoundException()
    errors: dict[str, str] = {}
    try:
        content = await proposals.validate(rules.ProposalInput(**entered))
        result = await proposals.revise(code, secret, content, idempotency_key=key)
    except ValidationFailed as exc:
        errors = exc.errors
    except DomainError as exc:  # wrong secret, or not returned for revision
        errors = {"revision_secret" if exc.code == "forbidden" else "form": exc.message}
    if errors:
        return page(request, "proposal_revise.html", status=422, **await _form_context(pool), p=proposal,
                    values=entered, errors={f: translate(request, m) for f, m in errors.items()},
                    idempotency_key=key or str(uuid.uuid4()))  # fmt: skip
    await runner.wait_until_applied(["proposals"], result.last)
    return Redirect(f"/lacak/{code}", status_code=303)


@get("/kelurahan/{kode:str}", include_in_schema=False)
async def kelurahan_page(request: Request, pool: asyncpg.Pool, kode: str) -> Template:
    rw = _int_param(request, "rw")
    bidang = request.query_params.get("bidang") or None
    if bidang is not None and bidang not in rules.BIDANG:
        bidang = None
    page_number = max(1, _int_param(request, "halaman") or 1)
    async with pool.acquire() as conn:
        place = await region(conn, kode)
        if place is None or place["tingkat"] != "kelurahan":
            raise NotFoundException()
        total, rows = await proposal_views.in_kelurahan(
            conn, kode, rw=rw, bidang=bidang, limit=PAGE_SIZE, offset=(page_number - 1) * PAGE_SIZE
        )
        rws = await proposal_views.rws_in_kelurahan(conn, kode)
    return page(request, "kelurahan.html", place=place, proposals=rows, total=total, rws=rws, rw=rw,
                bidang=bidang, page_number=page_number, pages=max(1, math.ceil(total / PAGE_SIZE)))  # fmt: skip


@get("/kecamatan/{kode:str}", include_in_schema=False)
async def kecamatan_page(request: Request, pool: asyncpg.Pool, kode: str) -> Template:
    async with pool.acquire() as conn:
        place = await region(conn, kode)
        if place is None or place["tingkat"] != "kecamatan":
            raise NotFoundException()
        rows = await proposal_views.totals_by_kelurahan(conn, kode)
    return page(request, "kecamatan.html", place=place, rows=rows)


def _int_param(request: Request, name: str) -> int | None:
    raw = request.query_params.get(name, "")
    return int(raw) if raw.isascii() and raw.isdigit() and len(raw) < 6 else None


_FORM_KEY = re.compile(r"[A-Za-z0-9._:-]{1,200}")


def form_key(form: Any) -> str | None:
    """The idempotency key a form carries (the page put a UUID there); a form whose key is not one of ours
    was not made by our pages, and nothing from it reaches the log."""
    key = str(form.get("idempotency_key") or "")
    if key and not _FORM_KEY.fullmatch(key):
        raise BadForm(N_("formulir ini tidak dibuat oleh halaman kami; muat ulang halaman dan kirim lagi"))
    return key or None
