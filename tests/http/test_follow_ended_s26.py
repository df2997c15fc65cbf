"""Session 26 (review): a proposal whose story has ended is treated as an ended RKPD line is
(tests/http/test_follow_ended_s23.py): no news will come of it (domain/notices.proposal_news_ended), so its
follow page says why, in Indonesian, instead of offering a form, and asking anyway is answered 409 with no
subscription and no mail; a confirmation asked before it ended confirms nothing. Ended: rejected at
verification, not accommodated (not selected at a forum, declined by the agencies), closed without a
decision at adoption, or in the RKPD by a line whose work finished or was dropped. A merged duplicate is
judged by the proposal it lives in. A proposal whose news may still come is followed as before.

Two ways in: the real cycle of tests/history.py (its database read only: pages and `followed`, nothing
written), and proposals of their own submitted to the app server, put in a state by writing straight into
the read models the follow pages read (proposals and rkpd_line_progress, as projections/proposals.py and
projections/rkpd.py write them), as test_follow_ended_s23.py does for a line."""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import httpx
import pytest

from musrenbang.db.connect import create_pool
from musrenbang.services import following
from tests import history
from tests.http.proposal_states import ProposalStates
from tests.http.test_follow import ask, csrf, mails, new_email, new_proposal, subscriptions
from tests.server import Server

pytestmark = pytest.mark.slow

NOTHING = "Tidak ada yang bisa diikuti."
ENDED = {
    "ditolak": "tidak lolos verifikasi, jadi perjalanannya sudah berakhir dan tidak akan ada kabar lagi tentangnya.",
    "tidak_terakomodasi": "tidak terakomodasi, jadi perjalanannya sudah berakhir dan tidak akan ada kabar lagi",
    "tidak_diproses": "ditutup tanpa keputusan ketika RKPD ditetapkan, jadi tidak akan ada kabar lagi tentangnya.",
    "selesai": "sudah selesai, jadi tidak akan ada kabar lagi tentangnya.",
    "batal": "sudah dibatalkan, jadi pekerjaannya tidak akan dilanjutkan dan tidak akan ada kabar lagi",
}
"""What the page says of each ending, after «Usulan» and the dashed code (or «… dari usulan» and it)."""
STATES = {
    "ditolak": ("ditolak", None),
    "tidak_terakomodasi": ("tidak_terakomodasi", None),
    "tidak_diproses": ("tidak_diproses", None),
    "selesai": ("masuk_rkpd", "selesai"),
    "batal": ("masuk_rkpd", "batal"),
}
"""Each ending as the read models hold it: the proposal's status, and its line's stage."""


def dashed(code: str) -> str:
    return f"{code[:4]}-{code[4:]}"


@pytest.fixture
async def put(app_pool: asyncpg.Pool) -> AsyncIterator[ProposalStates]:
    """A proposal of the app server put in a state (tests/http/proposal_states.py), put back afterwards."""
    states = ProposalStates(app_pool)
    yield states
    await states.put_back()


async def assert_refused(client: httpx.AsyncClient, pool: asyncpg.Pool, asked: str, ended: str, into: str) -> None:
    """`asked` (a proposal's code) cannot be followed: its page and the answer to asking say why (naming
    `into`, the proposal whose story it is), and nothing is recorded or sent."""
    form = await client.get(f"/ikuti?subjek={asked}")
    assert form.status_code == 200
    assert ENDED[ended] in form.text and NOTHING in form.text and dashed(into) in form.text
    assert 'action="/ikuti"' not in form.text and 'name="email"' not in form.text  # no form to follow it by
    assert f'href="/lacak/{into}"' in form.text  # back to the tracking page, which has the reason
    followers = "SELECT count(*) FROM subscriptions WHERE subject = ANY($1::text[]) AND kind = 'follower'"
    before = await pool.fetchval(followers, [asked, into])
    email = new_email()
    r = await ask(client, asked, email)
    assert r.status_code == 409
    assert ENDED[ended] in r.text and NOTHING in r.text and 'action="/ikuti"' not in r.text
    assert await subscriptions(pool, email) == [] and await mails(pool, email) == []
    assert await pool.fetchval(followers, [asked, into]) == before


@pytest.mark.parametrize("ended", sorted(STATES))
async def test_a_proposal_whose_story_has_ended_cannot_be_followed(
    client: httpx.AsyncClient, app_pool: asyncpg.Pool, put, ended: str
) -> None:
    code = await new_proposal(client)
    await put(code, *STATES[ended])
    await assert_refused(client, app_pool, code, ended, code)


async def test_a_proposal_is_followed_while_its_line_is_at_work_and_not_once_the_work_ended(
    client: httpx.AsyncClient, app_pool: asyncpg.Pool, put
) -> None:
    """In the RKPD, its line budgeted, then at work: followed as before. Once the line's work has ended, a
    new address is refused, and the confirmation asked while it was at work confirms nothing."""
    code = await new_proposal(client)
    await put(code, "masuk_rkpd", "apbd")
    email = new_email()
    r = await ask(client, code, email)
    assert r.status_code == 200 and "Jika alamat itu benar, kami mengirim tautan konfirmasi" in r.text
    [sub] = await subscriptions(app_pool, email)
    assert (sub["subject"], sub["confirmed"]) == (code, False)
    await put(code, "masuk_rkpd", "pelaksanaan")
    form = await client.get(f"/ikuti?subjek={code}")
    assert 'action="/ikuti"' in form.text and NOTHING not in form.text
    await put(code, "masuk_rkpd", "selesai")
    await assert_refused(client, app_pool, code, "selesai", code)
    page = await client.get(f"/ikuti/{sub['token']}")
    assert page.status_code == 200 and ENDED["selesai"] in page.text
    assert f'action="/ikuti/{sub["token"]}"' not in page.text  # no button to confirm it by
    done = await client.post(f"/ikuti/{sub['token']}", data={"_csrf_token": await csrf(client)})
    assert done.status_code == 409 and ENDED["selesai"] in done.text
    [after] = await subscriptions(app_pool, email)
    assert after["confirmed"] is False


async def test_a_merged_duplicate_is_judged_by_the_proposal_it_lives_in(
    client: httpx.AsyncClient, app_pool: asyncpg.Pool, put
) -> None:
    """D merged into P: followed (as P) while P's line is at work; once P's line is dropped, asking to follow
    D is refused, the page saying D lives on in P (without «you will follow») and why P's news has ended."""
    duplicate, survivor = await new_proposal(client), await new_proposal(client)
    await put(duplicate, "diajukan")  # put back after, with its merge undone
    await app_pool.execute("UPDATE proposals SET status = 'digabungkan', merged_into = $2 WHERE code = $1",
                           duplicate, survivor)  # fmt: skip
    await put(survivor, "masuk_rkpd", "pelaksanaan")
    form = await client.get(f"/ikuti?subjek={duplicate}")
    assert "Anda akan mengikuti kabar usulan" in form.text and 'action="/ikuti"' in form.text
    await put(survivor, "masuk_rkpd", "batal")
    await assert_refused(client, app_pool, duplicate, "batal", survivor)
    form = await client.get(f"/ikuti?subjek={duplicate}")
    assert f"Usulan {dashed(duplicate)} sudah digabung ke usulan {dashed(survivor)}" in form.text
    assert "Anda akan mengikuti" not in form.text
    found = await following.find(app_pool, duplicate)
    assert found is not None and (found.subject, found.merged_from, found.ended) == (survivor, duplicate, "batal")


# --- the real cycle of tests/history.py (read only) ----------------------------------------------------


@pytest.fixture
async def city(city_database: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await create_pool(city_database, min_size=1, max_size=2)
    yield pool
    await pool.close()


async def by_title(pool: asyncpg.Pool, title: str) -> str:
    code = await pool.fetchval("SELECT code FROM proposals WHERE year = $1 AND title = $2", history.YEAR, title)
    assert code is not None, title
    return str(code)


async def test_in_the_history_what_has_ended_and_what_has_not(city: asyncpg.Pool) -> None:
    """Rejected (a2), declined by the agencies (a3, the pokir), not selected at the kecamatan forum (b1): ended.
    In line DBMSDA-002, which is at work (a0, a1, b0), and a4 merged into a0: followed as before."""
    expected = {
        "Usulan nomor 2": "ditolak",
        "Usulan nomor 3": "tidak_terakomodasi",
        "Usulan nomor 6": "tidak_terakomodasi",
        "Pokir saluran uji": "tidak_terakomodasi",
        "Usulan nomor 0 revisi": None,
        "Usulan nomor 1": None,
        "Usulan nomor 5": None,
        "Usulan nomor 4": None,
    }
    a0 = await by_title(city, "Usulan nomor 0 revisi")
    async with city.acquire() as conn:
        for title, ended in expected.items():
            code = await by_title(city, title)
            found = await following.followed(conn, code)
            assert found is not None and found.ended == ended, title
        a4 = await following.followed(conn, await by_title(city, "Usulan nomor 4"))
        assert a4 is not None and (a4.subject, a4.ended) == (a0, None)


async def test_in_the_history_the_follow_page_of_a_rejected_proposal_says_why(
    city_server: Server, city: asyncpg.Pool
) -> None:
    rejected = await by_title(city, "Usulan nomor 2")
    async with httpx.AsyncClient(base_url=city_server.base_url) as client:
        form = await client.get(f"/ikuti?subjek={rejected}")
        assert form.status_code == 200
        assert f"Usulan {dashed(rejected)} {ENDED['ditolak']}" in form.text and NOTHING in form.text
        assert 'name="email"' not in form.text
        at_work = await client.get(f"/ikuti?subjek={await by_title(city, 'Usulan nomor 1')}")
        assert 'name="email"' in at_work.text and NOTHING not in at_work.text
