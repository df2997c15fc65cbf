"""Following a proposal or an RKPD line by e-mail, and stopping any message (issue 13).

`POST /ikuti` (a proposal's code or `rkpd/{year}/{line_id}`, and an e-mail address) records an
unconfirmed subscription and queues one confirmation mail in the outbox, which the delivery worker
sends. The page answers the same whether the address is new, follows already or is over its limit, so
it tells nobody what an address follows. The mail's link (`/ikuti/{token}`) shows a button, and only
that POST confirms: a mail scanner that opens links confirms nothing. Every message carries
`/berhenti/{token}`, whose button stops it; stopping a proposer's own subscription stops every one made
with their proposal. No page shows an address.

A proposal merged into another has no news of its own any more: asking to follow it follows the proposal
it lives on in (the end of its chain of merges), and the pages say so. A subscription that still names the
duplicate (asked for a moment before the merge reached the proposals' table, so the merge had nothing to
carry on: eventlog/outbox.py) is carried on when it is confirmed, as the merge carries on its followers.
"""

from __future__ import annotations

import re
import secrets
import uuid
from typing import Any

import asyncpg
import msgspec
from litestar import Controller, Request, get, post
from litestar.exceptions import NotFoundException
from litestar.params import FromPath
from litestar.response import Template

from musrenbang.delivery.channels import printable
from musrenbang.delivery.worker import wake_senders
from musrenbang.domain import values
from musrenbang.domain.errors import N_
from musrenbang.domain.proposal import normalize_email
from musrenbang.eventlog import outbox
from musrenbang.http.deps import PoolDep
from musrenbang.http.i18n import translate
from musrenbang.http.inputs import form_text
from musrenbang.http.ratelimit import client_address, count_attempt
from musrenbang.http.render import page, shown_back

FOLLOWS_PER_HOUR = 20
"""Follow requests accepted per client address per hour."""
CONFIRMATIONS_PER_HOUR = 3
"""Confirmation mails sent to one address per hour, whatever it asked to follow."""
CONFIRM_DAYS = 7
"""How long a confirmation mail's link confirms, from the newest such mail for its subscription."""

_LINE = re.compile(r"rkpd/(\d{4})/([A-Za-z0-9._-]{1,60})", re.ASCII)
_TOKEN = re.compile(r"[A-Za-z0-9_-]{16,64}", re.ASCII)


def valid_email(text: str) -> str:
    """An e-mail address as typed, trimmed and in lower case (how it is stored and counted); ValueError
    with the Indonesian message otherwise. The same check as a proposer's address (domain/proposal.py),
    so that a proposer and a follower with one address are one address.

        >>> valid_email(" Siti.R@Contoh.ID ")
        'siti.r@contoh.id'
    """
    return normalize_email(text)


class Followed(msgspec.Struct, frozen=True):
    """Something that can be followed: its subject (as subscriptions name it), its page and its title.
    `merged_from`: the code asked for, when that proposal was merged into this one."""

    subject: str
    link: str
    title: str
    line: bool
    merged_from: str | None = None


MAX_MERGES = 50
"""Links of a chain of merges followed at most (a chain is far shorter; a loop must not hang a request)."""


async def followed(conn: asyncpg.Connection, typed: str) -> Followed | None:
    """The proposal (a tracking code, however typed) or adopted RKPD line (`rkpd/{year}/{line_id}`)
    `typed` names, or None."""
    m = _LINE.fullmatch(typed.strip())
    if m is not None:
        year, line_id = int(m[1]), m[2]
        title = await conn.fetchval(
            "SELECT line->>'sub_kegiatan' FROM rkpd_adopted_lines WHERE year = $1 AND line_id = $2"
            " ORDER BY revision DESC LIMIT 1",
            year, line_id,
        )  # fmt: skip
        return None if title is None else Followed(f"rkpd/{year}/{line_id}", f"/telusur/rkpd/{year}/{line_id}",
                                                   title, True)  # fmt: skip
    try:
        code = values.normalize_code(typed)
    except ValueError:
        return None
    row = await conn.fetchrow("SELECT title, merged_into FROM proposals WHERE code = $1", code)
    if row is None:
        return None
    asked, seen = code, {code}
    while row["merged_into"] and row["merged_into"] not in seen and len(seen) <= MAX_MERGES:
        into = await conn.fetchrow("SELECT title, merged_into FROM proposals WHERE code = $1", row["merged_into"])
        if into is None:
            break
        code, row = row["merged_into"], into
        seen.add(code)
    return Followed(code, f"/lacak/{code}", row["title"], False, asked if code != asked else None)


class FollowPages(Controller):
    path = "/"
    include_in_schema = False

    @get("/ikuti")
    async def follow_form(self, request: Request, pool: PoolDep) -> Template:
        """The form: for `?subjek=` (a code or an RKPD line) when given, else with the code to type."""
        typed = printable(request.query_params.get("subjek", "")[:100])  # shown back: no NUL in `value`
        async with pool.acquire() as conn:
            subject = await followed(conn, typed) if typed else None
        entered = {"subject": subject.subject if subject else typed, "email": ""}
        return page(request, "ikuti.html", subject=subject, values=entered, errors={})

    @post("/ikuti", status_code=200, request_max_body_size=16 * 1024)
    async def follow(self, request: Request, pool: PoolDep) -> Template:
        form = await request.form()
        entered = {"subject": form_text(form, "subject"), "email": form_text(form, "email")}
        errors: dict[str, str] = {}
        async with pool.acquire() as conn:
            subject = await followed(conn, entered["subject"])
        if subject is None:
            errors["subject"] = N_("tidak ada usulan atau baris RKPD dengan kode ini")
        email = ""
        try:
            email = valid_email(entered["email"])
        except ValueError as exc:
            errors["email"] = exc.args[0]
        if errors or subject is None:
            return page(request, "ikuti.html", status=422, subject=subject, values=shown_back(entered),
                        errors={f: translate(request, m) for f, m in errors.items()})  # fmt: skip
        await count_attempt(pool, "follow", client_address(request, request.app.state.settings.trust_proxy),
                            FOLLOWS_PER_HOUR)  # fmt: skip
        await _subscribe(pool, subject, email)
        return page(request, "ikuti_terkirim.html", subject=subject)

    @get("/ikuti/{token:str}")
    async def confirm_form(self, request: Request, pool: PoolDep, token: FromPath[str]) -> Template:
        """The confirmation mail's link: a button, so that only a person confirms."""
        row, subject = await _by_token(pool, token)
        state = "stopped" if row["stopped_at"] else "confirmed" if row["confirmed"] else "pending"
        if state == "pending" and not await _confirmable(pool, row):
            state = "expired"
        return _token_page(request, state, subject, token)

    @post("/ikuti/{token:str}", status_code=200)
    async def confirm(self, request: Request, pool: PoolDep, token: FromPath[str]) -> Template:
        row, subject = await _by_token(pool, token)
        if not row["confirmed"] and not row["stopped_at"] and not await _confirmable(pool, row):
            return _token_page(request, "expired", subject, token, status=410)
        async with pool.acquire() as conn, conn.transaction():
            done = await conn.fetchval(
                # With the copies a merge made of it (eventlog/outbox.py: their owner is this one's id).
                "UPDATE subscriptions SET confirmed = true WHERE (id = $1 OR owner = $1) AND stopped_at IS NULL"
                " RETURNING id",
                row["id"],
            )
            if done and subject is not None and subject.subject != row["subject"]:
                # It names a proposal merged since: carry it on as the merge does (same link, this one as owner).
                await conn.execute(
                    "INSERT INTO subscriptions (id, subject, channel, address, link, kind, owner, token, confirmed)"
                    " SELECT $2, $3, channel, address, link, kind, coalesce(owner, id), $4, true FROM subscriptions"
                    " WHERE id = $1 ON CONFLICT (subject, channel, address) DO NOTHING",
                    row["id"], uuid.uuid4(), subject.subject, secrets.token_urlsafe(48),
                )  # fmt: skip
        return _token_page(request, "confirmed_now" if done else "stopped", subject, token)

    @get("/berhenti/{token:str}")
    async def stop_form(self, request: Request, pool: PoolDep, token: FromPath[str]) -> Template:
        """Every message's stop link: a button (a scanner opening the link stops nothing)."""
        row, subject = await _by_token(pool, token)
        return page(request, "ikuti_berhenti.html", stopped=row["stopped_at"] is not None, subject=subject,
                    proposer=row["kind"] == "proposer", token=token)  # fmt: skip

    @post("/berhenti/{token:str}", status_code=200)
    async def stop(self, request: Request, pool: PoolDep, token: FromPath[str]) -> Template:
        row, subject = await _by_token(pool, token)
        await _stop(pool, row)
        return page(request, "ikuti_berhenti.html", stopped=True, subject=subject, proposer=row["kind"] == "proposer",
                    token=token)  # fmt: skip


def _token_page(request: Request, state: str, subject: Followed | None, token: str, status: int = 200) -> Template:
    return page(request, "ikuti_token.html", status=status, state=state, subject=subject, token=token,
                confirm_days=CONFIRM_DAYS)  # fmt: skip


# --- the subscriptions and the outbox -------------------------------------------------------------------


async def _by_token(pool: asyncpg.Pool, token: str) -> tuple[asyncpg.Record, Followed | None]:
    """The subscription a link's token names and what it follows; 404 for a token that names none."""
    if not _TOKEN.fullmatch(token):
        raise NotFoundException()
    async with pool.acquire() as conn:
        row = await conn.fetchrow(
            "SELECT id, subject, kind, owner, confirmed, stopped_at, address, token FROM subscriptions"
            " WHERE token = $1",
            token,
        )
        if row is None:
            raise NotFoundException()
        return row, await followed(conn, row["subject"])


async def _confirmable(pool: asyncpg.Pool, row: asyncpg.Record) -> bool:
    """Whether the subscription's confirmation link still confirms: within CONFIRM_DAYS of the newest mail
    that brought it, counted from its delivery (a mail that waited in the outbox for a channel to be set
    up, or was sent again from /petugas/pesan, arrives with a week to go), and while one is still to be
    delivered. An old mail found later (forwarded, or in a mailbox someone else now reads) must not start
    messages its owner has long forgotten asking for; asking again sends a mail that renews it."""
    return bool(await pool.fetchval(
        "SELECT EXISTS (SELECT 1 FROM outbox WHERE address = $1 AND purpose = 'confirm' AND link = $2"
        " AND (status = 'pending' OR coalesce(delivered_at, created_at) > now() - make_interval(days => $3)))",
        row["address"], f"/ikuti/{row['token']}", CONFIRM_DAYS,
    ))  # fmt: skip


async def _subscribe(pool: asyncpg.Pool, subject: Followed, email: str) -> None:
    """Record the follower (unconfirmed) and queue its confirmation mail, unless the address follows
    already, was sent this subscription's confirmation within the hour, or had CONFIRMATIONS_PER_HOUR
    mails of any. A stopped subscription starts again unconfirmed, with a new token."""
    async with pool.acquire() as conn, conn.transaction():
        # One request per address at a time (recovery.py takes the same lock): two racing requests must
        # not both find the hour's count below the limit, nor both create the subscription.
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


async def _stop(pool: asyncpg.Pool, row: asyncpg.Record) -> None:
    """Stop the subscription (a proposer's: every one with the same owner) and cancel what it still had
    to send, its confirmation included."""
    # A proposer's: all with their owner; a follower's: with the copies a merge made of it (owned by it).
    owner: Any = row["owner"] if row["kind"] == "proposer" else None
    async with pool.acquire() as conn, conn.transaction():
        stopped = await conn.fetch(
            "UPDATE subscriptions SET stopped_at = coalesce(stopped_at, now())"
            " WHERE id = $1 OR owner = $1 OR owner = $2::uuid RETURNING id, token",
            row["id"], owner,
        )  # fmt: skip
        await outbox.cancel_queued(conn, [r["id"] for r in stopped], [f"/ikuti/{r['token']}" for r in stopped])


def _short(title: str, limit: int = 120) -> str:
    title = " ".join(title.split())
    return title if len(title) <= limit else title[:limit].rsplit(" ", 1)[0] + "…"
