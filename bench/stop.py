"""Stopping `musrenbang serve` many times, idle and under load: how long until every process is gone, and
how often something is left running (issue 15, part 5).

    python -m bench.stop [--rounds 40]

Each round starts `musrenbang serve --workers 2` on the same bundled data directory (PostgreSQL started
and stopped with it), waits until it is healthy, and stops it:

- idle, Ctrl-C (the baseline, in the same run);
- under load (tests/load.py: wrk posting proposals over 32 connections, 6 projector screens streaming,
  4 slow readers), alternately Ctrl-C (SIGINT to the process group, as a terminal sends it) and SIGTERM
  (to the main process only, as systemd and docker send it);
- with 2 clients that never read ~10 MB of answers, Ctrl-C: the bound (granian kills the workers after
  cli/server.py's WORKERS_KILL_TIMEOUT).

The time is from the signal until the main process, both workers and the bundled postmaster are all gone
(checked by pid). Anything still running LEFT_AFTER seconds later counts as left running, and is killed.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import signal
import socket
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import psutil

from bench._common import print_table
from musrenbang.http.app import STOPPED
from tests.load import LOAD_ENV, open_forum, server_env, under_load
from tests.server import Server, still_running

LEFT_AFTER = 60.0


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _started(data_dir: Path) -> Server:
    server = Server(_port(), data_dir=data_dir, workers=2, extra_env=LOAD_ENV)
    server.wait_healthy()
    server.wait_all_workers()
    return server


def one_stop(data_dir: Path, forum_id: str, scenario: str, how: str) -> Stop:
    server = _started(data_dir)
    processes = server.processes()
    try:
        if scenario == "idle":
            stop = _stop(server, processes, how)
        else:
            load = {"streams": 2, "slow_readers": 0, "stuck_readers": 2} if scenario == "stuck" else {}
            with under_load(server.base_url, forum_id, **load):
                time.sleep(1.0)  # the load under way
                stop = _stop(server, processes, how)
        stop.killed = server.output().count(STOPPED) < 2  # a worker that was killed never logs it
    finally:
        server.stop()
    if stop.left:
        _clean_up(data_dir, processes)
    return stop


@dataclasses.dataclass
class Stop:
    workers: float
    """Seconds from the signal until both workers were gone."""
    everything: float
    """... until every process was (the main process and the bundled postmaster too)."""
    left: list[str]
    killed: bool = False


def _stop(server: Server, processes: list[psutil.Process], how: str) -> Stop:
    workers = [p for p in processes if p.pid != server.process.pid and p.name() != "postgres"]
    started = time.monotonic()
    if how == "ctrl-c":
        os.killpg(server.process.pid, signal.SIGINT)
    else:
        server.process.send_signal(signal.SIGTERM)
    still_running(workers, LEFT_AFTER)
    workers_gone = time.monotonic() - started
    left = server.wait_stopped(processes, LEFT_AFTER)
    return Stop(workers_gone, time.monotonic() - started, left)


def _clean_up(data_dir: Path, processes: list[psutil.Process]) -> None:
    for p in processes:
        if p.is_running():
            p.kill()
    still_running(processes, 10)
    subprocess.run(["musrenbang", "db", "stop"], env=server_env(data_dir), capture_output=True, check=False)


def main(rounds: int) -> None:
    idle, stuck = max(rounds // 5, 2), max(rounds // 10, 2)
    loaded = max(rounds - idle - stuck, 2)
    plan = ([("idle", "ctrl-c")] * idle + [("load", ("ctrl-c", "sigterm")[n % 2]) for n in range(loaded)]
            + [("stuck", "ctrl-c")] * stuck)  # fmt: skip
    results: dict[tuple[str, str], list[Stop]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp) / "data"
        server = _started(data_dir)
        try:
            forum_id = open_forum(server.base_url, server_env(data_dir))
        finally:
            server.stop()
        for n, (scenario, how) in enumerate(plan, start=1):
            stop = one_stop(data_dir, forum_id, scenario, how)
            results.setdefault((scenario, how), []).append(stop)
            print(f"[{n}/{len(plan)}] {scenario:5} {how:7} workers {stop.workers:5.1f} s, all {stop.everything:5.1f} s"
                  + (f"  LEFT RUNNING: {stop.left}" if stop.left else "")
                  + ("  (a worker was killed)" if stop.killed else ""), flush=True)  # fmt: skip
    rows = []
    for (scenario, how), stops in results.items():
        workers = sorted(s.workers for s in stops)
        everything = sorted(s.everything for s in stops)
        rows.append([f"{scenario}, {how}", len(stops), statistics.median(workers), statistics.median(everything),
                     _quantile(everything, 0.9), everything[-1], sum(1 for s in stops if s.left),
                     sum(1 for s in stops if s.killed)])  # fmt: skip
    print()
    print("seconds from the signal until both workers are gone, and until every process (the main process and")
    print("the bundled postmaster too) is")
    print_table(["scenario", "stops", "workers p50", "all p50", "all p90", "all max", "left running",
                 "worker killed"], rows)  # fmt: skip
    baseline = statistics.median(s.everything for s in results[("idle", "ctrl-c")])
    under = statistics.median(s.everything for (kind, _), stops in results.items() if kind == "load" for s in stops)
    print(f"ratio p50 under load / p50 idle: {under / baseline:.2f}")


def _quantile(sorted_values: list[float], q: float) -> float:
    return sorted_values[min(len(sorted_values) - 1, round(q * (len(sorted_values) - 1)))]


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=40)
    main(parser.parse_args().rounds)
