"""The auditor's page on the server whose log holds one complete cycle (tests/history.py): who may see
it, the chain check on request, the heads of closed forums and RKPD adoptions, and the head-hash form."""

from __future__ import annotations

import uuid

import asyncpg
import httpx
import pytest

from musrenbang.db.connect import create_pool
from tests.http.test_staff import PASSWORD, add_user
from tests.server import Server


@pytest.fixture(scope="module")
def accounts(city_database: str) -> dict[str, str]:
    tag = uuid.uuid4().hex[:6]
    names = {}
    for role, scope in (("auditor", ()), ("admin", ()), ("facilitator", ("--region", "32.75.01.1001"))):
        names[role] = f"audit-{role}-{tag}"
        add_user(city_database, names[role], role, *scope)
    return names


async def bearer(client: httpx.AsyncClient, username: str) -> dict[str, str]:
    r = await client.post("/api/v1/auth/token", json={"username": username, "password": PASSWORD})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['token']}"}


async def test_only_auditors_and_admins_see_the_audit_page(city_server: Server, accounts: dict[str, str]) -> None:
    async with httpx.AsyncClient(base_url=city_server.base_url, timeout=30) as client:
        anonymous = await client.get("/audit")
        assert anonymous.status_code == 303 and anonymous.headers["location"] == "/masuk?kembali=/audit"
        facilitator = await client.get("/audit", headers=await bearer(client, accounts["facilitator"]))
        assert facilitator.status_code == 403
        admin = await client.get("/audit", headers=await bearer(client, accounts["admin"]))
        assert admin.status_code == 200
        auditor = await bearer(client, accounts["auditor"])
        home = await client.get("/petugas", headers=auditor)
        assert 'href="/audit"' in home.text
        page = await client.get("/audit", headers=auditor)
        assert page.status_code == 200 and "Audit log peristiwa" in page.text
        assert 'name="periksa" value="1"' in page.text and "Utuh" not in page.text  # not read unless asked


async def test_the_audit_page_shows_heads_checks_chains_and_pasted_hashes(
    city_server: Server, city_database: str, accounts: dict[str, str]
) -> None:
    pool: asyncpg.Pool = await create_pool(city_database, min_size=1, max_size=2)
    try:
        closes = await pool.fetch("SELECT stream_id, hash FROM events WHERE event_type = 'forum.closed'")
        adoption = await pool.fetchrow("SELECT hash FROM events WHERE event_type = 'rkpd.adopted'"
                                       " ORDER BY global_position DESC LIMIT 1")  # fmt: skip
        events = await pool.fetchval("SELECT count(*) FROM events")
    finally:
        await pool.close()
    async with httpx.AsyncClient(base_url=city_server.base_url, timeout=30) as client:
        auditor = await bearer(client, accounts["auditor"])
        page = (await client.get("/audit", headers=auditor)).text
        assert len(closes) >= 3
        for close in closes:
            assert close["hash"].hex() in page and close["stream_id"] in page
        assert adoption["hash"].hex() in page

        checked = await client.get("/audit", params={"periksa": "1"}, headers=auditor)
        assert checked.status_code == 200 and "Utuh" in checked.text
        streams = len(set(await _streams(city_database)))
        assert f"{events} peristiwa dalam {streams} aliran" in checked.text.replace(".", "")

        pasted = "  " + adoption["hash"].hex().upper() + " \n"
        found = await client.get("/audit", params={"hash": pasted}, headers=auditor)
        assert found.status_code == 200 and "Ada dan utuh" in found.text and "rkpd-2022" in found.text
        missing = await client.get("/audit", params={"hash": "0" * 64}, headers=auditor)
        assert "Log tidak memuat peristiwa dengan hash ini." in missing.text
        nonsense = await client.get("/audit", params={"hash": "<script>"}, headers=auditor)
        assert nonsense.status_code == 200 and "<script>" not in nonsense.text


async def _streams(database: str) -> list[str]:
    conn = await asyncpg.connect(database)
    try:
        return [r[0] for r in await conn.fetch("SELECT DISTINCT stream_id FROM events")]
    finally:
        await conn.close()
