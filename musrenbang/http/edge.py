"""What is done to every request before Litestar sees it: HEAD answered as GET without the body, and an
Accept-Encoding that refuses gzip (`gzip;q=0`) heeded.

HEAD (RFC 9110, 9.3.2: every general-purpose server must support it). Litestar routes HEAD only to
handlers declared for it, so a monitor or link checker asking `HEAD /health` got 405. Declaring a HEAD
twin beside each of ~150 GET handlers would double the routes; instead the whole application is wrapped,
outside Litestar's router: a HEAD request goes in as GET, its status and headers (Content-Length, ETag,
Cache-Control, the same as the GET's) go out, its body does not.

A streaming response (the projector's Server-Sent Events) would run for as long as its forum is open: once
the headers are out, the request is ended for the client and the application is told the client left
(`http.disconnect`), which ends the stream as a closed tab does.

Accept-Encoding (RFC 9110, 12.5.3). Litestar's compression looks for the word "gzip" in the header, so
`gzip;q=0` (gzip refused) got gzip. A header that names gzip and does not take it (`page_cache.takes_gzip`,
which the page cache reads too) goes in as `identity`.

Content-Type (RFC 9110, 15.5.16). Litestar reads the body of a handler that takes JSON as JSON whatever
its declared type: `text/plain` got 201, a form got "JSON is malformed: invalid character", an empty body a
400 whose detail was `'data'`. A body declared as anything but JSON (`application/json`, with or without
a charset, or `application/…+json`; a body without a type is taken as the endpoint's own, RFC 9110 8.3) is
answered 415, and no body where one is needed 400. Which handlers take JSON is their own declaration
(`data`, JSON unless it says a form or multipart), read at the first message of the body, once Litestar has
routed the request: forms, photo uploads and a CSV read raw are untouched, and the refusal, raised inside
Litestar, is answered by http/errors.py like any other.
"""

from __future__ import annotations

from typing import Any

from litestar.enums import RequestEncodingType
from litestar.exceptions import ClientException, HTTPException
from litestar.params import BodyKwarg
from litestar.types import ASGIApp, Message, Receive, ReceiveMessage, Scope, Send
from litestar.typing import FieldDefinition

from musrenbang.domain.errors import N_
from musrenbang.http.page_cache import takes_gzip


class NotJson(HTTPException):
    """A body declared as something else sent to a handler that takes JSON."""

    status_code = 415
    reader_message = N_("jenis isi kiriman tidak didukung: kirim datanya dalam JSON, dengan header Content-Type:"
                        " application/json")  # fmt: skip
    """What http/errors.py answers with: which header to set, and to what."""


class EmptyBody(ClientException):
    """No body sent to a handler that needs one (http/errors.py says so in the reader's language)."""

    detail = "the body is empty: this address takes JSON"


class Edge:
    """The ASGI application `app` with HEAD requests answered as GET without their bodies, gzip not sent
    to a client that refused it, and a body that is not JSON refused where JSON is taken; the lifespan
    passed through as it is."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            scope = _gzip_refusal_heeded(scope)
            if scope.get("method") not in ("GET", "HEAD"):
                receive = _json_body_checked(scope, receive)
        if scope["type"] != "http" or scope.get("method") == "GET":
            await self.app(scope, receive, send)
        elif scope.get("method") == "HEAD":
            await self._head(scope, receive, send)
        else:  # an `Allow` (405, OPTIONS) names HEAD where it names GET

            async def allowing_head(message: Message) -> None:
                if message["type"] == "http.response.start":
                    message = {**message, "headers": _allow_head(message.get("headers", []))}
                await send(message)

            await self.app(scope, receive, allowing_head)

    async def _head(self, scope: Scope, receive: Receive, send: Send) -> None:
        ended = False

        async def headers_only(message: Message) -> None:
            nonlocal ended
            if ended:
                return  # the body the GET goes on sending
            if message["type"] == "http.response.start":
                await send({**message, "headers": _allow_head(message.get("headers", []))})
                await send({"type": "http.response.body", "body": b"", "more_body": False})
                ended = True

        async def left_once_answered() -> ReceiveMessage:
            return {"type": "http.disconnect"} if ended else await receive()

        await self.app({**scope, "method": "GET"}, left_once_answered, headers_only)  # type: ignore[arg-type]


def _allow_head(headers: Any) -> list[tuple[bytes, bytes]]:
    """An `Allow` naming GET names HEAD too: it is true now."""
    out = []
    for name, value in headers:
        if name.lower() == b"allow" and b"GET" in value.split(b", ") and b"HEAD" not in value:
            value = value.replace(b"GET", b"GET, HEAD", 1)
        out.append((name, value))
    return out


def _gzip_refusal_heeded(scope: Scope) -> Scope:
    """The scope with `Accept-Encoding: identity` in place of a header that names gzip without taking it
    (copied only then: every request passes here)."""
    for name, value in scope["headers"]:
        if name == b"accept-encoding" and b"gzip" in value.lower() and not takes_gzip(value.decode("latin-1")):
            headers = [(n, b"identity" if n == b"accept-encoding" else v) for n, v in scope["headers"]]
            return {**scope, "headers": headers}  # type: ignore[return-value]
    return scope


def _json_body_checked(scope: Scope, receive: Receive) -> Receive:
    """`receive`, refusing at the body's first bytes (or its end, when it has none) what the routed handler
    cannot take as JSON: `scope`, the very dict passed on, holds the handler by then (Litestar routes it)."""
    pending = True

    async def checked() -> ReceiveMessage:
        nonlocal pending
        message = await receive()
        if pending and message["type"] == "http.request":
            body, more = message.get("body", b""), message.get("more_body", False)
            if body or not more:
                pending = False
                _refuse_unless_json(scope, empty=not body)
        return message

    return checked


def _refuse_unless_json(scope: Scope, *, empty: bool) -> None:
    """NotJson for a body declared as something else, EmptyBody for none where the handler needs one; nothing
    for a handler that takes no JSON."""
    data = _json_data(scope.get("route_handler"))
    if data is None:
        return
    if empty:
        if not (data.has_default or data.is_optional):
            raise EmptyBody()
    elif not _is_json(scope):
        raise NotJson()


def _json_data(handler: object) -> FieldDefinition | None:
    """The `data` a handler takes as JSON: Litestar's reading of a body unless the handler declares another
    (a form, multipart, MessagePack). None for a handler without `data` (one reading its body raw)."""
    data: FieldDefinition | None = getattr(handler, "parsed_data_field", None)
    if data is None:
        return None
    kwarg = data.kwarg_definition
    media = kwarg.media_type if isinstance(kwarg, BodyKwarg) else RequestEncodingType.JSON
    return data if media == RequestEncodingType.JSON else None


def _is_json(scope: Scope) -> bool:
    """Whether the body is declared as JSON (`application/json`, `application/…+json`, any parameters), or
    not declared at all."""
    for name, value in scope["headers"]:
        if name == b"content-type":
            media = value.split(b";")[0].strip().lower()
            return media == b"application/json" or (media.startswith(b"application/") and media.endswith(b"+json"))
    return True
