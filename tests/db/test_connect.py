"""The connection pool: waiting for a free connection has an end (and then the HTTP layer answers 503)."""

from __future__ import annotations

import socket
from pathlib import Path

import asyncpg
import pytest

from musrenbang.db.connect import create_pool
from musrenbang.http.errors import HANDLERS, _while_talking_to_the_database, os_error, overloaded, try_again


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


async def test_a_transaction_postgresql_cancels_to_keep_others_apart_is_answered_try_again(database_url: str) -> None:
    """The error PostgreSQL raises for a serialization failure (and a standby for a read conflicting with
    recovery, read replicas) is answered 503 with Retry-After, not 500."""
    first, second = await asyncpg.connect(database_url), await asyncpg.connect(database_url)
    try:
        await first.execute("CREATE TABLE conflict_probe (n int); INSERT INTO conflict_probe VALUES (1)")
        async with first.transaction(isolation="repeatable_read"):
            await first.fetchval("SELECT n FROM conflict_probe")
            await second.execute("UPDATE conflict_probe SET n = 2")
            with pytest.raises(asyncpg.PostgresError) as raised:
                await first.execute("UPDATE conflict_probe SET n = 3")
    finally:
        await first.close()
        await second.close()
    assert isinstance(raised.value, asyncpg.SerializationError)
    assert HANDLERS[type(raised.value)] is try_again


async def test_an_os_error_is_the_database_away_only_when_it_came_from_talking_to_the_database(tmp_path: Path) -> None:
    """Refused by a port nobody listens on, or a socket directory without PostgreSQL's socket (the bundled
    server stopped): 503, retry. A file this server cannot read: its own fault, a 500 with a traceback."""
    with socket.socket() as probe:  # a port that was free a moment ago and has nobody listening
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    raised: list[OSError] = []
    for url in (f"postgresql://x@127.0.0.1:{port}/x", f"postgresql://x@/x?host={tmp_path}"):
        with pytest.raises(OSError) as refused:
            await asyncpg.connect(url, timeout=5)
        raised.append(refused.value)
    with pytest.raises(OSError) as unreadable:
        (tmp_path / "no-such-file").read_bytes()
    assert HANDLERS[OSError] is os_error
    assert [_while_talking_to_the_database(e) for e in raised] == [True, True]
    assert not _while_talking_to_the_database(unreadable.value)
