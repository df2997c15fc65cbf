"""Calling a forum off through the real server (session 27): the JSON endpoint and the staff page's form,
who may, what it refuses, and what the public calendar, the projector screen and a proposal's path say."""

from __future__ import annotations

import asyncpg
import httpx

from tests.http.test_forum_entry import FORUM, _open_forum, _signed_in
from tests.http.test_review_forums import _count, _scheduled
from tests.http.test_staff import new_proposal, token, users  # noqa: F401  (a fixture)

CANCELLED = "musyawarah ini sudah dibatalkan"


async def _events(pool: asyncpg.Pool) -> int:
    return await pool.fetchval("SELECT count(*) FROM events")


async def test_an_open_forum_is_cancelled_once_and_then_refuses_every_command(
    client: httpx.AsyncClient, users: dict[str, str], app_pool: asyncpg.Pool  # noqa: F811
) -> None:
    auth = await token(client, users["kelurahan"])
    forum_id, _ = await _open_forum(client, auth)
    item = (await client.get(f"/api/v1/forums/{forum_id}")).json()["agenda"][0]["item_id"]
    cast = await client.post(f"/api/v1/forums/{forum_id}/ballots", headers=auth,
                             json=[{"delegate_id": "d1", "approvals": [item]}])  # fmt: skip
    assert cast.status_code == 200
    keyed = {**auth, "Idempotency-Key": "batal-1"}
    url = f"/api/v1/forums/{forum_id}/cancel"
    first = await client.post(url, headers=keyed, json={"reason": "Ketua berhalangan, diulang bulan depan"})
    assert first.status_code == 200, first.text
    body = first.json()
    assert (body["status"], body["cancel_reason"]) == ("cancelled", "Ketua berhalangan, diulang bulan depan")
    assert body["result"] is None and body["ballots"] == 1
    again = await client.post(url, headers=keyed, json={"reason": "Ketua berhalangan, diulang bulan depan"})
    assert again.status_code == 200 and again.json()["status"] == "cancelled"
    other = await client.post(url, headers=keyed, json={"reason": "lain"})  # the key, another command
    assert other.status_code == 409
    assert await _count(app_pool, forum_id, "forum.cancelled") == 1
    assert await _count(app_pool, forum_id, "forum.ballot_cast", "-ballot-%") == 1  # stays in the log
    screen = (await client.get(f"/forum/{forum_id}/layar")).text  # cast, not counted: not "nobody voted"
    assert '<span id="ballots">1</span>' in screen and "dibatalkan" in screen, screen

    before = await _events(app_pool)
    refused = {
        "delegates": [{"delegate_id": "d9", "name": "Baru"}], "open": None,
        "ballots": [{"delegate_id": "d2", "approvals": [item]}],
        "scores": {"sheet": "konsensus", "marks": {}},
        "adjustments": {"item_id": item, "reason": "harga", "agreed_cost": 1_000_000},
        "mandate": {"delegate_ids": ["d1"]}, "close": None, "cancel": {"reason": "sekali lagi"},
    }  # fmt: skip
    for action, payload in refused.items():
        r = await client.post(f"/api/v1/forums/{forum_id}/{action}", headers=auth, json=payload)
        assert r.status_code == 409, (action, r.text)
        assert r.json()["message"] == CANCELLED, (action, r.text)
    assert await _events(app_pool) == before


async def test_a_missing_or_too_long_reason_is_422_in_indonesian_and_writes_nothing(
    client: httpx.AsyncClient, users: dict[str, str], app_pool: asyncpg.Pool  # noqa: F811
) -> None:
    auth = await token(client, users["kelurahan"])
    forum_id = await _scheduled(client, auth)
    url = f"/api/v1/forums/{forum_id}/cancel"
    before = await _events(app_pool)
    for body in ({"reason": ""}, {"reason": " \n "}):
        r = await client.post(url, headers=auth, json=body)
        assert r.status_code == 422, r.text
        assert r.json()["errors"] == {"reason": "tulis mengapa musyawarah ini dibatalkan"}, r.text
    for body in ({"reason": "x" * 1001}, {}, {"reason": "a\x00b"}):
        r = await client.post(url, headers=auth, json=body)
        assert r.status_code == 422 and list(r.json()["errors"]) == ["reason"], (body, r.text)
        assert "reason" in r.text and "Expected" not in r.json()["errors"]["reason"], r.text
    assert await _events(app_pool) == before
    assert (await client.get(f"/api/v1/forums/{forum_id}")).json()["status"] == "scheduled"


async def test_only_who_may_run_the_forum_cancels_it(
    client: httpx.AsyncClient, users: dict[str, str], app_pool: asyncpg.Pool  # noqa: F811
) -> None:
    forum_id = await _scheduled(client, await token(client, users["kelurahan"]))
    before = await _events(app_pool)
    for who in ("other", "opd", "auditor"):  # another kelurahan's facilitator, an agency, an auditor
        r = await client.post(f"/api/v1/forums/{forum_id}/cancel", headers=await token(client, users[who]),
                              json={"reason": "tidak jadi"})  # fmt: skip
        assert r.status_code == 403, (who, r.text)
    assert (await client.post(f"/api/v1/forums/{forum_id}/cancel", json={"reason": "x"})).status_code == 401
    assert await _events(app_pool) == before
    kecamatan = await client.post(f"/api/v1/forums/{forum_id}/cancel", headers=await token(client, users["kecamatan"]),
                                  json={"reason": "dipindah ke kecamatan"})  # fmt: skip
    assert kecamatan.status_code == 200 and kecamatan.json()["status"] == "cancelled"


async def test_the_proposals_of_a_cancelled_forum_go_on_the_next_forum_s_agenda_and_their_path_says_why(
    client: httpx.AsyncClient, users: dict[str, str], app_pool: asyncpg.Pool  # noqa: F811
) -> None:
    auth = await token(client, users["kelurahan"])
    first, _ = await _open_forum(client, auth)
    held = [a["proposal"] for a in (await client.get(f"/api/v1/forums/{first}")).json()["agenda"]]
    code = held[-1]
    r = await client.post(f"/api/v1/forums/{first}/cancel", headers=auth, json={"reason": "aula banjir"})
    assert r.status_code == 200, r.text
    second = await _scheduled(client, auth, title="Musrenbang pengganti")
    opened = await client.post(f"/api/v1/forums/{second}/open", headers=auth)
    assert opened.status_code == 200, opened.text
    assert code in [a["proposal"] for a in opened.json()["agenda"]]
    path = await client.get(f"/telusur/usulan/{code}")
    assert path.status_code == 200
    assert "Musyawarah dibatalkan; usulan ini tidak diputuskan di sana" in path.text and "aula banjir" in path.text


async def test_the_staff_form_asks_for_a_reason_and_a_confirmation_then_every_page_says_dibatalkan(
    client: httpx.AsyncClient, users: dict[str, str], app_pool: asyncpg.Pool  # noqa: F811
) -> None:
    csrf = await _signed_in(client, users["kelurahan"])
    forum_id = await _scheduled(client, await token(client, users["kelurahan"]), title="Musrenbang Margahayu batal")
    page = (await client.get(f"/forum/{forum_id}")).text
    assert f'action="/forum/{forum_id}/batal"' in page and '<textarea id="cancel_reason" name="reason"' in page
    before = await _events(app_pool)
    unconfirmed = await client.post(f"/forum/{forum_id}/batal", data={"_csrf_token": csrf, "reason": "hujan"})
    assert unconfirmed.status_code == 422 and "centang dulu bahwa Anda paham" in unconfirmed.text
    assert ">hujan</textarea>" in unconfirmed.text  # what was typed stays
    no_reason = await client.post(f"/forum/{forum_id}/batal", data={"_csrf_token": csrf, "understood": "ya"})
    assert no_reason.status_code == 422 and "tulis mengapa musyawarah ini dibatalkan" in no_reason.text
    assert await _events(app_pool) == before
    form = {"_csrf_token": csrf, "understood": "ya", "reason": "Jalan menuju aula ditutup"}
    done = await client.post(f"/forum/{forum_id}/batal", data=form)
    twice = await client.post(f"/forum/{forum_id}/batal", data=form)  # a double tap
    assert (done.status_code, twice.status_code) == (303, 303)
    assert await _count(app_pool, forum_id, "forum.cancelled") == 1
    page = (await client.get(f"/forum/{forum_id}")).text
    assert "Musyawarah ini dibatalkan." in page and "Jalan menuju aula ditutup" in page
    assert f'action="/forum/{forum_id}/peserta"' not in page and f'action="/forum/{forum_id}/buka"' not in page
    assert f'action="/forum/{forum_id}/batal"' not in page
    opening = await client.post(f"/forum/{forum_id}/buka", data={"_csrf_token": csrf})
    assert opening.status_code == 409 and CANCELLED in opening.text

    calendar = (await client.get("/musyawarah", params={"tahun": FORUM["year"]})).text
    [entry] = [li for li in calendar.split("<li ")[1:] if "Musrenbang Margahayu batal" in li]
    assert entry.startswith('class="meeting cancelled"') and '<strong class="bad">Dibatalkan</strong>' in entry
    assert "Alasan pembatalan: <span class=\"reason\">Jalan menuju aula ditutup</span>" in entry, entry
    assert "sedang berlangsung" not in entry and "dijadwalkan" not in entry
    screen = (await client.get(f"/forum/{forum_id}/layar")).text
    assert "Musyawarah ini dibatalkan." in screen and "Jalan menuju aula ditutup" in screen
    assert 'id="ranking"' not in screen and 'http-equiv="refresh"' not in screen
    home = (await client.get("/petugas")).text
    listed = home[home.index(f'href="/forum/{forum_id}"'):][:400]
    assert "dibatalkan" in listed
