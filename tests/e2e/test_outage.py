"""The database stops and starts again under load: every projection catches up and the LISTEN connection
comes back by itself, with no restart of the server; meanwhile /health says the database is unreachable;
every acknowledged proposal is in the log once and in the read model."""

from __future__ import annotations

import asyncio
import os
import subprocess
import time
import uuid
from pathlib import Path

import asyncpg
import httpx
import pytest

from musrenbang.db.connect import ensure_database
from tests.http.conftest import payload
from tests.server import serving
from tests.waiting import eventually

pytestmark = pytest.mark.slow


def bundled(data_dir: Path, command: str) -> str:
    """`musrenbang db url` (start, and leave running) or `musrenbang db stop` on a data directory."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MUSRENBANG_")}
    done = subprocess.run(["musrenbang", "db", command], env={**env, "MUSRENBANG_DATA_DIR": str(data_dir)},
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


async def submit_until(stop: asyncio.Event, base_url: str, acknowledged: dict[str, str]) -> int:
    """A client that keeps submitting proposals, retrying each (same key) until it is acknowledged."""
    failures = 0
    async with httpx.AsyncClient(base_url=base_url, timeout=10) as client:
        while not stop.is_set():
            key = str(uuid.uuid4())
            while True:
                try:
                    r = await client.post("/api/v1/proposals", json=payload(), headers={"Idempotency-Key": key})
                    if r.status_code in (200, 201):
                        acknowledged[key] = r.json()["code"]
                        break
                    assert r.status_code == 503, r.text  # the database is away (never a 500): try again
                    assert r.json()["error"] == "unavailable"
                except httpx.TransportError:
                    pass
                failures += 1
                await asyncio.sleep(0.2)
            await asyncio.sleep(0.02)
    return failures


async def test_projections_and_listen_resume_after_the_database_comes_back(tmp_path: Path) -> None:
    data_dir = tmp_path / "db"
    url = bundled(data_dir, "url")
    await ensure_database(url)
    try:
        with serving(url, workers=2, extra_env={"MUSRENBANG_SUBMISSIONS_PER_HOUR": "100000"}) as server:
            stop, acknowledged = asyncio.Event(), {}
            load = asyncio.create_task(submit_until(stop, server.base_url, acknowledged))
            await asyncio.sleep(2)
            before = len(acknowledged)
            assert before > 5

            bundled(data_dir, "stop")
            async with httpx.AsyncClient(base_url=server.base_url, timeout=10) as client:
                down = await client.get("/health")
                assert down.status_code == 503 and down.json()["status"] == "unavailable"
                # Anyone may read /health: it names the kind of problem, not the server's address or user.
                assert down.json()["database"]["error"].isidentifier(), down.json()
                assert (await client.get("/health/ready")).json()["error"].isidentifier()
                assert (await client.get("/health/ready")).status_code == 503
            await asyncio.sleep(4)  # an outage, under load
            assert bundled(data_dir, "url") == url
            await asyncio.sleep(3)
            stop.set()
            failures = await load
            assert failures > 0  # the load really met the outage
            assert len(acknowledged) > before

            health = await _healthy_and_caught_up(server.base_url)
            assert set(health["projections"]) == {"city", "cycles", "forums", "lineage", "proposals", "rkpd"}
            pool = await asyncpg.connect(url)
            try:
                codes = [r["code"] for r in await pool.fetch("SELECT data->>'code' AS code FROM events"
                                                              " WHERE event_type = 'proposal.submitted'")]  # fmt: skip
                assert sorted(codes) == sorted(set(codes))  # each once
                assert set(acknowledged.values()) <= set(codes)
                shown = await pool.fetchval("SELECT count(*) FROM proposals")
                assert shown == len(codes)
                # One per server process, both back: /health answered from one process, the other's listener
                # reconnects on its own schedule (a busy machine may take it a while).
                listeners = "SELECT count(*) = 2 FROM pg_stat_activity WHERE application_name = 'musrenbang-listener'"
                await eventually(lambda: pool.fetchval(listeners), "both listeners back", timeout=60)
            finally:
                await pool.close()
    finally:
        bundled(data_dir, "stop")


async def _healthy_and_caught_up(base_url: str) -> dict:
    deadline = time.monotonic() + 120
    async with httpx.AsyncClient(base_url=base_url, timeout=10) as client:
        while True:
            r = await client.get("/health")
            body = r.json()
            if r.status_code == 200 and body["listening"] and all(
                p["state"] == "ok" for p in body["projections"].values()
            ):
                return body
            assert time.monotonic() < deadline, body
            await asyncio.sleep(0.5)
