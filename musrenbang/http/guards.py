"""Role guards for controllers: the signed-in account (bearer token, or the session cookie on pages) must
hold one of the roles, checked before the handler runs. Handlers that also need the account take the
`actor` dependency, which reads it again (a cached row: tokens are looked up by primary key)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler

from musrenbang.domain.access import require_role
from musrenbang.domain.errors import N_
from musrenbang.http.auth import token_of
from musrenbang.services import accounts
from musrenbang.services.accounts import NotAuthenticated

Guard = Callable[[ASGIConnection, BaseRouteHandler], Awaitable[None]]


def roles(*allowed: str) -> Guard:
    """A guard admitting accounts with one of `allowed` (401 when signed out, 403 for another role)."""

    async def guard(connection: ASGIConnection, _: BaseRouteHandler) -> None:
        token = token_of(connection)
        actor = await accounts.actor_for(connection.app.state.pool, token) if token else None
        if actor is None:
            raise NotAuthenticated(N_("masuk terlebih dahulu"))
        require_role(actor, *allowed)

    return guard


BAPPEDA = roles("admin")
"""Bappeda's planning staff: open cycles, move their windows."""
