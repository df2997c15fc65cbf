"""Stopping `musrenbang serve` under load ends every process it started (issue 15): Ctrl-C (SIGINT to the
whole process group, as a terminal sends it) and SIGTERM (to the main process only, as systemd and docker
send it), with proposals being posted, projector screens streaming and clients not reading.

Each stop is checked by process id: the main process, both workers and the bundled PostgreSQL must be
gone. The wait for them is bounded (STOPPED_WITHIN) only so that a hang fails with a message rather than
the suite hanging; how long stops take is measured by bench/stop.py.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from musrenbang.http.app import STOPPED
from tests.load import LOAD_ENV, ended, open_forum, server_env, under_load
from tests.server import Server

pytestmark = [
    pytest.mark.slow,
    pytest.mark.bundled,
    pytest.mark.skipif(not shutil.which("wrk") and not os.environ.get("CI"),
                       reason="wrk is not installed: apt-get install -y wrk"),  # fmt: skip
]

STOPPED_WITHIN = 40
"""Seconds. By design a stop ends within about 20 s even when a worker has to be killed (granian's
6 s kill timeout, then PostgreSQL's stop, bounded at 10 s): twice that, for a busy test machine."""


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _server(data_dir: Path) -> Server:
    server = Server(_port(), data_dir=data_dir, workers=2, extra_env=LOAD_ENV)
    server.wait_healthy()
    server.wait_all_workers()
    return server


@pytest.fixture(scope="module")
def prepared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, str]]:
    """A data directory whose log has a scheduled forum (its projector stream stays open), and its id."""
    data_dir = tmp_path_factory.mktemp("stop") / "data"
    server = _server(data_dir)
    try:
        forum_id = open_forum(server.base_url, server_env(data_dir))  # the bundled database, whatever the shell names
    finally:
        server.stop()
    yield data_dir, forum_id


def _signal(server: Server, how: str) -> None:
    if how == "ctrl-c":
        os.killpg(server.process.pid, signal.SIGINT)
    else:
        server.process.send_signal(signal.SIGTERM)


def _connections(processes: list[psutil.Process], port: int) -> int:
    """Established connections the server's processes hold on its port."""
    return sum(
        1
        for p in processes
        for c in p.net_connections(kind="tcp")
        if c.status == psutil.CONN_ESTABLISHED and c.laddr.port == port
    )


def _unsent(server_port: int, client_port: int) -> int:
    """Bytes the server's side of one local connection has queued and not yet sent (/proc/net/tcp)."""
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local, remote, queues = fields[1], fields[2], fields[4]
        if int(local.split(":")[1], 16) == server_port and int(remote.split(":")[1], 16) == client_port:
            return int(queues.split(":")[0], 16)
    return 0


def _blocked_writes(server_port: int, clients: list[socket.socket], within: float = 20.0) -> int:
    """How many of `clients` the server is stuck writing to: unsent bytes queued, the same over two looks
    half a second apart (waited for, up to `within` seconds)."""
    ports = [c.getsockname()[1] for c in clients]
    deadline = time.monotonic() + within
    while True:
        before = [_unsent(server_port, p) for p in ports]
        time.sleep(0.5)
        after = [_unsent(server_port, p) for p in ports]
        blocked = sum(1 for b, a in zip(before, after, strict=True) if a and a == b)
        if blocked == len(ports) or time.monotonic() > deadline:
            return blocked


def _connections_reaching(processes: list[psutil.Process], port: int, wanted: int, within: float = 15.0) -> int:
    """`_connections`, looked at again until there are `wanted` or `within` seconds have passed."""
    deadline = time.monotonic() + within
    while (held := _connections(processes, port)) < wanted and time.monotonic() < deadline:
        time.sleep(0.1)
    return held


@pytest.mark.parametrize("round_", [1, 2])
@pytest.mark.parametrize("how", ["ctrl-c", "sigterm"])
def test_a_stop_under_load_ends_every_worker_and_the_bundled_database(
    prepared: tuple[Path, str], how: str, round_: int
) -> None:
    data_dir, forum_id = prepared
    server = _server(data_dir)
    try:
        processes = server.processes()
        assert len(processes) == 4, [p.name() for p in processes]  # main, two workers, postmaster
        with under_load(server.base_url, forum_id, streams=6, slow_readers=4) as load:
            # The stop races the load: the streams and readers are open, and wrk's connections too (on a
            # busy machine wrk may take a moment to open them: waited for, up to a bound).
            wanted = len(load.streams) + len(load.readers) + 8
            held = _connections_reaching(processes, server.port, wanted)
            assert held >= wanted, held
            _signal(server, how)
            # The projector streams are ended by the server (their last chunk comes), not cut off.
            assert [ended(s) for s in load.streams] == [True] * len(load.streams), server.output()
            left = server.wait_stopped(processes, STOPPED_WITHIN)
        assert not left, f"still running {STOPPED_WITHIN} s after {how}: {left}\n{server.output()}"
        assert server.process.returncode == 0, server.output()
        assert server.output().count(STOPPED) == 2, server.output()  # each worker stopped by itself, not killed
        assert not (data_dir / "pgdata" / "postmaster.pid").exists()
    finally:
        server.stop()


def test_a_client_that_never_reads_holds_no_stop_for_ever(prepared: tuple[Path, str]) -> None:
    """A worker waiting to write to a client that stopped reading cannot finish by itself: granian kills
    it after its timeout, and the bundled database is stopped all the same."""
    data_dir, forum_id = prepared
    server = _server(data_dir)
    try:
        processes = server.processes()
        with under_load(server.base_url, forum_id, streams=2, slow_readers=0, stuck_readers=2) as load:
            # The race shown: a worker's write to a stuck client is blocked (its unsent bytes stand still)
            # before the stop. Signalled sooner, the answer may still fit the socket's buffer and the
            # worker end by itself.
            assert _blocked_writes(server.port, load.readers[-2:]) == 2
            os.killpg(server.process.pid, signal.SIGINT)
            left = server.wait_stopped(processes, STOPPED_WITHIN)
        assert not left, f"still running {STOPPED_WITHIN} s after ctrl-c: {left}\n{server.output()}"
        # The stuck writes held a worker, and it was killed (it never logged its clean stop).
        assert server.output().count(STOPPED) < 2, server.output()
        assert not (data_dir / "pgdata" / "postmaster.pid").exists()
    finally:
        server.stop()


def test_sigterm_while_preparing_stops_the_bundled_database(tmp_path: Path) -> None:
    """Before granian takes the signals over (migrations, `--demo`), SIGTERM used to end the process on the
    spot and leave the bundled PostgreSQL running."""
    data_dir = tmp_path / "data"
    server = Server(_port(), data_dir=data_dir, args=("--demo",), cycle=False)
    try:
        deadline = time.monotonic() + 120
        while "demo RKPD 2022" not in server.output():  # the demo is being played
            assert time.monotonic() < deadline and server.process.poll() is None, server.output()
            time.sleep(0.1)
        processes = server.processes()
        server.process.send_signal(signal.SIGTERM)
        left = server.wait_stopped(processes, STOPPED_WITHIN)
        assert not left, (f"still running {STOPPED_WITHIN} s after SIGTERM: {left}\n{server.output()}\n"
                          f"{_bundled_state(data_dir)}")  # fmt: skip
        assert "serving on" not in server.output()  # stopped while preparing, as meant
        assert "Traceback" not in server.output()
        assert not (data_dir / "pgdata" / "postmaster.pid").exists()
    finally:
        server.stop()


def _bundled_state(data_dir: Path) -> str:
    """What a failed stop leaves to explain it: the processes pgserver counts as users of the server, and the
    end of the server's log."""
    pgdata = data_dir / "pgdata"
    handles = pgdata / ".handle_pids.json"
    log = pgdata / "log"
    return (f"handles: {handles.read_text() if handles.exists() else '(none)'}\n"
            f"log: {log.read_text(errors='replace')[-1500:] if log.exists() else '(none)'}")  # fmt: skip


def test_a_killed_bundled_database_is_started_again_and_stopped_with_the_server(tmp_path: Path) -> None:
    """The postmaster killed under a running server: the site stayed down (503) until someone started it by
    hand, and once someone had, the server's stop left that one running. `db stop` meanwhile stopped it
    under the server without a word."""
    import subprocess

    import httpx

    from tests.load import server_env
    from tests.waiting import eventually

    data_dir = tmp_path / "data"
    pid_file = data_dir / "pgdata" / "postmaster.pid"
    server = Server(_port(), data_dir=data_dir)
    try:
        server.wait_healthy()
        first = int(pid_file.read_text().split()[0])
        os.kill(first, signal.SIGKILL)

        def again() -> int | None:
            pid = int(pid_file.read_text().split()[0]) if pid_file.exists() else None
            healthy = httpx.get(f"{server.base_url}/health", timeout=5).status_code == 200
            return pid if pid not in (None, first) and healthy else None

        second = _run(eventually(_async(again), "a new postmaster and /health 200", timeout=60))
        _run(eventually(_async(lambda: "started it again" in server.output()), "the restart said on stderr"))
        assert "Traceback" not in server.output(), server.output()  # the outage is told in lines, not dumps
        refused = subprocess.run(["musrenbang", "db", "stop"], env=server_env(data_dir), capture_output=True,
                                 text=True, timeout=60)  # fmt: skip
        assert refused.returncode == 3 and "in use by process" in refused.stderr, refused.stderr
        assert psutil.pid_exists(second)
        processes = [*server.processes(), psutil.Process(second)]
        server.process.send_signal(signal.SIGTERM)
        left = server.wait_stopped(processes, STOPPED_WITHIN)
        assert not left, f"still running {STOPPED_WITHIN} s after SIGTERM: {left}\n{server.output()}"
        assert not pid_file.exists()
    finally:
        server.stop()


def _async(check):  # type: ignore[no-untyped-def]
    async def checked():  # type: ignore[no-untyped-def]
        return check()

    return checked


def _run(work):  # type: ignore[no-untyped-def]
    import asyncio

    return asyncio.run(work)
