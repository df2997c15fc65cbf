"""Importing a Pabulib election as a forum, through the same commands and events a real forum uses.

The file is read once (`plan`: a pipe will do) and what that reading checked is what is written: a file
changed meanwhile changes nothing. The writing is many transactions (a forum of 200,000 voters is hundreds of
thousands of events): one that stops after it began (an error, the database gone, a signal) leaves the
forum it began in the log, which is append-only; `HalfImported` (or `left_behind`, for a stop that must go
on as it is, a cancellation) says which forum and how far it got.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NamedTuple

import asyncpg

from musrenbang import pabulib
from musrenbang.domain import forum as rules
from musrenbang.domain.events import AgendaItem, DelegateRegistered, ForumClosed, ForumOpened, event_tag
from musrenbang.eventlog.store import EventStore, Metadata, StreamHead, like_prefix
from musrenbang.services.forums import ForumService, hold_open_append, new_forum_id

BALLOT_BATCH = 1000
META = Metadata(actor="pabulib-import", role="admin")


class Plan(NamedTuple):
    """An election read once and checked in memory, ready to be written: `write` writes these and reads
    nothing else."""

    command: rules.ScheduleForum
    agenda: tuple[AgendaItem, ...]
    delegates: list[rules.RegisterDelegate]
    ballots: list[rules.CastBallot]
    """One per delegate, in the same order."""
    projects: list[dict[str, str]]
    """PROJECTS as the file has them (its own votes, score and selected columns, for `--check`)."""


class HalfImported(Exception):
    """An import stopped after it began writing: the forum it leaves in the log is not the election."""

    def __init__(self, forum_id: str, written: str, cause: str, *, checked: bool = True) -> None:
        self.forum_id = forum_id
        left = "is left half-imported" if checked else "may be left half-imported (the log could not be asked)"
        super().__init__(
            f"the import stopped after it began writing ({cause}): forum {forum_id} (stream"
            f" {rules.stream_id(forum_id)}) {left} ({written}); the log is append-only and keeps it:"
            " do not close that forum (its result would count only part of the votes); import the file again for"
            " the whole election (a new forum)"
        )


def plan(path: Path, exclusive: Sequence[Sequence[str]] = ()) -> Plan:
    """Read the file once and rehearse the whole of it (see pabulib.rehearse). Raises pabulib.Unsupported
    (rule or ballot kind not implemented) or pabulib.BadFile (anything the forum would refuse, a file that
    cannot be read); writes nothing. `exclusive`: greedy-exclusive's groups of projects that rule each
    other out."""
    election = pabulib.read(path)
    try:
        scale = pabulib.money_scale(election.meta, election.projects)
        command = pabulib.schedule(election.meta, new_forum_id(), path.stem, scale, exclusive)
        agenda = pabulib.agenda(election.projects, scale)
        delegates, ballots = pabulib.rehearse(command, agenda, election.votes)
    finally:
        election.votes.close()
    # A file cut short (a copy that stopped, half a download) still reads: only its own counts tell.
    for key, what, found in (("num_projects", "projects", len(election.projects)), ("num_votes", "votes",
                                                                                       len(delegates))):  # fmt: skip
        announced = election.meta.get(key, "")
        if announced.isascii() and announced.isdigit() and int(announced) != found:
            raise pabulib.BadFile(f"META says {key} {pabulib.short(announced)}, the file holds {found} {what}:"
                                  " is it cut short?")  # fmt: skip
    return Plan(command, agenda, delegates, ballots, election.projects)


async def import_file(
    pool: asyncpg.Pool,
    store: EventStore,
    path: Path,
    on_progress: Callable[[int], None] | None = None,
    exclusive: Sequence[Sequence[str]] = (),
) -> str:
    """`plan`, then `write`; returns the forum id. Raises HalfImported for a stop after writing began."""
    return await write(pool, store, path, plan(path, exclusive), on_progress)


async def write(
    pool: asyncpg.Pool, store: EventStore, path: Path, planned: Plan, on_progress: Callable[[int], None] | None = None
) -> str:
    """Schedule, open, register every voter, cast every ballot, close; returns the forum id. Writes the
    plan alone: `path` is not read again. An error once the forum may hold events is HalfImported (from the
    error); a cancellation goes on as it is (the caller asks `left_behind`)."""
    try:
        return await _write(pool, store, planned, on_progress)
    except Exception as exc:
        stopped = await left_behind(pool, planned.command.forum_id, exc)
        if stopped is None:
            raise
        raise stopped from exc


async def left_behind(pool: asyncpg.Pool, forum_id: str, cause: BaseException) -> HalfImported | None:
    """What an import stopped by `cause` left of forum `forum_id` in the log: None when nothing (its stream
    holds no event), HalfImported otherwise, and when the log cannot be asked (the database gone)."""
    try:
        async with asyncio.timeout(10):
            row = await _written(pool, forum_id)
    except Exception as exc:
        what = f"what it holds could not be read: {pabulib.short(_reason(exc), 200)}"
        return HalfImported(forum_id, what, _reason(cause), checked=False)
    if row is None:
        return None
    delegates, ballots, opened, closed = row
    if closed:
        return None  # the whole election was written; what stopped came after
    state = "open, never closed" if opened else "scheduled, never opened"
    return HalfImported(forum_id, f"{delegates} delegates, {ballots} ballots, {state}", _reason(cause))


async def _written(pool: asyncpg.Pool, forum_id: str) -> tuple[int, int, bool, bool] | None:
    async with pool.acquire() as conn:
        row = await conn.fetchrow(
            "SELECT count(*) AS events, count(*) FILTER (WHERE event_type = $2) AS delegates,"
            " coalesce(bool_or(event_type = $3), false) AS opened, coalesce(bool_or(event_type = $4), false) AS closed"
            " FROM events WHERE stream_id = $1",
            rules.stream_id(forum_id), event_tag(DelegateRegistered), event_tag(ForumOpened), event_tag(ForumClosed),
        )  # fmt: skip
        if row is None or row["events"] == 0:
            return None
        ballots = await conn.fetchval(
            "SELECT count(*) FROM events WHERE stream_id LIKE $1", like_prefix(f"{rules.stream_id(forum_id)}-ballot-")
        )
    return row["delegates"], ballots, row["opened"], row["closed"]


def _reason(exc: BaseException) -> str:
    if isinstance(exc, (asyncio.CancelledError, KeyboardInterrupt)):
        return "stopped by a signal"
    text = " ".join(str(exc).split())
    return pabulib.short(f"{type(exc).__name__}: {text}" if text else type(exc).__name__, 200)


async def _write(
    pool: asyncpg.Pool, store: EventStore, planned: Plan, on_progress: Callable[[int], None] | None
) -> str:
    command, agenda, delegates = planned.command, planned.agenda, planned.delegates
    forum_id = command.forum_id
    forums = ForumService(pool, store, None)  # the agenda comes from the file
    await forums.schedule(command, META)
    await forums.open(forum_id, META, agenda=agenda)
    # Pass 1: voters become delegates (on the forum stream, in large commands).
    await forums.register_delegates(forum_id, delegates, META)
    forum, head = await forums.load(forum_id)
    if on_progress:
        on_progress(len(forum.delegates))
    # Pass 2: their votes, as the rehearsal read and checked them, become ballots, a thousand delegates'
    # streams per command.
    for start in range(0, len(planned.ballots), BALLOT_BATCH):
        batch = planned.ballots[start : start + BALLOT_BATCH]
        await _cast(store, forum, head, batch)
        if on_progress:
            on_progress(len(batch))
    await forums.close(forum_id, META)
    return forum_id


async def _cast(store: EventStore, forum: rules.Forum, head: StreamHead, batch: list[rules.CastBallot]) -> None:
    events = [rules.decide_ballot(forum, c)[0] for c in batch]
    streams = [rules.ballot_stream(forum.scheduled.forum_id, c.delegate_id) for c in batch]
    await hold_open_append(store, forum.scheduled.forum_id, head, streams, events, META)
