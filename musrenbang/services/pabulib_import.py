"""Importing a Pabulib election as a forum, through the same commands and events a real forum uses."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import asyncpg

from musrenbang import pabulib
from musrenbang.domain import forum as rules
from musrenbang.eventlog.store import EventStore, Metadata, StreamHead
from musrenbang.services.forums import ForumService, hold_open_append, new_forum_id

BALLOT_BATCH = 1000
META = Metadata(actor="pabulib-import", role="admin")


async def import_file(
    pool: asyncpg.Pool, store: EventStore, path: Path, on_progress: Callable[[int], None] | None = None
) -> str:
    """Schedule, open, register every voter, cast every ballot, close; returns the forum id.

    Raises pabulib.Unsupported before writing anything when the rule or ballot kind is not implemented.
    """
    election = pabulib.read(path)
    forum_id = new_forum_id()
    command = pabulib.schedule(election.meta, forum_id, path.stem)
    agenda = pabulib.agenda(election.projects)
    election.votes.close()
    forums = ForumService(pool, store, None)  # the agenda comes from the file
    await forums.schedule(command, META)
    await forums.open(forum_id, META, agenda=agenda)
    # Pass 1: voters become delegates (on the forum stream, in large commands).
    await forums.register_delegates(forum_id, [pabulib.delegate(v) for v in pabulib.read(path).votes], META)
    forum, head = await forums.load(forum_id)
    if on_progress:
        on_progress(len(forum.delegates))
    # Pass 2: their votes become ballots, a thousand delegates' streams per command.
    kind = command.ballot_kind or ""
    batch: list[rules.CastBallot] = []
    for vote in pabulib.read(path).votes:
        batch.append(pabulib.ballot(vote, kind))
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
