"""The city's settings as pages show them (its name, its planning agency, agency names), read from the
`city` read model at most every few seconds by each server process: they change once in a long while,
and every page needs them."""

from __future__ import annotations

import time

import asyncpg
from litestar import Request

from musrenbang.domain.city import City
from musrenbang.projections import city as city_views
from musrenbang.services import cycles

REFRESH_AFTER = 5.0


class CityContext:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool
        self._loaded_at = -REFRESH_AFTER
        self.city = City()
        """The settings as last read: what `render.page` puts in every template (empty before setup)."""

    async def refresh(self) -> City:
        """The settings, read again if the last read is older than REFRESH_AFTER, or found none (on a
        first start the projection takes the setup in moments after the server answers)."""
        now = time.monotonic()
        if now - self._loaded_at >= REFRESH_AFTER or not self.city.exists:
            try:
                async with self._pool.acquire() as conn:
                    self.city = await city_views.settings(conn)
            except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError):
                # The database is away: the last settings read stand, and the request goes on to say so
                # itself (health reports the outage; a page that needs the database answers 503).
                return self.city
            self._loaded_at = now
            if self.city.exists:
                cycles.use_timezone(self.city.timezone)  # a changed setting reaches every server in moments
        return self.city


async def refresh_city(request: Request) -> None:
    """`before_request`: the settings are fresh for the page this request renders."""
    context: CityContext | None = request.app.state.get("city_context")
    if context is not None:
        await context.refresh()


def city_of(request: Request) -> City:
    """The settings as this process last read them (a page for an error too, before any hook ran)."""
    context: CityContext | None = request.app.state.get("city_context")
    return context.city if context is not None else City()
