"""`musrenbang outbox retry`: the way back for failed messages, as an operator meets it — by channel and
by day, counted, and sent at once by a running server."""

from __future__ import annotations

import asyncio
import os
import subprocess

import asyncpg
import pytest

from tests.delivery.stubs import GatewayStub
from tests.delivery.test_worker import EMAIL, PHONE, _started, queue
from tests.waiting import eventually

pytestmark = pytest.mark.slow


def retry(database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "MUSRENBANG_DATABASE_URL": database_url}
    return subprocess.run(["musrenbang", "outbox", "retry", *args], env=env, capture_output=True, text=True,
                          timeout=60)  # fmt: skip


async def test_failed_messages_are_queued_again_by_channel_and_day(database_url: str) -> None:
    conn = await asyncpg.connect(database_url)
    try:
        old_sms = await queue(conn, "sms", PHONE, status="failed", last_error="HTTP 404: not found")
        new_sms = await queue(conn, "sms", "+6285711112222", status="failed", last_error="HTTP 400: nomor salah")
        mail = await queue(conn, "email", EMAIL, status="failed", last_error="550 5.1.1 no such user")
        untouched = {await queue(conn, "sms", "+6281300000001", status=s) for s in ("pending", "delivered",
                                                                                    "cancelled")}  # fmt: skip
        await conn.execute("UPDATE outbox SET created_at = now() - interval '10 days' WHERE id = $1", old_sms)
        await conn.execute("UPDATE outbox SET attempts = 84, next_attempt_at = now() + interval '1 hour'"
                           " WHERE status = 'failed'")  # fmt: skip
        before = {r["id"]: dict(r) for r in await conn.fetch("SELECT * FROM outbox")}
        today = await conn.fetchval("SELECT (now() AT TIME ZONE 'Asia/Jakarta')::date")  # WIB: no city set up

        done = await asyncio.to_thread(retry, database_url, "--channel", "sms", "--since", today.isoformat())
        assert (done.returncode, done.stdout, done.stderr) == (0, "re-queued 1 failed message(s)\n", ""), done.stderr
        row = await conn.fetchrow("SELECT status, attempts, next_attempt_at <= now() AS due, last_error FROM outbox"
                                  " WHERE id = $1", new_sms)  # fmt: skip
        assert dict(row) == {"status": "pending", "attempts": 0, "due": True, "last_error": "HTTP 400: nomor salah"}
        still = {await conn.fetchval("SELECT status FROM outbox WHERE id = $1", i) for i in (old_sms, mail)}
        assert still == {"failed"}  # another channel, or queued before that day

        done = await asyncio.to_thread(retry, database_url)
        assert (done.returncode, done.stdout) == (0, "re-queued 2 failed message(s) (1 email, 1 sms)\n")
        done = await asyncio.to_thread(retry, database_url)
        assert (done.returncode, done.stdout) == (0, "re-queued 0 failed message(s)\n")
        after = {r["id"]: dict(r) for r in await conn.fetch("SELECT * FROM outbox")}
    finally:
        await conn.close()
    assert all(after[i] == before[i] for i in untouched)
    assert all(after[i]["created_at"] == before[i]["created_at"] for i in after)  # when it was queued stays

    wrong = await asyncio.to_thread(retry, database_url, "--channel", "fax")
    assert wrong.returncode == 2 and "'fax' is not one of 'sms', 'whatsapp', 'email'" in wrong.stderr
    wrong_day = await asyncio.to_thread(retry, database_url, "--since", "kemarin")
    assert wrong_day.returncode == 2 and "kemarin" in wrong_day.stderr


async def test_a_running_server_sends_what_is_queued_again_at_once(database_url: str, free_port: int) -> None:
    """After a mistake in the gateway's URL failed messages for good (before they were retried), fixing it
    and queuing them again delivers them — woken at once, not at the next poll."""
    with GatewayStub() as gateway:
        env = {"MUSRENBANG_SMS_GATEWAY_URL": gateway.url, "MUSRENBANG_POLL_INTERVAL": "60"}
        server = await asyncio.to_thread(_started, free_port, database_url, env)
        conn = await asyncpg.connect(database_url)
        try:
            ids = [await queue(conn, "sms", f"+62812444{n:05d}", status="failed", last_error="HTTP 404: not found")
                   for n in range(3)]  # fmt: skip
            await asyncio.sleep(2.5)  # the senders' first look is over: they sleep for the poll interval now
            done = await asyncio.to_thread(retry, database_url, "--channel", "sms")
            assert (done.returncode, done.stdout) == (0, "re-queued 3 failed message(s)\n"), done.stderr

            async def delivered() -> bool:
                return await conn.fetchval("SELECT count(*) FROM outbox WHERE status = 'delivered'") == 3

            await eventually(delivered, timeout=15, what="the messages delivered before the next poll")
            attempts = [r[0] for r in await conn.fetch("SELECT attempts FROM outbox")]
        finally:
            await conn.close()
            server.stop()
    assert sorted(gateway.delivered) == sorted(str(i) for i in ids) and attempts == [1, 1, 1]
