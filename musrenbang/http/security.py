"""Headers every response carries, so that a browser holds the site to what it is: pages and scripts from
this server only, never framed by another site, never sniffed into another type, no address leaked to
other sites, and (over HTTPS) never fetched over plain HTTP again.

The Content-Security-Policy allows no inline script or style at all (there are none: the pages' only
script is /static/app.js) and nothing from another host; charts and the Berita Acara's QR code are inline
SVG, which needs no exception.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from litestar import Request
from litestar.types import Message, Scope

from musrenbang.config import Settings

log = logging.getLogger(__name__)

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self';"
    " object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
HSTS_SECONDS = 365 * 24 * 3600
SESSION_COOKIE = "sesi"
HOST_ONLY = "__Host-"
"""A cookie name's prefix by which browsers refuse the cookie unless it is Secure, for path / and set by this
very host (no Domain): what other hosts under the city's domain cannot plant."""
_SESSIONS = {SESSION_COOKIE.encode(), (HOST_ONLY + SESSION_COOKIE).encode()}


def security_headers(settings: Settings) -> Callable[[Message, Scope], Awaitable[None]]:
    """A `before_send` hook that adds the headers (HSTS only when the public address is HTTPS) to every
    response, including those of routing errors (404, 405), which no route middleware sees."""
    fixed = [
        (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
        (b"x-frame-options", b"DENY"),
        (b"x-content-type-options", b"nosniff"),
        (b"referrer-policy", b"same-origin"),
    ]
    if settings.over_https:
        fixed.append((b"strict-transport-security", f"max-age={HSTS_SECONDS}".encode()))
    names = {name for name, _ in fixed}
    unwarned = [not settings.over_https]

    async def add_headers(message: Message, scope: Scope) -> None:
        if message["type"] == "http.response.start":
            if unwarned[0] and _arrived_over_https(scope, settings):
                unwarned[0] = False
                log.warning(HTTP_PUBLIC_URL_WARNING, settings.public_url)
            headers = [h for h in message.get("headers", []) if bytes(h[0]).lower() not in names]
            if _signed_in(scope) and not scope.get("path", "").startswith("/static/"):
                headers = _not_kept(headers)
            message["headers"] = [*_kept_by_the_browser_alone(headers), *fixed]

    return add_headers


HTTP_PUBLIC_URL_WARNING = (
    "requests arrive over HTTPS but MUSRENBANG_PUBLIC_URL is %s: set it to the https:// address, or the CSRF"
    " cookie is not Secure, no HSTS is sent and the links in messages to residents use plain HTTP"
)


def _arrived_over_https(scope: Scope, settings: Settings) -> bool:
    """The request came over TLS itself, or a trusted proxy's X-Forwarded-Proto says it did."""
    if scope.get("scheme") == "https":
        return True
    return bool(settings.trust_proxy) and (b"x-forwarded-proto", b"https") in scope.get("headers", [])


def _signed_in(scope: Scope) -> bool:
    """The request carried a staff session or a bearer token: what it is answered may be one person's."""
    for name, value in scope.get("headers", []):
        if name == b"authorization":
            return True
        if name == b"cookie" and any(part.split(b"=", 1)[0].strip() in _SESSIONS for part in value.split(b";")):
            return True
    return False


def _not_kept(headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    """`no-store` on every answer to a signed-in request: on the shared computer of a kelurahan office,
    Back after "Keluar" showed the previous person's screens from the browser's cache (staff home, the
    verification queue, the audit log). Public pages asked by staff lose their 304s, nothing else."""
    return [*(h for h in headers if bytes(h[0]).lower() != b"cache-control"), (b"cache-control", b"no-store")]


def _kept_by_the_browser_alone(headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    """A response that sets a cookie is `private`: a shared cache (a proxy, a CDN) that kept one would hand
    every later visitor the same cookie — the CSRF token a public page sets on a first visit above all. The
    same page asked with the cookie sets none and stays shareable (`no-cache`: kept, asked again)."""
    if not any(bytes(name).lower() == b"set-cookie" for name, _ in headers):
        return headers
    out = [h for h in headers if bytes(h[0]).lower() != b"cache-control"]
    control = b", ".join(bytes(v) for n, v in headers if bytes(n).lower() == b"cache-control")
    if b"private" in control or b"no-store" in control:
        return headers
    return [*out, (b"cache-control", b"private, " + control if control else b"private")]


def over_https(request: Request) -> bool:
    """The public address is HTTPS (MUSRENBANG_PUBLIC_URL), the request came over HTTPS, or a trusted
    TLS-terminating proxy says it did."""
    settings = request.app.state.settings
    return settings.over_https or _arrived_over_https(request.scope, settings)


MAX_LOCAL_PATH = 2000


def local_path(text: str) -> str | None:
    """`text` when it is a path on this site ("/petugas/musyawarah/F1?tab=2"), else None: where a sign-in
    may send the browser back to, so that a link to `/masuk?kembali=…` can never send it to another site
    (an open redirect). A browser reads `//host` and `/\\host` as another host and drops tabs and newlines
    (`/\\t/host`), so anything but printable ASCII, any backslash and a second leading slash are refused.

        >>> local_path("/lacak/7KQ2M9XD?kabar=diminta"), local_path("//evil.example"), local_path("/\\\\evil.example")
        ('/lacak/7KQ2M9XD?kabar=diminta', None, None)
        >>> local_path("https://evil.example/"), local_path("/\\t/evil.example"), local_path("/ok#x")
        (None, None, '/ok#x')
    """
    if not text.startswith("/") or text.startswith("//") or "\\" in text or len(text) > MAX_LOCAL_PATH:
        return None
    return text if all("!" <= c <= "~" for c in text) else None
