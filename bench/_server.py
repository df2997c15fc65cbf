"""A real `musrenbang serve` process for the HTTP benchmarks, on a fresh database."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator

import httpx


@contextlib.contextmanager
def running_server(database_url: str, *, workers: int = 2, extra_env: dict[str, str] | None = None) -> Iterator[str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith("MUSRENBANG_")}
    env.update({"MUSRENBANG_DATABASE_URL": database_url, **(extra_env or {})})
    process = subprocess.Popen(
        ["musrenbang", "serve", "--port", str(port), "--workers", str(workers)],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(base + "/health", timeout=2).status_code == 200:
                    break
            time.sleep(0.2)
        else:
            raise RuntimeError("the server did not come up")
        yield base
    finally:
        os.killpg(process.pid, signal.SIGINT)
        process.wait(60)
