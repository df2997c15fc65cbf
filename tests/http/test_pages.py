"""Residents' pages through the real server: the form, its errors, CSRF, escaping, languages, privacy."""

from __future__ import annotations

import asyncio
import contextlib
import html
import io
import re
import uuid
import zipfile
from decimal import Decimal

import asyncpg
import httpx
import pytest

from musrenbang.db.connect import create_pool
from musrenbang.http.render import as_typed
from musrenbang.resources import static_dir
from tests import history
from tests.http import routes
from tests.http.conftest import event_count, payload
from tests.images import jpeg_with_gps
from tests.server import Server

FORM_FIELDS = {
    "kelurahan": "32.75.03.1002",
    "rw": "7",
    "rt": "2",
    "kind": "fisik",
    "bidang": "infrastruktur",
    "title": "Pembangunan jalan setapak",
    "problem": "Jalan setapak rusak dan licin saat hujan",
    "solution": "Pengecoran jalan setapak sepanjang 80 meter",
    "beneficiaries": "120",
    "volume": "80",
    "unit": "meter",
    "estimated_cost": "Rp 45.000.000",
    "priority_program": "",
    "address": "Gang Kenari RT 02",
    "latitude": "",
    "longitude": "",
    "proposer_name": "Agus Priyanto Wibowo",
    "proposer_phone": "0857-1122-3344",
}


def new_key() -> dict[str, str]:
    return {"Idempotency-Key": str(uuid.uuid4())}


def hidden(page: str, name: str) -> str:
    match = re.search(rf'name="{name}" value="([^"]*)"', page)
    assert match, f"no hidden field {name}"
    return html.unescape(match.group(1))


async def open_form(client: httpx.AsyncClient) -> dict[str, str]:
    r = await client.get("/usulan/baru")
    assert r.status_code == 200
    return {"_csrf_token": hidden(r.text, "_csrf_token"), "idempotency_key": hidden(r.text, "idempotency_key")}


async def send_form(client: httpx.AsyncClient, tokens: dict[str, str], fields: dict[str, str],
                    photos: list[bytes] = ()) -> httpx.Response:  # fmt: skip
    files = [("photos", (f"foto{i}.jpg", data, "image/jpeg")) for i, data in enumerate(photos)]
    return await client.post("/usulan/baru", data={**tokens, **fields}, files=files or None)


def code_on(page: str) -> str:
    match = re.search(r'id="tracking-code">([0-9A-Z]{4})-([0-9A-Z]{4})<', page)
    assert match, page
    return match.group(1) + match.group(2)


async def test_the_form_submits_and_the_code_page_shows_code_and_secret(client: httpx.AsyncClient) -> None:
    tokens = await open_form(client)
    r = await send_form(client, tokens, FORM_FIELDS, photos=[jpeg_with_gps()])
    assert r.status_code == 200, r.text
    code = code_on(r.text)
    assert re.search(r'id="revision-secret">[0-9A-Z]{16}<', r.text)
    track = await client.get(f"/lacak/{code}")
    assert "Pembangunan jalan setapak" in track.text and "Rp 45.000.000" in track.text
    assert "Diajukan, menunggu verifikasi" in track.text
    assert track.text.count("/photos/") >= 1


async def test_a_volume_is_read_as_indonesian_writes_it_and_put_back_so(
    client: httpx.AsyncClient, app_pool: asyncpg.Pool
) -> None:
    """"1.500 meter" is fifteen hundred metres (it was 1.5); "12.5" is refused saying to write "12,5"; a
    proposal proposed again shows its volume as the form reads it back; the API's JSON numbers are numbers."""
    before = await event_count(app_pool)
    refused = await send_form(client, await open_form(client), {**FORM_FIELDS, "volume": "12.5"})
    assert refused.status_code == 422 and "tulis 12,5" in refused.text and await event_count(app_pool) == before
    for typed, stored in (("1.500", Decimal(1500)), ("2,5", Decimal("2.5"))):
        r = await send_form(client, await open_form(client), {**FORM_FIELDS, "volume": typed})
        assert r.status_code == 200, r.text
        code = code_on(r.text)
        assert await app_pool.fetchval("SELECT volume FROM proposals WHERE code = $1", code) == stored
        assert as_typed({"volume": stored}, ["volume"]) == {"volume": typed}
    api = await client.post("/api/v1/proposals", json=payload(volume=2.125), headers=new_key())
    assert api.status_code == 201, api.text
    assert await app_pool.fetchval("SELECT volume FROM proposals WHERE code = $1", api.json()["code"]) == Decimal(
        "2.125")  # fmt: skip


async def test_submitting_the_same_form_twice_gives_the_same_proposal(
    client: httpx.AsyncClient, app_pool: asyncpg.Pool
) -> None:
    tokens = await open_form(client)
    first = await send_form(client, tokens, FORM_FIELDS)
    before = await event_count(app_pool)
    again = await send_form(client, tokens, FORM_FIELDS)  # refresh, double tap, a retried request
    assert code_on(first.text) == code_on(again.text)
    assert await event_count(app_pool) == before
    # Back, a change, and the form sent again: not a technical "key reused", but what this form made.
    changed = await send_form(client, tokens, {**FORM_FIELDS, "title": "Pembangunan jalan setapak RT 3"})
    assert changed.status_code == 409 and "Formulir ini sudah terkirim sebelumnya" in changed.text
    assert code_on(changed.text) == code_on(first.text) and "Idempotency-Key" not in changed.text
    assert await event_count(app_pool) == before


async def test_errors_are_shown_next_to_the_field_and_what_was_typed_is_kept(
    client: httpx.AsyncClient, app_pool: asyncpg.Pool
) -> None:
    tokens = await open_form(client)
    before = await event_count(app_pool)
    r = await send_form(client, tokens, {**FORM_FIELDS, "rw": "0", "estimated_cost": "mahal", "title": ""})
    assert r.status_code == 422
    assert 'id="rw-error">nomor RW antara 1 dan 99<' in r.text
    assert 'id="estimated_cost-error">tulis biaya dalam rupiah' in r.text
    assert 'id="title-error">wajib diisi<' in r.text
    assert 'value="mahal"' in r.text and "Jalan setapak rusak dan licin saat hujan" in r.text
    assert 'value="Agus Priyanto Wibowo"' in r.text  # the proposer sees their own typing back
    assert await event_count(app_pool) == before


async def test_a_form_without_its_csrf_token_is_refused(client: httpx.AsyncClient, app_pool: asyncpg.Pool) -> None:
    tokens = await open_form(client)
    before = await event_count(app_pool)
    r = await send_form(client, {"idempotency_key": tokens["idempotency_key"]}, FORM_FIELDS)
    assert r.status_code == 403
    assert "formulir ini sudah kedaluwarsa" in r.text
    async with httpx.AsyncClient(base_url=str(client.base_url)) as stranger:  # no cookie from the site
        r = await stranger.post("/usulan/baru", data={**tokens, **FORM_FIELDS})
    assert r.status_code == 403
    assert await event_count(app_pool) == before


SCRIPT = "<script>alert('x')</script>"


async def test_everything_typed_is_escaped_wherever_it_is_shown(client: httpx.AsyncClient) -> None:
    text_fields = {"title": f"Judul {SCRIPT}", "problem": f"Masalah {SCRIPT}", "solution": f"Solusi {SCRIPT}",
                   "unit": "m<b>", "address": f"Alamat {SCRIPT}"}  # fmt: skip
    r = await client.post("/api/v1/proposals", json=payload(**text_fields), headers=new_key())
    code = r.json()["code"]
    pages = [await client.get(f"/lacak/{code}"), await client.get("/kelurahan/32.75.01.1001"),
             await client.get(f"/lacak/{code}?lang=en")]  # fmt: skip
    for page in pages:
        assert "<script>alert" not in page.text and "m<b>" not in page.text
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in pages[0].text
    tokens = await open_form(client)
    bad = await send_form(client, tokens, {**FORM_FIELDS, "title": SCRIPT, "rw": "0"})
    assert "<script>alert" not in bad.text


async def test_every_page_has_an_english_version(client: httpx.AsyncClient) -> None:
    code = (await client.post("/api/v1/proposals", json=payload(), headers=new_key())).json()["code"]
    pages = [
        ("/", "Submit a proposal"),
        ("/usulan/baru", "Send proposal"),
        (f"/lacak/{code}", "Submitted, awaiting verification"),
        ("/kelurahan/32.75.01.1001", "Proposals in Kelurahan"),
        ("/kecamatan/32.75.01", "Estimated cost"),
        ("/halaman-yang-tidak-ada", "page not found"),
        ("/lacak/ZZZZZZZZ", "Lost your code?"),  # the lookup form again (tests/http/test_adopted_year_s20.py)
    ]
    for path, english in pages:
        r = await client.get(path, params={"lang": "en"})
        assert english in r.text, path
        assert '<html lang="en">' in r.text
    # The choice is remembered.
    assert "Submit a proposal" in (await client.get("/")).text
    assert "Ajukan usulan" in (await client.get("/", params={"lang": "id"})).text


async def test_tracking_lookup_accepts_typed_codes_and_explains_bad_ones(client: httpx.AsyncClient) -> None:
    code = (await client.post("/api/v1/proposals", json=payload(), headers=new_key())).json()["code"]
    r = await client.get("/lacak", params={"kode": f" {code[:4].lower()}-{code[4:]} "}, follow_redirects=True)
    assert r.status_code == 200 and str(r.url).endswith(f"/lacak/{code}")
    bad = await client.get("/lacak", params={"kode": "123"})
    assert bad.status_code == 422 and "8 huruf dan angka" in bad.text
    assert (await client.get("/lacak/ZZZZZZZZ")).status_code == 404


async def test_kelurahan_and_kecamatan_pages_filter_and_total(client: httpx.AsyncClient) -> None:
    kelurahan = "32.75.06.1003"
    for rw, bidang in ((1, "kesehatan"), (2, "kesehatan"), (2, "pendidikan")):
        await client.post("/api/v1/proposals", json=payload(kelurahan=kelurahan, rw=rw, bidang=bidang,
                          estimated_cost=10_000_000), headers=new_key())  # fmt: skip
    listing = await client.get(f"/kelurahan/{kelurahan}", params={"rw": 2, "bidang": "kesehatan"})
    assert "1 usulan" in listing.text
    all_three = await client.get(f"/kelurahan/{kelurahan}")
    assert "3 usulan" in all_three.text
    summary = await client.get("/kecamatan/32.75.06")
    row = re.search(rf'href="/kelurahan/{kelurahan}">[^<]+</a></td><td class="num">(\d+)</td>.*?Rp ([\d.]+)',
                    summary.text)  # fmt: skip
    assert row and row.group(1) == "3" and row.group(2) == "30.000.000", row.group(0)
    assert (await client.get("/kelurahan/32.75.06")).status_code == 404  # a kecamatan is not a kelurahan


# --- personal data: every public GET route, read from the application's route table (tests/http/routes.py) --

NEVER_200 = {"/schema/{path}"}  # Litestar's answer for a schema document that does not exist
QUERIES = {"/lacak": ("kode", "code")}  # routes that need a query: route -> (query parameter, values of)


def _national(phone: str) -> str:
    """A phone number's digits without the country or trunk prefix, however it was typed."""
    digits = re.sub(r"\D", "", phone)
    return digits[2:] if digits.startswith("62") else digits.lstrip("0")


class PersonalData:
    """Proposers' names (whole, and their longer words), phone numbers and e-mail addresses (the history's
    one, `EMAIL`), to look for in a response."""

    EMAIL = "sri.lestari@contoh.id"

    def __init__(self, people: list[tuple[str, str]]) -> None:
        self.names = {name for name, _ in people} | {w for name, _ in people for w in name.split() if len(w) >= 7}
        self.names |= {self.EMAIL, self.EMAIL.split("@")[0]}
        self.phones = {_national(phone) for _, phone in people}

    def found_in(self, body: bytes, content_type: str) -> list[str]:
        texts = [body.decode("utf-8", "replace")]
        if body[:4] == b"PK\x03\x04":  # .xlsx: the sheets are compressed XML
            with zipfile.ZipFile(io.BytesIO(body)) as archive:
                texts += [archive.read(member).decode("utf-8", "replace") for member in archive.namelist()]
        found = {n for n in self.names if any(n.casefold() in t.casefold() for t in texts)}
        found |= {p for p in self.phones if p.encode() in body or any(p in t for t in texts)}
        if not content_type.startswith("image/"):  # digits split by spaces, dashes or markup still count
            found |= {p for p in self.phones if any(p in re.sub(r"\D", "", t) for t in texts)}
        return sorted(found)


async def _get(client: httpx.AsyncClient, url: str, lang: str) -> tuple[int, bytes, str]:
    async with client.stream("GET", httpx.URL(url).copy_merge_params({"lang": lang})) as r:
        content_type = r.headers.get("content-type", "")
        if not content_type.startswith("text/event-stream"):
            return r.status_code, await r.aread(), content_type
        body = b""  # a live stream (the projector): what it sends in the first two seconds
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(2):
                async for chunk in r.aiter_bytes():
                    body += chunk
        return r.status_code, body, content_type


async def _scan(client: httpx.AsyncClient, route_list: list[routes.Route], values: dict[str, list[str]],
                personal: PersonalData) -> dict[str, list[int]]:  # fmt: skip
    """GET every filled URL of every route in both languages; fail on personal data. Returns each route's
    statuses."""
    statuses: dict[str, list[int]] = {}
    for route in route_list:
        urls = routes.fill(route, values)
        if route.path in QUERIES:
            query, source = QUERIES[route.path]
            urls = [f"{url}?{query}={value}" for url in urls for value in values[source]]
        for url in urls:
            for lang in ("id", "en"):
                status, body, content_type = await _get(client, url, lang)
                statuses.setdefault(route.path, []).append(status)
                leaked = personal.found_in(body, content_type)
                assert not leaked, f"{url}?lang={lang} ({status}) shows {leaked}"
    return statuses


async def _city_values(client: httpx.AsyncClient, database: str) -> dict[str, list[str]]:
    """A real value, or several, for every path parameter of the routes, from the history's cycle."""
    pool = await create_pool(database, min_size=1, max_size=1)
    try:
        codes = [r["code"] for r in await pool.fetch("SELECT code FROM proposals ORDER BY code")]
        forums = [r["forum_id"] for r in await pool.fetch("SELECT forum_id FROM forums ORDER BY forum_id")]
        tokens = [r["token"] for r in await pool.fetch("SELECT token FROM subscriptions ORDER BY token")]
    finally:
        await pool.close()
    rkpd = (await client.get(f"/api/v1/rkpd/{history.YEAR}")).json()
    lines = [item["id"] for item in rkpd["items"]]
    photos = [p for code in codes for p in await _photo_ids(client, code)]
    photos += [p for item in rkpd["items"] for m in item["milestones"] for p in m["photos"]]
    static = sorted(f.relative_to(static_dir()).as_posix() for f in static_dir().rglob("*") if f.is_file())
    return {
        "code": codes,
        "kode": [history.KELURAHAN_A, history.KELURAHAN_B, history.KECAMATAN],  # kelurahan and kecamatan
        "photo_id": photos,
        "forum_id": forums,
        "forum": ["forum_pd", "musrenbang_kota"],  # the city-level forums, both closed in the history
        "digest": [rkpd["head"]["hash"]],
        "year": [str(history.YEAR)],
        "name": [str(history.YEAR), f"{history.YEAR}.csv", f"{history.YEAR}.xlsx", f"{history.YEAR}.atom"],
        "token": tokens,  # the stop and confirm links of the history's one subscription
        "line_id": lines,
        "item_id": lines,
        "file_path": static,
        "path": ["tidak-ada.json"],
    }


async def _photo_ids(client: httpx.AsyncClient, code: str) -> list[str]:
    photos = (await client.get(f"/api/v1/proposals/{code}")).json()["photos"]
    return [p["id"] if isinstance(p, dict) else p.rsplit("/", 1)[1] for p in photos]


async def test_no_public_page_or_response_contains_personal_data(city_server: Server, city_database: str) -> None:
    """Every public GET route the application has, each parameter filled with every real value of the
    history's cycle (proposals, kelurahan and kecamatan, forums, the RKPD and its lines, photos, the
    log head), in both languages: no proposer's name or phone number anywhere, nor in the server's log.
    A route whose parameter has no values here fails the test, and so does a route that never answered
    200: a new page is scanned from the day it exists."""
    personal = PersonalData(history.PROPOSERS)
    public = routes.public_routes()
    async with httpx.AsyncClient(base_url=city_server.base_url, timeout=30, follow_redirects=True) as client:
        values = await _city_values(client, city_database)
        missing = routes.unfillable(public, values)
        assert not missing, f"public GET routes the personal-data scan cannot fill; give it values for {missing}"
        assert values["photo_id"] and values["line_id"] and values["forum_id"], values
        statuses = await _scan(client, public, values, personal)
    never = {path: sorted(set(s)) for path, s in statuses.items() if 200 not in s and path not in NEVER_200}
    assert not never, f"routes that answered no URL with 200, so nothing of theirs was scanned: {never}"
    assert not personal.found_in(city_server.output().encode(), "text/plain")


async def test_the_routes_left_out_of_the_scan_are_for_staff_only(city_server: Server, city_database: str) -> None:
    """The scan leaves out the pages of signed-in staff (handlers that take the `actor`); each must really
    refuse an anonymous visitor, or it would be a public page nobody scans."""
    staff = routes.staff_routes()
    assert staff
    async with httpx.AsyncClient(base_url=city_server.base_url, timeout=30) as client:
        values = await _city_values(client, city_database)
        assert not routes.unfillable(staff, values)
        for route in staff:
            for url in routes.fill(route, values)[:3]:
                r = await client.get(url)
                refused = r.status_code in (401, 403) or (r.is_redirect and r.headers["location"].startswith("/masuk"))
                assert refused, f"{url} answers an anonymous visitor with {r.status_code}"


async def test_a_submission_leaves_the_proposers_contacts_out_of_every_page_it_fills(
    client: httpx.AsyncClient, app_server: Server, app_pool: asyncpg.Pool
) -> None:
    """Submit with a distinctive name and phone through the API and the form, then read every public route
    whose parameters the two proposals fill (their codes, kelurahan and kecamatan, photos)."""
    name, phone = "Wulandari Prasetyaningrum", "0877-6655-4433"
    r = await client.post("/api/v1/proposals", json=payload(proposer={"name": name, "phone": phone},
                          kelurahan="32.75.07.1003"), headers=new_key())  # fmt: skip
    code = r.json()["code"]
    tokens = await open_form(client)
    form = await send_form(client, tokens, {**FORM_FIELDS, "proposer_name": name, "proposer_phone": phone},
                           photos=[jpeg_with_gps()])  # fmt: skip
    form_code = code_on(form.text)
    assert name not in form.text and "6655" not in form.text  # the code page does not echo them
    values = {
        "code": [code, form_code],
        "kode": ["32.75.07.1003", "32.75.03.1002", "32.75.07", "32.75.03"],
        "photo_id": [p for c in (code, form_code) for p in await _photo_ids(client, c)],
    }
    assert values["photo_id"]
    personal = PersonalData([(name, phone)])
    filled = [route for route in routes.public_routes() if set(route.params) <= set(values)]
    assert {"/lacak/{code}", "/kelurahan/{kode}", "/photos/{photo_id}"} <= {route.path for route in filled}
    await _scan(client, filled, values, personal)
    # ...nor in the server's log...
    assert not personal.found_in(app_server.output().encode(), "text/plain")
    # ...nor in the event log: only a reference.
    digits = _national(phone)
    events = await app_pool.fetch("SELECT data::text, metadata::text FROM events WHERE stream_id = $1",
                                  f"proposal-{code}")  # fmt: skip
    assert events and all(name not in d and digits not in d and digits not in m for d, m in events)
    # It is kept, apart, for the kelurahan staff.
    assert await app_pool.fetchval("SELECT name FROM proposer_contacts WHERE proposal_code = $1", code) == name


@pytest.mark.parametrize("path", ["/", "/usulan/baru", "/static/app.css", "/static/app.js"])
async def test_pages_are_compressed_and_load_nothing_from_elsewhere(client: httpx.AsyncClient, path: str) -> None:
    r = await client.get(path, headers={"Accept-Encoding": "gzip"})
    assert r.status_code == 200
    if len(r.content) > 500:
        assert r.headers.get("content-encoding") == "gzip"
    assert not re.search(r'(src|href)="(https?:)?//', r.text)
