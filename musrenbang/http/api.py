"""The public JSON API for proposals (documented at /schema). No response carries personal data."""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import inspect
from typing import Annotated, Any

import asyncpg
import msgspec
from litestar import Controller, Litestar, Request, Response, get, post
from litestar.datastructures import UploadFile
from litestar.exceptions import NotFoundException
from litestar.handlers import HTTPRouteHandler
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import OpenAPIType, Schema
from litestar.params import FromPath, HeaderParameter, JSONBody, MultipartBody, Parameter
from litestar.routes import HTTPRoute

from musrenbang.domain import bounds, values
from musrenbang.domain import proposal as rules
from musrenbang.domain.access import Forbidden, require_region
from musrenbang.domain.cycle import Cycle
from musrenbang.domain.errors import N_, ValidationFailed
from musrenbang.http.auth import optional_actor
from musrenbang.http.deps import PoolDep, ProposalsDep, RunnerDep
from musrenbang.http.errors import code_or_404
from musrenbang.http.idempotency import OptionalKey, resident_key
from musrenbang.http.ratelimit import client_address, count_photo_decode, count_submission
from musrenbang.http.reads import FROM_REPLICA, found_on_standby_or_primary
from musrenbang.photos import MAX_BYTES, original_sha256, process_off_loop
from musrenbang.photos import check as check_photo
from musrenbang.projections import cycles as cycle_views
from musrenbang.projections import proposals as proposal_views
from musrenbang.reference import region
from musrenbang.services import cycles as cycles_service
from musrenbang.services.proposals import ProposalService

Text = Annotated[str, msgspec.Meta(max_length=5000)]
IdempotencyKey = Annotated[
    str,
    HeaderParameter(
        name="Idempotency-Key",
        min_length=8,
        max_length=200,
        description="Any unique string per proposal (e.g. a UUID). Sending the same request again with the"
        " same key returns the same proposal instead of creating a second one.",
    ),
]


class ErrorOut(msgspec.Struct, kw_only=True):
    """What every refused request answers (musrenbang/http/errors.py), documented so that a client built
    from this schema reads it rather than Litestar's default shape, which is never sent."""

    error: Annotated[str, msgspec.Meta(examples=["invalid"], description=(
        "What went wrong, for programs: bad_request, invalid, forbidden, not_found, idempotency_key_reused,"
        " rejected, too_large, unsupported_media_type, photo_rejected, rate_limited, unavailable, ..."))]  # fmt: skip
    message: Annotated[str, msgspec.Meta(description="For people, in the reader's language (Indonesian unless"
                                         " English was chosen)")]  # fmt: skip
    errors: Annotated[dict[str, str] | None, msgspec.Meta(
        description="422: one message per field that needs correcting, every one at once, each keyed by the"
                    " field's path in the body (`volume`, `proposer.phone`)")] = None  # fmt: skip
    detail: Annotated[str | None, msgspec.Meta(
        description="400, or a 422 from the declared limits: what could not be read, in the decoder's words (for"
                    " developers)")] = None  # fmt: skip
    details: Annotated[list[dict[str, Any]] | dict[str, Any] | None, msgspec.Meta(
        description="400, or a 422 from the declared limits: which field or header, when known")] = None  # fmt: skip


_REFUSALS = {
    400: "The request could not be read (not JSON, not an object, an unknown field, a wrong parameter or header)",
    403: "Wrong revision secret, or not allowed",
    404: "No such proposal (or kelurahan, or open cycle)",
    409: "Not possible in the proposal's state, or the Idempotency-Key was used for another body",
    413: "The body is too large",
    415: "The body is not JSON: send it as `application/json`",
    422: "A field needs correcting (`errors` says which and why: a value out of the declared limits, of the"
         " wrong kind or missing, or refused by the domain)",
    429: "Too many submissions or photos from this address; see Retry-After",
    503: "Busy; try again after Retry-After (an Idempotency-Key makes that safe)",
}


def _refused(*statuses: int) -> dict[int, ResponseSpec]:
    return {s: ResponseSpec(data_container=ErrorOut, description=_REFUSALS[s], generate_examples=False)
            for s in statuses}  # fmt: skip


_ANY_REFUSAL = {
    400: "The request could not be read (a path or query value of the wrong type, a body that is not what"
         " the operation takes, a missing header)",
    401: "Not signed in: send `Authorization: Bearer <token>` (POST /api/v1/auth/token)",
    403: "Signed in, but this account may not do this (its role, kecamatan, kelurahan or agency)",
    404: "Nothing with that code, year or id",
    409: "Not possible in the present state (the message says why), or the Idempotency-Key was used for"
         " another command",
    422: "A field needs correcting (`errors` says which and why)",
}  # fmt: skip


def document_refusals(app: Litestar) -> None:
    """Every JSON API operation documents the refusals it can answer, each in the shape the server sends
    (`ErrorOut`, http/errors.py): 400 for all, 404 where the path names something, 401 and 403 where an
    account is needed, 409 and 422 for commands. Without this the document promised Litestar's default
    `{status_code, detail, extra}` for a 400 on 42 operations, and no 404 or 401 at all (review s22).
    What an operation declares itself (`_refused`, with its own wording) stands."""
    for route in app.routes:
        if not route.path.startswith("/api/") or not isinstance(route, HTTPRoute):
            continue
        for handler in route.route_handlers:
            statuses = [400]
            if "{" in route.path:
                statuses.append(404)
            if _needs_account(handler):
                statuses += [401, 403]
            if handler.http_methods - {"GET", "HEAD"}:
                statuses += [409, 422]
            given = {
                s: ResponseSpec(data_container=ErrorOut, description=_ANY_REFUSAL[s], generate_examples=False)
                for s in statuses
            }
            handler.responses = {**given, **(handler.responses or {})}


def _needs_account(handler: HTTPRouteHandler) -> bool:
    """A guard on the handler or its controller, or an `actor` it must be given (http/deps.py ActorDep)."""
    if handler.resolve_guards():
        return True
    parameter = inspect.signature(handler.fn).parameters.get("actor")
    return parameter is not None and "ActorDep" in str(parameter.annotation)


# Decimal fields take a JSON number or a string, the string read here (values.read_decimal), not by msgspec:
# its `Decimal` also reads "١٥٠", "１５０" and "1_000", before any check of ours could refuse them.
_NUMBER_OR_STRING = [OpenAPIType.NUMBER, OpenAPIType.STRING]
_COORDINATE_TYPES = [Schema(type=OpenAPIType.NUMBER), Schema(type=OpenAPIType.STRING), Schema(type=OpenAPIType.NULL)]
_AS_STRING = ('ASCII digits with a dot or a comma as the decimal mark ("2.5", "2,5"), never a thousands'
              " separator")  # fmt: skip
Coordinate = Annotated[
    int | float | str | None,
    msgspec.Meta(description=f"Decimal degrees, a number or a string of {_AS_STRING}",
                 extra_json_schema={"extra": {"one_of": _COORDINATE_TYPES}}),
]  # fmt: skip


SeenRevision = Annotated[int, msgspec.Meta(ge=0, le=1_000_000, description=(
    "The proposal's `revision` the decision was taken on (as read from it): refused (409) when it was revised"
    " since. Optional"))]


Quantity = Annotated[int | float | str, msgspec.Meta(
    description=f"A number (150, 2.5), or a string of {_AS_STRING}",
    extra_json_schema={"extra": {"type": _NUMBER_OR_STRING, "one_of": None}})]  # fmt: skip
"""A volume: read by values.read_decimal or parse_decimal, never by msgspec's Decimal."""


class ProposerIn(msgspec.Struct, forbid_unknown_fields=True):
    """Personal data: stored apart, never shown publicly."""

    name: Annotated[str, msgspec.Meta(max_length=200)]
    phone: Annotated[str, msgspec.Meta(max_length=40, examples=["0812-3456-7890"])]
    email: Annotated[str, msgspec.Meta(max_length=254, examples=["warga@contoh.id"])] | None = None
    notify: Annotated[str, msgspec.Meta(
        description="How to be told of each change: sms | whatsapp | email (needs `email`) | none",
        examples=["sms"])] = "none"  # fmt: skip


class ContentIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    kelurahan: Annotated[str, msgspec.Meta(max_length=20, examples=["32.75.01.1001"],
                                           description="Kemendagri code of the kelurahan, with dots")]  # fmt: skip
    rw: Annotated[int | None, msgspec.Meta(description=(
        "RW number, 1-99. Required in a kelurahan; in a desa (code's last part starting with 2) it may be"
        " left out or null, where the desa has no RW"))] = None  # fmt: skip
    rt: Annotated[int | None, msgspec.Meta(description=(
        "RT number, 1-99. Required in a kelurahan; in a desa it may be left out or null (never given"
        " without `rw`)"))] = None  # fmt: skip
    kind: Annotated[str, msgspec.Meta(max_length=20, description="fisik | non_fisik")]
    bidang: Annotated[str, msgspec.Meta(max_length=40, description=" | ".join(rules.BIDANG))]
    title: Text
    problem: Text
    solution: Text
    beneficiaries: int
    volume: Quantity
    unit: Annotated[str, msgspec.Meta(max_length=100)]
    estimated_cost: Annotated[int, msgspec.Meta(description="Estimated cost in whole rupiah")]
    priority_program: int | None = None
    address: Text
    latitude: Coordinate = None
    longitude: Coordinate = None

    def __post_init__(self) -> None:
        """Each decimal as the text of the `Decimal` these fields once were (150 and "150" both "150", 2.5
        "2.5"): what the idempotency fingerprints of this body and of a pokir's (its builtins) have always
        seen, so that a request retried across an upgrade is still the same request, not a key reused. A
        string that is no number as programs write them stays as sent, for `read` to refuse; so does a
        number whose Decimal text has an exponent (0.0000001 is "1E-7"), which a string may not have
        (values.read_decimal): a latitude a ten-millionth of a degree off the equator is still taken."""
        for name in ("volume", "latitude", "longitude"):
            value = getattr(self, name)
            if value is not None:
                with contextlib.suppress(ValueError):
                    text = str(values.read_decimal(value))
                    if "E" not in text:
                        setattr(self, name, text)

    def as_input(self) -> rules.ProposalInput:
        """The content for the domain; ValidationFailed when the volume is a string that is no number (only
        that is said then: `read` lets a caller say it with the domain's errors)."""
        content, unreadable = self.read()
        if unreadable:
            raise ValidationFailed(unreadable)
        return content

    def read(self) -> tuple[rules.ProposalInput, dict[str, str]]:
        """The content for the domain, and the error of a volume string that is no number. The domain reads a
        string volume as a form's ("1.500" is fifteen hundred, "2.5" refused): the API's is a program's, so it
        goes as the number it is, or, unreadable, as none (its error replaces the domain's "wajib diisi").
        Coordinates go as sent: the domain reads them as programs write them (values.parse_decimal)."""
        fields = {f: getattr(self, f) for f in rules.ProposalInput.__struct_fields__}
        unreadable: dict[str, str] = {}
        if isinstance(self.volume, str) and self.volume.strip():  # a blank one is the domain's "wajib diisi"
            try:
                fields["volume"] = values.read_decimal(self.volume)
            except ValueError as exc:
                fields["volume"], unreadable["volume"] = None, exc.args[0]
        return rules.ProposalInput(**fields), unreadable


class ProposalIn(ContentIn, forbid_unknown_fields=True, kw_only=True):
    proposer: ProposerIn
    year: Annotated[
        int | None, msgspec.Meta(description="The RKPD year (default: the cycle open for proposals now)")
    ] = None
    carried_from: (
        Annotated[
            str,
            msgspec.Meta(
                max_length=20,
                description=(
                    "An earlier year's proposal that was not accommodated, proposed again: needs its revision secret"
                    " (`revision_secret`), or a facilitator's bearer token"
                ),
            ),
        ]
        | None
    ) = None
    revision_secret: (
        Annotated[
            str,
            msgspec.Meta(max_length=64, description=("The revision secret of the proposal named in `carried_from`")),
        ]
        | None
    ) = None


class RevisionIn(ContentIn, forbid_unknown_fields=True, kw_only=True):
    revision_secret: Annotated[str, msgspec.Meta(max_length=64)]


class SubmittedOut(msgspec.Struct):
    code: str
    status: str
    revision_secret: str
    """Shown once: needed to revise the proposal or add photos. Keep it."""


class TimelineEntry(msgspec.Struct):
    seq: int
    at: dt.datetime
    kind: str
    details: dict[str, Any]


class HistoryEntry(msgspec.Struct):
    """One year of a need proposed again and again: the proposal of that year and where it ended."""

    year: int
    code: str
    outcome: str


class ProposalOut(msgspec.Struct):
    code: str
    year: int
    source: str
    kelurahan: str
    kecamatan: str
    rw: int | None
    """None only in a desa without RW (and RT)."""
    rt: int | None
    kind: str
    bidang: str
    title: str
    problem: str
    solution: str
    beneficiaries: int
    volume: str
    unit: str
    estimated_cost: int
    priority_program: int | None
    address: str
    latitude: str | None
    longitude: str | None
    status: str
    status_reason: str | None
    """Why it stands so, in the decider's words or as a code: for `tidak_diproses`, `belum_diverifikasi`,
    `belum_diperbaiki` (returned and never corrected) or `belum_dimusyawarahkan` (accepted, never decided at
    a forum) when its year's RKPD was adopted."""
    agreed_volume: str | None
    agreed_cost: int | None
    photos: list[str]
    revision: int
    submitted_at: dt.datetime
    updated_at: dt.datetime
    merged_into: str | None = None
    merged_from: list[str] = []
    carried_from: str | None = None
    carried_to: str | None = None
    timeline: list[TimelineEntry] | None = None
    history: list[HistoryEntry] | None = None
    """Every year this need was proposed, oldest first (this proposal included)."""


class KelurahanOut(msgspec.Struct):
    kode: str
    nama: str
    kecamatan: str
    kecamatan_nama: str


class ProposalPage(msgspec.Struct):
    kelurahan: KelurahanOut
    page: int
    per_page: int
    total: int
    items: list[ProposalOut]
    year: int | None = None
    """The RKPD year listed."""


class PhotoOut(msgspec.Struct):
    id: str
    url: str


@dataclasses.dataclass
class PhotoUpload:
    photo: UploadFile
    revision_secret: str


def _out(row: asyncpg.Record, steps: list[asyncpg.Record] | None = None,
         years: list[asyncpg.Record] | None = None) -> ProposalOut:  # fmt: skip
    computed = ("photos", "timeline", "merged_from", "history")
    fields = {f: row[f] for f in ProposalOut.__struct_fields__ if f not in computed}
    fields["merged_from"] = list(row["merged_from"])
    timeline = None
    if steps is not None:
        timeline = [TimelineEntry(s["seq"], s["at"], s["kind"], msgspec.json.decode(s["details"])) for s in steps]
    history = None if years is None else [HistoryEntry(y["year"], y["code"], y["outcome"]) for y in years]
    return ProposalOut(**fields, photos=[f"/photos/{p}" for p in row["photo_ids"]], timeline=timeline,
                       history=history)  # fmt: skip


async def proposal_out(conn: asyncpg.Connection, code: str) -> ProposalOut:
    """A proposal as the API gives it (GET, and the answer of every command on it): with its timeline and
    its history of years."""
    row = await proposal_views.get(conn, code)
    if row is None:
        raise NotFoundException()
    return _out(row, await proposal_views.timeline(conn, code), await proposal_views.history(conn, code))


class ProposalApi(Controller):
    """Public: residents propose, read, revise and add photos without an account (the revision secret is the
    proposer's proof; a facilitator's bearer token only widens `carried_from`), so no guard."""

    path = "/api/v1/proposals"
    tags = ["proposals"]

    @post("/", summary="Submit a proposal (usulan)", status_code=201, request_max_body_size=64 * 1024,
          responses={200: ResponseSpec(data_container=SubmittedOut, generate_examples=False, description=(
              "The same Idempotency-Key and body again: the proposal it made, nothing written")),
              **_refused(400, 403, 404, 409, 413, 415, 422, 429, 503)})  # fmt: skip
    async def submit(
        self,
        request: Request,
        data: JSONBody[ProposalIn],
        idempotency_key: IdempotencyKey,
        pool: PoolDep,
        proposals: ProposalsDep,
        runner: RunnerDep,
    ) -> Response[SubmittedOut]:
        """201 with the tracking code and the revision secret; the same Idempotency-Key again answers 200
        with the same proposal and writes nothing; the same key with a different body answers 409."""
        idempotency_key = resident_key(idempotency_key)
        print_ = proposals.fingerprint(msgspec.to_builtins(data))
        already = await proposals.find_submitted(idempotency_key, print_)
        if already is None:
            if data.year is not None:  # a year no RKPD can have is a mistake in the body, not a cycle not opened yet
                checks = bounds.Checks()
                checks.check("year", bounds.year, data.year)
                checks.done()
            cycle = await proposals.taking(data.year)
            year = cycle.year or 0  # an existing cycle has its year
            content, proposer = await _checked(proposals, data, year, cycle)
            carried_from = await _may_carry(request, pool, proposals, data, year, content.kelurahan)
            settings = request.app.state.settings
            await count_submission(
                pool, client_address(request, settings.trust_proxy), idempotency_key, settings.submissions_per_hour
            )
            submitted = await proposals.submit(
                content,
                proposer,
                idempotency_key=idempotency_key,
                request_fingerprint=print_,
                source="warga",
                replay_checked=True,
                year=year,
                carried_from=carried_from,
                cycle=cycle,
            )
        else:
            submitted = already
        await runner.wait_until_applied(["proposals"], submitted.last)
        body = SubmittedOut(submitted.code, submitted.status, submitted.revision_secret)
        return Response(body, status_code=200 if submitted.replayed else 201)

    @get("/{code:str}", summary="A proposal's public fields, status, timeline and its years",
         dependencies=FROM_REPLICA, responses=_refused(400, 404))  # fmt: skip
    async def proposal(self, request: Request, pool: PoolDep, code: FromPath[str]) -> ProposalOut:
        code = code_or_404(code)
        return await found_on_standby_or_primary(request, pool, lambda conn: proposal_out(conn, code))

    @post("/{code:str}/photos", summary="Attach a photo (JPEG, PNG or WebP, at most 5 MB)", status_code=201,
          request_max_body_size=MAX_BYTES + 64 * 1024,
          responses={200: ResponseSpec(data_container=PhotoOut, generate_examples=False,
                                       description="This very photo was attached already: its id, nothing written"),
                     **_refused(400, 403, 404, 409, 413, 422, 429, 503)})  # fmt: skip
    async def attach_photo(
        self,
        request: Request,
        code: FromPath[str],
        data: MultipartBody[PhotoUpload],
        pool: PoolDep,
        proposals: ProposalsDep,
        runner: RunnerDep,
    ) -> Response[PhotoOut]:
        """Needs the revision secret shown at submission. The photo is re-encoded and its metadata (EXIF,
        GPS) removed. Sending the same photo again answers 200 with the same id. An image of more than 25
        megapixels is refused (422) before it is decoded; photos decoded per address are limited per hour
        (429), and a server busy decoding answers 503 with Retry-After."""
        code = code_or_404(code)
        raw = await data.photo.read()
        # Everything that refuses without decoding comes first: the secret, the proposal and its room for
        # another photo, the same photo sent again, the photo's header; then the address's hourly count.
        attached = await proposals.photo_already_attached(code, data.revision_secret, original_sha256(raw))
        if attached is not None:
            return Response(PhotoOut(attached, f"/photos/{attached}"), status_code=200)
        check_photo(raw)
        settings = request.app.state.settings
        await count_photo_decode(pool, client_address(request, settings.trust_proxy), settings.photos_per_hour)
        photo = await process_off_loop(raw)
        photo_id, written = await proposals.attach_photo(code, data.revision_secret, photo)
        if written is not None:
            await runner.wait_until_applied(["proposals"], written)
        return Response(PhotoOut(photo_id, f"/photos/{photo_id}"), status_code=201 if written else 200)

    @post("/{code:str}/revision", summary="Revise a proposal that was returned for revision", status_code=200,
          request_max_body_size=64 * 1024, responses=_refused(400, 403, 404, 409, 413, 415, 422, 503))  # fmt: skip
    async def revise(
        self, code: FromPath[str], data: JSONBody[RevisionIn], proposals: ProposalsDep, runner: RunnerDep,
        pool: PoolDep, idempotency_key: OptionalKey = None,
    ) -> ProposalOut:
        """The same Idempotency-Key and body again (a retry after a lost answer) answers as the first time and
        writes nothing; the same key with another body answers 409."""
        code = code_or_404(code)
        content = await _validated(proposals, data, year=await proposals.year_of(code))
        key = resident_key(idempotency_key) if idempotency_key else None
        result = await proposals.revise(code, data.revision_secret, content, idempotency_key=key)
        await runner.wait_until_applied(["proposals"], result.last)
        async with pool.acquire() as conn:
            return await proposal_out(conn, code)


_PROPOSER_PATHS = {"proposer_name": "proposer.name", "proposer_phone": "proposer.phone",
                   "proposer_email": "proposer.email", "notify": "proposer.notify"}  # fmt: skip
"""The domain names the proposer's fields as the web form does (`proposer_phone`); the API's errors name each
field by its path in the body, as the client wrote it (`proposer.phone`)."""


async def _checked(proposals: ProposalService, data: ProposalIn, year: int,
                   cycle: Cycle) -> tuple[rules.ProposalContent, rules.Proposer]:  # fmt: skip
    """The content and the proposer, or one 422 naming every field of both that needs correcting: told of
    one mistake at a time, a client sent the body again for each (the web form says all at once)."""
    errors: dict[str, str] = {}
    proposer = None
    try:
        proposer = rules.validate_proposer(data.proposer.name, data.proposer.phone, data.proposer.email,
                                           data.proposer.notify)  # fmt: skip
    except ValidationFailed as exc:
        errors = {_PROPOSER_PATHS.get(field, field): message for field, message in exc.errors.items()}
    content = await _validated(proposals, data, year=year, cycle=cycle, errors=errors)
    if proposer is None:  # not reached: `_validated` raised with the proposer's errors
        raise ValidationFailed(errors)
    return content, proposer


async def _validated(proposals: ProposalService, data: ContentIn, *, year: int, cycle: Cycle | None = None,
                     errors: dict[str, str] | None = None) -> rules.ProposalContent:  # fmt: skip
    """`data`'s content checked by the domain, or one ValidationFailed with every error: a volume that is no
    number (`ContentIn.read`), the domain's for the other fields, and `errors` found by the caller."""
    raw, unreadable = data.read()
    try:
        content = await proposals.validate(raw, year=year, cycle=cycle)
    except ValidationFailed as exc:
        raise ValidationFailed({**exc.errors, **unreadable, **(errors or {})}) from None
    if unreadable or errors:
        raise ValidationFailed({**unreadable, **(errors or {})})
    return content


async def _may_carry(request: Request, pool: asyncpg.Pool, proposals: ProposalService, data: ProposalIn,
                     year: int, kelurahan: str) -> str | None:  # fmt: skip
    """The earlier proposal `data` proposes again, once it is known that the caller may: the proposer of
    the earlier one (its revision secret), or a facilitator of the kelurahan (or Bappeda) by bearer token.
    Checked before anything is counted or written."""
    if data.carried_from is None:
        return None
    try:
        earlier = values.normalize_code(data.carried_from)
    except ValueError:
        raise ValidationFailed({"carried_from": N_("kode usulan sebelumnya tidak dikenal")}) from None
    if data.revision_secret is not None:
        proposals.check_secret(earlier, data.revision_secret)
    else:
        actor = await optional_actor(request, pool)
        if actor is None or actor.role not in ("facilitator", "admin"):
            raise Forbidden(N_("usulan lama hanya dapat diusulkan lagi oleh pengusulnya (dengan kode rahasia)"
                               " atau oleh fasilitator"))  # fmt: skip
        require_region(actor, kelurahan)
    await proposals.carry_over_check(earlier, year, kelurahan)
    return earlier


class KelurahanApi(Controller):
    """Public: a kelurahan's proposals are an open list (public fields only), so no guard."""

    path = "/api/v1/kelurahan"
    tags = ["proposals"]

    @get("/{kode:str}/proposals", summary="Proposals of a kelurahan, newest first", dependencies=FROM_REPLICA,
         responses=_refused(400, 404))  # fmt: skip
    async def kelurahan_proposals(
        self,
        pool: PoolDep,
        kode: FromPath[str],
        page: Annotated[int, Parameter(ge=1, le=100_000)] = 1,
        per_page: Annotated[int, Parameter(ge=1, le=200)] = 50,
        rw: Annotated[int | None, Parameter(ge=1, le=99)] = None,
        bidang: Annotated[str | None, Parameter(max_length=40)] = None,
        year: Annotated[
            int | None, Parameter(ge=2000, le=2100, description="RKPD year (default: the cycle being planned)")
        ] = None,
    ) -> ProposalPage:
        async with pool.acquire() as conn:
            place = await region(conn, kode)
            if place is None or place["tingkat"] not in ("kelurahan", "desa"):
                raise NotFoundException()
            if year is None:
                planned = await cycle_views.current_cycle(conn, cycles_service.today())
                year = planned["year"] if planned else None
            total, rows = await proposal_views.in_kelurahan(
                conn, kode, rw=rw, bidang=bidang, year=year, limit=per_page, offset=(page - 1) * per_page
            )
        return ProposalPage(
            kelurahan=KelurahanOut(place["kode"], place["nama"], place["kode_induk"], place["induk_nama"]),
            page=page, per_page=per_page, total=total, items=[_out(r) for r in rows], year=year,
        )  # fmt: skip
