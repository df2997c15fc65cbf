"""Rebuilding every read model of a real log (issue 15, part 2 figures).

    python -m bench.rebuild [--scale K] [--reuse URL]

A demo cycle at `--scale` (or the database at `--reuse URL`, e.g. one `bench.rkpd_scale` built), then in
the same run: `replay_all` of every projection (the log read and decoded once, each batch applied by
every projection at the same time on its own connection — what `musrenbang replay` does); the same
projections each rebuilt on its own, side by side (how `replay` worked before: every projection read
and decoded the whole log itself); and, as the baseline, a plain server-side cursor SELECT of the log in
the same order, doing nothing with the rows. Beside each time, the CPU it cost per event in this process
and in PostgreSQL (the whole server: run it on a server nothing else uses). `--no-each` leaves out the
one-by-one rebuild (minutes at a million events).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import time

import asyncpg
import psutil

from bench._common import fresh_database, print_table, server_url
from bench.replay import plain_select
from bench.submissions import _cpu, _postmaster
from musrenbang.db.connect import create_pool
from musrenbang.projections import all_projections
from musrenbang.projections.runner import ProjectionRunner


async def measure(url: str, each: bool = True) -> None:
    projections = all_projections()
    postgres = await _postmaster(url)
    pool = await create_pool(url, min_size=2, max_size=len(projections) + 2)
    rows = []
    try:
        total = await pool.fetchval("SELECT count(*) FROM events")
        async with pool.acquire() as conn:
            await plain_select(conn)  # warm the cache for all three
            cpu = _cpu([psutil.Process()]), _cpu([postgres])
            n_select, t_select = await plain_select(conn)
            rows.append(_row("plain SELECT of the same rows (baseline)", n_select, t_select, t_select, cpu, postgres))
        runner = ProjectionRunner(pool, projections, batch_size=5000)
        await quiet(pool)
        cpu = _cpu([psutil.Process()]), _cpu([postgres])
        start = time.perf_counter()
        await runner.replay_all(projections)
        t_all = time.perf_counter() - start
        await asyncio.sleep(0.5)  # the rebuild's connections end: their backends' CPU is counted once they have
        rows.insert(0, _row("replay_all: read once, every projection applies each batch", total, t_all, t_select,
                            cpu, postgres))  # fmt: skip
        if each:
            await quiet(pool)
            cpu = _cpu([psutil.Process()]), _cpu([postgres])
            start = time.perf_counter()
            await asyncio.gather(*(runner.replay(p) for p in projections))
            t_each = time.perf_counter() - start
            await asyncio.sleep(0.5)
            rows.insert(1, _row("each projection reading the log on its own, side by side", total, t_each, t_select,
                                cpu, postgres))  # fmt: skip
    finally:
        await pool.close()
    print(f"{total:,} events, {len(projections)} projections ({', '.join(p.name for p in projections)})")
    rows[0].append("≥ 0.30")
    for row in rows[1:]:
        row.append("")
    print_table(["what", "seconds", "events/s", "ratio to SELECT", "client CPU µs/event", "PostgreSQL CPU µs/event",
                 "aim"], rows)  # fmt: skip


QUIET_WITHIN = 600.0


async def quiet(pool: asyncpg.Pool) -> None:
    """Wait (up to QUIET_WITHIN seconds) until no autovacuum worker runs. A rebuild switches in new tables
    of millions of rows, and autovacuum then works through them for a minute or more: a rebuild started
    right after another once took 137 s instead of 63 (bench/README.md, 917k events), its PostgreSQL CPU
    counting the vacuum's."""
    start = time.perf_counter()
    while time.perf_counter() - start < QUIET_WITHIN and await pool.fetchval(
        "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'autovacuum worker'"
    ):
        await asyncio.sleep(1)
    if (waited := time.perf_counter() - start) >= 1:
        print(f"waited {waited:.0f} s for autovacuum to finish before measuring", flush=True)


def _row(what: str, events: int, seconds: float, select_seconds: float, cpu_before: tuple[float, float],
         postgres: psutil.Process) -> list[object]:  # fmt: skip
    client, server = _cpu([psutil.Process()]) - cpu_before[0], _cpu([postgres]) - cpu_before[1]
    return [what, seconds, events / seconds, select_seconds / seconds, 1e6 * client / events, 1e6 * server / events]


async def main(scale: int, reuse: str | None, each: bool) -> None:
    if reuse:
        await measure(reuse, each)
        return
    with server_url() as url:
        async with fresh_database(url, migrated_only=True) as db:
            env = {**os.environ, "MUSRENBANG_DATABASE_URL": db}
            start = time.perf_counter()
            subprocess.run([sys.executable, "-m", "musrenbang", "demo", "--scale", str(scale)], env=env, check=True,
                           stdout=subprocess.DEVNULL)  # fmt: skip
            print(f"demo at scale {scale} played in {time.perf_counter() - start:.0f} s")
            await measure(db, each)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=int, default=20)
    parser.add_argument("--reuse", default=None, help="measure the log of this database instead of playing the demo")
    parser.add_argument("--no-each", action="store_true", help="leave out the one-by-one rebuild")
    args = parser.parse_args()
    asyncio.run(main(args.scale, args.reuse, not args.no_each))
