"""The proposal forms of residents: a new proposal (or one carried over from an earlier year) and the
revision of one returned for revision. Every field's error is shown beside it; what was typed is never lost."""

from __future__ import annotations

import dataclasses
import uuid
from typing import Any
from urllib.parse import urlencode

import asyncpg
from litestar import Controller, Request, Response, get, post
from litestar.datastructures import UploadFile
from litestar.exceptions import NotFoundException
from litestar.params import FromPath
from litestar.response import Redirect, Template

from musrenbang.domain import proposal as rules
from musrenbang.domain import values
from musrenbang.domain.access import require_region
from musrenbang.domain.errors import N_, DomainError, Message, ValidationFailed
from musrenbang.eventlog.store import IdempotencyKeyReused, Position
from musrenbang.http.auth import NOT_KEPT, optional_actor
from musrenbang.http.deps import PoolDep, ProposalsDep, RunnerDep
from musrenbang.http.errors import code_or_404
from musrenbang.http.i18n import translate
from musrenbang.http.idempotency import resident_key
from musrenbang.http.inputs import form_key, form_text, int_param
from musrenbang.http.ratelimit import RateLimited, client_address, count_photo_decode, count_submission
from musrenbang.http.render import as_typed, page, shown_back
from musrenbang.photos import MAX_BYTES, DecoderBusy, PhotoRejected, ProcessedPhoto, original_sha256, process_off_loop
from musrenbang.photos import check as check_photo
from musrenbang.projections import cycles
from musrenbang.projections import proposals as proposal_views
from musrenbang.projections.runner import ProjectionRunner
from musrenbang.reference import kecamatan_with_kelurahan
from musrenbang.services.freshness import ReadModelBehind
from musrenbang.services.proposals import ProposalService, Submitted

FORM_MAX_BODY = 3 * MAX_BYTES + 256 * 1024  # three photos and the text fields
CONTENT_FIELDS = tuple(rules.ProposalInput.__struct_fields__)


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


async def _cannot_propose_again(proposals: ProposalService, earlier: asyncpg.Record, year: int) -> str | None:
    """Why `earlier` cannot be proposed again for `year` (already in the RKPD, already proposed again, a
    DPRD pokir, …), by the very rule its submission is checked with (`carry_over_check`); None when it
    can, or when the read models are too far behind to say (the submission checks it then)."""
    try:
        await proposals.carry_over_check(earlier["code"], year, earlier["kelurahan"])
    except ReadModelBehind:
        return None
    except ValidationFailed as exc:
        return next(iter(exc.errors.values()), exc.message)
    except DomainError as exc:
        return exc.message
    return None


class ProposalFormPages(Controller):
    """Public: any resident proposes, without an account, so no guard (a signed-in facilitator may carry a
    proposal over for its proposer, checked in the handler)."""

    path = "/usulan/baru"
    include_in_schema = False

    @get("/", cache_control=NOT_KEPT)
    async def new_proposal_form(self, request: Request, pool: PoolDep, proposals: ProposalsDep) -> Template:
        """The form for the cycle taking proposals now; or, when none is, why not and when they open. With
        `?lanjutan=KODE` it proposes an earlier year's proposal again, filled in with what it said."""
        try:
            year = await proposals.open_year(int_param(request, "tahun"))
        except DomainError as exc:
            return page(request, "proposal_closed.html", message=translate(request, exc.message))
        entered = {"kelurahan": request.query_params.get("kelurahan", "")}
        earlier = await _earlier(pool, request.query_params.get("lanjutan", ""))
        if earlier is not None and earlier["year"] > year:  # said before the resident types, not after
            message = Message(
                N_("usulan %(code)s dari tahun %(year)d hanya dapat diusulkan lagi untuk tahun sesudahnya"),
                code=earlier["code"], year=earlier["year"])  # fmt: skip
            return page(request, "proposal_closed.html", status=422, message=translate(request, message))
        if earlier is not None:
            refused = await _cannot_propose_again(proposals, earlier, year)
            if refused is not None:  # said before the resident types, not after: as the submission would say it
                return page(request, "proposal_form.html", status=409, cycle={"year": year}, earlier=earlier,
                            refused=translate(request, refused), values={}, errors={})  # fmt: skip
            entered = as_typed(earlier, CONTENT_FIELDS)
            entered["priority_program"] = ""  # numbered in the earlier year's list: chosen again for this one
            entered["carried_from"] = earlier["code"]
        return page(request, "proposal_form.html", **await _form_context(pool, year), values=entered, errors={},
                    earlier=earlier, actor=await optional_actor(request, pool),
                    idempotency_key=str(uuid.uuid4()))  # fmt: skip

    @post("/", request_max_body_size=FORM_MAX_BODY)
    async def submit_proposal_form(self, request: Request, pool: PoolDep, proposals: ProposalsDep,
                                   runner: RunnerDep) -> Template:  # fmt: skip
        """The very same form sent again (double tap, refresh after a slow answer) is answered first, with
        the proposal it made, whatever changed since: submissions closing, or the carry-over it made itself."""
        form = await request.form()
        entered = {name: form_text(form, name) for name in FORM_FIELDS}
        if form_text(form, "tanpa_lanjutan"):  # proposed afresh: the earlier proposal is left as it is
            entered["carried_from"] = entered["revision_secret"] = ""
        key = form_key(form) or str(uuid.uuid4())  # as the page shows it; in the log: resident_key(key)
        uploads = [f for f in form.getall("photos", []) if isinstance(f, UploadFile) and f.filename]
        raws = [await upload.read() for upload in uploads] if len(uploads) <= rules.MAX_PHOTOS else []
        print_ = proposals.fingerprint(entered, [original_sha256(raw) for raw in raws])
        try:
            submitted = await proposals.find_submitted(resident_key(key), print_)
        except IdempotencyKeyReused:
            # This form was sent before and changed since (Back, edit, send again): nothing new is recorded,
            # and the page says so, with the proposal it made the first time (not its secret: see made_with_key).
            earlier = await proposals.made_with_key(resident_key(key))
            if earlier is None:
                raise
            return page(request, "proposal_submitted.html", status=409, submitted=earlier, sent_before=True,
                        year=await _year_of(pool, earlier.code), lang_path=f"/lacak/{earlier.code}")  # fmt: skip
        if submitted is None:
            made = await _new_proposal(request, pool, proposals, entered, key, print_, len(uploads), raws)
            if isinstance(made, Template):
                return made
            submitted = made
        await runner.wait_until_applied(["proposals"], submitted.last)
        return page(request, "proposal_submitted.html", submitted=submitted, year=await _year_of(pool, submitted.code),
                    lang_path=f"/lacak/{submitted.code}", leaves_secret=bool(submitted.revision_secret))  # fmt: skip


async def _year_of(pool: asyncpg.Pool, code: str) -> int | None:
    """The RKPD year a proposal just made belongs to, as its page says it (None should the read model not
    have it yet: the page then leaves the year out)."""
    async with pool.acquire() as conn:
        proposal = await proposal_views.get(conn, code)
    return None if proposal is None else proposal["year"]


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
    photos: list[ProcessedPhoto] = []
    try:
        await count_submission(pool, address, resident_key(key), settings.submissions_per_hour)
        for raw in raws:
            await count_photo_decode(pool, address, settings.photos_per_hour)
            photos.append(await process_off_loop(raw))
    except PhotoRejected as exc:
        return await _form_again(request, pool, entered, {"photos": exc.message}, key, year=year, with_photos=True)
    except RateLimited as exc:
        # A kelurahan office's residents share one address: the form comes back as typed, to send later
        # (its key kept, so it is still one submission), not a page that loses a quarter of an hour's writing.
        again = await _form_again(request, pool, entered, {}, key, year=year, with_photos=bool(uploaded),
                                  status=429, refused_for_now=exc.message)  # fmt: skip
        again.headers["Retry-After"] = "3600"
        return again
    # Decoding photos takes seconds: then the cycle is read again (submissions may have closed meanwhile).
    return await proposals.submit(content, proposer, idempotency_key=resident_key(key), request_fingerprint=print_,
                                  photos=photos,
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
                      key: str, *, year: int, with_photos: bool, status: int = 422,
                      refused_for_now: str | None = None) -> Template:  # fmt: skip
    """The form once more, as it was filled in, each error beside its field (a browser cannot keep the
    chosen files, so the photos must be chosen again); `refused_for_now`: why the whole form was not taken
    now (the hourly limit), said above it."""
    if with_photos and "photos" not in errors and refused_for_now is None:
        errors["photos"] = N_("pilih foto lagi: foto tidak dapat disimpan sebelum isian lain benar")
    earlier = await _earlier(pool, entered["carried_from"]) if entered["carried_from"] else None
    again = f"?{urlencode({'lanjutan': earlier['code'], 'tahun': year})}" if earlier is not None else ""
    return page(request, "proposal_form.html", status=status, **await _form_context(pool, year),
                lang_path=f"/usulan/baru{again}",  # the language switch: this form again, not an empty one
                values=shown_back(entered), earlier=earlier, actor=await optional_actor(request, pool),
                errors={f: translate(request, m) for f, m in errors.items()}, idempotency_key=key,
                refused_for_now=translate(request, refused_for_now) if refused_for_now else None)  # fmt: skip


class RevisionFormPages(Controller):
    """Public: the proposer revises with the revision secret, not an account, so no guard."""

    path = "/lacak/{code:str}/perbaiki"
    include_in_schema = False

    @get("/", cache_control=NOT_KEPT)
    async def revise_form(self, request: Request, pool: PoolDep, code: FromPath[str]) -> Template:
        proposal = await _proposal_of(pool, code_or_404(code))
        entered = as_typed(proposal, CONTENT_FIELDS)
        return await _revise_page(request, pool, proposal, values=entered, errors={},
                                  idempotency_key=str(uuid.uuid4()))  # fmt: skip

    @post("/", request_max_body_size=FORM_MAX_BODY)
    async def revise_submit(
        self, request: Request, pool: PoolDep, proposals: ProposalsDep, runner: RunnerDep, code: FromPath[str]
    ) -> Response:
        """Photos chosen on the form are attached first, through the API's own checks, limits and service
        (`_attach_photos`), then the revision is sent: a proposal returned for a missing photo is corrected by
        the photo alone, its content left as it was (domain/proposal.py, `photos_added_since_return`)."""
        sent, proposal = await _revision_sent(request, pool, code_or_404(code))
        content, errors = await _checked_revision(proposals, proposal, sent)
        if errors or content is None:
            if sent.uploaded and "photos" not in errors:
                errors["photos"] = N_("pilih foto lagi: foto tidak dapat disimpan sebelum isian lain benar")
            return await _revise_again(request, pool, proposal, sent.entered, errors, sent.key)
        attached: Position | None = None
        if sent.raws:
            outcome = await _attach_revision_photos(request, pool, proposals, runner, proposal, sent)
            if isinstance(outcome, Template):
                return outcome
            attached = outcome
        return await _send_revision(request, pool, proposals, runner, proposal, sent, content, attached)


@dataclasses.dataclass(frozen=True)
class _RevisionForm:
    """The revision form as sent: the content fields, the proposer's secret, its idempotency key (as the
    page shows it; in the log: `resident_key(key)`), how many photos were chosen and the photos read (none
    when more were chosen than a proposal takes: refused without reading them)."""

    code: str
    entered: dict[str, str]
    secret: str
    key: str | None
    uploaded: int
    raws: list[bytes]


async def _revision_sent(request: Request, pool: asyncpg.Pool, code: str) -> tuple[_RevisionForm, asyncpg.Record]:
    """The form as sent, and the proposal it revises (404 when there is none): a form not made by our pages
    is refused before the proposal is looked up, and the photos are read only once it is found."""
    form = await request.form()
    entered = {name: form_text(form, name) for name in CONTENT_FIELDS}
    secret = form_text(form, "revision_secret")
    key = form_key(form)
    uploads = [f for f in form.getall("photos", []) if isinstance(f, UploadFile) and f.filename]
    proposal = await _proposal_of(pool, code)
    raws = [await upload.read() for upload in uploads] if len(uploads) <= rules.MAX_PHOTOS else []
    return _RevisionForm(code, entered, secret, key, len(uploads), raws), proposal


async def _checked_revision(proposals: ProposalService, proposal: asyncpg.Record, sent: _RevisionForm
                            ) -> tuple[rules.ProposalContent | None, dict[str, str]]:  # fmt: skip
    """The content checked for the proposal's year, and every field's error at once, the photos' with the
    others: nothing is attached or sent while one remains."""
    errors: dict[str, str] = {}
    content = None
    try:
        content = await proposals.validate(rules.ProposalInput(**sent.entered), year=proposal["year"])
    except ValidationFailed as exc:
        errors.update(exc.errors)
    if sent.uploaded:  # said with the other fields, and before any photo is decoded
        await _check_revision_photos(proposals, proposal, sent, errors)
    return content, errors


async def _check_revision_photos(proposals: ProposalService, proposal: asyncpg.Record, sent: _RevisionForm,
                                 errors: dict[str, str]) -> None:  # fmt: skip
    """The photos' errors that need no decoding, into `errors`: the secret (a photo is attached before the
    revision checks it), the room left, and each photo's size, format and pixels. Photos this very form
    attached when it was sent before take no room, so they are counted only when the room seems short."""
    try:
        proposals.check_secret(sent.code, sent.secret)
    except DomainError as exc:
        errors["revision_secret"] = exc.message
    room = _photo_room(proposal)
    too_many = sent.uploaded > rules.MAX_PHOTOS
    if not too_many and sent.uploaded > room:
        too_many = await _new_photos(proposals, sent.code, sent.secret, sent.raws) > room
    if too_many:
        errors["photos"] = N_("paling banyak 3 foto per usulan")
    else:
        _check_photos(sent.raws, errors)


async def _attach_revision_photos(request: Request, pool: asyncpg.Pool, proposals: ProposalService,
                                  runner: ProjectionRunner, proposal: asyncpg.Record,
                                  sent: _RevisionForm) -> Position | Template | None:  # fmt: skip
    """Where the last photo attached is (None if none was written), or the page that answers instead: the
    form sent before (409), or a photo refused, shown once the photos attached before it are in the read
    model (read-your-writes: the page lists them and the room they took)."""
    try:
        return await _attach_photos(request, pool, proposals, sent.code, sent.secret, sent.key, sent.raws)
    except _SentBefore:
        return await _sent_before(request, pool, proposal, sent)
    except _PhotosRefused as refused:
        if refused.written is not None:
            await runner.wait_until_applied(["proposals"], refused.written)
        proposal = await _proposal_of(pool, sent.code)  # the photos attached before the one refused show
        return await _revise_again(request, pool, proposal, sent.entered, {"photos": refused.message}, sent.key)


async def _send_revision(request: Request, pool: asyncpg.Pool, proposals: ProposalService, runner: ProjectionRunner,
                         proposal: asyncpg.Record, sent: _RevisionForm, content: rules.ProposalContent,
                         attached: Position | None) -> Response:  # fmt: skip
    """The revision itself, once its photos are attached; on to the proposal's page once the read model has
    it (read-your-writes), or the form again with why not."""
    errors: dict[str, str] = {}
    code, key = sent.code, sent.key
    try:
        result = await proposals.revise(code, sent.secret, content, idempotency_key=resident_key(key) if key else None)
    except IdempotencyKeyReused:
        # This form was sent before and changed since (Back, edit, send again): nothing new is recorded,
        # and the page says so in words a proposer reads, not as a technical conflict.
        earlier = await proposals.made_with_key(resident_key(key or ""))
        if earlier is None or earlier.code != code:
            raise
        return await _sent_before(request, pool, proposal, sent)
    except ValidationFailed as exc:
        errors = exc.errors
    except DomainError as exc:  # wrong secret, or not returned for revision
        errors = {"revision_secret" if exc.code == "forbidden" else "form": exc.message}
    if errors:
        if attached is not None:  # its photos are attached: the page shows them
            await runner.wait_until_applied(["proposals"], attached)
            proposal = await _proposal_of(pool, code)
        return await _revise_again(request, pool, proposal, sent.entered, errors, key)
    await runner.wait_until_applied(["proposals"], result.last)
    return Redirect(f"/lacak/{code}", status_code=303)


async def _sent_before(request: Request, pool: asyncpg.Pool, proposal: asyncpg.Record, sent: _RevisionForm
                       ) -> Template:  # fmt: skip
    """The form sent before, and changed since: nothing new is recorded (409), and the page says so, with
    what was typed kept."""
    return await _revise_page(request, pool, proposal, status=409, values=shown_back(sent.entered), errors={},
                              idempotency_key=sent.key, sent_before=True)  # fmt: skip


async def _proposal_of(pool: asyncpg.Pool, code: str) -> asyncpg.Record:
    """The proposal a revision form is about, as its page shows it (404 when there is none)."""
    async with pool.acquire() as conn:
        proposal = await proposal_views.get(conn, code)
    if proposal is None:
        raise NotFoundException()
    return proposal


def _photo_room(proposal: asyncpg.Record) -> int:
    """How many more photos the proposal may take (`rules.MAX_PHOTOS` in all), as its read model has it."""
    return max(0, rules.MAX_PHOTOS - len(proposal["photo_ids"] or ()))


async def _revise_page(request: Request, pool: asyncpg.Pool, proposal: asyncpg.Record, *, status: int = 200,
                       **context: Any) -> Template:  # fmt: skip
    return page(request, "proposal_revise.html", status=status, **await _form_context(pool, proposal["year"]),
                p=proposal, photo_room=_photo_room(proposal), **context)  # fmt: skip


async def _revise_again(request: Request, pool: asyncpg.Pool, proposal: asyncpg.Record, entered: dict[str, str],
                        errors: dict[str, str], key: str | None) -> Template:  # fmt: skip
    """The revision form once more, as it was filled in, each error beside its field."""
    return await _revise_page(request, pool, proposal, status=422, values=shown_back(entered),
                              errors={f: translate(request, m) for f, m in errors.items()},
                              idempotency_key=key or str(uuid.uuid4()))  # fmt: skip


async def _new_photos(proposals: ProposalService, code: str, secret: str, raws: list[bytes]) -> int:
    """How many of the form's photos are not attached yet: the same form sent twice (a double tap) brings
    again the photos its first sending attached, and they take no room."""
    new = 0
    for raw in raws:
        try:
            new += await proposals.photo_already_attached(code, secret, original_sha256(raw)) is None
        except DomainError:  # no room for it, or not the proposer's: not attached either way
            new += 1
    return new


class _SentBefore(Exception):
    """The revision form was sent before (its key made a revision) and now brings a photo it did not."""


class _PhotosRefused(Exception):
    """A photo of the revision form refused; `written`: where the last photo attached before it was."""

    def __init__(self, message: str, written: Position | None) -> None:
        self.message, self.written = message, written


async def _attach_photos(request: Request, pool: asyncpg.Pool, proposals: ProposalService, code: str, secret: str,
                         key: str | None, raws: list[bytes]) -> Position | None:  # fmt: skip
    """Attach the revision form's photos as `POST /api/v1/proposals/{code}/photos` does, one after the
    other: what refuses without decoding first, then the address's hourly count of decodes, the decoding
    and `attach_photo`. A photo already attached (the same form sent twice) is not decoded again. Returns
    where the last one written is, None if none was."""
    settings = request.app.state.settings
    address = client_address(request, settings.trust_proxy)
    sent_before = None
    written: Position | None = None
    for raw in raws:
        try:
            if await proposals.photo_already_attached(code, secret, original_sha256(raw)) is not None:
                continue
            if sent_before is None:
                earlier = await proposals.made_with_key(resident_key(key)) if key else None
                sent_before = earlier is not None and earlier.code == code
            if sent_before:  # a photo chosen after the form went (Back, another photo): not sent, as typed changes
                raise _SentBefore()
            await count_photo_decode(pool, address, settings.photos_per_hour)
            _, last = await proposals.attach_photo(code, secret, await process_off_loop(raw))
        except (RateLimited, DecoderBusy):
            raise  # 429 and 503, as for any upload: try again later
        except DomainError as exc:  # a photo that is no photo, no room left, no longer returned
            raise _PhotosRefused(exc.message, written) from None
        written = last or written
    return written
