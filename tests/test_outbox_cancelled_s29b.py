"""The outbox screen (`/petugas/pesan`), review s29b, through a real server: cancelled messages are listed
with why — the reason recorded with them (the demo's made-up residents, a stop the sender met), shown as
text, escaped, or the resident's stop itself (a stop cancels what waits without recording a reason) — next
to the status "dibatalkan". Before, they were only counted. The list has no axe violation (Chromium)."""

from __future__ import annotations

import asyncio
import html
import re
import uuid
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import asyncpg
import httpx
import pytest

from musrenbang.db.connect import create_pool
from musrenbang.demo import UNSENT
from tests.conftest import _throwaway_database
from tests.e2e.conftest import browser, needs_chromium  # noqa: F401  (`browser`: the fixture, for the axe test)
from tests.e2e.test_accessibility import PHONE, _check
from tests.http.city_setup import sign_in
from tests.http.test_pages import hidden
from tests.http.test_staff import PASSWORD, add_user
from tests.server import Server, serving

pytestmark = pytest.mark.slow

PAGE = "/petugas/pesan"
HOSTILE = '<script>alert("x")</script> demo: warga & rekaan'


@dataclass
class Site:
    url: str
    admin_name: str
    server: Server
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
                yield Site(url, f"admin-{tag}", server, pool, admin, auditor)
            finally:
                await admin.aclose()
                await auditor.aclose()
                await pool.close()


async def _message(pool: asyncpg.Pool, *, status: str = "pending", reason: str | None = None,
                   subscription: uuid.UUID | None = None, purpose: str = "verified",
                   link: str = "/lacak/ABCD2345") -> uuid.UUID:  # fmt: skip
    message_id = uuid.uuid4()
    await pool.execute(
        "INSERT INTO outbox (id, subscription, dedupe, purpose, channel, address, title, body, link, status,"
        " last_error) VALUES ($1, $2, $3, $4, 'sms', '+6281234567890', 'Kabar usulan', 'Usulan Anda lolos"
        " verifikasi.', $7, $5, $6)",
        message_id, subscription, str(message_id), purpose, status, reason, link,
    )  # fmt: skip
    return message_id


def _status_cells(page: str) -> list[str]:
    """The text of each status cell of the cancelled messages' table."""
    section = page.split('id="dibatalkan"', 1)[1]
    cells = re.findall(r"<td>(dibatalkan.*?)</td>", section, re.S)
    return [" ".join(re.sub(r"<[^>]+>", " ", c).split()) for c in cells]


async def test_cancelled_messages_are_listed_with_their_reason_escaped(site: Site) -> None:
    await site.pool.execute("DELETE FROM outbox")
    # A resident's stop, for real: the stop link's button cancels what their subscription still had to send.
    token = uuid.uuid4().hex + uuid.uuid4().hex
    subscription = await site.pool.fetchval(
        "INSERT INTO subscriptions (id, subject, channel, address, link, kind, token, confirmed)"
        " VALUES ($1, 'ABCD2345', 'sms', '+6281234567890', '/lacak/ABCD2345', 'follower', $2, true) RETURNING id",
        uuid.uuid4(), token,
    )  # fmt: skip
    stopped = await _message(site.pool, subscription=subscription, purpose="forum")
    confirmation = await _message(site.pool, purpose="confirm", link=f"/ikuti/{token}")  # of no subscription yet
    async with httpx.AsyncClient(base_url=site.server.base_url) as resident:
        form = await resident.get(f"/berhenti/{token}")
        r = await resident.post(f"/berhenti/{token}", data={"_csrf_token": hidden(form.text, "_csrf_token")})
        assert r.status_code == 200, r.text
    for message in (stopped, confirmation):
        assert await site.pool.fetchval("SELECT status FROM outbox WHERE id = $1", message) == "cancelled"
    await _message(site.pool, status="cancelled", reason=UNSENT, purpose="submitted")  # as the demo leaves them
    await _message(site.pool, status="cancelled", reason=HOSTILE, purpose="rejected")
    await _message(site.pool, status="delivered")

    assert (await site.auditor.get(PAGE)).status_code == 403
    r = await site.admin.get(PAGE)
    assert r.status_code == 200, r.text
    page = r.text
    assert HOSTILE not in page and "<script>alert" not in page  # text, never markup
    assert "&lt;script&gt;alert(" in page
    cells = _status_cells(page)
    assert len(cells) == 4, cells
    said = [html.unescape(c) for c in cells]
    assert f"dibatalkan: {HOSTILE}" in said and f"dibatalkan: {UNSENT}" in said, said
    assert said.count("dibatalkan: penerima menghentikan kabar ini") == 2, said
    assert "Yang terbaru ditampilkan: 4 dari 4." in page
    assert "+62812****7890" in page and "+6281234567890" not in page  # masked, as everywhere on the page


async def test_without_cancelled_messages_there_is_no_list(site: Site) -> None:
    await site.pool.execute("DELETE FROM outbox")
    await _message(site.pool, status="delivered")
    r = await site.admin.get(PAGE)
    assert r.status_code == 200 and 'id="dibatalkan"' not in r.text


@needs_chromium
def test_the_cancelled_messages_have_no_axe_violation(site: Site, browser: object) -> None:  # noqa: F811
    async def cancelled() -> None:
        conn = await asyncpg.connect(site.url)
        try:
            await conn.execute(
                "INSERT INTO outbox (id, dedupe, purpose, channel, address, title, body, link, status, last_error)"
                " VALUES ($1, $3, 'verified', 'email', 'warga@example.org', 'Kabar usulan', 'Usulan Anda',"
                " '/lacak/ABCD2345', 'cancelled', $2)",
                uuid.uuid4(), UNSENT, uuid.uuid4().hex,
            )  # fmt: skip
        finally:
            await conn.close()

    with ThreadPoolExecutor(1) as thread:  # the test's own thread runs the tests' event loop
        thread.submit(asyncio.run, cancelled()).result()
    page = browser.new_page(**PHONE)  # type: ignore[attr-defined]
    page.goto(site.server.base_url + "/masuk")
    page.fill("#username", site.admin_name)
    page.fill("#password", PASSWORD)
    page.locator("form button[type=submit]").click()
    page.wait_for_url("**/petugas")
    try:
        for lang in ("", "?lang=en"):
            _check(page, site.server.base_url + PAGE + lang)
            assert page.locator("#dibatalkan").count() == 1
    finally:
        page.close()
