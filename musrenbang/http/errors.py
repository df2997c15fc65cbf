"""The one place where errors become HTTP responses: JSON for the API, a page for people."""

from __future__ import annotations

import logging
import traceback
from urllib.parse import quote

import asyncpg
from litestar import MediaType, Request, Response
from litestar.exceptions import HTTPException, NotFoundException, PermissionDeniedException, ValidationException
from litestar.response import Redirect, Template

from musrenbang.domain import values
from musrenbang.domain.access import Forbidden
from musrenbang.domain.errors import N_, DomainError, NotFound, UnreadableFile, ValidationFailed
from musrenbang.eventlog.store import ConcurrencyError, IdempotencyKeyReused
from musrenbang.http import conversion_errors
from musrenbang.http.edge import EmptyBody
from musrenbang.http.i18n import translate
from musrenbang.http.ratelimit import RateLimited
from musrenbang.http.render import page, same_page_path
from musrenbang.photos import DecoderBusy, PhotoRejected, PhotoTooLarge
from musrenbang.services.accounts import NotAuthenticated, TooManyAttempts
from musrenbang.services.freshness import ReadModelBehind
from musrenbang.services.proposals import WrongSecret

log = logging.getLogger(__name__)


class BadForm(DomainError):
    """A request no page of ours could have sent (a tampered hidden field): refused, nothing written."""

    code = "bad_request"


NOT_OUR_FORM = N_("formulir ini tidak dibuat oleh halaman kami; muat ulang halaman dan kirim lagi")
"""What a `BadForm` says when a field holds what none of our pages offers."""
SENT_BEFORE = N_("formulir ini sudah terkirim sebelumnya dengan isi lain: hasilnya tampil di halaman ini; tidak ada"
                 " yang dicatat lagi")  # fmt: skip
"""A form sent again under its first key with other contents (Back, edit, send): nothing more is done."""


_STATUS = {  # the first class that matches wins
    BadForm: 400,
    NotAuthenticated: 401,
    TooManyAttempts: 429,
    Forbidden: 403,
    PhotoTooLarge: 413,
    ValidationFailed: 422,
    PhotoRejected: 422,
    UnreadableFile: 422,
    NotFound: 404,
    WrongSecret: 403,
    RateLimited: 429,
    ReadModelBehind: 503,
    DecoderBusy: 503,
}
_HTTP_MESSAGES = {
    400: N_("permintaan tidak dapat dibaca"),
    403: N_("akses ditolak"),
    404: N_("halaman tidak ditemukan"),
    405: N_("metode tidak diizinkan untuk alamat ini"),
    413: N_("kiriman terlalu besar"),
    415: N_("jenis isi kiriman tidak didukung"),
    429: N_("terlalu banyak permintaan; silakan coba lagi nanti"),
}
DRAFTED_FORMS = {"/usulan/baru": "/usulan/baru"}
"""Forms whose typing the browser keeps (`data-draft`), by the path they post to: the page to open again."""
CSRF_MESSAGE = N_("formulir ini sudah kedaluwarsa atau tidak dikirim dari situs ini; muat ulang halaman dan kirim lagi")
CONFLICT_MESSAGE = N_("data berubah saat Anda mengirim; muat ulang dan coba lagi")
KEY_REUSED_MESSAGE = N_("Idempotency-Key ini sudah dipakai untuk kiriman yang berbeda")
EMPTY_BODY_MESSAGE = N_("isi kiriman kosong: kirim datanya dalam JSON")
"""What a request without the body its JSON endpoint needs is told (http/edge.py)."""


def code_or_404(code: str) -> str:
    """A tracking code from a URL in canonical form; anything that cannot be one is simply not found."""
    try:
        return values.normalize_code(code)
    except ValueError:
        raise NotFoundException() from None


def logged_path(request: Request) -> str:
    """The path as a log line can hold it: percent-encoded (a %0a in the URL must not start a line of the
    log that an attacker wrote), at most 200 characters."""
    return quote(request.url.path[:200], safe="/:@!$&'()*+,;=-._~")


def _wants_json(request: Request) -> bool:
    return request.url.path.startswith("/api/")


def _respond(request: Request, status: int, code: str, message: str, errors: dict[str, str] | None = None,
             headers: dict[str, str] | None = None, again: str | None = None,
             extra: dict[str, object] | None = None) -> Response:  # fmt: skip
    """The refusal as JSON for the API (with `extra` keys for developers: what Litestar said), a page for
    people."""
    # One line per refused request: a client's mistake is not the server's error (a fuzzer's 15,000
    # requests once wrote 6 MB of tracebacks). Real server errors are logged, with theirs, by server_error.
    log.log(logging.WARNING if status >= 500 else logging.INFO, "%d %s %s: %s: %s", status, request.method,
            logged_path(request), code, message)  # fmt: skip
    text = translate(request, message)
    if _wants_json(request):
        body: dict[str, object] = {"error": code, "message": text}
        if errors:
            body["errors"] = {field: translate(request, m) for field, m in errors.items()}
        body.update(extra or {})
        return Response(body, status_code=status, media_type=MediaType.JSON, headers=headers)
    response: Template = page(request, "error.html", status=status, message=text, status_code=status, again=again)
    if headers:
        response.headers.update(headers)
    return response


def _sign_in_address(request: Request) -> str:
    """The sign-in page, told to come back to this page afterwards (`kembali`, percent-encoded: the path
    as the browser asked for it, with its query)."""
    query = request.scope.get("query_string", b"")
    here = same_page_path(request.url.path) + ("?" + quote(query, safe="=&%+:;,@!$'()*/?~") if query else "")
    return "/masuk?kembali=" + quote(here, safe="/")


def domain_error(request: Request, exc: DomainError) -> Response:
    if isinstance(exc, NotAuthenticated) and not _wants_json(request) and request.method == "GET":
        return Redirect(_sign_in_address(request), status_code=303)  # a person: to the sign-in page, and back
    status = next((s for cls, s in _STATUS.items() if isinstance(exc, cls)), 409)
    headers = {"Retry-After": "3600"} if isinstance(exc, RateLimited) else None
    if isinstance(exc, TooManyAttempts):
        headers = {"Retry-After": str(exc.retry_after)}
    if isinstance(exc, (ReadModelBehind, DecoderBusy)):
        headers = {"Retry-After": "5"}
    if isinstance(exc, NotAuthenticated):
        headers = {"WWW-Authenticate": "Bearer"}
    errors = exc.errors if isinstance(exc, ValidationFailed) else None
    return _respond(request, status, exc.code, exc.message, errors, headers)


def concurrency_error(request: Request, exc: ConcurrencyError) -> Response:
    return _respond(request, 409, "conflict", CONFLICT_MESSAGE)


def key_reused(request: Request, exc: IdempotencyKeyReused) -> Response:
    return _respond(request, 409, "idempotency_key_reused", KEY_REUSED_MESSAGE)


def http_error(request: Request, exc: HTTPException) -> Response:
    status = exc.status_code
    if isinstance(exc, PermissionDeniedException) and "CSRF" in str(exc.detail):
        # The proposal form keeps what was typed in the browser (static/app.js): a fresh copy of the form,
        # with a token that works, takes it back. Pressing Back would resend the expired token again.
        again = DRAFTED_FORMS.get(request.url.path) if request.method == "POST" else None
        return _respond(request, 403, "csrf", CSRF_MESSAGE, again=again)
    if status >= 500:
        log.error("%d %s %s", status, request.method, logged_path(request), exc_info=exc)
        return _respond(request, status, "server_error", N_("terjadi kesalahan di server"))
    # A refusal of the edge's own may say more than its status (415: which Content-Type to send).
    message = EMPTY_BODY_MESSAGE if isinstance(exc, EmptyBody) else getattr(exc, "reader_message", None) or \
        _HTTP_MESSAGES.get(status, N_("permintaan tidak dapat diproses"))
    if status == 404 and _wants_json(request):  # an API client asked for a thing, not a page
        message = N_("yang diminta tidak ditemukan di alamat ini")
    code = {400: "bad_request", 404: "not_found", 405: "method_not_allowed", 413: "too_large",
            415: "unsupported_media_type"}.get(status, "error")  # fmt: skip
    if _wants_json(request) and status == 400:
        # Decoding and parameter errors: Litestar's own text (`detail`, `details`) says which field or header
        # is wrong, for developers. A field of the body outside the edge's constraints is a field to correct,
        # answered as the domain's own checks answer (422, one message per field, http/conversion_errors.py);
        # a parameter, a field no body here has, a body that is not one are told in the reader's language.
        extra: dict[str, object] = {"detail": exc.detail}
        if isinstance(exc.extra, (list, dict)) and exc.extra:
            extra["details"] = exc.extra
        if isinstance(exc, ValidationException):
            if (errors := conversion_errors.field_errors(exc)) is not None:
                invalid = ValidationFailed(errors)
                return _respond(request, 422, invalid.code, invalid.message, invalid.errors, extra=extra)
            message = conversion_errors.refusal(request, exc)
        return _respond(request, status, code, message, extra=extra)
    return _respond(request, status, code, message, headers=getattr(exc, "headers", None))


def unstorable_text(request: Request, exc: Exception) -> Response:
    """A NUL (or another character PostgreSQL's text cannot hold) in a path or query parameter: no row can
    match it, and nothing was written (the statement failed)."""
    return _respond(request, 400, "bad_request", N_("permintaan memuat karakter yang tidak diizinkan"))


def database_away(request: Request, exc: Exception) -> Response:
    """The database could not be reached (an outage, a restart): nothing was done; the client may retry
    (idempotency keys make that safe)."""
    return _respond(request, 503, "unavailable", N_("layanan sementara tidak dapat menghubungi basis data; coba lagi"
                                                    " sebentar lagi"), headers={"Retry-After": "5"})  # fmt: skip


def os_error(request: Request, exc: OSError) -> Response:
    """An error of the operating system is the database away only when it came from talking to it (a
    refused or reset connection, a socket gone, a name that does not resolve); any other (a file, a
    disk full, a permission) is a fault of this server, logged with its traceback like any other, and
    must not send the client to retry a database that is fine."""
    if _while_talking_to_the_database(exc):
        return database_away(request, exc)
    return server_error(request, exc)


def _while_talking_to_the_database(exc: BaseException) -> bool:
    """Whether the error passed through asyncpg or our own connection code on its way up."""
    for frame, _ in traceback.walk_tb(exc.__traceback__):
        module = frame.f_globals.get("__name__", "")
        if module == "asyncpg" or module.startswith(("asyncpg.", "musrenbang.db.")):
            return True
    return False


def overloaded(request: Request, exc: Exception) -> Response:
    """PostgreSQL has no connection left for us, or none of our pool's came free in time: busy, not
    broken; the client may retry shortly."""
    return _respond(request, 503, "unavailable", N_("layanan sedang sibuk; coba lagi sebentar lagi"),
                    headers={"Retry-After": "5"})  # fmt: skip


def try_again(request: Request, exc: Exception) -> Response:
    """PostgreSQL cancelled the statement to keep transactions apart, or a standby cancelled a read that
    conflicted with what it was replaying (a read replica, db/replicas.py): nothing was done, and the
    same request a moment later succeeds."""
    log.info("%s %s: %s; answered 503, try again", request.method, logged_path(request), exc)
    return _respond(request, 503, "unavailable", N_("layanan sedang sibuk; coba lagi sebentar lagi"),
                    headers={"Retry-After": "1"})  # fmt: skip


def server_error(request: Request, exc: Exception) -> Response:
    """Anything else is a bug: logged with its traceback, answered with a page (or JSON) that shows none."""
    log.error("500 %s %s", request.method, logged_path(request), exc_info=exc)
    text = translate(request, N_("terjadi kesalahan di server"))
    if _wants_json(request):
        return Response({"error": "server_error", "message": text}, status_code=500, media_type=MediaType.JSON)
    return page(request, "error.html", status=500, message=text, status_code=500)


def bad_encoding(request: Request, exc: UnicodeDecodeError) -> Response:
    """Litestar lets a body that is not UTF-8 through as a UnicodeDecodeError; it is the client's error."""
    return _respond(request, 400, "bad_request", N_("isi kiriman bukan teks UTF-8 yang sah"))


def too_deep(request: Request, exc: RecursionError) -> Response:
    """msgspec gives up on JSON nested deeper than the interpreter's recursion limit (a 2 KB body of `[[[…`
    suffices) with a RecursionError: the client's unreadable body, a 400 on every JSON endpoint. Any other
    RecursionError is a bug."""
    if "deserializ" not in str(exc):
        return server_error(request, exc)
    return _respond(request, 400, "bad_request", N_("permintaan tidak dapat dibaca"))


HANDLERS = {
    UnicodeDecodeError: bad_encoding,
    RecursionError: too_deep,
    asyncpg.CharacterNotInRepertoireError: unstorable_text,
    asyncpg.UntranslatableCharacterError: unstorable_text,
    # The database away: asyncpg's connection errors, and the OS's while connecting (refused, reset, gone).
    asyncpg.PostgresConnectionError: database_away,
    asyncpg.InterfaceError: database_away,
    asyncpg.CannotConnectNowError: database_away,
    asyncpg.AdminShutdownError: database_away,
    OSError: os_error,
    asyncpg.InsufficientResourcesError: overloaded,  # too many connections
    TimeoutError: overloaded,  # no pooled connection came free in time (db/connect.py, Pool)
    # A serialization failure (also how a standby cancels a read that conflicts with recovery) or a deadlock.
    asyncpg.SerializationError: try_again,
    asyncpg.DeadlockDetectedError: try_again,
    Exception: server_error,
    DomainError: domain_error,
    ConcurrencyError: concurrency_error,
    IdempotencyKeyReused: key_reused,
    HTTPException: http_error,
}
