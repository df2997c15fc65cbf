"""Review of the planning cycles' API and staff page and of the city forums' forms, through the real server:
a key sent again with another command, windows moved out of the stages' order, a pagu typed with decimals,
a sasaran refused without a word, forms sent twice, and errors not read with their field."""

from __future__ import annotations

import datetime as dt
import re
import uuid

import asyncpg
import httpx
import msgspec

from musrenbang.domain import city_forums
from musrenbang.http.render import environment
from tests.http.city_setup import sign_in
from tests.http.test_pages import hidden
from tests.http.test_staff import token, users  # noqa: F401  (module fixture)

STAGES = ("usulan", "kelurahan", "kecamatan", "perangkat_daerah", "kota", "ditetapkan")


def _calendar(first: dt.date, days: int = 10) -> list[dict[str, str]]:
    return [{"stage": s, "opens": str(first + dt.timedelta(days=days * i)),
             "closes": str(first + dt.timedelta(days=days * i + days - 1))} for i, s in enumerate(STAGES)]  # fmt: skip


async def _year(pool: asyncpg.Pool) -> int:
    """A year no cycle was opened for yet (the server and its database are shared by the HTTP tests)."""
    taken = {r["year"] for r in await pool.fetch(
        "SELECT (data->>'year')::int AS year FROM events WHERE event_type = 'cycle.started'")}  # fmt: skip
    free = sorted(set(range(2030, 2100)) - taken)  # 2100: never opened by these tests
    return free[uuid.uuid4().int % len(free)]


async def _open(client: httpx.AsyncClient, admin: dict[str, str], year: int, **headers: str) -> httpx.Response:
    body = {"year": year, "theme": "Tahun tinjauan", "priority_programs": [{"title": "Program satu"}],
            "calendar": _calendar(dt.date(year - 1, 1, 5))}  # fmt: skip
    return await client.post("/api/v1/cycles", json=body, headers={**admin, **headers})


def _form_key(page: str, action: str) -> str:
    """The idempotency key of the form posting to `action` (a made-up one for a form without: what the
    double taps below then check is that the same form sent twice is recorded once)."""
    form = re.search(rf'<form method="post" action="{re.escape(action)}".*?</form>', page, re.S)
    assert form, f"no form for {action}"
    key = re.search(r'name="idempotency_key" value="([^"]+)"', form.group(0))
    return key.group(1) if key else str(uuid.uuid4())


async def test_an_idempotency_key_sent_again_with_another_cycle_or_window_is_409(
    client: httpx.AsyncClient, app_pool: asyncpg.Pool, users: dict[str, str]  # noqa: F811
) -> None:
    admin = await token(client, users["admin"])
    year = await _year(app_pool)
    key = {"Idempotency-Key": str(uuid.uuid4())}
    body = {"year": year, "theme": "Tahun tinjauan", "priority_programs": [{"title": "Program satu"}],
            "calendar": _calendar(dt.date(year - 1, 1, 5))}  # fmt: skip
    assert (await client.post("/api/v1/cycles", json=body, headers={**admin, **key})).status_code == 201
    assert (await client.post("/api/v1/cycles", json=body, headers={**admin, **key})).status_code == 201  # a retry
    other = await client.post("/api/v1/cycles", json={**body, "theme": "Tema lain"}, headers={**admin, **key})
    assert other.status_code == 409, other.text  # was 201 with the first cycle, as if the other were opened

    path = f"/api/v1/cycles/{year}/windows/usulan"
    key = {"Idempotency-Key": str(uuid.uuid4())}
    first = {"closes": str(dt.date(year - 1, 1, 12)), "reason": "perpanjang"}
    assert (await client.post(path, json=first, headers={**admin, **key})).status_code == 200
    r = await client.post(path, json={**first, "closes": str(dt.date(year - 1, 1, 13))}, headers={**admin, **key})
    assert r.status_code == 409, r.text  # was 200 with the window unchanged: a change that was never made
    cycle = (await client.get(f"/api/v1/cycles/{year}")).json()
    assert cycle["calendar"][0]["closes"] == str(dt.date(year - 1, 1, 12)) and len(cycle["window_changes"]) == 1


async def test_a_window_cannot_be_moved_out_of_the_stages_order(
    client: httpx.AsyncClient, app_pool: asyncpg.Pool, users: dict[str, str]  # noqa: F811
) -> None:
    admin = await token(client, users["admin"])
    year = await _year(app_pool)
    assert (await _open(client, admin, year)).status_code == 201
    events = await app_pool.fetchval("SELECT count(*) FROM events")
    before_first = {"opens": str(dt.date(year - 2, 1, 1)), "closes": str(dt.date(year - 2, 1, 3)), "reason": "uji"}
    r = await client.post(f"/api/v1/cycles/{year}/windows/kelurahan", json=before_first, headers=admin)
    assert r.status_code == 422 and "sebelum tahap sebelumnya" in r.json()["errors"]["opens"], r.text
    after_next = {"opens": str(dt.date(year - 1, 12, 1)), "closes": str(dt.date(year - 1, 12, 20)), "reason": "uji"}
    r = await client.post(f"/api/v1/cycles/{year}/windows/usulan", json=after_next, headers=admin)
    assert r.status_code == 422 and "sesudah tahap berikutnya" in r.json()["errors"]["opens"], r.text
    assert await app_pool.fetchval("SELECT count(*) FROM events") == events  # both were recorded
    inside = {"opens": str(dt.date(year - 1, 1, 16)), "closes": str(dt.date(year - 1, 1, 30)), "reason": "uji"}
    r = await client.post(f"/api/v1/cycles/{year}/windows/kelurahan", json=inside, headers=admin)
    assert r.status_code == 200, r.text


def _open_form(page: str, year: int, **changes: str) -> dict[str, str]:
    fields = {"_csrf_token": hidden(page, "_csrf_token"), "idempotency_key": _form_key(page, "/petugas/siklus"),
              "year": str(year), "theme": "Tahun halaman", "programs": "Jalan lingkungan | 90% mantap"}  # fmt: skip
    for w in _calendar(dt.date(year - 1, 1, 5)):
        fields[f"opens_{w['stage']}"], fields[f"closes_{w['stage']}"] = w["opens"], w["closes"]
    return {**fields, **changes}


async def test_the_open_form_reads_the_pagu_as_an_amount_says_every_refusal_and_opens_once(
    app_server, app_pool: asyncpg.Pool, users: dict[str, str]  # noqa: ANN001, F811
) -> None:
    bappeda = await sign_in(app_server.base_url, users["admin"])
    year = await _year(app_pool)
    try:
        page = (await bappeda.get("/petugas/siklus")).text
        for odd in ("1.5", "7.500.000.000,50"):  # once 15 and 750000000050
            r = await bappeda.post("/petugas/siklus", data=_open_form(page, year, pagu_kecamatan=f"32.75.01 = {odd}"))
            assert r.status_code == 422 and "tulis satu kecamatan per baris" in r.text, odd
        long_target = _open_form(page, year, programs="Jalan lingkungan | " + "sasaran " * 60)
        r = await bappeda.post("/petugas/siklus", data=long_target)
        assert r.status_code == 422 and "terlalu panjang" in r.text, r.text  # was a 422 that said nothing
        assert 'aria-describedby="programs-hint programs-error"' in r.text
        assert await app_pool.fetchval("SELECT count(*) FROM cycles WHERE year = $1", year) == 0

        fields = _open_form(page, year, pagu_kecamatan="32.75.01 = 7500000000.00\n32.75.02 = Rp 2.500.000.000")
        first = await bappeda.post("/petugas/siklus", data=fields)
        again = await bappeda.post("/petugas/siklus", data=fields)  # a double tap: was "sudah dibuka", 422
        assert (first.status_code, again.status_code) == (303, 303), again.text
        started = await app_pool.fetch("SELECT data FROM events WHERE event_type = 'cycle.started'"
                                       " AND (data->>'year')::int = $1", year)  # fmt: skip
        assert len(started) == 1
        ceilings = {c["kecamatan"]: c["pagu"] for c in msgspec.json.decode(started[0]["data"])["pagu_kecamatan"]}
        assert ceilings == {"32.75.01": 7_500_000_000, "32.75.02": 2_500_000_000}  # was 750_000_000_000
    finally:
        await bappeda.aclose()


async def test_the_window_form_sent_twice_changes_once_and_a_refusal_keeps_what_was_typed(
    app_server, client: httpx.AsyncClient, app_pool: asyncpg.Pool, users: dict[str, str]  # noqa: ANN001, F811
) -> None:
    admin = await token(client, users["admin"])
    year = await _year(app_pool)
    assert (await _open(client, admin, year)).status_code == 201
    bappeda = await sign_in(app_server.base_url, users["admin"])
    action = f"/petugas/siklus/{year}/jadwal"
    try:
        page = (await bappeda.get("/petugas/siklus")).text
        extend = {"_csrf_token": hidden(page, "_csrf_token"), "idempotency_key": _form_key(page, action),
                  "stage": "usulan", "closes": str(dt.date(year - 1, 1, 12)), "reason": "pendataan"}  # fmt: skip
        for _ in range(2):  # a double tap, or a refresh that sends it again
            assert (await bappeda.post(action, data=extend)).status_code == 303
        assert len((await client.get(f"/api/v1/cycles/{year}")).json()["window_changes"]) == 1  # was 2

        page = (await bappeda.get("/petugas/siklus")).text
        wrong = {**extend, "idempotency_key": _form_key(page, action), "stage": "kecamatan",
                 "opens": str(dt.date(year - 2, 6, 1)), "closes": str(dt.date(year - 1, 2, 3)), "reason": "alasan saya"}
        r = await bappeda.post(action, data=wrong)
        assert r.status_code == 422 and "sebelum tahap sebelumnya" in r.text, r.text
        section = r.text[r.text.index(f'id="rkpd-{year}"'):]
        section = section[: section.index("</section>")]
        assert '<option value="kecamatan" selected' in section and 'value="alasan saya"' in section
        assert f'value="{dt.date(year - 2, 6, 1)}"' in section and f'aria-describedby="window-{year}-error"' in section

        never = {**extend, "idempotency_key": str(uuid.uuid4())}
        unopened = await bappeda.post("/petugas/siklus/2100/jadwal", data=never)
        assert unopened.status_code == 404  # was a 422 page with the reason nowhere on it
    finally:
        await bappeda.aclose()


def test_a_city_forums_field_error_is_read_with_its_field() -> None:
    """The participants, agenda and minutes boxes name their error (aria-describedby), as the inputs do."""
    values = {"held_on": "2021-03-01", "starts_at": "", "place": "Aula", "chair": "Sekda", "participants": "x | y",
              "agenda": "", "minutes": ""}  # fmt: skip
    errors = {"schedule": True, "participants": "jenis peserta salah", "agenda": "tulis paling sedikit satu"}
    html = environment().get_template("_city_forums.html").render(
        _=lambda text, **kw: text % kw if kw else text, FORUMS=city_forums.FORUMS, forums={}, admin=True, year=2022,
        forum_errors={"forum_pd": errors}, forum_values=dict.fromkeys(city_forums.FORUMS, values),
        forum_keys={"forum_pd": "k1", "musrenbang_kota": "k2"}, FORUM_PAGES=city_forums.PAGES, csrf_input="",
    )  # fmt: skip
    for field in ("participants", "agenda"):
        box = re.search(rf'<textarea name="{field}" id="forum_pd-{field}"[^>]*>', html)
        assert box and f'aria-describedby="forum_pd-{field}-error"' in box.group(0), field
        assert f'id="forum_pd-{field}-error"' in html
