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
"""

from __future__ import annotations

from typing import Any

from litestar.types import ASGIApp, Message, Receive, ReceiveMessage, Scope, Send

from musrenbang.http.page_cache import takes_gzip


class Edge:
    """The ASGI application `app` with HEAD requests answered as GET without their bodies, and gzip not
    sent to a client that refused it; the lifespan passed through as it is."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            scope = _gzip_refusal_heeded(scope)
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
