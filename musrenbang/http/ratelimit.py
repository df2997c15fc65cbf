"""How many new proposals one client address may submit per hour, counted in PostgreSQL so that every
server process shares the count."""

from __future__ import annotations

import asyncpg
from litestar import Request

from musrenbang.domain.errors import N_, DomainError


class RateLimited(DomainError):
    code = "rate_limited"


def client_address(request: Request, trust_proxy: bool) -> str:
    if trust_proxy:
        forwarded = request.headers.get("x-forwarded-for")
        if forwarded:
            return forwarded.split(",")[0].strip()
    return request.client.host if request.client else "unknown"


async def count_submission(pool: asyncpg.Pool, address: str, per_hour: int) -> None:
    """Count one submission from `address`; raise RateLimited when it is over the hourly limit."""
    hits = await pool.fetchval(
        "INSERT INTO rate_limits (bucket, window_start, hits) VALUES ($1, date_trunc('hour', now()), 1)"
        " ON CONFLICT (bucket, window_start) DO UPDATE SET hits = rate_limits.hits + 1 RETURNING hits",
        f"submit:{address}",
    )
    if hits == 1:  # first in a new window: forget the old ones
        await pool.execute("DELETE FROM rate_limits WHERE window_start < now() - interval '2 hours'")
    if hits > per_hour:
        raise RateLimited(N_("terlalu banyak usulan dari alamat ini dalam satu jam; silakan coba lagi nanti"))
