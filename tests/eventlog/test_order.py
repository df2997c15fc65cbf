"""The safe global order: not held back by other databases, and carried over a restore into a cluster whose
transaction counter is lower (eventlog/order.py)."""

from __future__ import annotations

import asyncpg

from musrenbang.domain.events import CycleStageAdvanced
from musrenbang.eventlog import order
from musrenbang.eventlog.store import NEW_STREAM, START, Append, EventStore, Position, read_after
from musrenbang.projections.runner import ProjectionRunner
from tests.conftest import with_database
from tests.projections.recording import Recorder


def ev(i: int) -> CycleStageAdvanced:
    return CycleStageAdvanced(year=2000 + i, stage="kelurahan")


async def test_a_write_transaction_in_another_database_does_not_hold_the_projections_back(
    store: EventStore, pool: asyncpg.Pool, server_url: str
) -> None:
    recorder = Recorder()
    runner = ProjectionRunner(pool, [recorder])
    other = await asyncpg.connect(with_database(server_url, "postgres"))
    try:
        async with other.transaction():
            foreign = int(await other.fetchval("SELECT pg_current_xact_id()::text"))  # a write transaction's id
            written = await store.append(Append("s-1", NEW_STREAM, [ev(1), ev(2)]))
            async with pool.acquire() as conn:
                # The race: the cluster-wide xmin is the other database's open transaction, older than ours,
                # so reading below it (the old rule) finds nothing...
                xmin = int(await conn.fetchval("SELECT pg_snapshot_xmin(pg_current_snapshot())::text"))
                assert xmin <= foreign < written.last.tx
                old_rule = await conn.fetchval(
                    "SELECT count(*) FROM events WHERE tx < pg_snapshot_xmin(pg_current_snapshot())::text::bigint"
                )
                assert old_rule == 0
            # ...while the projection, following this database's own horizon, applies the events at once.
            assert await runner.catch_up(recorder) == 2
            assert recorder.seen == list(written.event_ids)
    finally:
        await other.close()


async def test_a_write_transaction_in_this_database_still_holds_them_back(
    store: EventStore, pool: asyncpg.Pool
) -> None:
    recorder = Recorder()
    runner = ProjectionRunner(pool, [recorder])
    async with pool.acquire() as slow, slow.transaction():
        await slow.execute("CREATE TEMP TABLE writes_here (x int)")  # takes a transaction id in this database
        await store.append(Append("s-1", NEW_STREAM, [ev(1)]))
        assert await runner.catch_up(recorder) == 0
    assert await runner.catch_up(recorder) == 1


async def test_restored_keys_above_this_clusters_counter_are_rebased_and_new_events_follow_them(
    store: EventStore, pool: asyncpg.Pool
) -> None:
    """What a dump restored into a fresh cluster looks like: stored keys far above this cluster's
    transaction ids, and a checkpoint at the newest of them."""
    first = await store.append(Append("s-1", NEW_STREAM, [ev(1)]))
    far = int(await pool.fetchval("SELECT pg_current_xact_id()::text")) + 50_000_000
    async with pool.acquire() as conn:
        # The restored rows: copies of the first event under keys of the other cluster.
        await conn.execute(
            "INSERT INTO events (stream_id, stream_version, event_id, event_type, data, metadata, recorded_at, tx,"
            " hash) SELECT 'restored', n, gen_random_uuid(), event_type, data, metadata, recorded_at, $1 + n, hash"
            " FROM events, generate_series(1, 3) AS n WHERE global_position = $2",
            far, first.positions[0],
        )  # fmt: skip
        await conn.execute(
            "INSERT INTO projection_checkpoints (name, tx, position) VALUES ('test_recorder', $1, 0)", far + 1
        )
        # Before the rebase, the restored events sit above the horizon: nothing can read them...
        assert len(await read_after(conn, START, 100)) == 1
        # ...and a new event would sort before the restored checkpoint and never reach that projection.
        assert (await store.append(Append("s-2", NEW_STREAM, [ev(2)]))).last < Position(far + 1, 0)

        assert await order.rebase(conn) > 0
        assert [e.stream_id for e in await read_after(conn, START, 100)] == ["s-1", "s-2", *["restored"] * 3]
        assert await order.rebase(conn) == 0  # once is enough

    newer = await store.append(Append("s-3", NEW_STREAM, [ev(3)]))
    assert newer.last > Position(far + 3, 0)
    recorder = Recorder()
    # Its checkpoint sits among the restored events: the three restored at or after it, then the new one.
    assert await ProjectionRunner(pool, [recorder]).catch_up(recorder) == 4
    assert recorder.seen[-1] == newer.event_ids[0]
