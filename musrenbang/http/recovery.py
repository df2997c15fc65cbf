"""A lost tracking code (`/lacak/lupa`): the proposer types the phone number or e-mail address they
proposed with, and the codes of their newest proposals are sent there (one outbox message, which the
delivery worker sends by SMS, WhatsApp or e-mail). A proposal returned for revision is listed, however old,
with its secret too: it was shown once, at submission, and without it the proposer could never revise. The
message goes only to the contact the proposal was made with, which is what the secret proves anyway.

The page never says whether the number is known: a known number, an unknown one and one that was sent
its codes three times this hour get the very same answer (only a malformed entry is answered with its
error, and too many requests from one client with 429, both for anyone alike). Otherwise the form would
tell anyone whether a given number made a proposal.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable

import asyncpg
from litestar import Controller, Request, get, post
from litestar.response import Template

from musrenbang.delivery.worker import wake_senders
from musrenbang.domain import proposal as proposal_rules
from musrenbang.domain import values
from musrenbang.domain.errors import N_
from musrenbang.http.deps import PoolDep, ProposalsDep
from musrenbang.http.follow import valid_email
from musrenbang.http.i18n import translate
from musrenbang.http.ratelimit import client_address, count_attempt
from musrenbang.http.render import page

REQUESTS_PER_HOUR = 5
"""Requests accepted per client address per hour."""
SENDS_PER_HOUR = 3
"""Messages with codes sent to one number or address per hour."""
CODES = 10
"""The proposals a message lists: every one returned for revision, and the newest others up to this many
in all."""


def recovery_address(typed: str) -> tuple[str, bool]:
    """The number (+62…) or e-mail address (lower case) typed, and whether it is an e-mail address;
    ValueError with the Indonesian message when it is neither."""
    text = typed.strip()
    if "@" in text:
        return valid_email(text), True
    try:
        return values.normalize_phone(text), False
    except ValueError:
        raise ValueError(N_("tulis nomor HP (misalnya 0812-3456-7890) atau alamat e-mail yang Anda pakai")) from None


class RecoveryPages(Controller):
    path = "/lacak/lupa"
    include_in_schema = False

    @get("/")
    async def recovery_form(self, request: Request) -> Template:
        return page(request, "lacak_lupa.html", values={}, errors={}, sent=False)

    @post("/", status_code=200, request_max_body_size=16 * 1024)
    async def send_codes(self, request: Request, pool: PoolDep, proposals: ProposalsDep) -> Template:
        typed = str((await request.form()).get("contact", ""))
        try:
            address, by_email = recovery_address(typed)
        except ValueError as exc:
            return page(request, "lacak_lupa.html", status=422, values={"contact": typed},
                        errors={"contact": translate(request, exc.args[0])}, sent=False)  # fmt: skip
        await count_attempt(pool, "recovery", client_address(request, request.app.state.settings.trust_proxy),
                            REQUESTS_PER_HOUR)  # fmt: skip
        await _send_codes(pool, address, by_email, proposals.revision_secret)
        return page(request, "lacak_lupa.html", values={}, errors={}, sent=True)


async def _send_codes(pool: asyncpg.Pool, address: str, by_email: bool, secret_of: Callable[[str], str]) -> None:
    """Queue one message listing the codes of the proposals made with `address` (every one returned for
    revision, and the newest others up to CODES), unless none was or SENDS_PER_HOUR were sent there this
    hour. By e-mail for an address; for a number, by WhatsApp when the proposer chose it (their newest
    proposal says), else by SMS."""
    where = "c.email IS NOT NULL AND lower(c.email) = $1" if by_email else "c.phone = $1"
    async with pool.acquire() as conn, conn.transaction():
        # One request per address at a time (follow.py takes the same lock): two racing requests must not
        # both find the hour's count below the limit.
        await conn.execute("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", f"outbox:{address}")
        # Every proposal returned for revision (whatever its age: its secret is what the proposer came
        # for), then the newest others up to CODES in all; listed newest first. `total` counts them all,
        # `newest_notify` is the channel the newest proposal chose, listed or not.
        rows = await conn.fetch(
            "WITH mine AS (SELECT c.proposal_code AS code, c.notify, c.created_at, p.year, p.title, p.status,"
            "  p.status IS NOT DISTINCT FROM $3 AS returned"
            "  FROM proposer_contacts c LEFT JOIN proposals p ON p.code = c.proposal_code"
            f"  WHERE {where}),"
            " ranked AS (SELECT *, row_number() OVER (PARTITION BY returned ORDER BY created_at DESC, code) AS place,"
            "  count(*) FILTER (WHERE returned) OVER () AS returned_count, count(*) OVER () AS total,"
            "  first_value(notify) OVER (ORDER BY created_at DESC, code) AS newest_notify FROM mine)"
            " SELECT code, notify, year, title, status, total, newest_notify FROM ranked"
            " WHERE returned OR place <= $2 - returned_count ORDER BY created_at DESC, code",
            address, CODES, proposal_rules.DIKEMBALIKAN,
        )  # fmt: skip
        if not rows:
            return
        sent = await conn.fetchval(
            "SELECT count(*) FROM outbox WHERE address = $1 AND purpose = 'recovery'"
            " AND created_at > now() - interval '1 hour'",
            address,
        )  # fmt: skip
        if sent >= SENDS_PER_HOUR:
            return
        chosen = rows[0]["newest_notify"]
        channel = "email" if by_email else chosen if chosen in ("sms", "whatsapp") else "sms"
        await conn.execute(
            "INSERT INTO outbox (id, subscription, dedupe, purpose, channel, address, title, body, link)"
            " VALUES ($1, NULL, $2, 'recovery', $3, $4, $5, $6, '/lacak')",
            uuid.uuid4(), str(uuid.uuid4()), channel, address, "Kode pelacakan usulan Anda", message(rows, secret_of),
        )  # fmt: skip
        await wake_senders(conn)


def message(rows: list[asyncpg.Record], secret_of: Callable[[str], str]) -> str:
    """The codes, newest first, each with its RKPD year and title (a proposal the read model has not
    taken in yet: its code alone), and under one returned for revision, its secret; then how many older
    ones were left out (`total` in each row: every proposal made with the address)."""
    lines = []
    for r in rows:
        code = f"{r['code'][:4]}-{r['code'][4:]}"
        if r["title"] is None:
            lines.append(code)
            continue
        title = " ".join(str(r["title"]).split())
        title = title if len(title) <= 60 else title[:60].rsplit(" ", 1)[0] + "…"
        lines.append(f"{code} (RKPD {r['year']}): {title}")
        if r["status"] == proposal_rules.DIKEMBALIKAN:
            secret = secret_of(r["code"])
            lines.append("  dikembalikan untuk diperbaiki; kode rahasia: " + "-".join(
                secret[i : i + 4] for i in range(0, len(secret), 4)))  # fmt: skip
    left_out = rows[0]["total"] - len(rows)
    if left_out:
        lines.append(f"{left_out} usulan lain yang lebih lama tidak dicantumkan.")
    return ("Kode pelacakan usulan Anda:\n" + "\n".join(lines)
            + "\nMasukkan kode di halaman Lacak usulan untuk melihat perkembangannya.")  # fmt: skip
