"""Outbox throughput (issue 13): messages per second from the outbox to an SMS gateway.

    python -m bench.outbox [--messages 2000] [--workers 1,2]

N SMS rows are inserted into the outbox of a fresh database in one transaction (as eventlog/outbox.py
would write them, without the events), and `musrenbang serve` with the gateway configured (4 senders per
process) delivers them to the test suite's gateway stub (tests/delivery/stubs.py: stdlib http.server,
dedupe by id), run in a process of its own; the clock runs from the insert's commit until the last row
is marked delivered. Baselines, same run, same stub: the same N POSTs from one client in a plain loop (one
keep-alive connection), and from 4 × workers concurrent clients (as many as the server's senders); and the
raw INSERT rate of the N rows. Checks that the stub got every id exactly once.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import time
import uuid
from multiprocessing.connection import Connection

import asyncpg
import httpx

from bench._common import fresh_database, print_table, server_url
from bench._server import running_server
from musrenbang.db.connect import connect
from tests.delivery.stubs import free_port


def _stub(port: int, pipe: Connection) -> None:
    """The gateway stub, until told to stop; answers each `stats` with (requests, distinct ids delivered)."""
    from tests.delivery.stubs import GatewayStub

    with GatewayStub(port=port) as gateway:
        pipe.send("ready")
        while (command := pipe.recv()) != "stop":
            if command == "stats":
                pipe.send((len(gateway.requests), len(gateway.delivered)))
            elif command == "reset":
                gateway.requests.clear()
                gateway.delivered.clear()


async def _raw_posts(url: str, n: int, clients: int) -> float:
    """Seconds for `n` gateway POSTs from `clients` concurrent loops, one keep-alive connection each."""

    async def loop(http: httpx.AsyncClient, count: int) -> None:
        for _ in range(count):
            i = str(uuid.uuid4())
            body = {"id": i, "channel": "sms", "to": "+6281200000000", "text": "Usulan Anda diterima. /lacak/A"}
            r = await http.post(url, json=body, headers={"Idempotency-Key": i})
            r.raise_for_status()

    https = [httpx.AsyncClient(timeout=30) for _ in range(clients)]
    started = time.perf_counter()
    await asyncio.gather(*(loop(h, n // clients) for h in https))
    elapsed = time.perf_counter() - started
    for h in https:
        await h.aclose()
    return elapsed


_INSERT = """
INSERT INTO outbox (id, dedupe, purpose, channel, address, title, body, link)
SELECT gen_random_uuid(), 'bench:' || $1 || ':' || i, 'status', 'sms', '+62812' || lpad(i::text, 8, '0'),
       'Kabar usulan', 'Usulan Anda diterima oleh kelurahan.', '/lacak/ABCD-EFGH'
FROM generate_series(1, $2) AS i
"""


async def _insert(conn: asyncpg.Connection, n: int) -> float:
    started = time.perf_counter()
    await conn.execute(_INSERT, uuid.uuid4().hex, n)
    return time.perf_counter() - started


async def _deliver(db: str, n: int) -> tuple[float, float]:
    """Insert n rows (committed at once), wake the senders; seconds until the first and the last is delivered."""
    conn = await connect(db)
    try:
        await _insert(conn, n)
        await conn.execute("NOTIFY musrenbang_events")
        started, first = time.perf_counter(), 0.0
        while (done := await conn.fetchval("SELECT count(*) FROM outbox WHERE status = 'delivered'")) < n:
            if done and not first:
                first = time.perf_counter() - started
            if time.perf_counter() - started > 600:
                raise RuntimeError(f"only {done} of {n} delivered after 10 minutes")
            await asyncio.sleep(0.02)
        return first, time.perf_counter() - started
    finally:
        await conn.close()


async def main(n: int, workers: list[int]) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}/kirim"
    ours, theirs = multiprocessing.get_context("spawn").Pipe()
    stub = multiprocessing.get_context("spawn").Process(target=_stub, args=(port, theirs), daemon=True)
    stub.start()
    assert ours.recv() == "ready"
    rows: list[list[object]] = []
    try:
        one = await _raw_posts(url, n, 1)
        rows.append(["raw POSTs, 1 client in a loop (baseline)", n / one, 1.0, "—"])
        with server_url() as server:
            async with fresh_database(server, migrated_only=True) as db:
                conn = await connect(db)
                inserted = await _insert(conn, n)
                await conn.execute("DELETE FROM outbox")
                await conn.close()
                for w in workers:
                    many = await _raw_posts(url, n, 4 * w)
                    rows.append([f"raw POSTs, {4 * w} clients at once", n / many, one / many, "—"])
                    ours.send("reset")
                    with running_server(db, workers=w, extra_env={"MUSRENBANG_SMS_GATEWAY_URL": url}):
                        first, total = await _deliver(db, n)
                    ours.send("stats")
                    requests, distinct = ours.recv()
                    exact = "yes" if requests == distinct == n else f"NO: {requests} requests, {distinct} ids"
                    rows.append([f"outbox → gateway, serve --workers {w} ({4 * w} senders)", n / total, one / total,
                                 f"{exact}; first after {first * 1000:.0f} ms"])  # fmt: skip
                    conn = await connect(db)
                    await conn.execute("DELETE FROM outbox")
                    await conn.close()
    finally:
        ours.send("stop")
        stub.join(10)
    print(f"{n} SMS messages; raw INSERT of the {n} rows: {n / inserted:,.0f} rows/s ({inserted * 1000:.0f} ms)")
    print_table(["what", "messages/s", "ratio to 1-client loop", "each id once"], rows)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--workers", default="1,2", help="server processes to try, e.g. 1,2")
    args = parser.parse_args()
    asyncio.run(main(args.messages, [int(w) for w in args.workers.split(",")]))
