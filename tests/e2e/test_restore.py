"""`musrenbang backup`, then `musrenbang restore` into a fresh cluster whose transaction counter is far lower,
then serve: read models identical to before, the chains and seals verified, new events applied after the
restored ones, lag correct."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import uuid
from pathlib import Path

import asyncpg
import httpx
import pytest

from musrenbang.db.connect import create_pool
from musrenbang.eventlog.store import EventStore
from musrenbang.projections import all_projections
from tests import history
from tests.conftest import _throwaway_database
from tests.http.conftest import payload
from tests.projections.recording import table_checksum
from tests.server import Server

pytestmark = [pytest.mark.slow, pytest.mark.pg_tools]  # restores onto the tests' server, whatever its version


def musrenbang(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["musrenbang", *args], env=env, capture_output=True, text=True, timeout=600)


def clean_env(**extra: str) -> dict[str, str]:
    return {**{k: v for k, v in os.environ.items() if not k.startswith("MUSRENBANG_")}, **extra}


async def read_models(conn: asyncpg.Connection) -> dict[str, str]:
    return {t: await table_checksum(conn, t) for p in all_projections() for t in p.tables}


async def test_a_backup_restored_into_a_fresh_cluster_serves_the_same_site_and_goes_on(
    database_url: str, tmp_path: Path
) -> None:
    pool = await create_pool(database_url, min_size=1, max_size=5)
    try:
        async with pool.acquire() as conn:
            # Make this cluster's transaction counter run far ahead of a fresh one's.
            await conn.execute("CREATE TEMP TABLE burn (n int)")
            await conn.execute("DO $$ BEGIN FOR i IN 1..60000 LOOP BEGIN INSERT INTO burn VALUES (i);"
                               " EXCEPTION WHEN OTHERS THEN NULL; END; END LOOP; END $$")  # fmt: skip
        await history.build(pool, EventStore(pool))
        async with pool.acquire() as conn:
            before = await read_models(conn)
            oldest_key = await conn.fetchval("SELECT min(tx) FROM events")
            events = await conn.fetchval("SELECT count(*) FROM events")
    finally:
        await pool.close()

    backup = tmp_path / "musrenbang.backup"
    made = musrenbang(clean_env(MUSRENBANG_DATABASE_URL=database_url), "backup", "--out", str(backup))
    assert made.returncode == 0, made.stderr
    assert f"{events} events" in made.stdout and backup.stat().st_size > 0

    target = clean_env(MUSRENBANG_DATA_DIR=str(tmp_path / "fresh"))
    restored = musrenbang(target, "restore", str(backup))
    assert restored.returncode == 0, restored.stderr
    assert "log order rebased by" in restored.stdout  # the fresh cluster's counter was far behind
    assert "proposals: rebuilt from" in restored.stdout and "every chain intact; 1 seal(s) checked" in restored.stdout
    again = musrenbang(target, "restore", str(backup))
    assert again.returncode == 3 and "is not empty" in again.stderr

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = Server(port, data_dir=tmp_path / "fresh")
    try:
        health = server.wait_healthy()
        assert all(p["state"] == "ok" and p["lag"] == 0 for p in health["projections"].values()), health
        url = musrenbang(target, "db", "url").stdout.strip()
        conn = await asyncpg.connect(url)
        try:
            assert int(await conn.fetchval("SELECT pg_current_xact_id()::text")) < oldest_key  # far lower
            assert await read_models(conn) == before  # the site as it was
            async with httpx.AsyncClient(base_url=server.base_url, timeout=30) as client:
                key = {"Idempotency-Key": str(uuid.uuid4())}
                r = await client.post("/api/v1/proposals", json=payload(), headers=key)
                assert r.status_code == 201, r.text
                code = r.json()["code"]
                # Read-your-writes really waited for the new event (it sorts after the restored ones).
                assert (await client.get(f"/api/v1/proposals/{code}")).status_code == 200
                for _ in range(200):  # every read model is at the head of what it handles, and the lag says so
                    health = (await client.get("/health")).json()
                    if all(p["lag"] == 0 for p in health["projections"].values()):
                        break
                    await asyncio.sleep(0.1)
            assert all(p["lag"] == 0 for p in health["projections"].values()), health
            assert await conn.fetchval("SELECT count(*) FROM lineage_steps WHERE subject = $1", code) == 1
            newest = await conn.fetchrow("SELECT tx, global_position FROM events ORDER BY global_position DESC LIMIT 1")
            assert newest["tx"] > await conn.fetchval("SELECT max(tx) FROM events WHERE global_position < $1",
                                                       newest["global_position"])  # fmt: skip
            assert await conn.fetchval("SELECT count(*) FROM proposals WHERE code = $1", code) == 1
        finally:
            await conn.close()
    finally:
        server.stop()
    verified = musrenbang(target, "verify")
    assert verified.returncode == 0, verified.stderr
    musrenbang(target, "db", "stop")


async def test_a_backup_restores_into_an_empty_database_on_the_same_server(
    database_url: str, empty_database_url: str, server_url: str, tmp_path: Path
) -> None:
    """The external server's way (whatever its version: the bundled tools are PostgreSQL 18, and their
    output is made portable): backup, restore into another, empty database, same read models."""
    pool = await create_pool(database_url, min_size=1, max_size=5)
    try:
        await history.build(pool, EventStore(pool))
        async with pool.acquire() as conn:
            before = await read_models(conn)
    finally:
        await pool.close()
    backup = tmp_path / "musrenbang.backup"
    made = musrenbang(clean_env(MUSRENBANG_DATABASE_URL=database_url), "backup", "--out", str(backup))
    assert made.returncode == 0, made.stderr
    assert backup.stat().st_mode & 0o077 == 0  # personal data and the server secret: the owner's only
    restored = musrenbang(clean_env(MUSRENBANG_DATABASE_URL=empty_database_url), "restore", str(backup))
    assert restored.returncode == 0, restored.stderr
    assert "every chain intact; 1 seal(s) checked" in restored.stdout
    conn = await asyncpg.connect(empty_database_url)
    try:
        assert await read_models(conn) == before
    finally:
        await conn.close()
    broken = tmp_path / "broken.backup"
    broken.write_bytes(backup.read_bytes()[: len(backup.read_bytes()) // 2])
    async with _throwaway_database(server_url, None) as other:
        cut = musrenbang(clean_env(MUSRENBANG_DATABASE_URL=other), "restore", str(broken))
        assert cut.returncode == 3 and "error: cannot restore" in cut.stderr
        conn = await asyncpg.connect(other)
        try:  # all or nothing: a cut backup leaves the database empty
            assert await conn.fetchval("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'") == 0
        finally:
            await conn.close()
