"""The RKPD list, lineage and the city-level staff API through real servers.

Read-only checks use `city_server` (one complete cycle, tests/history.py); the staff API test changes the
city level, so it runs its own server on its own copy of such a history."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import asyncpg
import httpx
import pytest

from musrenbang.db.connect import create_pool
from tests import history
from tests.http.test_staff import PASSWORD, add_user
from tests.server import Server, serving


@pytest.fixture(scope="module")
async def city(city_server: Server, city_database: str) -> AsyncIterator[tuple[httpx.AsyncClient, asyncpg.Pool]]:
    pool = await create_pool(city_database, min_size=1, max_size=3)
    async with httpx.AsyncClient(base_url=city_server.base_url, timeout=30) as client:
        yield client, pool
    await pool.close()


async def _codes(pool: asyncpg.Pool) -> dict[str, str]:
    """The history's proposals by their name in tests/history.py (a0..a4, b0, b1 of 2022; "carried", a3
    proposed again for 2023)."""
    rows = await pool.fetch("SELECT code, kelurahan, rw, year FROM proposals WHERE source <> 'pokir'")
    names = {("a" if r["kelurahan"] == history.KELURAHAN_A else "b") + str(r["rw"] - 1): r["code"]
             for r in rows if r["year"] == history.YEAR}  # fmt: skip
    return {**names, "carried": next(r["code"] for r in rows if r["year"] == history.NEXT_YEAR)}


async def assert_steps_are_events(pool: asyncpg.Pool, steps: list[dict]) -> None:
    for s in steps:
        row = await pool.fetchrow(
            "SELECT stream_id, stream_version, event_type, hash FROM events WHERE global_position = $1", s["position"]
        )
        assert (row["stream_id"], row["stream_version"], row["event_type"], row["hash"].hex()) == (
            s["stream"], s["version"], s["kind"], s["hash"],
        )  # fmt: skip


async def test_the_published_rkpd_lists_each_line_with_its_origins(city) -> None:  # noqa: ANN001
    client, pool = city
    c = await _codes(pool)
    body = (await client.get("/api/v1/rkpd/2022")).json()
    assert (body["year"], body["status"], body["revision"], body["changed_since_adoption"]) == (
        2022, "ditetapkan", 2, False,
    )  # fmt: skip
    [item] = body["items"]
    assert (item["id"], item["no"], item["pagu"], item["agency"], body["total_pagu"]) == (
        "DBMSDA-002", 1, 50_000_000, "DBMSDA", 50_000_000,
    )  # fmt: skip
    assert [o["code"] for o in item["origins"]] == [c["a0"], c["a1"], c["b0"]]
    assert item["origins"][0]["merged"] == [c["a4"]]
    assert [p["kode"] for p in item["locations"]] == [history.KELURAHAN_A, history.KELURAHAN_B]
    assert item["output_indicator"] and item["target"] == "300" and item["target_unit"] == "m"
    head = body["head"]
    stored = await pool.fetchrow("SELECT * FROM events WHERE global_position = $1", head["position"])
    assert stored["event_type"] == "rkpd.adopted" and stored["hash"].hex() == head["hash"]
    raw = (await client.get("/api/v1/rkpd/2022")).text
    assert history.PROPOSER.name not in raw and "99887766" not in raw
    assert (await client.get("/api/v1/rkpd/2031")).status_code == 404  # no such cycle
    assert (await client.get("/api/v1/rkpd/100000000000000")).status_code == 400


async def test_lineage_of_a_merged_proposal_follows_it_into_the_rkpd(city) -> None:  # noqa: ANN001
    client, pool = city
    c = await _codes(pool)
    body = (await client.get(f"/api/v1/lineage/{c['a4']}")).json()
    assert body["root"] == c["a0"] and body["lines"] == [{"year": 2022, "line_id": "DBMSDA-002"}]
    assert {p["code"] for p in body["proposals"]} == {c["a0"], c["a4"]}
    kinds = [s["kind"] for s in body["steps"]]
    for kind in ("proposal.submitted", "proposal.returned", "proposal.revised", "proposal.merged",
                 "proposal.merged_in", "proposal.accepted", "forum.opened", "forum.item_adjusted",
                 "forum.ballot_cast", "forum.scores_given", "forum.closed", "rkpd.proposals_received",
                 "rkpd.line_set", "rkpd.line_withdrawn", "rkpd.adopted"):  # fmt: skip
        assert kind in kinds, kind
    assert [s["position"] for s in body["steps"]] == sorted(s["position"] for s in body["steps"])
    assert all(s["role"] for s in body["steps"] if s["kind"] != "proposal.submitted" and not s["kind"].startswith(
        "proposal.photo"))  # fmt: skip
    await assert_steps_are_events(pool, body["steps"])
    assert history.PROPOSER.name not in str(body) and "99887766" not in str(body)


async def test_lineage_says_where_a_left_out_proposal_stopped_and_why(city) -> None:  # noqa: ANN001
    client, pool = city
    c = await _codes(pool)
    left_out = (await client.get(f"/api/v1/lineage/{c['b1']}")).json()
    assert left_out["lines"] == []
    closes = [s for s in left_out["steps"] if s["kind"] == "forum.closed"]
    assert closes[-1]["detail"]["selected"] is False and closes[-1]["detail"]["reason"] == "over_ceiling"
    declined = (await client.get(f"/api/v1/lineage/{c['a3']}")).json()
    assert [s["detail"]["to_agency"] for s in declined["steps"] if s["kind"] == "rkpd.proposal_passed"] == [
        "DISPERKIMTAN"
    ]
    own = [s for s in declined["steps"] if s["subject"] == c["a3"]]
    # Declined, not agreed at both city forums (their Berita Acara say so), then proposed again for 2023.
    assert [s["kind"] for s in own[-4:]] == ["rkpd.proposal_declined", "rkpd.forum_closed", "rkpd.forum_closed",
                                             "proposal.carried_over"]  # fmt: skip
    assert own[-4]["detail"]["reason"] == own[-3]["detail"]["reason"] == "sudah dianggarkan 2021"
    # Proposed again for 2023: the lineage holds both years, from either end.
    years = [(y["year"], y["code"], y["outcome"]) for y in declined["years"]]
    assert years == [(2022, c["a3"], "tidak_terakomodasi"), (2023, c["carried"], "diajukan")]
    assert own[-1]["detail"] == {"to_code": c["carried"], "to_year": 2023}
    later = (await client.get(f"/api/v1/lineage/{c['carried']}")).json()
    assert [(y["year"], y["code"]) for y in later["years"]] == [(2022, c["a3"]), (2023, c["carried"])]
    assert {s["subject"] for s in later["steps"]} >= {c["a3"], c["carried"]}
    carried = (await client.get(f"/api/v1/proposals/{c['carried']}")).json()
    assert carried["carried_from"] == c["a3"]
    assert carried["history"] == [{"year": 2022, "code": c["a3"], "outcome": "tidak_terakomodasi"},
                                  {"year": 2023, "code": c["carried"], "outcome": "diajukan"}]  # fmt: skip
    rejected = (await client.get(f"/api/v1/lineage/{c['a2']}")).json()
    assert rejected["steps"][-1]["kind"] == "proposal.rejected"
    assert (await client.get("/api/v1/lineage/ZZZZZZZZ")).status_code == 404


async def test_lineage_of_a_line_holds_every_origin_and_what_was_merged_into_them(city) -> None:  # noqa: ANN001
    client, pool = city
    c = await _codes(pool)
    body = (await client.get("/api/v1/rkpd/2022/items/DBMSDA-002/lineage")).json()
    subjects = {s["subject"] for s in body["steps"]}
    assert subjects == {c["a0"], c["a1"], c["b0"], c["a4"], "rkpd/2022/DBMSDA-002"}
    await assert_steps_are_events(pool, body["steps"])
    assert (await client.get("/api/v1/rkpd/2022/items/NOPE-001/lineage")).status_code == 404


# --- the staff API, on a server of its own -----------------------------------------------------------------


@pytest.fixture(scope="module")
async def staff_city(server_url: str, template_name: str) -> AsyncIterator[tuple[str, Server]]:
    async with history.database(server_url, template_name) as (url, _):
        with serving(url) as server:
            yield url, server


async def test_agencies_and_bappeda_through_the_staff_api(staff_city) -> None:  # noqa: ANN001
    url, server = staff_city
    tag = uuid.uuid4().hex[:6]
    users = {"admin": ("admin",), "roads": ("opd", "--opd", "DBMSDA"), "health": ("opd", "--opd", "DINKES"),
             "facilitator": ("facilitator", "--region", history.KELURAHAN_A), "auditor": ("auditor",)}  # fmt: skip
    for key, (role, *scope) in users.items():
        add_user(url, f"{key}-{tag}", role, *scope)
    pool = await create_pool(url, min_size=1, max_size=3)
    async with httpx.AsyncClient(base_url=server.base_url, timeout=30) as client:
        auth = {}
        for key in users:
            r = await client.post("/api/v1/auth/token", json={"username": f"{key}-{tag}", "password": PASSWORD})
            auth[key] = {"Authorization": f"Bearer {r.json()['token']}"}
        c = await _codes(pool)
        count = lambda: pool.fetchval("SELECT count(*) FROM events")  # noqa: E731

        async def refused(status: int, method: str, path: str, who: str | None, body: dict) -> dict:
            before = await count()
            r = await client.request(method, path, json=body, headers=auth.get(who or "", {}))
            assert r.status_code == status, (path, who, r.text)
            assert await count() == before
            return r.json()

        base = "/api/v1/rkpd/2022"
        first_read = (await client.get(f"{base}/working", headers=auth["admin"])).json()["list_version"]
        withdraw = {"reason": "ditinjau ulang"}
        await refused(401, "POST", f"{base}/lines/DBMSDA-002/withdraw", None, withdraw)
        for who in ("facilitator", "auditor"):
            await refused(403, "POST", f"{base}/lines/DBMSDA-002/withdraw", who, withdraw)
        await refused(403, "POST", f"{base}/lines/DBMSDA-002/withdraw", "health", withdraw)
        await refused(422, "POST", f"{base}/lines/DBMSDA-002/withdraw", "roads", {"reason": " "})
        r = await client.post(f"{base}/lines/DBMSDA-002/withdraw", json=withdraw, headers=auth["roads"])
        assert r.status_code == 200, r.text
        assert (await client.get(f"/api/v1/proposals/{c['a0']}")).json()["status"] == "diteruskan"

        # Adoption waits until every proposal is decided again.
        message = (await refused(409, "POST", f"{base}/adopt", "admin", {"note": ""}))["message"]
        assert "3 usulan" in message
        await refused(403, "POST", f"{base}/adopt", "roads", {"note": ""})

        line = {
            "origins": [c["a0"], c["b0"]], "priority_program": 2, "sub_kegiatan_code": "1.03.10.2.01.0017",
            "program": "Program Penyelenggaraan Jalan", "kegiatan": "Penyelenggaraan Jalan Kabupaten/Kota",
            "sub_kegiatan": "Rehabilitasi Jalan", "funding_source": "apbd_kota", "volume": "250", "unit": "m",
            "pagu": 45_000_000, "output_indicator": "Panjang jalan yang dibeton", "target": "250",
            "target_unit": "m", "reason": "dipecah menjadi dua baris",
        }  # fmt: skip
        bad = await refused(422, "POST", f"{base}/lines", "roads", {**line, "sub_kegiatan_code": "1.3.10", "pagu": 0})
        assert set(bad["errors"]) == {"sub_kegiatan_code", "pagu"}
        await refused(403, "POST", f"{base}/lines", "health", {**line, "agency": "DBMSDA"})
        assert "origins" in (await refused(422, "POST", f"{base}/lines", "health", line))["errors"]  # not its own
        key = {"Idempotency-Key": str(uuid.uuid4())}
        first = await client.post(f"{base}/lines", json=line, headers={**auth["roads"], **key})
        again = await client.post(f"{base}/lines", json=line, headers={**auth["roads"], **key})
        assert first.status_code == 201 and again.json() == first.json()
        assert first.json()["line_id"] == "DBMSDA-003"
        # An agency editing another agency's line: not a wrong field, a line that is not its own.
        await refused(403, "PUT", f"{base}/lines/DBMSDA-003", "health", {**line, "reason": "ambil alih"})

        await refused(403, "POST", f"{base}/proposals/{c['a1']}/pass", "health", {"to_agency": "DINKES", "reason": "x"})
        r = await client.post(f"{base}/proposals/{c['a1']}/pass", json={"to_agency": "DINKES", "reason": "posyandu"},
                              headers=auth["roads"])  # fmt: skip
        assert r.status_code == 200, r.text
        r = await client.post(f"{base}/proposals/{c['a1']}/decline", json={"reason": "bukan prioritas 2022"},
                              headers=auth["health"])  # fmt: skip
        assert r.status_code == 200, r.text
        assert (await client.get(f"/api/v1/proposals/{c['a1']}")).json()["status"] == "tidak_terakomodasi"

        # An adoption that sends the version of a list read before these changes freezes nothing.
        stale = await refused(409, "POST", f"{base}/adopt", "admin", {"note": "perubahan", "seen": first_read})
        assert "daftar RKPD berubah" in stale["message"]
        seen = (await client.get(f"{base}/working", headers=auth["admin"])).json()["list_version"]
        assert seen != first_read
        r = await client.post(f"{base}/adopt", json={"note": "perubahan", "seen": seen}, headers=auth["admin"])
        assert r.status_code == 200, r.text
        body = (await client.get(base)).json()
        assert (body["revision"], [i["id"] for i in body["items"]], body["total_pagu"]) == (
            3,
            ["DBMSDA-003"],
            45_000_000,
        )
        stage = "/api/v1/cycles/2022/stage"
        for who in ("roads", "facilitator", "auditor"):
            await refused(403, "POST", stage, who, {})
        r = await client.post(stage, headers=auth["admin"])  # adopted: the cycle is closed for good
        assert r.status_code == 409 and "sudah ditetapkan" in r.json()["message"], r.text
        adopted = await pool.fetchrow("SELECT metadata FROM events WHERE event_type = 'rkpd.adopted'"
                                      " ORDER BY global_position DESC LIMIT 1")  # fmt: skip
        assert f"admin-{tag}".encode() in bytes(adopted["metadata"])
    await pool.close()
