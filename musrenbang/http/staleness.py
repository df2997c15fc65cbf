"""Saying so when a page may be behind.

After a write, a handler waits for the read models to apply it (read-your-writes). When that wait gives
up (projections/runner.py logs it), the response says so: pages show a notice that the data may be a few
seconds behind, a redirect carries the notice to the next page in a short-lived cookie, and every
response gets an `X-Data-Behind: 1` header for API clients.
"""

from __future__ import annotations

from litestar import Request
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from musrenbang.projections.runner import WAITS_GIVEN_UP

COOKIE = "tertinggal"
_SET = f"{COOKIE}=1; Max-Age=60; Path=/; HttpOnly; SameSite=Lax".encode()
_CLEAR = f"{COOKIE}=; Max-Age=0; Path=/; HttpOnly; SameSite=Lax".encode()


def staleness_middleware(app: ASGIApp) -> ASGIApp:
    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        given_up: list[str] = []
        token = WAITS_GIVEN_UP.set(given_up)
        carried = f"{COOKIE}=1".encode() in dict(scope["headers"]).get(b"cookie", b"")

        async def send_noting(message: Message) -> None:
            if message["type"] == "http.response.start" and (given_up or carried):
                headers = list(message.get("headers", []))
                if given_up:
                    headers.append((b"x-data-behind", b"1"))
                redirect = 300 <= message["status"] < 400
                if given_up and redirect:
                    headers.append((b"set-cookie", _SET))
                elif carried and not redirect:
                    headers.append((b"set-cookie", _CLEAR))  # the notice was shown on this page
                message = {**message, "headers": headers}
            await send(message)

        try:
            await app(scope, receive, send_noting)
        finally:
            WAITS_GIVEN_UP.reset(token)

    return middleware


def behind(request: Request) -> bool:
    """Whether the page being rendered may show data a few seconds behind what was just written."""
    return bool(WAITS_GIVEN_UP.get()) or request.cookies.get(COOKIE) == "1"
