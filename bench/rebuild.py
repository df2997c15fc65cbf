"""Rebuilding every read model of a real log (issue 15, part 2 figures).

    python -m bench.rebuild [--scale K] [--reuse URL]

A demo cycle at `--scale` (or the database at `--reuse URL`, e.g. one `bench.rkpd_scale` built), then in
the same run: `replay_all` of every projection (the log read and decoded once, each batch applied by
every projection at the same time on its own connection — what `musrenbang replay` does); the same
projections each rebuilt on its own, side by side (how `replay` worked before: every projection read
and decoded the whole log itself); and, as the baseline, a plain server-side cursor SELECT of the log in
the same order, doing nothing with the rows.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import time

from bench._common import fresh_database, print_table, server_url
from bench.replay import plain_select
from musrenbang.db.connect import create_pool
from musrenbang.projections import all_projections
from musrenbang.projections.runner import ProjectionRunner


async def measure(url: str) -> None:
    projections = all_projections()
    pool = await create_pool(url, min_size=2, max_size=len(projections) + 2)
    try:
        total = await pool.fetchval("SELECT count(*) FROM events")
        async with pool.acquire() as conn:
            await plain_select(conn)  # warm the cache for all three
            n_select, t_select = await plain_select(conn)
        runner = ProjectionRunner(pool, projections, batch_size=5000)
        start = time.perf_counter()
        await asyncio.gather(*(runner.replay(p) for p in projections))
        t_each = time.perf_counter() - start
        start = time.perf_counter()
        await runner.replay_all(projections)
        t_all = time.perf_counter() - start
    finally:
        await pool.close()
    print(f"{total:,} events, {len(projections)} projections ({', '.join(p.name for p in projections)})")
    print_table(
        ["what", "seconds", "events/s", "ratio to SELECT", "aim"],
        [
            ["replay_all: read once, every projection applies each batch", t_all, total / t_all,
             t_select / t_all, "≥ 0.30"],
            ["each projection reading the log on its own, side by side", t_each, total / t_each,
             t_select / t_each, ""],
            ["plain SELECT of the same rows (baseline)", t_select, n_select / t_select, 1.0, ""],
        ],
    )  # fmt: skip


async def main(scale: int, reuse: str | None) -> None:
    if reuse:
        await measure(reuse)
        return
    with server_url() as url:
        async with fresh_database(url, migrated_only=True) as db:
            env = {**os.environ, "MUSRENBANG_DATABASE_URL": db}
            start = time.perf_counter()
            subprocess.run([sys.executable, "-m", "musrenbang", "demo", "--scale", str(scale)], env=env, check=True,
                           stdout=subprocess.DEVNULL)  # fmt: skip
            print(f"demo at scale {scale} played in {time.perf_counter() - start:.0f} s")
            await measure(db)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=int, default=20)
    parser.add_argument("--reuse", default=None, help="measure the log of this database instead of playing the demo")
    args = parser.parse_args()
    asyncio.run(main(args.scale, args.reuse))
