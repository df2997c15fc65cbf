"""Session 26 (review): the tracking page (`/lacak/{code}`, http/tracking.py, web/templates/track.html) of a
proposal whose story has ended offered its «follow by e-mail» form, which answered 409: asking to follow it
is refused (services/following.py, domain/notices.proposal_news_ended; tests/http/test_follow_ended_s26.py).
Now the page says, as the follow page says it, that no news will come, instead of the form, by the same
rule read with the page's own data (projections/proposals.tracked: the proposal's status and its line's
stage), a merged duplicate judged by the proposal it lives in. While news may still come the form is there.

And the Atom feed words a merge as the tracking page does, with the count: «1 usulan serupa bergabung ke
sini:» («1 similar proposal merged into this one:»), no longer «Usulan serupa digabungkan ke sini:» whatever
the count, untranslated.

Proposals of their own submitted to the app server are put in a state by writing straight into the read
models the page reads (proposals, rkpd_line_progress, and for a merge proposal_timeline, as the projections
write them), and put back afterwards; the real cycle of tests/history.py is read only."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import asyncpg
import httpx
import pytest

from musrenbang.http import feeds
from musrenbang.http.i18n import load_catalogs
from tests import history
from tests.http.proposal_states import ProposalStates
from tests.http.test_follow import new_proposal
from tests.http.test_follow_ended_s26 import ENDED, NOTHING, STATES, dashed
from tests.server import Server

pytestmark = pytest.mark.slow

FORM = 'action="/ikuti"'


def news_section(page: str) -> str:
    """The page's section about its news (where the follow form was)."""
    start = page.index('<section id="kabar"')
    return page[start : page.index("</section>", start)]


def offers_the_form(page: str) -> bool:
    section = news_section(page)
    return FORM in section and 'name="email"' in section and NOTHING not in section


@pytest.fixture
async def put(app_pool: asyncpg.Pool) -> AsyncIterator[ProposalStates]:
    """A proposal of the app server put in a state (tests/http/proposal_states.py), put back afterwards."""
    states = ProposalStates(app_pool)
    yield states
    await states.put_back()


async def tracking(client: httpx.AsyncClient, code: str) -> str:
    r = await client.get(f"/lacak/{code}")
    assert r.status_code == 200, r.text
    return r.text


@pytest.mark.parametrize("ended", sorted(STATES))
async def test_the_tracking_page_of_a_proposal_whose_story_has_ended_says_so_instead_of_the_form(
    client: httpx.AsyncClient, put, ended: str
) -> None:
    code = await new_proposal(client)
    assert offers_the_form(await tracking(client, code))  # submitted: news to come
    await put(code, *STATES[ended])
    section = news_section(await tracking(client, code))
    assert ENDED[ended] in section and NOTHING in section and dashed(code) in section
    assert FORM not in section and 'name="email"' not in section and 'id="ikuti-email"' not in section
    assert "/kelurahan/" in section  # the rest of the section stays: the kelurahan's feed


async def test_the_form_is_there_while_the_line_is_at_work_and_gone_once_its_work_ended(
    client: httpx.AsyncClient, put
) -> None:
    """In the RKPD, its line budgeted, then at work: the form. Finished: none. Put back: the form again."""
    code = await new_proposal(client)
    for stage in ("apbd", "pelaksanaan"):
        await put(code, "masuk_rkpd", stage)
        assert offers_the_form(await tracking(client, code)), stage
    for status in ("dikembalikan", "diteruskan"):  # may be revised; may still be taken into a line
        await put(code, status)
        assert offers_the_form(await tracking(client, code)), status
    await put(code, "masuk_rkpd", "selesai")
    page = await tracking(client, code)
    assert not offers_the_form(page) and f"Pekerjaan dari usulan {dashed(code)} {ENDED['selesai']}" in page
    await put(code, "diajukan")
    assert offers_the_form(await tracking(client, code))


async def test_a_merged_duplicate_is_judged_by_the_proposal_it_lives_in(client: httpx.AsyncClient, put) -> None:
    """D merged into P. While P's line is at work, D's page offers the form (D's own status, merged, ends
    nothing); once P's line is dropped, neither page does, D's saying it of P. A line of D's own whose work
    finished does not end the news of D, which lives on in P."""
    duplicate, survivor = await new_proposal(client), await new_proposal(client)
    await put(duplicate, "diajukan")
    await put.merge(duplicate, survivor)
    await put(survivor, "masuk_rkpd", "pelaksanaan")
    page = await tracking(client, duplicate)
    assert f'id="jalur-{survivor}"' in page  # the page reads on along P
    assert offers_the_form(page)
    await put(survivor, "masuk_rkpd", "batal")
    for code in (duplicate, survivor):
        section = news_section(await tracking(client, code))
        assert f"Kegiatan RKPD dari usulan {dashed(survivor)} {ENDED['batal']}" in section, code
        assert NOTHING in section and FORM not in section, code
        assert dashed(duplicate) not in section, code  # the story is P's
    await put(survivor, "masuk_rkpd", "apbd")
    await put(duplicate, "masuk_rkpd", "selesai")  # a line of its own, finished: not what it is judged by
    await put.merge(duplicate, survivor)
    assert offers_the_form(await tracking(client, duplicate))


# --- the real cycle of tests/history.py (read only) ----------------------------------------------------


async def _code(city_database: str, title: str) -> str:
    conn = await asyncpg.connect(city_database)
    try:
        code = await conn.fetchval("SELECT code FROM proposals WHERE year = $1 AND title = $2", history.YEAR, title)
    finally:
        await conn.close()
    assert code is not None, title
    return str(code)


async def test_in_the_history_pages_offer_the_form_only_where_news_may_come(
    city_server: Server, city_database: str
) -> None:
    """Rejected (a2), not selected at the kecamatan forum (b1), declined by the agencies (the pokir): no form,
    the reason said. In line DBMSDA-002, at work (a1), and a4 merged into a0 in that line: the form."""
    ended = {"Usulan nomor 2": "ditolak", "Usulan nomor 6": "tidak_terakomodasi",
             "Pokir saluran uji": "tidak_terakomodasi"}  # fmt: skip
    async with httpx.AsyncClient(base_url=city_server.base_url, timeout=30) as client:
        for title, why in ended.items():
            code = await _code(city_database, title)
            section = news_section(await tracking(client, code))
            assert f"Usulan {dashed(code)} {ENDED[why]}" in section and FORM not in section, title
        for title in ("Usulan nomor 1", "Usulan nomor 4", "Usulan nomor 0 revisi"):
            assert offers_the_form(await tracking(client, await _code(city_database, title))), title
        english = (await client.get(f"/lacak/{await _code(city_database, 'Usulan nomor 2')}?lang=en")).text
        assert NOTHING not in english and "did not pass verification" in news_section(english)
        assert "There is nothing to follow." in news_section(english)


# --- the Atom feed: a merge worded with its count -----------------------------------------------------


def test_the_feed_words_a_merge_with_its_count_as_the_tracking_page_does() -> None:
    catalogs = load_catalogs()
    said = {}
    for lang in ("id", "en"):
        words = feeds.Words(lang, catalogs[lang].gettext, lambda code: code, catalogs[lang].ngettext)
        for merged in (["AAAA1111"], ["AAAA1111", "BBBB2222"]):
            said[lang, len(merged)] = feeds.describe("proposal.merged_in", {"merged": merged, "reason": "sama"},
                                                     words)  # fmt: skip
    assert said == {
        ("id", 1): "1 usulan serupa bergabung ke sini: AAAA-1111 — sama",
        ("id", 2): "2 usulan serupa bergabung ke sini: AAAA-1111, BBBB-2222 — sama",
        ("en", 1): "1 similar proposal merged into this one: AAAA-1111 — sama",
        ("en", 2): "2 similar proposals merged into this one: AAAA-1111, BBBB-2222 — sama",
    }
    untranslated = feeds.Words("id", lambda message: message, lambda code: code)  # no catalog: its own words
    text = feeds.describe("proposal.merged_in", {"merged": ["AAAA1111"] * 1234}, untranslated)
    assert text.startswith("1.234 usulan serupa bergabung ke sini: AAAA-1111")  # grouped, as the pages write it


async def test_the_feed_of_the_history_words_its_merge_in_english_too(city_server: Server) -> None:
    """a4 merged into a0: one proposal, in the kelurahan's feed, in Indonesian and in English."""
    async with httpx.AsyncClient(base_url=city_server.base_url, timeout=30) as client:
        own = (await client.get(f"/kelurahan/{history.KELURAHAN_A}.atom")).text
        english = (await client.get(f"/kelurahan/{history.KELURAHAN_A}.atom?lang=en")).text
    assert re.search(r"1 usulan serupa bergabung ke sini: [0-9A-Z]{4}-[0-9A-Z]{4}", own)
    assert re.search(r"1 similar proposal merged into this one: [0-9A-Z]{4}-[0-9A-Z]{4}", english)
    assert "Usulan serupa digabungkan ke sini" not in own + english
