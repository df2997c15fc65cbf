"""The staff screens without JavaScript (issue 16, parts 1-3): forms with mistakes come back as typed with
each mistake marked and nothing written; closing a forum needs "Saya paham"; regions by name; codes
replaced by names; notices carried in a signed cookie, never taken from the address."""

from __future__ import annotations

import re
import uuid

import asyncpg
import httpx

from tests.http.test_pages import hidden
from tests.http.test_staff import KELURAHAN, PASSWORD, new_proposal, token, users  # noqa: F401  (a fixture)

FORUM = {"level": "kelurahan", "region": KELURAHAN, "year": 2022, "held_on": "2021-01-20", "ceiling": 50_000_000}


async def _signed_in(client: httpx.AsyncClient, username: str) -> str:
    """Sign the client's browser session in; the CSRF token for its forms."""
    form = await client.get("/masuk")
    await client.post("/masuk", data={"_csrf_token": hidden(form.text, "_csrf_token"), "username": username,
                                      "password": PASSWORD})  # fmt: skip
    return hidden((await client.get("/petugas")).text, "_csrf_token")


async def _open_forum(client: httpx.AsyncClient, auth: dict[str, str], rule: str = "greedy") -> tuple[str, int]:
    """An open forum of four delegates (d1-d4); its id and the agenda's length."""
    code = await new_proposal(client, estimated_cost=5_000_000)
    await client.post(f"/api/v1/proposals/{code}/verification", json={"decision": "accept"}, headers=auth)
    kind = {} if rule == "weighted-criteria" else {"ballot_kind": "approval"}
    r = await client.post("/api/v1/forums", headers=auth, json={**FORUM, "title": "Forum entri", "rule": rule, **kind})
    forum_id = r.json()["forum_id"]
    people = [{"delegate_id": f"d{i}", "name": f"Delegasi {i}"} for i in range(1, 5)]
    await client.post(f"/api/v1/forums/{forum_id}/delegates", json=people, headers=auth)
    agenda = (await client.post(f"/api/v1/forums/{forum_id}/open", headers=auth)).json()["agenda"]
    return forum_id, len(agenda)


def _invalid(page: str) -> list[str]:
    return re.findall(r'name="([^"]+)"[^>]*aria-invalid="true"', page)


async def test_ballot_rows_with_typos_come_back_as_typed_and_nothing_is_saved(
    client: httpx.AsyncClient, users, app_pool: asyncpg.Pool  # noqa: ANN001, F811
) -> None:
    csrf = await _signed_in(client, users["kelurahan"])
    forum_id, items = await _open_forum(client, await token(client, users["kelurahan"]))
    rows = {"b_d1": "1", "b_d2": f"1, {items + 1}", "b_d3": "satu", "b_d4": "1;"}
    before = await app_pool.fetchval("SELECT count(*) FROM events")
    r = await client.post(f"/forum/{forum_id}/suara", data={"_csrf_token": csrf, **rows})
    assert r.status_code == 422
    assert all(f'name="{name}" value="{value}"' in r.text for name, value in rows.items())  # every row kept
    assert _invalid(r.text) == ["b_d2", "b_d3", "b_d4"]
    assert f"nomor {items + 1} tidak ada di agenda (1 sampai {items})" in r.text
    assert "«satu» bukan nomor usulan" in r.text and "«1;» bukan nomor usulan" in r.text
    assert await app_pool.fetchval("SELECT count(*) FROM events") == before
    fixed = await client.post(f"/forum/{forum_id}/suara", data={"_csrf_token": csrf, **rows, "b_d2": "1",
                                                               "b_d3": "1", "b_d4": "1"})  # fmt: skip
    assert fixed.status_code == 303
    assert (await client.get(f"/api/v1/forums/{forum_id}")).json()["ballots"] == 4


async def test_a_bad_consensus_mark_is_marked_and_the_row_kept(client: httpx.AsyncClient, users) -> None:  # noqa: ANN001, F811
    csrf = await _signed_in(client, users["kelurahan"])
    auth = await token(client, users["kelurahan"])
    forum_id, _ = await _open_forum(client, auth, rule="weighted-criteria")
    forum = (await client.get(f"/api/v1/forums/{forum_id}")).json()
    item, keys = forum["agenda"][0]["item_id"], [c["key"] for c in forum["criteria"]]
    marks = {f"m_{item}_{k}": "3" for k in keys} | {f"m_{item}_{keys[0]}": "7"}
    r = await client.post(f"/forum/{forum_id}/nilai", data={"_csrf_token": csrf, **marks})
    assert r.status_code == 422 and _invalid(r.text) == [f"m_{item}_{keys[0]}"]
    assert f'name="m_{item}_{keys[0]}" value="7"' in r.text and "nilai 1 sampai 5" in r.text


async def test_a_bad_agreed_cost_keeps_the_reason(client: httpx.AsyncClient, users) -> None:  # noqa: ANN001, F811
    csrf = await _signed_in(client, users["kelurahan"])
    forum_id, _ = await _open_forum(client, await token(client, users["kelurahan"]))
    item = (await client.get(f"/api/v1/forums/{forum_id}")).json()["agenda"][0]["item_id"]
    typed = {"_csrf_token": csrf, "item_id": item, "agreed_cost": "dua puluh", "reason": "harga satuan baru"}
    r = await client.post(f"/forum/{forum_id}/ubah", data=typed)
    assert r.status_code == 422 and _invalid(r.text) == ["agreed_cost"]
    assert 'value="harga satuan baru"' in r.text and 'value="dua puluh"' in r.text


async def test_closing_asks_first_without_javascript(client: httpx.AsyncClient, users) -> None:  # noqa: ANN001, F811
    csrf = await _signed_in(client, users["kelurahan"])
    forum_id, _ = await _open_forum(client, await token(client, users["kelurahan"]))
    page = (await client.get(f"/forum/{forum_id}")).text
    assert 'name="understood" value="ya" id="understood" required' in page and "tidak dapat dibatalkan" in page
    refused = await client.post(f"/forum/{forum_id}/tutup", data={"_csrf_token": csrf})
    assert refused.status_code == 422 and "centang dulu bahwa Anda paham" in refused.text
    assert (await client.get(f"/api/v1/forums/{forum_id}")).json()["status"] == "open"
    await client.post(f"/forum/{forum_id}/suara", data={"_csrf_token": csrf, "b_d1": "1"})  # nobody voted: refused
    closed = await client.post(f"/forum/{forum_id}/tutup", data={"_csrf_token": csrf, "understood": "ya",
                                                                 "no_mandate": "ya"})  # fmt: skip
    assert closed.status_code == 303 and closed.headers["location"].endswith("/berita-acara")
    assert (await client.get(f"/api/v1/forums/{forum_id}")).json()["status"] == "closed"


async def test_scheduling_takes_a_region_by_name_and_says_what_is_wrong(client: httpx.AsyncClient, users) -> None:  # noqa: ANN001, F811
    csrf = await _signed_in(client, users["kecamatan"])  # Bekasi Timur: Bekasijaya, Margahayu, ...
    form = (await client.get("/petugas/musyawarah/baru")).text
    assert f'<option value="{KELURAHAN}">Kelurahan Margahayu · {KELURAHAN}</option>' in form
    assert "Bintara" not in form  # another kecamatan's kelurahan is not offered
    fields = {"_csrf_token": csrf, "level": "kelurahan", "year": "2022", "held_on": "2021-01-20",
              "title": "Musrenbang Margahayu", "place": "Aula", "chair": "Lurah", "ceiling": "50000000",
              "rule": "greedy"}  # fmt: skip
    unknown = await client.post("/petugas/musyawarah/baru", data={**fields, "region": "Margahayuu"})
    assert unknown.status_code == 422 and "wilayah «Margahayuu» tidak dikenal: pilih dari daftar" in unknown.text
    outside = await client.post("/petugas/musyawarah/baru", data={**fields, "region": "Bintara"})
    assert outside.status_code == 422 and "akun ini tidak berwenang untuk kelurahan Bintara" in outside.text
    wrong_level = await client.post("/petugas/musyawarah/baru", data={**fields, "region": "32.75.01"})
    assert wrong_level.status_code == 422 and "pilih kelurahan atau desa" in wrong_level.text
    assert 'value="Musrenbang Margahayu"' in wrong_level.text  # what was typed stays
    for ceiling in ("1.5", "٣٠٠", "1.5.0", "0.0001", "32.75.12.1001"):  # once read as Rp 15, 300, 15, 1, ...
        misread = await client.post("/petugas/musyawarah/baru", data={**fields, "region": "margahayu",
                                                                      "ceiling": ceiling})  # fmt: skip
        assert misread.status_code == 422 and "tulis pagu dalam rupiah" in misread.text, ceiling
    made = await client.post("/petugas/musyawarah/baru", data={**fields, "region": "margahayu",
                                                               "ceiling": "Rp 50.000.000"})  # fmt: skip
    assert made.status_code == 303
    forum_id = made.headers["location"].rsplit("/", 1)[1]
    assert (await client.get(f"/api/v1/forums/{forum_id}")).json()["region"] == KELURAHAN
    session = (await client.get(made.headers["location"])).text
    assert "Musyawarah «Musrenbang Margahayu» dijadwalkan" in session  # the notice, once
    assert "Status: <strong>dijadwalkan</strong>" in session and "scheduled" not in session
    assert "dijadwalkan</p>" not in (await client.get(made.headers["location"])).text.split("<h1>")[0]


async def test_a_forum_says_when_it_begins_on_the_public_calendar(client: httpx.AsyncClient, users) -> None:  # noqa: ANN001, F811
    """The starting time is optional; typed as people write it ("9.30"), refused with the typed form kept when
    it is not a time, and shown to residents on /musyawarah."""
    csrf = await _signed_in(client, users["kecamatan"])
    fields = {"_csrf_token": csrf, "level": "kelurahan", "region": "margahayu", "year": "2022",
              "held_on": "2021-01-21", "title": f"Musrenbang pukul {uuid.uuid4().hex[:6]}", "place": "Aula RW 03",
              "chair": "Lurah", "ceiling": "50000000", "rule": "greedy"}  # fmt: skip
    bad = await client.post("/petugas/musyawarah/baru", data={**fields, "starts_at": "25:00"})
    assert bad.status_code == 422 and "tulis jam mulai dengan jam dan menit" in bad.text
    assert 'value="25:00"' in bad.text and f'value="{fields["title"]}"' in bad.text
    made = await client.post("/petugas/musyawarah/baru", data={**fields, "starts_at": "9.30"})
    assert made.status_code == 303, made.text
    forum_id = made.headers["location"].rsplit("/", 1)[1]
    assert (await client.get(f"/api/v1/forums/{forum_id}")).json()["starts_at"] == "09:30:00"
    assert "21 Januari 2021, pukul 09.30" in (await client.get(made.headers["location"])).text  # the staff's page
    calendar = (await client.get("/musyawarah", params={"tahun": 2022})).text
    at = calendar.index(fields["title"])
    shown = calendar[calendar.rindex('<li class="meeting">', 0, at) : at]  # this forum's entry
    assert 'datetime="2021-01-21T09:30"' in shown and "pukul 09.30" in shown
    # Through the API: a time with seconds or a time zone is not the city's wall clock.
    auth = await token(client, users["kecamatan"])
    body = {"level": "kelurahan", "region": KELURAHAN, "year": 2022, "title": "Musrenbang API", "held_on": "2021-01-22",
            "ceiling": 50_000_000, "rule": "greedy", "ballot_kind": "approval"}  # fmt: skip
    for wrong in ("09:30:15", "09:30:00+07:00"):
        r = await client.post("/api/v1/forums", json={**body, "starts_at": wrong}, headers=auth)
        assert r.status_code == 422 and "starts_at" in r.text, (wrong, r.text)


async def test_staff_pages_say_names_not_codes(client: httpx.AsyncClient, users) -> None:  # noqa: ANN001, F811
    await _signed_in(client, users["kelurahan"])
    home = (await client.get("/petugas")).text
    assert "Peran: <strong>fasilitator</strong>" in home
    assert f"wilayah Kelurahan Margahayu <small>({KELURAHAN})</small>" in home  # says what the region is (s28)
    code = await new_proposal(client, title=f"Nama {uuid.uuid4().hex[:6]}")
    queue = (await client.get("/petugas/verifikasi")).text
    assert re.search(rf"Margahayu · RW \d+/RT \d+ · Rp [\d.]+ · {code}</small>", queue)
    assert f'<a href="/lacak/{code}">' in queue  # outside the <summary>: nothing to tap inside a button


async def test_a_verification_with_a_bad_cost_keeps_the_reason_and_a_decision_says_what(
    client: httpx.AsyncClient, users  # noqa: ANN001, F811
) -> None:
    csrf = await _signed_in(client, users["kelurahan"])
    title = f"Saluran {uuid.uuid4().hex[:6]}"
    code = await new_proposal(client, title=title)
    typed = {"_csrf_token": csrf, "decision": "accept_with_changes", "agreed_cost": "dua juta",
             "reason": "harga satuan 2022 lebih murah"}  # fmt: skip
    bad = await client.post(f"/petugas/verifikasi/{code}", data=typed)
    assert bad.status_code == 422
    assert f'id="usulan-{code}" open' in bad.text and ">harga satuan 2022 lebih murah</textarea>" in bad.text
    assert f'id="agreed_cost-{code}" name="agreed_cost" value="dua juta"' in bad.text
    assert (await client.get(f"/api/v1/proposals/{code}")).json()["status"] == "diajukan"
    done = await client.post(f"/petugas/verifikasi/{code}", data={**typed, "agreed_cost": "2 juta"})
    assert done.status_code == 303 and "pesan" not in done.headers["location"]
    shown = (await client.get(done.headers["location"])).text
    assert f"Usulan {code} «{title}» diterima dengan perubahan" in shown
    assert f"«{title}» diterima dengan perubahan" not in (await client.get("/petugas/verifikasi")).text  # once


async def test_notices_come_only_from_our_own_signed_cookie(client: httpx.AsyncClient, users) -> None:  # noqa: ANN001, F811
    await _signed_in(client, users["kelurahan"])
    planted = "Kata sandi Anda kedaluwarsa, hubungi 0812"
    assert planted not in (await client.get("/petugas/verifikasi", params={"pesan": planted})).text
    client.cookies.set("kabar", "S2F0YSBzYW5kaQ.0123456789abcdef0123456789abcdef01234567")  # "Kata sandi", forged
    assert "Kata sandi" not in (await client.get("/petugas/verifikasi")).text


async def test_a_notice_cookie_with_any_characters_is_ignored_not_a_server_error(client: httpx.AsyncClient) -> None:
    """A cookie set by a neighbouring subdomain or a man in the middle may hold anything: the page is served."""
    for value in ("x.%FF", "x.é", "x.%C3%A9", "S2F0YQ.ÿÿ"):
        r = await client.get("/", headers={"Cookie": f"kabar={value}".encode()})
        assert r.status_code == 200, (value, r.status_code)
