"""Out-of-range input through the real server: every value that once reached the log (and stopped a
projection for good) or answered 500 now answers 4xx with a message a person understands, and writes
nothing."""

from __future__ import annotations

import json
import uuid

import asyncpg
import httpx
import pytest

from tests.http.conftest import event_count, payload
from tests.http.test_pages import FORM_FIELDS, open_form
from tests.http.test_staff import KELURAHAN, new_proposal, token, users  # noqa: F401  (module fixture)

pytestmark = pytest.mark.edge  # the HTTP edge: the same on every PostgreSQL (.ci/run)

NUL = "ada\x00nul"


def forum(**changes: object) -> dict[str, object]:
    body: dict[str, object] = {"level": "kelurahan", "region": KELURAHAN, "year": 2022, "held_on": "2021-01-20",
                               "title": "Musrenbang uji",
                               "ceiling": 100_000_000}  # fmt: skip
    body.update(changes)
    return body


async def refused(client: httpx.AsyncClient, pool: asyncpg.Pool, method: str, url: str, **kwargs: object
                  ) -> httpx.Response:  # fmt: skip
    before = await event_count(pool)
    r = await client.request(method, url, **kwargs)  # type: ignore[arg-type]
    assert 400 <= r.status_code < 500, (url, r.status_code, r.text[:500])
    assert "Traceback" not in r.text
    assert await event_count(pool) == before, f"{url} wrote an event"
    return r


@pytest.mark.parametrize("changes", [
    {"year": 3_000_000_000}, {"year": 1999}, {"ceiling": 2**70}, {"ceiling": 0}, {"quota": 2**40},
    {"title": NUL}, {"place": NUL}, {"chair": "x\x01y"}, {"rule_params": {"max_length": 2**40}},
    {"rule_params": {"bukan_parameter": 1}}, {"criteria": [{"key": "a b", "label": "x", "weight": 1}]},
    {"criteria": [{"key": "manfaat", "label": NUL, "weight": 1}]},
])  # fmt: skip
async def test_forums_out_of_bounds_are_refused(
    client: httpx.AsyncClient, app_pool: asyncpg.Pool, users: dict[str, str], changes: dict[str, object]  # noqa: F811
) -> None:
    auth = await token(client, users["admin"])
    r = await refused(client, app_pool, "POST", "/api/v1/forums", json=forum(**changes), headers=auth)
    assert r.json()["message"]


async def test_a_forum_is_held_for_a_region_of_its_level(
    client: httpx.AsyncClient, app_pool: asyncpg.Pool, users: dict[str, str]  # noqa: F811
) -> None:
    """A "Musrenbang Kecamatan" for a kelurahan, through the API (the page's form already refused it): it
    reached the public calendar and could close with a Berita Acara."""
    auth = await token(client, users["admin"])
    r = await refused(client, app_pool, "POST", "/api/v1/forums", json=forum(level="kecamatan"), headers=auth)
    assert r.status_code == 422 and "pilih kecamatan" in r.json()["errors"]["region"], r.text
    r = await refused(client, app_pool, "POST", "/api/v1/forums", json=forum(level="kecamatan", region="32.75.99"),
                      headers=auth)  # fmt: skip
    assert "wilayah tidak dikenal" in r.json()["errors"]["region"]


async def test_the_city_level_is_no_forum_of_this_kind(
    client: httpx.AsyncClient, app_pool: asyncpg.Pool, users: dict[str, str]  # noqa: F811
) -> None:
    """A forum of level `kota` (for the city's own region, by Bappeda) made a stream no page, calendar or
    RKPD ever read: the city level's meetings are the Forum Perangkat Daerah and the Musrenbang Kota."""
    auth = await token(client, users["admin"])
    city = await app_pool.fetchval("SELECT kode FROM regions WHERE tingkat IN ('kota', 'kabupaten') LIMIT 1")
    r = await refused(client, app_pool, "POST", "/api/v1/forums", json=forum(level="kota", region=city),
                      headers=auth)  # fmt: skip
    assert r.status_code == 422 and "Forum Perangkat Daerah" in r.json()["errors"]["level"], r.text


async def test_delegates_empty_or_with_nul_are_refused(
    client: httpx.AsyncClient, app_pool: asyncpg.Pool, users: dict[str, str]  # noqa: F811
) -> None:
    auth = await token(client, users["admin"])
    made = await client.post("/api/v1/forums", json=forum(), headers=auth)
    assert made.status_code == 201, made.text
    url = f"/api/v1/forums/{made.json()['forum_id']}/delegates"
    await refused(client, app_pool, "POST", url, json=[], headers=auth)
    r = await refused(client, app_pool, "POST", url, json=[{"delegate_id": "d1", "name": NUL}], headers=auth)
    assert r.status_code == 422 and r.json()["errors"]["name"] == "berisi karakter yang tidak diizinkan"
    await refused(client, app_pool, "POST", url, json=[{"delegate_id": "d1", "name": "Ibu Sari", "gender": "X"}],
                  headers=auth)  # fmt: skip
    adjust = f"/api/v1/forums/{made.json()['forum_id']}/adjustments"
    opened = await client.post(f"/api/v1/forums/{made.json()['forum_id']}/open", headers=auth)
    assert opened.status_code == 200, opened.text
    for body in ({"item_id": "x", "reason": "r", "agreed_cost": 2**70}, {"item_id": "x", "reason": NUL,
                                                                          "agreed_cost": 5}):  # fmt: skip
        await refused(client, app_pool, "POST", adjust, json=body, headers=auth)


async def test_verification_with_huge_volumes_or_nul_reasons_is_refused(
    client: httpx.AsyncClient, app_pool: asyncpg.Pool, users: dict[str, str]  # noqa: F811
) -> None:
    auth = await token(client, users["admin"])
    code = await new_proposal(client)
    url = f"/api/v1/proposals/{code}/verification"
    big = await refused(client, app_pool, "POST", url, headers=auth, content=b'{"decision": "accept_with_changes",'
                        b' "reason": "ubah", "agreed_volume": 1e40}')  # fmt: skip
    assert big.json()["errors"]["agreed_volume"] == "angka terlalu besar"
    for digits in ("١٥٠", "１５０", "1_000"):  # msgspec's Decimal read them as 150 and 1000 before our check
        other = await refused(client, app_pool, "POST", url, headers=auth, json={
            "decision": "accept_with_changes", "reason": "ubah", "agreed_volume": digits})  # fmt: skip
        assert "tulis angka" in other.json()["errors"]["agreed_volume"], digits
    nul = await refused(client, app_pool, "POST", url, headers=auth, json={"decision": "reject", "reason": NUL})
    assert nul.json()["errors"]["reason"] == "berisi karakter yang tidak diizinkan"
    await refused(client, app_pool, "POST", url, headers=auth,
                  json={"decision": "accept_with_changes", "reason": "r", "agreed_cost": 2**70})  # fmt: skip


@pytest.mark.parametrize("changes", [
    {"volume": 1e40}, {"latitude": 1e40, "longitude": 107}, {"title": NUL + " judul"}, {"problem": "x" * 6000},
    {"proposer": {"name": NUL, "phone": "0812-1111-2222"}},
])  # fmt: skip
async def test_proposals_out_of_bounds_are_refused(
    client: httpx.AsyncClient, app_pool: asyncpg.Pool, changes: dict[str, object]
) -> None:
    await refused(client, app_pool, "POST", "/api/v1/proposals", json=payload(**changes),
                  headers={"Idempotency-Key": str(uuid.uuid4())})  # fmt: skip


async def test_a_5000_digit_cost_and_a_3000_character_key_are_refused(
    client: httpx.AsyncClient, app_pool: asyncpg.Pool
) -> None:
    api = await refused(client, app_pool, "POST", "/api/v1/proposals", headers={"Idempotency-Key": "k" * 3000},
                        json=payload())  # fmt: skip
    assert api.status_code == 400
    digits = "9" * 5000
    raw = json.dumps(payload()).replace('"estimated_cost": 25000000', f'"estimated_cost": {digits}')
    assert digits in raw
    r = await refused(client, app_pool, "POST", "/api/v1/proposals", content=raw,
                      headers={"Idempotency-Key": str(uuid.uuid4()), "Content-Type": "application/json"})  # fmt: skip
    assert "4300" not in r.text  # not Python's own message about integer conversion

    fields = {**await open_form(client), "kelurahan": "32.75.01.1001", "rw": "5", "rt": "3", "kind": "fisik",
              "bidang": "infrastruktur", "title": "Perbaikan saluran air", "problem": "Saluran tersumbat setiap hujan",
              "solution": "Normalisasi saluran sepanjang 150 meter", "beneficiaries": "300", "volume": "150",
              "unit": "meter", "estimated_cost": digits, "address": "Jl. Melati", "proposer_name": "Siti",
              "proposer_phone": "0813-9876-5432"}  # fmt: skip
    too_big = await refused(client, app_pool, "POST", "/usulan/baru", data=fields)
    assert too_big.status_code == 422 and "biaya terlalu besar" in too_big.text
    fields["estimated_cost"] = "25 juta"
    fields["idempotency_key"] = "k" * 3000
    tampered = await refused(client, app_pool, "POST", "/usulan/baru", data=fields)
    assert tampered.status_code == 400 and "formulir ini tidak dibuat oleh halaman kami" in tampered.text


async def test_rkpd_line_texts_with_nul_are_refused(
    client: httpx.AsyncClient, app_pool: asyncpg.Pool, users: dict[str, str]  # noqa: F811
) -> None:
    auth = await token(client, users["opd"])
    line = {"origins": ["AAAAAAAA"], "priority_program": 1, "sub_kegiatan_code": "1.03.10.2.01.0017",
            "program": NUL, "kegiatan": "k", "sub_kegiatan": "s", "funding_source": "apbd_kota", "volume": "1",
            "unit": "m", "pagu": 1_000_000, "output_indicator": "o", "target": "1", "target_unit": "m"}  # fmt: skip
    r = await refused(client, app_pool, "POST", "/api/v1/rkpd/2022/lines", json=line, headers=auth)
    assert r.json()["message"]
    await refused(client, app_pool, "POST", "/api/v1/rkpd/2022/lines", json={**line, "program": "p", "pagu": 2**70},
                  headers=auth)  # fmt: skip


async def test_url_encoded_forms_past_the_limits_or_not_utf8_are_refused_before_parsing(
    client: httpx.AsyncClient, app_pool: asyncpg.Pool
) -> None:
    """Ten megabytes of a million fields once cost a server process 600 MB and half a minute (Litestar parses
    and caches each body), without a CSRF token; a form not in UTF-8 reached the log as replacement
    characters. Both are refused before anything parses them, with a CSRF token or without."""
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    big = await refused(client, app_pool, "POST", "/lacak/2WKR95ED/perbaiki", content=b"a=" + b"x" * (1 << 20),
                        headers=form)  # fmt: skip
    assert big.status_code == 413 and "kiriman terlalu besar" in big.text
    many = await refused(client, app_pool, "POST", "/lacak/2WKR95ED/perbaiki", content=b"&".join([b"a=1"] * 10_001),
                         headers=form)  # fmt: skip
    assert many.status_code == 413
    fields = {**await open_form(client), **FORM_FIELDS}
    for title in (b"%FF%FE%FD", b"\xff\xfe\xfd", b"ok%C3"):
        body = b"&".join(f"{k}={v}".encode() for k, v in fields.items() if k != "title") + b"&title=" + title
        wrong = await refused(client, app_pool, "POST", "/usulan/baru", content=body, headers=form)
        assert wrong.status_code == 400 and "bukan teks UTF-8 yang sah" in wrong.text, title


async def test_the_form_limits_empty_litestars_cache_of_parsed_forms() -> None:
    """What keeps a process from holding a thousand parsed bodies: the cache is empty after each form."""
    from litestar._parsers import parse_url_encoded_form_data

    from musrenbang.http.form_limits import form_limits_middleware

    parsed = []

    async def handler(scope: object, receive: object, send: object) -> None:
        message = await receive()  # type: ignore[operator]
        parsed.append(parse_url_encoded_form_data(message["body"]))
        assert parse_url_encoded_form_data.cache_info().currsize == 1  # Litestar keeps it while answering

    async def receive() -> dict[str, object]:
        return {"type": "http.request", "body": b"title=Jalan+setapak&rw=7", "more_body": False}

    scope = {"type": "http", "headers": [(b"content-type", b"application/x-www-form-urlencoded")]}
    await form_limits_middleware(handler)(scope, receive, None)  # type: ignore[arg-type]
    assert parsed == [{"title": "Jalan setapak", "rw": "7"}]
    assert parse_url_encoded_form_data.cache_info().currsize == 0
