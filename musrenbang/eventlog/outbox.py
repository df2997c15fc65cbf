"""The outbox: messages to residents written in the same transaction as the events that cause them.

`EventStore.append` calls `enqueue` on the append's own connection, inside its transaction, for every
event that sends news (domain/notices.py). So an event and its messages commit together or not at all:
no message about something the log does not hold, no event whose message could be lost in a crash. The
delivery worker (musrenbang/delivery/) sends them later, with retries.

Exactly once per (follower, event): `outbox` is unique on (subscription, dedupe), and `dedupe` is the
event's id and subject (or the notice's once-only key), so a replayed command, which writes no new event,
writes no new message either, and two servers can never queue the same message twice. And once per
address for one piece of news: the notices of one event that tell the same thing to the followers of
several subjects (a line's milestone, to the line's and to its proposals' followers: `Notice.news`) share
their `dedupe`, and an address (the same channel and address, whatever subscriptions it has) gets the
first of them only, and never one whose `dedupe` it was already sent or is waiting to be (the once-only
"under way"; a message cancelled by a stop or given up as failed does not count as sent). So a stop
hands such a message still waiting to the address's other subscription the news reaches
(`cancel_queued`): stopping the line's messages must not silence what its proposals' followers are told.

Who is the proposer: a notice may ask of the proposer what only they can do (revise a returned proposal
with their secret code), and tell anyone else who follows it in other words (`Notice.follower_body`). The
proposer is the subscription of kind 'proposer' whose link is the subject's own tracking page: the one
written at submission (services/proposals.subscribe_proposer). Its copies a merge carried on to another
proposal keep their own page as link (`_FOLLOW_ON`): that proposal is not theirs, nor its secret.

An RKPD line's milestone names the line: its name (sub-kegiatan) is not in the milestone's event, so it is
read from the line's latest adoption in the log (`_LINE_NAMES`), in the append's transaction.

A proposal's verification and its forums' decisions name the forum as its residents know it (Musrenbang
Desa, Musrenbang Kabupaten: domain/notices.forum_name), by the village the proposal is in: read from its
submission or latest revision in the log (`_PLACES`), one read for all such events of an append.

An RKPD adopted again (an amendment) tells only what it changed for each proposal (domain/notices.py): what
changed is read from the revision adopted before it in the log, with how far the lines it tells of have
come (`_ADOPTED_BEFORE`), in one read, in the append's transaction.

The addresses come from `subscriptions` (personal data) by a join in the database: they never pass
through the event, its metadata, or this process's logs.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

import asyncpg

from musrenbang.domain import proposal, realisation, rkpd
from musrenbang.domain.events import (
    Event,
    ProposalAccepted,
    ProposalDecidedAtForum,
    RkpdAdopted,
    RkpdMilestoneRecorded,
)
from musrenbang.domain.notices import Notice, notices
from musrenbang.eventlog import codec

_OWN = "(s.kind = 'proposer' AND s.link = '/lacak/' || s.subject)"
"""SQL: subscription `s` is the proposer's own, to their own proposal (see the module's doc)."""

# `per`: what makes a message one of its own for an address: the piece of news (`dedupe`) for a shared
# notice, else the subscription and its dedupe; DISTINCT ON keeps the first notice listed of each. The rows
# are inserted in the order the notices are listed (the log's order), so each takes its `queued` number
# (migration 0047) in that order: what the delivery worker sends an address one at a time by.
_MESSAGES = """
INSERT INTO outbox (id, subscription, dedupe, event_id, purpose, channel, address, title, body, link)
SELECT gen_random_uuid(), q.subscription, q.dedupe, q.event_id, q.purpose, q.channel, q.address, q.title, q.body,
       q.link
FROM (
    SELECT DISTINCT ON (m.channel, m.address, m.per)
           m.subscription, m.dedupe, m.event_id, m.purpose, m.channel, m.address, m.title, m.body, m.link, m.n
    FROM (
        SELECT s.id AS subscription, s.channel, s.address, s.link, d.dedupe, d.event_id, d.purpose, d.title,
               CASE WHEN d.follower_body IS NULL OR """ + _OWN + """ THEN d.body ELSE d.follower_body END AS body,
               d.n, CASE WHEN d.shared THEN d.dedupe ELSE s.id::text || ' ' || d.dedupe END AS per
        FROM unnest($1::text[], $2::text[], $3::uuid[], $4::text[], $5::text[], $6::text[], $7::boolean[],
                    $8::text[])
             WITH ORDINALITY AS d(subject, dedupe, event_id, purpose, title, body, shared, follower_body, n)
        JOIN subscriptions s ON s.subject = d.subject AND s.confirmed AND s.stopped_at IS NULL
        WHERE NOT (d.shared AND EXISTS (SELECT 1 FROM outbox o WHERE o.address = s.address
                                        AND o.channel = s.channel AND o.dedupe = d.dedupe
                                        AND o.status IN ('pending', 'delivered')))
    ) m
    ORDER BY m.channel, m.address, m.per, m.n
) q
ORDER BY q.n, q.channel, q.address
ON CONFLICT (subscription, dedupe) DO NOTHING
"""

# A merge carries the duplicate's followers on to the proposal it now lives in: same address, same link
# (a proposer keeps following by their own tracking page), same owner, so that stopping stops all of them.
_FOLLOW_ON = """
INSERT INTO subscriptions (id, subject, channel, address, link, kind, owner, token, confirmed, stopped_at)
SELECT gen_random_uuid(), f.into_subject, s.channel, s.address, s.link, s.kind, coalesce(s.owner, s.id),
       replace(gen_random_uuid()::text, '-', '') || replace(gen_random_uuid()::text, '-', ''),
       s.confirmed, s.stopped_at
FROM unnest($1::text[], $2::text[]) AS f(subject, into_subject)
JOIN subscriptions s ON s.subject = f.subject
ON CONFLICT (subject, channel, address) DO NOTHING
"""


def sends_news(events: Sequence[Event]) -> bool:
    """Whether appending `events` writes to the outbox (then the append needs a transaction)."""
    return any(notices(e) for e in events)


async def enqueue(conn: asyncpg.Connection, events: Sequence[tuple[uuid.UUID, Event]]) -> None:
    """Queue the messages `events` send, on `conn`, inside the transaction that appends them."""
    await enqueue_notices(conn, await _told(conn, events))


# The name of each line asked for, as its latest adoption (in the log: a read model may be behind) has it.
_LINE_NAMES = """
SELECT DISTINCT ON (l->>'line_id') l->>'line_id' AS line_id, l->>'sub_kegiatan' AS name
FROM events e CROSS JOIN LATERAL jsonb_array_elements(e.data->'lines') AS l
WHERE e.stream_id = $1 AND e.event_type = 'rkpd.adopted' AND l->>'line_id' = ANY($2::text[])
ORDER BY l->>'line_id', e.stream_version DESC
"""


# An RKPD adopted again (revision $2 + 1 of stream $1): where each proposal was in the revision adopted before
# it, and the stage of the latest milestone of each line ($4, its realisation stream $5) taking in a proposal
# ($3) it did not have then; one row per proposal before (stage NULL), one per such line (code NULL).
_ADOPTED_BEFORE = """
WITH before AS (
    SELECT o.code, l->>'line_id' AS line_id
    FROM events e CROSS JOIN LATERAL jsonb_array_elements(e.data->'lines') AS l
         CROSS JOIN LATERAL jsonb_array_elements_text(l->'origins') AS o(code)
    WHERE e.stream_id = $1 AND e.event_type = 'rkpd.adopted' AND (e.data->>'revision')::int = $2
), taking AS (
    SELECT DISTINCT n.line_id, n.stream FROM unnest($3::text[], $4::text[], $5::text[]) AS n(code, line_id, stream)
    WHERE NOT EXISTS (SELECT 1 FROM before b WHERE b.code = n.code AND b.line_id = n.line_id)
)
SELECT b.code, b.line_id, NULL AS stage FROM before b
UNION ALL
SELECT NULL, t.line_id, (SELECT m.data->>'stage' FROM events m WHERE m.stream_id = t.stream
                         AND m.event_type = 'rkpd.milestone_recorded' ORDER BY m.stream_version DESC LIMIT 1)
FROM taking t
"""


# The village of each proposal asked for ($1: their streams), as its latest submission or revision has it.
_PLACES = """
SELECT DISTINCT ON (stream_id) stream_id, data->'content'->>'kelurahan' AS place
FROM events WHERE stream_id = ANY($1::text[]) AND event_type IN ('proposal.submitted', 'proposal.revised')
ORDER BY stream_id, stream_version DESC
"""

_PLACED = (ProposalAccepted, ProposalDecidedAtForum)
"""The events whose notices name a forum by the proposal's village (domain/notices.notices' `place`)."""


async def _places(conn: asyncpg.Connection, events: Sequence[tuple[uuid.UUID, Event]]) -> dict[str, str]:
    """The village of each proposal whose verification or forum's decision is among `events` (code ->
    Kemendagri code); no read when there is none."""
    codes = {event.code for _, event in events if isinstance(event, _PLACED)}
    if not codes:
        return {}
    rows = await conn.fetch(_PLACES, sorted(proposal.stream_id(code) for code in codes))
    by_stream = {proposal.stream_id(code): code for code in codes}
    return {by_stream[r["stream_id"]]: r["place"] for r in rows if r["place"]}


async def _adopted_before(conn: asyncpg.Connection, event: RkpdAdopted) -> tuple[dict[str, str], dict[str, str]]:
    """For an RKPD adopted again: each proposal's line in the revision adopted before, and the stage of the
    lines it tells of (domain/notices.notices' `adopted_before` and `line_stages`), in one read of the log."""
    taken = [(code, line.line_id) for line in event.lines for code in line.origins]
    streams = [realisation.stream_id(event.year, line_id) for _, line_id in taken]
    rows = await conn.fetch(_ADOPTED_BEFORE, rkpd.stream_id(event.year), event.revision - 1,
                            [code for code, _ in taken], [line_id for _, line_id in taken], streams)  # fmt: skip
    before = {r["code"]: r["line_id"] for r in rows if r["code"] is not None}
    return before, {r["line_id"]: r["stage"] for r in rows if r["code"] is None and r["stage"] is not None}


async def _told(conn: asyncpg.Connection, events: Sequence[tuple[uuid.UUID, Event]]) -> list[tuple[uuid.UUID, Notice]]:
    """The notices of `events`, each with its event's id: an RKPD line's milestone names the line; a
    proposal's verification or forum's decision names the forum by its village (`_places`); an RKPD
    adopted again tells what changed since the revision before (`_adopted_before`)."""
    wanted: dict[int, set[str]] = {}
    for _, event in events:
        if isinstance(event, RkpdMilestoneRecorded):
            wanted.setdefault(event.year, set()).add(event.line_id)
    names: dict[tuple[int, str], str] = {}
    for year, lines in wanted.items():
        for row in await conn.fetch(_LINE_NAMES, rkpd.stream_id(year), sorted(lines)):
            if row["name"]:
                names[(year, row["line_id"])] = row["name"]
    places = await _places(conn, events)
    told: list[tuple[uuid.UUID, Notice]] = []
    for event_id, event in events:
        if isinstance(event, RkpdAdopted) and event.revision > 1:
            before, stages = await _adopted_before(conn, event)
            told.extend((event_id, n) for n in notices(event, adopted_before=before, line_stages=stages))
            continue
        name = names.get((event.year, event.line_id)) if isinstance(event, RkpdMilestoneRecorded) else None
        place = places.get(event.code) if isinstance(event, _PLACED) else None
        told.extend((event_id, n) for n in notices(event, line_name=name, place=place))
    return told


async def enqueue_notices(conn: asyncpg.Connection, told: Sequence[tuple[uuid.UUID, Notice]]) -> None:
    """Queue `told` (each notice with the id of the event it comes from), on `conn`, inside the transaction
    that appends that event: what `enqueue` does for the notices of events, for notices a service derives
    beside an event (domain/notices.closed_unprocessed)."""
    rows: list[tuple[str, str, uuid.UUID, str, str, str, bool, str | None]] = []
    follow_on: list[tuple[str, str]] = []
    for event_id, n in told:
        rows.append((n.subject, _dedupe(n, event_id), event_id, n.purpose, n.title, n.body, n.news is not None,
                     n.follower_body))  # fmt: skip
        if n.follow_to is not None:
            follow_on.append((n.subject, n.follow_to))
    if rows:
        await conn.execute(_MESSAGES, *(list(c) for c in zip(*rows, strict=True)))
    if follow_on:
        await conn.execute(_FOLLOW_ON, [s for s, _ in follow_on], [t for _, t in follow_on])


_CANCEL = """
UPDATE outbox SET status = 'cancelled'
WHERE status = 'pending' AND (subscription = ANY($1::uuid[]) OR (subscription IS NULL AND link = ANY($2::text[])))
"""

_SHARED_PENDING = """
SELECT o.id, o.event_id, o.dedupe FROM outbox o
WHERE o.status = 'pending' AND o.event_id IS NOT NULL AND o.subscription = ANY($1::uuid[])
"""

# The same row (its id: a sender may be sending it right now, and its delivery must still be the only one)
# handed to another live subscription of the same address that the news reaches, in that one's words.
_MOVE = """
UPDATE outbox o SET subscription = s.id, title = $3, link = s.link,
       body = CASE WHEN $5::text IS NULL OR """ + _OWN + """ THEN $4 ELSE $5 END
FROM subscriptions s
WHERE o.id = $1 AND o.status = 'pending' AND s.subject = $2 AND s.channel = o.channel AND s.address = o.address
  AND s.confirmed AND s.stopped_at IS NULL
  AND NOT EXISTS (SELECT 1 FROM outbox x WHERE x.subscription = s.id AND x.dedupe = o.dedupe)
RETURNING o.id
"""


async def cancel_queued(
    conn: asyncpg.Connection, subscriptions: Sequence[uuid.UUID], links: Sequence[str] = ()
) -> None:
    """Cancel what the stopped `subscriptions` (and the confirmations sent to `links`) still had to send,
    inside the caller's transaction that stops them.

    A piece of news shared by several subscriptions of one address (a line's milestone, queued under the
    line's, the first listed) is handed instead to another of the address's subscriptions it reaches, if
    one is still on: whoever stops following a line but still follows a proposal it came from is told
    through the proposal, as they would have been had they never followed the line. The row is moved, not
    cancelled and copied: a sender holding its lease may be sending it at this moment, and a copy under a
    new id would be sent as well. The event is read back from the log, since only it says which subjects
    the news went to."""
    shared = await conn.fetch(_SHARED_PENDING, list(subscriptions))
    if shared:
        found = await conn.fetch("SELECT event_id, event_type, data FROM events WHERE event_id = ANY($1::uuid[])",
                                 list({r["event_id"] for r in shared}))  # fmt: skip
        told: dict[uuid.UUID, list[Notice]] = {}
        decoded = [(r["event_id"], codec.decode_event(r["event_type"], r["data"])) for r in found]
        for event_id, n in await _told(conn, decoded):
            told.setdefault(event_id, []).append(n)
        for row in shared:
            for n in told.get(row["event_id"], ()):
                if n.news is not None and _dedupe(n, row["event_id"]) == row["dedupe"] and await conn.fetchval(
                    _MOVE, row["id"], n.subject, n.title, n.body, n.follower_body
                ):
                    break
    await conn.execute(_CANCEL, list(subscriptions), list(links))


def _dedupe(notice: Notice, event_id: uuid.UUID) -> str:
    """The once-only key, else the event and the subject (for notices telling one piece of news: the
    news, the same for all of them)."""
    return notice.once or f"{event_id}:{notice.news or notice.subject}"
