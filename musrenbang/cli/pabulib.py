"""Real participatory-budgeting elections (Pabulib) through the forum machinery: import and export."""

from __future__ import annotations

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
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
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
    written); 4: the rule or ballot kind is not supported.
    """
    from musrenbang import pabulib

    groups = tuple(tuple(x.strip() for x in g.split(",") if x.strip()) for g in exclusive)
    settings = settings_from_env()
    with database(settings) as url:
        try:
            forum_id, problems = run(_import(url, file, check, groups))
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


async def _import(url: str, file: Path, check: bool, exclusive: tuple[tuple[str, ...], ...]) -> tuple[str, list[str]]:
    from musrenbang import pabulib
    from musrenbang.eventlog.store import EventStore
    from musrenbang.projections import all_projections
    from musrenbang.projections.runner import ProjectionRunner
    from musrenbang.services.forums import ForumService
    from musrenbang.services.pabulib_import import plan, write

    planned = plan(file, exclusive)  # the whole file is checked before anything is written
    if planned.command.rule == "greedy-exclusive" and not exclusive:
        click.echo("note: greedy-exclusive without --exclusive: no projects rule each other out", err=True)
    await migrated(url, lambda conn: conn.fetchval("SELECT 1"), rebase=True)
    pool = await create_pool(url, min_size=1, max_size=4)
    try:
        store = EventStore(pool)
        election = pabulib.read(file)
        election.votes.close()
        # Two steps per voter (registered, then the ballot)
        total = len(planned.delegates) * 2
        with click.progressbar(length=total, label="importing", file=sys.stderr) as bar:
            forum_id = await write(pool, store, file, planned, bar.update)
        if not check:
            return forum_id, []
        forums = ForumService(pool, store, ProjectionRunner(pool, all_projections()))
        forum, recomputed = await forums.recompute(forum_id)
        if forum.result is None:  # import_file closes the forum it made
            raise Failure(f"forum {forum_id} was imported but is not closed")
        ballots, _ = await forums.ballots_and_sheets(forum_id)
        problems = pabulib.differences(election.projects, forum.scheduled, ballots, forum.result)
        if recomputed != forum.result:
            problems.append("the stored result differs from the result recomputed from the forum's events")
        return forum_id, problems
    finally:
        await pool.close()


@pabulib_group.command("export")
@click.argument("forum_id")
@click.option("--out", "name", type=click.Path(), metavar="FILE", default=None, help="File (default: stdout).")
def pabulib_export(forum_id: str, name: str | None) -> None:
    """Write a closed forum as a Pabulib .pb file, so anyone can recompute it with independent tools."""
    out = None if name is None else named_file(name)
    settings = settings_from_env()
    with database(settings) as url:
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
