"""What every `musrenbang` command shares: settings, the database to use, and failures a person can fix.

Every failure a person can fix (a wrong URL, an unreachable server, a data directory that is not
writable, a port in use) is printed as one plain message, without a traceback, and exits with 3;
checking commands exit with 1 when they find a problem.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import os
import signal
import threading
from collections.abc import Awaitable, Callable, Coroutine, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import asyncpg
import click

from musrenbang.config import WHOLE_NUMBER, ConfigError, Settings
from musrenbang.db.bundled import BundledDatabase
from musrenbang.db.connect import (
    connect,
    create_pool,
    created_if_missing,
    database_missing,
    ensure_database,
    redact,
)
from musrenbang.db.errors import DatabaseError
from musrenbang.domain import bounds

if TYPE_CHECKING:
    from musrenbang.domain.city import ConfigureCity

T = TypeVar("T")

EXIT_FAILED_CHECK = 1
EXIT_CANNOT_RUN = 3
EXIT_UNSUPPORTED = 4


class Failure(click.ClickException):
    """A problem the user can fix; printed as `error: ...`."""

    exit_code = EXIT_CANNOT_RUN

    def show(self, file: object = None) -> None:
        click.echo(f"error: {self.message}", err=True)


class WholeNumber(click.IntRange):
    """A whole number written in the digits 0-9 (optionally within bounds). Python's int() also reads other
    scripts' digits ("٢٠٢٨" is 2028, "２０２８" too): what an operator typed is not what would be recorded."""

    name = "integer"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, str) and not WHOLE_NUMBER.fullmatch(value):
            self.fail(f"{value!r} is not a whole number written with the digits 0-9", param, ctx)
        return super().convert(value, param, ctx)

    def _describe_range(self) -> str:
        """click would print an unbounded range as "x<=None" in `--help`."""
        return "" if self.min is None and self.max is None else super()._describe_range()


class Day(click.DateTime):
    """A day written YYYY-MM-DD, within the years the log's dates keep to (domain/bounds.py): one far
    outside them reached the database and came back as its own error ("date value out of range")."""

    name = "day"
    FIRST, LAST = dt.date(bounds.MIN_YEAR - 1, 1, 1), dt.date(bounds.MAX_YEAR, 12, 31)

    def __init__(self) -> None:
        super().__init__(["%Y-%m-%d"])

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        day = super().convert(value, param, ctx)
        if not self.FIRST <= day.date() <= self.LAST:
            self.fail(f"{value} is not a day between {self.FIRST} and {self.LAST}", param, ctx)
        return day


def named_file(out: str) -> Path:
    """The file `--out` names, as typed: Path() drops a trailing slash, so `dir/` (a directory meant, made or
    not) was written as a file named `dir`. A directory is refused rather than given a file of a name the
    operator did not choose."""
    if not out:
        raise Failure("--out needs the name of a file to write")
    if out.endswith(("/", os.sep)) or os.path.basename(out) in (".", "..") or os.path.isdir(out):
        raise Failure(f"--out {out} names a directory: name the file to write")
    return Path(out)


def output_file(out: str) -> Path:
    """Where a command may write the file `out` names: the file a symbolic link points to (the link is
    kept), refused when it is no file name at all, a directory, an existing device, or in a directory that
    does not exist. The commands write beside it and rename: a device (`/dev/stdout`) or a pipe would be
    replaced, not written to."""
    path = named_file(out)
    target = path.resolve() if path.is_symlink() else path
    if target.exists() and not target.is_file():
        raise Failure(f"{out} exists and is not a regular file: name a file to write")
    if not target.parent.is_dir():
        raise Failure(f"cannot write {out}: the directory {target.parent} does not exist")
    return target


def only_bundled(settings: Settings, data_dir: Path | None) -> None:
    """--data-dir names the bundled database: refused when MUSRENBANG_DATABASE_URL names another, which the
    command would use instead without a word (a backup of another database, a restore into it)."""
    if data_dir is not None and settings.database_url:
        raise Failure(f"--data-dir {data_dir} names the bundled database, but MUSRENBANG_DATABASE_URL is set"
                      " (that database would be used): unset it, or leave --data-dir out")  # fmt: skip


def settings_from_env(**overrides: object) -> Settings:
    """The settings from `MUSRENBANG_*`, CLI options winning; a `--data-dir` given to the command running
    (`with_data_dir_everywhere`) names the bundled database, and is refused with MUSRENBANG_DATABASE_URL."""
    context = click.get_current_context(silent=True)
    data_dir = context.meta.get(_DATA_DIR) if context is not None else None
    if data_dir is not None and overrides.get("data_dir") is None:
        overrides = {**overrides, "data_dir": data_dir}
    try:
        settings = Settings.from_env(None, **overrides)
    except ConfigError as exc:
        raise Failure(str(exc)) from None
    if data_dir is not None:
        only_bundled(settings, data_dir)
    return settings


_DATA_DIR = "musrenbang.data_dir"
"""Where a command's `--data-dir` is kept (click's context meta) for `settings_from_env`."""


def with_data_dir_everywhere(group: click.Group) -> None:
    """Give every command under `group` that has none a `--data-dir` option, as `serve`, `backup` and
    `restore` have one: without it, `user add` after `serve --data-dir DIR` used (and made) the default
    data directory's database, without a word, and the first admin went where the server never looks."""
    for command in group.commands.values():
        if isinstance(command, click.Group):
            with_data_dir_everywhere(command)
        elif not any(p.name == "data_dir" for p in command.params):
            command.params.append(click.Option(
                ["--data-dir"], type=click.Path(file_okay=False, path_type=Path), default=None, expose_value=False,
                callback=_remember_data_dir,
                help="Use the bundled database of this data directory (also MUSRENBANG_DATA_DIR).",
            ))  # fmt: skip


def _remember_data_dir(context: click.Context, _param: click.Parameter, value: Path | None) -> None:
    if value is not None:
        context.meta[_DATA_DIR] = value


REVIVE_EVERY = 2.0
"""Seconds between looks, by a serving process, at whether the bundled server still runs."""
REVIVE_JOIN = 15.0
"""Seconds the stop waits for a start under way (pgserver's `pg_ctl start` gives up after 10)."""


@contextlib.contextmanager
def database(
    settings: Settings, *, keep_running: bool = False, revive: bool = False, create: bool = True,
    new_cluster: bool = True,
) -> Iterator[str]:
    """The URL of the database to use: the external one, or the bundled server (started for the
    duration of the block, and stopped after it unless another process still uses it, or `db url` left it
    running). With `revive` (`serve`), a bundled server that stops meanwhile (killed, crashed) is started
    again.

    With `create` (the commands that set up: migrate, serve, setup, demo, restore, user add, the planning
    commands), a database that is not there yet is made, as the README says. Without it (the commands that
    only read or check one: verify, export, status, backup, replay, user list), a data directory without a
    bundled cluster, or a URL naming a database the server does not have, is refused and nothing is made:
    a typo must not answer "intact: 0 events" about a log just created.

    Without `new_cluster` (the commands that add to a city already set up: `user add`, `cycle`, `pabulib
    import`), a data directory without a bundled cluster is refused too: `user add` run from a shell that
    lacked the server's MUSRENBANG_DATA_DIR made a new, empty database in the default directory, said
    "added", and the account could never sign in where the server looks. A URL names its database on
    purpose, and one not there yet is still made (README)."""
    if not create or not new_cluster:
        _refuse_missing(settings)
    if settings.database_url:
        if create:
            run(created_if_missing(settings.database_url))  # as the README says: a database not there yet is made
        else:
            run(_database_there(settings.database_url))
        yield settings.database_url
        return
    bundled = BundledDatabase(settings.data_dir)
    try:
        url = bundled.start(keep_running=keep_running)
    except DatabaseError as exc:
        raise Failure(str(exc)) from None
    stopping, watch = threading.Event(), None
    try:  # from here on the server is stopped however the block ends (an error, a signal while preparing)
        if create:
            run(ensure_database(url))  # the bundled server's first run: create the application database
        else:
            run(_database_there(url))
        if revive:
            watch = threading.Thread(target=_kept_alive, args=(bundled, stopping), name="bundled-db", daemon=True)
            watch.start()
        yield url
    finally:
        stopping.set()  # the watch looks no more; one start under way ends before the stop (their lock)
        if watch is not None:
            watch.join(timeout=REVIVE_JOIN)
        if not keep_running:
            bundled.stop()


def _refuse_missing(settings: Settings) -> None:
    """Refuse a data directory that holds no bundled cluster, before anything is started or made in it."""
    if settings.database_url:
        return
    try:
        if settings.data_dir.exists() and not settings.data_dir.is_dir():
            raise Failure(f"data directory {settings.data_dir} is a file, not a directory")
        there = BundledDatabase(settings.data_dir).exists()
    except PermissionError:  # a data directory of another user (a cron job run as the wrong one)
        raise Failure(f"the data directory {settings.data_dir} is not readable by this user (uid {os.getuid()}):"
                      " run the command as the user the server runs as") from None  # fmt: skip
    if not there:
        raise Failure(f"{settings.data_dir} holds no bundled database (no PostgreSQL cluster in"
                      f" {settings.data_dir / 'pgdata'}): is the data directory right (--data-dir or"
                      " MUSRENBANG_DATA_DIR, as the server was started with)? Nothing was created;"
                      " `musrenbang serve`, `setup` or `migrate` makes a new one")  # fmt: skip


async def _database_there(url: str) -> None:
    """Fail, naming it, when the server has no database of the name `url` gives (never creating it)."""
    if await database_missing(url):
        raise Failure(f"database does not exist at {redact(url)}: is the name right? Nothing was created;"
                      " `musrenbang migrate` or `serve` makes a new one")  # fmt: skip


def _kept_alive(bundled: BundledDatabase, stopping: threading.Event) -> None:
    """Start the bundled server again whenever it is found gone, until `stopping`; each time said on
    standard error, for the operator to look into why (its log is in the data directory)."""
    while not stopping.wait(REVIVE_EVERY):
        try:
            if bundled.revive() and not stopping.is_set():
                click.echo(f"the bundled PostgreSQL had stopped; started it again (its log: {bundled.pgdata / 'log'})",
                           err=True)  # fmt: skip
        except Exception as exc:  # whatever stopped the start: tried again at the next look
            click.echo(f"the bundled PostgreSQL is not running and could not be started: {exc}", err=True)


async def _stopped_by_sigterm(work: Coroutine[Any, Any, T]) -> T:
    """`work`, cancelled (then SystemExit) on SIGTERM, as asyncio.run cancels it on Ctrl-C.

    Why not let the process's SIGTERM handler raise SystemExit wherever the main thread happens to be: in a
    coroutine's `finally` (a pool closing) the exception waits behind an await, and raised between two steps
    of asyncpg's protocol it leaves a connection that is never given back, so the pool's close, and the
    process, waited for ever with the bundled PostgreSQL running (seen in the stop tests, during `--demo`).
    A cancellation arrives at an await, where every `finally` and every connection's release can run."""
    loop = asyncio.get_running_loop()
    task = asyncio.current_task()
    stopped = False

    def stop() -> None:
        nonlocal stopped
        stopped = True
        if task is not None:
            task.cancel()

    previous = signal.getsignal(signal.SIGTERM)
    try:
        loop.add_signal_handler(signal.SIGTERM, stop)
    except (ValueError, RuntimeError, NotImplementedError):
        # Only the main thread may handle signals: elsewhere SIGTERM stays with the process's own handler.
        return await work
    try:
        return await work
    except asyncio.CancelledError:
        if stopped:
            raise SystemExit(128 + signal.SIGTERM) from None
        raise
    finally:
        loop.remove_signal_handler(signal.SIGTERM)  # which sets SIG_DFL: put back what was there
        signal.signal(signal.SIGTERM, signal.SIG_DFL if previous is None else previous)


def exit_on_sigterm(signum: int, frame: object) -> None:
    """SIGTERM (systemd, docker, `kill`) ends a command as Ctrl-C does: through every `finally`, so that the
    bundled server and the tools a command runs are stopped. By default Python ends on the spot and leaves
    them running (and as a container's PID 1 the signal would be ignored)."""
    raise SystemExit(128 + signum)


@contextlib.contextmanager
def sigterm_exits() -> Iterator[None]:
    """`exit_on_sigterm` for the block, the handler before it put back after."""
    previous = signal.signal(signal.SIGTERM, exit_on_sigterm)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL if previous is None else previous)


def run(work: Coroutine[Any, Any, T]) -> T:
    from musrenbang.eventlog.store import EventUnreadable
    from musrenbang.projections.runner import ProjectionFailed
    from musrenbang.services.freshness import ReadModelBehind

    try:
        return asyncio.run(_stopped_by_sigterm(work))
    except DatabaseError as exc:
        raise Failure(str(exc)) from None
    except EventUnreadable as exc:
        # Changed in the database behind this program's back, or written by a newer version of it: named,
        # with where to look, rather than a traceback (nothing goes on past an event it cannot read).
        raise Failure(f"{exc}; `musrenbang verify` checks the whole log (an event changed outside this program"
                      " breaks its chain), or upgrade if a newer version wrote it") from None
    except ReadModelBehind as exc:
        raise Failure(f"the read models did not catch up with the log in time: {exc.message}") from None
    except ProjectionFailed as exc:
        # A replay (or a demo catching its read models up) met an event a read model cannot apply: the
        # live tables stay as they were, and the event is named so that it can be looked at.
        raise Failure(f"{exc}; the read model stays as it was before this event") from None
    except asyncpg.PostgresError as exc:
        raise Failure(f"the database refused: {exc}") from None


async def prepare(url: str, settings: ConfigureCity | None = None) -> tuple[list[str], str]:
    """Migrate, rebase the order, set the city up (Kota Bekasi's settings unless it is, or `settings`
    are given) and load its regions; return the migrations applied and the server secret."""
    from musrenbang.eventlog.store import EventStore
    from musrenbang.services import bootstrap

    pool = await create_pool(url, min_size=1, max_size=2)
    try:
        async with pool.acquire() as conn:
            applied = await bootstrap.prepare(conn, EventStore(pool), settings)
            return applied, await bootstrap.server_secret(conn)
    finally:
        await pool.close()


async def settings_in_force(url: str) -> Any:
    """The settings before this run (None on a database not set up yet, or not even migrated)."""
    from musrenbang.db.connect import with_connection
    from musrenbang.services import city as city_service

    async def read(conn: Any) -> Any:
        if not await conn.fetchval("SELECT to_regclass('events') IS NOT NULL"):
            return None
        found = await city_service.current_on(conn)
        return found if found.exists else None

    return await with_connection(url, read)


async def migrated(
    url: str, work: Callable[[asyncpg.Connection], Awaitable[T]], *, rebase: bool = False, existing: bool = False
) -> T:
    """Run `work` on a connection to a database whose schema is up to date. With `rebase`, for commands
    that append or read in the safe order, the log's order is first rebased if it came from another
    cluster (eventlog/order.py); read-only commands skip it (it locks the log against appends). With
    `existing` (the commands that only read or check), a database that holds no Musrenbang log is refused
    rather than given an empty one (`verify` would then call it intact)."""
    from musrenbang.db.migrations import migrate
    from musrenbang.eventlog import order

    conn = await connect(url)
    try:
        if existing:
            await refuse_no_log(conn, url)
        await migrate(conn)
        if rebase:
            await order.rebase(conn)
        return await work(conn)
    finally:
        await conn.close()


async def refuse_no_log(conn: asyncpg.Connection, url: str) -> None:
    """Failure when the database at `url` holds no Musrenbang log (nothing migrated into it yet); one that
    holds another application's tables is named as such, as `migrate` names it."""
    from musrenbang.db.migrations import refuse_another_applications

    await refuse_another_applications(conn)
    if not await conn.fetchval("SELECT to_regclass(format('%I.events', current_schema())) IS NOT NULL"):
        raise Failure(f"{redact(url)} holds no Musrenbang database (no event log; nothing was changed): is it the"
                      " right database? `musrenbang migrate` or `serve` prepares a new one")  # fmt: skip
