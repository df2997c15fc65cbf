"""A past year's pages while next year's proposals arrive (the January peak): still served from the cache?

    python -m bench.year_cache [--seconds 8] [--scale 1]

The demo cycle (RKPD 2022 adopted, RKPD 2023 taking proposals) on a fresh database, `musrenbang serve`
with 2 workers. Each page is loaded with `wrk` (10 connections) twice: quiet, and while 2 more `wrk`
connections submit 2023 proposals without pause. The 2022 equity and sources views are keyed by what that
year's view is a function of (`rkpd_views.year_version`): a 2023 proposal leaves them cached. A lineage page
(`/telusur/usulan/…`) is keyed by the read models' checkpoints, so each new proposal renders it again. The
baseline, in the same run: `/health` (never cached) quiet and under the same submissions, which shows what
the submissions' load alone takes from any request on two shared cores.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import sys

from bench._common import fresh_database, print_table, server_url
from bench._server import running_server
from bench.submissions import run_wrk, run_wrk_get
from musrenbang import demo
from musrenbang.db.connect import create_pool
from musrenbang.eventlog.store import EventStore
from musrenbang.services.bootstrap import prepare, server_secret

CONNECTIONS = 10
WRITERS = 2


async def build(url: str, scale: int) -> str:
    """The demo cycle on `url`; a 2022 proposal that ended in the RKPD (for its lineage page)."""
    pool = await create_pool(url, min_size=2, max_size=8)
    try:
        store = EventStore(pool)
        async with pool.acquire() as conn:
            await prepare(conn, store)
            secret = await server_secret(conn)
        await demo.play(pool, store, bytes.fromhex(secret), seed=2022, scale=scale)
        await pool.execute("VACUUM ANALYZE")
        return str(
            await pool.fetchval(
                "SELECT code FROM proposals WHERE year = 2022 AND status = 'masuk_rkpd' ORDER BY code LIMIT 1"
            )
        )
    finally:
        await pool.close()


async def measure(base: str, paths: list[str], seconds: int) -> list[list[object]]:
    rows = []
    for path in paths:
        quiet = await asyncio.to_thread(run_wrk_get, base, path, seconds, CONNECTIONS)
        busy, writes = await asyncio.gather(asyncio.to_thread(run_wrk_get, base, path, seconds, CONNECTIONS),
                                            asyncio.to_thread(run_wrk, base, seconds, WRITERS))  # fmt: skip
        rows.append([path, quiet["rps"], quiet["p99"], busy["rps"], busy["p99"], writes["rps"],
                     busy["rps"] / quiet["rps"]])  # fmt: skip
    return rows


async def main(seconds: int, scale: int) -> None:
    if not shutil.which("wrk"):
        sys.exit("wrk is needed: apt-get install -y wrk")
    with server_url() as url:
        async with fresh_database(url, migrated_only=True) as db:
            code = await build(db, scale)
            env = {"MUSRENBANG_SUBMISSIONS_PER_HOUR": "100000000"}
            with running_server(db, extra_env=env) as base:
                paths = ["/rkpd/2022/pemerataan", "/rkpd/2022/sumber", f"/telusur/usulan/{code}", "/health"]
                rows = await measure(base, paths, seconds)
    print(
        f"{CONNECTIONS} connections per page, {seconds} s quiet and {seconds} s while {WRITERS} more connections"
        " submit 2023 proposals; server with 2 workers (same 2 cores)"
    )
    print_table(["page", "quiet req/s", "quiet p99 ms", "busy req/s", "busy p99 ms", "2023 proposals/s meanwhile",
                 "busy / quiet"], rows)  # fmt: skip
    health = rows[-1][-1]
    for row in rows[:-1]:
        print(f"{row[0]}: busy/quiet {row[-1]:.2f} against /health's {health:.2f} (ratio {row[-1] / health:.2f})")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=8)
    parser.add_argument("--scale", type=int, default=1)
    args = parser.parse_args()
    asyncio.run(main(args.seconds, args.scale))
