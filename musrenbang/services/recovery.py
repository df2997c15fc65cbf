"""A lost tracking code: the codes of a proposer's newest proposals sent to the phone number or e-mail
address they proposed with (one outbox message, which the delivery worker sends by SMS, WhatsApp or
e-mail). The page is http/recovery.py ("Lupa kode?").

A proposal returned for revision is listed, however old, with its secret too: it was shown once, at
submission, and without it the proposer could never revise. The message goes only to the contact the
proposal was made with, which is what the secret proves anyway.

`send_codes` tells its caller nothing: a known number, an unknown one and one that was sent its codes
SENDS_PER_HOUR times this hour are all the same to it, so that the page can give them the very same
answer. Otherwise the form would tell anyone whether a given number made a proposal.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable

import asyncpg

from musrenbang.delivery.worker import wake_senders
from musrenbang.domain import proposal as proposal_rules

SENDS_PER_HOUR = 3
"""Messages with codes sent to one number or address per hour."""
CODES = 10
"""The proposals a message lists: every one returned for revision, and the newest others up to this many
in all."""


async def send_codes(pool: asyncpg.Pool, address: str, by_email: bool, secret_of: Callable[[str], str]) -> None:
    """Queue one message listing the codes of the proposals made with `address` (every one returned for
    revision, and the newest others up to CODES), unless none was or SENDS_PER_HOUR were sent there this
    hour. By e-mail for an address; for a number, by WhatsApp when the proposer chose it (their newest
    proposal says), else by SMS. `address`: a number as +62…, or an e-mail address in lower case."""
    where = "c.email IS NOT NULL AND lower(c.email) = $1" if by_email else "c.phone = $1"
    async with pool.acquire() as conn, conn.transaction():
        # One request per address at a time (services/following.py takes the same lock): two racing
        # requests must not both find the hour's count below the limit.
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
