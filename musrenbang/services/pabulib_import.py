"""Importing a Pabulib election as a forum, through the same commands and events a real forum uses."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NamedTuple

import asyncpg

from musrenbang import pabulib
from musrenbang.domain import forum as rules
from musrenbang.domain.events import AgendaItem
from musrenbang.eventlog.store import EventStore, Metadata, StreamHead
from musrenbang.services.forums import ForumService, hold_open_append, new_forum_id

BALLOT_BATCH = 1000
META = Metadata(actor="pabulib-import", role="admin")


class Plan(NamedTuple):
    """An election checked in memory, ready to be written."""

    command: rules.ScheduleForum
    agenda: tuple[AgendaItem, ...]
    delegates: list[rules.RegisterDelegate]


def plan(path: Path, exclusive: Sequence[Sequence[str]] = ()) -> Plan:
    """Read and rehearse the whole file (see pabulib.rehearse). Raises pabulib.Unsupported (rule or ballot
    kind not implemented) or pabulib.BadFile (anything the forum would refuse); writes nothing.
    `exclusive`: greedy-exclusive's groups of projects that rule each other out."""
    election = pabulib.read(path)
    election.votes.close()
    scale = pabulib.money_scale(election.meta, election.projects)
    command = pabulib.schedule(election.meta, new_forum_id(), path.stem, scale, exclusive)
    agenda = pabulib.agenda(election.projects, scale)
    delegates = pabulib.rehearse(command, agenda, pabulib.read(path).votes)
    # A file cut short (a copy that stopped, half a download) still reads: only its own counts tell.
    for key, what, found in (("num_projects", "projects", len(election.projects)), ("num_votes", "votes",
                                                                                       len(delegates))):  # fmt: skip
        announced = election.meta.get(key, "")
        if announced.isascii() and announced.isdigit() and int(announced) != found:
            raise pabulib.BadFile(f"META says {key} {announced}, the file holds {found} {what}: is it cut short?")
    return Plan(command, agenda, delegates)


async def import_file(
    pool: asyncpg.Pool,
    store: EventStore,
    path: Path,
    on_progress: Callable[[int], None] | None = None,
    exclusive: Sequence[Sequence[str]] = (),
) -> str:
    """`plan`, then `write`; returns the forum id."""
    return await write(pool, store, path, plan(path, exclusive), on_progress)


async def write(
    pool: asyncpg.Pool, store: EventStore, path: Path, planned: Plan, on_progress: Callable[[int], None] | None = None
) -> str:
    """Schedule, open, register every voter, cast every ballot, close; returns the forum id."""
    command, agenda, delegates = planned
    forum_id = command.forum_id
    forums = ForumService(pool, store, None)  # the agenda comes from the file
    await forums.schedule(command, META)
    await forums.open(forum_id, META, agenda=agenda)
    # Pass 1: voters become delegates (on the forum stream, in large commands).
    await forums.register_delegates(forum_id, delegates, META)
    forum, head = await forums.load(forum_id)
    if on_progress:
        on_progress(len(forum.delegates))
    # Pass 2: their votes become ballots, a thousand delegates' streams per command.
    kind = command.ballot_kind or ""
    known = {a.item_id for a in agenda}
    batch: list[rules.CastBallot] = []
    for vote in pabulib.read(path).votes:
        batch.append(pabulib.ballot(vote, kind, known))
        if len(batch) == BALLOT_BATCH:
            await _cast(store, forum, head, batch)
            if on_progress:
                on_progress(len(batch))
            batch = []
    if batch:
        await _cast(store, forum, head, batch)
        if on_progress:
            on_progress(len(batch))
    await forums.close(forum_id, META)
    return forum_id


async def _cast(store: EventStore, forum: rules.Forum, head: StreamHead, batch: list[rules.CastBallot]) -> None:
    events = [rules.decide_ballot(forum, c)[0] for c in batch]
    streams = [rules.ballot_stream(forum.scheduled.forum_id, c.delegate_id) for c in batch]
    await hold_open_append(store, forum.scheduled.forum_id, head, streams, events, META)
