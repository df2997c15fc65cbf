"""Review of the outbox screen (`/petugas/pesan`) as an operator meets it, through a real server on a
database of its own (no channel configured: messages stay as the tests write them): the undelivered
messages page by page (`?halaman=N`), and the form that queues failed messages again, as `musrenbang
outbox retry` does."""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

import asyncpg
import httpx
import pytest

from musrenbang.db.connect import create_pool
from musrenbang.delivery.queries import UNDELIVERED_SHOWN
from tests.conftest import _throwaway_database
from tests.http.city_setup import sign_in
from tests.http.test_pages import hidden
from tests.http.test_staff import add_user
from tests.server import serving

pytestmark = pytest.mark.slow

PAGE = "/petugas/pesan"
RETRY = "/petugas/pesan/kirim-ulang"


@dataclass
class Site:
    pool: asyncpg.Pool
    admin: httpx.AsyncClient
    auditor: httpx.AsyncClient


@pytest.fixture(scope="module")
async def site(server_url: str, template_name: str) -> AsyncIterator[Site]:
    async with _throwaway_database(server_url, template_name) as url:
        tag = uuid.uuid4().hex[:6]
        await asyncio.to_thread(add_user, url, f"admin-{tag}", "admin")
        await asyncio.to_thread(add_user, url, f"auditor-{tag}", "auditor")
        with serving(url, extra_env={"MUSRENBANG_TRUST_PROXY": "1"}) as server:
            pool = await create_pool(url, min_size=1, max_size=3)
            admin = await sign_in(server.base_url, f"admin-{tag}")
            auditor = await sign_in(server.base_url, f"auditor-{tag}")
            try:
                yield Site(pool, admin, auditor)
            finally:
                await admin.aclose()
                await auditor.aclose()
                await pool.close()


async def _message(pool: asyncpg.Pool, channel: str, status: str, *, purpose: str = "status", minutes_ago: int = 0,
                   last_error: str | None = None) -> uuid.UUID:  # fmt: skip
    """An outbox row as eventlog/outbox.py writes one; a failed one as the worker leaves it (given up after
    84 tries, its next try in the future)."""
    message_id = uuid.uuid4()
    failed = status == "failed"
    await pool.execute(
        "INSERT INTO outbox (id, dedupe, purpose, channel, address, title, body, link, status, attempts,"
        " next_attempt_at, last_error, created_at) VALUES ($1, $2, $3, $4, $5, 'Kabar usulan', 'Usulan Anda"
        " diterima.', '/lacak/ABCD-EFGH', $6, $7, now() + make_interval(hours => $8), $9,"
        " now() - make_interval(mins => $10))",
        message_id, str(message_id), purpose, channel, "warga@example.org" if channel == "email" else "+6281234567890",
        status, 84 if failed else 0, 1 if failed else 0, last_error, minutes_ago,
    )  # fmt: skip
    return message_id


async def _rows(pool: asyncpg.Pool) -> dict[uuid.UUID, dict[str, object]]:
    return {r["id"]: dict(r) for r in await pool.fetch("SELECT * FROM outbox")}


def _notice(page: str) -> str:
    found = re.search(r'<p class="notice" role="status" id="kabar">(.*?)</p>', page, re.S)
    assert found, "no notice on the page"
    return found.group(1)


async def test_the_undelivered_messages_are_reached_page_by_page(site: Site) -> None:
    await site.pool.execute("DELETE FROM outbox")
    extra = 30
    for n in range(UNDELIVERED_SHOWN + extra):  # uji-000 the newest; a purpose not listed shows as stored
        await _message(site.pool, "sms", "failed" if n % 10 == 0 else "pending", purpose=f"uji-{n:03d}", minutes_ago=n)
    await _message(site.pool, "sms", "delivered", purpose="uji-terkirim")

    first = await site.admin.get(PAGE)
    assert first.status_code == 200
    assert "uji-000" in first.text and f"uji-{UNDELIVERED_SHOWN - 1:03d}" in first.text
    assert f"uji-{UNDELIVERED_SHOWN:03d}" not in first.text and "uji-terkirim" not in first.text
    assert "halaman 1 dari 2" in first.text and 'href="/petugas/pesan?halaman=2#belum-terkirim"' in first.text
    assert "sebelumnya" not in first.text and "berikutnya" in first.text

    second = await site.admin.get(PAGE, params={"halaman": "2"})
    assert second.status_code == 200
    shown = set(re.findall(r"uji-\d{3}", second.text))
    assert shown == {f"uji-{n:03d}" for n in range(UNDELIVERED_SHOWN, UNDELIVERED_SHOWN + extra)}
    assert "halaman 2 dari 2" in second.text and 'href="/petugas/pesan?halaman=1#belum-terkirim"' in second.text
    assert "sebelumnya" in second.text and "berikutnya" not in second.text
    assert (await site.admin.get(PAGE, params={"halaman": "1"})).text.count("uji-0") == first.text.count("uji-0")

    for wrong in ("3", "0", "-1", "abc", "1.5", "2x", "", "٢", "99999999999"):
        r = await site.admin.get(PAGE, params={"halaman": wrong})
        assert r.status_code == 404, wrong
    assert (await site.auditor.get(PAGE, params={"halaman": "2"})).status_code == 403


async def test_with_nothing_undelivered_there_is_one_page(site: Site) -> None:
    await site.pool.execute("DELETE FROM outbox")
    await _message(site.pool, "email", "delivered")
    only = await site.admin.get(PAGE, params={"halaman": "1"})
    assert only.status_code == 200 and "Semua pesan sudah terkirim" in only.text and "halaman 1 dari" not in only.text
    assert (await site.admin.get(PAGE, params={"halaman": "2"})).status_code == 404


async def test_failed_messages_are_queued_again_from_the_screen_as_the_cli_does(site: Site) -> None:
    await site.pool.execute("DELETE FROM outbox")
    sms = {await _message(site.pool, "sms", "failed", last_error=f"HTTP 400: nomor salah {n}") for n in range(2)}
    mail = await _message(site.pool, "email", "failed", last_error="550 5.1.1 no such user")
    untouched = {await _message(site.pool, "sms", s) for s in ("pending", "delivered", "cancelled")}
    before = await _rows(site.pool)

    screen = await site.admin.get(PAGE)
    assert f'<form method="post" action="{RETRY}"' in screen.text
    csrf = hidden(screen.text, "_csrf_token")

    # Of one channel: the e-mail only, due now, its tries counted afresh, its last error kept.
    r = await site.admin.post(RETRY, data={"_csrf_token": csrf, "channel": "email"})
    assert (r.status_code, r.headers["location"]) == (303, PAGE), r.text
    row = await site.pool.fetchrow("SELECT status, attempts, next_attempt_at <= now() AS due, last_error FROM outbox"
                                   " WHERE id = $1", mail)  # fmt: skip
    assert dict(row) == {"status": "pending", "attempts": 0, "due": True, "last_error": "550 5.1.1 no such user"}
    assert {await site.pool.fetchval("SELECT status FROM outbox WHERE id = $1", i) for i in sms} == {"failed"}
    shown = await site.admin.get(PAGE)
    assert "1 pesan yang gagal dimasukkan lagi" in _notice(shown.text)

    # Of every channel ("semua"): the two SMS.
    r = await site.admin.post(RETRY, data={"_csrf_token": csrf, "channel": ""})
    assert r.status_code == 303
    assert "2 pesan yang gagal dimasukkan lagi" in _notice((await site.admin.get(PAGE)).text)
    after = await _rows(site.pool)
    for i in sms:
        assert (after[i]["status"], after[i]["attempts"]) == ("pending", 0)
        assert after[i]["last_error"] == before[i]["last_error"]
    assert all(after[i] == before[i] for i in untouched)
    assert all(after[i]["created_at"] == before[i]["created_at"] for i in after)

    # A second tap finds nothing failed: nothing changes, and the notice says 0.
    r = await site.admin.post(RETRY, data={"_csrf_token": csrf})
    assert r.status_code == 303
    assert "0 pesan yang gagal dimasukkan lagi" in _notice((await site.admin.get(PAGE)).text)
    assert await _rows(site.pool) == after
    assert f'action="{RETRY}"' not in (await site.admin.get(PAGE)).text  # nothing failed: no form


async def test_only_bappeda_may_retry_and_only_from_our_form(site: Site) -> None:
    await site.pool.execute("DELETE FROM outbox")
    await _message(site.pool, "whatsapp", "failed", last_error="HTTP 400")
    before = await _rows(site.pool)

    auditor_csrf = hidden((await site.auditor.get("/petugas")).text, "_csrf_token")
    r = await site.auditor.post(RETRY, data={"_csrf_token": auditor_csrf})
    assert r.status_code == 403
    assert await _rows(site.pool) == before

    r = await site.admin.post(RETRY, data={})  # no CSRF token
    assert r.status_code == 403
    r = await site.admin.post(RETRY, data={"_csrf_token": "x" * 64})  # not the browser's
    assert r.status_code == 403
    csrf = hidden((await site.admin.get(PAGE)).text, "_csrf_token")
    r = await site.admin.post(RETRY, data={"_csrf_token": csrf, "channel": "fax"})  # no page of ours sends it
    assert r.status_code == 400
    assert await _rows(site.pool) == before
