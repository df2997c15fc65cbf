"""Supervised projections: a failing projection never stops another, is reported as stalled naming its
event, and resumes by itself; the LISTEN connection comes back; a cancelled catch-up leaves no lock."""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Sequence

import asyncpg
import pytest

from musrenbang.domain.events import CycleStageAdvanced
from musrenbang.eventlog.store import NEW_STREAM, Append, EventStore, RecordedEvent
from musrenbang.projections import Projection
from musrenbang.projections.runner import ProjectionRunner
from musrenbang.projections.status import STALLED, STALLED_AFTER, projection_status
from musrenbang.projections.supervisor import LISTENER_NAME, supervise
from tests.projections.recording import Recorder
from tests.waiting import eventually


def ev(year: int) -> CycleStageAdvanced:
    return CycleStageAdvanced(year=year, stage="kelurahan")


class Fragile(Projection, register=False):
    """Stores each event's year in an `integer` column it cannot always hold (until `fixed`)."""

    name = "test_fragile"
    tables = ()

    def __init__(self) -> None:
        self.fixed = False
        self.attempts = 0
        self.seen: list[int] = []

    async def apply(self, conn: asyncpg.Connection, events: Sequence[RecordedEvent]) -> None:
        done = []  # kept only when the whole batch went through, as the rows of its transaction are
        for e in events:
            self.attempts += 1
            if not self.fixed:
                await conn.fetchval("SELECT $1::bigint::integer", e.event.year)  # out of range: an error
            done.append(e.event.year)
        self.seen.extend(done)


async def test_a_projection_failing_on_an_event_stalls_alone_names_the_event_and_resumes_by_itself(
    store: EventStore, pool: asyncpg.Pool, database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    fragile, recorder = Fragile(), Recorder()
    runner = ProjectionRunner(pool, [fragile, recorder], poll_interval=0.2)
    await store.append(Append("s-1", NEW_STREAM, [ev(2022), ev(2023), ev(3_000_000_000), ev(2024)]))
    poison = (await pool.fetchrow("SELECT global_position FROM events WHERE data->>'year' = '3000000000'"))[0]
    caplog.set_level(logging.WARNING)
    task = asyncio.create_task(supervise(runner, database_url))
    try:

        async def stalled() -> bool:
            async with pool.acquire() as conn:
                return (await projection_status(conn, [fragile]))[fragile.name].state == STALLED

        await eventually(stalled)
        async with pool.acquire() as conn:
            status = await projection_status(conn, [fragile, recorder])
        s = status[fragile.name]
        assert (s.position, s.event_type, s.failures) == (poison, "cycle.stage_advanced", STALLED_AFTER)
        assert "out of range" in s.error and s.lag == 2
        # The events before the poison were applied (one at a time once the batch failed); the other
        # projection went on past it.
        assert fragile.seen == [2022, 2023]
        assert status[recorder.name].state == "ok" and len(recorder.seen) == 4
        assert any("STALLED" in r.message and str(poison) in r.message for r in caplog.records)
        # Logged once per kind of failure, not once per attempt.
        assert sum("test_fragile failed on event" in r.message for r in caplog.records) <= 2

        fragile.fixed = True  # e.g. a newer version of the projector is deployed

        async def recovered() -> bool:
            async with pool.acquire() as conn:
                return (await projection_status(conn, [fragile]))[fragile.name].state == "ok"

        await eventually(recovered, timeout=60)
        assert fragile.seen == [2022, 2023, 3_000_000_000, 2024]
        async with pool.acquire() as conn:
            assert (await projection_status(conn, [fragile]))[fragile.name].error is None
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_an_event_this_version_cannot_read_stalls_the_projections_before_it(
    store: EventStore, pool: asyncpg.Pool
) -> None:
    """A rolling upgrade: a newer server wrote an event type this one does not know. Skipping it would lose
    it for good, so every projection stops right before it, saying which."""
    recorder = Recorder()
    runner = ProjectionRunner(pool, [recorder])
    first = await store.append(Append("s-1", NEW_STREAM, [ev(2022), ev(2023)]))
    await pool.execute(
        "INSERT INTO events (stream_id, stream_version, event_id, event_type, data, metadata, recorded_at, hash)"
        " SELECT 's-2', 1, gen_random_uuid(), 'future.thing', '{\"x\": 1}', '{}', now(), hash FROM events LIMIT 1"
    )
    await store.append(Append("s-3", NEW_STREAM, [ev(2024)]))
    with pytest.raises(Exception) as failed:
        await runner.catch_up(recorder)
    assert "future.thing" in str(failed.value) and "does not know" in str(failed.value)
    assert recorder.seen == list(first.event_ids)  # everything before it, nothing after


async def test_the_listen_connection_comes_back_after_it_is_cut(
    store: EventStore, pool: asyncpg.Pool, database_url: str
) -> None:
    recorder = Recorder()
    runner = ProjectionRunner(pool, [recorder], poll_interval=0.5)
    task = asyncio.create_task(supervise(runner, database_url))
    try:

        async def listening() -> bool:
            return runner.listening

        await eventually(listening)
        # The database ends the LISTEN session (as a restart or a network cut would).
        killed = await pool.fetchval(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
            " WHERE datname = current_database() AND application_name = $1", LISTENER_NAME
        )
        assert killed == 1

        async def dropped() -> bool:
            return not runner.listening

        await eventually(dropped)
        await eventually(listening)
        assert await pool.fetchval(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND application_name = $1",
            LISTENER_NAME,
        ) == 1
        written = await store.append(Append("s-1", NEW_STREAM, [ev(2022)]))

        async def applied() -> bool:
            return written.event_ids[0] in recorder.seen

        await eventually(applied)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


class Slow(Projection, register=False):
    name = "test_slow"
    tables = ()

    def __init__(self) -> None:
        self.started = 0
        self.finished = 0

    async def apply(self, conn: asyncpg.Connection, events: Sequence[RecordedEvent]) -> None:
        self.started += 1
        for _ in events:
            await conn.execute("SELECT pg_sleep(0.001)")
        self.finished += 1


async def test_a_cancelled_catch_up_never_keeps_the_projection_from_another_worker(
    store: EventStore, pool: asyncpg.Pool, database_url: str
) -> None:
    """Cancel catch-ups at random moments, many times; each time another worker, on another pool,
    gets the projection at once. The race is shown to have happened: many cancellations landed while a
    batch (and so the projection's lock) was held."""
    slow = Slow()
    for s in range(20):
        await store.append(Append(f"s-{s}", NEW_STREAM, [ev(2000 + i) for i in range(30)]))
    other_pool = await asyncpg.create_pool(database_url, min_size=1, max_size=2)
    rng = random.Random(7)
    mid_batch = 0
    try:
        for _ in range(60):
            await pool.execute("UPDATE projection_checkpoints SET tx = 0, position = 0 WHERE name = $1", slow.name)
            runner = ProjectionRunner(pool, [slow], batch_size=50)
            task = asyncio.create_task(runner.catch_up(slow))
            await asyncio.sleep(rng.uniform(0, 0.08))
            started, finished = slow.started, slow.finished
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            mid_batch += started > finished
            # Another worker takes over at once: it finds the checkpoint row free.
            async with other_pool.acquire() as conn, conn.transaction():
                row = await conn.fetchrow(
                    "SELECT 1 FROM projection_checkpoints WHERE name = $1 FOR UPDATE SKIP LOCKED", slow.name
                )
                assert row is not None
            assert await pool.fetchval(
                "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid"
                " WHERE a.datname = current_database() AND l.locktype = 'advisory'"
            ) == 0
        assert mid_batch >= 10, f"only {mid_batch} cancellations landed inside a batch"
    finally:
        await other_pool.close()


async def test_a_wait_that_cannot_be_met_gives_up_says_so_and_does_not_spin(
    store: EventStore, pool: asyncpg.Pool, caplog: pytest.LogCaptureFixture
) -> None:
    recorder = Recorder()
    runner = ProjectionRunner(pool, [recorder])
    attempts = 0
    catch_up = runner.catch_up

    async def counted(projection: Projection, max_batches: int | None = None) -> int | None:
        nonlocal attempts
        attempts += 1
        return await catch_up(projection, max_batches)

    runner.catch_up = counted  # type: ignore[method-assign]
    caplog.set_level(logging.WARNING)
    async with pool.acquire() as slow, slow.transaction():
        await slow.execute("CREATE TEMP TABLE holds_the_horizon (x int)")
        written = await store.append(Append("s-1", NEW_STREAM, [ev(2022)]))
        assert not await runner.wait_until_applied([recorder.name], written.last, timeout=1.5)
    assert attempts < 100, f"{attempts} attempts in 1.5 s: spinning"  # it was thousands a second
    assert any("gave up" in r.message and "test_recorder" in r.message for r in caplog.records)
    assert await runner.wait_until_applied([recorder.name], written.last, timeout=5)


async def test_a_wait_gives_up_on_time_even_with_a_long_backlog_to_help_with(
    store: EventStore, pool: asyncpg.Pool, database_url: str
) -> None:
    """After a restart or a rebuild the backlog is long: a request helps with one batch at a time and keeps
    its deadline, instead of draining the whole backlog first."""
    slow = Slow()
    for s in range(10):
        await store.append(Append(f"s-{s}", NEW_STREAM, [ev(2000 + i) for i in range(100)]))
    last = await store.append(Append("last", NEW_STREAM, [ev(2022)]))
    runner = ProjectionRunner(pool, [slow], batch_size=100)  # ~0.1 s a batch, ~1 s in all
    assert not await runner.wait_until_applied([slow.name], last.last, timeout=0.3)
    assert slow.finished < 10  # it stopped helping when the time was up
    assert await runner.wait_until_applied([slow.name], last.last, timeout=60)


async def test_a_wait_on_a_projection_stuck_before_the_event_gives_up_at_once(
    store: EventStore, pool: asyncpg.Pool, caplog: pytest.LogCaptureFixture
) -> None:
    fragile = Fragile()
    runner = ProjectionRunner(pool, [fragile])
    await store.append(Append("s-1", NEW_STREAM, [ev(3_000_000_000)]))
    written = await store.append(Append("s-2", NEW_STREAM, [ev(2022)]))
    caplog.set_level(logging.WARNING)
    assert not await runner.wait_until_applied([fragile.name], written.last, timeout=3600)  # not an hour
    assert any("gave up at once (it fails on cycle.stage_advanced" in r.message for r in caplog.records)
