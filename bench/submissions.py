"""Proposal submissions per second through HTTP at 50 concurrent clients (issue 3 figures).

    python -m bench.submissions [--seconds 10]

Load: `wrk` (Debian package) with 50 connections, each request a new proposal with its own
Idempotency-Key, against `musrenbang serve` (2 workers) on a fresh database. Baseline, in the same run:
the raw append rate of the event log (bench.append's single-event commands) with 50 concurrent writers.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import re
import shutil
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

import asyncpg
import psutil

from bench._common import fresh_database, print_table, server_url
from bench._server import running_server
from bench.append import ours
from musrenbang.db.connect import create_pool
from tests.load import PROPOSAL

BODY = PROPOSAL
"""A valid proposal (the stop tests' load sends the same)."""

# Each request gets its own key (run, thread, counter), so that every POST is a new proposal; only 201s
# (new proposals) are counted. `thread_id` is the global each thread's `setup` sets: a `local` of the same
# name would shadow it (every thread then sent the same keys, and half the requests were replays).
WRK_SCRIPT = """
local counter = 0
created = 0
local threads = {}
setup = function(thread) table.insert(threads, thread); thread:set("thread_id", #threads) end
request = function()
  counter = counter + 1
  local headers = {["Content-Type"] = "application/json",
                   ["Idempotency-Key"] = "%s-" .. thread_id .. "-" .. counter}
  return wrk.format("POST", "/api/v1/proposals", headers, %s)
end
response = function(status, headers, body)
  if status == 201 then created = created + 1 end
end
done = function(summary, latency, requests)
  local total = 0
  for _, thread in ipairs(threads) do total = total + thread:get("created") end
  io.write(string.format("created: %%d in %%d us\\n", total, summary.duration))
end
"""


FLOORS = {
    "/static/app.css": "a static file: the least any request costs this server",
    "/health": "reads the checkpoints, writes nothing",
}
"""Requests that write nothing, measured on the same server right after the submissions: the ceiling any
submission design in this server could reach on this machine."""


def _lua_string(text: str) -> str:
    return "[==[" + text + "]==]"


def run_wrk(base: str, seconds: int, connections: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "post.lua"
        script.write_text(WRK_SCRIPT % (uuid.uuid4().hex, _lua_string(json.dumps(BODY))))
        out = subprocess.run(
            ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", str(script), base],
            capture_output=True, text=True, check=True,
        ).stdout  # fmt: skip
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    created, micros = (int(x) for x in re.search(r"created: (\d+) in (\d+) us", out).groups())
    return {
        "created": created,
        "rps": created / (micros / 1_000_000),
        "all_rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
        "p50": _ms(re.search(r"^\s*50%\s+(\S+)", out, re.M).group(1)),
        "p99": _ms(re.search(r"^\s*99%\s+(\S+)", out, re.M).group(1)),
        "errors": int(non_2xx.group(1)) if non_2xx else 0,
    }


def run_wrk_get(base: str, path: str, seconds: int, connections: int) -> dict[str, float]:
    """A plain GET under the same load: what the server answers when it writes nothing."""
    out = subprocess.run(
        ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", base + path],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    return _figures(out)


def run_wrk_refused(base: str, seconds: int, connections: int) -> dict[str, float]:
    """The same POST without its `proposer`: read and decoded by the framework, then refused (400) before
    the handler runs. What any POST of this body costs this server before the submission's own work."""
    body = {k: v for k, v in BODY.items() if k != "proposer"}
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "refused.lua"
        script.write_text(f'wrk.method = "POST"; wrk.body = {_lua_string(json.dumps(body))}\n'
                          'wrk.headers["Content-Type"] = "application/json"; wrk.headers["Idempotency-Key"] = "k"\n')
        out = subprocess.run(
            ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", str(script), base],
            capture_output=True, text=True, check=True,
        ).stdout  # fmt: skip
    return _figures(out)


def _figures(out: str) -> dict[str, float]:
    """Requests a second and the median and 99th percentile latencies of a `wrk --latency` run."""
    return {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
        "p50": _ms(re.search(r"^\s*50%\s+(\S+)", out, re.M).group(1)),
        "p99": _ms(re.search(r"^\s*99%\s+(\S+)", out, re.M).group(1)),
    }


def _ms(text: str) -> float:
    value, unit = re.match(r"([\d.]+)(\w+)", text).groups()
    return float(value) * {"us": 0.001, "ms": 1, "s": 1000}[unit]


def _cpu(processes: list[psutil.Process]) -> float:
    """CPU seconds used so far by `processes` (and, for a PostgreSQL postmaster, its ended backends)."""
    total = 0.0
    for process in processes:
        with contextlib.suppress(psutil.NoSuchProcess):
            times = process.cpu_times()
            total += times.user + times.system + times.children_user + times.children_system
            total += sum(_cpu([child]) for child in process.children())
    return total


async def _postmaster(url: str) -> psutil.Process:
    """The PostgreSQL server process of `url` (the checkpointer's parent; backends are its children)."""
    conn = await asyncpg.connect(url)
    try:
        pid = await conn.fetchval("SELECT pid FROM pg_stat_activity WHERE backend_type = 'checkpointer'")
    finally:
        await conn.close()
    return psutil.Process(pid).parent()


async def main(seconds: int) -> None:
    if not shutil.which("wrk"):
        sys.exit("wrk is needed: apt-get install -y wrk")
    with server_url() as url:
        async with fresh_database(url, migrated_only=True) as db:
            postgres = await _postmaster(db)
            pool = await create_pool(db, min_size=10, max_size=50)
            before = _cpu([psutil.Process()]), _cpu([postgres])
            raw = await ours(pool, 50, seconds, 1)
            raw_cpu = (_cpu([psutil.Process()]) - before[0], _cpu([postgres]) - before[1])
            await pool.close()
        async with fresh_database(url) as db:
            with running_server(db, extra_env={"MUSRENBANG_SUBMISSIONS_PER_HOUR": "100000000"}) as base:
                server = _serving(base)
                before = _cpu([server]), _cpu([postgres])
                http = await asyncio.to_thread(run_wrk, base, seconds, 50)
                http_cpu = (_cpu([server]) - before[0], _cpu([postgres]) - before[1])
                floors = {path: await asyncio.to_thread(run_wrk_get, base, path, seconds, 50) for path in FLOORS}
                refused = await asyncio.to_thread(run_wrk_refused, base + "/api/v1/proposals", seconds, 50)
    created, appended = http["rps"] * seconds, raw * seconds
    print(f"50 concurrent clients, {seconds} s each, server with 2 workers")
    print_table(
        ["what", "per second", "p50 ms", "p99 ms", "non-2xx", "app CPU ms each", "PostgreSQL CPU ms each"],
        [
            ["new proposals via POST /api/v1/proposals (201 only)", http["rps"], http["p50"], http["p99"],
             http["errors"], 1000 * http_cpu[0] / created, 1000 * http_cpu[1] / created],
            ["raw event-log appends (baseline)", raw, "", "", "", 1000 * raw_cpu[0] / appended,
             1000 * raw_cpu[1] / appended],
            *([f"GET {path} ({why})", floors[path]["rps"], floors[path]["p50"], floors[path]["p99"], "", "", ""]
              for path, why in FLOORS.items()),
            ["POST /api/v1/proposals without proposer (400 at decoding: the framework's floor for this body)",
             refused["rps"], refused["p50"], refused["p99"], "", "", ""],
        ],
    )  # fmt: skip
    for path in FLOORS:
        print(f"ratio GET {path} / raw appends: {floors[path]['rps'] / raw:.2f}")
    print(f"ratio POST refused at decoding / raw appends: {refused['rps'] / raw:.2f}")
    print(f"ratio HTTP submissions / raw appends: {http['rps'] / raw:.2f}; CPU per submission / CPU per append:"
          f" {sum(http_cpu) / created / (sum(raw_cpu) / appended):.1f}")


def _serving(base: str) -> psutil.Process:
    """The `musrenbang serve` process listening at `base` (its workers are its children)."""
    port = base.rsplit(":", 1)[1]
    for process in psutil.process_iter(["cmdline"]):
        if f"--port {port}" in " ".join(process.info["cmdline"] or ()):
            return process
    raise RuntimeError("the server process was not found")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=10)
    asyncio.run(main(parser.parse_args().seconds))
