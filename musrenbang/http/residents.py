"""Pages for residents: propose, follow a proposal, browse a kelurahan or kecamatan."""

from __future__ import annotations

import re
import uuid
from typing import Any

import asyncpg
from litestar import Request, Response, get, post
from litestar.datastructures import UploadFile
from litestar.exceptions import NotFoundException
from litestar.params import FromPath
from litestar.response import Redirect, Template

from musrenbang.delivery.channels import printable
from musrenbang.domain import bounds, values
from musrenbang.domain import proposal as rules
from musrenbang.domain.access import require_region
from musrenbang.domain.cycle import STAGE_LABELS, WINDOW_LABELS
from musrenbang.domain.errors import N_, DomainError, ValidationFailed
from musrenbang.domain.search import MAX_TYPED, search_key
from musrenbang.eventlog.store import IdempotencyKeyReused
from musrenbang.http import feeds, page_cache
from musrenbang.http.auth import optional_actor
from musrenbang.http.deps import PoolDep, ProposalsDep, RunnerDep
from musrenbang.http.errors import NOT_OUR_FORM, BadForm, code_or_404
from musrenbang.http.i18n import translate
from musrenbang.http.ratelimit import client_address, count_attempt, count_photo_decode, count_submission
from musrenbang.http.reads import FROM_REPLICA, found_on_standby_or_primary
from musrenbang.http.render import as_typed, page, page_context, page_count, page_number, rendered, shown_back
from musrenbang.photos import MAX_BYTES, PhotoRejected, ProcessedPhoto, original_sha256, process_off_loop
from musrenbang.photos import check as check_photo
from musrenbang.projections import city as city_views
from musrenbang.projections import cycles
from musrenbang.projections import proposals as proposal_views
from musrenbang.projections.proposals import SEARCH_PAGE
from musrenbang.reference import kecamatan_with_kelurahan, region, villages
from musrenbang.services import cycles as cycle_service
from musrenbang.services.proposals import ProposalService, Submitted, stop_proposer_news

FORM_MAX_BODY = 3 * MAX_BYTES + 256 * 1024  # three photos and the text fields
PAGE_SIZE = 25
CONTENT_FIELDS = tuple(rules.ProposalInput.__struct_fields__)


@get("/", include_in_schema=False, dependencies=FROM_REPLICA)
async def home(request: Request, pool: PoolDep) -> Template:
    """What is open now and until when, every year's cycle, the planned year's programs, and the way to
    a kecamatan's or a village's proposals (villages by kecamatan, or searched: a kabupaten has hundreds)."""
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
                long_date=values.long_date, taking=[c["year"] for c, stage, _ in now if stage == "usulan"])  # fmt: skip


REGION_PAGE = 50


@get("/wilayah", include_in_schema=False, dependencies=FROM_REPLICA)
async def regions_page(request: Request, pool: PoolDep) -> Template:
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


SEARCH_MODELS = ("proposals", "cycles", "city")
"""What the proposal search reads (regions are reference data)."""


@get("/usulan", include_in_schema=False, dependencies=FROM_REPLICA)
async def search_proposals(request: Request, pool: PoolDep) -> Response:
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


async def _form_context(pool: asyncpg.Pool, year: int | None) -> dict[str, Any]:
    async with pool.acquire() as conn:
        return {
            "kecamatan": await kecamatan_with_kelurahan(conn),
            "programs": await cycles.priority_programs(conn, year) if year else [],
            "cycle": {"year": year} if year else None,
        }


async def _earlier(pool: asyncpg.Pool, code: str) -> asyncpg.Record | None:
    """The proposal a resident proposes again (`?lanjutan=KODE`), if the code names one."""
    try:
        canonical = values.normalize_code(code)
    except ValueError:
        return None
    async with pool.acquire() as conn:
        return await proposal_views.get(conn, canonical)


@get("/usulan/baru", include_in_schema=False)
async def new_proposal_form(request: Request, pool: PoolDep, proposals: ProposalsDep) -> Template:
    """The form for the cycle taking proposals now; or, when none is, why not and when they open. With
    `?lanjutan=KODE` it proposes an earlier year's proposal again, filled in with what it said."""
    try:
        year = await proposals.open_year(int_param(request, "tahun"))
    except DomainError as exc:
        return page(request, "proposal_closed.html", message=translate(request, exc.message))
    entered = {"kelurahan": request.query_params.get("kelurahan", "")}
    earlier = await _earlier(pool, request.query_params.get("lanjutan", ""))
    if earlier is not None:
        entered = as_typed(earlier, CONTENT_FIELDS)
        entered["priority_program"] = ""  # numbered in the earlier year's list: chosen again for this one
        entered["carried_from"] = earlier["code"]
    return page(request, "proposal_form.html", **await _form_context(pool, year), values=entered, errors={},
                earlier=earlier, actor=await optional_actor(request, pool),
                idempotency_key=str(uuid.uuid4()))  # fmt: skip


KEPT_WHEN_CLOSED = ("title", "problem", "solution", "address")
"""The words a resident wrote, shown back when submissions closed while they typed (nothing is stored):
an answer that dropped them lost the work of a quarter of an hour, which next year's form can take."""
FORM_FIELDS = (*CONTENT_FIELDS, "proposer_name", "proposer_phone", "proposer_email", "notify", "year", "carried_from",
               "revision_secret")  # fmt: skip


async def _carry_from_form(request: Request, proposals: ProposalService, entered: dict[str, str], year: int,
                           kelurahan: str) -> str | None:  # fmt: skip
    """The earlier proposal this form proposes again, once the proposer's secret (or the signed-in
    facilitator of the kelurahan) says they may; a ValidationFailed beside the field otherwise."""
    if not entered["carried_from"]:
        return None
    try:
        earlier = values.normalize_code(entered["carried_from"])
    except ValueError:
        raise ValidationFailed({"carried_from": N_("kode usulan sebelumnya tidak dikenal")}) from None
    actor = await optional_actor(request, request.app.state.pool)
    try:
        if actor is not None and actor.role in ("facilitator", "admin"):
            require_region(actor, kelurahan)
        else:
            proposals.check_secret(earlier, entered["revision_secret"])
        await proposals.carry_over_check(earlier, year, kelurahan)
    except ValidationFailed:
        raise
    except DomainError as exc:
        field = "revision_secret" if exc.code == "forbidden" else "carried_from"
        raise ValidationFailed({field: exc.message}) from None
    return earlier


@post("/usulan/baru", include_in_schema=False, request_max_body_size=FORM_MAX_BODY)
async def submit_proposal_form(request: Request, pool: PoolDep, proposals: ProposalsDep, runner: RunnerDep) -> Template:
    """The very same form sent again (double tap, refresh after a slow answer) is answered first, with
    the proposal it made, whatever changed since: submissions closing, or the carry-over it made itself."""
    form = await request.form()
    entered = {name: form_text(form, name) for name in FORM_FIELDS}
    if form_text(form, "tanpa_lanjutan"):  # proposed afresh: the earlier proposal is left as it is
        entered["carried_from"] = entered["revision_secret"] = ""
    key = form_key(form) or str(uuid.uuid4())
    uploads = [f for f in form.getall("photos", []) if isinstance(f, UploadFile) and f.filename]
    raws = [await upload.read() for upload in uploads] if len(uploads) <= rules.MAX_PHOTOS else []
    print_ = proposals.fingerprint(entered, [original_sha256(raw) for raw in raws])
    try:
        submitted = await proposals.find_submitted(key, print_)
    except IdempotencyKeyReused:
        # This form was sent before and changed since (Back, edit, send again): nothing new is recorded,
        # and the page says so, with the proposal it made the first time.
        earlier = await proposals.made_with_key(key)
        if earlier is None:
            raise
        return page(request, "proposal_submitted.html", status=409, submitted=earlier, sent_before=True)
    if submitted is None:
        made = await _new_proposal(request, pool, proposals, entered, key, print_, len(uploads), raws)
        if isinstance(made, Template):
            return made
        submitted = made
    await runner.wait_until_applied(["proposals"], submitted.last)
    return page(request, "proposal_submitted.html", submitted=submitted)


async def _new_proposal(request: Request, pool: asyncpg.Pool, proposals: ProposalService, entered: dict[str, str],
                        key: str, print_: str, uploaded: int, raws: list[bytes]) -> Submitted | Template:  # fmt: skip
    """Check every field and photo (each error shown beside its field), then count the address's limits
    and decode the photos, then submit. Only a form right in every field gets that far."""
    asked = entered["year"].strip()
    try:
        cycle = await proposals.taking(int(asked) if asked.isascii() and asked.isdigit() and len(asked) == 4
                                       else None)  # fmt: skip
    except DomainError as exc:  # closed while it was being typed: what was typed is shown to be kept
        return page(request, "proposal_closed.html", status=409, message=translate(request, exc.message),
                    typed=shown_back({name: entered[name].strip()[:5000] for name in KEPT_WHEN_CLOSED}))  # fmt: skip
    year = cycle.year or 0  # an existing cycle has its year
    errors: dict[str, str] = {}
    content = proposer = carried_from = None
    try:
        content = await proposals.validate(rules.ProposalInput(**{f: entered[f] for f in CONTENT_FIELDS}), year=year,
                                           cycle=cycle)  # fmt: skip
        carried_from = await _carry_from_form(request, proposals, entered, year, content.kelurahan)
    except ValidationFailed as exc:
        errors.update(exc.errors)
    try:
        proposer = rules.validate_proposer(entered["proposer_name"], entered["proposer_phone"],
                                           entered["proposer_email"], entered["notify"])  # fmt: skip
    except ValidationFailed as exc:
        errors.update(exc.errors)
    if uploaded > rules.MAX_PHOTOS:
        errors["photos"] = N_("paling banyak 3 foto per usulan")
    else:
        _check_photos(raws, errors)
    if errors or content is None or proposer is None:
        return await _form_again(request, pool, entered, errors, key, year=year, with_photos=bool(uploaded))
    settings = request.app.state.settings
    address = client_address(request, settings.trust_proxy)
    await count_submission(pool, address, key, settings.submissions_per_hour)
    photos: list[ProcessedPhoto] = []
    try:
        for raw in raws:
            await count_photo_decode(pool, address, settings.photos_per_hour)
            photos.append(await process_off_loop(raw))
    except PhotoRejected as exc:
        return await _form_again(request, pool, entered, {"photos": exc.message}, key, year=year, with_photos=True)
    # Decoding photos takes seconds: then the cycle is read again (submissions may have closed meanwhile).
    return await proposals.submit(content, proposer, idempotency_key=key, request_fingerprint=print_, photos=photos,
                                  replay_checked=True, year=year, carried_from=carried_from,
                                  cycle=None if photos else cycle)  # fmt: skip


def _check_photos(raws: list[bytes], errors: dict[str, str]) -> None:
    """The checks that need no decoding (size, format, pixels), so a photo's error shows beside the others."""
    for raw in raws:
        try:
            check_photo(raw)
        except PhotoRejected as exc:
            errors["photos"] = exc.message
            return


async def _form_again(request: Request, pool: asyncpg.Pool, entered: dict[str, str], errors: dict[str, str],
                      key: str, *, year: int, with_photos: bool) -> Template:  # fmt: skip
    """The form once more, as it was filled in, each error beside its field (a browser cannot keep the
    chosen files, so the photos must be chosen again)."""
    if with_photos and "photos" not in errors:
        errors["photos"] = N_("pilih foto lagi: foto tidak dapat disimpan sebelum isian lain benar")
    earlier = await _earlier(pool, entered["carried_from"]) if entered["carried_from"] else None
    return page(request, "proposal_form.html", status=422, **await _form_context(pool, year),
                values=shown_back(entered), earlier=earlier, actor=await optional_actor(request, pool),
                errors={f: translate(request, m) for f, m in errors.items()}, idempotency_key=key)  # fmt: skip


@get("/lacak", include_in_schema=False)
async def find_proposal(request: Request) -> Response:
    """A code typed in the lookup form: its page, or the form again saying why not, showing what was typed
    less the control characters no page can carry."""
    typed = request.query_params.get("kode", "")
    if not printable(typed):
        return page(request, "track_lookup.html", typed="", error="")
    try:
        code = values.normalize_code(typed)
    except ValueError as exc:
        return page(request, "track_lookup.html", status=422, typed=printable(typed[:100]),
                    error=translate(request, exc.args[0]))  # fmt: skip
    return Redirect(f"/lacak/{code}", status_code=303)


@get("/lacak/{code:str}", include_in_schema=False, dependencies=FROM_REPLICA)
async def track(request: Request, pool: PoolDep, code: FromPath[str]) -> Response:
    canonical = code_or_404(code)
    if canonical != code:
        return Redirect(f"/lacak/{canonical}", status_code=301)
    context = await found_on_standby_or_primary(request, pool, lambda conn: _tracked(conn, code))
    news = request.query_params.get("kabar")
    return page(request, "track.html", **context, news=news if news == "diminta" else None)


async def _tracked(conn: asyncpg.Connection, code: str) -> dict[str, Any]:
    """What the tracking page shows of a proposal: its face, steps, years, place, the year's programs, and
    the soonest year that would take it again (when it was not accommodated and not carried over yet)."""
    proposal = await proposal_views.get(conn, code)
    if proposal is None:
        raise NotFoundException()
    steps = await proposal_views.timeline(conn, code)
    years = await proposal_views.history(conn, code)
    place = await region(conn, proposal["kelurahan"])
    programs = await cycles.priority_programs(conn, proposal["year"])
    own = await cycles.cycle_row(conn, proposal["year"])
    open_today = cycles.open_windows(await cycles.overview(conn, cycle_service.today()))
    taking = [c["year"] for c, stage, _ in open_today if stage == "usulan"]
    again = min((y for y in taking if y > proposal["year"]), default=None)
    if proposal["carried_to"] or not rules.not_accommodated(proposal["status"], bool(own and own["adopted"])):
        again = None
    return {"p": proposal, "steps": steps, "place": place, "years": years, "again": again,
            "programs": {r["number"]: r["title"] for r in programs}}  # fmt: skip


@post("/lacak/{code:str}/berhenti", include_in_schema=False, request_max_body_size=8 * 1024)
async def stop_news(request: Request, pool: PoolDep, code: FromPath[str]) -> Response:
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


STOPS_PER_HOUR = 10


@get("/lacak/{code:str}/perbaiki", include_in_schema=False)
async def revise_form(request: Request, pool: PoolDep, code: FromPath[str]) -> Template:
    async with pool.acquire() as conn:
        proposal = await proposal_views.get(conn, code_or_404(code))
    if proposal is None:
        raise NotFoundException()
    entered = as_typed(proposal, CONTENT_FIELDS)
    return page(request, "proposal_revise.html", **await _form_context(pool, proposal["year"]), p=proposal,
                values=entered, errors={}, idempotency_key=str(uuid.uuid4()))  # fmt: skip


@post("/lacak/{code:str}/perbaiki", include_in_schema=False)
async def revise_submit(
    request: Request, pool: PoolDep, proposals: ProposalsDep, runner: RunnerDep, code: FromPath[str]
) -> Response:
    code = code_or_404(code)
    form = await request.form()
    entered = {name: form_text(form, name) for name in CONTENT_FIELDS}
    secret = form_text(form, "revision_secret")
    key = form_key(form)
    async with pool.acquire() as conn:
        proposal = await proposal_views.get(conn, code)
    if proposal is None:
        raise NotFoundException()
    errors: dict[str, str] = {}
    try:
        content = await proposals.validate(rules.ProposalInput(**entered), year=proposal["year"])
        result = await proposals.revise(code, secret, content, idempotency_key=key)
    except IdempotencyKeyReused:
        # This form was sent before and changed since (Back, edit, send again): nothing new is recorded,
        # and the page says so in words a proposer reads, not as a technical conflict.
        earlier = await proposals.made_with_key(key or "")
        if earlier is None or earlier.code != code:
            raise
        return page(request, "proposal_revise.html", status=409, **await _form_context(pool, proposal["year"]),
                    p=proposal, values=shown_back(entered), errors={}, idempotency_key=key,
                    sent_before=True)  # fmt: skip
    except ValidationFailed as exc:
        errors = exc.errors
    except DomainError as exc:  # wrong secret, or not returned for revision
        errors = {"revision_secret" if exc.code == "forbidden" else "form": exc.message}
    if errors:
        context = await _form_context(pool, proposal["year"])
        return page(request, "proposal_revise.html", status=422, **context, p=proposal, values=shown_back(entered),
                    errors={f: translate(request, m) for f, m in errors.items()},
                    idempotency_key=key or str(uuid.uuid4()))  # fmt: skip
    await runner.wait_until_applied(["proposals"], result.last)
    return Redirect(f"/lacak/{code}", status_code=303)


@get("/kelurahan/{kode:str}", include_in_schema=False, dependencies=FROM_REPLICA)
async def kelurahan_page(request: Request, pool: PoolDep, kode: FromPath[str]) -> Response:
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
        rws = await proposal_views.rws_in_kelurahan(conn, kode)
    return page(request, "kelurahan.html", place=place, proposals=rows, total=total, rws=rws, rw=rw,
                bidang=bidang, page_number=number, pages=page_count(total, PAGE_SIZE, number), year=year,
                years=years)  # fmt: skip


@get("/kecamatan/{kode:str}", include_in_schema=False, dependencies=FROM_REPLICA)
async def kecamatan_page(request: Request, pool: PoolDep, kode: FromPath[str]) -> Response:
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


async def year_asked(request: Request, conn: asyncpg.Connection) -> tuple[int | None, list[int]]:
    """The RKPD year a public page shows (`?tahun=`, default the cycle being planned; None before any
    cycle is open) and every year there is."""
    years = [r["year"] for r in await cycles.all_cycles(conn)]
    asked = int_param(request, "tahun")
    if asked in years:
        return asked, years
    planned = await cycles.current_cycle(conn, cycle_service.today())
    return (planned["year"] if planned else None), years


async def year_shown(request: Request, conn: asyncpg.Connection) -> tuple[int | None, list[int]]:
    """`year_asked`, refusing (400) a `?tahun=` the page cannot show: one that is not a year from
    `bounds.MIN_YEAR` to `MAX_YEAR`, or a year without a cycle. Answering the planned year's proposals at
    `?tahun=1999` told a reader who mistyped that 1999 had them."""
    typed, asked = request.query_params.get("tahun"), int_param(request, "tahun")
    if typed:
        try:
            bounds.year(asked or 0)  # not a number at all: as out of range
        except ValueError as exc:
            raise BadForm(exc.args[0]) from None
    year, years = await year_asked(request, conn)
    if typed and year != asked:
        raise BadForm(N_("Tidak ada siklus perencanaan untuk tahun itu."))
    return year, years


def typed_search(request: Request) -> str:
    """What was typed in a list's search box (`?q=`), as the page shows it back: at most MAX_TYPED
    characters, without NUL and other control characters (a raw NUL went into `value="…"`)."""
    return printable(request.query_params.get("q", "")[:MAX_TYPED])


def finds_nothing(typed: str) -> bool:
    """Whether a search was typed that no search key can match (Cyrillic, an emoji, `--`: a key keeps
    ASCII letters and digits only). It finds nothing; read as no search, it listed every row."""
    return bool(typed) and not search_key(typed)


def int_param(request: Request, name: str) -> int | None:
    raw = request.query_params.get(name, "")
    return int(raw) if raw.isascii() and raw.isdigit() and len(raw) < 6 else None


_FORM_KEY = re.compile(r"[A-Za-z0-9._:-]{1,200}")


def form_key(form: Any) -> str | None:
    """The idempotency key a form carries (the page put a UUID there); a form whose key is not one of ours
    was not made by our pages, and nothing from it reaches the log."""
    key = form_text(form, "idempotency_key")
    if key and not _FORM_KEY.fullmatch(key):
        raise BadForm(NOT_OUR_FORM)
    return key or None


def form_text(form: Any, name: str) -> str:
    """A text field of a form ("" when absent). A file sent in its place is refused (BadForm): no page of
    ours sends one there, and read as text it was stored as "x.txt - text/plain"."""
    value = form.get(name, "")
    if isinstance(value, UploadFile):
        raise BadForm(NOT_OUR_FORM)
    return str(value)
