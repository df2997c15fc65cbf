"""Granian or uvicorn? Requests per second on a simple endpoint, same app, same machine, same run.

    python -m bench.asgi_servers [--seconds 10] [--connections 64]

The app is a minimal Litestar application answering GET /ping with a small JSON body (no database:
this measures the servers, not PostgreSQL). Each server runs one worker process; load comes from `wrk`
(Debian package `wrk`) in another process. The faster one is what `musrenbang serve` uses.
"""

from __future__ import annotations

import argparse
import re
import shutil
import socket
import subprocess
import sys
import time

import httpx
from litestar import Litestar, get


@get("/ping")
async def ping() -> dict[str, str]:
    return {"status": "ok", "service": "musrenbang"}


def app() -> Litestar:
    return Litestar([ping])


SERVERS = {
    "granian": [
        sys.executable,
        "-m",
        "granian",
        "--interface",
        "asgi",
        "--factory",
        "--workers",
        "1",
        "--host",
        "127.0.0.1",
        "--port",
        "{port}",
        "--log-level",
        "warning",
        "bench.asgi_servers:app",
    ],
    "uvicorn": [
        sys.executable,
        "-m",
        "uvicorn",
        "--factory",
        "--workers",
        "1",
        "--host",
        "127.0.0.1",
        "--port",
        "{port}",
        "--log-level",
        "warning",
        "--no-access-log",
        "bench.asgi_servers:app",
    ],
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def measure(name: str, seconds: int, connections: int) -> tuple[float, str]:
    port = free_port()
    cmd = [part.format(port=port) for part in SERVERS[name]]
    server = subprocess.Popen(cmd)
    try:
        for _ in range(100):
            try:
                httpx.get(f"http://127.0.0.1:{port}/ping", timeout=1).raise_for_status()
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        subprocess.run(
            ["wrk", "-t1", "-c", str(connections), "-d2s", f"http://127.0.0.1:{port}/ping"],
            capture_output=True,
            check=True,
        )  # warm-up
        out = subprocess.run(
            [
                "wrk",
                "-t1",
                "-c",
                str(connections),
                f"-d{seconds}s",
                "--latency",
                f"http://127.0.0.1:{port}/ping",
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    finally:
        server.terminate()
        server.wait()
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p99 = re.search(r"^\s*99%\s+(\S+)", out, re.M).group(1)
    return rps, p99


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=64)
    args = parser.parse_args()
    if not shutil.which("wrk"):
        sys.exit("wrk is needed: apt-get install -y wrk")
    results = {name: measure(name, args.seconds, args.connections) for name in SERVERS}
    base = results["uvicorn"][0]
    print(f"GET /ping, 1 worker, {args.connections} connections, {args.seconds} s each")
    for name, (rps, p99) in results.items():
        print(f"{name:8} {rps:>10,.0f} req/s  p99 {p99:>8}  ratio to uvicorn {rps / base:.2f}")


if __name__ == "__main__":
    main()
