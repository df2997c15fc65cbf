"""Real participatory-budgeting elections (Pabulib) through the forum machinery: import and export."""

from __future__ import annotations

import asyncio
import signal
import sys
from pathlib import Path

import click

from musrenbang.cli.common import (
    EXIT_FAILED_CHECK,
    EXIT_UNSUPPORTED,
    Failure,
    database,
    migrated,
    named_file,
    run,
    settings_from_env,
)
from musrenbang.cli.group import main
from musrenbang.db.connect import create_pool


@main.group("pabulib")
def pabulib_group() -> None:
    """Real participatory-budgeting elections (Pabulib .pb files) through the forum machinery."""


@pabulib_group.command("import")
# Only a FILE that does not exist is click's usage error: a directory, a file this user may not read or one
# whose reading fails (/proc/self/mem) is the `error:` line of a file that cannot be read (exit 3), and a pipe
# (`<(cat FILE)`) is read as any file, once.
@click.argument("file", type=click.Path(exists=True, readable=False, path_type=Path))
@click.option("--check", is_flag=True, help="Compare votes, scores and selection with the file's own columns.")
@click.option(
    "--exclusive",
    "exclusive",
    multiple=True,
    metavar="ID,ID[,ID...]",
    help="greedy-exclusive: projects that rule each other out (the file's comment names them); repeatable.",
)
def pabulib_import(file: Path, check: bool, exclusive: tuple[str, ...]) -> None:
    """Load FILE as a forum: schedule, open, delegates, ballots, close. Prints `forum: <id>`.

    Exit 1: --check found differences; 3: the file cannot be read as it is (one `error:` line, nothing
    written), or the import stopped after it began writing (one `error:` line naming the forum it left
    half-imported); 4: the rule or ballot kind is not supported, or --check has nothing to compare.
    Stopped by Ctrl-C or SIGTERM once writing began: the same `error:` line, exit 130 or 143.
    """
    from musrenbang import pabulib
    from musrenbang.services.pabulib_import import HalfImported

    groups = tuple(tuple(x.strip() for x in g.split(",") if x.strip()) for g in exclusive)
    settings = settings_from_env()
    with database(settings, new_cluster=False) as url:
        try:
            forum_id, problems, compared = run(_import(url, file, check, groups))
        except pabulib.Unsupported as exc:
            click.echo(f"unsupported: {exc}", err=True)
            sys.exit(EXIT_UNSUPPORTED)
        except pabulib.BadFile as exc:
            raise Failure(f"{file}: {exc}") from None
        except HalfImported as exc:
            raise Failure(f"{file}: {exc}") from None
        except KeyboardInterrupt:  # Ctrl-C (what was left is said by _import): the shell's status, not click's 1
            sys.exit(128 + signal.SIGINT)
    click.echo(f"forum: {forum_id}")
    for problem in problems:
        click.echo(f"difference: {problem}", err=True)
    if check:
        if problems:
            click.echo(f"check: {len(problems)} difference(s) with {file.name}", err=True)
            sys.exit(EXIT_FAILED_CHECK)
        parts, missing = compared
        if not missing:
            click.echo(f"check: votes, scores and selection match {file.name}")
        else:
            click.echo(f"check: {_listed(parts, 'and')} match{'es' if len(parts) == 1 else ''} {file.name}"
                       f" (it has no {_listed(missing, 'or')} column)")  # fmt: skip


def _listed(words: list[str], conjunction: str) -> str:
    return words[0] if len(words) == 1 else f"{', '.join(words[:-1])} {conjunction} {words[-1]}"


async def _import(
    url: str, file: Path, check: bool, exclusive: tuple[tuple[str, ...], ...]
) -> tuple[str, list[str], tuple[list[str], list[str]]]:
    """The forum's id, the differences --check found, and what it compared (pabulib.comparable)."""
    from musrenbang import pabulib
    from musrenbang.eventlog.store import EventStore
    from musrenbang.projections import all_projections
    from musrenbang.projections.runner import ProjectionRunner
    from musrenbang.services.forums import ForumService
    from musrenbang.services.pabulib_import import left_behind, plan, write

    planned = plan(file, exclusive)  # the file, read once and checked whole before anything is written
    compared = pabulib.comparable(planned.projects, planned.command.ballot_kind or "")
    if check and not compared[0]:
        raise pabulib.Unsupported(f"--check has nothing to compare: {file.name} has no votes, score or selected"
                                  " column in PROJECTS (import it without --check)")  # fmt: skip
    if planned.command.rule == "greedy-exclusive" and not exclusive:
        click.echo("note: greedy-exclusive without --exclusive: no projects rule each other out", err=True)
    await migrated(url, lambda conn: conn.fetchval("SELECT 1"), rebase=True)
    pool = await create_pool(url, min_size=1, max_size=4)
    try:
        store = EventStore(pool)
        # Two steps per voter (registered, then the ballot)
        total = len(planned.delegates) * 2
        with click.progressbar(length=total, label="importing", file=sys.stderr) as bar:
            try:
                forum_id = await write(pool, store, file, planned, bar.update)
            except asyncio.CancelledError as exc:  # Ctrl-C or SIGTERM: say what is left, then stop as asked
                stopped = await left_behind(pool, planned.command.forum_id, exc)
                if stopped is not None:
                    click.echo(f"\nerror: {file}: {stopped}", err=True)
                raise
        if not check:
            return forum_id, [], compared
        forums = ForumService(pool, store, ProjectionRunner(pool, all_projections()))
        forum, recomputed = await forums.recompute(forum_id)
        if forum.result is None:  # import_file closes the forum it made
            raise Failure(f"forum {forum_id} was imported but is not closed")
        ballots, _ = await forums.ballots_and_sheets(forum_id)
        problems = pabulib.differences(planned.projects, forum.scheduled, ballots, forum.result)
        if recomputed != forum.result:
            problems.append("the stored result differs from the result recomputed from the forum's events")
        return forum_id, problems, compared
    finally:
        await pool.close()


@pabulib_group.command("export")
@click.argument("forum_id")
@click.option("--out", "name", type=click.Path(), metavar="FILE", default=None, help="File (default: stdout).")
def pabulib_export(forum_id: str, name: str | None) -> None:
    """Write a closed forum as a Pabulib .pb file, so anyone can recompute it with independent tools."""
    out = None if name is None else named_file(name)
    settings = settings_from_env()
    with database(settings, create=False) as url:  # a forum to export is in a database already there
        text = run(_export(url, forum_id))
    if out is None:
        click.echo(text, nl=False)
    else:
        try:
            out.write_text(text, encoding="utf-8")
        except OSError as exc:
            raise Failure(f"cannot write {out}: {exc.strerror or exc}") from None
        click.echo(f"wrote {out}", err=True)


async def _export(url: str, forum_id: str) -> str:
    from musrenbang import pabulib
    from musrenbang.domain.errors import DomainError
    from musrenbang.eventlog.store import EventStore
    from musrenbang.projections import all_projections
    from musrenbang.projections.runner import ProjectionRunner
    from musrenbang.services.forums import ForumService

    pool = await create_pool(url, min_size=1, max_size=2)
    try:
        forums = ForumService(pool, EventStore(pool), ProjectionRunner(pool, all_projections()))
        try:
            forum, _ = await forums.load(forum_id)
        except DomainError:
            raise Failure(f"no forum {forum_id!r}") from None
        if forum.result is None:
            raise Failure(f"forum {forum_id} is not closed yet")
        ballots, sheets = await forums.ballots_and_sheets(forum_id)
        costs = {i.id: i.cost for i in forum.items()}
        return pabulib.export(forum.scheduled, forum.agenda, costs, ballots, sheets, forum.result)
    finally:
        await pool.close()
