"""A city-sized log: the demo cycle at scale, then lineage queries, the RKPD page, replay and offline
verification on it (issue 6 figures).

    python -m bench.rkpd_scale [--events 1000000] [--samples 2000] [--reuse URL] [--parts lineage,page,...]
                               [--seconds 5] [--connections 10]

Builds a fresh database with `musrenbang.demo.play` at the scale that gives about `--events` events
(the same commands and events a real cycle produces, appended many streams per command), or reuses the
database at `--reuse URL` (also MUSRENBANG_BENCH_DB), e.g. one built once with
`MUSRENBANG_DATABASE_URL=postgresql://.../rkpd1m musrenbang demo --scale 400`. Then, each beside its
baseline in the same run:

- lineage of `--samples` random proposals and of as many random RKPD lines (the queries behind
  `/api/v1/lineage/{code}` and `/api/v1/rkpd/{year}/items/{id}/lineage`, run in this process against
  the database: p50/p99, aim p99 < 10 ms), against a primary-key lookup of one proposal row;
- the RKPD page `GET /rkpd/2022` through a real server, against `GET /health` on the same server;
- `pages`: every public page a resident reaches (`/rkpd/2022`, `/api/v1/rkpd/2022`, `/`, `/telusur/...`,
  `/lacak/...`, `/wilayah`, a kecamatan, a kelurahan, the equity and sources views, the RKPD list filtered
  by a kecamatan (cached) and searched (rendered per request), the proposal search, the kelurahan
  search, the forum calendar) under load with `wrk`
  (`--connections`, `--seconds` each, gzip asked) through a server with 2 workers: requests/s and p50/p99
  against `GET /health` in the same run (aim: each ≥ 0.3× /health, and p99 < 50 ms for the RKPD list and
  its JSON), and the gzip bytes of the RKPD list's first view with its CSS and JS (aim ≤ 30 KB);
- `replay` of every projection, against a plain SELECT of all events (as bench/replay.py);
- `musrenbang export events` then `musrenbang verify --file` in events/s, against the in-database chain
  check (`musrenbang verify`).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import re
import statistics
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import httpx

from bench._common import fresh_database, print_table, server_url
from bench._server import running_server
from bench.page_weight import wire_bytes
from bench.replay import plain_select
from musrenbang import demo
from musrenbang.db.connect import create_pool
from musrenbang.eventlog.store import EventStore
from musrenbang.eventlog.verify import verify_database
from musrenbang.http.rkpd_api import lineage_of_line, lineage_of_proposal, rkpd_out
from musrenbang.projections import all_projections
from musrenbang.projections.runner import ProjectionRunner
from musrenbang.services.bootstrap import prepare, server_secret

EVENTS_PER_SCALE = 2_500  # about what one unit of demo scale writes (scale 10 gave 24,783 events)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def timed(calls: list[Callable[[], Awaitable[object]]]) -> list[float]:
    out = []
    for call in calls:
        start = time.perf_counter()
        await call()
        out.append((time.perf_counter() - start) * 1000)
    return out


async def build(url: str, events: int) -> tuple[int, float]:
    scale = max(1, round(events / EVENTS_PER_SCALE))
    pool = await create_pool(url, min_size=2, max_size=8)
    store = EventStore(pool)
    start = time.perf_counter()
    async with pool.acquire() as conn:
        await prepare(conn, store)
        secret = await server_secret(conn)
    done = 0

    def progress(n: int) -> None:
        nonlocal done
        done += n
        print(f"\r  building at scale {scale}: step {done}/{demo.STEPS}", end="", flush=True)

    await demo.play(pool, store, bytes.fromhex(secret), seed=2022, scale=scale, on_progress=progress,
                    next_year=False)
    took = time.perf_counter() - start
    print()
    await pool.execute("VACUUM ANALYZE")
    await pool.close()
    return scale, took


async def lineage(url: str, samples: int) -> list[list[object]]:
    pool = await create_pool(url, min_size=1, max_size=2)
    rng = random.Random(6)
    codes = [r[0] for r in await pool.fetch("SELECT code FROM proposals")]
    lines = [r[0] for r in await pool.fetch("SELECT line_id FROM rkpd_lines WHERE year = 2022")]
    picked = rng.choices(codes, k=samples)
    picked_lines = rng.choices(lines, k=samples)
    await timed([lambda c=c: lineage_of_proposal(pool, c) for c in picked[:200]])  # warm up
    proposal = await timed([lambda c=c: lineage_of_proposal(pool, c) for c in picked])
    line = await timed([lambda x=x: lineage_of_line(pool, 2022, x) for x in picked_lines])
    pk = await timed([lambda c=c: pool.fetchrow("SELECT * FROM proposals WHERE code = $1", c) for c in picked])
    await pool.close()
    base = statistics.median(pk)
    return [
        [name, statistics.median(ms), percentile(ms, 0.99), statistics.median(ms) / base, "p99 < 10 ms"]
        for name, ms in (("lineage of a proposal", proposal), ("lineage of an RKPD line", line))
    ] + [["baseline: one proposal row by key", base, percentile(pk, 0.99), 1.0, ""]]


def page(url: str) -> list[list[object]]:
    with running_server(url, workers=1) as base, httpx.Client(base_url=base, timeout=120) as client:
        status = client.get("/rkpd/2022").status_code
        if status != 200:
            return [[f"GET /rkpd/2022 answered {status}: page not timed", 0.0, 0.0, 0.0, ""]]
        size = len(client.get("/rkpd/2022").content)
        page_ms, health_ms = [], []
        for _ in range(10):
            start = time.perf_counter()
            client.get("/rkpd/2022")
            page_ms.append((time.perf_counter() - start) * 1000)
            start = time.perf_counter()
            client.get("/health")
            health_ms.append((time.perf_counter() - start) * 1000)
    base = statistics.median(health_ms)
    return [
        [f"GET /rkpd/2022 ({size:,} bytes)", statistics.median(page_ms), max(page_ms),
         statistics.median(page_ms) / base, ""],
        ["baseline: GET /health", base, max(health_ms), 1.0, ""],
    ]  # fmt: skip


async def rkpd_json(url: str) -> float:
    pool = await create_pool(url, min_size=1, max_size=2)
    ms = await timed([lambda: rkpd_out(pool, 2022) for _ in range(5)])
    await pool.close()
    return statistics.median(ms)


async def replay(url: str) -> list[list[object]]:
    pool = await create_pool(url, min_size=2, max_size=4)
    total = await pool.fetchval("SELECT count(*) FROM events")
    async with pool.acquire() as conn:
        await plain_select(conn)
        n, t_select = await plain_select(conn)
    runner = ProjectionRunner(pool, all_projections(), batch_size=5000)
    rows = []
    t_all = 0.0
    for projection in all_projections():
        start = time.perf_counter()
        await runner.replay(projection)
        took = time.perf_counter() - start
        t_all += took
        rows.append([f"  replay {projection.name}", took, total / took, t_select / took, ""])
    await pool.close()
    return [
        ["replay of every projection", t_all, total / t_all, t_select / t_all, ""],
        *rows,
        ["baseline: plain SELECT of all events", t_select, n / t_select, 1.0, ""],
    ]


async def verify(url: str) -> list[list[object]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MUSRENBANG_")}
    env["MUSRENBANG_DATABASE_URL"] = url
    with tempfile.TemporaryDirectory(prefix="musrenbang-bench-") as tmp:
        out = Path(tmp) / "events.jsonl"
        start = time.perf_counter()
        await asyncio.to_thread(subprocess.run, ["musrenbang", "export", "events", "--out", str(out)], env=env,
                                check=True, capture_output=True)  # fmt: skip
        t_export = time.perf_counter() - start
        start = time.perf_counter()
        done = await asyncio.to_thread(subprocess.run, ["musrenbang", "verify", "--file", str(out)], env=env,
                                       capture_output=True, text=True)  # fmt: skip
        t_file = time.perf_counter() - start
        size = out.stat().st_size
    total = await _count(url)
    start = time.perf_counter()
    await _verify_db(url)
    t_db = time.perf_counter() - start
    verdict = "agrees" if done.returncode == 0 else f"exit {done.returncode}: {done.stderr.strip()[-200:]}"
    return [
        [f"verify --file ({size / 1e6:,.0f} MB; {verdict})", t_file, total / t_file, t_db / t_file, ""],
        ["export events --out", t_export, total / t_export, t_db / t_export, ""],
        ["baseline: verify (chains in the database)", t_db, total / t_db, 1.0, ""],
    ]


async def _count(url: str) -> int:
    pool = await create_pool(url, min_size=1, max_size=1)
    n = await pool.fetchval("SELECT count(*) FROM events")
    await pool.close()
    return n


async def _verify_db(url: str) -> None:
    pool = await create_pool(url, min_size=1, max_size=1)
    async with pool.acquire() as conn:
        report = await verify_database(conn)
    await pool.close()
    assert report.intact


@contextlib.asynccontextmanager
async def database(reuse: str | None, events: int) -> AsyncIterator[str]:
    if reuse:
        pool = await create_pool(reuse, min_size=1, max_size=1)
        await pool.execute("ANALYZE")  # as autovacuum would have by now on a server in use
        await pool.close()
        yield reuse
        return
    with server_url() as url:
        async with fresh_database(url, migrated_only=True) as db:
            scale, took = await build(db, events)
            total = await _count(db)
            print(f"built {total:,} events at demo scale {scale} in {took:,.0f} s ({total / took:,.0f} events/s)")
            yield db


CACHED = ("/rkpd/2022", "/rkpd/2022?halaman=2", "/api/v1/rkpd/2022")
"""Served from bytes cached by the list's revision (musrenbang/http/page_cache.py)."""


def public_paths(url: str) -> list[str]:
    """The public pages to load, on real codes of the database: the RKPD list first, /health last."""

    async def pick() -> list[str]:
        pool = await create_pool(url, min_size=1, max_size=1)
        try:
            code = await pool.fetchval("SELECT code FROM proposals WHERE status = 'masuk_rkpd' ORDER BY code LIMIT 1")
            line = await pool.fetchval("SELECT line_id FROM rkpd_lines WHERE year = 2022 ORDER BY line_id LIMIT 1")
            kecamatan, kelurahan = await pool.fetchrow(
                "SELECT kecamatan, kelurahan FROM proposals WHERE code = $1", code
            ) or ("", "")  # fmt: skip
        finally:
            await pool.close()
        return [*CACHED, "/", f"/telusur/usulan/{code}",
                f"/telusur/rkpd/2022/{line}", f"/lacak/{code}", "/wilayah", f"/kecamatan/{kecamatan}",
                f"/kelurahan/{kelurahan}", "/rkpd/2022/pemerataan", "/rkpd/2022/sumber",
                f"/rkpd/2022?kecamatan={kecamatan}", "/rkpd/2022?q=jalan", "/usulan?tahun=2022&q=jalan",
                "/wilayah?q=pondok+gede", "/musyawarah?tahun=2022"]  # fmt: skip

    return asyncio.run(pick())


def pages(url: str, seconds: int, connections: int) -> tuple[list[list[object]], list[list[object]]]:
    """Each public page under `wrk` load, /health before and after them (its mean is the baseline)."""
    paths = public_paths(url)
    rows = []
    with running_server(url, workers=2) as base, httpx.Client(base_url=base, timeout=120) as client:
        for path in paths:  # warm every worker: each process renders a list once, on its first request
            load(base, path, 1, connections)
        before = load(base, "/health", seconds, connections)
        for path in paths:
            rows.append((path, load(base, path, seconds, connections)))
        after = load(base, "/health", seconds, connections)
        weight = first_view(client)
    health = (before["rps"] + after["rps"]) / 2
    table = [
        [path, r["rps"], r["p50"], r["p99"], r["rps"] / health, r["errors"],
         "p99 < 50 ms, ≥ 0.3" if path in CACHED else "≥ 0.3"]
        for path, r in rows
    ] + [
        ["baseline: /health (before)", before["rps"], before["p50"], before["p99"], before["rps"] / health,
         before["errors"], ""],
        ["baseline: /health (after)", after["rps"], after["p50"], after["p99"], after["rps"] / health,
         after["errors"], ""],
    ]  # fmt: skip
    return table, weight


def load(base: str, path: str, seconds: int, connections: int) -> dict[str, float]:
    """`wrk` on one path, gzip asked as browsers do."""
    out = subprocess.run(
        ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", "-H", "Accept-Encoding: gzip",
         base + path], capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if re.search(r"\b0 requests in", out):  # not one answer in the time: no percentiles to read
        return {"rps": 0.0, "p50": float("nan"), "p99": float("nan"), "errors": 0}
    return {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
        "p50": _ms(re.search(r"^\s*50%\s+(\S+)", out, re.M).group(1)),
        "p99": _ms(re.search(r"^\s*99%\s+(\S+)", out, re.M).group(1)),
        "errors": int(bad.group(1)) if bad else 0,
    }


def first_view(client: httpx.Client) -> list[list[object]]:
    """What a phone downloads for the RKPD list's first view: the page, its CSS and JS, as sent (gzip)."""
    page = client.get("/rkpd/2022", headers={"Accept-Encoding": "gzip"})
    assets = re.findall(r'<(?:link[^>]+href|script[^>]+src)="(/[^"]+)"', page.text)
    responses = [page] + [client.get(a, headers={"Accept-Encoding": "gzip"}) for a in assets]
    wire = sum(wire_bytes(r) for r in responses)
    plain = sum(len(r.content) for r in responses)
    lines = len(re.findall(r'<tr id="baris-', page.text))
    return [[f"/rkpd/2022 first view ({lines} lines shown) + CSS + JS", len(responses), wire, plain,
             "yes" if wire <= 30 * 1024 else "NO"]]  # fmt: skip


def _ms(text: str) -> float:
    """wrk's "12.34ms" in ms; nan when it printed none (no answer within its time)."""
    found = re.match(r"([\d.]+)(us|ms|s|m)$", text)
    if found is None:
        return float("nan")
    value, unit = found.groups()
    return float(value) * {"us": 0.001, "ms": 1, "s": 1000, "m": 60_000}[unit]


PARTS = ("lineage", "page", "pages", "replay", "verify")


async def measure(reuse: str | None, events: int, samples: int, parts: set[str], seconds: int = 5,
                  connections: int = 10) -> None:  # fmt: skip
    async with database(reuse, events) as url:
        print(f"{await _count(url):,} events")
        if "lineage" in parts:
            print_table(["what", "ms p50", "ms p99", "ratio to baseline", "aim"], await lineage(url, samples))
            print()
        if "page" in parts:
            print_table(["what", "ms p50", "ms max", "ratio to baseline", "aim"], await asyncio.to_thread(page, url))
            print(f"rkpd_out (the list behind the page and the JSON API), in process: {await rkpd_json(url):,.0f} ms")
            print()
        if "pages" in parts:
            table, weight = await asyncio.to_thread(pages, url, seconds, connections)
            print(f"wrk: {connections} connections, {seconds} s a page, server with 2 workers (same 2 cores)")
            print_table(["page", "req/s", "ms p50", "ms p99", "ratio to /health", "errors", "aim"], table)
            print_table(["first view", "requests", "bytes on the wire", "uncompressed", "≤ 30 KB"], weight)
            print()
        if "replay" in parts:
            print_table(["what", "seconds", "events/s", "speed vs baseline", "aim"], await replay(url))
            print()
        if "verify" in parts:
            print_table(["what", "seconds", "events/s", "speed vs baseline", "aim"], await verify(url))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--samples", type=int, default=2_000)
    parser.add_argument("--reuse", default=os.environ.get("MUSRENBANG_BENCH_DB"), metavar="URL")
    parser.add_argument("--parts", default=",".join(PARTS), help=f"comma-separated, of: {', '.join(PARTS)}")
    parser.add_argument("--seconds", type=int, default=5, help="wrk's time per page (part `pages`)")
    parser.add_argument("--connections", type=int, default=10, help="wrk's connections (part `pages`)")
    args = parser.parse_args()
    asyncio.run(measure(args.reuse, args.events, args.samples, set(args.parts.split(",")), args.seconds,
                        args.connections))
