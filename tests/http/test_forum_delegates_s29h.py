"""Session 29h, on the real server: at a kelurahan forum a delegate registered by mistake can be corrected
("Perbaiki": name, whom they represent, gender, with a reason) or withdrawn ("Tarik", with a reason) from the
staff session page and the API, and everything reading delegates sees it (the ballot form, the Berita Acara's
attendance and gender counts, the API's counts); one who voted is not withdrawn; a Musrenbang closing with no
delegate mandated is refused until the close says it is meant. And three small things: the same-name refusal
names the person, the projector heads approval votes "Suara", the schedule form offers a kelurahan's account
only its level, and the Berita Acara does not say the RKPD year twice."""

from __future__ import annotations

import json
import re

import asyncpg
import httpx

from tests.http.test_forum_entry import _open_forum, _signed_in
from tests.http.test_pages import hidden
from tests.http.test_review_forums import _scheduled
from tests.http.test_staff import token, users  # noqa: F401  (a fixture)


async def _events(pool: asyncpg.Pool, forum_id: str) -> int:
    """Every event of the forum's streams (its own, its ballots' and score sheets')."""
    return await pool.fetchval("SELECT count(*) FROM events WHERE stream_id = $1 OR stream_id LIKE $2",
                               f"forum-{forum_id}", f"forum-{forum_id}-%")  # fmt: skip


def _attendance(minutes: str) -> str:
    return minutes.split("I. Kehadiran")[1].split("II. Usulan")[0]


async def test_a_corrected_name_and_gender_are_what_the_berita_acara_counts_and_lists(
    client: httpx.AsyncClient, users: dict[str, str], app_pool: asyncpg.Pool  # noqa: F811
) -> None:
    csrf = await _signed_in(client, users["kelurahan"])
    forum_id, _ = await _open_forum(client, await token(client, users["kelurahan"]))
    page = (await client.get(f"/forum/{forum_id}")).text
    assert f'action="/forum/{forum_id}/peserta/d2/perbaiki"' in page and "<summary>Perbaiki</summary>" in page
    assert f'action="/forum/{forum_id}/peserta/d4/tarik"' in page and "<summary>Tarik</summary>" in page
    assert page.count('name="name"') == 1 and 'name="fix_name"' in page  # the registration form's stay unique
    url = f"/forum/{forum_id}/peserta/d2/perbaiki"
    typed = {"_csrf_token": csrf, "fix_name": "Budi Santoso", "fix_represents": "RW 03", "fix_gender": "L"}
    before = await _events(app_pool, forum_id)
    missing = await client.post(url, data={**typed, "fix_reason": ""})  # no reason: marked on its row, nothing written
    assert missing.status_code == 422 and 'id="fix_d2_reason"' in missing.text
    assert re.search(r'id="fix_d2_reason"[^>]*aria-invalid="true"', missing.text)
    assert 'value="Budi Santoso"' in missing.text and await _events(app_pool, forum_id) == before
    fixed = await client.post(url, data={**typed, "fix_reason": "salah ketik nama"})
    assert fixed.status_code == 303 and fixed.headers["location"].endswith("#peserta-d2")
    women = await client.post(f"/forum/{forum_id}/peserta/d3/perbaiki", data={
        "_csrf_token": csrf, "fix_name": "Delegasi 3", "fix_represents": "", "fix_gender": "P",
        "fix_reason": "jenis kelamin"})  # fmt: skip
    assert women.status_code == 303
    assert await _events(app_pool, forum_id) == before + 2
    forum = (await client.get(f"/api/v1/forums/{forum_id}")).json()
    assert (forum["delegates"], forum["women_delegates"]) == (4, 1)
    page = (await client.get(f"/forum/{forum_id}")).text
    assert '<label for="b_d2">Budi Santoso</label>' in page and "Delegasi 2" not in page
    assert (await client.post(f"/forum/{forum_id}/suara", data={"_csrf_token": csrf, "b_d2": "1"})).status_code == 303
    mandated = await client.post(f"/forum/{forum_id}/mandat", data={"_csrf_token": csrf, "delegates": "d2"})
    assert mandated.status_code == 303
    closed = await client.post(f"/forum/{forum_id}/tutup", data={"_csrf_token": csrf, "understood": "ya"})
    assert closed.status_code == 303, closed.text[:3000]
    minutes = (await client.get(f"/forum/{forum_id}/berita-acara")).text
    attendance = _attendance(minutes)
    assert "Jumlah peserta: 4 orang — perempuan 1, laki-laki 1, tidak dicatat 2." in attendance
    assert "Budi Santoso (RW 03)" in attendance and "Delegasi 2" not in minutes
    assert "Budi Santoso" in minutes.split("IV. Delegasi")[1]


async def test_a_withdrawn_delegate_is_on_neither_the_ballot_form_nor_the_attendance(
    client: httpx.AsyncClient, users: dict[str, str], app_pool: asyncpg.Pool  # noqa: F811
) -> None:
    csrf = await _signed_in(client, users["kelurahan"])
    auth = await token(client, users["kelurahan"])
    forum_id, _ = await _open_forum(client, auth)
    url = f"/forum/{forum_id}/peserta/d4/tarik"
    before = await _events(app_pool, forum_id)
    missing = await client.post(url, data={"_csrf_token": csrf, "out_reason": " "})
    assert missing.status_code == 422 and re.search(r'id="out_d4_reason"[^>]*aria-invalid="true"', missing.text)
    assert await _events(app_pool, forum_id) == before
    out = await client.post(url, data={"_csrf_token": csrf, "out_reason": "terdaftar dua kali"})
    assert out.status_code == 303
    again = await client.post(url, data={"_csrf_token": csrf, "out_reason": "terdaftar dua kali"})  # a double tap
    assert again.status_code == 303 and await _events(app_pool, forum_id) == before + 1
    page = (await client.get(f"/forum/{forum_id}")).text
    assert 'name="b_d4"' not in page and 'id="peserta-d4"' not in page and "Peserta (3)" in page
    assert 'name="b_d1"' in page and 'id="peserta-d1"' in page
    api_ballot = await client.post(f"/api/v1/forums/{forum_id}/ballots", headers=auth,
                                   json=[{"delegate_id": "d4", "approvals": []}])  # fmt: skip
    assert api_ballot.status_code == 409 and "tidak terdaftar" in api_ballot.text
    assert (await client.get(f"/api/v1/forums/{forum_id}")).json()["delegates"] == 3
    # A new delegate gets a fresh id, not the withdrawn one's.
    assert hidden(page, "delegate_id") == "p5"
    assert (await client.post(f"/forum/{forum_id}/suara", data={"_csrf_token": csrf, "b_d1": "1"})).status_code == 303
    closed = await client.post(f"/forum/{forum_id}/tutup", data={"_csrf_token": csrf, "understood": "ya",
                                                                 "no_mandate": "ya"})  # fmt: skip
    assert closed.status_code == 303
    attendance = _attendance((await client.get(f"/forum/{forum_id}/berita-acara")).text)
    assert "Jumlah peserta: 3 orang" in attendance and "Delegasi 4" not in attendance


async def test_withdrawing_one_who_voted_is_refused_saying_why_and_writes_nothing(
    client: httpx.AsyncClient, users: dict[str, str], app_pool: asyncpg.Pool  # noqa: F811
) -> None:
    csrf = await _signed_in(client, users["kelurahan"])
    auth = await token(client, users["kelurahan"])
    forum_id, _ = await _open_forum(client, auth)
    assert (await client.post(f"/forum/{forum_id}/suara", data={"_csrf_token": csrf, "b_d1": "1"})).status_code == 303
    page = (await client.get(f"/forum/{forum_id}")).text
    row = page[page.index('id="peserta-d1"'):page.index('id="peserta-d2"')]
    assert "tidak dapat ditarik" in row and "/tarik" not in row and "/perbaiki" in row  # not offered for d1
    before = await _events(app_pool, forum_id)
    refused = await client.post(f"/forum/{forum_id}/peserta/d1/tarik", data={"_csrf_token": csrf,
                                                                            "out_reason": "keliru"})  # fmt: skip
    assert refused.status_code == 409
    assert "Delegasi 1 sudah memberikan suara atau nilai" in refused.text and "perbaiki datanya" in refused.text
    api = await client.post(f"/api/v1/forums/{forum_id}/delegates/d1/withdrawal", json={"reason": "keliru"},
                            headers=auth)  # fmt: skip
    assert api.status_code == 409 and "tidak dapat ditarik" in api.text
    assert await _events(app_pool, forum_id) == before
    assert (await client.get(f"/api/v1/forums/{forum_id}")).json()["delegates"] == 4


async def test_a_close_with_nobody_mandated_is_refused_then_accepted_when_confirmed(
    client: httpx.AsyncClient, users: dict[str, str], app_pool: asyncpg.Pool  # noqa: F811
) -> None:
    csrf = await _signed_in(client, users["kelurahan"])
    auth = await token(client, users["kelurahan"])
    forum_id, _ = await _open_forum(client, auth)
    assert (await client.post(f"/forum/{forum_id}/suara", data={"_csrf_token": csrf, "b_d1": "1"})).status_code == 303
    page = (await client.get(f"/forum/{forum_id}")).text
    assert 'name="no_mandate" value="ya" id="no_mandate"' in page
    before = await _events(app_pool, forum_id)
    refused = await client.post(f"/forum/{forum_id}/tutup", data={"_csrf_token": csrf, "understood": "ya"})
    assert refused.status_code == 409
    assert "belum ada delegasi yang diutus ke Musrenbang Kecamatan" in refused.text
    assert re.search(r'id="no_mandate"[^>]*aria-invalid="true"', refused.text) and 'href="#no_mandate"' in refused.text
    api = await client.post(f"/api/v1/forums/{forum_id}/close", headers=auth)
    assert api.status_code == 409 and "belum ada delegasi yang diutus" in api.text
    unconfirmed = await client.post(f"/api/v1/forums/{forum_id}/close", json={"no_mandate_confirmed": False},
                                    headers=auth)  # fmt: skip
    assert unconfirmed.status_code == 409
    assert await _events(app_pool, forum_id) == before
    assert (await client.get(f"/api/v1/forums/{forum_id}")).json()["status"] == "open"
    closed = await client.post(f"/forum/{forum_id}/tutup", data={"_csrf_token": csrf, "understood": "ya",
                                                                 "no_mandate": "ya"})  # fmt: skip
    assert closed.status_code == 303 and closed.headers["location"].endswith("/berita-acara")


async def test_the_api_confirms_a_close_without_a_mandate_and_one_with_a_mandate_needs_nothing(
    client: httpx.AsyncClient, users: dict[str, str]  # noqa: F811
) -> None:
    auth = await token(client, users["kelurahan"])
    for mandate in (False, True):
        forum_id, _ = await _open_forum(client, auth)
        await client.post(f"/api/v1/forums/{forum_id}/ballots", json=[{"delegate_id": "d1", "approvals": []}],
                          headers=auth)  # fmt: skip
        if mandate:
            await client.post(f"/api/v1/forums/{forum_id}/mandate", json={"delegate_ids": ["d1"]}, headers=auth)
            closed = await client.post(f"/api/v1/forums/{forum_id}/close", headers=auth)
        else:  # refused with no body, then closed when the body confirms it
            assert (await client.post(f"/api/v1/forums/{forum_id}/close", headers=auth)).status_code == 409
            closed = await client.post(f"/api/v1/forums/{forum_id}/close", json={"no_mandate_confirmed": True},
                                       headers=auth)  # fmt: skip
        assert closed.status_code == 200 and closed.json()["status"] == "closed", closed.text


async def test_the_api_corrects_and_withdraws_with_validation(
    client: httpx.AsyncClient, users: dict[str, str], app_pool: asyncpg.Pool  # noqa: F811
) -> None:
    auth = await token(client, users["kelurahan"])
    forum_id = await _scheduled(client, auth)
    people = [{"delegate_id": "a1", "name": "Siti Aminah", "represents": "RW 05", "gender": "P"},
              {"delegate_id": "a2", "name": "Budi Santosa", "represents": "RW 03", "gender": "P"}]  # fmt: skip
    assert (await client.post(f"/api/v1/forums/{forum_id}/delegates", json=people, headers=auth)).status_code == 200
    base = f"/api/v1/forums/{forum_id}/delegates"
    before = await _events(app_pool, forum_id)
    for body in ({"name": "x" * 201, "reason": "r"}, {"name": "B", "reason": "r" * 1001},  # bounded at the edge
                 {"name": "Budi", "reason": "r", "extra": 1}, {"name": "Budi Santoso"},  # the reason is required
                 {"name": "Budi Santoso", "reason": " ", "represents": "RW 03", "gender": "L"},
                 {"name": "Budi Santoso", "reason": "r", "gender": "X"},
                 {"name": "siti aminah", "represents": "rw 05", "gender": "P", "reason": "r"}):
        r = await client.post(f"{base}/a2/correction", json=body, headers=auth)
        assert r.status_code in (400, 422), (body, r.text)
    same = await client.post(f"{base}/a2/correction", headers=auth, json={
        "name": "siti aminah", "represents": "rw 05", "gender": "P", "reason": "r"})
    assert "Siti Aminah yang mewakili RW 05 sudah terdaftar sebagai peserta nomor 1" in same.text
    assert (await client.post(f"{base}/zz/correction", json={"name": "A", "reason": "r"}, headers=auth)
            ).status_code == 404  # fmt: skip
    assert (await client.post(f"{base}/a2/withdrawal", json={}, headers=auth)).status_code in (400, 422)
    assert (await client.post(f"{base}/a2/withdrawal", json={"reason": ""}, headers=auth)).status_code == 422
    assert await _events(app_pool, forum_id) == before
    fixed = await client.post(f"{base}/a2/correction", headers=auth, json={
        "name": "Budi Santoso", "represents": "RW 03", "gender": "L", "reason": "salah ketik"})
    assert fixed.status_code == 200 and fixed.json()["women_delegates"] == 1, fixed.text
    out = await client.post(f"{base}/a1/withdrawal", json={"reason": "terdaftar di forum lain"}, headers=auth)
    assert out.status_code == 200 and (out.json()["delegates"], out.json()["women_delegates"]) == (1, 0)
    gone = await client.post(f"{base}/a1/correction", json={"name": "Siti", "reason": "r"}, headers=auth)
    assert gone.status_code == 409 and "sudah ditarik" in gone.text
    [corrected] = await app_pool.fetch("SELECT data FROM events WHERE stream_id = $1 AND event_type = $2",
                                       f"forum-{forum_id}", "forum.delegate_corrected")  # fmt: skip
    data = json.loads(corrected["data"])
    assert (data["name"], data["gender"], data["reason"], data["delegate_id"]) == ("Budi Santoso", "L", "salah ketik",
                                                                                   "a2")  # fmt: skip


async def test_the_same_name_refusal_names_the_person_not_an_internal_id(
    client: httpx.AsyncClient, users: dict[str, str]  # noqa: F811
) -> None:
    csrf = await _signed_in(client, users["kelurahan"])
    forum_id = await _scheduled(client, await token(client, users["kelurahan"]))
    typed = {"_csrf_token": csrf, "name": "Ibu Sari", "represents": "RW 05", "gender": "P"}
    for _ in range(2):
        shown = hidden((await client.get(f"/forum/{forum_id}")).text, "delegate_id")
        r = await client.post(f"/forum/{forum_id}/peserta", data={**typed, "delegate_id": shown})
    assert r.status_code == 422
    assert "Ibu Sari yang mewakili RW 05 sudah terdaftar sebagai peserta nomor 1" in r.text
    assert "kode p1" not in r.text


async def test_the_projector_heads_approval_votes_suara(client: httpx.AsyncClient, users: dict[str, str]) -> None:  # noqa: F811
    forum_id, _ = await _open_forum(client, await token(client, users["kelurahan"]))
    screen = (await client.get(f"/forum/{forum_id}/layar")).text
    head = screen[screen.index('<table id="ranking">'):screen.index("</thead>")]
    assert "<th>Suara</th>" in head and "Nilai" not in head
    scored, _ = await _open_forum(client, await token(client, users["kelurahan"]), rule="weighted-criteria")
    screen = (await client.get(f"/forum/{scored}/layar")).text
    assert "<th>Nilai</th>" in screen[screen.index('<table id="ranking">'):screen.index("</thead>")]


async def test_the_schedule_form_offers_an_account_only_the_levels_it_can_schedule(
    client: httpx.AsyncClient, users: dict[str, str]  # noqa: F811
) -> None:
    await _signed_in(client, users["kelurahan"])
    form = (await client.get("/petugas/musyawarah/baru")).text
    levels = form[form.index('id="level"'):form.index("</select>", form.index('id="level"'))]
    assert 'value="kelurahan"' in levels and 'value="kecamatan"' not in levels
    await client.post("/keluar", data={"_csrf_token": hidden((await client.get("/petugas")).text, "_csrf_token")})
    await _signed_in(client, users["kecamatan"])
    form = (await client.get("/petugas/musyawarah/baru")).text
    levels = form[form.index('id="level"'):form.index("</select>", form.index('id="level"'))]
    assert 'value="kelurahan"' in levels and 'value="kecamatan"' in levels


async def test_the_berita_acara_does_not_repeat_the_rkpd_year_the_title_gives(
    client: httpx.AsyncClient, users: dict[str, str]  # noqa: F811
) -> None:
    auth = await token(client, users["kelurahan"])
    for title, repeated in (("Musrenbang Kelurahan Bekasijaya RKPD 2022", False), ("Musrenbang Kelurahan", True)):
        forum_id = await _scheduled(client, auth, title=title)
        await client.post(f"/api/v1/forums/{forum_id}/open", headers=auth)
        closed = await client.post(f"/api/v1/forums/{forum_id}/close", json={"no_mandate_confirmed": True},
                                   headers=auth)  # fmt: skip
        assert closed.status_code == 200, closed.text
        opening = (await client.get(f"/forum/{forum_id}/berita-acara")).text.split("I. Kehadiran")[0]
        assert ("untuk RKPD 2022" in opening) is repeated, opening[-800:]
        assert opening.count("2022") >= 1
