"""A hostile review of the pages that check the log and print the minutes, through a real server: a
pasted hash with a typo is told apart from one the log does not hold, `/periksa` has a form, the auditor
reaches every closed forum's head, and a Berita Acara asked for too early says why it is not there."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import httpx
import pytest

from musrenbang.db.connect import create_pool
from musrenbang.domain import forum as f
from musrenbang.eventlog.store import EventStore, Metadata
from musrenbang.http.audit_pages import HEADS_SHOWN
from musrenbang.projections import all_projections
from musrenbang.projections.runner import ProjectionRunner
from musrenbang.services.forums import ForumService, new_forum_id
from musrenbang.services.pabulib_import import import_file
from tests.conftest import _throwaway_database
from tests.cycles import FORUM_DAY, open_test_cycle
from tests.http.test_audit_page import bearer
from tests.http.test_staff import add_user
from tests.server import serving

pytestmark = pytest.mark.slow


class Site:
    def __init__(self, base_url: str, pool: asyncpg.Pool, auditor: str, scheduled: str) -> None:
        self.base_url, self.pool, self.auditor, self.scheduled = base_url, pool, auditor, scheduled


TINY_ELECTION = """META
key;value
description;Pemilihan uji
country;Indonesia
unit;Uji
instance;2022
num_projects;1
num_votes;1
budget;100
vote_type;approval
rule;greedy
PROJECTS
project_id;cost;name
1;10;Saluran
VOTES
voter_id;vote
1;1
"""


async def _build(url: str, election: Path) -> str:
    """More closed forums than one page of /audit lists (imported one-voter elections: the quickest to
    close), and one forum scheduled but not closed; returns that one's id."""
    pool = await create_pool(url, min_size=1, max_size=3)
    try:
        store = EventStore(pool)
        await open_test_cycle(store)
        for _ in range(HEADS_SHOWN + 1):
            await import_file(pool, store, election)
        scheduled = new_forum_id()
        await ForumService(pool, store, None).schedule(f.ScheduleForum(
            forum_id=scheduled, level="kelurahan", region="32.75.01.1001", year=2022, title="Musrenbang Kelurahan",
            held_on=FORUM_DAY, place="Aula", chair="Lurah", ceiling=100_000_000, rule="greedy",
            ballot_kind="approval"), Metadata(actor="uji", role="admin"))  # fmt: skip
        await ProjectionRunner(pool, all_projections()).catch_up_all()
        return scheduled
    finally:
        await pool.close()


@pytest.fixture(scope="module")
async def site(server_url: str, template_name: str, tmp_path_factory: pytest.TempPathFactory
               ) -> AsyncIterator[Site]:  # fmt: skip
    election = tmp_path_factory.mktemp("pabulib") / "uji.pb"
    election.write_text(TINY_ELECTION)
    async with _throwaway_database(server_url, template_name) as url:
        scheduled = await _build(url, election)
        auditor = f"review-auditor-{uuid.uuid4().hex[:6]}"
        add_user(url, auditor, "auditor")
        with serving(url) as server:
            pool = await create_pool(url, min_size=1, max_size=2)
            try:
                yield Site(server.base_url, pool, auditor, scheduled)
            finally:
                await pool.close()


@pytest.fixture
async def web(site: Site) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=site.base_url, timeout=30) as client:
        yield client


async def _a_close(site: Site) -> str:
    digest = await site.pool.fetchval(
        "SELECT hash FROM events WHERE event_type = 'forum.closed' ORDER BY global_position LIMIT 1")
    return bytes(digest).hex()


async def test_a_mistyped_hash_on_periksa_is_told_as_a_typo_not_as_a_changed_log(
    site: Site, web: httpx.AsyncClient
) -> None:
    """Was: any text answered 404 "the log does not hold an event or seal with this hash" — to a journalist
    whose hash lost a character, that reads as tampering — and printed the address's text on the page."""
    head = await _a_close(site)
    short = await web.get(f"/periksa/{head[:-1]}")
    assert short.status_code == 400
    assert "hash terdiri dari 64 karakter, sedangkan yang diperiksa 63 karakter" in short.text
    assert "Log tidak memuat" not in short.text
    letter = await web.get(f"/periksa/{head[:10]}O{head[11:]}")  # a letter O for a zero
    assert letter.status_code == 400 and "memuat «o»" in letter.text
    planted = await web.get("/periksa/PERINGATAN: log ini palsu, hubungi 0812 3456 789")
    assert planted.status_code == 400 and "log ini palsu" not in planted.text.lower()
    assert (await web.get(f"/periksa/{'0' * 64}")).status_code == 404  # well formed, not in the log


async def test_periksa_takes_a_hash_as_printed_and_has_a_form_to_paste_one(
    site: Site, web: httpx.AsyncClient
) -> None:
    """Was: a hash copied from a printed Berita Acara (broken over lines) was "not in the log", and
    `/periksa` itself was 404: nobody without the QR code could check a head on the site."""
    head = await _a_close(site)
    wrapped = await web.get(f"/periksa/{head[:32]}%20{head[32:].upper()}")
    assert wrapped.status_code == 200 and "Ada dan utuh" in wrapped.text
    form = await web.get("/periksa")
    assert form.status_code == 200 and 'action="/periksa"' in form.text and 'name="hash"' in form.text
    pasted = await web.get("/periksa", params={"hash": f" {head[:40]}\n{head[40:]} "})
    assert pasted.status_code == 200 and "Ada dan utuh" in pasted.text and head in pasted.text
    huge = await web.get("/periksa", params={"hash": "a" * 20_000})
    assert huge.status_code == 400 and "20000 karakter" in huge.text


async def test_the_audit_form_tells_a_typo_from_a_missing_hash(site: Site, web: httpx.AsyncClient) -> None:
    """Was: "0x" + hash, or a hash one character short, read "the log does not hold an event with this
    hash"."""
    auditor = await bearer(web, site.auditor)
    head = await _a_close(site)
    prefixed = await web.get("/audit", params={"hash": "0x" + head}, headers=auditor)
    assert prefixed.status_code == 200 and "memuat «x»" in prefixed.text
    assert "Log tidak memuat" not in prefixed.text and 'aria-invalid="true"' in prefixed.text
    short = await web.get("/audit", params={"hash": head[:-1]}, headers=auditor)
    assert "sedangkan yang diperiksa 63 karakter" in short.text and "Log tidak memuat" not in short.text
    missing = await web.get("/audit", params={"hash": "0" * 64}, headers=auditor)
    assert "Log tidak memuat peristiwa dengan hash ini." in missing.text


async def test_the_auditor_reaches_every_closed_forums_head_page_by_page(site: Site, web: httpx.AsyncClient) -> None:
    """Was: the newest 200 and "showing the last 200": the heads of older forums were on no page."""
    auditor = await bearer(web, site.auditor)
    oldest = await site.pool.fetchval(
        "SELECT forum_id FROM forums WHERE status = 'closed' ORDER BY closed_at, forum_id LIMIT 1")
    first = await web.get("/audit", headers=auditor)
    assert f"/forum/{oldest}/berita-acara" not in first.text and 'href="/audit?halaman=2#musyawarah"' in first.text
    second = await web.get("/audit", params={"halaman": "2"}, headers=auditor)
    assert second.status_code == 200 and f"/forum/{oldest}/berita-acara" in second.text
    assert "halaman 2 dari 2" in second.text
    for wrong in ("3", "0", "dua", "9" * 30):
        assert (await web.get("/audit", params={"halaman": wrong}, headers=auditor)).status_code == 404, wrong


async def test_the_berita_acara_of_a_forum_not_closed_says_why_it_is_not_there(
    site: Site, web: httpx.AsyncClient
) -> None:
    """Was: a bare "halaman tidak ditemukan", as for a wrong link, for a forum that exists."""
    r = await web.get(f"/forum/{site.scheduled}/berita-acara")
    assert r.status_code == 404 and "musyawarah ini belum ditutup" in r.text
    unknown = await web.get("/forum/TIDAKADA/berita-acara")
    assert unknown.status_code == 404 and "musyawarah tidak ditemukan" in unknown.text
