"""Starting `musrenbang serve` as a real process for end-to-end tests."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import NoReturn

import httpx
import psutil

from tests.cycles import open_test_cycle_at


class Server:
    def __init__(
        self,
        port: int,
        *,
        data_dir: Path | None = None,
        database_url: str | None = None,
        extra_env: dict[str, str] | None = None,
        workers: int = 1,
        args: tuple[str, ...] = (),
        cycle: bool = True,
    ) -> None:
        """`cycle`: open the RKPD 2022 test cycle (tests/cycles.py) in `database_url` first, as the servers
        of earlier versions did at start; a server no longer opens a cycle by itself."""
        if database_url and cycle:
            open_test_cycle_at(database_url)
        env = {k: v for k, v in os.environ.items() if not k.startswith("MUSRENBANG_")}
        if database_url:
            env["MUSRENBANG_DATABASE_URL"] = database_url
        if data_dir:
            env["MUSRENBANG_DATA_DIR"] = str(data_dir)
        env["MUSRENBANG_POLL_INTERVAL"] = "1"
        env["MUSRENBANG_SEAL_INTERVAL"] = "0"  # no seals written behind a test's back; seal tests turn it on
        env.update(extra_env or {})
        self.port = port
        self.data_dir = data_dir
        self.workers = workers
        self.base_url = f"http://127.0.0.1:{port}"
        self.log = Path(os.environ.get("TMPDIR", "/tmp")) / f"musrenbang-serve-{port}.log"
        self._log_file = self.log.open("w")
        # A session of its own, so that a crash test can kill the server with all its worker processes.
        self.process = subprocess.Popen(
            ["musrenbang", "serve", "--port", str(port), "--workers", str(workers), *args],
            env=env,
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def wait_healthy(self, timeout: float = 90) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                self._give_up(f"serve exited with {self.process.returncode}")
            try:
                r = httpx.get(f"{self.base_url}/health", timeout=2)
                if r.status_code == 200:
                    return r.json()
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        self._give_up("serve did not become healthy")

    def wait_all_workers(self, timeout: float = 90) -> None:
        """Until every worker has started serving (healthy means one has). A stop signal that reaches a
        worker still starting is lost by granian: that worker is only killed after WORKERS_KILL_TIMEOUT."""
        deadline = time.monotonic() + timeout
        while self.output().count("Started worker-") < self.workers:
            if time.monotonic() > deadline or self.process.poll() is not None:
                self._give_up("not every worker started")
            time.sleep(0.1)

    def _give_up(self, why: str) -> NoReturn:
        """Fail the test with the server's output, stopping it first: a server that never came up must not
        outlive its test (failed runs left them, and their bundled PostgreSQL, running for good)."""
        output = self.output()
        self.stop()
        raise AssertionError(f"{why}:\n{output}")

    def stop(self, sig: int = signal.SIGINT, timeout: float = 30) -> int:
        """Stop as an operator would (Ctrl-C), then make sure no worker process, and no bundled PostgreSQL
        nobody holds, outlives the test. A serve that ended by itself and left its bundled database running
        fails the test (a CI run once found one running after the suite: it went unnoticed)."""
        ended_by_itself = True
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                ended_by_itself = False
                self.process.kill()
                self.process.wait()
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self._log_file.close()
        left = self._stop_unheld_database()
        if left and ended_by_itself and sig != signal.SIGKILL:
            raise AssertionError(f"serve ended and left its bundled PostgreSQL running ({left}):\n{self.output()}")
        return self.process.returncode

    def _stop_unheld_database(self) -> str:
        """Stop the bundled postmaster of this server's data directory if it runs and no live process holds it
        (pgserver's handle list); what was stopped, or "" when nothing was."""
        if self.data_dir is None:
            return ""
        pgdata = self.data_dir / "pgdata"
        try:
            pid = int((pgdata / "postmaster.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return ""
        try:
            handles = json.loads((pgdata / ".handle_pids.json").read_text() or "[]")
        except (OSError, ValueError):
            handles = []
        if not psutil.pid_exists(pid) or any(psutil.pid_exists(h) for h in handles):
            return ""
        from musrenbang.db.bundled import BundledDatabase

        bundled = BundledDatabase(self.data_dir)
        kept = bundled.kept_running()  # left running on purpose by `db url`: stopped, but no fault of serve's
        bundled.stop_server()
        return "" if kept else f"postmaster {pid}"

    def processes(self) -> list[psutil.Process]:
        """Every process this server runs now: itself, its workers and, on a data directory, the bundled
        PostgreSQL's postmaster (as its postmaster.pid names it; its backends end with it)."""
        main = psutil.Process(self.process.pid)
        found = [main, *main.children(recursive=True)]
        if self.data_dir is not None:
            pid_file = self.data_dir / "pgdata" / "postmaster.pid"
            found.append(psutil.Process(int(pid_file.read_text().split()[0])))
        return found

    def wait_stopped(self, processes: list[psutil.Process], timeout: float) -> list[str]:
        """After a stop signal: which of `processes` (see `processes`) still run after waiting up to
        `timeout` seconds for them all, as "pid name". Waits for the main process itself through its
        Popen, so that its exit status stays in `self.process.returncode`."""
        deadline = time.monotonic() + timeout
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout)
        main = [] if self.process.poll() is not None else [f"{self.process.pid} musrenbang serve"]
        others = [p for p in processes if p.pid != self.process.pid]
        return main + still_running(others, max(0.0, deadline - time.monotonic()))

    def kill(self) -> None:
        """SIGKILL the server and every worker process: a crash, nothing cleaned up."""
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()
        self._log_file.close()

    def output(self) -> str:
        self._log_file.flush()
        return self.log.read_text(errors="replace")

    def logged(self, pattern: str, timeout: float = 30) -> str:
        """The output once `pattern` (a regular expression) is in it. The server logs through a queue
        and a thread of its own, so a line may land a moment after the answer it belongs to."""
        deadline = time.monotonic() + timeout
        while not re.search(pattern, output := self.output()):
            if time.monotonic() > deadline or self.process.poll() is not None:
                raise AssertionError(f"not logged within {timeout} s, or the server ended: {pattern!r}\n{output}")
            time.sleep(0.05)
        return output


@contextlib.contextmanager
def serving(database_url: str, **options: object) -> Iterator[Server]:
    """`musrenbang serve` on `database_url` and a free port, healthy, stopped afterwards."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = Server(port, database_url=database_url, **options)  # type: ignore[arg-type]
    try:
        server.wait_healthy()
        yield server
    finally:
        server.stop()


def still_running(processes: list[psutil.Process], timeout: float) -> list[str]:
    """Of `processes`, those still running after waiting up to `timeout` seconds for them all to end,
    each as "pid name"; empty when every one ended."""
    _, alive = psutil.wait_procs(processes, timeout=timeout)
    running = []
    for p in alive:
        with contextlib.suppress(psutil.NoSuchProcess):
            if p.status() != psutil.STATUS_ZOMBIE:
                running.append(f"{p.pid} {p.name()}")
    return running
