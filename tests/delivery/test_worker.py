"""The delivery worker inside real `musrenbang serve` processes, sending the outbox to a real SMTP server
and a real HTTP gateway on this machine: each message leaves once, waits and is retried while the other
side is down, fails for good when refused, waits when its channel is not configured (and staff see it),
and survives a crash between the gateway taking it and our commit."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable

import asyncpg
import httpx
import pytest

from musrenbang.config import Settings
from musrenbang.delivery.worker import LEASE, DeliveryWorker, wake_senders
from tests.delivery.stubs import GatewayStub, SmtpSink
from tests.delivery.stubs import free_port as another_port
from tests.http.city_setup import sign_in
from tests.http.conftest import payload
from tests.http.test_staff import add_user
from tests.server import Server
from tests.waiting import eventually

pytestmark = pytest.mark.slow

PUBLIC = "https://musrenbang.example.go.id"
PHONE, OTHER_PHONE, EMAIL = "+6281234567890", "+6285711112222", "budi.santoso@example.org"


async def queue(conn: asyncpg.Connection, channel: str, address: str, *, subscription: uuid.UUID | None = None,
                status: str = "pending", last_error: str | None = None) -> uuid.UUID:  # fmt: skip
    """An outbox row as eventlog/outbox.py writes one (code recoveries and confirmations have no subscription)."""
    message_id = uuid.uuid4()
    await conn.execute(
        "INSERT INTO outbox (id, subscription, dedupe, purpose, channel, address, title, body, link, status,"
        " last_error) VALUES ($1, $2, $3, 'status', $4, $5, 'Kabar usulan ABCD-EFGH', $6, '/lacak/ABCD-EFGH',"
        " $7, $8)",
        message_id, subscription, str(message_id), channel, address, "Usulan Anda diterima oleh kelurahan.",
        status, last_error,
    )  # fmt: skip
    return message_id


def _all_in(conn: asyncpg.Connection, status: str) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        return not await conn.fetchval("SELECT count(*) FROM outbox WHERE status <> $1", status)

    return check


@contextlib.asynccontextmanager
async def delivering(database_url: str, **env: str) -> AsyncIterator[DeliveryWorker]:
    """The delivery worker of one server process, in this one (its senders, its LISTEN connection)."""
    settings = Settings.from_env({"MUSRENBANG_DATA_DIR": "/tmp/unused", "MUSRENBANG_DATABASE_URL": database_url,
                                  "MUSRENBANG_POLL_INTERVAL": "1", **env})  # fmt: skip
    worker = DeliveryWorker(database_url, settings)
    worker.start()
    try:
        yield worker
    finally:
        await worker.stop()


def _started(port: int, database_url: str, env: dict[str, str], workers: int = 1, cycle: bool = False) -> Server:
    server = Server(port, database_url=database_url, extra_env=env, workers=workers, cycle=cycle)
    server.wait_healthy()
    return server


async def test_a_message_leaves_once_by_each_configured_channel(database_url: str, free_port: int) -> None:
    with SmtpSink() as smtp, GatewayStub(credentials=("musrenbang", "rahasia")) as gateway:
        # A long poll interval: only a notification wakes the senders in time.
        env = {"MUSRENBANG_SMTP_URL": f"{smtp.url}?from=kabar@bekasikota.go.id",
               "MUSRENBANG_SMS_GATEWAY_URL": gateway.url, "MUSRENBANG_PUBLIC_URL": PUBLIC,
               "MUSRENBANG_POLL_INTERVAL": "60"}  # fmt: skip
        server = await asyncio.to_thread(_started, free_port, database_url, env)
        conn = await asyncpg.connect(database_url)
        try:
            subscription = uuid.uuid4()
            await conn.execute(
                "INSERT INTO subscriptions (id, subject, channel, address, link, kind, token, confirmed) VALUES"
                " ($1, 'ABCD-EFGH', 'email', $2, '/lacak/ABCD-EFGH', 'follower', 'tokenrahasia123', true)",
                subscription, EMAIL,
            )  # fmt: skip
            mail = await queue(conn, "email", EMAIL, subscription=subscription)
            sms = await queue(conn, "sms", PHONE)
            whatsapp = await queue(conn, "whatsapp", OTHER_PHONE)
            await wake_senders(conn)  # rows written without an event: no append notified the senders
            await eventually(_all_in(conn, "delivered"), timeout=10, what="delivered before the next poll")
            rows = await conn.fetch("SELECT attempts, delivered_at, last_error FROM outbox")
            assert all(r["attempts"] == 1 and r["delivered_at"] and r["last_error"] is None for r in rows)
            await wake_senders(conn)
            await asyncio.sleep(0.5)  # woken again, the senders find nothing more to send
        finally:
            await conn.close()
            server.stop()
    sender, recipients, email = smtp.messages[0]
    assert len(smtp.messages) == 1 and (sender, recipients) == ("kabar@bekasikota.go.id", [EMAIL])
    assert email["Message-ID"] == f"<{mail}@musrenbang.example.go.id>"  # the outbox id: a resend is recognisable
    assert (email["From"], email["To"], email["Subject"]) == ("kabar@bekasikota.go.id", EMAIL, "Kabar usulan ABCD-EFGH")
    assert email["List-Unsubscribe"] == f"<{PUBLIC}/berhenti/tokenrahasia123>"
    text = email.get_content()
    assert "Usulan Anda diterima oleh kelurahan." in text and f"{PUBLIC}/lacak/ABCD-EFGH" in text
    assert f"{PUBLIC}/berhenti/tokenrahasia123" in text
    assert sorted((r.body["id"], r.body["channel"], r.body["to"]) for r in gateway.requests) == sorted(
        [(str(sms), "sms", PHONE), (str(whatsapp), "whatsapp", OTHER_PHONE)])  # fmt: skip
    for r in gateway.requests:
        assert r.headers["idempotency-key"] == r.body["id"]
        assert r.body["text"] == f"Usulan Anda diterima oleh kelurahan. {PUBLIC}/lacak/ABCD-EFGH"
        assert r.headers["authorization"].startswith("Basic ")
    log = server.log.read_text()
    assert "delivering messages by email, sms, whatsapp" in log
    assert PHONE not in log and EMAIL not in log and "rahasia" not in log


async def test_a_gateway_that_is_down_is_retried_with_back_off_and_every_message_arrives_once(
    database_url: str, free_port: int
) -> None:
    gateway_port = another_port()  # nothing listens there yet
    env = {"MUSRENBANG_SMS_GATEWAY_URL": f"http://127.0.0.1:{gateway_port}/kirim"}
    server = await asyncio.to_thread(_started, free_port, database_url, env)
    conn = await asyncpg.connect(database_url)
    try:
        ids = [str(await queue(conn, "sms", f"+62812000000{n:02d}")) for n in range(5)]

        async def all_tried() -> bool:
            return await conn.fetchval("SELECT bool_and(attempts >= 1 AND last_error LIKE 'cannot reach the"
                                       " gateway%' AND status = 'pending') FROM outbox")  # fmt: skip

        await eventually(all_tried, what="every message tried while the gateway is down")
        health = httpx.get(f"{server.base_url}/health", timeout=30).json()["outbox"]  # says so, and what waits
        assert health["channels"] == ["sms", "whatsapp"] and "cannot reach the gateway" in health["failing"]["sms"]
        assert health["pending"] == 5 and health["oldest_pending_seconds"] > 0
        with GatewayStub(port=gateway_port, failing=2) as gateway:  # back, and busy for two requests
            await eventually(_all_in(conn, "delivered"), what="every message delivered once the gateway is back")
        health = httpx.get(f"{server.base_url}/health", timeout=30).json()["outbox"]
        assert (health["pending"], health.get("failing", {})) == (0, {})  # delivering again (none failing)
        attempts = [r[0] for r in await conn.fetch("SELECT attempts FROM outbox")]
    finally:
        await conn.close()
        server.stop()
    assert gateway.delivered == {i: 1 for i in ids}  # none lost, none twice
    assert len(gateway.requests) == len(ids) + 2 and sum(attempts) >= len(ids) * 2 + 2
    for refused in gateway.requests[:2]:  # answered 503: the next try came after the back-off, not at once
        later = [r.at for r in gateway.requests if r.id == refused.id and r.at > refused.at]
        assert later and later[0] - refused.at >= 1.5, "retried before the back-off (2 s after the 2nd failure)"


async def test_a_refused_message_fails_for_good_and_one_whose_subscription_stopped_is_not_sent(
    database_url: str, free_port: int
) -> None:
    with GatewayStub(refused={PHONE: (400, f'{{"error": "nomor {PHONE} tidak terdaftar"}}')}) as gateway:
        server = await asyncio.to_thread(_started, free_port, database_url,
                                         {"MUSRENBANG_SMS_GATEWAY_URL": gateway.url})  # fmt: skip
        conn = await asyncpg.connect(database_url)
        try:
            refused = await queue(conn, "sms", PHONE)
            fine = await queue(conn, "sms", OTHER_PHONE)
            stopped_subscription = uuid.uuid4()  # the resident stopped the news after this message was queued
            await conn.execute(
                "INSERT INTO subscriptions (id, subject, channel, address, link, kind, token, confirmed, stopped_at)"
                " VALUES ($1, 'ABCD-EFGH', 'sms', '+6281399998888', '/lacak/ABCD-EFGH', 'proposer', 't', true, now())",
                stopped_subscription,
            )  # fmt: skip
            stopped = await queue(conn, "sms", "+6281399998888", subscription=stopped_subscription)
            await wake_senders(conn)

            async def settled() -> bool:
                return not await conn.fetchval("SELECT count(*) FROM outbox WHERE status = 'pending'")

            await eventually(settled, what="both messages settled")
            rows = {r["id"]: r for r in await conn.fetch("SELECT id, status, attempts, last_error FROM outbox")}
            await asyncio.sleep(1.2)
            assert gateway.seen(str(refused)) == 1  # not tried again
        finally:
            await conn.close()
            server.stop()
    assert (rows[fine]["status"], rows[refused]["status"], rows[refused]["attempts"]) == ("delivered", "failed", 1)
    assert (rows[stopped]["status"], gateway.seen(str(stopped))) == ("cancelled", 0)
    assert rows[refused]["last_error"] == 'HTTP 400: {"error": "nomor +62812****7890 tidak terdaftar"}'


async def test_without_a_channel_messages_wait_and_staff_see_them_masked(database_url: str, free_port: int) -> None:
    server = await asyncio.to_thread(_started, free_port, database_url, {})
    conn = await asyncpg.connect(database_url)
    try:
        await queue(conn, "email", EMAIL)
        await queue(conn, "sms", PHONE)
        await queue(conn, "whatsapp", OTHER_PHONE, status="failed", last_error="HTTP 400: nomor +62857****2222 salah")
        await asyncio.sleep(1.5)  # more than a poll interval
        assert await conn.fetchval("SELECT count(*) FROM outbox WHERE status = 'pending' AND attempts = 0") == 2
        tag = uuid.uuid4().hex[:6]
        await asyncio.to_thread(add_user, database_url, f"admin-{tag}", "admin")
        await asyncio.to_thread(add_user, database_url, f"auditor-{tag}", "auditor")
        async with httpx.AsyncClient(base_url=server.base_url) as anonymous:
            assert (await anonymous.get("/petugas/pesan")).status_code in (303, 401)
        auditor = await sign_in(server.base_url, f"auditor-{tag}")
        assert (await auditor.get("/petugas/pesan")).status_code == 403
        await auditor.aclose()
        admin = await sign_in(server.base_url, f"admin-{tag}")
        page = (await admin.get("/petugas/pesan")).text
        await admin.aclose()
    finally:
        await conn.close()
        server.stop()
    assert "Pesan kepada warga" in page
    assert "b***@example.org" in page and "+62812****7890" in page and "+62857****2222" in page
    assert EMAIL not in page and PHONE not in page and OTHER_PHONE not in page
    assert "nomor +62857****2222 salah" in page and "belum dikonfigurasi" in page
    assert "no delivery channel configured" in server.log.read_text()


async def test_two_server_processes_send_each_message_exactly_once(database_url: str, free_port: int) -> None:
    with GatewayStub() as gateway:
        env = {"MUSRENBANG_SMS_GATEWAY_URL": gateway.url}
        server = await asyncio.to_thread(_started, free_port, database_url, env, 2)
        conn = await asyncpg.connect(database_url)
        try:

            async def both_processes_sending() -> bool:  # four senders in each process
                return await conn.fetchval("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                                           " AND application_name = 'musrenbang-delivery'") == 8  # fmt: skip

            await eventually(both_processes_sending, what="8 senders connected")
            async with conn.transaction():
                ids = [str(await queue(conn, "sms", f"+628120000{n:04d}")) for n in range(300)]
            await wake_senders(conn)
            await eventually(_all_in(conn, "delivered"), what="300 messages delivered")
            assert await conn.fetchval("SELECT count(*) FROM outbox WHERE attempts <> 1") == 0
        finally:
            await conn.close()
            server.stop()
    assert sorted(r.id for r in gateway.requests) == sorted(ids)  # each sent once: no dedupe was needed


async def test_a_crash_while_the_gateway_holds_a_message_sends_it_again_after_its_lease_and_the_resident_gets_it_once(
    database_url: str, free_port: int
) -> None:
    message_id = uuid.uuid4()
    with GatewayStub(hold={str(message_id)}) as gateway:
        env = {"MUSRENBANG_SMS_GATEWAY_URL": gateway.url, "MUSRENBANG_SUBMISSIONS_PER_HOUR": "1000"}
        server = await asyncio.to_thread(_started, free_port, database_url, env, 1, True)
        conn = await asyncpg.connect(database_url)
        try:
            await conn.execute(
                "INSERT INTO outbox (id, dedupe, purpose, channel, address, title, body, link) VALUES"
                " ($1, $2, 'status', 'sms', $3, 'Kabar', 'Usulan Anda diterima.', '/lacak/ABCD-EFGH')",
                message_id, str(message_id), PHONE,
            )  # fmt: skip
            assert await asyncio.to_thread(gateway.holding.wait, 20), "the gateway never got the message"

            # While the send is held, no sender holds a transaction (nor its id), so the read models keep up;
            # the message is leased: due again only in about ten minutes.
            held = await conn.fetch(
                "SELECT state, backend_xid FROM pg_stat_activity WHERE datname = current_database()"
                " AND application_name = 'musrenbang-delivery' AND state <> 'active'"
            )
            assert held and all(r["state"] == "idle" and r["backend_xid"] is None for r in held), held
            lease = await conn.fetchval("SELECT extract(epoch FROM next_attempt_at - now()) FROM outbox")
            assert 9 * 60 < lease <= LEASE, lease
            async with httpx.AsyncClient(base_url=server.base_url, timeout=30) as client:
                key = {"Idempotency-Key": str(uuid.uuid4())}
                r = await client.post("/api/v1/proposals", json=payload(), headers=key)
            assert r.status_code == 201 and "x-data-behind" not in r.headers  # its read model caught up

            server.kill()  # the gateway has taken the message; our commit never happens
            row = await conn.fetchrow("SELECT status, attempts FROM outbox WHERE id = $1", message_id)
            assert (row["status"], row["attempts"]) == ("pending", 0)
            server = await asyncio.to_thread(_started, free_port, database_url, env)
            await wake_senders(conn)
            await asyncio.sleep(1.5)
            assert gateway.seen(str(message_id)) == 1  # under its lease: the new server leaves it alone
            # Ten minutes on, the lease has run out (moved here rather than waited for).
            await conn.execute("UPDATE outbox SET next_attempt_at = now() WHERE id = $1", message_id)
            await wake_senders(conn)
            await eventually(_all_in(conn, "delivered"), what="the message delivered once its lease ran out")
            row = await conn.fetchrow("SELECT status, attempts FROM outbox WHERE id = $1", message_id)
        finally:
            await conn.close()
            server.stop()
    assert gateway.seen(str(message_id)) == 2  # the race happened: sent, killed before the commit, sent again
    assert gateway.delivered == {str(message_id): 1}  # the gateway's dedupe by id: the resident got it once
    assert (row["status"], row["attempts"]) == ("delivered", 1)
