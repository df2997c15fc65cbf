"""The stylesheet as the site serves it (http/static.py: from memory, compressed once) against Litestar's
static files router (what the site used before: a file opened, stat-ed and read on a thread, and gzipped
by the compression middleware, for every request). Same app, same server, same run.

    python -m bench.static_files [--seconds 8] [--connections 20]

One granian worker; `wrk` (Debian package `wrk`) asks with `Accept-Encoding: gzip`. No database: this
measures the serving of the file, which every page's first view (and every view after an hour) asks for.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import subprocess
import sys
import time

import httpx
from litestar import Litestar
from litestar.config.compression import CompressionConfig
from litestar.datastructures import CacheControlHeader, State
from litestar.static_files import create_static_files_router

from bench.asgi_servers import free_port
from musrenbang.http import static
from musrenbang.resources import static_dir


def app() -> Litestar:
    """Both ways in one app: `/static/…` (ours) and `/router/…` (Litestar's router, as before)."""
    router = create_static_files_router(path="/router", directories=[static_dir()],
                                        cache_control=CacheControlHeader(max_age=3600, public=True))  # fmt: skip
    return Litestar([static.StaticFiles, router], state=State({"static_files": static.load(static_dir())}),
                    compression_config=CompressionConfig(backend="gzip", minimum_size=500, gzip_compress_level=6))


def _wrk(url: str, seconds: int, connections: int) -> tuple[float, str]:
    command = ["wrk", "-t1", "-c", str(connections), f"-d{seconds}s", "--latency", "-H", "Accept-Encoding: gzip", url]
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    return rate, re.search(r"^\s*99%\s+(\S+)", out, re.M).group(1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=8)
    parser.add_argument("--connections", type=int, default=20)
    args = parser.parse_args()
    if not shutil.which("wrk"):
        sys.exit("wrk is needed: apt-get install -y wrk")
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "granian", "--interface", "asgi", "--factory", "--workers", "1",
                               "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning",
                               "bench.static_files:app"], start_new_session=True)  # fmt: skip
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(100):
            try:
                httpx.get(f"{base}/static/app.css", timeout=1).raise_for_status()
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        both = {"from memory (http/static.py)": f"{base}/static/app.css",
                "file router (before)": f"{base}/router/app.css"}  # fmt: skip
        css = (static_dir() / "app.css").read_bytes()
        for url in both.values():
            assert httpx.get(url, headers={"Accept-Encoding": "gzip"}).content == css, url
            _wrk(url, 2, args.connections)  # warm-up
        results = {name: _wrk(url, args.seconds, args.connections) for name, url in both.items()}
    finally:
        os.killpg(server.pid, signal.SIGKILL)  # the server and its worker: nothing of theirs is measured any more
        server.wait()
    baseline = results["file router (before)"][0]
    print(f"GET app.css with gzip, 1 worker, {args.connections} connections, {args.seconds} s each")
    for name, (rps, p99) in results.items():
        print(f"{name:30} {rps:>10,.0f} req/s  p99 {p99:>8}  ratio to the file router {rps / baseline:.2f}")


if __name__ == "__main__":
    main()
