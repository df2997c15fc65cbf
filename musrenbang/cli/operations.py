"""Operating a site: status, replay, backup, restore."""

from __future__ import annotations

import asyncio
import datetime as dt
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple, NoReturn

import asyncpg
import click

from musrenbang.cli.common import (
    EXIT_FAILED_CHECK,
    Failure,
    database,
    migrated,
    only_bundled,
    output_file,
    run,
    settings_from_env,
    sigterm_exits,
)
from musrenbang.cli.group import main
from musrenbang.db import backup as backup_tools
from musrenbang.db.connect import create_pool, redact
from musrenbang.db.errors import DatabaseError
from musrenbang.projections import Projection

if TYPE_CHECKING:  # imported where used, to keep the command line quick to start
    from musrenbang.eventlog.verify import LogReport
    from musrenbang.http.health import Health, OutboxHealth


@main.command()
def status() -> None:
    """What /health reports: the database, each projection's state and lag (and, when one is stalled,
    the event it fails on and why), each read replica's state and lag, and first of all a restore that did
    not finish. Exit 1 unless all is well."""
    from musrenbang.db.replicas import POLL_INTERVAL, ReadPools
    from musrenbang.delivery.channels import configured_names
    from musrenbang.http.health import DEGRADED, OK, UNAVAILABLE, site_health
    from musrenbang.projections import all_projections
    from musrenbang.projections.runner import ProjectionRunner

    async def collect() -> Health:
        pool = await create_pool(url, min_size=1, max_size=2)
        reads = None
        try:
            if settings.replica_urls:  # a few looks, as a server process has had: lag is judged over time
                reads = await ReadPools.open(pool, url, settings.replica_urls, max_size=1)
                await asyncio.sleep(5 * POLL_INTERVAL)
            return await site_health(pool, ProjectionRunner(pool, all_projections()), reads=reads)
        finally:
            if reads is not None:
                await reads.close()
            await pool.close()

    settings = settings_from_env()
    with database(settings, create=False) as url:
        unfinished = run(unfinished_restore(url))
        if unfinished is not None:  # before all else: what the rest reports is not the whole truth then
            click.echo(f"restore: unfinished: {unfinished.describe()}")
        pending = run(_pending_migrations(url))
        if pending:  # /health would call it unreachable, naming the first table it misses
            click.echo(f"database: not migrated: {pending} migration(s) not applied (`musrenbang migrate` applies"
                       " them, and so does `serve` when it starts)")  # fmt: skip
            click.echo(f"status: {UNAVAILABLE}")
            sys.exit(EXIT_FAILED_CHECK)
        health = run(collect())
    db = health.database
    click.echo(f"database: {db.status}" + (f" (PostgreSQL {db.version})" if db.version else f": {db.error}"))
    for name, p in health.projections.items():
        click.echo(f"  {name:<10} {p.state:<12} lag {p.lag}")
        if p.error:
            click.echo(f"             failing {p.failures} time(s) on {p.event_type} at global position"
                       f" {p.position} since {p.failing_since:%Y-%m-%d %H:%M:%S %Z}: {p.error}")  # fmt: skip
    for replica in health.replicas:
        lag = "" if replica.lag_seconds is None else f" lag {replica.lag_seconds:.1f} s, {replica.lag_bytes} bytes"
        click.echo(f"replica {replica.url}: {replica.state}{lag}" + (f" ({replica.error})" if replica.error else ""))
    if health.outbox is not None:
        _echo_outbox(health.outbox, configured_names(settings))
    _echo_log(health)
    if unfinished is not None:  # health says degraded for it too (its `restore_unfinished`): said by name
        click.echo(f"status: {DEGRADED} (an unfinished restore)")
        sys.exit(EXIT_FAILED_CHECK)
    click.echo(f"status: {health.status}")
    if health.status != OK:
        sys.exit(EXIT_FAILED_CHECK)


def _echo_log(health: Health) -> None:
    """The server's newest check of the whole log (eventlog/verifications.py), and a sealer that stopped: a
    log changed behind the program's back, which `status` used to call `ok`."""
    checked = health.log
    if checked is None:
        click.echo("log: not verified yet (a server process verifies it soon after it starts)")
    elif checked.intact:
        click.echo(f"log: verified {checked.verified_at:%Y-%m-%d %H:%M:%S %Z}, {checked.events} events, intact")
    else:
        click.echo(f"log: BROKEN (verified {checked.verified_at:%Y-%m-%d %H:%M:%S %Z}, {checked.events} events,"
                   f" {checked.problems} problem(s)): {checked.problem}")  # fmt: skip
    if health.seal is not None and health.seal.failing:
        click.echo(f"seal: failing: {health.seal.failing}")


def _echo_outbox(outbox: OutboxHealth, configured: set[str]) -> None:
    """The messages to residents still to leave, and why they may wait for good: no channel configured
    in this environment (the server's may differ; `/petugas/pesan` shows each message). Not a reason for
    `status` to fail, as it is not for /health: the site works."""
    age = outbox.oldest_pending_seconds
    oldest = "" if age is None else f", the oldest {age / 60:.0f} min"
    click.echo(f"outbox: {outbox.pending} waiting{oldest}; {outbox.failed} refused for good")
    if outbox.pending and not configured:
        click.echo("  no channel is configured here (MUSRENBANG_SMTP_URL, MUSRENBANG_SMS_GATEWAY_URL): messages"
                   " wait until a server with one runs")  # fmt: skip


@main.command()
@click.option("--projection", "name", default=None, help="Rebuild only this read model.")
@click.option("--no-verify", is_flag=True,
              help="Rebuild without verifying the log first, from the log as it is even if it does not verify.")
def replay(name: str | None, no_verify: bool) -> None:
    """Verify the log (every hash chain and seal, as `verify` does), then rebuild read models from it, from
    the first event, beside the live ones: a running site keeps serving the old tables until the new ones
    are switched in, in one transaction. A log that does not verify is not built on (exit 1, nothing
    rebuilt, the live read models unchanged) unless --no-verify. A rebuild that fails switches nothing and
    drops its copies. On a database holding a restore that did not finish (`status` says so), it finishes
    that restore: the log verified if that was not done, every read model rebuilt."""
    from musrenbang.projections import all_projections

    projections = all_projections()
    if name is not None:
        projections = [p for p in projections if p.name == name]
        if not projections:
            known = ", ".join(p.name for p in all_projections())
            raise Failure(f"no projection named {name!r} (known: {known})")
    settings = settings_from_env()
    with database(settings, create=False) as url:
        run(migrated(url, lambda conn: conn.fetchval("SELECT 1"), rebase=True, existing=True))
        unfinished = run(unfinished_restore(url))
        if unfinished is not None:
            if name is not None:
                raise Failure(f"{unfinished.describe()}; --projection rebuilds one read model only: run"
                              " `musrenbang replay` without it")  # fmt: skip
            click.echo(f"finishing the restore of {unfinished.backup}", err=True)
            _finish_restore(url, unfinished, replaying=True)
            return
        if not no_verify:
            _verified_before_replay(url)
        for projection, count in run(_replayed(url, projections)):
            click.echo(f"{projection.name}: {count} events applied")


def _verified_before_replay(url: str) -> None:
    """Verify the log a replay is about to rebuild from; exit 1 if it does not verify. Why a replay checks
    first: read models rebuilt from an event changed behind the program's back would publish the change
    as if it had been recorded (the live workers applied the event as it was written), and the operator
    replaying is the one to hear of it. A million events cost up to about half a minute more
    (30,000-121,000 events/s in bench/README.md)."""
    report = run(_verify(url))
    if not report.intact:
        _say_broken(report)
        click.echo(f"the log does not verify ({report.chains.broken_streams} of {report.chains.streams} streams"
                   f" broken, {len(report.seal_problems)} problem(s) with seals): nothing was rebuilt, the live"
                   " read models are unchanged. `musrenbang verify` names the same breaks; restore a good backup"
                   " (`musrenbang restore`), or rebuild from the log as it is with `musrenbang replay"
                   " --no-verify`", err=True)  # fmt: skip
        sys.exit(EXIT_FAILED_CHECK)
    click.echo(f"verified: {report.chains.events} events in {report.chains.streams} streams, every chain intact;"
               f" {report.seals} seal(s) checked", err=True)  # fmt: skip


def _say_broken(report: LogReport) -> None:
    for problem in [f"chain broken: {b}" for b in report.breaks] + report.seal_problems:
        click.echo(f"BROKEN: {problem}", err=True)


async def _replayed(url: str, projections: Sequence[Projection]) -> list[tuple[Projection, int]]:
    """`_rebuild`, with what a failed rebuild means for the live read models said as it is."""
    from musrenbang.projections.runner import ProjectionFailed

    try:
        return await _rebuild(url, projections)
    except ProjectionFailed as exc:
        raise Failure(f"{exc}; nothing was switched: the live read model is unchanged (its rebuilt copy was"
                      " dropped)") from None  # fmt: skip


async def _rebuild(url: str, projections: Sequence[Projection]) -> list[tuple[Projection, int]]:
    """Rebuild the projections side by side: the log read and decoded once, each batch applied by every
    projection on its own connection at the same time (projections/rebuild.py), under one progress bar.
    A rebuild that fails or is stopped (Ctrl-C, SIGTERM) leaves no copies behind (`rebuild_<name>`
    schemas, which would go into every backup until the next replay dropped them)."""
    from musrenbang.projections.runner import ProjectionRunner

    pool = await create_pool(url, min_size=1, max_size=len(projections) + 1)
    try:
        runner = ProjectionRunner(pool, projections, batch_size=5000)
        total = await pool.fetchval("SELECT count(*) FROM events")
        label = "rebuilding " + ", ".join(p.name for p in projections)
        try:
            with click.progressbar(length=total, label=label, file=sys.stderr) as bar:
                applied = await runner.replay_all(projections, bar.update)
        except BaseException:
            await _drop_copies(pool, projections)
            raise
        return list(zip(projections, applied, strict=True))
    finally:
        await pool.close()


DROP_COPIES_WITHIN = 10.0
"""Seconds a failed rebuild waits to drop its copies (for the connections it ended to let go of them)."""


async def _drop_copies(pool: asyncpg.Pool, projections: Sequence[Projection]) -> None:
    """Drop the copies (`rebuild_<name>`) a failed rebuild of `projections` left, each under its rebuild's
    lock, so that a rebuild another process started since keeps its own. Best effort: what cannot be
    dropped now, the next replay drops (and backups leave out)."""
    from musrenbang.projections.rebuild import _REBUILD_LOCK

    try:
        async with asyncio.timeout(DROP_COPIES_WITHIN), pool.acquire() as conn:
            for projection in projections:
                shadow = f"rebuild_{projection.name}"
                if not await conn.fetchval("SELECT true FROM pg_namespace WHERE nspname = $1", shadow):
                    continue
                try:
                    async with conn.transaction():
                        await conn.execute("SET LOCAL lock_timeout = '5s'")
                        await conn.execute("SELECT pg_advisory_xact_lock($1, hashtext($2))", _REBUILD_LOCK,
                                           projection.name)  # fmt: skip
                        await conn.execute(f'DROP SCHEMA IF EXISTS "{shadow}" CASCADE')
                except asyncpg.LockNotAvailableError:
                    continue  # another rebuild of it holds the lock now: the copies are that rebuild's
    except Exception as exc:  # noqa: BLE001 - the rebuild's own error is the one to report
        click.echo(f"note: the copies of the failed rebuild were not all dropped ({exc}); the next replay drops"
                   " them", err=True)  # fmt: skip


@main.command()
@click.option("--out", type=click.Path(readable=False), metavar="FILE", required=True, help="File to write.")
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Back up the bundled database of this data directory (also MUSRENBANG_DATA_DIR).",
)
def backup(out: str, data_dir: Path | None) -> None:
    """Write the whole database (log, personal data, photos, accounts, read models) to FILE, in
    PostgreSQL's custom format. `musrenbang restore FILE` brings it back, on this or any other server."""
    target = output_file(out)
    settings = settings_from_env(data_dir=data_dir)
    only_bundled(settings, data_dir)
    if not settings.database_url and not (settings.data_dir / "pgdata").is_dir():
        # A typo in --data-dir made, and left behind, a new empty cluster before saying there was nothing.
        raise Failure(f"{settings.data_dir} holds no bundled database: nothing to back up (is the directory right?)")
    with database(settings, create=False) as url:  # nor is a database made for a typo in the URL
        events = run(_dump_counted(url, target, out))  # read only: a backup changes nothing in what it copies
    click.echo(f"wrote {out} ({target.stat().st_size:,} bytes, {events} events)")


async def _dump_counted(url: str, target: Path, out: str) -> int:
    """Dump the database into `target` and return how many events the file holds: counted in the very
    snapshot pg_dump copies, exported by a transaction held open until pg_dump is done (a count taken
    before pg_dump started missed the events appended in between). The copies of a rebuild under way or
    left by one that died (`rebuild_<name>`) are left out: a restore rebuilds every read model anyway."""
    from musrenbang.db import backup as tools
    from musrenbang.db.connect import connect
    from musrenbang.projections import all_projections

    conn = await connect(url, application_name="musrenbang backup")
    try:
        # Idle while pg_dump runs, for as long as it takes: not ended by the server's idle timeout.
        await conn.execute("SET idle_in_transaction_session_timeout = 0")
        async with conn.transaction(isolation="repeatable_read", readonly=True):
            snapshot = await conn.fetchval("SELECT pg_export_snapshot()")
            try:
                events: int = await conn.fetchval("SELECT count(*) FROM events")
            except asyncpg.UndefinedTableError:
                raise Failure(f"{redact(url)} holds no Musrenbang database (no event log): nothing to back"
                              " up") from None  # fmt: skip
            try:
                await tools.dump_async(url, target, snapshot=snapshot,
                                       exclude_schemas=[f"rebuild_{p.name}" for p in all_projections()])  # fmt: skip
            except OSError as exc:
                raise Failure(f"cannot write {out}: {exc.strerror}") from None
        return events
    finally:
        await conn.close()


@main.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Restore into the bundled database of this (new) data directory (also MUSRENBANG_DATA_DIR).",
)
def restore(file: Path, data_dir: Path | None) -> None:
    """Restore a backup into an empty database (the bundled one of a new data directory, or
    MUSRENBANG_DATABASE_URL), then rebase the log's order for this server, verify every hash chain and seal,
    and rebuild every read model from the log. Exit 1 if the restored log does not verify, or holds an event
    this version cannot read (the read models are then not rebuilt, and what to do is said).

    The load is all or nothing (db/backup.py): stopped in any way before its commit, it leaves the database
    empty. From the commit on, until every read model is rebuilt, the database holds a mark of the restore
    under way (RESTORE_MARK), and the backup's read models are emptied in the load's own transaction: a
    restore stopped after the load (killed, a trigger the rebuild cannot carry over) leaves a database that
    `status` calls an unfinished restore (exit 1), that `serve` builds read models for from the log rather
    than serve the backup's, and that `replay` finishes (verifies the log, rebuilds every read model and
    removes the mark)."""
    from musrenbang.db import backup as tools

    settings = settings_from_env(data_dir=data_dir)
    only_bundled(settings, data_dir)
    try:
        if not tools.holds_event_log(file):  # before anything is written: the restore is all or nothing
            raise Failure(f"{file} is a PostgreSQL backup, but not of a Musrenbang database (it holds no event"
                          " log): nothing was restored")  # fmt: skip
        _refuse_newer(file, tools.migrations_in(file))
    except DatabaseError as exc:
        raise Failure(f"cannot restore {file}: {exc}") from None
    # SIGTERM ends the restore as Ctrl-C does, through every `finally`: the tools it runs are ended and the
    # bundled server stopped (by default the process ended on the spot and left the server running).
    with sigterm_exits(), database(settings) as url:
        tables = run(_table_count(url))
        if tables:
            unfinished = run(unfinished_restore(url))
            raise Failure(
                f"the database at {redact(url)} is not empty ({tables} tables): restore into a new, empty"
                " database (set MUSRENBANG_DATABASE_URL or MUSRENBANG_DATA_DIR to a new one)"
                + (f". It holds a restore that did not finish: {unfinished.describe()}" if unfinished else "")
            )
        committing: list[bool] = []
        try:
            tools.load(url, file, then=_unfinished_mark(file), committing=lambda: committing.append(True))
        except DatabaseError as exc:
            raise Failure(f"cannot restore {file}: {exc}") from None
        except BaseException as exc:
            if _interrupted(exc):
                _say_interrupted(url, committing=bool(committing))
            raise
        try:
            shift = run(_migrate_restored(url))
            click.echo(f"restored {file} into {redact(url)}" + (f"; log order rebased by {shift}" if shift else ""))
            _finish_restore(url, _Unfinished(str(file), dt.datetime.now(dt.UTC), verified=False), replaying=False)
        except Failure as exc:
            if "restore is unfinished" in exc.message:
                raise
            raise Failure(f"{exc.message}. {_UNFINISHED}") from None
        except BaseException as exc:
            if _interrupted(exc):
                _say_interrupted(url)
            raise


def _refuse_newer(file: Path, applied: list[str]) -> None:
    """Refuse, before anything is loaded, a backup of a database a newer version migrated: loaded, it was
    found unusable only afterwards (`migrate` refuses migrations it does not know), leaving a half restored
    database whose advice (`replay`) could not work."""
    from musrenbang.db.migrations import load_migrations

    known = {m.name for m in load_migrations()}
    unknown = sorted(set(applied) - known)
    if unknown:
        shown = ", ".join(unknown[:3]) + (f" and {len(unknown) - 3} more" if len(unknown) > 3 else "")
        raise Failure(f"{file} is a backup of a database a newer version of Musrenbang migrated (migrations this"
                      f" program does not know: {shown}): upgrade this program, then restore; nothing was"
                      " restored")  # fmt: skip


RESTORE_MARK = backup_tools.RESTORE_MARK

_UNFINISHED = ("The restore is unfinished (`musrenbang status` says so): do not serve this database yet;"
               " `musrenbang replay` finishes it")  # fmt: skip


class _Unfinished(NamedTuple):
    backup: str
    begun: dt.datetime
    verified: bool
    refused: str | None = None
    """Why the restore stopped for good (the log did not verify, or holds an event this version cannot
    read): such a database is not served, and `replay` cannot finish it."""

    def describe(self) -> str:
        if self.refused:
            return (f"the restore of {self.backup} (begun {self.begun:%Y-%m-%d %H:%M:%S %Z}) was refused: "
                    f"{self.refused}; its read models were not rebuilt. Do not serve this database (`serve`"
                    " refuses it): look into the backup's source (`musrenbang verify` there), then restore a good"
                    " backup into a new, empty database")  # fmt: skip
        if self.verified:
            done, rest = "its log was loaded and verified, but", "it rebuilds every read model"
        else:
            done = "its log was loaded but not verified, and"
            rest = "it verifies the log, then rebuilds every read model"
        return (f"the restore of {self.backup} (begun {self.begun:%Y-%m-%d %H:%M:%S %Z}) stopped before it was"
                f" finished: {done} its read models were emptied, not rebuilt (a `serve` builds them from the log"
                f" as it starts); `musrenbang replay` finishes it: {rest}")  # fmt: skip


def _unfinished_mark(file: Path) -> str:
    """SQL run in the load's transaction, after the backup's script: the mark of a restore under way, and
    the backup's read models emptied (their checkpoints back at the start), so that whatever stops the
    restore after the commit leaves read models that say they hold nothing yet, not the backup's, which the
    restore never trusted (it rebuilds them from the log). The backup's own SQL set the search_path to
    nothing: reset, the names are found where the program's connections find them. A backup of a database
    that held an unfinished restore brings that one's mark along: replaced by this restore's."""
    from musrenbang.projections import all_projections

    tables = ", ".join(_literal(t) for p in all_projections() for t in p.tables)
    names = ", ".join(_literal(p.name) for p in all_projections())
    return f"""
RESET search_path;
DROP TABLE IF EXISTS {RESTORE_MARK};
CREATE TABLE {RESTORE_MARK} (backup text NOT NULL, begun timestamptz NOT NULL DEFAULT now(),
                             verified boolean NOT NULL DEFAULT false, refused text);
INSERT INTO {RESTORE_MARK} (backup) VALUES ({_literal(str(file.resolve()))});
DO $restore$
DECLARE
    found text;
BEGIN
    SELECT string_agg(format('%I', t), ', ') INTO found FROM unnest(ARRAY[{tables}]::text[]) AS t
     WHERE to_regclass(format('%I', t)) IS NOT NULL;
    IF found IS NOT NULL THEN
        EXECUTE 'TRUNCATE ' || found;
    END IF;
    IF to_regclass('projection_checkpoints') IS NOT NULL THEN
        DELETE FROM projection_checkpoints;
        -- A generation drawn at random, as a rebuild's switch draws it (projections/rebuild.py): read models
        -- a `serve` builds here must not take the keys of pages cached from before the restore.
        IF EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = 'projection_checkpoints'::regclass
                   AND attname = 'generation' AND NOT attisdropped) THEN
            INSERT INTO projection_checkpoints (name, generation)
            SELECT n, 1 + floor(random() * 2147483646)::integer FROM unnest(ARRAY[{names}]::text[]) AS n;
        END IF;
    END IF;
END
$restore$;
"""


def _literal(text: str) -> str:
    """A SQL string literal (the backup's script turns standard_conforming_strings on)."""
    return "'" + text.encode(errors="replace").decode().replace("'", "''") + "'"


def _finish_restore(url: str, unfinished: _Unfinished, *, replaying: bool) -> None:
    """What a restore does after the load (and what `replay` does for one that stopped after it): verify the
    log unless that was done, rebuild every read model from it, then remove the mark."""
    from musrenbang.projections.rebuild import RebuildNotSwitched

    report = None
    if not unfinished.verified:
        # Verified before the read models are rebuilt from it: a log that does not verify is not built on
        # (an event changed behind the program's back may not even be readable).
        report = run(_verify(url))
        if not report.intact:
            _say_broken(report)
            _not_rebuilt(url, f"the restored log does not verify ({report.chains.broken_streams} of"
                              f" {report.chains.streams} streams broken, {len(report.seal_problems)} problem(s) with"
                              " seals)")  # fmt: skip
        run(_mark(url, f"UPDATE {RESTORE_MARK} SET verified = true"))
    rebuilt, stopped = run(_rebuild_restored(url))
    if isinstance(stopped, RebuildNotSwitched):
        # Replay's words, but here the live read models are the emptied ones, not a site's.
        why = str(stopped).replace("the live read model is unchanged", "the read models stay empty")
        raise Failure(f"the backup's log is loaded and verified, but its read models could not be rebuilt: {why}."
                      f" {_UNFINISHED} (once that is dealt with: it rebuilds every read model)")  # fmt: skip
    if stopped is not None:
        click.echo(f"BROKEN: {stopped}", err=True)
        _not_rebuilt(url, "an event of the restored log cannot be read by this version (written by a newer"
                          " one, or changed with its hash made again)")  # fmt: skip
    for projection, count in rebuilt:
        click.echo(f"{projection.name}: rebuilt from {count} events")
    run(_mark(url, f"DROP TABLE IF EXISTS {RESTORE_MARK}"))
    if report is not None:
        click.echo(f"verified: {report.chains.events} events in {report.chains.streams} streams, every chain"
                   f" intact; {report.seals} seal(s) checked")  # fmt: skip
    if replaying:
        click.echo(f"the restore of {unfinished.backup} is finished")


async def _rebuild_restored(url: str) -> tuple[list[tuple[Projection, int]], Exception | None]:
    """Every read model rebuilt from the restored log, or what stopped the rebuild: the event it could not
    read or apply, or the reason the rebuilt tables were not switched in."""
    from musrenbang.eventlog.store import EventUnreadable
    from musrenbang.projections import all_projections
    from musrenbang.projections.rebuild import RebuildNotSwitched
    from musrenbang.projections.runner import ProjectionFailed

    try:
        return await _rebuild(url, all_projections()), None
    except (EventUnreadable, ProjectionFailed, RebuildNotSwitched) as exc:
        return [], exc


def _not_rebuilt(url: str, why: str) -> NoReturn:
    """Say what a restore that stopped before rebuilding leaves, and what to do; exit 1. The mark keeps the
    reason (`_Unfinished.refused`): `status` says it, and `serve` refuses the database."""
    run(_mark(url, f"ALTER TABLE {RESTORE_MARK} ADD COLUMN IF NOT EXISTS refused text;"
                   f" UPDATE {RESTORE_MARK} SET refused = {_literal(why)}"))  # fmt: skip
    click.echo(f"{why}: the read models were not rebuilt from it. The database at {redact(url)} holds the"
               " backup's log as it was loaded, with its read models emptied, and the restore is unfinished"
               " (`musrenbang status` says so): do not serve it. Look into the backup's source (`musrenbang"
               " verify` there), then restore a good backup into a new, empty database, or empty this one (a new"
               " data directory, or drop and create the database) and restore again.", err=True)  # fmt: skip
    sys.exit(EXIT_FAILED_CHECK)


def _interrupted(exc: BaseException) -> bool:
    """Whether `exc` is Ctrl-C or SIGTERM ending the command (not a `sys.exit` of its own)."""
    return isinstance(exc, KeyboardInterrupt) or (
        isinstance(exc, SystemExit) and exc.code in (128 + signal.SIGINT, 128 + signal.SIGTERM)
    )


def _say_interrupted(url: str, *, committing: bool = True) -> None:
    """What a stopped restore left, as far as the database tells within a few seconds. `committing`: the
    load's COMMIT may have been sent, so that the server may still be committing it (writing out a large
    load takes a while): an empty database then says nothing sure."""
    try:
        state = run(_restore_state(url))
    except BaseException:  # noqa: BLE001 - stopping as asked comes first
        state = None
    if state is None or (state is False and committing):
        click.echo("error: the restore was stopped; `musrenbang status` tells what it left", err=True)
    elif isinstance(state, _Unfinished):
        click.echo(f"error: the restore was stopped: {state.describe()}", err=True)
    else:
        click.echo("error: the restore was stopped while loading the backup: nothing was restored, the database"
                   " is empty", err=True)  # fmt: skip


async def _restore_state(url: str) -> _Unfinished | bool:
    """The mark of an unfinished restore, or False when the database holds no table."""
    async with asyncio.timeout(5):
        unfinished = await unfinished_restore(url)
        if unfinished is not None:
            return unfinished
        if await _table_count(url):
            raise RuntimeError("tables without a mark")  # loaded and finished meanwhile? say nothing sure
        return False


async def unfinished_restore(url: str) -> _Unfinished | None:
    """The mark a restore that did not finish left (RESTORE_MARK), read only."""
    from musrenbang.db.connect import connect

    conn = await connect(url)
    try:
        if not await conn.fetchval(f"SELECT to_regclass(format('%I.{RESTORE_MARK}', current_schema())) IS NOT NULL"):
            return None
        # `refused` read through to_jsonb: a mark an earlier version made has no such column.
        row = await conn.fetchrow(f"SELECT backup, begun, verified, to_jsonb(m) ->> 'refused' AS refused"
                                  f" FROM {RESTORE_MARK} m LIMIT 1")  # fmt: skip
        return None if row is None else _Unfinished(row["backup"], row["begun"], row["verified"], row["refused"])
    finally:
        await conn.close()


async def _mark(url: str, statement: str) -> None:
    from musrenbang.db.connect import connect

    conn = await connect(url)
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


async def _pending_migrations(url: str) -> int:
    """How many of this program's migrations the database has not applied (read only: `status` changes
    nothing). What `migrate` refuses (another application's database, one migrated by a newer version, an
    applied migration edited since) is refused here too, in the same words."""
    from musrenbang.db.connect import connect
    from musrenbang.db.migrations import pending_migrations

    conn = await connect(url)
    try:
        return len(await pending_migrations(conn))
    finally:
        await conn.close()


async def _table_count(url: str) -> int:
    from musrenbang.db.connect import connect

    conn = await connect(url)
    try:
        return await conn.fetchval("SELECT count(*) FROM pg_tables WHERE schemaname = current_schema()")
    finally:
        await conn.close()


async def _migrate_restored(url: str) -> int:
    """Bring a backup made by an older version up to date, and rebase its order for this server (see
    eventlog/order.py); returns how far the order moved."""
    from musrenbang.db.connect import connect
    from musrenbang.db.migrations import migrate
    from musrenbang.eventlog import order

    conn = await connect(url)
    try:
        await migrate(conn)
        return await order.rebase(conn)
    finally:
        await conn.close()


async def _verify(url: str) -> LogReport:
    """`verify_database`, under a progress bar (a million events take tens of seconds)."""
    from musrenbang.db.connect import connect
    from musrenbang.eventlog.verify import verify_database

    conn = await connect(url)
    try:
        total = await conn.fetchval("SELECT count(*) FROM events")
        with click.progressbar(length=total, label="verifying the log", file=sys.stderr) as bar:
            shown = 0

            def progress(done: int) -> None:  # verify_database tells how many so far, the bar wants steps
                nonlocal shown
                bar.update(done - shown)
                shown = done

            return await verify_database(conn, progress)
    finally:
        await conn.close()
