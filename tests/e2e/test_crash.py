"""A crash in the middle of a rush: 200 residents submit at once, the server is killed with SIGKILL
(workers and all) part-way through and started again; clients retry with their idempotency keys.
Every proposal that ever got a 2xx answer exists exactly once afterwards, and so does everyone else's."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid

import asyncpg
import httpx
import pytest

from tests.http.conftest import payload
from tests.server import Server

pytestmark = pytest.mark.slow
CLIENTS = 200


async def test_proposals_survive_a_server_killed_mid_rush(database_url: str, free_port: int) -> None:
    env = {"MUSRENBANG_SUBMISSIONS_PER_HOUR": "100000"}
    servers: list[Server] = []
    """Every server this test starts, stopped at its end however it ends (a failed run left them running)."""
    try:
        await _rush_and_crash(database_url, free_port, env, servers)
    finally:
        for started in servers:
            started.stop()


async def _rush_and_crash(database_url: str, free_port: int, env: dict[str, str], servers: list[Server]) -> None:
    server = _start(free_port, database_url, env, servers)
    answers: dict[int, list[str]] = {i: [] for i in range(CLIENTS)}
    transport_errors = 0

    async def resident(i: int, http: httpx.AsyncClient) -> None:
        nonlocal transport_errors
        key, body = str(uuid.uuid4()), payload(title=f"Usulan darurat nomor {i}")
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                r = await http.post("/api/v1/proposals", json=body, headers={"Idempotency-Key": key})
            except httpx.TransportError:
                transport_errors += 1
                await asyncio.sleep(0.2)
                continue
            if r.status_code in (200, 201):
                answers[i].append(r.json()["code"])
                if len(answers[i]) == 1 and i % 3 == 0:
                    continue  # a third of them ask again even after success (a lost answer, from their side)
                return
            await asyncio.sleep(0.2)  # 5xx while the server dies: try again
        raise AssertionError(f"resident {i} never got an answer")

    async def crash_midway() -> Server:
        while sum(1 for a in answers.values() if a) < CLIENTS // 4:
            await asyncio.sleep(0.01)
        server.kill()
        await asyncio.sleep(0.5)
        return await asyncio.to_thread(_start, free_port, database_url, env, servers)

    limits = httpx.Limits(max_connections=CLIENTS)
    async with httpx.AsyncClient(base_url=server.base_url, timeout=30, limits=limits) as http:
        crash = asyncio.create_task(crash_midway())
        try:
            await asyncio.gather(*(resident(i, http) for i in range(CLIENTS)))
        except BaseException:
            crash.cancel()  # it may still wait for answers that will not come; a started server is in `servers`
            with contextlib.suppress(asyncio.CancelledError):
                await crash
            raise
        await crash
    assert transport_errors > 0, "the kill must have hit requests in flight"
    assert all(len(set(codes)) == 1 for codes in answers.values()), "a retry got a different proposal"
    conn = await asyncpg.connect(database_url)
    try:
        counts = await conn.fetch(
            "SELECT data->'content'->>'title' AS title, count(*) FROM events"
            " WHERE event_type = 'proposal.submitted' GROUP BY 1"
        )
        assert len(counts) == CLIENTS and all(r["count"] == 1 for r in counts)
        codes = {codes[0] for codes in answers.values()}
        stored = {r[0] for r in await conn.fetch("SELECT code FROM proposals")}
        assert stored == codes
        assert await conn.fetchval("SELECT count(*) FROM proposer_contacts") == CLIENTS  # no orphans
    finally:
        await conn.close()


def _start(port: int, database_url: str, env: dict[str, str], servers: list[Server]) -> Server:
    server = Server(port, database_url=database_url, workers=2, extra_env=env)
    servers.append(server)
    server.wait_healthy()
    return server
