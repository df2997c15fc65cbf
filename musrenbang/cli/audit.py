"""Checking the log: verify (in the database, or an exported file) and export events."""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import click

from musrenbang.cli.common import (
    EXIT_FAILED_CHECK,
    Failure,
    database,
    migrated,
    output_file,
    run,
    settings_from_env,
)
from musrenbang.cli.group import main
from musrenbang.db.backup import temporary_beside
from musrenbang.db.connect import connect, redact

if TYPE_CHECKING:  # imported where used, to keep the command line quick to start
    from musrenbang.audit.export import Header


@main.command()
@click.option(
    "--file",
    "file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="Check an exported log (`musrenbang export events`) instead of the database: chains, seals, and every"
    " forum result and RKPD list recomputed from the file alone.",
)
@click.option(
    "--against", default=None, metavar="URL", help="With --file: compare with what the server at URL publishes."
)
@click.option(
    "--head",
    default=None,
    metavar="HASH",
    help="A seal's hash noted earlier (Berita Acara, /api/v1/log/head): also check that the log still holds it.",
)
def verify(file: Path | None, against: str | None, head: str | None) -> None:
    """Check every stream's hash chain and every seal of the whole log; exit 1 naming each broken stream,
    each seal that no longer matches and each stream whose sealed events are missing.

    With --file: check an exported log offline and recompute every closed forum's result and every
    adopted RKPD list from it; exit 1 with one line per difference.
    """
    from musrenbang.eventlog.verify import verify_database

    if head is not None:
        head = head.strip().lower()
        if not re.fullmatch(r"[0-9a-f]{64}", head):
            raise Failure("--head takes a seal's hash: 64 hexadecimal digits")
    if against is not None:
        parts = urlsplit(against)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise Failure(f"--against takes the server's address, e.g. https://musrenbang.example.go.id, got"
                          f" {redact(against)!r}")  # fmt: skip
    if file is not None:
        _verify_file(file, against, head)
        return
    if against is not None:
        raise Failure("--against needs --file (write one with `musrenbang export events --out FILE`)")
    settings = settings_from_env()
    with database(settings, create=False) as url:
        report = run(migrated(url, lambda conn: verify_database(conn, head=head), existing=True))
    chains = report.chains
    for problem in [f"chain broken: {b}" for b in report.breaks] + report.seal_problems:
        click.echo(f"BROKEN: {problem}", err=True)
    newest = report.newest_seal
    seals = f"{report.seals} seal(s)"
    if newest is not None:
        seals += f", the newest: seal {newest.seal} at global position {newest.position} ({newest.events} events)"
        seals += f", hash {newest.hash}"
    if report.intact:
        click.echo(f"intact: {chains.events} events in {chains.streams} streams; {seals}")
        if head is not None:
            click.echo(f"the log holds the sealed head {head} and every event it sealed")
        return
    click.echo(f"{chains.broken_streams} of {chains.streams} streams broken, {len(report.seal_problems)} problem(s)"
               f" with seals; {chains.events} events read; {seals}", err=True)  # fmt: skip
    sys.exit(EXIT_FAILED_CHECK)


def _verify_file(file: Path, against: str | None, head: str | None) -> None:
    from musrenbang.audit.against import Unreachable, compare_with_server
    from musrenbang.audit.verify_file import BadFile, read_header, verify_file

    try:
        read_header(file)
        with click.progressbar(length=file.stat().st_size, label="verifying", file=sys.stderr) as bar:
            report = verify_file(file, bar.update, head=head)
    except BadFile as exc:
        raise Failure(str(exc)) from None
    except OSError as exc:
        raise Failure(f"cannot read {file}: {exc.strerror}") from None
    differences = list(report.differences)
    years = ", ".join(str(y) for y in report.years) or "none"
    click.echo(f"events: {report.events} in {report.streams} streams, {report.rate:,.0f} events/s;"
               f" seals checked: {report.seals}")  # fmt: skip
    click.echo(f"forums recomputed: {report.forums}; RKPD years: {years} ({report.adoptions} adoption(s));"
               f" pokir forwarded and checked: {len(report.recomputer.forwarded_pokir)}")  # fmt: skip
    if against is not None:
        try:
            published = compare_with_server(against, report.recomputer)
        except Unreachable as exc:
            raise Failure(f"cannot compare with the server: {_without_password(str(exc), against)}") from None
        differences.extend(_without_password(d, against) for d in published)
        click.echo(f"compared with {redact(against)}: {report.forums} forum(s), {len(report.recomputer.adoptions)}"
                   " RKPD list(s)")  # fmt: skip
    for difference in differences:
        click.echo(f"difference: {difference}", err=True)
    if differences:
        click.echo(f"{len(differences)} difference(s)", err=True)
        sys.exit(EXIT_FAILED_CHECK)
    click.echo("all agree: chains intact, every result and list recomputes to what was published")


def _without_password(text: str, url: str) -> str:
    """`text` (a message that may quote `url`, or an address under it) with the URL's password hidden."""
    password = urlsplit(url).password
    return text.replace(f":{password}@", ":***@") if password else text


@main.group("export")
def export_group() -> None:
    """Exports of the log for auditors."""


@export_group.command("events")
@click.option("--out", type=click.Path(readable=False), metavar="FILE", required=True,
              help="File to write (JSON Lines).")
def export_events(out: str) -> None:
    """Write the whole event log, in global order, as JSON Lines (no personal data: proposers appear as
    salted hashes). `musrenbang verify --file` checks such a file."""
    target = output_file(out)
    settings = settings_from_env()
    with database(settings, create=False) as url:
        try:
            header = run(_export_events(url, target))
        except OSError as exc:
            raise Failure(f"cannot write {out}: {exc.strerror}") from None
    click.echo(f"wrote {header.events} events (last global position {header.last_position}) to {out}", err=True)


async def _export_events(url: str, out: Path) -> Header:
    """Write the log to a temporary file of its own beside `out` (never one someone else's), removed however
    the export ends (an error, Ctrl-C, SIGTERM), then renamed to `out`."""
    from musrenbang.audit.export import export_events
    from musrenbang.db.migrations import migrate
    from musrenbang.services.bootstrap import server_secret

    await migrated(url, migrate, existing=True)
    conn = await connect(url)
    try:
        secret = await server_secret(conn)
        total = await conn.fetchval("SELECT count(*) FROM events")
        with temporary_beside(out) as partial:
            with partial.open("wb") as f, click.progressbar(length=total, label="exporting", file=sys.stderr) as bar:
                header = await export_events(conn, f, secret, bar.update)
            partial.chmod(0o666 & ~_umask())  # as a file the command wrote itself would be (mkstemp makes 0600)
            partial.replace(out)
        return header
    finally:
        await conn.close()


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask
