"""`musrenbang serve` killed outright (SIGKILL, the OOM killer) leaves no worker behind (review s25): its
workers went on serving with init as their parent, held the port, so that a new `serve` was refused, and
answered 503 once the database behind them was stopped. Each worker now stops by itself once its parent is
gone (http/orphan.py). The real server, its real workers, PostgreSQL."""

from __future__ import annotations

import os
import signal
import socket

import psutil
import pytest

from tests.server import Server, still_running

pytestmark = [pytest.mark.slow]

GONE_WITHIN = 30
"""Seconds; the watch looks once a second and a worker's stop takes a few: bounded only so that a worker
that never stops fails the test instead of hanging it."""


def test_the_workers_of_a_serve_killed_outright_stop_and_free_the_port(database_url: str, free_port: int) -> None:
    server = Server(free_port, database_url=database_url, workers=2)
    try:
        server.wait_healthy()
        server.wait_all_workers()
        workers = psutil.Process(server.process.pid).children()
        assert len(workers) == 2, workers
        os.kill(server.process.pid, signal.SIGKILL)  # the main process only, as the OOM killer does
        server.process.wait()
        assert not still_running(workers, GONE_WITHIN), server.output()
        assert "main process" in server.output() and "is gone: this worker stops" in server.output()
        with socket.socket() as again:  # the port is free for the next serve
            again.bind(("127.0.0.1", free_port))
    finally:
        server.stop()
