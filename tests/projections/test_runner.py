"""The projection runner: safe order, exactly once, one worker, crash recovery, wake-up."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys

import asyncpg
import pytest

from musrenbang.domain.events import CycleStageAdvanced
from musrenbang.eventlog.store import NEW_STREAM, Append, EventStore
from musrenbang.projections.runner import ProjectionRunner, lag
from tests.conftest import REPO
from tests.projections.recording import TALLY_TABLE, Recorder, Tally, table_checksum


def ev(i: int) -> CycleStageAdvanced:
    return CycleStageAdvanced(year=i, stage="kelurahan")


async def fill(store: EventStore, streams: int, per_stream: int) -> None:
    for s in range(streams):
        await store.append(Append(f"s-{s}", NEW_STREAM, [ev(i) for i in range(per_stream)]))


async def test_a_slow_transaction_with_a_lower_position_is_still_delivered(
    store: EventStore, pool: asyncpg.Pool
) -> None:
    recorder = Recorder()
    runner = ProjectionRunner(pool, [recorder])
    async with pool.acquire() as slow, pool.acquire() as fast:
        # The fast transaction takes the older transaction id, the slow one the younger...
        fast_txn, slow_txn = fast.transaction(), slow.transaction()
        await fast_txn.start()
        await fast.fetchval("SELECT pg_current_xact_id()")
        await slow_txn.start()
        await slow.fetchval("SELECT pg_current_xact_id()")
        # ...the slow one inserts first (lower position), the fast one later and commits first.
        low = await store.append(Append("slow", NEW_STREAM, [ev(1)]), conn=slow)
        high = await store.append(Append("fast", NEW_STREAM, [ev(2)]), conn=fast)
        await fast_txn.commit()
        assert low.positions[0] < high.positions[0]

        await runner.catch_up(recorder)
        # The projection passed the higher position while the lower one was not yet committed...
        assert recorder.seen == [high.event_ids[0]]

        await slow_txn.commit()
        await runner.catch_up(recorder)
        # ...and still receives the lower one once it commits ("position > checkpoint" would skip it).
        assert recorder.seen == [high.event_ids[0], low.event_ids[0]]


async def test_an_open_transaction_holds_back_events_committed_after_it_started(
    store: EventStore, pool: asyncpg.Pool
) -> None:
    recorder = Recorder()
    runner = ProjectionRunner(pool, [recorder])
    async with pool.acquire() as slow:
        txn = slow.transaction()
        await txn.start()
        await slow.fetchval("SELECT pg_current_xact_id()")
        later = await store.append(Append("later", NEW_STREAM, [ev(1)]))
        await runner.catch_up(recorder)
        assert recorder.seen == []  # not yet: an older transaction could still commit before it
        await txn.rollback()
    await runner.catch_up(recorder)
    assert recorder.seen == [later.event_ids[0]]


async def test_each_event_is_applied_exactly_once_across_rounds(store: EventStore, pool: asyncpg.Pool) -> None:
    recorder = Recorder()
    runner = ProjectionRunner(pool, [recorder], batch_size=7)
    await fill(store, 3, 10)
    assert await runner.catch_up(recorder) == 30
    await store.append(Append("more", NEW_STREAM, [ev(i) for i in range(5)]))
    assert await runner.catch_up(recorder) == 5
    assert await runner.catch_up(recorder) == 0
    assert len(recorder.seen) == len(set(recorder.seen)) == 35


async def test_only_the_holder_of_the_checkpoint_works_on_a_projection(store: EventStore, pool: asyncpg.Pool) -> None:
    recorder = Recorder()
    runner = ProjectionRunner(pool, [recorder])
    await fill(store, 1, 3)
    await pool.execute("INSERT INTO projection_checkpoints (name) VALUES ($1)", recorder.name)
    async with pool.acquire() as other, other.transaction():
        # Another worker is in the middle of a batch: it holds the checkpoint row.
        await other.execute("SELECT 1 FROM projection_checkpoints WHERE name = $1 FOR UPDATE", recorder.name)
        assert await runner.catch_up(recorder) is None
        assert recorder.seen == []
    assert await runner.catch_up(recorder) == 3


async def test_a_projector_killed_mid_batch_recovers_to_the_same_tables_as_a_clean_replay(
    store: EventStore, pool: asyncpg.Pool, database_url: str
) -> None:
    await pool.execute(TALLY_TABLE)
    await fill(store, 10, 100)
    last = await pool.fetchval("SELECT max(global_position) FROM events")
    proc = subprocess.Popen(
        [sys.executable, str(REPO / "tests/projections/crash_projector.py"), database_url],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    try:
        for _ in range(400):
            position = await pool.fetchval("SELECT position FROM projection_checkpoints WHERE name = 'test_tally'")
            if position:
                break
            await asyncio.sleep(0.025)
        await asyncio.sleep(0.07)  # inside a later batch: each takes about 50 x 3 ms
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    crashed_at = await pool.fetchval("SELECT position FROM projection_checkpoints WHERE name = 'test_tally'")
    assert 0 < crashed_at < last, "the projector must be killed part-way"
    # Rows from the killed batch were rolled back with its checkpoint.
    assert await pool.fetchval("SELECT max(global_position) FROM test_tally") == crashed_at

    runner = ProjectionRunner(pool, [Tally()], batch_size=50)
    for _ in range(200):
        # None while the killed process's backend has not yet noticed it is gone: it still holds the row.
        if await runner.catch_up(Tally()) is not None:
            break
        await asyncio.sleep(0.05)
    async with pool.acquire() as conn:
        recovered = await table_checksum(conn, "test_tally")
        assert await conn.fetchval("SELECT count(*) FROM test_tally") == 1000
        await runner.replay(Tally())
        assert await table_checksum(conn, "test_tally") == recovered


async def test_replay_rebuilds_the_same_table_and_checkpoint(store: EventStore, pool: asyncpg.Pool) -> None:
    await pool.execute(TALLY_TABLE)
    await fill(store, 4, 25)
    runner = ProjectionRunner(pool, [Tally()], batch_size=9)
    await runner.catch_up(Tally())
    async with pool.acquire() as conn:
        before = await table_checksum(conn, "test_tally")
        checkpoint = await conn.fetchrow("SELECT tx, position FROM projection_checkpoints WHERE name='test_tally'")
        assert await runner.replay(Tally()) == 100
        assert await table_checksum(conn, "test_tally") == before
        again = await conn.fetchrow("SELECT tx, position FROM projection_checkpoints WHERE name='test_tally'")
        assert tuple(again) == tuple(checkpoint)


async def test_the_worker_wakes_on_notification_without_waiting_for_the_poll(
    store: EventStore, pool: asyncpg.Pool, database_url: str
) -> None:
    recorder = Recorder()
    runner = ProjectionRunner(pool, [recorder], poll_interval=3600)
    task = asyncio.create_task(runner.run_forever(database_url))
    try:
        await asyncio.sleep(0.3)  # first round done, now waiting on LISTEN
        result = await store.append(Append("s-1", NEW_STREAM, [ev(1)]))
        for _ in range(200):
            if recorder.seen:
                break
            await asyncio.sleep(0.05)
        assert recorder.seen == [result.event_ids[0]]
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task


async def test_lag_counts_events_not_yet_applied(store: EventStore, pool: asyncpg.Pool) -> None:
    recorder = Recorder()
    runner = ProjectionRunner(pool, [recorder])
    await fill(store, 2, 3)
    async with pool.acquire() as conn:
        assert await lag(conn, [recorder]) == {recorder.name: 6}
        await runner.catch_up(recorder)
        assert await lag(conn, [recorder]) == {recorder.name: 0}
