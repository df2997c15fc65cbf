"""Health tells the truth, through a real server: a projection stuck on an event (one written before the
bounds existed) is reported as stalled with the event and the error, the overall status is not ok, the
other read models go on; `musrenbang status` says the same; a request whose wait for its own write gives up
says so in the log and on the page."""

from __future__ import annotations

import asyncio
import subprocess
import time
import uuid
from collections.abc import Iterator

import asyncpg
import httpx
import pytest

from tests.http.conftest import payload
from tests.http.test_pages import open_form
from tests.server import Server, serving

pytestmark = pytest.mark.slow


@pytest.fixture
def server(database_url: str) -> Iterator[Server]:
    with serving(database_url) as s:
        yield s


async def poison(conn: asyncpg.Connection) -> int:
    """An event as an earlier version let through: a forum for the year 3,000,000,000 (the forums table
    holds years in an `integer`). Written behind the domain's back, as only such a version could."""
    return await conn.fetchval(
        "INSERT INTO events (stream_id, stream_version, event_id, event_type, data, metadata, recorded_at, hash)"
        " VALUES ('forum-POISON', 1, gen_random_uuid(), 'forum.scheduled', $1::jsonb, '{}', now(), $2)"
        " RETURNING global_position",
        '{"forum_id": "POISON", "level": "kelurahan", "region": "32.75.01.1001", "year": 3000000000,'
        ' "title": "t", "held_on": null, "place": "", "chair": "", "ceiling": 1, "rule": "greedy",'
        ' "ballot_kind": "approval", "criteria": [], "origin": "musrenbang"}',
        bytes(32),
    )


async def test_a_stalled_projection_is_reported_and_the_others_go_on(
    server: Server, database_url: str, cli_env: dict[str, str]
) -> None:
    conn = await asyncpg.connect(database_url)
    try:
        position = await poison(conn)
    finally:
        await conn.close()
    async with httpx.AsyncClient(base_url=server.base_url, timeout=30) as client:
        deadline = time.monotonic() + 60
        while True:
            r = await client.get("/health")
            forums = r.json().get("projections", {}).get("forums", {})
            if forums.get("state") == "stalled":
                break
            assert time.monotonic() < deadline, r.json()
            await asyncio.sleep(0.3)
        assert r.status_code == 503 and r.json()["status"] == "degraded"
        assert (forums["position"], forums["event_type"], forums["failures"]) == (position, "forum.scheduled", 3)
        # The public answer names the kind of the failure; its message (the values of the row) is for the
        # operator: the log and `musrenbang status` (review s25).
        assert forums["error"] == "DataError" and forums["lag"] >= 1, forums
        others = {n: p["state"] for n, p in r.json()["projections"].items() if n != "forums"}
        assert set(others.values()) == {"ok"}  # "lineage" stores no year: it read past the event
        ready = await client.get("/health/ready")
        assert ready.status_code == 200 and ready.json() == {"ready": True}

        made = await client.post("/api/v1/proposals", json=payload(), headers={"Idempotency-Key": str(uuid.uuid4())})
        assert made.status_code == 201
        assert (await client.get(f"/api/v1/proposals/{made.json()['code']}")).status_code == 200

    status = subprocess.run(["musrenbang", "status"], env=cli_env, capture_output=True, text=True, timeout=60)
    assert status.returncode == 1
    assert "forums     stalled" in status.stdout and "status: degraded" in status.stdout
    assert f"on forum.scheduled at global position {position}" in status.stdout
    assert "proposals  ok" in status.stdout
    server.logged(rf"STALLED.*global position {position}\b")


async def test_a_page_says_when_its_data_may_be_behind(server: Server, database_url: str) -> None:
    conn = await asyncpg.connect(database_url)
    try:
        async with httpx.AsyncClient(base_url=server.base_url, timeout=30) as client:
            fields = {**await open_form(client), "kelurahan": "32.75.01.1001", "rw": "5", "rt": "3", "kind": "fisik",
                      "bidang": "infrastruktur", "title": "Perbaikan saluran air", "problem": "Saluran tersumbat",
                      "solution": "Normalisasi saluran sepanjang 150 meter", "beneficiaries": "300", "volume": "150",
                      "unit": "meter", "estimated_cost": "25 juta", "address": "Jl. Melati", "proposer_name": "Siti",
                      "proposer_phone": "0813-9876-5432"}  # fmt: skip
            async with conn.transaction():
                # The proposals worker is stuck in a batch that does not end.
                await conn.execute("SELECT 1 FROM projection_checkpoints WHERE name = 'proposals' FOR UPDATE")
                r = await client.post("/usulan/baru", data=fields)
                api = await client.post("/api/v1/proposals", json=payload(),
                                        headers={"Idempotency-Key": str(uuid.uuid4())})  # fmt: skip
            assert r.status_code == 200 and 'id="behind"' in r.text
            assert "mungkin tertinggal beberapa detik" in r.text
            assert api.status_code == 201 and api.headers.get("x-data-behind") == "1"
            fresh = await client.get("/")
            assert 'id="behind"' not in fresh.text and "x-data-behind" not in fresh.headers
    finally:
        await conn.close()
    server.logged(r"gave up after \d+\.\d s waiting for projection proposals")


async def test_health_answers_503_in_time_when_a_table_it_reads_is_locked(server: Server, database_url: str) -> None:
    """A migration or a rebuild's switch holds a table /health reads: it answered only once the lock went
    (a monitor saw a hang, not an alert). It now gives up within five seconds."""
    locker = await asyncpg.connect(database_url)
    try:
        async with locker.transaction():
            await locker.execute("LOCK TABLE projection_checkpoints IN ACCESS EXCLUSIVE MODE")
            async with httpx.AsyncClient(base_url=server.base_url, timeout=60) as client:
                r = await client.get("/health")
        assert r.status_code == 503 and r.json()["status"] == "unavailable", r.text
        assert r.json()["database"]["error"] == "QueryCanceledError"  # its kind, not the server's message
    finally:
        await locker.close()
    async with httpx.AsyncClient(base_url=server.base_url, timeout=30) as client:
        assert (await client.get("/health")).json()["database"]["status"] == "ok"


async def test_a_seal_that_cannot_be_written_is_said_in_health_until_one_is(database_url: str) -> None:
    """Review s25: a sealer failing at every try only warned in the log while /health said ok and the
    published head stood still."""
    refuse = "ALTER TABLE events ADD CONSTRAINT no_seals CHECK (event_type <> 'log.sealed') NOT VALID"
    with serving(database_url, extra_env={"MUSRENBANG_SEAL_INTERVAL": "1"}) as server:
        conn = await asyncpg.connect(database_url)
        try:
            await conn.execute(refuse)
            async with httpx.AsyncClient(base_url=server.base_url, timeout=30) as client:

                async def health_until(wanted) -> httpx.Response:  # noqa: ANN001
                    deadline = time.monotonic() + 60
                    while not wanted(r := await client.get("/health")):
                        assert time.monotonic() < deadline, r.json()
                        await asyncio.sleep(0.3)
                    return r

                failing = await health_until(lambda r: r.json().get("seal", {}).get("failing"))
                assert failing.status_code == 503 and failing.json()["status"] == "degraded"
                assert failing.json()["seal"]["failing"] == "CheckViolationError", failing.json()
                await conn.execute("ALTER TABLE events DROP CONSTRAINT no_seals")
                sealed = await health_until(lambda r: r.status_code == 200 and r.json()["seal"].get("seal"))
                assert "failing" not in sealed.json()["seal"] and sealed.json()["seal"]["sealed_at"]
        finally:
            await conn.execute("ALTER TABLE events DROP CONSTRAINT IF EXISTS no_seals")
            await conn.close()


async def test_an_unfinished_restore_is_said_in_health(server: Server, database_url: str) -> None:
    """A restore stopped after its load leaves its mark (db/backup.RESTORE_MARK) until `replay` finishes it:
    `status` said so, /health said ok (review s25)."""
    async with httpx.AsyncClient(base_url=server.base_url, timeout=30) as client:
        assert (await client.get("/health")).json()["restore_unfinished"] is False
        conn = await asyncpg.connect(database_url)
        try:
            await conn.execute("CREATE TABLE restore_unfinished (backup text NOT NULL)")
            r = await client.get("/health")
            assert r.status_code == 503 and r.json()["status"] == "degraded" and r.json()["restore_unfinished"]
            await conn.execute("DROP TABLE restore_unfinished")
        finally:
            await conn.close()
        assert (await client.get("/health")).status_code == 200
