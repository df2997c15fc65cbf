"""Withdrawing a cycle opened by mistake (a wrong year typed): through the API, the staff page and the
command line, only before any of its stages opened and while nothing was made in it; the year is then as
if never opened, and can be opened again."""

from __future__ import annotations

import datetime as dt
import os
import random
import subprocess

import asyncpg
import httpx

from tests.http.city_setup import sign_in
from tests.http.test_cycles import _calendar
from tests.http.test_pages import hidden
from tests.http.test_staff import token, users  # noqa: F401  (module fixture)


async def _open_some_year(client: httpx.AsyncClient, admin: dict[str, str], first_opens: dt.date | None = None
                          ) -> int:  # fmt: skip
    """A year no other test of this database has opened (they open years from 2030 to 2099 at random)."""
    for year in random.sample(range(2030, 2100), 70):
        body = {"year": year, "theme": "Tahun keliru", "priority_programs": [{"title": "Program satu"}],
                "calendar": _calendar(first_opens or dt.date(year - 1, 1, 5))}  # fmt: skip
        r = await client.post("/api/v1/cycles", json=body, headers=admin)
        if r.status_code == 201:
            return year
        assert r.status_code == 409, r.text
    raise AssertionError("no year left to open")


async def test_bappeda_withdraws_an_unopened_cycle_and_opens_the_year_again(
    client: httpx.AsyncClient, app_pool: asyncpg.Pool, users: dict[str, str]  # noqa: F811
) -> None:
    admin = await token(client, users["admin"])
    year = await _open_some_year(client, admin)
    path = f"/api/v1/cycles/{year}/cancel"
    events = lambda: app_pool.fetchval("SELECT count(*) FROM events")  # noqa: E731
    before = await events()
    assert (await client.post(path, json={"reason": "salah tahun"})).status_code == 401
    for who in ("kelurahan", "opd", "auditor"):
        assert (await client.post(path, json={"reason": "salah tahun"},
                                  headers=await token(client, users[who]))).status_code == 403  # fmt: skip
    assert (await client.get(f"/rkpd/{year}/sumber")).status_code == 200  # cached by its version
    blank = await client.post(path, json={"reason": "  "}, headers=admin)
    assert blank.status_code == 422 and "reason" in blank.json()["errors"], blank.text
    assert (await client.post(path, json={"reason": "x", "extra": 1}, headers=admin)).status_code == 400
    assert await events() == before  # nothing refused was written

    done = await client.post(path, json={"reason": " tahun  salah ketik"}, headers=admin)
    assert done.status_code == 200 and done.json() == {"year": year, "cancelled": True, "reason": "tahun salah ketik"}
    assert (await client.get(f"/api/v1/cycles/{year}")).status_code == 404
    for page in (f"/rkpd/{year}", f"/rkpd/{year}/sumber", f"/rkpd/{year}/pemerataan"):  # the cache too (review)
        assert (await client.get(page)).status_code == 404, page
    assert year not in {c["year"] for c in (await client.get("/api/v1/cycles")).json()}
    assert await app_pool.fetchval("SELECT count(*) FROM cycle_calendar WHERE year = $1", year) == 0
    again = await client.post(path, json={"reason": "sekali lagi"}, headers=admin)
    assert again.status_code == 404, again.text  # as if never opened

    body = {"year": year, "theme": "Tahun yang benar", "priority_programs": [{"title": "Program dua"}],
            "calendar": _calendar(dt.date(year - 1, 2, 1))}  # fmt: skip
    reopened = await client.post("/api/v1/cycles", json=body, headers=admin)
    assert reopened.status_code == 201, reopened.text
    assert (reopened.json()["theme"], reopened.json()["priority_programs"][0]["title"]) == (
        "Tahun yang benar", "Program dua")  # fmt: skip
    kinds = [r["event_type"] for r in await app_pool.fetch(
        "SELECT event_type FROM events WHERE stream_id = $1 ORDER BY stream_version", f"cycle-{year}")]  # fmt: skip
    assert kinds == ["cycle.started", "cycle.cancelled", "cycle.started"]  # the mistake stays in the log


async def test_a_cycle_holding_a_forum_is_not_withdrawn(
    client: httpx.AsyncClient, app_pool: asyncpg.Pool, users: dict[str, str]  # noqa: F811
) -> None:
    admin = await token(client, users["admin"])
    year = await _open_some_year(client, admin)  # no stage open yet, but a forum scheduled ahead of its window
    window = next(w for w in (await client.get(f"/api/v1/cycles/{year}")).json()["calendar"]
                  if w["stage"] == "kelurahan")  # fmt: skip
    forum = {"level": "kelurahan", "region": "32.75.01.1002", "year": year, "title": "Musrenbang dijadwalkan dini",
             "ceiling": 1_000_000, "rule": "greedy", "ballot_kind": "approval", "held_on": window["opens"]}  # fmt: skip
    scheduled = await client.post("/api/v1/forums", json=forum, headers=await token(client, users["kelurahan"]))
    assert scheduled.status_code == 201, scheduled.text
    before = await app_pool.fetchval("SELECT count(*) FROM events")
    r = await client.post(f"/api/v1/cycles/{year}/cancel", json={"reason": "keliru"}, headers=admin)
    assert r.status_code == 409 and "sudah ada 0 usulan, 1 musyawarah dan 0 catatan tingkat kota" in (
        r.json()["message"]), r.text  # fmt: skip
    assert await app_pool.fetchval("SELECT count(*) FROM events") == before
    assert (await client.get(f"/api/v1/cycles/{year}")).status_code == 200


async def test_the_staff_page_offers_it_only_for_an_unopened_cycle(
    app_server, client: httpx.AsyncClient, app_pool: asyncpg.Pool, users: dict[str, str]  # noqa: ANN001, F811
) -> None:
    admin = await token(client, users["admin"])
    year = await _open_some_year(client, admin)
    bappeda = await sign_in(app_server.base_url, users["admin"])
    try:
        page = await bappeda.get("/petugas/siklus")
        assert f'action="/petugas/siklus/{year}/batal"' in page.text
        csrf = hidden(page.text, "_csrf_token")
        blank = await bappeda.post(f"/petugas/siklus/{year}/batal", data={"_csrf_token": csrf, "reason": ""})
        assert blank.status_code == 422 and f'id="cancel-{year}-error"' in blank.text
        done = await bappeda.post(f"/petugas/siklus/{year}/batal", data={"_csrf_token": csrf, "reason": "salah"})
        assert done.status_code == 303 and done.headers["location"] == "/petugas/siklus"
        assert f'id="rkpd-{year}"' not in (await bappeda.get("/petugas/siklus")).text
        gone = await bappeda.post(f"/petugas/siklus/{year}/batal", data={"_csrf_token": csrf, "reason": "salah"})
        assert gone.status_code == 404
        assert await app_pool.fetchval("SELECT count(*) FROM events WHERE stream_id = $1"
                                       " AND event_type = 'cycle.cancelled'", f"cycle-{year}") == 1  # fmt: skip
    finally:
        await bappeda.aclose()


async def test_the_command_line_withdraws_it_and_says_how_to_open_it_again(
    client: httpx.AsyncClient, app_database: str, users: dict[str, str]  # noqa: F811
) -> None:
    admin = await token(client, users["admin"])
    year = await _open_some_year(client, admin)
    env = {**os.environ, "MUSRENBANG_DATABASE_URL": app_database}
    run = lambda *args: subprocess.run(["musrenbang", "cycle", "cancel", *args], env=env, capture_output=True,  # noqa: E731
                                       text=True, timeout=120)  # fmt: skip
    no_reason = run("--year", str(year), "--reason", " ")
    assert no_reason.returncode == 3 and no_reason.stderr.startswith("error: reason:"), no_reason.stderr
    done = run("--year", str(year), "--reason", "tahun salah ketik")
    assert done.returncode == 0, done.stderr
    assert done.stdout == (f"RKPD {year}: cycle cancelled; `musrenbang cycle open --year {year}` opens it"
                           " again\n")  # fmt: skip
    none = run("--year", str(year), "--reason", "lagi")
    assert none.returncode == 3 and none.stderr == f"error: siklus RKPD {year} belum dibuka\n", none.stderr
