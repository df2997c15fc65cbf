"""Append throughput of the event log against a raw single-row INSERT (issue 2 figures).

    python -m bench.append [--seconds 5]

Ours: one command = one `EventStore.append` (hash chain, idempotency key, optimistic concurrency,
notification) through the application's connection pool. Baseline: an asyncpg INSERT of one row into a
plain table with the same columns and no constraints, triggers or hashing. Both run in the same
process against the same server, one after the other, with the same number of concurrent writers; the
ratio is what to read.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import time
import uuid

import asyncpg

from bench._common import fresh_database, print_table, server_url
from musrenbang.db.connect import create_pool
from musrenbang.domain.events import CycleStageAdvanced
from musrenbang.eventlog.store import NEW_STREAM, Append, EventStore, Metadata

RAW_TABLE = """
CREATE TABLE bench_raw (
    global_position bigint GENERATED ALWAYS AS IDENTITY,
    stream_id text, stream_version integer, event_id uuid, event_type text, data jsonb, metadata jsonb,
    recorded_at timestamptz, tx xid8 DEFAULT pg_current_xact_id(), hash bytea
)
"""
RAW_INSERT = (
    "INSERT INTO bench_raw (stream_id, stream_version, event_id, event_type, data, metadata, recorded_at,"
    " hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
)
EVENT = CycleStageAdvanced(year=2022, stage="kelurahan")


async def _run_writers(writers: int, seconds: float, one: callable) -> int:
    deadline = time.perf_counter() + seconds
    counts = [0] * writers

    async def writer(w: int) -> None:
        i = 0
        while time.perf_counter() < deadline:
            counts[w] += await one(w, i)
            i += 1

    await asyncio.gather(*(writer(w) for w in range(writers)))
    return sum(counts)


async def ours(pool: asyncpg.Pool, writers: int, seconds: float, per_command: int) -> float:
    store = EventStore(pool)
    run = uuid.uuid4().hex[:6]
    meta = Metadata(actor="bench", role="system")
    events = [EVENT] * per_command

    async def one(w: int, i: int) -> int:
        # A new stream per command, with an idempotency key: a resident submitting a proposal.
        await store.append(
            Append(f"b-{run}-{w}-{i}", NEW_STREAM, events), metadata=meta, idempotency_key=f"{run}:{w}:{i}"
        )
        return per_command

    start = time.perf_counter()
    n = await _run_writers(writers, seconds, one)
    return n / (time.perf_counter() - start)


async def raw(url: str, writers: int, seconds: float, pool: asyncpg.Pool | None = None) -> float:
    """Each writer on its own connection (no pool: the fastest plain way to insert a row with asyncpg),
    or through `pool` (the same pool our appends use)."""
    data = json.dumps({"type": "cycle.stage_advanced", "year": 2022, "stage": "kelurahan"}).encode()
    meta = b'{"actor":"bench","role":"system"}'
    conns = [] if pool else [await asyncpg.connect(url) for _ in range(writers)]
    if not pool:
        data, meta = data.decode(), meta.decode()  # text jsonb on plain connections

    async def one(w: int, i: int) -> int:
        await (pool or conns[w]).execute(
            RAW_INSERT,
            f"r-{w}-{i}",
            1,
            uuid.uuid4(),
            "cycle.stage_advanced",
            data,
            meta,
            dt.datetime.now(dt.UTC),
            os.urandom(32),
        )
        return 1

    start = time.perf_counter()
    n = await _run_writers(writers, seconds, one)
    elapsed = time.perf_counter() - start
    for c in conns:
        await c.close()
    return n / elapsed


async def main(seconds: float) -> None:
    with server_url() as url:
        async with fresh_database(url, migrated_only=True) as db:
            pool = await create_pool(db, min_size=16, max_size=32)
            await pool.execute(RAW_TABLE)
            server = await pool.fetchval("SHOW server_version")
            rows = []
            for writers in (1, 16):
                r = await raw(db, writers, seconds)
                rp = await raw(db, writers, seconds, pool)
                o = await ours(pool, writers, seconds, 1)
                rows.append([f"1 event/command, {writers:>2} writer(s)", o, r, o / r, rp, o / rp, "≥ 0.60 of raw"])
            o = await ours(pool, 4, seconds, 100)
            rows.append(["100 events/command, 4 writers", o, r, o / r, rp, o / rp, "≥ 20,000 events/s"])
            await pool.close()
    print(f"PostgreSQL {server}, {os.cpu_count()} cores, {seconds:.0f} s per measurement")
    print_table(["workload", "ours events/s", "raw rows/s", "ratio", "raw pooled rows/s", "ratio", "aim"], rows)
    print(
        "raw: one connection per writer; raw pooled: through the same asyncpg pool our appends use;"
        " the batched row compares with the 16-writer raw figures"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    asyncio.run(main(parser.parse_args().seconds))
