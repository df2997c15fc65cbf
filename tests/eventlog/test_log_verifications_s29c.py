"""The server checks the whole log by itself (eventlog/verifications.py) and says what it found in /health and
`musrenbang status`; the sealer writes no seal over a broken log. Review s29: an event changed behind the
program's back was seen by `verify`, `replay` and `/audit?periksa=1` only, while /health said ok and the
sealer sealed on top of it."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time

import asyncpg
import httpx
import pytest

from musrenbang.db.connect import create_pool
from musrenbang.domain.events import CycleStageAdvanced
from musrenbang.eventlog import seal, verifications
from musrenbang.eventlog.store import NEW_STREAM, Append, EventStore
from musrenbang.eventlog.verifications import KEPT, VERIFY_LOCK, Skipped, Verification, verify_round
from musrenbang.http.health import DEGRADED, OK, site_health
from musrenbang.projections import all_projections
from musrenbang.projections.runner import ProjectionRunner
from tests.eventlog.test_seal import sealing
from tests.server import serving


def ev(i: int) -> CycleStageAdvanced:
    return CycleStageAdvanced(year=2000 + i, stage="kelurahan")


async def fill(store: EventStore, prefix: str = "s29c") -> None:
    for s in range(3):
        await store.append(Append(f"{prefix}-{s}", NEW_STREAM, [ev(i) for i in range(4)]))


async def tamper(url: str, stream: str, version: int = 2) -> int:
    """Exactly as found in the review: the guard switched off, one event's data changed, the guard back on.
    Returns the changed event's global position."""
    conn = await asyncpg.connect(url)
    try:
        position = await conn.fetchval(
            "SELECT global_position FROM events WHERE stream_id = $1 AND stream_version = $2", stream, version)
        await conn.execute("ALTER TABLE events DISABLE TRIGGER events_no_update_delete")
        await conn.execute("""UPDATE events SET data = jsonb_set(data, '{stage}', '"kota"')"""
                           " WHERE global_position = $1", position)  # fmt: skip
        await conn.execute("ALTER TABLE events ENABLE TRIGGER events_no_update_delete")
        return position
    finally:
        await conn.close()


async def seals(pool: asyncpg.Pool) -> int:
    return await pool.fetchval("SELECT count(*) FROM events WHERE stream_id = 'log-seals'")


def musrenbang(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "MUSRENBANG_DATABASE_URL": url}
    return subprocess.run(["musrenbang", *args], env=env, capture_output=True, text=True, timeout=180)


# --- one round, /health, status -------------------------------------------------------------------------------


async def test_a_round_records_intact_then_broken_and_health_and_status_say_so(
    store: EventStore, pool: asyncpg.Pool, database_url: str
) -> None:
    runner = ProjectionRunner(pool, all_projections())
    fresh = await site_health(pool, runner)
    assert fresh.log is None and fresh.status == OK  # never checked yet: not degraded

    await fill(store)
    done = await verify_round(pool)
    assert isinstance(done, Verification) and done.intact and done.events == 12 and done.problem is None
    health = await site_health(pool, runner, public=True)
    assert health.status == OK and health.log is not None and health.log.intact and health.log.events == 12

    position = await tamper(database_url, "s29c-1")
    assert (await site_health(pool, runner)).status == OK  # not checked since: nothing known yet
    broken = await verify_round(pool)
    assert isinstance(broken, Verification) and not broken.intact and broken.problems == 1
    assert broken.problem == (f"chain broken: stream s29c-1 version 2 (global position {position}), event"
                              " cycle.stage_advanced: hash does not match the event's contents and the previous"
                              " hash"), broken.problem  # fmt: skip
    health = await site_health(pool, runner, public=True)
    assert health.status == DEGRADED and health.log is not None and not health.log.intact
    assert health.log.problem == broken.problem and health.log.verified_at == broken.finished_at

    status = musrenbang(database_url, "status")  # another process: it reads what the server stored
    assert status.returncode == 1 and "status: degraded" in status.stdout, status.stdout + status.stderr


async def test_only_the_newest_results_are_kept(store: EventStore, pool: asyncpg.Pool) -> None:
    await fill(store)
    for _ in range(KEPT + 3):
        assert isinstance(await verify_round(pool), Verification)
    assert await pool.fetchval("SELECT count(*) FROM log_verifications") == KEPT
    assert isinstance(await verify_round(pool, fresh_within=3600), Skipped)  # one ran just now


async def test_the_results_survive_a_replay(store: EventStore, pool: asyncpg.Pool, database_url: str) -> None:
    """Not a read model: a rebuild of every read model leaves the table and its rows alone."""
    await fill(store)
    assert isinstance(await verify_round(pool), Verification)
    await tamper(database_url, "s29c-2")
    assert isinstance(await verify_round(pool), Verification)
    before = await pool.fetch("SELECT * FROM log_verifications ORDER BY id")
    assert [r["intact"] for r in before] == [True, False]
    forced = musrenbang(database_url, "replay", "--no-verify")
    assert forced.returncode == 0, forced.stderr
    assert await pool.fetch("SELECT * FROM log_verifications ORDER BY id") == before
    refused = musrenbang(database_url, "replay")  # refuses the broken log; still nothing lost
    assert refused.returncode == 1, refused.stderr
    assert await pool.fetch("SELECT * FROM log_verifications ORDER BY id") == before


# --- the sealer -----------------------------------------------------------------------------------------------


async def test_the_sealer_refuses_an_event_changed_since_the_last_seal(
    store: EventStore, pool: asyncpg.Pool, database_url: str
) -> None:
    """The incremental check: nothing was verified by the server yet, the change is in what the seal covers."""
    await store.append(Append("s29c-sealed", NEW_STREAM, [ev(1), ev(2)]))
    assert await sealing(store) == 2
    await fill(store)
    await tamper(database_url, "s29c-0", 3)
    with pytest.raises(seal.BrokenLog, match="chain broken: stream s29c-0 version 3"):
        await seal.seal(store)
    assert await seals(pool) == 1
    # The first event of a stream checked against the genesis hash, a later one against the hash before it.
    await tamper(database_url, "s29c-1", 1)
    with pytest.raises(seal.BrokenLog, match="stream s29c-0 version 3|stream s29c-1 version 1"):
        await seal.seal(store)
    assert await seals(pool) == 1


async def test_the_sealer_refuses_a_log_the_server_found_broken(
    store: EventStore, pool: asyncpg.Pool, database_url: str
) -> None:
    """A change to an event sealed before: what the next seal covers is intact, the server's check is not."""
    await fill(store)
    assert await sealing(store) == 12
    await tamper(database_url, "s29c-1")
    await store.append(Append("s29c-later", NEW_STREAM, [ev(7)]))
    assert isinstance(await verify_round(pool), Verification)
    with pytest.raises(seal.BrokenLog, match="the log did not verify at .*: chain broken: stream s29c-1 version 2"):
        await seal.seal(store)
    assert await seals(pool) == 1


# --- a real server: the verifier job, /health, the sealer -----------------------------------------------------


async def test_a_server_finds_a_changed_event_by_itself_and_seals_no_more(database_url: str) -> None:
    env = {"MUSRENBANG_VERIFY_INTERVAL": "1", "MUSRENBANG_SEAL_INTERVAL": "1"}
    with serving(database_url, extra_env=env) as server:
        pool = await create_pool(database_url, min_size=1, max_size=2)
        try:
            await fill(EventStore(pool))
            async with httpx.AsyncClient(base_url=server.base_url, timeout=30) as client:

                async def health_until(wanted) -> httpx.Response:  # noqa: ANN001
                    deadline = time.monotonic() + 60
                    while not wanted(r := await client.get("/health")):
                        assert time.monotonic() < deadline, r.json()
                        await asyncio.sleep(0.3)
                    return r

                ok = await health_until(lambda r: (r.json().get("log") or {}).get("events", 0) >= 12
                                        and r.json()["seal"].get("seal"))  # fmt: skip
                assert ok.status_code == 200 and ok.json()["status"] == "ok" and ok.json()["log"]["intact"], ok.json()
                position = await tamper(database_url, "s29c-1")
                bad = await health_until(lambda r: r.json()["log"]["intact"] is False)
                assert bad.status_code == 503 and bad.json()["status"] == "degraded", bad.json()
                problem = bad.json()["log"]["problem"]
                assert f"stream s29c-1 version 2 (global position {position})" in problem, problem
                server.logged(r"the log does NOT verify \(1 problem\(s\).*stream s29c-1 version 2")

                sealed = await seals(pool)
                await EventStore(pool).append(Append("s29c-after", NEW_STREAM, [ev(9)]))
                failing = await health_until(lambda r: r.json()["seal"].get("failing"))
                assert failing.json()["seal"]["failing"] == "BrokenLog", failing.json()
                server.logged(r"NOT sealing the log: the log did not verify at .*stream s29c-1 version 2")
                await asyncio.sleep(3)  # three more seal intervals
                assert await seals(pool) == sealed
        finally:
            await pool.close()


# --- several processes: one verifies at a time ----------------------------------------------------------------

_OTHER_PROCESS = """
import asyncio, sys
from musrenbang.db.connect import create_pool
from musrenbang.eventlog.verifications import verify_round

async def main():
    pool = await create_pool(sys.argv[1], min_size=1, max_size=1)
    try:
        print(await verify_round(pool))
    finally:
        await pool.close()

asyncio.run(main())
"""


async def test_a_second_process_skips_the_round_while_the_first_verifies(
    store: EventStore, pool: asyncpg.Pool, database_url: str
) -> None:
    await fill(store)
    blocker = await asyncpg.connect(database_url)
    try:
        # The first verifier is held mid-round: it has taken the lock, and its read of the log waits.
        reading = blocker.transaction()
        await reading.start()
        await blocker.execute("LOCK TABLE events IN ACCESS EXCLUSIVE MODE")
        first = asyncio.create_task(verify_round(pool))
        deadline = time.monotonic() + 30
        while not await pool.fetchval(
            "SELECT EXISTS (SELECT FROM pg_locks l JOIN pg_stat_activity a USING (pid)"
            " WHERE l.locktype = 'advisory' AND l.granted AND (l.classid::bigint << 32 | l.objid::bigint) = $1"
            " AND a.wait_event_type = 'Lock')", VERIFY_LOCK,
        ):  # fmt: skip
            assert time.monotonic() < deadline and not first.done()
            await asyncio.sleep(0.05)

        other = subprocess.run([sys.executable, "-c", _OTHER_PROCESS, database_url], capture_output=True,
                               text=True, timeout=60)  # fmt: skip
        assert other.returncode == 0, other.stderr
        assert other.stdout.strip() == str(Skipped.LOCKED), other.stdout  # the race happened: it skipped
        assert not first.done()
        await reading.rollback()
    finally:
        await blocker.close()
    done = await asyncio.wait_for(first, 30)
    assert isinstance(done, Verification) and done.intact and done.events == 12
    assert await pool.fetchval("SELECT count(*) FROM log_verifications") == 1  # only the first one's
    assert isinstance(await verifications.verify_round(pool), Verification)  # the lock was let go
