"""The `musrenbang` command: serve, migrate, replay, verify, db.

Every failure a person can fix (a wrong URL, an unreachable server, a data directory that is not
writable, a port in use) is printed as one plain message, without a traceback, and exits with 3;
`verify` exits with 1 when it finds a broken chain.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import socket
import sys
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import TypeVar

import asyncpg
import click

from musrenbang.config import ConfigError, Settings
from musrenbang.db.bundled import BundledDatabase
from musrenbang.db.connect import connect, create_pool, ensure_database, redact, with_connection
from musrenbang.db.errors import DatabaseError

T = TypeVar("T")

EXIT_FAILED_CHECK = 1
EXIT_CANNOT_RUN = 3


class Failure(click.ClickException):
    """A problem the user can fix; printed as `error: ...`."""

    exit_code = EXIT_CANNOT_RUN

    def show(self, file: object = None) -> None:
        click.echo(f"error: {self.message}", err=True)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """Musrenbang: participatory development planning on an append-only event log.

    Uses the PostgreSQL server at MUSRENBANG_DATABASE_URL when it is set; otherwise starts the bundled
    server with its data in MUSRENBANG_DATA_DIR (default: a per-user data directory).
    """


def _settings(**overrides: object) -> Settings:
    try:
        return Settings.from_env(**overrides)
    except ConfigError as exc:
        raise Failure(str(exc)) from None


@contextlib.contextmanager
def _database(settings: Settings, *, keep_running: bool = False) -> Iterator[str]:
    """The URL of the database to use: the external one, or the bundled server (started for the
    duration of the block, and stopped after it unless another process still uses it)."""
    if settings.database_url:
        yield settings.database_url
        return
    bundled = BundledDatabase(settings.data_dir)
    try:
        url = bundled.start(keep_running=keep_running)
    except DatabaseError as exc:
        raise Failure(str(exc)) from None
    _run(ensure_database(url))  # the bundled server's first run: create the application database
    try:
        yield url
    finally:
        if not keep_running:
            bundled.stop()


def _run(work: Awaitable[T]) -> T:
    try:
        return asyncio.run(work)  # type: ignore[arg-type]
    except DatabaseError as exc:
        raise Failure(str(exc)) from None
    except asyncpg.PostgresError as exc:
        raise Failure(f"the database refused: {exc}") from None


async def _prepare(url: str) -> tuple[list[str], str]:
    """Migrate, load reference data, open the first cycle; return the migrations applied and the
    server secret."""
    from musrenbang.eventlog.store import EventStore
    from musrenbang.services.bootstrap import prepare, server_secret

    pool = await create_pool(url, min_size=1, max_size=2)
    try:
        async with pool.acquire() as conn:
            applied = await prepare(conn, EventStore(pool))
            return applied, await server_secret(conn)
    finally:
        await pool.close()


@main.command()
@click.option("--host", default=None, help="Address to listen on (default 127.0.0.1).")
@click.option("--port", type=int, default=None, help="Port to listen on (default 8000).")
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Where the bundled database keeps its data (also MUSRENBANG_DATA_DIR).",
)
@click.option("--workers", type=int, default=None, help="Server processes (default 1).")
@click.option("--demo", is_flag=True, help="On a database without proposals, first play the demo RKPD 2022 cycle.")
def serve(host: str | None, port: int | None, data_dir: Path | None, workers: int | None, demo: bool) -> None:
    """Prepare the database and serve the web application until Ctrl-C."""
    settings = _settings(host=host, port=port, data_dir=data_dir, workers=workers)
    _check_port_free(settings.host, settings.port)
    with _database(settings) as url:
        applied, secret = _run(_prepare(url))
        if applied:
            click.echo(f"applied {len(applied)} migration(s): {', '.join(applied)}", err=True)
        click.echo(f"database: {redact(url)}", err=True)
        if demo:
            _demo_before_serving(settings, url, settings.secret_key or secret)
        click.echo(f"serving on http://{settings.host}:{settings.port}  (Ctrl-C to stop)", err=True)
        _serve_http(settings, url, settings.secret_key or secret)


def _serve_http(settings: Settings, url: str, secret: str) -> None:
    from granian import Granian
    from granian.constants import Interfaces

    # The worker processes build the app from the environment (see http/app.py:app_from_env).
    os.environ["MUSRENBANG_DATABASE_URL"] = url
    os.environ["MUSRENBANG_SECRET_KEY"] = secret
    os.environ["MUSRENBANG_POLL_INTERVAL"] = str(settings.poll_interval)
    Granian(
        "musrenbang.http.app:app_from_env",
        factory=True,
        interface=Interfaces.ASGI,
        address=settings.host,
        port=settings.port,
        workers=settings.workers,
        log_level=settings.log_level,  # type: ignore[arg-type]
        respawn_failed_workers=True,
    ).serve()


def _check_port_free(host: str, port: int) -> None:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror:
        raise Failure(f"cannot listen on {host!r}: no such address") from None
    family, _, _, _, address = infos[0]
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise Failure(
                    f"port {port} on {host} is already in use (is another server running?); choose --port"
                ) from None
            raise Failure(f"cannot listen on {host}:{port}: {exc.strerror}") from None


@main.command("demo")
@click.option("--seed", type=int, default=2022, show_default=True, help="Same seed, same cycle.")
@click.option("--scale", type=click.IntRange(1, 10_000), default=1, show_default=True,
              help="Multiply proposals, delegates, score sheets and ballots (for benchmarks).")  # fmt: skip
def demo_command(seed: int, scale: int) -> None:
    """Play a whole RKPD 2022 cycle of Kota Bekasi on an empty database (proposals in all 56 kelurahan,
    forums, the agencies' RKPD lines, adoption) and add demo staff accounts. Exit 3 if the log already
    holds proposals."""
    settings = _settings()
    with _database(settings) as url:
        _, secret = _run(_prepare(url))
        summary = _run(_play_demo(url, settings.secret_key or secret, seed, scale, refuse=True))
    _print_demo(summary, settings)


def _demo_before_serving(settings: Settings, url: str, secret: str) -> None:
    summary = _run(_play_demo(url, secret, 2022, 1, refuse=False))
    if summary is None:
        click.echo("the log already holds proposals: serving them, no demo played", err=True)
    else:
        _print_demo(summary, settings)


async def _play_demo(url: str, secret: str, seed: int, scale: int, *, refuse: bool):  # type: ignore[no-untyped-def]
    from musrenbang import demo
    from musrenbang.eventlog.store import EventStore

    pool = await create_pool(url, min_size=1, max_size=8)
    try:
        if await demo.has_proposals(pool):
            if refuse:
                raise Failure("the event log already holds proposals; the demo needs an empty database"
                              " (set MUSRENBANG_DATABASE_URL or --data-dir to a new one)")  # fmt: skip
            return None
        try:
            key = bytes.fromhex(secret)
        except ValueError:
            key = secret.encode()
        with click.progressbar(length=demo.STEPS, label="demo RKPD 2022", file=sys.stderr) as bar:
            return await demo.play(pool, EventStore(pool), key, seed=seed, scale=scale, on_progress=bar.update)
    finally:
        await pool.close()


def _print_demo(summary, settings: Settings) -> None:  # type: ignore[no-untyped-def]
    s = summary
    click.echo(f"demo: {s.proposals} proposals ({s.merged} merged, {s.returned} returned of which {s.revised}"
               f" revised, {s.rejected} rejected), {s.forums} forums, {s.received} at the city level"
               f" ({s.passed} passed on, {s.declined} declined), {s.lines} RKPD lines adopted;"
               f" {s.events} events")  # fmt: skip
    base = f"http://{settings.host}:{settings.port}"
    click.echo(f"open first: {base}/rkpd/2022 — then follow a line back to its residents, e.g. "
               f"{base}/telusur/usulan/{s.sample_code}")  # fmt: skip
    click.echo("demo staff accounts (sign in at /masuk):")
    for a in s.accounts:
        password = a.password or "(existed already; password unchanged)"
        click.echo(f"  {a.username:<26} {a.role:<12} {a.scope:<10} {password}")


@main.command()
def migrate() -> None:
    """Apply the database migrations that are not applied yet."""
    settings = _settings()
    with _database(settings) as url:
        applied, _ = _run(_prepare(url))
    click.echo(f"applied: {', '.join(applied)}" if applied else "database is up to date")


@main.command()
@click.option("--projection", "name", default=None, help="Rebuild only this read model.")
def replay(name: str | None) -> None:
    """Rebuild read models from the event log, from the first event."""
    from musrenbang.projections import all_projections

    projections = all_projections()
    if name is not None:
        projections = [p for p in projections if p.name == name]
        if not projections:
            known = ", ".join(p.name for p in all_projections())
            raise Failure(f"no projection named {name!r} (known: {known})")
    settings = _settings()
    with _database(settings) as url:
        _run(_replay(url, projections))


async def _replay(url: str, projections: list) -> None:  # type: ignore[type-arg]
    """Rebuild the projections side by side (each reads the log on its own connection and writes its
    own tables, so they do not wait for one another), under one progress bar."""
    from musrenbang.db.migrations import migrate
    from musrenbang.projections.runner import ProjectionRunner

    await _migrated(url, migrate)
    pool = await create_pool(url, min_size=1, max_size=len(projections) + 1)
    try:
        runner = ProjectionRunner(pool, projections, batch_size=5000)
        total = await pool.fetchval("SELECT count(*) FROM events")
        label = ", ".join(p.name for p in projections)
        with click.progressbar(length=total * len(projections), label=label, file=sys.stderr) as bar:
            applied = await asyncio.gather(*(runner.replay(p, bar.update) for p in projections))
        for projection, count in zip(projections, applied, strict=True):
            click.echo(f"{projection.name}: {count} events applied")
    finally:
        await pool.close()


@main.command()
@click.option(
    "--file",
    "file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="Check an exported log (`musrenbang export events`) instead of the database: chains, and every"
    " forum result and RKPD list recomputed from the file alone.",
)
@click.option(
    "--against", default=None, metavar="URL", help="With --file: compare with what the server at URL publishes."
)
def verify(file: Path | None, against: str | None) -> None:
    """Check every stream's hash chain; exit 1 naming the first broken stream and position.

    With --file: check an exported log offline and recompute every closed forum's result and every
    adopted RKPD list from it; exit 1 with one line per difference.
    """
    from musrenbang.eventlog.verify import verify_database

    if file is not None:
        _verify_file(file, against)
        return
    if against is not None:
        raise Failure("--against needs --file (write one with `musrenbang export events --out FILE`)")
    settings = _settings()
    with _database(settings) as url:
        report = _run(_migrated(url, lambda conn: verify_database(conn)))
    if report.intact:
        click.echo(f"intact: {report.events} events in {report.streams} streams")
        return
    click.echo(f"BROKEN: {report.first_break}", err=True)
    click.echo(f"{report.broken_streams} of {report.streams} streams broken; {report.events} events read", err=True)
    sys.exit(EXIT_FAILED_CHECK)


def _verify_file(file: Path, against: str | None) -> None:
    from musrenbang.audit.against import Unreachable, compare_with_server
    from musrenbang.audit.verify_file import BadFile, read_header, verify_file

    try:
        read_header(file)
        with click.progressbar(length=file.stat().st_size, label="verifying", file=sys.stderr) as bar:
            report = verify_file(file, bar.update)
    except BadFile as exc:
        raise Failure(str(exc)) from None
    except OSError as exc:
        raise Failure(f"cannot read {file}: {exc.strerror}") from None
    differences = list(report.differences)
    years = ", ".join(str(y) for y in report.years) or "none"
    click.echo(f"events: {report.events} in {report.streams} streams, {report.rate:,.0f} events/s")
    click.echo(f"forums recomputed: {report.forums}; RKPD years: {years} ({report.adoptions} adoption(s))")
    if against is not None:
        try:
            published = compare_with_server(against, report.recomputer)
        except Unreachable as exc:
            raise Failure(f"cannot compare with the server: {exc}") from None
        differences.extend(published)
        click.echo(
            f"compared with {against}: {report.forums} forum(s), {len(report.recomputer.adoptions)} RKPD list(s)"
        )
    for difference in differences:
        click.echo(f"difference: {difference}", err=True)
    if differences:
        click.echo(f"{len(differences)} difference(s)", err=True)
        sys.exit(EXIT_FAILED_CHECK)
    click.echo("all agree: chains intact, every result and list recomputes to what was published")


@main.group("export")
def export_group() -> None:
    """Exports of the log for auditors."""


@export_group.command("events")
@click.option(
    "--out", type=click.Path(dir_okay=False, path_type=Path), required=True, help="File to write (JSON Lines)."
)
def export_events(out: Path) -> None:
    """Write the whole event log, in global order, as JSON Lines (no personal data: proposers appear as
    salted hashes). `musrenbang verify --file` checks such a file."""
    settings = _settings()
    with _database(settings) as url:
        try:
            header = _run(_export_events(url, out))
        except OSError as exc:
            raise Failure(f"cannot write {out}: {exc.strerror}") from None
    click.echo(f"wrote {header.events} events (last global position {header.last_position}) to {out}", err=True)


async def _export_events(url: str, out: Path):  # type: ignore[no-untyped-def]
    from musrenbang.audit.export import export_events
    from musrenbang.db.migrations import migrate
    from musrenbang.services.bootstrap import server_secret

    await _migrated(url, migrate)
    conn = await connect(url)
    try:
        secret = await server_secret(conn)
        total = await conn.fetchval("SELECT count(*) FROM events")
        partial = out.with_name(out.name + ".partial")
        with partial.open("wb") as f, click.progressbar(length=total, label="exporting", file=sys.stderr) as bar:
            header = await export_events(conn, f, secret, bar.update)
        partial.replace(out)
        return header
    finally:
        await conn.close()


async def _migrated(url: str, work: Callable[[asyncpg.Connection], Awaitable[T]]) -> T:
    """Run `work` on a connection to a database whose schema is up to date."""
    from musrenbang.db.migrations import migrate

    conn = await connect(url)
    try:
        await migrate(conn)
        return await work(conn)
    finally:
        await conn.close()


@main.group()
def db() -> None:
    """The database in use."""


@db.command("url")
def db_url() -> None:
    """Print the connection URL of the database in use (starting the bundled server if needed)."""
    settings = _settings()
    with _database(settings, keep_running=True) as url:
        _run(with_connection(url, lambda conn: conn.fetchval("SELECT 1")))  # a URL that works, or why not
        click.echo(url)
    if not settings.database_url:
        click.echo("(the bundled server keeps running; `musrenbang db stop` stops it)", err=True)


@db.command("stop")
def db_stop() -> None:
    """Stop the bundled PostgreSQL server of the data directory."""
    settings = _settings()
    if settings.database_url:
        raise Failure("MUSRENBANG_DATABASE_URL is set: that server is not managed by musrenbang")
    stopped = BundledDatabase(settings.data_dir).stop_server()
    click.echo("stopped" if stopped else "the bundled server was not running")


EXIT_UNSUPPORTED = 4


@main.group("pabulib")
def pabulib_group() -> None:
    """Real participatory-budgeting elections (Pabulib .pb files) through the forum machinery."""


@pabulib_group.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--check", is_flag=True, help="Compare votes, scores and selection with the file's own columns.")
def pabulib_import(file: Path, check: bool) -> None:
    """Load FILE as a forum: schedule, open, delegates, ballots, close. Prints `forum: <id>`.

    Exit 1: --check found differences; 4: the rule or ballot kind is not supported.
    """
    from musrenbang import pabulib

    settings = _settings()
    with _database(settings) as url:
        try:
            forum_id, problems = _run(_import(url, file, check))
        except pabulib.Unsupported as exc:
            click.echo(f"unsupported: {exc}", err=True)
            sys.exit(EXIT_UNSUPPORTED)
        except pabulib.BadFile as exc:
            raise Failure(f"{file}: {exc}") from None
    click.echo(f"forum: {forum_id}")
    for problem in problems:
        click.echo(f"difference: {problem}", err=True)
    if check:
        if problems:
            click.echo(f"check: {len(problems)} difference(s) with {file.name}", err=True)
            sys.exit(EXIT_FAILED_CHECK)
        click.echo(f"check: votes, scores and selection match {file.name}")


async def _import(url: str, file: Path, check: bool) -> tuple[str, list[str]]:
    from musrenbang import pabulib
    from musrenbang.eventlog.store import EventStore
    from musrenbang.services.forums import ForumService
    from musrenbang.services.pabulib_import import import_file

    await _migrated(url, lambda conn: conn.fetchval("SELECT 1"))
    pool = await create_pool(url, min_size=1, max_size=4)
    try:
        store = EventStore(pool)
        election = pabulib.read(file)
        election.votes.close()
        total = int(election.meta.get("num_votes") or 0) * 2 or None
        with click.progressbar(length=total, label="importing", file=sys.stderr) as bar:
            forum_id = await import_file(pool, store, file, bar.update)
        if not check:
            return forum_id, []
        forums = ForumService(pool, store)
        forum, recomputed = await forums.recompute(forum_id)
        ballots, _ = await forums.ballots_and_sheets(forum_id)
        problems = pabulib.differences(election.projects, forum.schedule, ballots, forum.result)
        if recomputed != forum.result:
            problems.append("the stored result differs from the result recomputed from the forum's events")
        return forum_id, problems
    finally:
        await pool.close()


@pabulib_group.command("export")
@click.argument("forum_id")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None, help="File (default: stdout).")
def pabulib_export(forum_id: str, out: Path | None) -> None:
    """Write a closed forum as a Pabulib .pb file, so anyone can recompute it with independent tools."""
    settings = _settings()
    with _database(settings) as url:
        text = _run(_export(url, forum_id))
    if out is None:
        click.echo(text, nl=False)
    else:
        out.write_text(text, encoding="utf-8")
        click.echo(f"wrote {out}", err=True)


async def _export(url: str, forum_id: str) -> str:
    from musrenbang import pabulib
    from musrenbang.domain.errors import DomainError
    from musrenbang.eventlog.store import EventStore
    from musrenbang.services.forums import ForumService

    pool = await create_pool(url, min_size=1, max_size=2)
    try:
        forums = ForumService(pool, EventStore(pool))
        try:
            forum, _ = await forums.load(forum_id)
        except DomainError:
            raise Failure(f"no forum {forum_id!r}") from None
        if forum.result is None:
            raise Failure(f"forum {forum_id} is not closed yet")
        ballots, sheets = await forums.ballots_and_sheets(forum_id)
        costs = {i.id: i.cost for i in forum.items()}
        return pabulib.export(forum.schedule, forum.agenda, costs, ballots, sheets, forum.result)
    finally:
        await pool.close()


@main.group()
def user() -> None:
    """Staff accounts (admin, facilitator, opd, auditor)."""


@user.command("add")
@click.option("--username", required=True)
@click.option("--role", required=True, type=click.Choice(["admin", "facilitator", "opd", "auditor"]))
@click.option("--region", default=None, help="Kelurahan or kecamatan code (facilitators).")
@click.option("--opd", default=None, help="Agency code (opd accounts), e.g. DBMSDA; see musrenbang/domain/agency.py.")
def user_add(username: str, role: str, region: str | None, opd: str | None) -> None:
    """Add an account; the password is read from standard input (first line)."""
    from musrenbang.domain.errors import DomainError, ValidationFailed
    from musrenbang.services.accounts import add_user

    password = sys.stdin.readline().rstrip("\r\n")
    settings = _settings()
    with _database(settings) as url:
        try:
            _run(_migrated(url, lambda conn: add_user(conn, username, password, role, region, opd)))
        except ValidationFailed as exc:
            raise Failure("; ".join(f"{field}: {message}" for field, message in exc.errors.items())) from None
        except DomainError as exc:
            raise Failure(exc.message) from None
    click.echo(f"added {username} ({role}{' ' + region if region else ''}{' ' + opd if opd else ''})")


@user.command("list")
def user_list() -> None:
    """List accounts."""
    from musrenbang.services.accounts import list_users

    settings = _settings()
    with _database(settings) as url:
        rows = _run(_migrated(url, list_users))
    for r in rows:
        scope = r["region"] or r["opd"] or "-"
        state = "disabled" if r["disabled_at"] else "active"
        click.echo(f"{r['username']:<24} {r['role']:<12} {scope:<16} {state}")


@user.command("disable")
@click.argument("username")
def user_disable(username: str) -> None:
    """Disable an account and end all its sessions and tokens."""
    from musrenbang.services.accounts import disable_user

    settings = _settings()
    with _database(settings) as url:
        changed = _run(_migrated(url, lambda conn: disable_user(conn, username)))
    if not changed:
        raise Failure(f"no active account {username!r}")
    click.echo(f"disabled {username}")
