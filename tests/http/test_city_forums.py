"""The Forum Perangkat Daerah and Musrenbang Kota as forums (issue 14, part 4), through a real server on a
database of their own (tests/http/city_setup.py: six proposals forwarded by a kecamatan forum). The tests run
in order on one history: Bappeda takes the proposals up, schedules the Forum PD, the agencies decide every
proposal, the Forum PD closes with its Berita Acara, and closing the Musrenbang Kota adopts the RKPD."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator

import asyncpg
import httpx
import msgspec
import pytest

from musrenbang.db.connect import create_pool
from musrenbang.domain.city import ConfigureCity
from musrenbang.eventlog.store import EventStore, Metadata
from musrenbang.services import city as city_service
from tests.conftest import _throwaway_database
from tests.http.city_setup import seed, sign_in
from tests.http.conftest import event_count
from tests.http.test_pages import hidden
from tests.http.test_staff import PASSWORD, add_user
from tests.server import serving
from tests.waiting import eventually

pytestmark = pytest.mark.slow

BASE = "/api/v1/rkpd/2022"
FORUM_PD, KOTA = f"{BASE}/forums/forum_pd", f"{BASE}/forums/musrenbang_kota"
SCHEDULE = {
    "held_on": "2021-03-10", "place": "Aula Bappelitbangda", "chair": "Sekretaris Daerah",
    "participants": [{"name": "Perwakilan DBMSDA", "kind": "agency", "represents": "DBMSDA"},
                     {"name": "H. Ahmad Fauzi", "kind": "dprd", "represents": "Dapil Bekasi 1"},
                     {"name": "Ibu Sari", "kind": "kecamatan", "represents": "Kecamatan Bekasi Timur"}],
    "agenda": ["Pembukaan", "Pembahasan usulan per perangkat daerah"],
}  # fmt: skip
DECLINED = "sudah dianggarkan tahun berjalan"


class City:
    def __init__(self, client: httpx.AsyncClient, pool: asyncpg.Pool, codes: dict[str, str],
                 auth: dict[str, dict[str, str]], users: dict[str, str]) -> None:  # fmt: skip
        self.client, self.pool, self.codes, self.auth, self.users = client, pool, codes, auth, users


@pytest.fixture(scope="module")
async def city(server_url: str, template_name: str) -> AsyncIterator[City]:
    async with _throwaway_database(server_url, template_name) as url:
        codes = await seed(url)
        tag = uuid.uuid4().hex[:6]
        accounts = {"admin": ("admin",), "auditor": ("auditor",), "opd": ("opd", "--opd", "DBMSDA"),
                    "facilitator": ("facilitator", "--region", "32.75.01")}  # fmt: skip
        users = {key: f"cf-{key}-{tag}" for key in accounts}
        for key, (role, *scope) in accounts.items():
            add_user(url, users[key], role, *scope)
        with serving(url, extra_env={"MUSRENBANG_TRUST_PROXY": "1"}) as server:
            pool = await create_pool(url, min_size=1, max_size=2)
            async with httpx.AsyncClient(base_url=server.base_url, timeout=30) as client:
                auth = {}
                for key, username in users.items():
                    r = await client.post("/api/v1/auth/token", json={"username": username, "password": PASSWORD})
                    auth[key] = {"Authorization": f"Bearer {r.json()['token']}"}
                yield City(client, pool, codes, auth, users)
            await pool.close()


async def test_only_bappeda_schedules_and_closes_and_nothing_else_is_written(city: City) -> None:
    client, admin = city.client, city.auth["admin"]
    assert (await client.post(f"{BASE}/receive", headers=admin)).status_code == 200
    before = await event_count(city.pool)
    for who in ("opd", "facilitator", "auditor"):
        for path, body in ((FORUM_PD, SCHEDULE), (f"{FORUM_PD}/close", {"minutes": "x"})):
            r = await client.post(path, json=body, headers=city.auth[who])
            assert r.status_code == 403, (who, path, r.text)
    for path, body in ((FORUM_PD, SCHEDULE), (f"{KOTA}/close", {"minutes": "x"})):
        assert (await client.post(path, json=body)).status_code == 401
    assert await event_count(city.pool) == before
    assert (await client.get(FORUM_PD)).status_code == 404  # nothing scheduled


async def test_bad_schedules_answer_4xx_in_indonesian_and_write_nothing(city: City) -> None:
    client, admin = city.client, city.auth["admin"]
    before = await event_count(city.pool)
    wrong = [
        ({"participants": [{"name": "A", "kind": "raja"}]}, 422, "participants"),
        ({"participants": [{"name": "A", "kind": "agency", "represents": "BUKAN"}]}, 422, "participants"),
        ({"participants": []}, 422, "participants"),
        ({"place": "  "}, 422, "place"),
        ({"chair": "a\x00b"}, 422, "chair"),
        ({"agenda": []}, 422, "agenda"),
        ({"held_on": "1900-01-01"}, 422, "held_on"),
        ({"held_on": "2020-05-31"}, 422, "held_on"),  # the day before the stage's window opens (tests/cycles.py)
        ({"starts_at": "09:00:30"}, 422, "starts_at"),  # the city's wall clock: hours and minutes
        ({"starts_at": "25:00"}, 422, "starts_at"),
        ({"starts_at": "jam 9"}, 422, "starts_at"),
        ({"held_on": "kemarin"}, 422, "held_on"),  # no date: a field to correct (s26)
        ({"extra": 1}, 400, None),
    ]
    for fields, status, field in wrong:
        r = await client.post(FORUM_PD, json={**SCHEDULE, **fields}, headers=admin)
        assert r.status_code == status, (fields, r.text)
        if field:
            assert field in r.json()["errors"], r.text
    assert (await client.post(f"{BASE}/forums/pesta", json=SCHEDULE, headers=admin)).status_code == 404
    r = await client.post(f"{KOTA}/close", json={"minutes": "x"}, headers=admin)
    assert r.status_code == 409 and "belum dijadwalkan" in r.text
    assert await event_count(city.pool) == before


async def test_forum_pd_is_scheduled_again_and_closes_only_when_every_proposal_is_decided(city: City) -> None:
    client, admin = city.client, city.auth["admin"]
    r = await client.post(FORUM_PD, json={**SCHEDULE, "place": "Ruang rapat", "starts_at": "08:00:00"}, headers=admin)
    assert r.status_code == 200 and r.json()["status"] == "dijadwalkan"
    assert (await client.get(FORUM_PD)).json()["starts_at"] == "08:00:00"
    r = await client.post(FORUM_PD, json={**SCHEDULE, "starts_at": "13:30"}, headers=admin)  # as documented (s28)
    assert r.status_code == 200, r.text
    shown = (await client.get(FORUM_PD)).json()  # rescheduled: the new schedule replaces the old one whole
    assert shown["place"] == SCHEDULE["place"] and shown["berita_acara"] is None and shown["starts_at"] == "13:30:00"
    assert [p["kind"] for p in shown["participants"]] == ["agency", "dprd", "kecamatan"]
    before = await event_count(city.pool)
    refused = await client.post(f"{FORUM_PD}/close", json={"minutes": "Disepakati."}, headers=admin)
    assert refused.status_code == 409 and "belum diputuskan" in refused.text
    assert await event_count(city.pool) == before
    # The agencies decide: one line from two proposals, the rest declined with a reason.
    drains = [city.codes["Perbaikan saluran RW 01"], city.codes["Perbaikan saluran RW 02"]]
    line = {"origins": drains, "priority_program": 3, "sub_kegiatan_code": "1.03.03.2.01.0005",
            "program": "Program Pengelolaan Sumber Daya Air", "kegiatan": "Pengelolaan Sistem Drainase",
            "sub_kegiatan": "Rehabilitasi Saluran Drainase Lingkungan", "funding_source": "apbd_kota", "volume": "200",
            "unit": "meter", "pagu": 18_000_000, "output_indicator": "Panjang saluran", "target": "200",
            "target_unit": "meter"}  # fmt: skip
    r = await client.post(f"{BASE}/lines", json=line, headers=city.auth["opd"])
    assert r.status_code == 201, r.text
    for title, code in city.codes.items():
        if code not in drains:
            r = await client.post(f"{BASE}/proposals/{code}/decline", json={"reason": DECLINED}, headers=admin)
            assert r.status_code == 200, (title, r.text)
    r = await client.post(f"{KOTA}/close", json={"minutes": "x"}, headers=admin)
    assert r.status_code == 409  # not scheduled yet, and Forum PD is still open


async def test_a_revision_or_close_sent_with_a_stale_version_is_refused(city: City) -> None:
    """`GET .../working` gives the versions; a revision or close that sends one read before another's change
    is refused with 409 and writes nothing, as the staff pages' forms are."""
    client, admin, opd = city.client, city.auth["admin"], city.auth["opd"]
    assert (await client.get(f"{BASE}/working")).status_code == 401
    assert (await client.get(f"{BASE}/working", headers=city.auth["facilitator"])).status_code == 403
    assert (await client.get("/api/v1/rkpd/2031/working", headers=admin)).status_code == 404
    read = (await client.get(f"{BASE}/working", headers=admin)).json()
    assert read["agency"] is None and len(read["list_version"]) == 16 and len(read["declined"]) == 4
    assert (await client.get(f"{BASE}/working", headers=city.auth["auditor"])).json() == read
    [entry] = read["lines"]
    own = (await client.get(f"{BASE}/working", headers=opd)).json()
    assert (own["agency"], own["list_version"], own["lines"]) == ("DBMSDA", None, [entry])
    assert own["declined"] == {c: r for c, r in read["declined"].items() if c in own["declined"]}
    line = {k: v for k, v in entry["line"].items() if k not in ("line_id", "locations")}
    revised = {**line, "output_indicator": "Panjang saluran yang direhabilitasi", "seen": entry["version"]}
    r = await client.put(f"{BASE}/lines/DBMSDA-001", json=revised, headers=opd)
    assert r.status_code == 200, r.text
    before = await event_count(city.pool)
    r = await client.put(f"{BASE}/lines/DBMSDA-001", json={**revised, "output_indicator": "x"}, headers=opd)
    assert r.status_code == 409 and "sudah diubah sejak halaman ini dibuka" in r.json()["message"], r.text
    r = await client.post(f"{FORUM_PD}/close", json={"minutes": "Disepakati.", "seen": read["list_version"]},
                          headers=admin)  # fmt: skip
    assert r.status_code == 409 and "daftar RKPD berubah" in r.json()["message"], r.text
    assert await event_count(city.pool) == before
    now = (await client.get(f"{BASE}/working", headers=admin)).json()
    assert now["list_version"] != read["list_version"]
    assert now["lines"][0]["line"]["output_indicator"] == "Panjang saluran yang direhabilitasi"


async def test_forum_pd_closes_with_its_berita_acara(city: City) -> None:
    client, admin = city.client, city.auth["admin"]
    drains = [city.codes["Perbaikan saluran RW 01"], city.codes["Perbaikan saluran RW 02"]]
    seen = (await client.get(f"{BASE}/working", headers=admin)).json()["list_version"]
    r = await client.post(f"{FORUM_PD}/close", json={"minutes": "Disepakati bersama.", "seen": seen}, headers=admin)
    assert r.status_code == 200, r.text
    ba = r.json()["berita_acara"]
    assert [(g["agency"], [x["line_id"] for x in g["lines"]]) for g in ba["agreed"]] == [("DBMSDA", ["DBMSDA-001"])]
    assert sorted(ba["agreed"][0]["lines"][0]["origins"]) == sorted(drains)
    assert len(ba["not_agreed"]) == 4 and {x["reason"] for x in ba["not_agreed"]} == {DECLINED}
    assert (await client.get(BASE)).json()["status"] == "rancangan"  # the Forum PD does not adopt
    again = await client.post(FORUM_PD, json=SCHEDULE, headers=admin)
    assert again.status_code == 409 and "sudah ditutup" in again.text


async def test_the_forum_pd_berita_acara_page(city: City) -> None:
    page = await city.client.get("/rkpd/2022/forum-perangkat-daerah")
    assert page.status_code == 200
    text = page.text
    head = await city.pool.fetchval("SELECT encode(hash, 'hex') FROM events WHERE event_type = 'rkpd.forum_closed'")
    assert f"<code id=\"head\">{head}</code>" in text and f"/periksa/{head}" in text and "<svg" in text
    assert 'id="seal"' in text
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in text  # readable on a phone
    agreed = text.split('id="disepakati"')[1].split('id="tidak-disepakati"')[0]
    assert "Dinas Bina Marga dan Sumber Daya Air" in agreed and "DBMSDA-001" in agreed and "Rp 18.000.000" in agreed
    not_agreed = text.split('id="tidak-disepakati"')[1]
    assert "Posyandu RW 06" in not_agreed and DECLINED in not_agreed and "Dinas Kesehatan" in not_agreed
    assert "H. Ahmad Fauzi" in text and "Disepakati bersama." in text
    assert re.search(r"Pada hari ini, \d+ \w+ \d{4}, pukul 13\.30 WIB, bertempat", text)
    assert (await city.client.get(f"/periksa/{head}")).status_code == 200
    assert 'href="/rkpd/2022/forum-perangkat-daerah"' in (await city.client.get("/rkpd/2022")).text
    assert (await city.client.get("/rkpd/2022/musrenbang-kota")).status_code == 404  # not scheduled yet
    # The Berita Acara is on the lineage of what it speaks of: the agreed line, and the proposal not agreed.
    line = (await city.client.get("/telusur/rkpd/2022/DBMSDA-001")).text
    assert "Disepakati di Forum Perangkat Daerah (baris DBMSDA-001" in line
    declined = await city.pool.fetchval("SELECT code FROM rkpd_items WHERE year = 2022 AND reason = $1", DECLINED)
    path = (await city.client.get(f"/telusur/usulan/{declined}")).text
    assert "Tidak disepakati di Forum Perangkat Daerah" in path and 'href="/rkpd/2022/forum-perangkat-daerah"' in path


async def test_bappeda_schedules_musrenbang_kota_on_the_staff_page(city: City) -> None:
    admin = await sign_in(city.client.base_url, city.users["admin"])
    try:
        review = await admin.get("/petugas/rkpd/2022")
        assert "Perwakilan Dinas Kesehatan | opd | DINKES" in review.text  # participants start from the agencies
        form = {"_csrf_token": hidden(review.text, "_csrf_token"), "held_on": "2021-03-31", "place": "",
                "chair": "Wali Kota",
                "participants": "Wali Kota | lainnya | Pemerintah Kota\nH. Ahmad | dprd | Dapil 1",
                "agenda": "Pembukaan\nPenetapan"}  # fmt: skip
        before = await event_count(city.pool)
        r = await admin.post("/petugas/rkpd/2022/forum/musrenbang_kota", data=form)
        assert r.status_code == 422 and 'id="musrenbang_kota-place-error"' in r.text and "H. Ahmad | dprd" in r.text
        # A date or time not written as one is said to be so (it was "outside the schedule"), beside the rest.
        unread = await admin.post("/petugas/rkpd/2022/forum/musrenbang_kota",
                                  data={**form, "held_on": "31 Maret", "starts_at": "jam 9"})  # fmt: skip
        assert unread.status_code == 422 and "tanggal tidak dapat dibaca; tulis seperti 2027-03-15" in unread.text
        assert "misalnya 09:00" in unread.text and 'id="musrenbang_kota-place-error"' in unread.text
        assert "di luar jadwal" not in unread.text and 'value="31 Maret"' in unread.text
        assert await event_count(city.pool) == before
        key = hidden(review.text.split('action="/petugas/rkpd/2022/forum/musrenbang_kota"')[1], "idempotency_key")
        r = await admin.post("/petugas/rkpd/2022/forum/musrenbang_kota", data={**form, "place": "Gedung Juang",
                                                                             "idempotency_key": key})  # fmt: skip
        assert r.status_code == 303 and "#forum-musrenbang_kota" in r.headers["location"]
        scheduled = await event_count(city.pool)
        again = await admin.post("/petugas/rkpd/2022/forum/musrenbang_kota", data={**form, "place": "Gedung Juang",
                                                                                 "idempotency_key": key})  # fmt: skip
        assert again.status_code == 303 and await event_count(city.pool) == scheduled  # a double tap: once
        review = await admin.get(r.headers["location"])
        assert "Musrenbang Kota dijadwalkan" in review.text and "/forum/musrenbang_kota/tutup" in review.text
    finally:
        await admin.aclose()
    shown = (await city.client.get(KOTA)).json()
    assert shown["place"] == "Gedung Juang" and [p["kind"] for p in shown["participants"]] == ["other", "dprd"]


async def test_closing_musrenbang_kota_adopts_the_rkpd_in_the_same_append(city: City) -> None:
    client, admin = city.client, city.auth["admin"]
    r = await client.post(f"{KOTA}/close", json={"minutes": "RKPD 2022 disepakati."}, headers=admin)
    assert r.status_code == 200, r.text
    rows = await city.pool.fetch("SELECT event_type, tx FROM events WHERE event_type IN ('rkpd.forum_closed',"
                                 " 'rkpd.adopted', 'cycle.adopted') ORDER BY global_position")  # fmt: skip
    assert [x["event_type"] for x in rows][-2:] == ["rkpd.forum_closed", "rkpd.adopted"]
    assert rows[-1]["tx"] == rows[-2]["tx"]  # one transaction
    rkpd = (await client.get(BASE)).json()
    assert (rkpd["status"], rkpd["revision"], [i["id"] for i in rkpd["items"]]) == ("ditetapkan", 1, ["DBMSDA-001"])
    # the cycles read model follows in its own worker: the adoption reaches it, whenever it catches up
    stage = "SELECT stage FROM cycles WHERE year = 2022"
    await eventually(lambda: city.pool.fetchval(stage + " AND stage = 'ditetapkan'"), "the cycle adopted")
    page = (await client.get("/rkpd/2022/musrenbang-kota")).text
    assert "DBMSDA-001" in page and "RKPD 2022 disepakati." in page
    assert re.search(r'href="/rkpd/2022/musrenbang-kota"', (await client.get("/rkpd/2022")).text)


async def test_the_kecamatan_forums_agenda_names_each_proposals_kelurahan(city: City) -> None:
    """Two "Perbaikan jalan lingkungan RW 1" from two kelurahan could not be told apart on the agenda a
    paper ballot's numbers are typed from."""
    forum_id = await city.pool.fetchval("SELECT forum_id FROM forums WHERE level = 'kecamatan'")
    name = await city.pool.fetchval("SELECT nama FROM regions WHERE kode = '32.75.01.1001'")
    browser = await sign_in(str(city.client.base_url), city.users["admin"])
    try:
        page = (await browser.get(f"/forum/{forum_id}")).text
    finally:
        await browser.aclose()
    agenda = page[page.index("<ol>"):page.index("</ol>")]
    assert agenda.count(f" — {name} ") == len(city.codes), agenda


async def test_a_renamed_agency_keeps_its_name_on_what_was_adopted_and_closed(city: City) -> None:
    """A reorganisation renames perangkat daerah (SOTK): the settings change. The adopted RKPD and every
    closed forum's Berita Acara are documents of their day and keep the names they were adopted under; only
    what is still being worked on takes the new ones (review s20: the settings change rewrote them)."""
    old_works, old_health = "Dinas Bina Marga dan Sumber Daya Air", "Dinas Kesehatan"
    new_works, new_health = "Dinas Pekerjaan Umum dan Penataan Ruang", "Dinas Kesehatan dan Keluarga Berencana"
    store = EventStore(city.pool)
    now = await city_service.current(store)
    renamed = {"DBMSDA": new_works, "DINKES": new_health}
    # Redistricting too: a kecamatan the list gives pagu to moves to another dapil (review s22: the adopted
    # list's pagu per dapil moved with it).
    async def adopted_sources() -> dict | None:
        found = (await city.client.get(f"{BASE}/sources")).json()
        return found if found["revision"] else None

    sources = await eventually(adopted_sources, "the adopted list in the read model")
    funded = next(k["kode"] for k in sources["kecamatan"] if k["kode"] and k["total"])
    renamed_dapil = "Bekasi Baru"
    home = next(d for d in now.dapil if funded in d.kecamatan)
    away = next(d for d in now.dapil if d is not home)
    moved = tuple(msgspec.structs.replace(d, kecamatan=tuple(k for k in d.kecamatan if k != funded)) if d is home else
                  msgspec.structs.replace(d, name=renamed_dapil, kecamatan=(*d.kecamatan, funded)) if d is away
                  else d for d in now.dapil)  # fmt: skip
    command = ConfigureCity(
        region=now.region, name=now.name, planning_agency=now.planning_agency,
        planning_agency_short=now.planning_agency_short, bidang_agency=now.bidang_agency, bounds=now.bounds,
        timezone=now.timezone, dapil=moved,
        agencies=tuple(msgspec.structs.replace(a, name=renamed.get(a.code, a.name)) for a in now.agencies),
    )  # fmt: skip
    assert await city_service.configure(store, command, Metadata(actor="admin", role="admin")) is not None
    await eventually(lambda: city.pool.fetchval("SELECT 1 FROM city_agencies WHERE name = $1", new_works),
                     "the rename in the city read model")  # fmt: skip
    rkpd = (await city.client.get(BASE)).json()
    assert rkpd["status"] == "ditetapkan" and {i["agency_name"] for i in rkpd["items"]} == {old_works}
    # Once this server's settings are the new ones (a page of today names the renamed dapil), the adopted
    # list's sources still count by the dapil of its adoption.
    await eventually(lambda: _text_has(city.client, "/pokir/2022", renamed_dapil), "the new dapil on the pokir page")
    assert (await city.client.get(f"{BASE}/sources")).json() == sources
    for path in ("/rkpd/2022", "/rkpd/2022.csv", "/rkpd/2022/forum-perangkat-daerah", "/rkpd/2022/musrenbang-kota"):
        page = await city.client.get(path)
        assert page.status_code == 200 and old_works in page.text and new_works not in page.text, path
    forum_pd = (await city.client.get("/rkpd/2022/forum-perangkat-daerah")).text
    assert old_health in forum_pd.split('id="tidak-disepakati"')[1] and new_health not in forum_pd
    assert (await city.client.get(FORUM_PD)).json()["berita_acara"]["agency_names"]["DINKES"] == old_health
    kecamatan = await city.pool.fetchval("SELECT forum_id FROM forums WHERE level = 'kecamatan'")
    berita_acara = (await city.client.get(f"/forum/{kecamatan}/berita-acara")).text
    assert old_works in berita_acara and new_works not in berita_acara
    # What happened before the rename is told by the names of its day: the line's trace, its proposals'
    # timelines and lineages (review s21: they disagreed with the list they lead to).
    drain = city.codes["Perbaikan saluran RW 01"]
    for path in ("/telusur/rkpd/2022/DBMSDA-001", f"/telusur/usulan/{drain}", f"/lacak/{drain}"):
        page = await city.client.get(path)
        assert page.status_code == 200 and old_works in page.text and new_works not in page.text, path
    # What is worked on now names the agency as it is called now: Bappeda's page of the year.
    browser = await sign_in(str(city.client.base_url), city.users["admin"])
    try:
        working = (await browser.get("/petugas/rkpd/2022")).text
    finally:
        await browser.aclose()
    assert new_works in working


async def _text_has(client: httpx.AsyncClient, path: str, text: str) -> bool:
    return text in (await client.get(path)).text


async def test_the_city_berita_acara_reads_in_indonesian_whatever_the_readers_language(city: City) -> None:
    """An official document, printed and signed in Indonesian (review s24: English mode mixed the two)."""
    for path in ("/rkpd/2022/forum-perangkat-daerah", "/rkpd/2022/musrenbang-kota"):
        english = await city.client.get(f"{path}?lang=en")
        indonesian = await city.client.get(f"{path}?lang=id")
        assert english.status_code == indonesian.status_code == 200, path
        assert "BERITA ACARA" in english.text and "CITY FORUM" not in english.text.upper(), path
        assert english.text.replace("lang=en", "lang=id") == indonesian.text, path
