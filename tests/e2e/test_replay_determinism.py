"""Drop every read model, `musrenbang replay`, and what the public and auditors get — the RKPD list as
JSON, CSV and XLSX, the lineage of every proposal and line, the exported log — is byte for byte what it
was: all of it is a function of the log."""

from __future__ import annotations

import subprocess
from pathlib import Path

import asyncpg
import httpx
import pytest

from musrenbang.db.connect import create_pool
from musrenbang.eventlog.store import EventStore
from musrenbang.projections import all_projections
from tests import history
from tests.server import Server

pytestmark = pytest.mark.slow


def published(server: Server, codes: list[str], lines: list[str]) -> dict[str, bytes]:
    paths = ["/api/v1/rkpd/2022", "/rkpd/2022.csv", "/rkpd/2022.xlsx"]
    paths += [f"/api/v1/lineage/{c}" for c in codes]
    paths += [f"/api/v1/rkpd/2022/items/{line}/lineage" for line in lines]
    out = {}
    with httpx.Client(base_url=server.base_url, timeout=30) as client:
        for path in paths:
            r = client.get(path)
            assert r.status_code == 200, (path, r.text)
            out[path] = r.content
    return out


def export(env: dict[str, str], out: Path) -> bytes:
    done = subprocess.run(["musrenbang", "export", "events", "--out", str(out)], env=env, capture_output=True,
                          text=True, timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stderr
    return out.read_bytes()


async def test_read_models_and_exports_are_rebuilt_byte_for_byte(
    database_url: str, cli_env: dict[str, str], free_port: int, tmp_path: Path
) -> None:
    pool = await create_pool(database_url, min_size=1, max_size=4)
    try:
        built = await history.build(pool, EventStore(pool))
        lines = [r[0] for r in await pool.fetch("SELECT line_id FROM lineage_lines WHERE year = 2022")]
    finally:
        await pool.close()
    assert len(lines) == 2  # DBMSDA-001 (withdrawn) and DBMSDA-002

    server = Server(free_port, database_url=database_url)
    try:
        server.wait_healthy()
        before = published(server, built.codes, lines)
    finally:
        server.stop()
    log_before = export(cli_env, tmp_path / "before.jsonl")

    conn = await asyncpg.connect(database_url)
    try:  # drop the read models' contents for real, so that nothing can survive into the replay
        for projection in all_projections():
            await conn.execute(f"TRUNCATE {', '.join(projection.tables)}")
        assert await conn.fetchval("SELECT count(*) FROM lineage_steps") == 0
    finally:
        await conn.close()
    done = subprocess.run(["musrenbang", "replay"], env=cli_env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr

    server = Server(free_port, database_url=database_url)
    try:
        server.wait_healthy()
        after = published(server, built.codes, lines)
    finally:
        server.stop()
    assert export(cli_env, tmp_path / "after.jsonl") == log_before
    for path, body in before.items():
        assert after[path] == body, path
