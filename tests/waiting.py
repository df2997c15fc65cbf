"""Waiting for what happens in the background (a projection worker, a delivery worker, a standby): liveness,
not speed, so the deadline is generous and only a failure waits for it."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

T = TypeVar("T")


async def eventually(check: Callable[[], Awaitable[T]], what: str = "", timeout: float = 30.0) -> T:
    """Poll `check` until it returns something truthy and return that; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not (found := await check()):
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout} s: {what}")
        await asyncio.sleep(0.05)
    return found


async def waiting_for_lock(pool: Any, space: int, key: int, sessions: int = 1, timeout: float = 10.0) -> bool:
    """Whether `sessions` sessions come to wait for the advisory lock (`space`, `key`) within `timeout`: a race
    test shows the other side waiting in pg_locks rather than assuming it does."""
    deadline = time.monotonic() + timeout
    while time.monotonic() <= deadline:
        waiting = await pool.fetchval("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
                                      " AND classid = $1 AND objid = $2", space, key)  # fmt: skip
        if waiting >= sessions:
            return True
        await asyncio.sleep(0.05)
    return False
