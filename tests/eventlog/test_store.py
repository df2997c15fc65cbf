"""The event log against a real PostgreSQL: concurrency, idempotency, immutability, notification."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest

from musrenbang.db.connect import connect
from musrenbang.domain.events import CycleStageAdvanced
from musrenbang.eventlog import codec
from musrenbang.eventlog.store import (
    NEW_STREAM,
    Append,
    ConcurrencyError,
    EventStore,
    IdempotencyKeyReused,
    Metadata,
    StreamHead,
)


def stage(year: int, name: str = "kelurahan") -> CycleStageAdvanced:
    return CycleStageAdvanced(year=year, stage=name)


async def count(pool: asyncpg.Pool) -> int:
    return await pool.fetchval("SELECT count(*) FROM events")


async def test_append_then_read_stream_returns_typed_events_in_order(store: EventStore) -> None:
    result = await store.append(Append("s-1", NEW_STREAM, [stage(1, "a"), stage(1, "b")]))
    events = await store.read_stream("s-1")
    assert [e.stream_version for e in events] == [1, 2]
    assert [e.event for e in events] == [stage(1, "a"), stage(1, "b")]
    assert result.heads["s-1"] == StreamHead(2, events[-1].hash)


async def test_two_concurrent_appends_at_the_same_version_exactly_one_wins(
    store: EventStore, pool: asyncpg.Pool
) -> None:
    first = await store.append(Append("s-1", NEW_STREAM, [stage(1)]))
    head = first.heads["s-1"]
    outcomes = await asyncio.gather(
        store.append(Append("s-1", head, [stage(1, "x")])),
        store.append(Append("s-1", head, [stage(1, "y")])),
        return_exceptions=True,
    )
    assert sum(isinstance(o, ConcurrencyError) for o in outcomes) == 1
    assert sum(not isinstance(o, BaseException) for o in outcomes) == 1
    assert await count(pool) == 2


async def test_many_concurrent_writers_on_one_stream_never_fork_it(store: EventStore, pool: asyncpg.Pool) -> None:
    head = (await store.append(Append("s-1", NEW_STREAM, [stage(1)]))).heads["s-1"]
    outcomes = await asyncio.gather(
        *(store.append(Append("s-1", head, [stage(1, str(i))])) for i in range(16)), return_exceptions=True
    )
    assert sum(isinstance(o, ConcurrencyError) for o in outcomes) == 15
    versions = await pool.fetch("SELECT stream_version FROM events WHERE stream_id = 's-1' ORDER BY 1")
    assert [r[0] for r in versions] == [1, 2]


async def test_retried_append_with_same_key_writes_nothing_and_returns_first_result(
    store: EventStore, pool: asyncpg.Pool
) -> None:
    meta = Metadata(actor="warga", fingerprint="f1")
    first = await store.append(Append("s-1", NEW_STREAM, [stage(1)]), metadata=meta, idempotency_key="k-1")
    again = await store.append(Append("s-1", NEW_STREAM, [stage(1)]), metadata=meta, idempotency_key="k-1")
    assert again.replayed and not first.replayed
    assert again.event_ids == first.event_ids
    assert again.positions == first.positions
    assert again.heads == first.heads
    assert await count(pool) == 1


async def test_retry_after_the_stream_moved_on_still_returns_the_first_result(
    store: EventStore, pool: asyncpg.Pool
) -> None:
    first = await store.append(Append("s-1", NEW_STREAM, [stage(1)]), idempotency_key="k-1")
    await store.append(Append("s-1", first.heads["s-1"], [stage(1, "b")]))
    again = await store.append(Append("s-1", first.heads["s-1"], [stage(1)]), idempotency_key="k-1")
    assert again.replayed and again.positions == first.positions
    assert await count(pool) == 2


async def test_concurrent_identical_retries_write_once(store: EventStore, pool: asyncpg.Pool) -> None:
    outcomes = await asyncio.gather(
        *(store.append(Append("s-1", NEW_STREAM, [stage(1)]), idempotency_key="k-1") for _ in range(20))
    )
    assert len({o.positions for o in outcomes}) == 1
    assert sum(not o.replayed for o in outcomes) == 1
    assert await count(pool) == 1


async def test_same_key_for_a_different_command_is_refused(store: EventStore, pool: asyncpg.Pool) -> None:
    await store.append(Append("s-1", NEW_STREAM, [stage(1)]), metadata=Metadata(fingerprint="a"), idempotency_key="k-1")
    with pytest.raises(IdempotencyKeyReused):
        await store.append(
            Append("s-2", NEW_STREAM, [stage(2)]), metadata=Metadata(fingerprint="b"), idempotency_key="k-1"
        )
    assert await count(pool) == 1


async def test_append_with_a_head_that_does_not_exist_is_a_conflict(store: EventStore, pool: asyncpg.Pool) -> None:
    await store.append(Append("s-1", NEW_STREAM, [stage(1)]))
    with pytest.raises(ConcurrencyError):
        await store.append(Append("s-1", StreamHead(1, bytes(32)), [stage(1, "b")]))
    with pytest.raises(ConcurrencyError):
        await store.append(Append("s-1", StreamHead(5, bytes(32)), [stage(1, "b")]))
    assert await count(pool) == 1


async def test_an_append_to_several_streams_is_all_or_nothing(store: EventStore, pool: asyncpg.Pool) -> None:
    await store.append(Append("s-2", NEW_STREAM, [stage(2)]))
    with pytest.raises(ConcurrencyError):
        await store.append([Append("s-1", NEW_STREAM, [stage(1)]), Append("s-2", NEW_STREAM, [stage(2)])])
    assert await count(pool) == 1
    assert await store.read_stream("s-1") == []


async def test_append_inside_a_callers_transaction_commits_with_it(store: EventStore, pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn, conn.transaction():
        await store.append(Append("s-1", NEW_STREAM, [stage(1)]), conn=conn)
        with pytest.raises(ConcurrencyError):
            await store.append(Append("s-1", NEW_STREAM, [stage(1)]), conn=conn)
        # The failed append rolled back only to its savepoint; the transaction goes on.
        await store.append(Append("s-2", NEW_STREAM, [stage(2)]), conn=conn)
    assert await count(pool) == 2


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE events SET data = '{}'",
        "DELETE FROM events",
        "TRUNCATE events",
        "UPDATE events SET stream_id = 'other'",
    ],
)
async def test_the_log_refuses_update_delete_and_truncate(
    store: EventStore, pool: asyncpg.Pool, statement: str
) -> None:
    await store.append(Append("s-1", NEW_STREAM, [stage(1)]))
    with pytest.raises(asyncpg.InsufficientPrivilegeError, match="append-only"):
        await pool.execute(statement)
    assert await count(pool) == 1


async def test_append_notifies_listeners_after_commit(store: EventStore, database_url: str) -> None:
    listener = await connect(database_url)
    heard: asyncio.Queue[str] = asyncio.Queue()
    await listener.add_listener("musrenbang_events", lambda *args: heard.put_nowait(args[2]))
    try:
        await store.append(Append("s-1", NEW_STREAM, [stage(1)]))
        assert await asyncio.wait_for(heard.get(), 10) == "musrenbang_events"
    finally:
        await listener.close()


async def test_stored_data_reads_back_to_the_bytes_that_were_hashed(store: EventStore, pool: asyncpg.Pool) -> None:
    await store.append(Append("s-1", NEW_STREAM, [stage(7, "kota")]))
    data = await pool.fetchval("SELECT data FROM events")
    assert codec.recanonicalize(data) == b'{"on":null,"stage":"kota","type":"cycle.stage_advanced","year":7}'
