"""How many new proposals one client address may submit per hour, counted in PostgreSQL so that every
server process shares the count."""

from __future__ import annotations

import asyncpg
from litestar import Request

from musrenbang.domain.errors import N_, DomainError


class RateLimited(DomainError):
    code = "rate_limited"


def client_address(request: Request, trust_proxy: bool) -> str:
    """The client's address (at most 64 characters: it becomes a key of the rate_limits table)."""
    if trust_proxy:
        forwarded = request.headers.get("x-forwarded-for")
        if forwarded:
            return forwarded.split(",")[0].strip()[:64]
    return (request.client.host if request.client else "unknown")[:64]


async def count_submission(pool: asyncpg.Pool, address: str, request_key: str, per_hour: int) -> None:
    """Count the submission `request_key` from `address`; raise RateLimited when `per_hour` distinct
    submissions from that address were already counted this hour. Two requests racing for the last
    place may both get it: a limit against floods, not an exact quota."""
    allowed, first = await pool.fetchrow(_COUNT, f"submit:{address}", request_key, per_hour)
    if first:  # the first of this address's window: forget windows that are over
        await pool.execute("DELETE FROM rate_limits WHERE window_start < now() - interval '2 hours'")
    if not allowed:
        raise RateLimited(N_("terlalu banyak usulan dari alamat ini dalam satu jam; silakan coba lagi nanti"))


# One round trip: a retry keeps its place; a new key is recorded only while the window has room
# (refusals are not recorded, so a window never holds more than the limit).
_COUNT = """
WITH seen AS (
    SELECT 1 FROM rate_limits
    WHERE bucket = $1 AND window_start = date_trunc('hour', now()) AND request_key = $2
), counted AS (
    SELECT count(*) AS n FROM (
        SELECT 1 FROM rate_limits WHERE bucket = $1 AND window_start = date_trunc('hour', now()) LIMIT $3
    ) AS window_keys
), recorded AS (
    INSERT INTO rate_limits (bucket, window_start, request_key)
    SELECT $1, date_trunc('hour', now()), $2
    WHERE NOT EXISTS (SELECT 1 FROM seen) AND (SELECT n FROM counted) < $3
    -- A twin request recording the same key at this moment: wait for it and share its place.
    ON CONFLICT (bucket, window_start, request_key) DO UPDATE SET first_seen = rate_limits.first_seen
    RETURNING 1
)
SELECT EXISTS (SELECT 1 FROM seen) OR EXISTS (SELECT 1 FROM recorded) AS allowed,
       (SELECT n FROM counted) = 0 AS first
"""
