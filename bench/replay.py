"""Replay throughput: rebuilding a read model from 1,000,000 events (issue 2 figures).

    python -m bench.replay [--events 1000000]

Ours: `ProjectionRunner.replay` of a simple projection (events counted per stream prefix and type,
written once per batch) — safe-order reads in batches, typed decoding, apply and checkpoint per batch,
each batch in its own transaction. Baseline: a plain server-side cursor `SELECT` of the same rows in
the same order, doing nothing with them. Both in the same run, against the same database.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import time
from collections.abc import Sequence

import asyncpg

from bench._common import fresh_database, print_table, server_url
from musrenbang.db.connect import create_pool
from musrenbang.domain.events import CycleStageAdvanced
from musrenbang.eventlog.store import NEW_STREAM, Append, EventStore, RecordedEvent
from musrenbang.projections import Projection
from musrenbang.projections.runner import ProjectionRunner

COUNTS_TABLE = "CREATE TABLE bench_counts (prefix text, event_type text, n bigint, PRIMARY KEY (prefix, event_type))"


class EventCounts(Projection, register=False):
    name = "bench_counts"
    tables = ("bench_counts",)

    async def apply(self, conn: asyncpg.Connection, events: Sequence[RecordedEvent]) -> None:
        counts = collections.Counter((e.stream_id.split("-", 1)[0], e.event_type) for e in events)
        await conn.executemany(
            "INSERT INTO bench_counts VALUES ($1, $2, $3)"
            " ON CONFLICT (prefix, event_type) DO UPDATE SET n = bench_counts.n + EXCLUDED.n",
            [(p, t, n) for (p, t), n in counts.items()],
        )


async def fill(store: EventStore, total: int) -> float:
    per_command, writers = 1000, 4
    start = time.perf_counter()

    async def writer(w: int) -> None:
        for c in range(w, total // per_command, writers):
            events = [CycleStageAdvanced(year=2022, stage=f"s{i % 7}") for i in range(per_command)]
            await store.append(Append(f"p{c % 50}-{c}", NEW_STREAM, events))

    await asyncio.gather(*(writer(w) for w in range(writers)))
    return time.perf_counter() - start


async def plain_select(conn: asyncpg.Connection) -> tuple[int, float]:
    start = time.perf_counter()
    n = 0
    async with conn.transaction(readonly=True):
        async for _ in conn.cursor("SELECT * FROM events ORDER BY tx, global_position", prefetch=5000):
            n += 1
    return n, time.perf_counter() - start


async def main(total: int) -> None:
    with server_url() as url:
        async with fresh_database(url, migrated_only=True) as db:
            pool = await create_pool(db, min_size=4, max_size=8)
            await pool.execute(COUNTS_TABLE)
            filled = await fill(EventStore(pool), total)
            await pool.execute("VACUUM ANALYZE events")
            async with pool.acquire() as conn:
                await plain_select(conn)  # warm the cache for both
                n_select, t_select = await plain_select(conn)
            runner = ProjectionRunner(pool, [EventCounts()], batch_size=5000)
            start = time.perf_counter()
            n_replay = await runner.replay(EventCounts())
            t_replay = time.perf_counter() - start
            assert n_replay == n_select == total
            assert await pool.fetchval("SELECT sum(n) FROM bench_counts") == total
            await pool.close()
    print(f"{total:,} events (appended at {total / filled:,.0f} events/s in 1000-event commands)")
    print_table(
        ["what", "seconds", "events/s", "ratio to SELECT", "aim"],
        [
            ["replay through a projection", t_replay, n_replay / t_replay, t_select / t_replay, "≥ 0.30"],
            ["plain SELECT of the same rows", t_select, n_select / t_select, 1.0, ""],
        ],
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    asyncio.run(main(parser.parse_args().events))
