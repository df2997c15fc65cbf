"""Pokok-pikiran DPRD (issue 14, part 1) through a real server on its own copy of the history
(tests/history.py), with the RKPD 2024 cycle open at the Forum Perangkat Daerah and its Musrenbang Kota a
month away: a member enters pokir from their reses, the DPRD secretariat returns or forwards them, the
agencies take them up beside the kecamatan forums' proposals, and the public sees every pokir with its
member and what share of the RKPD's pagu came from pokir, per kecamatan and per daerah pemilihan. Every
other role is refused, and nothing is written when it is."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import AsyncIterator

import asyncpg
import httpx
import pytest

from musrenbang.db.connect import create_pool
from musrenbang.demo import RKPD_2022_PROGRAMS, RKPD_2022_THEME
from musrenbang.domain import cycle
from musrenbang.domain.events import StageWindow
from musrenbang.eventlog.store import EventStore, Metadata
from musrenbang.services import cycles
from tests import history
from tests.http.city_setup import sign_in
from tests.http.test_pages import hidden
from tests.http.test_staff import PASSWORD, add_user
from tests.server import serving

YEAR, LATE_YEAR = 2024, 2025
IN_DAPIL = history.KELURAHAN_A  # Bekasi Timur: daerah pemilihan "Bekasi 1"
OTHER_DAPIL = "32.75.03.1001"  # Bekasi Utara: "Bekasi 2"
POKIR = {
    "year": YEAR, "kelurahan": IN_DAPIL, "rw": 3, "rt": 2, "kind": "fisik", "bidang": "infrastruktur",
    "title": "Normalisasi saluran Jl. Melati", "problem": "Saluran tersumbat, banjir setiap hujan deras",
    "solution": "Normalisasi dan pembuatan sodetan saluran", "beneficiaries": 800, "volume": "400",
    "unit": "meter", "estimated_cost": 300_000_000, "address": "Jl. Melati RW 03",
    "reses_on": "2023-03-12", "reses_place": "Aula RW 03 Kelurahan Bekasi Jaya",
}  # fmt: skip
LINE = {
    "priority_program": 1, "sub_kegiatan_code": "1.03.10.2.01.0017", "program": "Program Pengelolaan Sumber Daya Air",
    "kegiatan": "Pengelolaan SDA dan Bangunan Pengaman Pantai", "sub_kegiatan": "Normalisasi saluran",
    "funding_source": "apbd_kota", "volume": "400", "unit": "meter", "pagu": 280_000_000,
    "output_indicator": "Panjang saluran yang dinormalisasi", "target": "400", "target_unit": "meter",
}  # fmt: skip
ROLES = {"member": ("dprd", ("--dapil", "Bekasi 1", "--name", "H. Ahmad Fauzi, S.E.", "--faction", "Fraksi Contoh")),
         "other_member": ("dprd", ("--dapil", "Bekasi 2", "--name", "Dra. Siti Aminah")),
         "setwan": ("setwan", ()), "admin": ("admin", ()), "roads": ("opd", ("--opd", "DBMSDA")),
         "facilitator": ("facilitator", ("--region", history.KECAMATAN)), "auditor": ("auditor", ())}  # fmt: skip


def _calendar(kota_in: int, year: int) -> tuple[StageWindow, ...]:
    """Every stage up to the Forum Perangkat Daerah open since 2020 (or since RKPD `year` may be planned, if
    later); the Musrenbang Kota `kota_in` days away."""
    today, past = cycles.today(), max(dt.date(2020, 6, 1), dt.date(year - 2, 1, 1))
    kota = today + dt.timedelta(days=kota_in)
    windows = {s: (past, kota - dt.timedelta(days=1)) for s in cycle.STAGES[:4]}
    windows |= {"kota": (kota, kota + dt.timedelta(days=20)), "ditetapkan": (kota, kota + dt.timedelta(days=90))}
    return tuple(StageWindow(stage=s, opens=o, closes=c) for s, (o, c) in windows.items())


async def _open(url: str) -> None:
    pool = await create_pool(url, min_size=1, max_size=2)
    try:
        for year, days in ((YEAR, 30), (LATE_YEAR, 3)):
            command = cycle.StartCycle(year=year, region="32.75", theme=RKPD_2022_THEME,
                                       priority_programs=RKPD_2022_PROGRAMS,
                                       calendar=_calendar(days, year))  # fmt: skip
            await cycles.open_cycle(EventStore(pool), command, Metadata(actor="test", role="admin"))
    finally:
        await pool.close()


@pytest.fixture(scope="module")
async def dprd(server_url: str, template_name: str) -> AsyncIterator[tuple[httpx.AsyncClient, asyncpg.Pool, dict]]:
    async with history.database(server_url, template_name) as (url, built):
        await _open(url)
        tag = uuid.uuid4().hex[:6]
        for name, (role, scope) in ROLES.items():
            add_user(url, f"{name.replace('_', '-')}-{tag}", role, *scope)
        with serving(url) as server:
            pool = await create_pool(url, min_size=1, max_size=2)
            async with httpx.AsyncClient(base_url=server.base_url, timeout=30) as client:
                auth = {}
                for name in ROLES:
                    login = {"username": f"{name.replace('_', '-')}-{tag}", "password": PASSWORD}
                    r = await client.post("/api/v1/auth/token", json=login)
                    auth[name] = {"Authorization": f"Bearer {r.json()['token']}"}
                yield client, pool, {"auth": auth, "tag": tag, "codes": built.codes}
            await pool.close()


async def _events(pool: asyncpg.Pool) -> int:
    return await pool.fetchval("SELECT count(*) FROM events")


async def _submit(client: httpx.AsyncClient, auth: dict, **fields: object) -> httpx.Response:
    return await client.post("/api/v1/pokir", json={**POKIR, **fields},
                             headers={**auth, "Idempotency-Key": str(uuid.uuid4())})  # fmt: skip


async def test_a_member_enters_a_pokir_and_everyone_sees_it_with_the_member(dprd) -> None:  # noqa: ANN001
    client, pool, ctx = dprd
    key = {**ctx["auth"]["member"], "Idempotency-Key": str(uuid.uuid4())}
    r = await client.post("/api/v1/pokir", json=POKIR, headers=key)
    assert r.status_code == 201, r.text
    code = r.json()["code"]
    again = await client.post("/api/v1/pokir", json=POKIR, headers=key)  # a retry: the same pokir, nothing new
    assert again.status_code == 200 and again.json()["code"] == code
    listed = (await client.get("/api/v1/pokir", params={"year": YEAR, "dapil": "Bekasi 1"})).json()
    mine = next(p for p in listed["items"] if p["code"] == code)
    assert (mine["member_name"], mine["faction"], mine["dapil"], mine["reses_on"], mine["status"]) == (
        "H. Ahmad Fauzi, S.E.", "Fraksi Contoh", "Bekasi 1", "2023-03-12", "diajukan")
    assert code not in {p["code"] for p in
                        (await client.get("/api/v1/pokir", params={"year": YEAR, "dapil": "Bekasi 2"})).json()["items"]}
    assert (await client.get("/api/v1/pokir", params={"year": YEAR, "dapil": "a\x00b"})).status_code == 400
    assert (await client.get("/api/v1/pokir", params={"year": 10**20})).status_code == 400
    assert (await client.get(f"/pokir/{YEAR}", params={"dapil": "a\x00b"})).status_code == 200
    assert (await client.get("/pokir/2100")).status_code == 404  # no cycle that year: as /rkpd/2100 (review s20)
    no_cycle = await client.get("/api/v1/pokir", params={"year": 2100})  # the API as the page (was 200, no items)
    assert no_cycle.status_code == 404 and "2100" in no_cycle.json()["message"], no_cycle.text
    page = (await client.get(f"/pokir/{YEAR}")).text
    assert "H. Ahmad Fauzi, S.E." in page and POKIR["title"] in page
    lineage = (await client.get(f"/telusur/usulan/{code}")).text
    assert "Pokok pikiran DPRD dari H. Ahmad Fauzi, S.E." in lineage and POKIR["reses_place"] in lineage
    queue = (await client.get("/petugas/verifikasi", headers=ctx["auth"]["facilitator"])).text
    assert code[:4] + "-" not in queue and POKIR["title"] not in queue  # not the kelurahan's to verify


async def test_bad_pokir_are_refused_field_by_field_and_nothing_is_written(dprd) -> None:  # noqa: ANN001
    client, pool, ctx = dprd
    member = ctx["auth"]["member"]
    before = await _events(pool)
    tomorrow = (cycles.today() + dt.timedelta(days=1)).isoformat()
    for fields, field in (({"kelurahan": OTHER_DAPIL}, "kelurahan"), ({"reses_on": tomorrow}, "reses_on"),
                          ({"reses_on": "2019-12-31"}, "reses_on"), ({"reses_place": "  "}, "reses_place"),
                          ({"reses_place": "x\x00y"}, "reses_place"), ({"estimated_cost": 0}, "estimated_cost"),
                          ({"title": ""}, "title")):  # fmt: skip
        r = await _submit(client, member, **fields)
        assert r.status_code == 422 and field in r.json()["errors"], (fields, r.text)
    late = await _submit(client, member, year=LATE_YEAR)  # its Musrenbang Kota is 3 days away
    assert late.status_code == 409 and "batas penyampaian" in late.json()["message"], late.text
    assert (await client.post("/api/v1/pokir", json={**POKIR, "extra": 1}, headers=member)).status_code == 400
    assert await _events(pool) == before


async def test_only_a_member_enters_pokir_and_only_the_secretariat_checks_them(dprd) -> None:  # noqa: ANN001
    client, pool, ctx = dprd
    auth = ctx["auth"]
    code = (await _submit(client, auth["member"])).json()["code"]
    before = await _events(pool)
    for role in ("setwan", "admin", "roads", "facilitator", "auditor"):
        assert (await _submit(client, auth[role])).status_code == 403, role
    assert (await _submit(client, {})).status_code == 401
    for role in ("member", "other_member", "roads", "facilitator", "auditor"):
        r = await client.post(f"/api/v1/pokir/{code}/forward", json={}, headers=auth[role])
        assert r.status_code == 403, (role, r.text)
        r = await client.post(f"/api/v1/pokir/{code}/return", json={"reason": "lengkapi"}, headers=auth[role])
        assert r.status_code == 403, (role, r.text)
    # The kelurahan's verification does not take a pokir, even from Bappeda.
    r = await client.post(f"/api/v1/proposals/{code}/verification", json={"decision": "accept"}, headers=auth["admin"])
    assert r.status_code == 409, r.text
    assert await _events(pool) == before
    r = await client.post(f"/api/v1/pokir/{code}/return", json={"reason": "sertakan foto lokasi"},
                          headers=auth["setwan"])  # fmt: skip
    assert r.status_code == 200, r.text
    revised = {k: v for k, v in POKIR.items() if k != "year"} | {"title": "Normalisasi saluran Jl. Melati RW 03"}
    before = await _events(pool)
    r = await client.post(f"/api/v1/pokir/{code}/revise", json=revised, headers=auth["other_member"])
    assert r.status_code == 403, r.text  # another member's
    assert await _events(pool) == before
    r = await client.post(f"/api/v1/pokir/{code}/revise", json=revised, headers=auth["member"])
    assert r.status_code == 200, r.text
    r = await client.post(f"/api/v1/pokir/{code}/forward", json={"note": "lengkap"}, headers=auth["setwan"])
    assert r.status_code == 200, r.text
    again = await client.post(f"/api/v1/pokir/{code}/forward", json={}, headers=auth["setwan"])
    assert again.status_code == 409, again.text
    mine = (await client.get(f"/api/v1/pokir/{code}")).json()
    assert mine["status"] == "diteruskan_setwan" and mine["title"] == revised["title"]


async def test_a_member_moved_to_another_dapil_still_corrects_a_pokir_of_the_old_one(dprd) -> None:  # noqa: ANN001
    """Review s23: after `musrenbang user move --dapil`, a pokir returned from before the move could not be
    revised as it was (its kelurahan "outside" the new dapil) and one revised elsewhere changed dapil."""
    from musrenbang.services.accounts import add_user as add_account
    from musrenbang.services.accounts import move_user

    client, pool, ctx = dprd
    username = f"pindah-{ctx['tag']}"
    async with pool.acquire() as conn:
        await add_account(conn, username, PASSWORD, "dprd", None, None, dapil="Bekasi 1", name="Drs. Pindah Dapil")

    async def signed_in() -> dict[str, str]:
        r = await client.post("/api/v1/auth/token", json={"username": username, "password": PASSWORD})
        return {"Authorization": f"Bearer {r.json()['token']}"}

    code = (await _submit(client, await signed_in(), title="Saluran Jl. Dahlia")).json()["code"]
    r = await client.post(f"/api/v1/pokir/{code}/return", json={"reason": "lengkapi volume"},
                          headers=ctx["auth"]["setwan"])  # fmt: skip
    assert r.status_code == 200, r.text
    async with pool.acquire() as conn:
        assert await move_user(conn, username, dapil="Bekasi 2") == ("dprd", "dapil Bekasi 2")
    revised = {k: v for k, v in POKIR.items() if k != "year"} | {"title": "Saluran Jl. Dahlia", "volume": "350"}
    r = await client.post(f"/api/v1/pokir/{code}/revise", json=revised, headers=await signed_in())
    assert r.status_code == 200, r.text
    assert (await client.get(f"/api/v1/pokir/{code}")).json()["dapil"] == "Bekasi 1"  # where it was brought
    new = await _submit(client, await signed_in(), title="Saluran Jl. Mawar")
    assert new.status_code == 422 and "Bekasi 2" in new.text  # a new one: the member's dapil now


async def test_forwarded_pokir_reach_the_agencies_and_their_share_of_the_pagu_is_public(dprd) -> None:  # noqa: ANN001
    client, pool, ctx = dprd
    auth = ctx["auth"]
    code = (await _submit(client, auth["member"], title="Saluran Jl. Kenanga")).json()["code"]
    waiting = (await _submit(client, auth["member"], title="Saluran yang belum diperiksa")).json()["code"]
    r = await client.post(f"/api/v1/pokir/{code}/forward", json={}, headers=auth["setwan"])
    assert r.status_code == 200, r.text
    r = await client.post(f"/api/v1/rkpd/{YEAR}/receive", headers=auth["admin"])
    assert r.status_code == 200, r.text
    async with pool.acquire() as conn:
        received = {row["code"] for row in await conn.fetch("SELECT code FROM rkpd_items WHERE year = $1", YEAR)}
    assert code in received and waiting not in received  # only what the secretariat forwarded
    r = await client.post(f"/api/v1/rkpd/{YEAR}/lines", json={**LINE, "agency": "DBMSDA", "origins": [code]},
                          headers=auth["roads"])  # fmt: skip
    assert r.status_code == 201, r.text
    renja = {**LINE, "agency": "DBMSDA", "origins": [], "renja_reason": "Renstra: saluran primer", "pagu": 100_000_000,
             "locations": [OTHER_DAPIL]}  # fmt: skip
    assert (await client.post(f"/api/v1/rkpd/{YEAR}/lines", json=renja, headers=auth["roads"])).status_code == 201
    sources = (await client.get(f"/api/v1/rkpd/{YEAR}/sources")).json()
    assert sources["revision"] == 0  # a draft: nothing adopted for 2024
    assert sources["totals"] == {"musrenbang": 0, "pokir": 280_000_000, "renja": 100_000_000, "total": 380_000_000}
    by_kecamatan = {k["kode"]: k for k in sources["kecamatan"]}
    assert by_kecamatan[history.KECAMATAN]["pokir"] == 280_000_000
    assert by_kecamatan["32.75.03"]["renja"] == 100_000_000
    by_dapil = {d["name"]: d for d in sources["dapil"]}
    assert (by_dapil["Bekasi 1"]["pokir"], by_dapil["Bekasi 2"]["renja"], by_dapil["Bekasi 3"]["total"]) == (
        280_000_000, 100_000_000, 0)
    page = (await client.get(f"/rkpd/{YEAR}/sumber")).text
    assert "Bekasi 1" in page and "Rp 280.000.000" in page
    assert (await client.get("/api/v1/rkpd/2030/sources")).status_code == 404
    track = (await client.get(f"/lacak/{code}")).text
    assert "Diperiksa Sekretariat DPRD dan diteruskan ke Forum Perangkat Daerah" in track


async def test_a_member_enters_a_pokir_on_the_staff_page(dprd) -> None:  # noqa: ANN001
    """The form a member uses on a phone (the browser test drives the same one): errors beside the fields and
    what was typed kept, then saved."""
    client, pool, ctx = dprd
    browser = await sign_in(str(client.base_url), f"member-{ctx['tag']}")
    try:
        page = await browser.get("/petugas/pokir/baru")
        assert page.status_code == 200 and "Tanggal reses" in page.text
        assert OTHER_DAPIL not in page.text  # only the kelurahan of the member's daerah pemilihan
        token = hidden(page.text, "_csrf_token")
        fields = {k: str(v) for k, v in POKIR.items()} | {"_csrf_token": token, "idempotency_key": str(uuid.uuid4())}
        before = await _events(pool)
        wrong = await browser.post("/petugas/pokir/baru", data={**fields, "reses_place": ""})
        assert wrong.status_code == 422 and 'id="reses_place-error"' in wrong.text and POKIR["title"] in wrong.text
        assert await _events(pool) == before
        saved = await browser.post("/petugas/pokir/baru", data=fields)
        assert saved.status_code == 303, saved.text
        detail = await browser.get(saved.headers["location"])
        assert detail.status_code == 200 and POKIR["reses_place"] in detail.text
    finally:
        await browser.aclose()


async def test_every_role_is_refused_outside_its_part_of_the_regulated_path(dprd) -> None:  # noqa: ANN001
    """Each write of issue 14 for each role: outside one's role 403 (401 signed out) and nothing written; inside
    it the request reaches the rules (here each is wrong on purpose: 4xx, and nothing written either)."""
    client, pool, ctx = dprd
    code = (await _submit(client, ctx["auth"]["member"], title="Pokir untuk uji peran")).json()["code"]
    renja = {**LINE, "agency": "DBMSDA", "origins": [], "renja_reason": ""}  # no reason: 422
    writes = {
        "pokir": ("/api/v1/pokir", {**POKIR, "reses_place": ""}, {"member", "other_member"}),
        "revise": (f"/api/v1/pokir/{code}/revise", {k: v for k, v in POKIR.items() if k != "year"},
                   {"member", "other_member"}),  # not returned: 409; another member's: 403 from the rules
        "forward": ("/api/v1/pokir/ZZZZ2345/forward", {}, {"setwan", "admin"}),
        "return": (f"/api/v1/pokir/{code}/return", {"reason": " "}, {"setwan", "admin"}),
        "renja": (f"/api/v1/rkpd/{YEAR}/lines", renja, {"roads", "admin"}),
        "enact": (f"/api/v1/rkpd/{YEAR}/enactment", {"regulation": "Perwal 1/2023", "date": "2099-01-01"}, {"admin"}),
        "schedule": (f"/api/v1/rkpd/{YEAR}/forums/forum_pd", {"held_on": "2023-03-01", "place": "", "chair": "",
                                                              "participants": [], "agenda": []}, {"admin"}),
        "close": (f"/api/v1/rkpd/{YEAR}/forums/musrenbang_kota/close", {"minutes": "x"}, {"admin"}),
        "verify": (f"/api/v1/proposals/{code}/verification", {"decision": "accept"}, {"facilitator", "admin"}),
    }  # fmt: skip
    before = await _events(pool)
    for name, (path, body, allowed) in writes.items():
        for role, auth in [*ctx["auth"].items(), ("anonymous", {})]:
            r = await client.post(path, json=body, headers=auth)
            if role == "anonymous":
                assert r.status_code == 401, (name, r.text)
            elif role in allowed:
                assert 400 <= r.status_code < 500 and r.status_code != 401, (name, role, r.status_code, r.text)
                assert r.status_code != 403 or (name, role) == ("revise", "other_member"), (name, role, r.text)
            else:
                assert r.status_code == 403, (name, role, r.status_code, r.text)
    assert await _events(pool) == before


async def test_no_pokir_is_left_unanswered_when_the_forum_perangkat_daerah_closes(dprd) -> None:  # noqa: ANN001
    """(Last in this module: it closes the 2024 Forum Perangkat Daerah.) The forum does not close while a
    pokir waits for the secretariat or was forwarded and not taken up; once closed, no pokir is submitted,
    corrected, forwarded or taken up any more, and the RKPD is adopted by the Musrenbang Kota, not a button."""
    client, pool, ctx = dprd
    auth, base = ctx["auth"], f"/api/v1/rkpd/{YEAR}"
    today = cycles.today().isoformat()
    schedule = {"held_on": today, "place": "Aula Bappeda", "chair": "Kepala Bappeda", "agenda": ["Pembahasan"],
                "participants": [{"name": "Perwakilan DBMSDA", "kind": "agency", "represents": "DBMSDA"}]}
    assert (await client.post(f"{base}/forums/forum_pd", json=schedule, headers=auth["admin"])).status_code == 200
    close = {"minutes": "Daftar prioritas per perangkat daerah disepakati."}
    before = await _events(pool)
    refused = await client.post(f"{base}/forums/forum_pd/close", json=close, headers=auth["admin"])
    assert refused.status_code == 409 and "menunggu pemeriksaan Sekretariat DPRD" in refused.json()["message"]
    waiting = [p["code"] for p in (await client.get("/api/v1/pokir", params={"year": YEAR})).json()["items"]
               if p["status"] == "diajukan"]  # fmt: skip
    assert waiting and await _events(pool) == before
    for code in waiting[1:]:
        r = await client.post(f"/api/v1/pokir/{code}/return", json={"reason": "tidak lengkap"}, headers=auth["setwan"])
        assert r.status_code == 200, r.text
    r = await client.post(f"/api/v1/pokir/{waiting[0]}/forward", json={}, headers=auth["setwan"])
    assert r.status_code == 200, r.text
    refused = await client.post(f"{base}/forums/forum_pd/close", json=close, headers=auth["admin"])
    assert refused.status_code == 409 and "belum diterima" in refused.json()["message"] and waiting[0] in refused.text
    assert (await client.post(f"{base}/receive", headers=auth["admin"])).status_code == 200
    decline = {"reason": "sudah ditangani program lain"}
    for code in await pool.fetch("SELECT code FROM rkpd_items WHERE year = $1 AND status = 'menunggu'", YEAR):
        r = await client.post(f"{base}/proposals/{code[0]}/decline", json=decline, headers=auth["admin"])
        assert r.status_code == 200, r.text
    closed = await client.post(f"{base}/forums/forum_pd/close", json=close, headers=auth["admin"])
    assert closed.status_code == 200, closed.text
    before = await _events(pool)
    late = await _submit(client, auth["member"])
    assert late.status_code == 409 and "sudah ditutup" in late.json()["message"]
    revised = {k: v for k, v in POKIR.items() if k != "year"}
    r = await client.post(f"/api/v1/pokir/{waiting[1]}/revise", json=revised, headers=auth["member"])
    assert r.status_code == 409, r.text
    assert (await client.post(f"{base}/receive", headers=auth["admin"])).status_code == 409
    adopt = await client.post(f"{base}/adopt", json={}, headers=auth["admin"])
    assert adopt.status_code == 409 and "Musrenbang Kota" in adopt.json()["message"]  # the forums adopt, no button
    assert await _events(pool) == before
