"""Limits on URL-encoded form bodies, checked before anything parses them (the CSRF check included).

Litestar parses such a body in one go, on the event loop, and keeps the last 1,024 bodies it parsed, with
their parsed fields, in a cache: ten megabytes of a million fields, sent without even a CSRF token, cost a
server process 600 MB and stalled it for half a minute. No form of this site comes near these limits (the
longest field, a city forum's list of participants, holds 100,000 characters); a body past them is refused
before it is parsed, and the cache is emptied after every form, so a process keeps in memory only the forms
it is answering. A form that is not UTF-8 once reached the log as replacement characters or Latin-1: it is
refused, as a multipart one is (http/errors.py, bad_encoding). Multipart bodies (photos) have their own
limits, per route (`request_max_body_size`) and per part."""

from __future__ import annotations

from urllib.parse import unquote_to_bytes

from litestar._parsers import parse_url_encoded_form_data  # its cache: emptied below
from litestar.exceptions import HTTPException
from litestar.types import ASGIApp, Receive, ReceiveMessage, Scope, Send

MAX_BYTES = 1 << 20
"""The longest URL-encoded body taken: 1 MiB (100,000 characters of Indonesian text, percent-encoded, are
a third of it)."""
MAX_FIELDS = 10_000
DRAINED_AT_MOST = 16 << 20
"""A longer body is answered 413 as it comes, the connection closed under it: the largest any route takes."""


class TooLarge(HTTPException):
    status_code = 413


def _urlencoded(scope: Scope) -> bool:
    for name, value in scope["headers"]:
        if name == b"content-type":
            return value.split(b";")[0].strip().lower() == b"application/x-www-form-urlencoded"
    return False


def _declared_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            return int(value) if value.isdigit() else None
    return None


async def _read(receive: Receive) -> bytes:
    """The whole body; TooLarge past MAX_BYTES, once the rest has been read and dropped (up to DRAINED_AT
    MOST), so that the client, still sending, gets the answer instead of a connection closed under it."""
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] != "http.request":  # the client went away
            raise HTTPException(status_code=400, detail="the body ended early")
        chunk = message.get("body", b"")
        size += len(chunk)
        if size <= MAX_BYTES:
            chunks.append(chunk)
        elif size > DRAINED_AT_MOST:
            raise TooLarge()
        if not message.get("more_body", False):
            if size > MAX_BYTES:
                raise TooLarge()
            return b"".join(chunks)


def check(body: bytes) -> None:
    """At most MAX_FIELDS fields, each name and value UTF-8 once percent-decoded (UnicodeDecodeError)."""
    if body.count(b"&") >= MAX_FIELDS:
        raise TooLarge()
    for part in body.split(b"&"):
        unquote_to_bytes(part.replace(b"+", b" ")).decode("utf-8")


def form_limits_middleware(app: ASGIApp) -> ASGIApp:
    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not _urlencoded(scope):
            await app(scope, receive, send)
            return
        if (_declared_length(scope) or 0) > DRAINED_AT_MOST:
            raise TooLarge()
        body = await _read(receive)
        check(body)
        given = False

        async def replay() -> ReceiveMessage:
            """The body once, as it came; then whatever the client sends next (a disconnect)."""
            nonlocal given
            if given:
                return await receive()
            given = True
            return {"type": "http.request", "body": body, "more_body": False}

        try:
            await app(scope, replay, send)
        finally:
            parse_url_encoded_form_data.cache_clear()

    return middleware
