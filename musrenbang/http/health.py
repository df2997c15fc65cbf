"""GET /health: is the database reachable, and how far behind is each projection?"""

from __future__ import annotations

import asyncpg
import msgspec
from litestar import Response, get

from musrenbang.projections.runner import ProjectionRunner, lag


class ProjectionHealth(msgspec.Struct):
    lag: int
    """Events committed to the log but not yet applied to this read model."""


class DatabaseHealth(msgspec.Struct):
    status: str
    version: str | None = None
    error: str | None = None


class Health(msgspec.Struct):
    status: str
    database: DatabaseHealth
    projections: dict[str, ProjectionHealth]


@get("/health", summary="Server and database health, with each projection's lag in events")
async def health(pool: asyncpg.Pool, runner: ProjectionRunner) -> Response[Health]:
    names = [p.name for p in runner.projections]
    try:
        async with pool.acquire(timeout=5) as conn:
            version = await conn.fetchval("SHOW server_version")
            lags = await lag(conn, names)
    except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
        body = Health("unavailable", DatabaseHealth("unreachable", error=str(exc) or type(exc).__name__), {})
        return Response(body, status_code=503)
    return Response(Health("ok", DatabaseHealth("ok", version=version), {n: ProjectionHealth(lags[n]) for n in names}))
