"""Session 23: an RKPD line whose work has ended (a final stage of domain/realisation.py: finished or
dropped) has no news to come, so it cannot be followed (services/following.py, http/follow.py): its follow
page says so, in Indonesian, instead of offering a form, and asking anyway makes no subscription and sends
no mail. A line still at work can be followed as before.

The line is written straight into the read models the follow pages read (rkpd_adopted_lines and
rkpd_line_progress, as projections/rkpd.py writes them) under a year and id of its own, and removed after."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import AsyncIterator

import asyncpg
import httpx
import pytest

from musrenbang.domain import realisation
from musrenbang.eventlog import codec
from musrenbang.services import following
from tests.http.test_follow import ask, csrf, mails, new_email, subscriptions

pytestmark = pytest.mark.slow

YEAR = 2093
"""A year no other test adopts an RKPD for."""
TITLE = "Pembangunan Drainase Lingkungan"
ENDED = {
    "selesai": "Pekerjaan baris RKPD ini sudah selesai, jadi tidak akan ada kabar lagi tentangnya.",
    "batal": "Baris RKPD ini sudah dibatalkan, jadi pekerjaannya tidak akan dilanjutkan",
}


@pytest.fixture
async def line(app_pool: asyncpg.Pool) -> AsyncIterator[str]:
    """An adopted line of its own, with no milestone yet; its subject (`rkpd/{year}/{line_id}`)."""
    line_id = f"S23-{uuid.uuid4().hex[:8]}"
    await app_pool.execute(
        "INSERT INTO rkpd_adopted_lines (year, revision, line_id, agency, pagu, line)"
        " VALUES ($1, 1, $2, 'DPUPR', $3, $4)",
        YEAR, line_id, 150_000_000, codec.encode({"line_id": line_id, "sub_kegiatan": TITLE}),
    )  # fmt: skip
    try:
        yield f"rkpd/{YEAR}/{line_id}"
    finally:
        await app_pool.execute("DELETE FROM rkpd_line_progress WHERE year = $1 AND line_id = $2", YEAR, line_id)
        await app_pool.execute("DELETE FROM rkpd_adopted_lines WHERE year = $1 AND line_id = $2", YEAR, line_id)


async def at_stage(pool: asyncpg.Pool | asyncpg.Connection, subject: str, stage: str) -> None:
    """Where the line stands, as projections/rkpd.py keeps it after a milestone."""
    line_id = subject.rsplit("/", 1)[1]
    await pool.execute(
        "INSERT INTO rkpd_line_progress (year, line_id, stage, progress, finished_on, updated_at)"
        " VALUES ($1, $2, $3, $4, $5, now())"
        " ON CONFLICT (year, line_id) DO UPDATE SET stage = EXCLUDED.stage",
        YEAR, line_id, stage, 100 if stage == "selesai" else 0, dt.date(YEAR, 11, 30) if stage == "selesai" else None,
    )  # fmt: skip


@pytest.mark.parametrize("stage", sorted(realisation.FINAL))
async def test_a_line_whose_work_has_ended_cannot_be_followed(
    client: httpx.AsyncClient, app_pool: asyncpg.Pool, line: str, stage: str
) -> None:
    await at_stage(app_pool, line, stage)
    form = await client.get(f"/ikuti?subjek={line}")
    assert form.status_code == 200
    assert ENDED[stage] in form.text and "Tidak ada yang bisa diikuti." in form.text
    assert 'action="/ikuti"' not in form.text and 'name="email"' not in form.text  # no form to follow it by
    assert TITLE in form.text and f'href="/telusur/{line}"' in form.text
    email = new_email()
    r = await ask(client, line, email)
    assert r.status_code == 409
    assert ENDED[stage] in r.text and 'action="/ikuti"' not in r.text
    assert await subscriptions(app_pool, email) == [] and await mails(app_pool, email) == []
    assert not await app_pool.fetchval("SELECT count(*) FROM subscriptions WHERE subject = $1", line)


async def test_a_line_still_at_work_is_followed_as_before(
    client: httpx.AsyncClient, app_pool: asyncpg.Pool, line: str
) -> None:
    await at_stage(app_pool, line, "pelaksanaan")
    form = await client.get(f"/ikuti?subjek={line}")
    assert form.status_code == 200 and 'action="/ikuti"' in form.text
    assert not any(text in form.text for text in ENDED.values())
    email = new_email()
    r = await ask(client, line, email)
    assert r.status_code == 200 and "Jika alamat itu benar, kami mengirim tautan konfirmasi" in r.text
    [sub] = await subscriptions(app_pool, email)
    assert (sub["subject"], sub["link"], sub["confirmed"]) == (line, f"/telusur/{line}", False)
    [mail] = await mails(app_pool, email)
    assert mail["purpose"] == "confirm" and "baris RKPD" in mail["title"]


async def test_ended_is_the_domains_final_stages(app_pool: asyncpg.Pool, line: str) -> None:
    """Every stage of domain/realisation.py: only the final ones end the line's news."""
    async with app_pool.acquire() as conn:
        found = await following.followed(conn, line)
        assert found is not None and found.ended is None  # adopted, no milestone yet
        for stage in realisation.STAGES:
            tx = conn.transaction()
            await tx.start()
            try:
                await at_stage(conn, line, stage)
                found = await following.followed(conn, line)
                assert found is not None and found.ended == (stage if stage in realisation.FINAL else None), stage
            finally:
                await tx.rollback()
    # and the service itself makes nothing for an ended line, whoever calls it
    email = new_email().lower()
    ended = following.Followed(line, f"/telusur/{line}", TITLE, True, ended="batal")
    await following.subscribe(app_pool, ended, email)
    assert await subscriptions(app_pool, email) == [] and await mails(app_pool, email) == []


async def test_a_confirmation_asked_before_the_work_ended_confirms_nothing(
    client: httpx.AsyncClient, app_pool: asyncpg.Pool, line: str
) -> None:
    """Review s23: asked while the line was at work, the mail's link still confirmed after it was dropped."""
    await at_stage(app_pool, line, "pelaksanaan")
    email = new_email()
    assert (await ask(client, line, email)).status_code == 200
    [sub] = await subscriptions(app_pool, email)
    await at_stage(app_pool, line, "batal")
    page = await client.get(f"/ikuti/{sub['token']}")
    assert page.status_code == 200 and ENDED["batal"] in page.text
    assert f'action="/ikuti/{sub["token"]}"' not in page.text  # no button to confirm it by
    done = await client.post(f"/ikuti/{sub['token']}", data={"_csrf_token": await csrf(client)})
    assert done.status_code == 409 and ENDED["batal"] in done.text
    [after] = await subscriptions(app_pool, email)
    assert after["confirmed"] is False
