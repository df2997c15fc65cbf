"""Tamper evidence: the hash chains show any change made behind the log's back."""

from __future__ import annotations

import subprocess

import asyncpg

from musrenbang.domain.events import CycleStageAdvanced
from musrenbang.eventlog.store import NEW_STREAM, Append, EventStore
from musrenbang.eventlog.verify import check_chains, stored_events


async def fill(store: EventStore) -> None:
    for s in range(3):
        await store.append(Append(f"s-{s}", NEW_STREAM, [CycleStageAdvanced(year=i, stage="a") for i in range(4)]))


async def all_stored(pool: asyncpg.Pool) -> list:
    async with pool.acquire() as conn:
        return [e async for e in stored_events(conn)]


def verify(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["musrenbang", "verify"], env=env, capture_output=True, text=True, timeout=120)


async def behind_the_logs_back(pool: asyncpg.Pool, sql: str) -> None:
    """What a superuser could do: switch the immutability trigger off, change history, switch it on."""
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute("ALTER TABLE events DISABLE TRIGGER events_no_update_delete")
        await conn.execute(sql)
        await conn.execute("ALTER TABLE events ENABLE TRIGGER events_no_update_delete")


async def test_verify_passes_on_an_untouched_log(store: EventStore, cli_env: dict[str, str]) -> None:
    await fill(store)
    done = verify(cli_env)
    assert done.returncode == 0, done.stderr
    assert "intact: 12 events in 3 streams" in done.stdout


async def test_verify_names_the_stream_and_position_of_a_changed_event(
    store: EventStore, pool: asyncpg.Pool, cli_env: dict[str, str]
) -> None:
    await fill(store)
    position = await pool.fetchval("SELECT global_position FROM events WHERE stream_id='s-1' AND stream_version=2")
    await behind_the_logs_back(
        pool,
        "UPDATE events SET data = jsonb_set(data, '{stage}', '\"b\"') WHERE stream_id='s-1' AND stream_version=2",
    )
    done = verify(cli_env)
    assert done.returncode == 1
    assert f"stream s-1 version 2 (global position {position})" in done.stderr
    assert "Traceback" not in done.stderr


async def test_a_rewritten_hash_breaks_the_next_link(store: EventStore, pool: asyncpg.Pool) -> None:
    await fill(store)
    await behind_the_logs_back(
        pool,
        "UPDATE events SET data = jsonb_set(data, '{stage}', '\"b\"'), hash = sha256(hash)"
        " WHERE stream_id='s-2' AND stream_version=3",
    )
    report = check_chains(await all_stored(pool))
    assert report.first_break is not None
    assert (report.first_break.stream_id, report.first_break.stream_version) == ("s-2", 3)


async def test_a_deleted_event_leaves_a_gap_in_the_versions(store: EventStore, pool: asyncpg.Pool) -> None:
    await fill(store)
    await behind_the_logs_back(pool, "DELETE FROM events WHERE stream_id='s-0' AND stream_version=2")
    report = check_chains(await all_stored(pool))
    assert report.first_break is not None
    assert report.first_break.stream_id == "s-0" and report.first_break.stream_version == 3
    assert "expected version 2" in report.first_break.reason


async def test_changed_metadata_or_time_is_detected_too(store: EventStore, pool: asyncpg.Pool) -> None:
    await fill(store)
    await behind_the_logs_back(
        pool,
        "UPDATE events SET recorded_at = recorded_at - interval '1 day' WHERE stream_id='s-0' AND stream_version=1",
    )
    await behind_the_logs_back(
        pool,
        "UPDATE events SET metadata = '{\"actor\":\"someone\"}' WHERE stream_id='s-2' AND stream_version=1",
    )
    report = check_chains(await all_stored(pool))
    assert report.broken_streams == 2
