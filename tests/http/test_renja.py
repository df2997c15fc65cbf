"""An agency's own plans on the RKPD (issue 14, part 2): a line with no resident origin, only with the reason
the agency plans it (Renja), through a real server on its own copy of the history (tests/history.py: RKPD
2022 adopted). It is on the list, counted where it serves, and its lineage says where it came from. Then
the list is set by a regulation, and an amendment by its own (part 5)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import asyncpg
import httpx
import msgspec
import pytest

from musrenbang.db.connect import create_pool
from musrenbang.domain.events import RkpdAdopted
from musrenbang.domain.rkpd import list_hash
from musrenbang.services import cycles
from tests import history
from tests.http.test_staff import PASSWORD, add_user
from tests.server import serving

BASE = "/api/v1/rkpd/2022"
LINE = {
    "priority_program": 1, "sub_kegiatan_code": "1.03.10.2.01.0017", "program": "Program Penyelenggaraan Jalan",
    "kegiatan": "Penyelenggaraan Jalan Kabupaten/Kota", "sub_kegiatan": "Pemeliharaan Berkala Jalan",
    "funding_source": "apbd_kota", "volume": "2", "unit": "km", "pagu": 400_000_000,
    "output_indicator": "Panjang jalan yang dipelihara", "target": "2", "target_unit": "km",
    "reason": "pemeliharaan jalan kota menurut Renstra",
}  # fmt: skip


@pytest.fixture(scope="module")
async def city(server_url: str, template_name: str) -> AsyncIterator[tuple[httpx.AsyncClient, asyncpg.Pool, dict]]:
    async with history.database(server_url, template_name) as (url, built):
        tag = uuid.uuid4().hex[:6]
        for name, role, scope in (("roads", "opd", ("--opd", "DBMSDA")), ("admin", "admin", ())):
            add_user(url, f"{name}-{tag}", role, *scope)
        with serving(url) as server:
            pool = await create_pool(url, min_size=1, max_size=2)
            async with httpx.AsyncClient(base_url=server.base_url, timeout=30) as client:
                auth = {}
                for name in ("roads", "admin"):
                    login = {"username": f"{name}-{tag}", "password": PASSWORD}
                    r = await client.post("/api/v1/auth/token", json=login)
                    auth[name] = {"Authorization": f"Bearer {r.json()['token']}"}
                yield client, pool, {"auth": auth, "codes": built.codes}
            await pool.close()


async def test_a_line_without_origins_needs_the_agencys_reason_and_nothing_else_goes(city) -> None:  # noqa: ANN001
    client, pool, ctx = city
    roads = ctx["auth"]["roads"]
    before = await pool.fetchval("SELECT count(*) FROM events")
    wrong = [
        ({"origins": []}, "origins"),  # neither proposals nor a reason
        ({"origins": [ctx["codes"][2]], "renja_reason": "Renstra"}, "renja_reason"),  # both
        ({"origins": [], "renja_reason": "Renstra", "locations": ["99.99.99.9999"]}, "locations"),  # not the city's
        ({"origins": [], "renja_reason": "Renstra", "locations": ["32.75"]}, "locations"),  # not a kelurahan
        ({"origins": [], "renja_reason": "x\x00"}, "renja_reason"),
    ]
    for fields, field in wrong:
        r = await client.post(f"{BASE}/lines", json={**LINE, **fields}, headers=roads)
        assert r.status_code == 422 and field in r.json().get("errors", {}), (fields, r.text)
    assert await pool.fetchval("SELECT count(*) FROM events") == before


async def test_a_renja_line_is_listed_counted_where_it_serves_and_says_where_it_came_from(city) -> None:  # noqa: ANN001
    client, pool, ctx = city
    reason = "Renstra DBMSDA 2021-2026: pemeliharaan berkala jalan kota"
    r = await client.post(f"{BASE}/lines", json={**LINE, "origins": [], "renja_reason": reason,
                                                  "locations": [history.KELURAHAN_B]}, headers=ctx["auth"]["roads"])
    assert r.status_code == 201, r.text
    line_id = r.json()["line_id"]
    r = await client.post(f"{BASE}/adopt", json={"note": "Renja masuk", "confirm_over_pagu": True},
                          headers=ctx["auth"]["admin"])  # Rp 400 juta over Bekasi Timur's pagu: confirmed (s27)
    assert r.status_code == 200, r.text
    item = next(i for i in (await client.get(BASE)).json()["items"] if i["id"] == line_id)
    assert item["origins"] == [] and item["renja_reason"] == reason
    assert [p["kode"] for p in item["locations"]] == [history.KELURAHAN_B]
    page = (await client.get("/rkpd/2022")).text
    assert "Rencana kerja perangkat daerah" in page
    lineage = await client.get(f"/telusur/rkpd/2022/{line_id}")
    assert lineage.status_code == 200 and "rencana kerja perangkat daerah (Renja)" in lineage.text
    assert reason in lineage.text
    assert (await client.get(f"{BASE}/items/{line_id}/lineage")).json()["proposals"] == []
    # Its pagu reaches the kecamatan of the place it serves, beside the residents' lines.
    equity = (await client.get("/rkpd/2022/pemerataan")).text
    assert "Rp 450.000.000" in equity.replace("\xa0", " ")  # Rp 50 juta from proposals + Rp 400 juta Renja


async def test_the_rkpd_is_set_by_a_regulation_and_an_amendment_needs_its_own(city) -> None:  # noqa: ANN001
    """Penetapan (issue 14, part 5): Bappeda records the Peraturan Wali Kota (number, date) enacting the latest
    adopted list with its hash; a change adopted later is an amendment, enacted by another regulation. The
    history's revision 2 is enacted (`history.REGULATION`); the Renja line above was adopted as revision 3."""
    client, pool, ctx = city
    admin, roads = ctx["auth"]["admin"], ctx["auth"]["roads"]
    path = f"{BASE}/enactment"
    body = (await client.get(BASE)).json()
    assert (body["enactment"]["regulation"], body["enactment"]["revision"]) == (history.REGULATION, 2)
    assert body["revision"] == 3
    assert "menunggu ditetapkan dengan peraturan perubahan RKPD" in (await client.get("/rkpd/2022")).text
    today = cycles.today().isoformat()  # revision 3 was adopted today, above: its regulation is not older
    amendment = {"regulation": "Peraturan Wali Kota Bekasi Nomor 45 Tahun 2021", "date": today}
    before = await pool.fetchval("SELECT count(*) FROM events")
    for fields, who, status in (({}, roads, 403), ({"date": "2099-01-01"}, admin, 422),
                                ({"date": "2021-08-16"}, admin, 422),  # before the adoption it enacts
                                ({"regulation": " "}, admin, 422),
                                ({"regulation": history.REGULATION.upper()}, admin, 422)):  # already used
        r = await client.post(path, json={**amendment, **fields}, headers=who)
        assert r.status_code == status, (fields, r.text)
    assert await pool.fetchval("SELECT count(*) FROM events") == before
    r = await client.post(path, json=amendment, headers=admin)
    assert r.status_code == 201, r.text
    body = (await client.get(BASE)).json()
    enacted = body["enactment"]
    assert (enacted["regulation"], enacted["date"], enacted["revision"], enacted["amendment"]) == (
        amendment["regulation"], today, 3, True)
    adopted = await pool.fetchval("SELECT data FROM events WHERE event_type = 'rkpd.adopted' ORDER BY global_position"
                                  " DESC LIMIT 1")  # fmt: skip
    lines = msgspec.json.decode(adopted, type=RkpdAdopted).lines
    assert enacted["list_hash"] == list_hash(lines)  # anyone can recompute it from the adoption event
    page = (await client.get("/rkpd/2022")).text
    assert amendment["regulation"] in page and "perubahan RKPD" in page and "menunggu ditetapkan" not in page
    again = await client.post(path, json={**amendment, "regulation": "Nomor lain"}, headers=admin)
    assert again.status_code == 409  # this revision is enacted already
    # The path ends in the law: the line's lineage, its residents' timelines and the year's feed say so.
    in_force = next(i for i in body["items"] if i["origins"])
    assert amendment["regulation"] in (await client.get(f"/telusur/rkpd/2022/{in_force['id']}")).text
    track = (await client.get(f"/lacak/{in_force['origins'][0]['code']}")).text
    assert f"RKPD diundangkan dengan {amendment['regulation']}" in track
    feed = (await client.get("/rkpd/2022.atom")).text
    assert feed.count(amendment["regulation"]) == 1  # one entry for the enactment, not one per proposal

    # Another change: adopted first, then enacted by a regulation of its own.
    line = next(i for i in body["items"] if i["renja_reason"])
    changed = {**LINE, "origins": [], "renja_reason": line["renja_reason"], "pagu": 380_000_000,
               "locations": [p["kode"] for p in line["locations"]], "reason": "efisiensi"}  # fmt: skip
    assert (await client.put(f"{BASE}/lines/{line['id']}", json=changed, headers=roads)).status_code == 200
    second = {"regulation": "Peraturan Wali Kota Bekasi Nomor 51 Tahun 2021", "date": today}
    assert (await client.post(path, json=second, headers=admin)).status_code == 409  # adopt the change first
    adopt = {"note": "perubahan", "confirm_over_pagu": True}  # the list is over a pagu since the Renja line
    assert (await client.post(f"{BASE}/adopt", json=adopt, headers=admin)).status_code == 200
    assert (await client.post(path, json=second, headers=admin)).status_code == 201
    assert (await client.get(BASE)).json()["enactment"]["revision"] == 4
