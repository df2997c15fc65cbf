"""Residents' pages through the real server: the form, its errors, CSRF, escaping, languages, privacy."""

from __future__ import annotations

import html
import re
import uuid

import asyncpg
import httpx
import pytest

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


async def test_submitting_the_same_form_twice_gives_the_same_proposal(
    client: httpx.AsyncClient, app_pool: asyncpg.Pool
) -> None:
    tokens = await open_form(client)
    first = await send_form(client, tokens, FORM_FIELDS)
    before = await event_count(app_pool)
    again = await send_form(client, tokens, FORM_FIELDS)  # refresh, double tap, a retried request
    assert code_on(first.text) == code_on(again.text)
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
        ("/lacak/ZZZZZZZZ", "page not found"),
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
    row = re.search(rf'href="/kelurahan/{kelurahan}">[^<]+</a></td><td>(\d+)</td>.*?Rp ([\d.]+)', summary.text)
    assert row and row.group(1) == "3" and row.group(2) == "30.000.000", row.group(0)
    assert (await client.get("/kelurahan/32.75.06")).status_code == 404  # a kecamatan is not a kelurahan


async def test_no_public_page_or_response_contains_personal_data(
    client: httpx.AsyncClient, app_server: Server, app_pool: asyncpg.Pool
) -> None:
    """Submit with a distinctive name and phone, then read every public route."""
    name, phone = "Wulandari Prasetyaningrum", "0877-6655-4433"
    r = await client.post("/api/v1/proposals", json=payload(proposer={"name": name, "phone": phone},
                          kelurahan="32.75.07.1003"), headers=new_key())  # fmt: skip
    code = r.json()["code"]
    tokens = await open_form(client)
    form = await send_form(client, tokens, {**FORM_FIELDS, "proposer_name": name, "proposer_phone": phone},
                           photos=[jpeg_with_gps()])  # fmt: skip
    form_code = code_on(form.text)
    assert name not in form.text and "6655" not in form.text  # the code page does not echo them
    photo_urls = [u for c in (code, form_code) for u in (await client.get(f"/api/v1/proposals/{c}")).json()["photos"]]
    routes = ["/", "/usulan/baru", f"/lacak/{code}", f"/lacak/{form_code}", "/kelurahan/32.75.07.1003",
              "/kelurahan/32.75.03.1002", "/kecamatan/32.75.07", "/kecamatan/32.75.03", f"/api/v1/proposals/{code}",
              f"/api/v1/proposals/{form_code}", "/api/v1/kelurahan/32.75.07.1003/proposals",
              "/api/v1/kelurahan/32.75.03.1002/proposals", "/schema/openapi.json", "/health", *photo_urls]  # fmt: skip
    digits = re.sub(r"\D", "", phone)
    for route in routes:
        for lang in ("id", "en"):
            body = (await client.get(route, params={"lang": lang})).content
            text = body.decode("utf-8", "replace")
            assert name not in text and "Wulandari" not in text, route
            assert digits[1:] not in re.sub(r"\D", "", text) or route.startswith("/photos"), route
            assert digits[1:].encode() not in body, route
    # ...nor in the server's log...
    log = app_server.output()
    assert name not in log and digits[1:] not in log
    # ...nor in the event log: only a reference.
    events = await app_pool.fetch("SELECT data::text, metadata::text FROM events WHERE stream_id = $1",
                                  f"proposal-{code}")  # fmt: skip
    assert events and all(name not in d and digits[1:] not in d and digits[1:] not in m for d, m in events)
    # It is kept, apart, for the kelurahan staff.
    assert await app_pool.fetchval("SELECT name FROM proposer_contacts WHERE proposal_code = $1", code) == name


@pytest.mark.parametrize("path", ["/", "/usulan/baru", "/static/app.css", "/static/app.js"])
async def test_pages_are_compressed_and_load_nothing_from_elsewhere(client: httpx.AsyncClient, path: str) -> None:
    r = await client.get(path, headers={"Accept-Encoding": "gzip"})
    assert r.status_code == 200
    if len(r.content) > 500:
        assert r.headers.get("content-encoding") == "gzip"
    assert not re.search(r'(src|href)="(https?:)?//', r.text)
