"""`musrenbang status` says what waits in the outbox, and that nothing here could send it: it said "ok"
with messages waiting and no channel configured, and nothing of the outbox at all."""

from __future__ import annotations

import os

import asyncpg

from tests.delivery.test_worker import PHONE, queue
from tests.test_cli_review import musrenbang


async def test_status_names_the_waiting_messages_and_the_missing_channel(database_url: str) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("MUSRENBANG_SMTP_URL", "MUSRENBANG_SMS_GATEWAY_URL")}
    env["MUSRENBANG_DATABASE_URL"] = database_url
    quiet = musrenbang(env, "status")
    assert "outbox: 0 waiting; 0 refused for good" in quiet.stdout, quiet.stdout
    assert "no channel" not in quiet.stdout
    conn = await asyncpg.connect(database_url)
    try:
        await queue(conn, "sms", PHONE)
        await queue(conn, "sms", PHONE, status="failed", last_error="HTTP 404: not found")
    finally:
        await conn.close()
    waiting = musrenbang(env, "status")
    assert "outbox: 1 waiting, the oldest 0 min; 1 refused for good" in waiting.stdout, waiting.stdout
    assert "no channel is configured here" in waiting.stdout, waiting.stdout
    assert waiting.returncode == 0 and "status: ok" in waiting.stdout  # the site works: not a failed check
    configured = musrenbang({**env, "MUSRENBANG_SMS_GATEWAY_URL": "http://127.0.0.1:9/kirim"}, "status")
    assert "outbox: 1 waiting" in configured.stdout and "no channel" not in configured.stdout, configured.stdout
