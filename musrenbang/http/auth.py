"""Signing in: API tokens (`Authorization: Bearer`), browser sessions (cookie), and the `actor`
dependency that staff handlers take."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import asyncpg
import msgspec
from litestar import Controller, Request, Response, delete, get, post
from litestar.connection import ASGIConnection
from litestar.datastructures import CacheControlHeader
from litestar.params import JSONBody, URLEncodedBody
from litestar.response import Redirect, Template

from musrenbang.domain import forum as forum_rules
from musrenbang.domain.access import Actor, covers
from musrenbang.domain.errors import N_, DomainError, ValidationFailed
from musrenbang.http.deps import ActorDep, PoolDep, StoreDep
from musrenbang.http.i18n import translate
from musrenbang.http.labels import LEVEL_LABELS, ROLE_LABELS
from musrenbang.http.notices import notify
from musrenbang.http.ratelimit import client_address, limit_key
from musrenbang.http.render import page
from musrenbang.http.security import HOST_ONLY, SESSION_COOKIE, local_path, over_https
from musrenbang.reference import region_names
from musrenbang.services import accounts, cycles, login_throttle
from musrenbang.services.accounts import NotAuthenticated


class Credentials(msgspec.Struct, forbid_unknown_fields=True):
    username: Annotated[str, msgspec.Meta(max_length=40)]
    password: Annotated[str, msgspec.Meta(max_length=200)]


class TokenOut(msgspec.Struct):
    token: str
    expires_at: dt.datetime


def token_of(request: ASGIConnection) -> str | None:
    """The bearer token, or on pages (not under /api/) the session cookie.

    The JSON API takes only `Authorization: Bearer`: a browser adds cookies to any request, even one
    another site makes it send (a `text/plain` POST needs no CORS preflight), so a cookie-authenticated
    API would need CSRF tokens; a bearer token is never sent by the browser on its own. Pages keep the
    cookie and every form carries a CSRF token."""
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip() or None
    if request.url.path.startswith("/api/"):
        return None
    return request.cookies.get(session_cookie(request))


def session_cookie(request: ASGIConnection) -> str:
    """The session cookie's name: `__Host-sesi` where the site is public over HTTPS (MUSRENBANG_PUBLIC_URL),
    so that a browser takes it only from this very host, over HTTPS: no other host of the city's domain
    can plant one (a session of its choosing). The CSRF cookie is named alike (app.py)."""
    return HOST_ONLY + SESSION_COOKIE if request.app.state.settings.over_https else SESSION_COOKIE


def _new_csrf_pair(request: Request, response: Response) -> None:
    """Signing in or out drops the CSRF cookie; the next page gets a new one. A pair planted in the
    browser before (by a host that may set cookies for this one) is then worth nothing."""
    config = request.app.csrf_config
    if config is not None:
        _drop_cookie(request, response, config.cookie_name, config.cookie_path)


def _drop_cookie(request: Request, response: Response, name: str, path: str = "/") -> None:
    """Tell the browser to forget a cookie. Over HTTPS the expiring cookie must be Secure too: a browser
    ignores any `__Host-` cookie set without Secure, the one that would remove it included (litestar's
    `delete_cookie` sends none, so signing out left `__Host-sesi` in the browser)."""
    response.set_cookie(name, "", max_age=0, expires=0, path=path, secure=over_https(request), httponly=True,
                        samesite="lax")  # fmt: skip


async def optional_actor(request: Request, pool: asyncpg.Pool) -> Actor | None:
    """The signed-in account if there is one: for public endpoints that staff may use with more rights."""
    token = token_of(request)
    return await accounts.actor_for(pool, token) if token else None


async def current_actor(request: Request, pool: PoolDep) -> Actor:
    """The signed-in account, from a bearer token or the session cookie; 401 otherwise."""
    token = token_of(request)
    actor = await accounts.actor_for(pool, token) if token else None
    if actor is None:
        raise NotAuthenticated(N_("masuk terlebih dahulu"))
    return actor


NOT_KEPT = CacheControlHeader(no_store=True)
"""For what no cache may keep (RFC 6749 5.1 for a token): a proxy or the browser's cache handing a bearer
token, or a staff page, to whoever asks or presses Back on a shared computer after signing out."""


class TokenApi(Controller):
    """A program signs in here: getting a token needs none (wrong passwords are throttled), revoking one needs
    the token itself (`actor`), so no guard."""

    path = "/api/v1/auth/token"
    tags = ["auth"]

    @post("/", summary="Exchange username and password for a bearer token", status_code=200,
          request_max_body_size=4096, cache_control=NOT_KEPT)  # fmt: skip
    async def issue_token(self, request: Request, data: JSONBody[Credentials], pool: PoolDep) -> TokenOut:
        settings = request.app.state.settings
        token, expires, _ = await login_throttle.login(
            pool, data.username, data.password, limit_key(client_address(request, settings.trust_proxy)), "api"
        )
        return TokenOut(token, expires)

    @delete("/", summary="Revoke the bearer token used for this request", status_code=204)
    async def revoke_token(self, request: Request, pool: PoolDep, actor: ActorDep) -> None:
        token = token_of(request)
        if token:
            await accounts.revoke(pool, token)


class SignInPages(Controller):
    """A browser signs in and out here: for anyone (wrong passwords are throttled), so no guard."""

    path = "/"
    include_in_schema = False

    @get("/masuk")
    async def login_form(self, request: Request) -> Template:
        """`kembali`: the page that asked for a sign-in (http/errors.py), kept in the form if it is one of ours."""
        back = local_path(request.query_params.get("kembali", ""))
        return page(request, "login.html", error=None, username="", back=back, wrong=False)

    @post("/masuk", request_max_body_size=4096)
    async def login_submit(
        self,
        request: Request,
        pool: PoolDep,
        data: URLEncodedBody[dict[str, str]],
    ) -> Response:
        username = str(data.get("username", ""))[:40]
        back = local_path(str(data.get("kembali", "")))
        settings = request.app.state.settings
        try:
            token, expires, actor = await login_throttle.login(
                pool,
                username,
                str(data.get("password", ""))[:200],
                limit_key(client_address(request, settings.trust_proxy)),
                "browser",
            )
        except DomainError as exc:
            refused = page(request, "login.html", status=401, error=translate(request, exc.message), username=username,
                           back=back, wrong=not isinstance(exc, accounts.TooManyAttempts))  # fmt: skip
            if isinstance(exc, accounts.TooManyAttempts):
                refused.status_code = 429
                refused.headers["Retry-After"] = str(exc.retry_after)
            return refused
        # The session this browser held for another account (the last person at a shared computer in a kelurahan
        # office) ends here: the new cookie replaces it in the browser, and nothing could sign it out any more.
        if (
            (before := request.cookies.get(session_cookie(request)))
            and (held := await accounts.actor_for(pool, before)) is not None
            and held.username != actor.username
        ):
            await accounts.revoke(pool, before)
        return _with_session(request, Redirect(back or "/petugas", status_code=303), token, expires)

    @post("/keluar")
    async def logout(self, request: Request, pool: PoolDep) -> Response:
        token = request.cookies.get(session_cookie(request))
        if token:
            await accounts.revoke(pool, token)
        response = Redirect("/", status_code=303)
        _drop_cookie(request, response, session_cookie(request))
        _new_csrf_pair(request, response)
        return response


def _with_session(request: Request, response: Response, token: str, expires: dt.datetime) -> Response:
    """`response` signing this browser in with the session `token`, under a new CSRF token."""
    lifetime = int((expires - dt.datetime.now(dt.UTC)).total_seconds())  # Max-Age: seconds from now
    response.set_cookie(session_cookie(request), token, max_age=lifetime, httponly=True, samesite="lax",
                        secure=over_https(request), path="/")  # fmt: skip
    _new_csrf_pair(request, response)
    return response


PASSWORD_FIELDS = ("current", "new", "again")


class StaffHomePages(Controller):
    """The signed-in account's own pages, whatever its role: the `actor` dependency refuses the signed-out, so
    no role guard."""

    path = "/petugas"
    include_in_schema = False

    @get("/sandi", cache_control=NOT_KEPT)
    async def password_form(self, request: Request, actor: ActorDep) -> Template:
        return page(request, "password.html", actor=actor, errors={})

    @post("/sandi", request_max_body_size=4096)
    async def password_submit(self, request: Request, actor: ActorDep, pool: PoolDep,
                              data: URLEncodedBody[dict[str, str]]) -> Response:  # fmt: skip
        """Staff change their own password (an admin sets the first and sends it, over WhatsApp perhaps). The
        current one is checked through the sign-in throttle, so that a session left open on a shared computer
        cannot be used to guess it; the change ends every session and token of the account
        (`accounts.set_password`), and this browser is signed in again with the new password."""
        typed = {name: str(data.get(name, ""))[:200] for name in PASSWORD_FIELDS}
        client = limit_key(client_address(request, request.app.state.settings.trust_proxy))
        errors: dict[str, str] = {}
        try:
            proof, _, _ = await login_throttle.login(pool, actor.username, typed["current"], client, "browser")
        except accounts.TooManyAttempts as exc:
            return _password_page(request, actor, {"current": exc.message}, status=429)
        except DomainError:
            errors["current"] = N_("kata sandi sekarang salah")
        else:
            await accounts.revoke(pool, proof)  # it only proved the password
        if typed["new"] != typed["again"]:
            errors["again"] = N_("tidak sama dengan kata sandi baru di atas")
        elif typed["new"] and typed["new"] == typed["current"]:
            errors["new"] = N_("kata sandi baru harus berbeda dari yang sekarang")
        if not errors:
            try:
                async with pool.acquire() as conn:
                    await accounts.set_password(conn, actor.username, typed["new"])
            except ValidationFailed as exc:
                errors["new"] = exc.errors["password"]
        if errors:
            return _password_page(request, actor, errors, status=422)
        token, expires, _ = await login_throttle.login(pool, actor.username, typed["new"], client, "browser")
        done = notify(request, Redirect("/petugas", status_code=303),
                      translate(request, N_("Kata sandi diganti; sesi lain akun ini sudah keluar")))  # fmt: skip
        return _with_session(request, done, token, expires)

    @get("/", cache_control=NOT_KEPT)
    async def staff_home(self, request: Request, actor: ActorDep, pool: PoolDep, store: StoreDep) -> Template:
        """The forums listed are chosen by the account's region in the query, before the limit: taking the city's
        200 latest first and keeping a facilitator's among them left a kelurahan's own forums out once the other
        kelurahan of a large city (or of past years) had scheduled 200 after them."""
        scope = actor.region if actor.role == "facilitator" else None
        rows = await pool.fetch("SELECT forum_id, level, region, year, title, status FROM forums"
                                " WHERE origin = 'musrenbang'"
                                " AND ($1::text IS NULL OR region = $1 OR starts_with(region, $1 || '.'))"
                                " ORDER BY scheduled_at DESC LIMIT 200", scope)  # fmt: skip
        mine = [r for r in rows if covers(actor, r["region"])]
        adopted = [r["year"] for r in await pool.fetch(
            "SELECT year FROM rkpd_state WHERE revision > 0 ORDER BY year DESC")]  # fmt: skip
        async with pool.acquire() as conn:
            names = await region_names(conn, [*(r["region"] for r in mine), *([actor.region] if actor.region else [])])
        try:
            planned = await cycles.planned_year(store) if mine else 0
        except DomainError:  # no cycle being planned: the latest year with forums is the one at hand
            planned = max(r["year"] for r in mine)
        return page(request, "staff_home.html", actor=actor, forum_years=forum_years(mine, planned), adopted=adopted,
                    names=names,
                    ROLES=ROLE_LABELS, LEVELS=LEVEL_LABELS, FORUM_STATUS=forum_rules.STATUS_LABELS)  # fmt: skip


def _password_page(request: Request, actor: Actor, errors: dict[str, str], *, status: int) -> Template:
    return page(request, "password.html", status=status, actor=actor,
                errors={name: translate(request, message) for name, message in errors.items()})  # fmt: skip


FORUM_ORDER = {forum_rules.OPEN: 0, forum_rules.SCHEDULED: 1, forum_rules.CLOSED: 2}
ENDED = (forum_rules.CLOSED, forum_rules.CANCELLED)


class ForumYear(msgspec.Struct, frozen=True):
    """A year's forums on the staff home page: those still to hold or under way, and those that ended
    (closed or cancelled) — folded away (a count and a link to the year's calendar) for a year before the
    one being planned."""

    year: int
    active: list[asyncpg.Record]
    closed: list[asyncpg.Record]
    folded: bool

    @property
    def cancelled(self) -> int:
        return sum(r["status"] == forum_rules.CANCELLED for r in self.closed)


def forum_years(rows: list[asyncpg.Record], planned: int) -> list[ForumYear]:
    """`rows` (latest scheduled first) by RKPD year, newest first; in each, open forums, then scheduled."""
    years: dict[int, list[asyncpg.Record]] = {}
    for r in rows:
        years.setdefault(r["year"], []).append(r)
    return [ForumYear(year, sorted((r for r in found if r["status"] not in ENDED),
                                   key=lambda r: FORUM_ORDER.get(r["status"], 1)),
                      [r for r in found if r["status"] in ENDED], year < planned)
            for year, found in sorted(years.items(), reverse=True)]  # fmt: skip
