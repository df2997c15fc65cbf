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


async def count_submission(pool: asyncpg.Pool, address: str, request_key: str, per_hour: int) -> None:
    """Count the submission `request_key` from `address`; raise RateLimited unless it is among the
    first `per_hour` distinct submissions from that address this hour (a retry keeps its place)."""
    bucket = f"submit:{address}"
    async with pool.acquire() as conn:
        status = await conn.execute(
            "INSERT INTO rate_limits (bucket, window_start, request_key)"
            " VALUES ($1, date_trunc('hour', now()), $2) ON CONFLICT DO NOTHING",
            bucket, request_key,
        )  # fmt: skip
        allowed = await conn.fetchval(
            "SELECT $2 = ANY(ARRAY(SELECT request_key FROM rate_limits"
            " WHERE bucket = $1 AND window_start = date_trunc('hour', now())"
            " ORDER BY first_seen, request_key LIMIT $3))",
            bucket, request_key, per_hour,
        )  # fmt: skip
        if status == "INSERT 0 1":  # a new submission: forget windows that are over
            await conn.execute("DELETE FROM rate_limits WHERE window_start < now() - interval '2 hours'")
    if not allowed:
        raise RateLimited(N_("terlalu banyak usulan dari alamat ini dalam satu jam; silakan coba lagi nanti"))
