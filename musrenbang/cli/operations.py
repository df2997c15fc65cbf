"""Operating a site: status, replay, backup, restore."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

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
)
from musrenbang.cli.group import main
from musrenbang.db.connect import create_pool, redact
from musrenbang.db.errors import DatabaseError
from musrenbang.projections import Projection

if TYPE_CHECKING:  # imported where used, to keep the command line quick to start
    from musrenbang.eventlog.verify import LogReport


@main.command()
def status() -> None:
    """What /health reports: the database, each projection's state and lag (and, when one is stalled,
    the event it fails on and why), each read replica's state and lag. Exit 1 unless all is well."""
    from musrenbang.db.replicas import POLL_INTERVAL, ReadPools
    from musrenbang.http.health import OK, UNAVAILABLE, Health, site_health
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
    click.echo(f"status: {health.status}")
    if health.status != OK:
        sys.exit(EXIT_FAILED_CHECK)


@main.command()
@click.option("--projection", "name", default=None, help="Rebuild only this read model.")
def replay(name: str | None) -> None:
    """Rebuild read models from the event log, from the first event, beside the live ones: a running site
    keeps serving the old tables until the new ones are switched in, in one transaction."""
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
        for projection, count in run(_rebuild(url, projections)):
            click.echo(f"{projection.name}: {count} events applied")


async def _rebuild(url: str, projections: Sequence[Projection]) -> list[tuple[Projection, int]]:
    """Rebuild the projections side by side: the log read and decoded once, each batch applied by every
    projection on its own connection at the same time (projections/rebuild.py), under one progress bar."""
    from musrenbang.projections.runner import ProjectionRunner

    pool = await create_pool(url, min_size=1, max_size=len(projections) + 1)
    try:
        runner = ProjectionRunner(pool, projections, batch_size=5000)
        total = await pool.fetchval("SELECT count(*) FROM events")
        label = ", ".join(p.name for p in projections)
        with click.progressbar(length=total, label=label, file=sys.stderr) as bar:
            applied = await runner.replay_all(projections, bar.update)
        return list(zip(projections, applied, strict=True))
    finally:
        await pool.close()


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
    from musrenbang.db import backup as tools

    target = output_file(out)
    settings = settings_from_env(data_dir=data_dir)
    only_bundled(settings, data_dir)
    if not settings.database_url and not (settings.data_dir / "pgdata").is_dir():
        # A typo in --data-dir made, and left behind, a new empty cluster before saying there was nothing.
        raise Failure(f"{settings.data_dir} holds no bundled database: nothing to back up (is the directory right?)")
    with database(settings, create=False) as url:  # nor is a database made for a typo in the URL
        events = run(_events_in(url))  # read only: a backup changes nothing in the database it copies
        try:
            tools.dump(url, target)
        except DatabaseError as exc:
            raise Failure(str(exc)) from None
        except OSError as exc:
            raise Failure(f"cannot write {out}: {exc.strerror}") from None
    click.echo(f"wrote {out} ({target.stat().st_size:,} bytes, {events} events)")


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
    this version cannot read (the read models are then not rebuilt, and what to do is said)."""
    from musrenbang.db import backup as tools

    settings = settings_from_env(data_dir=data_dir)
    only_bundled(settings, data_dir)
    try:
        if not tools.holds_event_log(file):  # before anything is written: the restore is all or nothing
            raise Failure(f"{file} is a PostgreSQL backup, but not of a Musrenbang database (it holds no event"
                          " log): nothing was restored")  # fmt: skip
    except DatabaseError as exc:
        raise Failure(f"cannot restore {file}: {exc}") from None
    with database(settings) as url:
        tables = run(_table_count(url))
        if tables:
            raise Failure(
                f"the database at {redact(url)} is not empty ({tables} tables): restore into a new, empty"
                " database (set MUSRENBANG_DATABASE_URL or MUSRENBANG_DATA_DIR to a new one)"
            )
        try:
            tools.load(url, file)
        except DatabaseError as exc:
            raise Failure(f"cannot restore {file}: {exc}") from None
        shift = run(_migrate_restored(url))
        click.echo(f"restored {file} into {redact(url)}" + (f"; log order rebased by {shift}" if shift else ""))
        # Verified before the read models are rebuilt from it: a log that does not verify is not built on
        # (an event changed behind the program's back may not even be readable).
        report = run(_verify(url))
        if not report.intact:
            for problem in [f"chain broken: {b}" for b in report.breaks] + report.seal_problems:
                click.echo(f"BROKEN: {problem}", err=True)
            _not_rebuilt(url, f"the restored log does not verify ({report.chains.broken_streams} of"
                              f" {report.chains.streams} streams broken, {len(report.seal_problems)} problem(s) with"
                              " seals)")  # fmt: skip
        rebuilt, unreadable = run(_rebuild_restored(url))
        if unreadable is not None:
            click.echo(f"BROKEN: {unreadable}", err=True)
            _not_rebuilt(url, "an event of the restored log cannot be read by this version (written by a newer"
                              " one, or changed with its hash made again)")  # fmt: skip
        for projection, count in rebuilt:
            click.echo(f"{projection.name}: rebuilt from {count} events")
    click.echo(f"verified: {report.chains.events} events in {report.chains.streams} streams, every chain intact;"
               f" {report.seals} seal(s) checked")  # fmt: skip


async def _rebuild_restored(url: str) -> tuple[list[tuple[Projection, int]], Exception | None]:
    """Every read model rebuilt from the restored log, or the event that stopped the rebuild."""
    from musrenbang.eventlog.store import EventUnreadable
    from musrenbang.projections import all_projections
    from musrenbang.projections.runner import ProjectionFailed

    try:
        return await _rebuild(url, all_projections()), None
    except (EventUnreadable, ProjectionFailed) as exc:
        return [], exc


def _not_rebuilt(url: str, why: str) -> NoReturn:
    """Say what a restore that stopped before rebuilding leaves, and what to do; exit 1."""
    click.echo(f"{why}: the read models were not rebuilt from it. The database at {redact(url)} holds the"
               " backup as it was loaded (its log, and its read models as the backup had them): do not serve"
               " it. Look into the backup's source (`musrenbang verify` there), then restore a good backup into"
               " a new, empty database, or empty this one (a new data directory, or drop and create the"
               " database) and restore again.", err=True)  # fmt: skip
    sys.exit(EXIT_FAILED_CHECK)


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


async def _events_in(url: str) -> int:
    from musrenbang.db.connect import connect

    conn = await connect(url)
    try:
        return await conn.fetchval("SELECT count(*) FROM events")
    except asyncpg.UndefinedTableError:
        raise Failure(f"{redact(url)} holds no Musrenbang database (no event log): nothing to back up") from None
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
    from musrenbang.db.connect import connect
    from musrenbang.eventlog.verify import verify_database

    conn = await connect(url)
    try:
        return await verify_database(conn)
    finally:
        await conn.close()
