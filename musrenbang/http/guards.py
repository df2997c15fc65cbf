"""Role guards for controllers: the signed-in account (bearer token, or the session cookie on pages) must
hold one of the roles, checked before the handler runs. Handlers that also need the account take the
`actor` dependency, which reads it again (a cached row: tokens are looked up by primary key).

A guard runs before everything else of its handler: before the `before_request` hook (app.py), before the
body is read and decoded, before the path's code or forum is looked up. A handler whose refusals must come
after those (a malformed body answered 400 or 422 even to a stranger, a forum that does not exist 404 to
any account) checks the role itself, with `domain.access.require_role`."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler

from musrenbang.domain.access import require_role
from musrenbang.domain.errors import N_, DomainError
from musrenbang.http.auth import token_of
from musrenbang.http.city_context import CityContext
from musrenbang.services import accounts
from musrenbang.services.accounts import NotAuthenticated

Guard = Callable[[ASGIConnection, BaseRouteHandler], Awaitable[None]]


def roles(*allowed: str) -> Guard:
    """A guard admitting accounts with one of `allowed` (401 when signed out, 403 for another role; a page
    asked for with GET sends the signed-out to the sign-in page instead, as http/errors.py does for any
    handler)."""

    async def guard(connection: ASGIConnection, _: BaseRouteHandler) -> None:
        token = token_of(connection)
        actor = await accounts.actor_for(connection.app.state.pool, token) if token else None
        try:
            if actor is None:
                raise NotAuthenticated(N_("masuk terlebih dahulu"))
            require_role(actor, *allowed)
        except DomainError:
            await _city_read(connection)
            raise

    return guard


async def _city_read(connection: ASGIConnection) -> None:
    """The city's settings read as `before_request` (http/city_context.py refresh_city) reads them, which a
    refusal here comes before: the error page names the city as a handler's own refusal would."""
    context: CityContext | None = connection.app.state.get("city_context")
    if context is not None:
        await context.refresh()


BAPPEDA = roles("admin")
"""Bappeda's planning staff: open cycles, move their windows."""
FACILITATORS = roles("admin", "facilitator")
"""Kelurahan and kecamatan facilitators (each within their region, which the handler checks against what
it acts on) and Bappeda: the verification queue, scheduling forums."""
AUDITORS = roles("auditor", "admin")
"""The auditor, and Bappeda: the state of the log's hash chains (/audit)."""
