"""Notices after a form (flash): "what just happened", carried to the next page in a signed cookie and
shown there once.

Why not `?pesan=` in the address, as pages once did: whatever a query parameter says, the page prints, so
anyone could send staff a link to our own site that shows a text of their choosing ("your password
expired, call ..."). A cookie is set only by our answers, and its signature (HMAC with the server's
secret) refuses one forged or edited elsewhere; the text is escaped like any other when shown.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

from litestar import Request, Response

from musrenbang.http.security import over_https

COOKIE = "kabar"
MAX_CHARS = 600
"""A notice is a sentence or two; a cookie holds about 4 KB."""
LIFETIME = 300
"""Seconds: the page after the redirect shows it; one never shown does not surface hours later."""


def notice_key(secret: str) -> bytes:
    """The signing key, derived from the shared secret (so it differs from the CSRF token's)."""
    return hashlib.sha256(b"musrenbang notice\0" + secret.encode()).digest()


def notify(request: Request, response: Response, text: str) -> Response:
    """Put `text` on the next page this browser is shown (the redirect's target)."""
    body = base64.urlsafe_b64encode(text[:MAX_CHARS].encode()).decode().rstrip("=")
    response.set_cookie(COOKIE, f"{body}.{_sign(request, body)}", max_age=LIFETIME, httponly=True, samesite="lax",
                        secure=over_https(request), path="/")  # fmt: skip
    return response


def take(request: Request, response: Response) -> str | None:
    """The notice waiting for this page, if any (then removed: shown once); None when there is none or its
    signature does not match."""
    raw = request.cookies.get(COOKIE)
    if raw is None:
        return None
    response.delete_cookie(COOKIE, path="/")
    body, _, signature = raw.partition(".")
    # Bytes: compare_digest refuses str with non-ASCII characters, and a cookie may hold anything.
    if not hmac.compare_digest(signature.encode(), _sign(request, body).encode()):
        return None
    try:
        return base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)).decode()[:MAX_CHARS]
    except ValueError:  # not base64, or not UTF-8 (UnicodeDecodeError is a ValueError)
        return None


def _sign(request: Request, body: str) -> str:
    return hmac.new(request.app.state.notice_key, body.encode(), hashlib.sha256).hexdigest()[:40]

