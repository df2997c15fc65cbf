"""What the wrapper around the whole app (http/edge.py: HEAD as GET, a refused gzip heeded) adds to every
request, in microseconds of the process's CPU.

    python -m bench.edge [--calls 200000]

An ASGI app that answers at once, called directly (the baseline) and through `Edge`, with the headers wrk
sends; GET (passed through after a look at Accept-Encoding), HEAD (answered without the body) and POST (its
`Allow` looked at). The app's own work is nothing, so the difference is the wrapper's whole cost; compare it
with a real request's (`bench.asgi_servers`: tens of microseconds for the smallest handler).
"""

from __future__ import annotations

import argparse
import asyncio
import time

from bench._common import print_table
from musrenbang.http.edge import Edge

HEADERS = [(b"host", b"127.0.0.1"), (b"user-agent", b"wrk"), (b"accept", b"*/*"),
           (b"accept-encoding", b"gzip, deflate"), (b"connection", b"keep-alive")]  # fmt: skip


async def app(scope, receive, send):  # type: ignore[no-untyped-def]
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": b"ok"})


async def _send(message):  # type: ignore[no-untyped-def]
    return None


async def _receive():  # type: ignore[no-untyped-def]
    return {"type": "http.request", "body": b""}


async def per_call(asgi, method: str, calls: int, accept: bytes = b"gzip, deflate") -> float:  # type: ignore[no-untyped-def]
    headers = [(n, accept if n == b"accept-encoding" else v) for n, v in HEADERS]
    scope = {"type": "http", "method": method, "path": "/health", "headers": headers}
    start = time.perf_counter()
    for _ in range(calls):
        await asgi(scope, _receive, _send)
    return (time.perf_counter() - start) / calls * 1e6


async def main(calls: int) -> None:
    edge = Edge(app)
    rows = []
    for round_ in (1, 2):
        base = await per_call(app, "GET", calls)
        for label, method, accept in (("GET", "GET", b"gzip, deflate"), ("GET, gzip;q=0", "GET", b"gzip;q=0"),
                                      ("HEAD", "HEAD", b"gzip, deflate"), ("POST", "POST", b"gzip, deflate")):
            us = await per_call(edge, method, calls, accept)
            rows.append([str(round_), label, f"{base:.2f}", f"{us:.2f}", f"+{us - base:.2f}"])
    print_table(["round", "request", "app alone µs", "through Edge µs", "added µs"], rows)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=200_000)
    asyncio.run(main(parser.parse_args().calls))
