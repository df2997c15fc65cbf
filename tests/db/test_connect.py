"""The connection pool: waiting for a free connection has an end (and then the HTTP layer answers 503)."""

from __future__ import annotations

import pytest

from musrenbang.db.connect import create_pool
from musrenbang.http.errors import HANDLERS, overloaded


async def test_waiting_for_a_pooled_connection_gives_up_after_the_timeout(database_url: str) -> None:
    pool = await create_pool(database_url, min_size=1, max_size=1, acquire_timeout=0.2)
    try:
        async with pool.acquire():  # the only connection, held
            with pytest.raises(TimeoutError):
                await pool.fetchval("SELECT 1")  # pool.fetch* acquire too: the same bound
            with pytest.raises(TimeoutError):
                async with pool.acquire():
                    pass
        assert await pool.fetchval("SELECT 3") == 3  # free again: answered at once
    finally:
        await pool.close()
    # A request that gave up so is answered "busy, try again" (503 with Retry-After), not 500.
    assert HANDLERS[TimeoutError] is overloaded
