"""What the worker records of a send, against the real database and real servers: an answer PostgreSQL
cannot store holds nothing up, a record the database refuses still moves the message on, a mistake in the
configuration fails nothing for good (fixing it delivers what waited), and a message the other side never
takes is given up after GIVE_UP_ATTEMPTS tries."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest

from musrenbang.delivery.worker import GIVE_UP_ATTEMPTS, NOT_RECORDED, wake_senders
from tests.delivery.stubs import GatewayStub, SmtpSink
from tests.delivery.test_worker import _all_in, _started, delivering, queue
from tests.waiting import eventually

pytestmark = pytest.mark.slow

POISON = "+6281200000001"


async def test_an_answer_with_a_nul_byte_fails_its_message_and_holds_no_other_up(
    database_url: str, free_port: int
) -> None:
    """The gateway refuses one number with a body holding a NUL byte, which PostgreSQL's text cannot hold.
    It was stored as it came: the record failed, the claim rolled back, and the message was sent again at
    once, for ever, first of the queue."""
    with GatewayStub(refused={POISON: (400, "nomor\x00tidak valid")}) as gateway:
        server = await asyncio.to_thread(_started, free_port, database_url, {"MUSRENBANG_SMS_GATEWAY_URL": gateway.url})
        conn = await asyncpg.connect(database_url)
        try:
            poison = await queue(conn, "sms", POISON)
            await conn.execute("UPDATE outbox SET next_attempt_at = now() - interval '1 minute' WHERE id = $1", poison)
            others = [await queue(conn, "sms", f"+62812999{n:05d}") for n in range(20)]
            await wake_senders(conn)

            async def settled() -> bool:
                return not await conn.fetchval("SELECT count(*) FROM outbox WHERE status = 'pending'")

            await eventually(settled, timeout=15, what="every message settled")
            row = await conn.fetchrow("SELECT status, attempts, last_error FROM outbox WHERE id = $1", poison)
            await asyncio.sleep(1.5)
        finally:
            await conn.close()
            server.stop()
    assert (row["status"], row["attempts"], row["last_error"]) == ("failed", 1, "HTTP 400: nomor tidak valid")
    assert gateway.seen(str(poison)) == 1
    assert sorted(gateway.delivered) == sorted(str(i) for i in others)
    assert "CharacterNotInRepertoire" not in server.log.read_text()


async def test_a_record_the_database_refuses_becomes_a_retry_with_a_plain_error(database_url: str) -> None:
    """Whatever PostgreSQL refuses in what became of a send (here a rule a DBA added on last_error), the
    message is not left due with no try counted, to be sent again at once: a retry is recorded, with an
    error of our own words, and it waits its back-off."""
    conn = await asyncpg.connect(database_url)
    await conn.execute("""
        CREATE FUNCTION refuse_marked() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF NEW.last_error LIKE '%tolak-saya%' THEN
                RAISE EXCEPTION 'last_error refused' USING ERRCODE = 'check_violation';
            END IF;
            RETURN NEW;
        END $$;
        CREATE TRIGGER refuse_marked BEFORE UPDATE ON outbox FOR EACH ROW EXECUTE FUNCTION refuse_marked();
    """)  # fmt: skip
    try:
        with GatewayStub(refused={POISON: (500, "tolak-saya")}) as gateway:
            message_id = await queue(conn, "sms", POISON)
            async with delivering(database_url, MUSRENBANG_SMS_GATEWAY_URL=gateway.url):

                async def recorded() -> asyncpg.Record | None:
                    return await conn.fetchrow("SELECT attempts, last_error, next_attempt_at - now() AS wait"
                                               " FROM outbox WHERE id = $1 AND attempts > 0", message_id)  # fmt: skip

                row = await eventually(recorded, timeout=10, what="the retry recorded")
                tries = gateway.seen(str(message_id))
            status = await conn.fetchval("SELECT status FROM outbox WHERE id = $1", message_id)
    finally:
        await conn.close()
    assert row is not None and (status, row["attempts"]) == ("pending", 1)
    assert row["last_error"] == NOT_RECORDED.format("CheckViolationError")
    # Its back-off after a first try (up to 1 s, from the writer's clock; read a moment before on this
    # connection it may show a few microseconds more), not the ten-minute lease.
    assert 0 < row["wait"].total_seconds() <= 1.5
    assert tries == 1


async def test_a_mistake_in_the_configuration_fails_nothing_and_fixing_it_delivers_what_waited(
    database_url: str, free_port: int
) -> None:
    """SMTP credentials forgotten (the server refuses to relay, 554 5.7.1 at RCPT) and a typo in the
    gateway's path (404): each is retried, never failed for good; fixed, everything leaves."""
    with SmtpSink(credentials=("pengirim", "rahasia"), relay_needs_login=True) as smtp, GatewayStub() as gateway:
        wrong = {"MUSRENBANG_SMTP_URL": f"smtp://127.0.0.1:{smtp.port}",
                 "MUSRENBANG_SMS_GATEWAY_URL": gateway.url.replace("/kirim", "/kirim-sms")}  # fmt: skip
        server = await asyncio.to_thread(_started, free_port, database_url, wrong)
        conn = await asyncpg.connect(database_url)
        try:
            for n in range(3):
                await queue(conn, "email", f"warga{n}@example.org")
                await queue(conn, "sms", f"+62812555{n:05d}")
            await wake_senders(conn)

            async def all_tried() -> bool:
                return await conn.fetchval("SELECT bool_and(attempts >= 1) FROM outbox")

            await eventually(all_tried, timeout=15, what="every message tried with the mistake")
            rows = await conn.fetch("SELECT channel, status, last_error FROM outbox")
            server.stop()
            right = {"MUSRENBANG_SMTP_URL": smtp.url, "MUSRENBANG_SMS_GATEWAY_URL": gateway.url}
            server = await asyncio.to_thread(_started, free_port, database_url, right)
            # Their next tries are due within the back-off (a few seconds).
            await eventually(_all_in(conn, "delivered"), timeout=30, what="everything delivered once fixed")
        finally:
            await conn.close()
            server.stop()
    assert {r["status"] for r in rows} == {"pending"}
    assert all("554 5.7.1" in r["last_error"] for r in rows if r["channel"] == "email")
    assert all("HTTP 404" in r["last_error"] for r in rows if r["channel"] == "sms")
    assert len(smtp.messages) == 3 and len(gateway.delivered) == 3


async def test_a_message_never_taken_is_given_up_after_its_last_try(database_url: str) -> None:
    """A gateway that answers 500 to one message for ever: it was tried hourly for ever (attempts 1001);
    its last try fails it, with why, and the other messages leave."""
    stuck_number = "+6281200000009"
    conn = await asyncpg.connect(database_url)
    try:
        with GatewayStub(refused={stuck_number: (500, '{"error": "template rejected"}')}) as gateway:
            stuck = await queue(conn, "sms", stuck_number)
            almost = await queue(conn, "sms", "+6281200000010")
            await conn.execute("UPDATE outbox SET attempts = $2, created_at = now() - interval '3 days'"
                               " WHERE id = $1", stuck, GIVE_UP_ATTEMPTS - 1)  # fmt: skip
            await conn.execute("UPDATE outbox SET attempts = $2 WHERE id = $1", almost, GIVE_UP_ATTEMPTS - 2)
            fine = [await queue(conn, "sms", f"+62812777{n:05d}") for n in range(3)]
            async with delivering(database_url, MUSRENBANG_SMS_GATEWAY_URL=gateway.url):

                async def settled() -> bool:
                    return await conn.fetchval("SELECT count(*) FROM outbox WHERE status = 'delivered'") == 4 and \
                        await conn.fetchval("SELECT status FROM outbox WHERE id = $1", stuck) == "failed"  # fmt: skip

                await eventually(settled, timeout=10, what="the stuck message given up, the others delivered")
            row = await conn.fetchrow("SELECT status, attempts, last_error FROM outbox WHERE id = $1", stuck)
    finally:
        await conn.close()
    assert (row["status"], row["attempts"]) == ("failed", GIVE_UP_ATTEMPTS)
    assert row["last_error"] == (f"given up after {GIVE_UP_ATTEMPTS} tries (musrenbang outbox retry queues it"
                                 ' again); the last: HTTP 500: {"error": "template rejected"}')  # fmt: skip
    assert gateway.seen(str(stuck)) == 1
    assert sorted(gateway.delivered) == sorted(str(i) for i in [almost, *fine])
