"""The published head of the whole log through the real server: the API, the check page, and the pages that
print the newest seal (Berita Acara, the adopted RKPD, /audit). The city server's log ends with a seal
(tests/history.py)."""

from __future__ import annotations

import re

import asyncpg
import httpx
import pytest

from musrenbang.db.connect import create_pool
from musrenbang.eventlog import seal
from tests.http.test_audit_page import accounts, bearer  # noqa: F401  (the module's accounts fixture)
from tests.server import Server


@pytest.fixture(scope="module")
async def newest(city_database: str) -> seal.Seal:
    pool = await create_pool(city_database, min_size=1, max_size=1)
    try:
        async with pool.acquire() as conn:
            found = await seal.latest(conn)
    finally:
        await pool.close()
    assert found is not None
    return found


async def test_the_log_head_api_gives_the_newest_seal(city_server: Server, newest: seal.Seal) -> None:
    async with httpx.AsyncClient(base_url=city_server.base_url, timeout=30) as client:
        r = await client.get("/api/v1/log/head")
    assert r.status_code == 200
    body = r.json()
    assert set(body) == {"seal", "position", "events", "hash", "sealed_at"}
    assert (body["seal"], body["position"], body["events"], body["hash"]) == (
        newest.seal, newest.position, newest.events, newest.hash)  # fmt: skip
    assert re.fullmatch(r"[0-9a-f]{64}", body["hash"])


async def test_a_log_not_sealed_yet_has_no_head(app_server: Server, app_pool: asyncpg.Pool) -> None:
    assert not await app_pool.fetchval("SELECT count(*) FROM events WHERE event_type = 'log.sealed'")
    async with httpx.AsyncClient(base_url=app_server.base_url, timeout=30) as client:
        r = await client.get("/api/v1/log/head")
    assert r.status_code == 404 and r.json()["error"] == "not_found"
    assert r.json()["message"].startswith("log belum pernah disegel"), r.json()  # not "a wrong address"


async def test_the_check_page_accepts_a_seal(city_server: Server, newest: seal.Seal) -> None:
    async with httpx.AsyncClient(base_url=city_server.base_url, timeout=30) as client:
        found = await client.get(f"/periksa/{newest.hash}")
        missing = await client.get(f"/periksa/{'0' * 64}")
    assert found.status_code == 200 and "Segel ada dan utuh" in found.text
    assert f"musrenbang verify --head {newest.hash}" in found.text
    assert missing.status_code == 404 and "Log tidak memuat peristiwa atau segel dengan hash ini" in missing.text


async def test_the_pages_that_print_a_head_print_the_newest_seal(
    city_server: Server, newest: seal.Seal, accounts: dict[str, str]  # noqa: F811
) -> None:
    async with httpx.AsyncClient(base_url=city_server.base_url, timeout=30) as client:
        rkpd = await client.get("/rkpd/2022")
        forum = re.search(r'href="/forum/([A-Z0-9]+)/berita-acara"', (await client.get(
            "/audit", headers=await bearer(client, accounts["auditor"]))).text)  # fmt: skip
        assert forum is not None
        berita_acara = await client.get(f"/forum/{forum[1]}/berita-acara")
        audit = await client.get("/audit?periksa=1", headers=await bearer(client, accounts["auditor"]))
    for page in (rkpd, berita_acara, audit):
        assert page.status_code == 200
        assert 'id="seal"' in page.text and newest.hash in page.text
    assert "Segel ini mencakup peristiwa yang menjadi dasar halaman ini" in rkpd.text  # sealed after adoption
    assert "Segel ini mencakup peristiwa yang menjadi dasar halaman ini" in berita_acara.text
    assert f"{newest.seal} segel diperiksa" in audit.text


async def test_a_berita_acara_reads_in_indonesian_whatever_the_readers_language(
    city_server: Server, accounts: dict[str, str]  # noqa: F811
) -> None:
    """An official document, printed and signed in Indonesian (review s24: in English mode it mixed the two:
    English headings, days and seal paragraph inside an Indonesian page)."""
    async with httpx.AsyncClient(base_url=city_server.base_url, timeout=30) as client:
        forum = re.search(r'href="/forum/([A-Z0-9]+)/berita-acara"', (await client.get(
            "/audit", headers=await bearer(client, accounts["auditor"]))).text)  # fmt: skip
        assert forum is not None
        english = await client.get(f"/forum/{forum[1]}/berita-acara?lang=en")
        indonesian = await client.get(f"/forum/{forum[1]}/berita-acara?lang=id")
    assert english.status_code == 200 and '<html lang="id">' in english.text
    assert "Segel ini mencakup peristiwa yang menjadi dasar halaman ini" in english.text
    assert english.text.replace("lang=en", "lang=id") == indonesian.text  # nothing of the page is in English
