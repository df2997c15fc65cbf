"""The review's steps (s25), through a real server with two worker processes and a real SMTP server, on
its own copy of the history (tests/history.py: RKPD 2022 adopted): a resident follows an RKPD line by
e-mail, the agency posts one CSV with the line's contract, its progress at 50% and its handover, recorded in
one transaction. The mailbox got "…selesai dikerjakan" and, 7 ms later, "…mulai dikerjakan"; it must get
every message in the log's order."""

from __future__ import annotations

import asyncio
import uuid

import asyncpg
import httpx
import pytest

from musrenbang.domain.notices import line_subject
from tests import history
from tests.delivery.stubs import SmtpSink
from tests.delivery.test_worker import PUBLIC
from tests.http.test_rkpd_cache import LINE
from tests.http.test_staff import PASSWORD, add_user
from tests.server import serving
from tests.waiting import eventually

pytestmark = pytest.mark.slow

BASE = f"/api/v1/rkpd/{history.YEAR}"
FOLLOWER = "warga.pengikut@contoh.id"


async def _token(client: httpx.AsyncClient, username: str) -> dict[str, str]:
    r = await client.post("/api/v1/auth/token", json={"username": username, "password": PASSWORD})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['token']}"}


async def _followed_line(client: httpx.AsyncClient, conn: asyncpg.Connection, tag: str) -> str:
    """A line added to the RKPD and adopted (it has no milestone yet), followed by FOLLOWER by e-mail."""
    admin, roads = await _token(client, f"admin-{tag}"), await _token(client, f"roads-{tag}")
    added = await client.post(f"{BASE}/lines", json={**LINE, "sub_kegiatan": "Rehabilitasi Jalan"}, headers=roads)
    assert added.status_code == 201, added.text
    adopted = await client.post(f"{BASE}/adopt", json={"note": "baris baru", "confirm_over_pagu": True},
                                headers=admin)  # the line puts Bekasi Timur over its pagu: confirmed (s27)
    assert adopted.status_code == 200, adopted.text
    line = added.json()["line_id"]
    await conn.execute(
        "INSERT INTO subscriptions (id, subject, channel, address, link, kind, token, confirmed)"
        " VALUES ($1, $2, 'email', $3, $4, 'follower', $5, true)",
        uuid.uuid4(), line_subject(history.YEAR, line), FOLLOWER, f"/telusur/rkpd/{history.YEAR}/{line}",
        uuid.uuid4().hex * 2,
    )  # fmt: skip
    return line


async def _post_milestones(client: httpx.AsyncClient, line: str, tag: str) -> None:
    csv = ("baris,tahap,nilai,persen,tanggal,catatan,penyedia\r\n"
           f"{line},kontrak,380000000,,2022-05-02,,CV Karya Jaya\r\n"
           f"{line},pelaksanaan,,50,2022-07-01,,\r\n"
           f"{line},selesai,,,2022-09-30,serah terima,\r\n")  # fmt: skip
    roads = await _token(client, f"roads-{tag}")
    r = await client.post(f"{BASE}/milestones", content=csv.encode(), headers={**roads, "Content-Type": "text/csv"})
    assert r.status_code == 201, r.text


async def _all_delivered(conn: asyncpg.Connection) -> bool:
    counts = await conn.fetchrow("SELECT count(*) AS n, count(*) FILTER (WHERE status = 'delivered') AS delivered"
                                 " FROM outbox WHERE address = $1", FOLLOWER)  # fmt: skip
    return counts["n"] >= 2 and counts["delivered"] == counts["n"]


async def test_a_csv_s_milestones_reach_a_follower_s_mailbox_in_the_log_s_order(
    server_url: str, template_name: str
) -> None:
    tag = uuid.uuid4().hex[:6]
    async with history.database(server_url, template_name) as (url, _):
        add_user(url, f"admin-{tag}", "admin")
        add_user(url, f"roads-{tag}", "opd", "--opd", "DBMSDA")
        with SmtpSink(data_delay=0.05) as smtp:
            env = {"MUSRENBANG_SMTP_URL": smtp.url, "MUSRENBANG_PUBLIC_URL": PUBLIC}
            with serving(url, extra_env=env, workers=2) as server:
                conn = await asyncpg.connect(url)
                try:
                    async with httpx.AsyncClient(base_url=server.base_url, timeout=30) as client:
                        line = await _followed_line(client, conn, tag)
                        await _post_milestones(client, line, tag)
                    await eventually(lambda: _all_delivered(conn), timeout=30, what="the messages delivered")
                    await asyncio.sleep(0.5)  # nothing more comes
                    in_log_order = await conn.fetch(
                        "SELECT o.id, o.purpose FROM outbox o JOIN events e ON e.event_id = o.event_id"
                        " WHERE o.address = $1 ORDER BY e.global_position", FOLLOWER)  # fmt: skip
                finally:
                    await conn.close()
    received = [str(m["Message-ID"]) for _, to, m in smtp.messages if to == [FOLLOWER]]
    assert received == [f"<{r['id']}@musrenbang.example.go.id>" for r in in_log_order]
    assert in_log_order[0]["purpose"] == "under_way" and in_log_order[-1]["purpose"] == "finished"
