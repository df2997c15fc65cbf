"""Following a proposal or an RKPD line by e-mail: the subscriptions and the mails that confirm them
(issue 13). The pages are http/follow.py.

Asking to follow records an unconfirmed subscription and queues one confirmation mail in the outbox, which
the delivery worker sends. What the asker is told never depends on the address: `subscribe` does the same
nothing, silently, whether the address is new, follows already, was sent this confirmation within the hour
or is over its limit, so the page tells nobody what an address follows. Only the confirmation confirms
(`confirm`), within CONFIRM_DAYS of its mail; stopping a proposer's own subscription stops every one made
with their proposal (`stop`).

A proposal merged into another has no news of its own any more: asking to follow it follows the proposal
it lives on in (the end of its chain of merges: `followed`). A subscription that still names the
duplicate (asked for a moment before the merge reached the proposals' table, so the merge had nothing to
carry on: eventlog/outbox.py) is carried on when it is confirmed, as the merge carries on its followers.

An RKPD line whose realisation has ended (a final stage of domain/realisation.py: finished or dropped)
has no news to come: it cannot be followed (`Followed.ended`), and asking makes no subscription and
sends no mail, instead of a follower who waits for news that never comes. Nor can a proposal whose story
has ended (domain/notices.proposal_news_ended: rejected, not accommodated, closed without a decision at
adoption, or in the RKPD by a line whose work finished or was dropped), judged for a merged duplicate on
the proposal it lives in.
"""

from __future__ import annotations

import datetime as dt
import re
import secrets
import uuid
from typing import Any, Literal

import asyncpg
import msgspec

from musrenbang.delivery.worker import wake_senders
from musrenbang.domain import notices, realisation, values
from musrenbang.eventlog import outbox

CONFIRMATIONS_PER_HOUR = 3
"""Confirmation mails sent to one address per hour, whatever it asked to follow."""
CONFIRM_DAYS = 7
"""How long a confirmation mail's link confirms, from the newest such mail for its subscription."""
MAX_MERGES = 50
"""Links of a chain of merges followed at most (a chain is far shorter; a loop must not hang a request)."""

_LINE = re.compile(r"rkpd/(\d{4})/([A-Za-z0-9._-]{1,60})", re.ASCII)


class Followed(msgspec.Struct, frozen=True):
    """Something that can be followed: its subject (as subscriptions name it), its page and its title.
    `merged_from`: the code asked for, when that proposal was merged into this one. `ended`: no news will
    come of it; for an RKPD line whose realisation has ended, its final stage (`selesai`, `batal`:
    domain/realisation.py, FINAL); for a proposal whose story has ended, what ended it
    (domain/notices.proposal_news_ended: its status, or its line's final stage)."""

    subject: str
    link: str
    title: str
    line: bool
    merged_from: str | None = None
    ended: str | None = None


class Subscription(msgspec.Struct, frozen=True):
    """A subscription as its links' token names it."""

    id: uuid.UUID
    subject: str
    kind: str
    owner: uuid.UUID | None
    confirmed: bool
    stopped_at: dt.datetime | None
    address: str
    token: str


async def followed(conn: asyncpg.Connection, typed: str) -> Followed | None:
    """The proposal (a tracking code, however typed) or adopted RKPD line (`rkpd/{year}/{line_id}`)
    `typed` names, or None."""
    m = _LINE.fullmatch(typed.strip())
    if m is not None:
        year, line_id = int(m[1]), m[2]
        row = await conn.fetchrow(
            "SELECT a.line->>'sub_kegiatan' AS title, p.stage FROM rkpd_adopted_lines a"
            " LEFT JOIN rkpd_line_progress p ON p.year = a.year AND p.line_id = a.line_id"
            " WHERE a.year = $1 AND a.line_id = $2 ORDER BY a.revision DESC LIMIT 1",
            year, line_id,
        )  # fmt: skip
        if row is None or row["title"] is None:
            return None
        ended = row["stage"] if row["stage"] in realisation.FINAL else None
        return Followed(f"rkpd/{year}/{line_id}", f"/telusur/rkpd/{year}/{line_id}", row["title"], True,
                        ended=ended)  # fmt: skip
    try:
        code = values.normalize_code(typed)
    except ValueError:
        return None
    row = await conn.fetchrow(_PROPOSAL, code)
    if row is None:
        return None
    asked, seen = code, {code}
    while row["merged_into"] and row["merged_into"] not in seen and len(seen) <= MAX_MERGES:
        into = await conn.fetchrow(_PROPOSAL, row["merged_into"])
        if into is None:
            break
        code, row = row["merged_into"], into
        seen.add(code)
    return Followed(code, f"/lacak/{code}", row["title"], False, asked if code != asked else None,
                    ended=notices.proposal_news_ended(row["status"], row["line_stage"]))  # fmt: skip


_PROPOSAL = (
    "SELECT p.title, p.merged_into, p.status, l.stage AS line_stage FROM proposals p"
    " LEFT JOIN rkpd_line_progress l ON l.year = p.year AND l.line_id = p.rkpd_line WHERE p.code = $1"
)
"""A proposal as `followed` reads it: where it stands, and where the RKPD line it went into (if any) stands."""


async def find(pool: asyncpg.Pool, typed: str) -> Followed | None:
    """`followed`, on a connection of `pool`."""
    async with pool.acquire() as conn:
        return await followed(conn, typed)


async def by_token(pool: asyncpg.Pool, token: str) -> tuple[Subscription, Followed | None] | None:
    """The subscription a link's token names and what it follows; None for a token that names none."""
    async with pool.acquire() as conn:
        row = await conn.fetchrow(
            "SELECT id, subject, kind, owner, confirmed, stopped_at, address, token FROM subscriptions"
            " WHERE token = $1",
            token,
        )
        if row is None:
            return None
        return Subscription(**dict(row)), await followed(conn, row["subject"])


async def confirmable(pool: asyncpg.Pool, sub: Subscription) -> bool:
    """Whether the subscription's confirmation link still confirms: within CONFIRM_DAYS of the newest mail
    that brought it, counted from its delivery (a mail that waited in the outbox for a channel to be set
    up, or was sent again from /petugas/pesan, arrives with a week to go), and while one is still to be
    delivered. An old mail found later (forwarded, or in a mailbox someone else now reads) must not start
    messages its owner has long forgotten asking for; asking again sends a mail that renews it."""
    return bool(await pool.fetchval(
        "SELECT EXISTS (SELECT 1 FROM outbox WHERE address = $1 AND purpose = 'confirm' AND link = $2"
        " AND (status = 'pending' OR coalesce(delivered_at, created_at) > now() - make_interval(days => $3)))",
        sub.address, f"/ikuti/{sub.token}", CONFIRM_DAYS,
    ))  # fmt: skip


async def state(pool: asyncpg.Pool, sub: Subscription, subject: Followed | None
                ) -> Literal["stopped", "confirmed", "pending", "expired", "ended"]:  # fmt: skip
    """Where the subscription stands, as its confirmation link's page says it: "ended" for one not
    confirmed yet whose RKPD line's work, or proposal's story, ended meanwhile (nothing left to confirm)."""
    if sub.stopped_at:
        return "stopped"
    if sub.confirmed:
        return "confirmed"
    if subject is not None and subject.ended:
        return "ended"
    return "pending" if await confirmable(pool, sub) else "expired"


async def confirm(pool: asyncpg.Pool, sub: Subscription, subject: Followed | None
                  ) -> Literal["expired", "confirmed_now", "stopped", "ended"]:  # fmt: skip
    """Confirm the subscription, with the copies a merge made of it: "confirmed_now" (also when it was
    confirmed already), "stopped" when it was stopped, "expired" when its link no longer confirms
    (`confirmable`), "ended" when it was asked for an RKPD line whose work has ended since (finished or
    dropped), or for a proposal whose story has (`Followed.ended`): no news will come, so nothing is
    confirmed."""
    if not sub.confirmed and not sub.stopped_at and subject is not None and subject.ended:
        return "ended"
    if not sub.confirmed and not sub.stopped_at and not await confirmable(pool, sub):
        return "expired"
    async with pool.acquire() as conn, conn.transaction():
        done = await conn.fetchval(
            # With the copies a merge made of it (eventlog/outbox.py: their owner is this one's id).
            "UPDATE subscriptions SET confirmed = true WHERE (id = $1 OR owner = $1) AND stopped_at IS NULL"
            " RETURNING id",
            sub.id,
        )
        if done and subject is not None and subject.subject != sub.subject:
            # It names a proposal merged since: carry it on as the merge does (same link, this one as owner).
            await conn.execute(
                "INSERT INTO subscriptions (id, subject, channel, address, link, kind, owner, token, confirmed)"
                " SELECT $2, $3, channel, address, link, kind, coalesce(owner, id), $4, true FROM subscriptions"
                " WHERE id = $1 ON CONFLICT (subject, channel, address) DO NOTHING",
                sub.id, uuid.uuid4(), subject.subject, secrets.token_urlsafe(48),
            )  # fmt: skip
    return "confirmed_now" if done else "stopped"


async def subscribe(pool: asyncpg.Pool, subject: Followed, email: str) -> None:
    """Record the follower (unconfirmed) and queue its confirmation mail, unless the address follows
    already, was sent this subscription's confirmation within the hour, or had CONFIRMATIONS_PER_HOUR
    mails of any. A stopped subscription starts again unconfirmed, with a new token. Nothing for a line
    whose realisation has ended, or a proposal whose story has (`Followed.ended`): no news will come of it.

    `email` is an address as http/follow.py's `valid_email` keeps it (trimmed, lower case)."""
    if subject.ended:
        return
    async with pool.acquire() as conn, conn.transaction():
        # One request per address at a time (services/recovery.py takes the same lock): two racing requests
        # must not both find the hour's count below the limit, nor both create the subscription.
        await conn.execute("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", f"outbox:{email}")
        row = await conn.fetchrow(
            "SELECT id, token, confirmed, stopped_at FROM subscriptions"
            " WHERE subject = $1 AND channel = 'email' AND address = $2 FOR UPDATE",
            subject.subject, email,
        )  # fmt: skip
        if row is not None and row["confirmed"] and row["stopped_at"] is None:
            return
        recent = [r["link"] for r in await conn.fetch(
            "SELECT link FROM outbox WHERE address = $1 AND purpose = 'confirm'"
            " AND created_at > now() - interval '1 hour'",
            email,
        )]  # fmt: skip
        if len(recent) >= CONFIRMATIONS_PER_HOUR:
            return
        if row is None:
            token = secrets.token_urlsafe(24)
            made = await conn.fetchval(
                "INSERT INTO subscriptions (id, subject, channel, address, link, kind, token, confirmed)"
                " VALUES ($1, $2, 'email', $3, $4, 'follower', $5, false)"
                " ON CONFLICT (subject, channel, address) DO NOTHING RETURNING id",
                uuid.uuid4(), subject.subject, email, subject.link, token,
            )  # fmt: skip
            if made is None:  # made this moment by the proposal itself: it needs no confirmation from here
                return
        elif row["stopped_at"] is not None:
            token = secrets.token_urlsafe(24)
            await conn.execute(
                "UPDATE subscriptions SET token = $2, confirmed = false, stopped_at = NULL WHERE id = $1",
                row["id"], token,
            )  # fmt: skip
        else:
            token = row["token"]
            if f"/ikuti/{token}" in recent:
                return
        what = "baris RKPD" if subject.line else "usulan"
        await conn.execute(
            "INSERT INTO outbox (id, subscription, dedupe, purpose, channel, address, title, body, link)"
            " VALUES ($1, NULL, $2, 'confirm', 'email', $3, $4, $5, $6)",
            uuid.uuid4(), str(uuid.uuid4()), email, f"Konfirmasi: ikuti kabar {what} ini",
            f"Klik tautan ini untuk mulai mengikuti kabar {what} “{_short(subject.title)}”. Jika Anda tidak"
            " memintanya, abaikan pesan ini: tanpa konfirmasi Anda tidak akan menerima apa pun.",
            f"/ikuti/{token}",
        )  # fmt: skip
        await wake_senders(conn)


async def stop(pool: asyncpg.Pool, sub: Subscription) -> None:
    """Stop the subscription (a proposer's: every one with the same owner) and cancel what it still had
    to send, its confirmation included."""
    # A proposer's: all with their owner; a follower's: with the copies a merge made of it (owned by it).
    owner: Any = sub.owner if sub.kind == "proposer" else None
    async with pool.acquire() as conn, conn.transaction():
        stopped = await conn.fetch(
            "UPDATE subscriptions SET stopped_at = coalesce(stopped_at, now())"
            " WHERE id = $1 OR owner = $1 OR owner = $2::uuid RETURNING id, token",
            sub.id, owner,
        )  # fmt: skip
        await outbox.cancel_queued(conn, [r["id"] for r in stopped], [f"/ikuti/{r['token']}" for r in stopped])


def _short(title: str, limit: int = 120) -> str:
    title = " ".join(title.split())
    return title if len(title) <= limit else title[:limit].rsplit(" ", 1)[0] + "…"
