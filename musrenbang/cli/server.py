"""Serving the site, and the database it uses: serve, demo, migrate, db url, db stop."""

from __future__ import annotations

import errno
import os
import signal
import socket
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import asyncpg
import click

from musrenbang.cli.common import (
    Failure,
    WholeNumber,
    database,
    exit_on_sigterm,
    only_bundled,
    prepare,
    run,
    settings_from_env,
    settings_in_force,
)
from musrenbang.cli.group import main
from musrenbang.config import MAX_WORKERS, Settings, secret_bytes
from musrenbang.db.bundled import BundledDatabase
from musrenbang.db.connect import create_pool, redact, with_connection

if TYPE_CHECKING:  # imported where used, to keep the command line quick to start
    from musrenbang.demo import Summary


@main.command()
@click.option("--host", default=None, help="Address to listen on (default 127.0.0.1).")
@click.option("--port", type=WholeNumber(), default=None, help="Port to listen on (default 8000).")
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Where the bundled database keeps its data (also MUSRENBANG_DATA_DIR).",
)
@click.option("--workers", type=WholeNumber(1, MAX_WORKERS), default=None, help="Server processes (default 1).")
@click.option("--demo", is_flag=True, help="On a database without proposals, first play the demo RKPD 2022 cycle.")
def serve(host: str | None, port: int | None, data_dir: Path | None, workers: int | None, demo: bool) -> None:
    """Prepare the database and serve the web application until Ctrl-C."""
    settings = settings_from_env(host=host, port=port, data_dir=data_dir, workers=workers)
    only_bundled(settings, data_dir)
    held = _hold_port(settings.host, settings.port)
    # Until granian takes the signals over, SIGTERM (systemd, docker) ends the preparation like Ctrl-C does,
    # through the `database` block, which stops the bundled server; by default it would end the process
    # on the spot and leave the database running (and as a container's PID 1 it would be ignored).
    signal.signal(signal.SIGTERM, exit_on_sigterm)
    with held, database(settings, revive=True) as url:
        _refuse_a_refused_restore(url)
        first = run(settings_in_force(url)) is None
        applied, secret = run(prepare(url))
        if applied:
            click.echo(f"applied {len(applied)} migration(s): {', '.join(applied)}", err=True)
        click.echo(f"database: {redact(url)}", err=True)
        if first and not demo:
            _say_first_start()
        _warn_without_public_url(settings)
        if demo:
            _demo_before_serving(settings, url, settings.secret_key or secret)
        click.echo(f"serving on http://{settings.host}:{settings.port}  (Ctrl-C to stop)", err=True)
        held.close()  # granian binds the port next
        _serve_http(settings, url, settings.secret_key or secret)


def _refuse_a_refused_restore(url: str) -> None:
    """A database whose restore was refused (its log did not verify, or holds an event this version cannot
    read) is not served: it started and served the broken log's pages, only /health saying `degraded`. An
    unfinished restore that was not refused is served: its read models are built from the log."""
    from musrenbang.cli.operations import unfinished_restore

    unfinished = run(unfinished_restore(url))
    if unfinished is not None and unfinished.refused:
        raise Failure(f"not serving the database at {redact(url)}: {unfinished.describe()}")


def _say_first_start() -> None:
    """What a new database was set up as, and what comes next: the region of a database never changes, and
    a city other than Kota Bekasi learnt it only when `setup --region` was refused afterwards."""
    from musrenbang import reference

    click.echo(f"note: a new database, set up for Kota Bekasi ({reference.DEFAULT_REGION}), the default; for another"
               " kabupaten or kota, stop and run `musrenbang setup --region CODE` on a new data directory or an"
               " empty database first. Next: `musrenbang user add --username NAME --role admin` (the first"
               " administrator), then open a cycle (`musrenbang cycle open`, or Bappeda's screens)",
               err=True)  # fmt: skip


def _warn_without_public_url(settings: Settings) -> None:
    """Listening on every address without MUSRENBANG_PUBLIC_URL: links outside the page (feeds, e-mails,
    a Berita Acara's QR code) then point at localhost, which no resident's phone reaches."""
    if settings.host in ("0.0.0.0", "::", "") and not os.environ.get("MUSRENBANG_PUBLIC_URL", "").strip():
        click.echo(f"warning: listening on every address, but MUSRENBANG_PUBLIC_URL is not set: links in feeds,"
                   f" e-mails and QR codes point to {settings.public_url}; set it to the address the public"
                   " uses", err=True)  # fmt: skip


WORKERS_KILL_TIMEOUT = 6
"""Seconds a stopping worker may take before granian kills it. A worker ends its own responses at once
(http/stopping.py), lets requests in flight finish (well under a second under load; a read-your-writes
wait gives up after 5 s), a message being sent finish (delivery STOP_GRACE, 5 s) and closes its pool:
about a second in bench/stop.py under load.
What no code of ours can cut short: a client that stopped reading a large response (granian waits for
its write for ever), and a worker the signal reached while it was still starting (granian loses it).
Killing is safe: every write is one transaction, which PostgreSQL rolls back when the connection drops,
and a message being sent stays pending and is sent again. 6 s, plus the main process's own end and the
database's fast stop (1.5 s), keeps the whole stop inside the 10 s docker gives before its SIGKILL; at
8 s it took 9.4 – 10.3 s."""


def _serve_http(settings: Settings, url: str, secret: str) -> None:
    from granian import Granian
    from granian.constants import Interfaces
    from granian.log import LogLevels

    from musrenbang.http.orphan import SERVE_PID

    # The worker processes build the app from the environment (see http/app.py:app_from_env).
    os.environ["MUSRENBANG_DATABASE_URL"] = url
    os.environ["MUSRENBANG_SECRET_KEY"] = secret
    os.environ["MUSRENBANG_POLL_INTERVAL"] = str(settings.poll_interval)
    os.environ["MUSRENBANG_PUBLIC_URL"] = settings.public_url  # the default follows --host and --port
    os.environ[SERVE_PID] = str(os.getpid())  # a worker whose parent this no longer is stops (http/orphan.py)
    Granian(
        "musrenbang.http.app:app_from_env",
        factory=True,
        interface=Interfaces.ASGI,
        address=settings.host,
        port=settings.port,
        workers=settings.workers,
        log_level=LogLevels(settings.log_level),
        respawn_failed_workers=True,
        workers_kill_timeout=WORKERS_KILL_TIMEOUT,
    ).serve()


def _hold_port(host: str, port: int) -> socket.socket:
    """The port, listened on until granian takes it (close the socket just before): checked only at the
    start, a second `serve` on the same port during the first one's preparation (a demo takes a minute)
    found it free, and both servers then shared it (granian listens with SO_REUSEPORT), each answering
    half the requests from its own database. Connections made meanwhile wait and are then refused."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror:
        raise Failure(f"cannot listen on {host!r}: no such address") from None
    family, _, _, _, address = infos[0]
    held = socket.socket(family, socket.SOCK_STREAM)
    held.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        held.bind(address)
        held.listen(1)
    except OSError as exc:
        held.close()
        if exc.errno == errno.EADDRINUSE:
            raise Failure(
                f"port {port} on {host} is already in use (is another server running?); choose --port"
            ) from None
        raise Failure(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    return held


@main.command("demo")
@click.option("--seed", type=WholeNumber(), default=2022, show_default=True, help="Same seed, same cycle.")
@click.option("--scale", type=WholeNumber(1, 10_000), default=1, show_default=True,
              help="Multiply proposals, delegates, score sheets and ballots (for benchmarks).")  # fmt: skip
def demo_command(seed: int, scale: int) -> None:
    """Play a whole RKPD 2022 cycle of Kota Bekasi on an empty database (proposals in all 56 kelurahan,
    forums, the agencies' RKPD lines, adoption), open RKPD 2023 with some needs carried over, and add demo
    staff accounts. Exit 3 if the log already holds proposals."""
    from musrenbang.domain.errors import DomainError

    settings = settings_from_env()
    with database(settings) as url:
        _, secret = run(prepare(url))
        try:
            summary = run(_play_demo(url, settings.secret_key or secret, seed, scale))
        except DomainError as exc:
            raise Failure(f"the demo stopped: {exc.message}") from None
        if isinstance(summary, str):
            raise Failure(f"{summary}; the demo needs an empty database (set MUSRENBANG_DATABASE_URL or"
                          " MUSRENBANG_DATA_DIR to a new one)")  # fmt: skip
    _print_demo(summary, settings)


def _demo_before_serving(settings: Settings, url: str, secret: str) -> None:
    from musrenbang.domain.errors import DomainError

    try:
        summary = run(_play_demo(url, secret, 2022, 1))
    except DomainError as exc:
        raise Failure(f"the demo stopped: {exc.message}") from None
    if summary == DEMO_INTERRUPTED:
        fresh = ("an empty database (MUSRENBANG_DATABASE_URL)" if settings.database_url else
                 f"an empty data directory (--data-dir NEW_DIR, or remove {settings.data_dir} after"
                 " `musrenbang db stop`)")  # fmt: skip
        click.echo(f"{DEMO_INTERRUPTED}: serving what it wrote, without its staff accounts. To see the whole demo,"
                   f" stop this server and start again on {fresh}", err=True)  # fmt: skip
    elif summary == PROPOSALS_ALREADY:
        click.echo("the log already holds proposals: serving them, no demo played", err=True)
    elif isinstance(summary, str):
        click.echo(f"{summary}: no demo played", err=True)
    else:
        _print_demo(summary, settings)


PROPOSALS_ALREADY = "the event log already holds proposals"
DEMO_INTERRUPTED = "the demo played on this database earlier stopped before its end"


async def _play_demo(url: str, secret: str, seed: int, scale: int) -> Summary | str:
    """The demo's summary; or why it cannot be played on this database, and nothing played."""
    from musrenbang import demo
    from musrenbang.eventlog.store import EventStore

    pool = await create_pool(url, min_size=1, max_size=8)
    try:
        if await demo.interrupted(pool):
            await demo.settle_messages(pool)  # what it queued for its made-up residents is not sent either
            return DEMO_INTERRUPTED
        if await demo.has_proposals(pool):
            return PROPOSALS_ALREADY
        if refused := await _demo_refused(pool, seed):
            return refused
        key = secret_bytes(secret)
        with click.progressbar(length=demo.STEPS, label="demo RKPD 2022", file=sys.stderr) as bar:
            return await demo.play(pool, EventStore(pool), key, seed=seed, scale=scale, on_progress=bar.update)
    finally:
        await pool.close()


async def _demo_refused(pool: asyncpg.Pool, seed: int) -> str | None:
    """Why the demo cannot be played here beyond proposals: it plays Kota Bekasi's cycles of 2022 and 2023,
    which a database set up for another city, or holding a cycle of those years it did not open itself,
    refuses halfway (the 2022 cycle written, then a traceback, and a demo that can be neither finished
    nor played again)."""
    from musrenbang import demo, reference
    from musrenbang.services.city import current_on

    async with pool.acquire() as conn:
        city = await current_on(conn)
        if city.region != reference.DEFAULT_REGION:
            return f"the demo plays Kota Bekasi's cycle, and this database is set up for {city.name} ({city.region})"
        years = await conn.fetchval(
            "SELECT string_agg(substr(stream_id, 7), ', ' ORDER BY stream_id) FROM events"
            " WHERE event_type = 'cycle.started' AND stream_id = ANY($1::text[])"
            " AND metadata->>'idempotency_key' IS DISTINCT FROM 'demo:' || $2 || ':cycle:' || substr(stream_id, 7)",
            [f"cycle-{demo.YEAR}", f"cycle-{demo.NEXT_YEAR}"], str(seed),
        )  # fmt: skip
    return f"the event log already holds the cycle of RKPD {years}, which the demo opens" if years else None


def _print_demo(summary: Summary, settings: Settings) -> None:
    s = summary
    click.echo(f"demo: {s.proposals} proposals ({s.merged} merged, {s.returned} returned of which {s.revised}"
               f" revised, {s.rejected} rejected), {s.forums} forums, {s.pokir} DPRD pokir,"
               f" {s.received} at the city level"
               f" ({s.passed} passed on, {s.declined} declined), {s.lines} RKPD lines adopted, {s.finished} of them"
               f" finished by 2022;"
               f" RKPD 2023 open with {s.carried} needs proposed again; {s.events} events")  # fmt: skip
    if s.unsent:
        click.echo(f"{s.unsent} messages to the demo's made-up residents are kept in the outbox as cancelled"
                   " (demo), not sent")  # fmt: skip
    base = f"http://{settings.host}:{settings.port}"
    click.echo(f"open first: {base}/rkpd/2022 — then follow a line back to its residents, e.g. "
               f"{base}/telusur/usulan/{s.sample_code}; a need 2022 left out and proposed again for 2023:"
               f" {base}/lacak/{s.carried_code}")  # fmt: skip
    if s.finished_code:
        click.echo(f"a proposal followed to its finished work, with photos: {base}/lacak/{s.finished_code}")
    click.echo(f"the DPRD members' pokir, and where the RKPD's pagu came from: {base}/pokir/2022,"
               f" {base}/rkpd/2022/sumber")  # fmt: skip
    click.echo("demo staff accounts (sign in at /masuk):")
    for a in s.accounts:
        password = a.password or "(existed already; password unchanged)"
        click.echo(f"  {a.username:<26} {a.role:<12} {a.scope:<10} {password}")
    click.echo("a password lost: musrenbang user password USERNAME (the new one on standard input)")


@main.command()
def migrate() -> None:
    """Apply the database migrations that are not applied yet."""
    settings = settings_from_env()
    with database(settings) as url:
        applied, _ = run(prepare(url))
    click.echo(f"applied: {', '.join(applied)}" if applied else "database is up to date")


@main.group()
def db() -> None:
    """The database in use."""


@db.command("url")
def db_url() -> None:
    """Print the connection URL of the database in use (starting the bundled server if needed)."""
    settings = settings_from_env()
    with database(settings, keep_running=True) as url:
        run(with_connection(url, lambda conn: conn.fetchval("SELECT 1")))  # a URL that works, or why not
        click.echo(url)
    if not settings.database_url:
        click.echo("(the bundled server keeps running; `musrenbang db stop` stops it)", err=True)


@db.command("stop")
def db_stop() -> None:
    """Stop the bundled PostgreSQL server of the data directory."""
    settings = settings_from_env()
    if settings.database_url:
        raise Failure("MUSRENBANG_DATABASE_URL is set: that server is not managed by musrenbang")
    users, stopped = BundledDatabase(settings.data_dir).stop_unless_used()
    if users:
        raise Failure(f"the bundled server is in use by process(es) {', '.join(map(str, users))} (a running `serve`?):"
                      " stop them first; a server stops its database when it stops")  # fmt: skip
    click.echo("stopped" if stopped else "the bundled server was not running")
