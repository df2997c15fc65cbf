"""`musrenbang serve --demo` with an SMTP relay configured handed the relay every message the demo's
made-up residents (at example.org) were told, some 86 of them. Now the demo settles them when it ends:
they stay in the outbox, cancelled with the reason "demo: …", and their subscriptions are stopped, so
nothing is queued for them afterwards either; a real resident's message goes out through the same relay."""

from __future__ import annotations

import asyncio
import time
import uuid

import httpx
import pytest

from musrenbang.db.connect import create_pool
from musrenbang.demo import UNSENT
from tests.delivery.stubs import SmtpSink
from tests.http.conftest import PROPOSER, payload
from tests.server import Server

pytestmark = pytest.mark.slow


async def _outbox(database_url: str, sql: str, *args: object) -> list[dict]:
    pool = await create_pool(database_url, min_size=1, max_size=1)
    try:
        return [dict(r) for r in await pool.fetch(sql, *args)]
    finally:
        await pool.close()


def test_the_demos_residents_are_sent_nothing_through_a_configured_relay(database_url: str, free_port: int) -> None:
    with SmtpSink() as smtp:
        env = {"MUSRENBANG_SMTP_URL": f"{smtp.url}?from=kabar@bekasikota.go.id"}
        server = Server(free_port, database_url=database_url, args=("--demo",), cycle=False, extra_env=env)
        try:
            server.wait_healthy(timeout=240)
            assert "open first:" in server.output()
            # A resident of the real world, proposing after the demo: told through the relay.
            resident = f"warga.{uuid.uuid4().hex[:8]}@contoh.id"
            proposer = {**PROPOSER, "email": resident, "notify": "email"}
            made = httpx.post(f"{server.base_url}/api/v1/proposals", json=payload(proposer=proposer),
                              headers={"Idempotency-Key": str(uuid.uuid4())}, timeout=30)  # fmt: skip
            assert made.status_code == 201, made.text
            deadline = time.monotonic() + 30
            while not smtp.messages and time.monotonic() < deadline:
                time.sleep(0.2)
            time.sleep(2)  # anything else the senders would send comes meanwhile
        finally:
            assert server.stop() == 0, server.output()
    assert [to for _, to, _ in smtp.messages] == [[resident]], [to for _, to, _ in smtp.messages]

    demo = asyncio.run(_outbox(database_url, "SELECT status, last_error, count(*) AS n FROM outbox"
                                             " WHERE address LIKE '%@example.org' GROUP BY 1, 2"))  # fmt: skip
    assert [(r["status"], r["last_error"]) for r in demo] == [("cancelled", UNSENT)], demo
    assert demo[0]["n"] > 20  # the demo's news queued as for any resident, then settled
    live = asyncio.run(_outbox(database_url, "SELECT id FROM subscriptions WHERE address LIKE '%@example.org'"
                                             " AND stopped_at IS NULL"))  # fmt: skip
    assert live == []  # nothing more is queued for them: a milestone recorded later tells them nothing
    mine = asyncio.run(_outbox(database_url, "SELECT status FROM outbox WHERE address = $1", resident))
    assert [r["status"] for r in mine] == ["delivered"]
