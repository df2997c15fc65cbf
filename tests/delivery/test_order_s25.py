"""Messages to one address leave one at a time, in the order they were queued (review s25: the rows of one
CSV of milestones, recorded in one transaction, reached a mailbox "selesai dikerjakan" first and "mulai
dikerjakan" 7 ms later). Against the real database: the claim itself from many sessions at once, what
holds an address back and what does not, and the senders of two worker processes sending to a real SMTP
server."""

from __future__ import annotations

import asyncio
import json
import random
import uuid
from collections import defaultdict

import asyncpg
import pytest
from aiosmtpd.smtp import SMTP as SMTPServer
from aiosmtpd.smtp import Envelope, Session

from musrenbang.delivery.channels import Outcome
from musrenbang.delivery.worker import _CLAIM, GIVE_UP_ATTEMPTS, LEASE, _Claim, _write_outcome, requeue_failed
from musrenbang.domain.notices import Notice
from musrenbang.eventlog import outbox
from tests.delivery.stubs import SmtpSink
from tests.delivery.test_worker import EMAIL, PUBLIC, delivering, queue
from tests.waiting import eventually

SUBJECT = "rkpd/2022/DBMSDA-009"
OTHER_EMAIL, THIRD_EMAIL = "sri.lestari@contoh.id", "agus.salim@contoh.id"


async def _follow(conn: asyncpg.Connection, address: str) -> None:
    await conn.execute(
        "INSERT INTO subscriptions (id, subject, channel, address, link, kind, token, confirmed)"
        " VALUES ($1, $2, 'email', $3, '/telusur/rkpd/2022/DBMSDA-009', 'follower', $4, true)",
        uuid.uuid4(), SUBJECT, address, uuid.uuid4().hex + uuid.uuid4().hex,
    )  # fmt: skip


async def _news(conn: asyncpg.Connection, count: int) -> list[str]:
    """`count` pieces of news about SUBJECT queued in one transaction through eventlog/outbox.py, as an
    append of `count` events queues them; their titles, in the log's order. The events' ids run backwards:
    the rows used to be inserted in the order of those ids, the reverse of the log's."""
    event_ids = sorted((uuid.uuid4() for _ in range(count)), reverse=True)
    told = [(e, Notice(subject=SUBJECT, purpose="status", title=f"Kabar {n}", body=f"Kabar nomor {n}."))
            for n, e in enumerate(event_ids, 1)]  # fmt: skip
    async with conn.transaction():
        await outbox.enqueue_notices(conn, told)
    return [n.title for _, n in told]


async def _claim(conn: asyncpg.Connection) -> asyncpg.Record | None:
    return await conn.fetchrow(_CLAIM, ["email", "sms"], LEASE)


async def _record(conn: asyncpg.Connection, row: asyncpg.Record, outcome: Outcome) -> None:
    await _write_outcome(conn, _Claim(row["id"], row["channel"], row["attempts"], row["leased_until"]), outcome)


async def test_claims_from_many_sessions_take_an_address_s_messages_one_at_a_time_in_order(database_url: str) -> None:
    """Eight sessions claim side by side (the senders of two processes), each 'sending' for a random few
    milliseconds: no address ever has two messages out at once, and each gets its news in the log's order.
    The claim of before handed an address's messages to every session at once, in the rows' order."""
    addresses = [f"warga{n}@contoh.id" for n in range(6)]
    conns = [await asyncpg.connect(database_url) for _ in range(8)]
    try:
        for address in addresses:
            await _follow(conns[0], address)
        titles = await _news(conns[0], 5)
        out: dict[str, str] = {}
        overlaps: list[tuple[str, str, str]] = []
        claimed: dict[str, list[str]] = defaultdict(list)

        async def sender(conn: asyncpg.Connection) -> None:
            while True:
                row = await _claim(conn)
                if row is None:
                    if not await conn.fetchval("SELECT count(*) FROM outbox WHERE status = 'pending'"):
                        return
                    await asyncio.sleep(0.002)
                    continue
                address = row["address"]
                if address in out:
                    overlaps.append((address, out[address], row["title"]))
                out[address] = row["title"]
                claimed[address].append(row["title"])
                await asyncio.sleep(random.uniform(0.0, 0.01))  # the send
                out.pop(address, None)  # before the record: no claim can see the message delivered before it
                await _record(conn, row, Outcome("delivered"))

        await asyncio.gather(*(sender(c) for c in conns))
    finally:
        for c in conns:
            await c.close()
    assert not overlaps, f"claimed while an earlier message to the address was out: {overlaps}"
    assert claimed == {a: titles for a in addresses}


async def test_what_holds_an_address_back_and_what_does_not(database_url: str) -> None:
    """A message being sent, or waiting for its retry, holds back the later ones to its address (a retry
    makes them due with it), and only to its address; one delivered, failed for good or cancelled holds
    nothing back; one queued again waits behind what its address still has pending."""
    conn = await asyncpg.connect(database_url)
    try:
        async with conn.transaction():
            first, second, third, fourth = [await queue(conn, "email", EMAIL) for _ in range(4)]
            other = await queue(conn, "email", OTHER_EMAIL)

        one, two = await _claim(conn), await _claim(conn)
        assert one is not None and two is not None and {one["id"], two["id"]} == {first, other}
        assert await _claim(conn) is None  # `second` waits for `first`, being sent
        sending = one if one["id"] == first else two
        await _record(conn, sending, Outcome("retry", "451 4.3.0 coba lagi", retry_after=600))
        due = dict(await conn.fetch("SELECT id, next_attempt_at FROM outbox WHERE address = $1", EMAIL))
        assert due[second] == due[third] == due[fourth] == due[first]  # made due with the retry, not before
        assert await _claim(conn) is None

        await conn.execute("UPDATE outbox SET next_attempt_at = now() WHERE address = $1", EMAIL)  # its time came
        again = await _claim(conn)
        assert again is not None and again["id"] == first and await _claim(conn) is None
        await _record(conn, again, Outcome("failed", "550 5.1.1 tidak ada"))  # refused for good
        taken = await _claim(conn)
        assert taken is not None and taken["id"] == second
        await conn.execute("UPDATE outbox SET status = 'cancelled' WHERE id = $1", third)  # a stop, meanwhile
        await _record(conn, taken, Outcome("delivered"))

        assert await requeue_failed(conn) == {"email": 1}  # `first`, behind `fourth`
        taken = await _claim(conn)
        assert taken is not None and taken["id"] == fourth and await _claim(conn) is None
        await _record(conn, taken, Outcome("delivered"))
        taken = await _claim(conn)
        assert taken is not None and taken["id"] == first
    finally:
        await conn.close()


class _Refusing(SmtpSink):
    """Answers 451 (try again later) to the text of every message whose subject begins with "Tolak"."""

    async def handle_DATA(self, server: SMTPServer, session: Session, envelope: Envelope) -> str:  # noqa: N802
        if b"\nSubject: Tolak" in (envelope.original_content or b""):
            return "451 4.3.0 coba lagi nanti"
        return await super().handle_DATA(server, session, envelope)

    def subjects(self, address: str) -> list[str]:
        return [str(m["Subject"]) for _, to, m in self.messages if to == [address]]


@pytest.mark.slow  # delivery workers and an SMTP server
async def test_two_workers_send_one_transaction_s_news_to_a_mailbox_in_order_one_at_a_time(database_url: str) -> None:
    """The senders of two processes (4 each) start on six messages to one address queued in one
    transaction; the SMTP server takes its time over each. It sees them one after another — never a second
    RCPT before the first message was taken — and in the log's order."""
    conn = await asyncpg.connect(database_url)
    try:
        await _follow(conn, EMAIL)
        titles = await _news(conn, 6)
        with SmtpSink(data_delay=0.05) as smtp:
            env = {"MUSRENBANG_SMTP_URL": smtp.url, "MUSRENBANG_PUBLIC_URL": PUBLIC}
            async with delivering(database_url, **env), delivering(database_url, **env):
                await eventually(_none_pending(conn), timeout=20, what="every message delivered")
        statuses = [r[0] for r in await conn.fetch("SELECT status FROM outbox")]
    finally:
        await conn.close()
    assert statuses == ["delivered"] * 6
    assert [str(m["Subject"]) for _, _, m in smtp.messages] == titles
    steps = [what for _, what in smtp.events if what in ("RCPT", "DATA", "accepted")]
    assert steps == ["RCPT", "DATA", "accepted"] * 6, steps  # one at a time


def _none_pending(conn: asyncpg.Connection) -> object:
    async def check() -> bool:
        return not await conn.fetchval("SELECT count(*) FROM outbox WHERE status = 'pending'")

    return check


@pytest.mark.slow  # delivery workers and an SMTP server
async def test_a_retry_holds_back_its_address_only_and_a_message_given_up_holds_back_nothing(
    database_url: str,
) -> None:
    """Queued in one transaction: to EMAIL a message the server refuses for now, then one it takes; to
    OTHER_EMAIL one it takes; to THIRD_EMAIL one refused for the last time it may be tried, then one it
    takes. The second to EMAIL is not tried while the first waits for its retry; the others go meanwhile,
    the one given up included, and the one after it."""
    conn = await asyncpg.connect(database_url)
    try:
        async with conn.transaction():
            ids = {}
            for name, address in (("waits", EMAIL), ("behind", EMAIL), ("other", OTHER_EMAIL),
                                  ("given_up", THIRD_EMAIL), ("after", THIRD_EMAIL)):  # fmt: skip
                ids[name] = await queue(conn, "email", address)
                title = f"Tolak {name}" if name in ("waits", "given_up") else f"Kabar {name}"
                await conn.execute("UPDATE outbox SET title = $2 WHERE id = $1", ids[name], title)
            await conn.execute("UPDATE outbox SET attempts = 4 WHERE id = $1", ids["waits"])  # next try in 16 s
            await conn.execute("UPDATE outbox SET attempts = $2 WHERE id = $1", ids["given_up"], GIVE_UP_ATTEMPTS - 1)

        async def row(name: str) -> asyncpg.Record:
            return await conn.fetchrow("SELECT status, attempts, last_error, next_attempt_at FROM outbox"
                                       " WHERE id = $1", ids[name])  # fmt: skip

        async def settled() -> bool:
            done = await conn.fetchval("SELECT count(*) FROM outbox WHERE status <> 'pending'")
            waiting = await row("waits")
            return done == 3 and waiting["attempts"] >= 5

        with _Refusing() as smtp:
            env = {"MUSRENBANG_SMTP_URL": smtp.url, "MUSRENBANG_PUBLIC_URL": PUBLIC}
            async with delivering(database_url, **env):
                await eventually(settled, timeout=20, what="all but the retried address's messages settled")
                await asyncio.sleep(1.0)  # the senders look again: `behind` is still held back
                waits, behind = await row("waits"), await row("behind")
                given_up, after, other = await row("given_up"), await row("after"), await row("other")
                assert smtp.subjects(EMAIL) == []
                # Its time comes (not 16 s from now) and the server takes it: then the one behind it.
                await conn.execute("UPDATE outbox SET title = 'Kabar waits' WHERE id = $1", ids["waits"])
                await conn.execute("UPDATE outbox SET next_attempt_at = now() WHERE address = $1"
                                   " AND status = 'pending'", EMAIL)  # fmt: skip
                await eventually(_none_pending(conn), timeout=20, what="the held-back address delivered")
    finally:
        await conn.close()
    assert waits["status"] == "pending" and waits["last_error"].endswith("451 4.3.0 coba lagi nanti")
    assert (behind["status"], behind["attempts"], behind["last_error"]) == ("pending", 0, None)
    assert behind["next_attempt_at"] == waits["next_attempt_at"]
    assert other["status"] == "delivered"
    assert given_up["status"] == "failed" and given_up["last_error"].startswith(f"given up after {GIVE_UP_ATTEMPTS}")
    assert (after["status"], after["attempts"]) == ("delivered", 1)
    assert smtp.subjects(EMAIL) == ["Kabar waits", "Kabar behind"]
    assert smtp.subjects(THIRD_EMAIL) == ["Kabar after"] and smtp.subjects(OTHER_EMAIL) == ["Kabar other"]


async def test_the_claim_asks_the_index_of_each_candidate_whatever_the_statistics(database_url: str) -> None:
    """The claim runs at every look of every sender. With 30,000 messages settled and 9,000 pending (3,000
    addresses, each with one waiting for a retry and two held back with it) and 50 new ones due, it reads
    the due messages from their index and asks the index on (channel, address, queued) of each whether an
    earlier one is pending: with statistics taken while the outbox was empty (a burst since), and fresh
    ones. (With the first, the question asked as a join read the whole channel for each message.)"""
    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute("VACUUM ANALYZE outbox")
        await conn.execute("""
            INSERT INTO outbox (id, dedupe, purpose, channel, address, title, body, link, status)
            SELECT gen_random_uuid(), 'settled:' || i, 'status', 'email', 'lama' || (i % 5000) || '@contoh.id',
                   'Kabar', 'Kabar lama.', '/lacak/ABCD-EFGH', 'delivered'
            FROM generate_series(1, 30000) AS i;
            INSERT INTO outbox (id, dedupe, purpose, channel, address, title, body, link, next_attempt_at)
            SELECT gen_random_uuid(), 'waiting:' || i, 'status', 'email', 'warga' || (i % 3000) || '@contoh.id',
                   'Kabar', 'Kabar baru.', '/lacak/ABCD-EFGH', now() + interval '30 minutes'
            FROM generate_series(1, 9000) AS i;
            INSERT INTO outbox (id, dedupe, purpose, channel, address, title, body, link)
            SELECT gen_random_uuid(), 'new:' || i, 'status', 'email', 'baru' || i || '@contoh.id', 'Kabar',
                   'Kabar baru.', '/lacak/ABCD-EFGH'
            FROM generate_series(1, 50) AS i;
        """)  # fmt: skip
        plans = [await _due_plan(conn)]
        await conn.execute("ANALYZE outbox")
        plans.append(await _due_plan(conn))
    finally:
        await conn.close()
    for plan in plans:
        scans = [n for n in _nodes(plan) if "Relation Name" in n]
        assert [(n.get("Index Name"), n["Parent Relationship"]) for n in scans] == [
            ("outbox_due", "Outer"), ("outbox_recipient", "SubPlan")], plan  # a probe per message  # fmt: skip


async def _due_plan(conn: asyncpg.Connection) -> dict:
    """The plan of the claim's `due`: which messages it looks at."""
    [plan] = json.loads(await conn.fetchval(f"EXPLAIN (FORMAT JSON) {_CLAIM}", ["email", "sms"], LEASE))
    return next(n for n in _nodes(plan["Plan"]) if n.get("Subplan Name") == "CTE due")


def _nodes(node: dict) -> list[dict]:
    return [node, *(n for child in node.get("Plans", ()) for n in _nodes(child))]
