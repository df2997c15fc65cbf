"""No message is sent twice at the same time, whatever happens to a sender's database session (the lease),
and a stop neither loses a message nor sends one twice that it could have kept from going twice: against a
real SMTP server that is slow at the step that matters, and the real database."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import asyncpg
import pytest

from musrenbang.config import Settings
from musrenbang.delivery.worker import DeliveryWorker, wake_senders
from musrenbang.http.app import STOPPED
from tests.delivery.stubs import SmtpSink
from tests.delivery.test_worker import EMAIL, PUBLIC, _all_in, _started, delivering, queue
from tests.waiting import eventually

pytestmark = pytest.mark.slow


async def _until(check: Callable[[], object], what: str, timeout: float = 15.0) -> None:
    async def done() -> bool:
        return bool(check())

    await eventually(done, timeout=timeout, what=what)


async def test_a_sender_whose_database_session_is_lost_mid_send_is_not_doubled_by_another(
    database_url: str, free_port: int
) -> None:
    """The sender's session ends while the SMTP server takes its time over the message (a database
    restart, a failover, a network cut, a timeout): under the advisory lock of before, another sender then
    claimed the message and sent it beside the first; under the lease none finds it due, and the first
    records its outcome on a new connection."""
    with SmtpSink(data_delay=4.0) as smtp:
        env = {"MUSRENBANG_SMTP_URL": smtp.url, "MUSRENBANG_PUBLIC_URL": PUBLIC}
        server = await asyncio.to_thread(_started, free_port, database_url, env)
        conn = await asyncpg.connect(database_url)
        try:
            message_id = await queue(conn, "email", EMAIL)
            await wake_senders(conn)
            await _until(lambda: smtp.seen("DATA"), "the SMTP server got the message")
            ended = await conn.fetchval(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = current_database()"
                " AND application_name = 'musrenbang-delivery'"
            )  # every sender's session: the one sending among them
            assert ended == 4
            await wake_senders(conn)
            await eventually(_all_in(conn, "delivered"), timeout=20, what="the message recorded as delivered")
            await asyncio.sleep(5.0)  # as long again as the server takes: a second send would have been taken
            row = await conn.fetchrow("SELECT status, attempts FROM outbox WHERE id = $1", message_id)
        finally:
            await conn.close()
            server.stop()
    assert smtp.seen("DATA") == 1 and len(smtp.messages) == 1
    assert (row["status"], row["attempts"]) == ("delivered", 1)


async def _stop_during(database_url: str, conn: asyncpg.Connection, smtp: SmtpSink, command: str
                       ) -> tuple[asyncpg.Record, float]:  # fmt: skip
    """Queue an e-mail, let a worker send it, stop the worker once the SMTP server has seen `command`:
    the message's row after the stop, and how long the stop took (to wait out the server's delay)."""
    message_id = await queue(conn, "email", EMAIL)
    worker = DeliveryWorker(database_url, _settings(database_url, smtp.url))
    worker.start()
    await _until(lambda: smtp.seen(command), f"the SMTP server saw {command}")
    started = time.monotonic()
    await worker.stop()
    took = time.monotonic() - started
    row = await conn.fetchrow("SELECT status, attempts, last_error, next_attempt_at <= now() AS due"
                              " FROM outbox WHERE id = $1", message_id)  # fmt: skip
    return row, took


async def _delivered_after_restart(database_url: str, conn: asyncpg.Connection, smtp: SmtpSink) -> None:
    """A worker started again sends what the stop left pending."""
    async with delivering(database_url, MUSRENBANG_SMTP_URL=smtp.url, MUSRENBANG_PUBLIC_URL=PUBLIC):
        await eventually(_all_in(conn, "delivered"), timeout=10, what="sent after the restart")


async def test_a_stop_before_the_message_is_handed_over_cuts_the_send_and_sends_it_once_later(
    database_url: str,
) -> None:
    """The stop comes while the SMTP server takes its time over RCPT: the send is cut at once, nothing
    handed over, and the message is due again at once with no try counted. (It was left to run on its
    thread past the stop, and the server took the message after all: sent again after the restart.)"""
    conn = await asyncpg.connect(database_url)
    try:
        with SmtpSink(rcpt_delay=5.0) as smtp:
            row, _ = await _stop_during(database_url, conn, smtp, "RCPT")
            await asyncio.sleep(5.5)  # the RCPT's answer has come and gone
            assert smtp.seen("DATA") == 0 and not smtp.messages
            smtp.rcpt_delay = 0.0
            await _delivered_after_restart(database_url, conn, smtp)
    finally:
        await conn.close()
    assert (row["status"], row["attempts"], row["due"]) == ("pending", 0, True)
    assert row["last_error"] == "stopped before the message was handed over (nothing sent)"
    assert len(smtp.messages) == 1


async def test_a_stop_while_the_server_answers_the_message_waits_for_the_answer(database_url: str) -> None:
    conn = await asyncpg.connect(database_url)
    try:
        with SmtpSink(data_delay=2.0) as smtp:
            row, _ = await _stop_during(database_url, conn, smtp, "DATA")
    finally:
        await conn.close()
    assert (row["status"], row["attempts"]) == ("delivered", 1) and len(smtp.messages) == 1  # the answer heard


async def test_a_stop_that_cannot_wait_for_the_answer_cuts_the_send_when_its_grace_ends(database_url: str) -> None:
    """A content filter that takes 8 s before the server answers (and takes) the message: the stop waits
    what it can, then cuts the connection — the server, left before it answered, takes nothing — and the
    message is due again at once."""
    conn = await asyncpg.connect(database_url)
    try:
        with SmtpSink(data_delay=8.0) as smtp:
            row, took = await _stop_during(database_url, conn, smtp, "DATA")
            await asyncio.sleep(8.0 - took + 0.5)
            assert not smtp.messages  # the filter's client left: nothing taken
            smtp.data_delay = 0.0
            await _delivered_after_restart(database_url, conn, smtp)
    finally:
        await conn.close()
    assert (row["status"], row["attempts"], row["due"]) == ("pending", 0, True)
    assert "may have taken it" in row["last_error"]
    assert len(smtp.messages) == 1


async def test_serve_stops_by_itself_while_an_smtp_server_takes_its_time_and_the_message_leaves_once(
    database_url: str, free_port: int
) -> None:
    """Ctrl-C while the SMTP server filters a message for 8 s: the worker process still ends by itself
    (not killed after its 6 s), and the message, not taken, leaves once after the restart."""
    with SmtpSink(data_delay=8.0) as smtp:
        env = {"MUSRENBANG_SMTP_URL": smtp.url, "MUSRENBANG_PUBLIC_URL": PUBLIC}
        server = await asyncio.to_thread(_started, free_port, database_url, env)
        conn = await asyncpg.connect(database_url)
        try:
            await queue(conn, "email", EMAIL)
            await wake_senders(conn)
            await _until(lambda: smtp.seen("DATA"), "the SMTP server got the message")
            started = time.monotonic()
            code = await asyncio.to_thread(server.stop)
            took = time.monotonic() - started
            output = server.log.read_text()
            smtp.data_delay = 0.0
            server = await asyncio.to_thread(_started, free_port, database_url, env)
            await eventually(_all_in(conn, "delivered"), timeout=20, what="sent after the restart")
        finally:
            await conn.close()
            server.stop()
    assert code == 0 and STOPPED in output, output
    assert took < 9, took
    assert len(smtp.messages) == 1


def _settings(database_url: str, smtp_url: str) -> Settings:
    return Settings.from_env({"MUSRENBANG_DATA_DIR": "/tmp/unused", "MUSRENBANG_DATABASE_URL": database_url,
                              "MUSRENBANG_POLL_INTERVAL": "1", "MUSRENBANG_SMTP_URL": smtp_url,
                              "MUSRENBANG_PUBLIC_URL": PUBLIC})  # fmt: skip
