"""Planning cycles through the real server: the public calendar, Bappeda opening a year and moving a
window (API and staff page), who may, and stages that enforce themselves by date."""

from __future__ import annotations

import datetime as dt
import random
import uuid

import asyncpg
import httpx
import msgspec

from musrenbang.services.cycles import today
from tests.http.city_setup import sign_in
from tests.http.conftest import payload
from tests.http.test_pages import hidden
from tests.http.test_staff import token, users  # noqa: F401  (module fixture)


def _calendar(first: dt.date, days: int = 10) -> list[dict[str, str]]:
    stages = ("usulan", "kelurahan", "kecamatan", "perangkat_daerah", "kota", "ditetapkan")
    return [{"stage": s, "opens": str(first + dt.timedelta(days=days * i)),
             "closes": str(first + dt.timedelta(days=days * i + days - 1))} for i, s in enumerate(stages)]  # fmt: skip


async def test_the_public_calendar_lists_every_year_with_its_stage_today(client: httpx.AsyncClient) -> None:
    cycles = (await client.get("/api/v1/cycles")).json()
    test_cycle = next(c for c in cycles if c["year"] == 2022)
    assert set(test_cycle) >= {"year", "theme", "stage", "calendar"}
    assert [w["stage"] for w in test_cycle["calendar"]] == [
        "usulan", "kelurahan", "kecamatan", "perangkat_daerah", "kota", "ditetapkan"]  # fmt: skip
    assert set(test_cycle["calendar"][0]) >= {"stage", "opens", "closes"}
    assert (await client.get("/api/v1/cycles/2022")).json()["year"] == 2022
    assert (await client.get("/api/v1/cycles/2099")).status_code == 404
    home = (await client.get("/")).text
    assert "Sedang berlangsung" in home and "Ajukan usulan untuk RKPD" in home


async def test_bappeda_opens_a_year_and_nobody_else_can(
    client: httpx.AsyncClient, app_pool: asyncpg.Pool, users: dict[str, str]  # noqa: F811
) -> None:
    # A year no cycle was ever opened for: one opened and withdrawn by another test of this shared database
    # holds that cycle's `cycle.started` too (the check below reads the year's).
    taken = {r["year"] for r in await app_pool.fetch(
        "SELECT (data->>'year')::int AS year FROM events WHERE event_type = 'cycle.started'")}  # fmt: skip
    year = random.choice([y for y in range(2040, 2090) if y not in taken])
    body = {"year": year, "theme": "Tahun uji", "priority_programs": [{"title": "Program satu", "target": "80%"}],
            "calendar": _calendar(dt.date(year - 1, 1, 5)), "pagu_kecamatan": [{"kecamatan": "32.75.01",
                                                                              "pagu": 5_000_000_000}]}  # fmt: skip
    events = lambda: app_pool.fetchval("SELECT count(*) FROM events")  # noqa: E731
    before = await events()
    assert (await client.post("/api/v1/cycles", json=body)).status_code == 401
    for who in ("kelurahan", "opd", "auditor"):
        r = await client.post("/api/v1/cycles", json=body, headers=await token(client, users[who]))
        assert r.status_code == 403, r.text
    admin = await token(client, users["admin"])
    bad = {**body, "calendar": body["calendar"][:-1]}
    r = await client.post("/api/v1/cycles", json=bad, headers=admin)
    assert r.status_code == 422 and "calendar" in r.json()["errors"], r.text
    outside = {**body, "pagu_kecamatan": [{"kecamatan": "32.75.01", "pagu": 1}]} | {"dana_kelurahan": -1}
    r = await client.post("/api/v1/cycles", json=outside, headers=admin)
    assert r.status_code == 422 and "dana_kelurahan" in r.json()["errors"], r.text
    outside = {**body, "pagu_kecamatan": [{"kecamatan": "32.01.01", "pagu": 1}]}
    assert (await client.post("/api/v1/cycles", json=outside, headers=admin)).status_code == 409
    assert await events() == before  # nothing refused was written

    body["dana_kelurahan"] = 352_000_000  # Dana Kelurahan per kelurahan, for the city level's check
    r = await client.post("/api/v1/cycles", json=body, headers=admin)
    assert r.status_code == 201, r.text
    started = await app_pool.fetchval("SELECT data FROM events WHERE event_type = 'cycle.started'"
                                      " AND (data->>'year')::int = $1 ORDER BY global_position DESC LIMIT 1",
                                      year)  # fmt: skip
    assert msgspec.json.decode(started)["dana_kelurahan"] == 352_000_000
    opened = r.json()
    assert (opened["year"], opened["stage"], opened["priority_programs"][0]["target"]) == (year, "usulan", "80%")
    assert (await client.post("/api/v1/cycles", json=body, headers=admin)).status_code == 409  # once a year

    # Not open yet: a proposal for it is refused, saying when it opens.
    r = await client.post("/api/v1/proposals", json=payload(year=year), headers={"Idempotency-Key": str(uuid.uuid4())})
    assert r.status_code == 409 and f"RKPD {year} belum dibuka: dibuka 5 Januari {year - 1}" in r.json()["message"]

    # Moving a window needs a reason, and the change is recorded with it.
    path = f"/api/v1/cycles/{year}/windows/usulan"
    closes = str(dt.date(year - 1, 1, 20))  # within the kelurahan stage (s27: not after it)
    assert (await client.post(path, json={"closes": closes, "reason": " "}, headers=admin)).status_code == 422
    assert (await client.post(path, json={"closes": closes, "reason": "x"}, headers=await token(
        client, users["kelurahan"]))).status_code == 403  # fmt: skip
    r = await client.post(path, json={"closes": closes, "reason": "banjir di beberapa kelurahan"}, headers=admin)
    assert r.status_code == 200, r.text
    assert r.json()["calendar"][0]["closes"] == closes
    assert r.json()["window_changes"][0]["reason"] == "banjir di beberapa kelurahan"


async def test_the_staff_page_opens_a_year_and_extends_a_window(
    app_server, app_pool: asyncpg.Pool, users: dict[str, str]  # noqa: ANN001, F811
) -> None:
    # A year no cycle holds now: other tests of this database open years of 2030-2099 at random, and some
    # leave theirs open (a withdrawal test opens its year again).
    taken = {r["year"] for r in await app_pool.fetch("SELECT year FROM cycles")}
    year = random.choice([y for y in range(2091, 2100) if y not in taken])
    bappeda = await sign_in(app_server.base_url, users["admin"])
    facilitator = await sign_in(app_server.base_url, users["kelurahan"])
    try:
        assert (await facilitator.get("/petugas/siklus")).status_code == 403
        form = await bappeda.get("/petugas/siklus")
        assert form.status_code == 200 and "Buka siklus tahun berikutnya" in form.text
        fields = {"_csrf_token": hidden(form.text, "_csrf_token"), "year": str(year), "theme": "Tahun halaman",
                  "programs": "Jalan lingkungan | 90% mantap" + "\n" * 25 + "UMKM naik kelas\n",  # blanks once cut it
                  "pagu_kecamatan": "32.75.01 = 7.500.000.000"}  # fmt: skip
        first = dt.date(year - 1, 1, 5)
        for w in _calendar(first):
            fields[f"opens_{w['stage']}"], fields[f"closes_{w['stage']}"] = w["opens"], w["closes"]
        no_title = await bappeda.post("/petugas/siklus", data={**fields, "programs": "Jalan | 90%\n| tanpa judul"})
        assert no_title.status_code == 422 and "tulis satu program per baris" in no_title.text  # was dropped unseen
        wrong = {**fields, "opens_kelurahan": str(first - dt.timedelta(days=30))}  # before the stage before it
        r = await bappeda.post("/petugas/siklus", data=wrong)
        assert r.status_code == 422 and "tahap ini tidak dapat dibuka sebelum tahap sebelumnya" in r.text
        assert await app_pool.fetchval("SELECT count(*) FROM cycles WHERE year = $1", year) == 0
        r = await bappeda.post("/petugas/siklus", data=fields)
        assert r.status_code == 303, r.text
        cycle = (await bappeda.get(f"/api/v1/cycles/{year}")).json()
        assert [(p["title"], p["target"]) for p in cycle["priority_programs"]] == [
            ("Jalan lingkungan", "90% mantap"), ("UMKM naik kelas", "")]  # fmt: skip
        page = await bappeda.get("/petugas/siklus")
        extend = {"_csrf_token": hidden(page.text, "_csrf_token"), "stage": "kelurahan",
                  "closes": str(first + dt.timedelta(days=40)), "reason": "menunggu hasil pendataan RW"}  # fmt: skip
        events = await app_pool.fetchval("SELECT count(*) FROM events")
        for unreadable in ("2026-02-30", "-1", "besok"):  # once read as "keep the opening date"
            r = await bappeda.post(f"/petugas/siklus/{year}/jadwal", data={**extend, "opens": unreadable})
            assert r.status_code == 422 and "tanggal buka tidak dapat dibaca" in r.text, unreadable
        assert await app_pool.fetchval("SELECT count(*) FROM events") == events
        r = await bappeda.post(f"/petugas/siklus/{year}/jadwal", data=extend)
        assert r.status_code == 303, r.text
        page = (await bappeda.get("/petugas/siklus")).text
        assert "menunggu hasil pendataan RW" in page
    finally:
        await bappeda.aclose()
        await facilitator.aclose()


async def test_a_forum_is_dated_inside_its_levels_window(
    client: httpx.AsyncClient, users: dict[str, str]  # noqa: F811
) -> None:
    auth = await token(client, users["kelurahan"])
    body = {"level": "kelurahan", "region": "32.75.01.1002", "year": 2022, "title": "Musrenbang tanpa tanggal",
            "ceiling": 1_000_000, "rule": "greedy", "ballot_kind": "approval"}  # fmt: skip
    r = await client.post("/api/v1/forums", json=body, headers=auth)
    assert r.status_code == 422 and "held_on" in r.json()["errors"]
    r = await client.post("/api/v1/forums", json={**body, "held_on": "2019-01-01"}, headers=auth)
    assert r.status_code == 422 and "di luar jadwal" in r.json()["errors"]["held_on"]
    r = await client.post("/api/v1/forums", json={**body, "held_on": str(today())}, headers=auth)
    assert r.status_code == 201, r.text


async def test_odd_digits_and_amounts_in_the_forms_are_explained_not_a_500(
    app_server, client: httpx.AsyncClient, users: dict[str, str]  # noqa: ANN001, F811
) -> None:
    bappeda = await sign_in(app_server.base_url, users["admin"])
    try:
        form = await bappeda.get("/petugas/siklus")
        base = {"_csrf_token": hidden(form.text, "_csrf_token"), "theme": "Tema", "programs": "Program satu"}
        for odd in ({"year": "²⁰²⁶"}, {"year": "2097", "pagu_kecamatan": "32.75.01 = ."},
                    {"year": "2097", "pagu_kecamatan": "32.75.01 = " + "9" * 5000}):  # fmt: skip
            r = await bappeda.post("/petugas/siklus", data={**base, **odd})
            assert r.status_code == 422, (odd, r.status_code)
        forum = await bappeda.get("/petugas/musyawarah/baru")
        r = await bappeda.post("/petugas/musyawarah/baru", data={
            "_csrf_token": hidden(forum.text, "_csrf_token"), "level": "kelurahan", "region": "32.75.01.1001",
            "year": "²⁰²²", "held_on": "2021-01-20", "title": "Musrenbang", "ceiling": "1000000",
            "rule": "greedy"})  # fmt: skip
        assert r.status_code == 422 and "pilih tahun RKPD" in r.text
    finally:
        await bappeda.aclose()
    page = await client.get("/usulan/baru")
    r = await client.post("/usulan/baru", data={"_csrf_token": hidden(page.text, "_csrf_token"), "year": "²⁰²²",
                                                 "idempotency_key": hidden(page.text, "idempotency_key")})  # fmt: skip
    assert r.status_code == 422  # the year falls back to the open cycle; the empty fields are explained
