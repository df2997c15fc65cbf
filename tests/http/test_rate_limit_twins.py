"""The submission rate limit against twins of one request (the same Idempotency-Key sent again before the
first answer): they are one submission, however they race, and never refused on each other's account."""

from __future__ import annotations

import asyncio
import uuid

import asyncpg

from musrenbang.http.ratelimit import RateLimited, count_submission


async def test_twins_racing_for_a_full_window_are_the_request_already_counted(pool: asyncpg.Pool) -> None:
    address, key = f"10.77.{uuid.uuid4().int % 250}.1", f"twin-{uuid.uuid4()}"

    async def one() -> bool:
        try:
            await count_submission(pool, address, key, per_hour=2)
        except RateLimited:
            return False
        return True

    for _ in range(20):  # rounds, until the race shows: twins bumped the window past what one request takes
        bucket = f"submit:{address}"
        await pool.execute("DELETE FROM rate_limits WHERE bucket = $1", bucket)
        await pool.execute("DELETE FROM rate_limit_windows WHERE bucket = $1", bucket)
        answers = await asyncio.gather(*(one() for _ in range(12)))
        assert all(answers), answers  # every twin let through: one request
        if await pool.fetchval("SELECT n FROM rate_limit_windows WHERE bucket = $1", bucket) > 1:
            break
    else:
        raise AssertionError("the twins never raced past each other in 20 rounds")
    # The twins filled the window (n stops at the limit), so a different request is refused, as it should be.
    refused = False
    try:
        await count_submission(pool, address, f"other-{uuid.uuid4()}", per_hour=2)
    except RateLimited:
        refused = True
    assert refused
