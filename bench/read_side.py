"""The read side made reliable (issue 10 figures): what the new horizon, the seals, the one-pass verify and
read-your-writes cost.

    python -m bench.read_side [--events 200000] [--idle 60] [--rounds 300]

1. Horizon: one safe-order read of the next batch (1 event, 1,000 events) below `event_horizon()` — this
   database's oldest running transaction, read from pg_stat_activity, which grows with every connection, so
   `--idle` more connections are held open — against the same read below the cluster-wide
   `pg_snapshot_xmin` it replaced.
2. Sealing the whole log (seals of 10,000 events) against a plain SELECT of what a seal hashes (order key,
   position, hash) in the same order.
3. `verify` in the database, chains and seals in one pass in position order, against the chain-only check
   by stream it replaced.
4. Read-your-writes: append one event and wait until a projection has applied it (its worker running, woken
   by NOTIFY, the wait helping when the worker is idle, as a request does), p50 / p99, against the append
   alone.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from collections.abc import Awaitable, Callable, Sequence

import asyncpg

from bench._common import fresh_database, print_table, server_url
from musrenbang.db.connect import create_pool
from musrenbang.domain.events import CycleStageAdvanced
from musrenbang.eventlog import seal
from musrenbang.eventlog.store import _READ_AFTER, NEW_STREAM, START, Append, EventStore, RecordedEvent, read_after
from musrenbang.eventlog.verify import ChainChecker, stored_events, verify_database
from musrenbang.projections import Projection
from musrenbang.projections.runner import ProjectionRunner
from musrenbang.projections.supervisor import supervise

_OLD_READ = """
SELECT global_position, stream_id, stream_version, event_id, event_type, data, metadata, recorded_at, tx, hash
FROM events WHERE (tx, global_position) > ($1::bigint, $2::bigint)
  AND tx < pg_snapshot_xmin(pg_current_snapshot())::text::bigint + (SELECT order_offset FROM event_order)
ORDER BY tx, global_position LIMIT $3
"""


class Noop(Projection, register=False):
    name = "bench_noop"
    tables = ()

    async def apply(self, conn: asyncpg.Connection, events: Sequence[RecordedEvent]) -> None:
        return None


async def fill(store: EventStore, total: int) -> None:
    per_command = 1000
    for c in range(total // per_command):
        events = [CycleStageAdvanced(year=2022, stage=f"s{i % 7}") for i in range(per_command)]
        await store.append(Append(f"p{c % 50}-{c}", NEW_STREAM, events))


async def timed(work: Callable[[], Awaitable[object]], rounds: int) -> list[float]:
    out = []
    for _ in range(rounds):
        start = time.perf_counter()
        await work()
        out.append(time.perf_counter() - start)
    return out


def ms(samples: list[float], q: float) -> float:
    return 1000 * statistics.quantiles(samples, n=100)[int(q) - 1] if q < 100 else 1000 * max(samples)


async def horizon(pool: asyncpg.Pool, url: str, idle: int, rounds: int) -> list[list[object]]:
    others = [await asyncpg.connect(url) for _ in range(idle)]
    rows = []
    try:
        async with pool.acquire() as conn:
            middle = (await read_after(conn, START, 100_000))[-1]
            at = (middle.tx, middle.global_position)
            for size in (1, 1000):  # the same rows fetched both ways (decoding them is the same cost either way)
                new = await timed(lambda: conn.fetch(_READ_AFTER, at[0], at[1], size), rounds)  # noqa: B023
                old = await timed(lambda: conn.fetch(_OLD_READ, at[0], at[1], size), rounds)  # noqa: B023
                rows.append([f"next {size} event(s), p50 ms", ms(new, 50), ms(old, 50), ms(old, 50) / ms(new, 50)])
    finally:
        for c in others:
            await c.close()
    return rows


async def main(total: int, idle: int, rounds: int) -> None:
    with server_url() as url:
        async with fresh_database(url, migrated_only=True) as db:
            pool = await create_pool(db, min_size=2, max_size=8)
            store = EventStore(pool)
            await fill(store, total)
            await pool.execute("VACUUM ANALYZE events")
            print(f"{total:,} events; {idle} more connections open for the horizon figures")
            print_table(["horizon", "event_horizon()", "pg_snapshot_xmin", "ratio old/new"],
                        await horizon(pool, db, idle, rounds))  # fmt: skip

            async with pool.acquire() as conn:
                start = time.perf_counter()
                n = 0
                async with conn.transaction(readonly=True):
                    async for _ in conn.cursor("SELECT tx, global_position, hash FROM events ORDER BY tx,"
                                               " global_position", prefetch=10_000):  # fmt: skip
                        n += 1
                t_select = time.perf_counter() - start
            start = time.perf_counter()
            sealed = 0
            while covered := await seal.seal(store):
                sealed += covered
            t_seal = time.perf_counter() - start

            async with pool.acquire() as conn:
                start = time.perf_counter()
                report = await verify_database(conn)
                t_verify = time.perf_counter() - start
                assert report.intact and report.seals
                start = time.perf_counter()
                checker = ChainChecker()
                async for e in stored_events(conn):
                    checker.feed(e)
                t_chains = time.perf_counter() - start
            print()
            print_table(["whole log", "seconds", "events/s", "baseline", "baseline s", "ratio"], [
                ["seal (10,000 per seal)", t_seal, sealed / t_seal, "SELECT tx, position, hash", t_select,
                 t_select / t_seal],
                ["verify: chains + seals, one pass", t_verify, report.chains.events / t_verify,
                 "chains only, by stream", t_chains, t_chains / t_verify],
            ])  # fmt: skip

            noop = Noop()
            # As in the server: one runner per process, its worker running, requests waiting through it.
            runner = ProjectionRunner(pool, [noop], poll_interval=5)
            await runner.catch_up(noop)
            worker = asyncio.create_task(supervise(runner, db))
            await asyncio.sleep(0.5)
            waiter = runner
            appended, waited = [], []
            for i in range(rounds):
                start = time.perf_counter()
                result = await store.append(Append(f"ryw-{i}", NEW_STREAM, [CycleStageAdvanced(year=2022, stage="x")]))
                middle = time.perf_counter()
                assert await waiter.wait_until_applied([noop.name], result.last, timeout=10)
                appended.append(middle - start)
                waited.append(time.perf_counter() - start)
            worker.cancel()
            await asyncio.gather(worker, return_exceptions=True)
            print()
            print_table(["read-your-writes", "p50 ms", "p99 ms", "append alone p50 ms", "append alone p99 ms"],
                        [["append + applied by the worker", ms(waited, 50), ms(waited, 99), ms(appended, 50),
                          ms(appended, 99)]])  # fmt: skip
            await pool.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--idle", type=int, default=60)
    parser.add_argument("--rounds", type=int, default=300)
    args = parser.parse_args()
    asyncio.run(main(args.events, args.idle, args.rounds))
