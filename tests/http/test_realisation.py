"""What happens to RKPD lines after adoption, through a real server on its own copy of the history
(tests/history.py: DBMSDA-002, from a0, a1 and b0 (a4 merged into a0), is budgeted Rp 48 juta and 40% done).

Each stage is recorded through the JSON API, the staff page and a CSV, and shown on the public list, the
realisation view, the lineage and the tracking pages; wrong input changes nothing; the residents who
asked to be told get one message per change, kept in the outbox (no channel is configured here)."""

from __future__ import annotations

import contextlib
import re
import uuid
from collections.abc import AsyncIterator

import asyncpg
import httpx
import pytest

from musrenbang.db.connect import create_pool
from tests import history
from tests.http.city_setup import sign_in
from tests.http.test_pages import hidden
from tests.http.test_rkpd_api import _codes
from tests.http.test_staff import PASSWORD, add_user
from tests.images import jpeg_with_gps
from tests.server import serving

BASE = "/api/v1/rkpd/2022"
LINE = "DBMSDA-002"


class City:
    def __init__(self, client: httpx.AsyncClient, pool: asyncpg.Pool, auth: dict[str, dict[str, str]],
                 codes: dict[str, str]) -> None:  # fmt: skip
        self.client, self.pool, self.auth, self.codes = client, pool, auth, codes
        self.base_url, self.users = "", {}

    async def events(self) -> int:
        return await self.pool.fetchval("SELECT count(*) FROM events")

    async def refused(self, status: int, path: str, who: str, **kwargs: object) -> httpx.Response:
        before = await self.events()
        r = await self.client.post(path, headers=self.auth[who], **kwargs)  # type: ignore[arg-type]
        assert r.status_code == status, (path, r.text)
        assert await self.events() == before
        return r


@pytest.fixture(scope="module")
async def city(server_url: str, template_name: str) -> AsyncIterator[City]:
    async with history.database(server_url, template_name) as (url, _):
        tag = uuid.uuid4().hex[:6]
        users = {"admin": ("admin",), "roads": ("opd", "--opd", "DBMSDA"), "health": ("opd", "--opd", "DINKES"),
                 "auditor": ("auditor",)}  # fmt: skip
        for key, (role, *scope) in users.items():
            add_user(url, f"{key}-{tag}", role, *scope)
        with serving(url) as server:
            pool = await create_pool(url, min_size=1, max_size=3)
            async with httpx.AsyncClient(base_url=server.base_url, timeout=30) as client:
                auth = {}
                for key in users:
                    r = await client.post("/api/v1/auth/token", json={"username": f"{key}-{tag}",
                                                                        "password": PASSWORD})  # fmt: skip
                    auth[key] = {"Authorization": f"Bearer {r.json()['token']}"}
                city = City(client, pool, auth, await _codes(pool))
                city.base_url, city.users = server.base_url, {k: f"{k}-{tag}" for k in users}
                yield city
            await pool.close()


def _item(body: dict, line_id: str = LINE) -> dict:
    return next(i for i in body["items"] if i["id"] == line_id)


async def test_the_history_shows_its_line_budgeted_and_under_way(city: City) -> None:
    item = _item((await city.client.get(BASE)).json())
    assert (item["stage"], item["budgeted"], item["progress"], item["spent"]) == ("pelaksanaan", 48_000_000, 40,
                                                                                   19_000_000)  # fmt: skip
    assert [m["stage"] for m in item["milestones"]] == ["apbd", "pelaksanaan"]
    assert item["milestones"][0]["note"] == "efisiensi harga satuan"
    page = (await city.client.get("/rkpd/2022")).text
    assert "Sedang dikerjakan" in page and 'value="40"' in page


async def test_wrong_milestones_are_refused_and_write_nothing(city: City) -> None:
    path = f"{BASE}/lines/{LINE}/milestones"
    r = await city.client.post(path, json={"stage": "dpa", "date": "2022-01-05", "amount": 1})
    assert r.status_code == 401
    await city.refused(403, path, "auditor", json={"stage": "dpa", "date": "2022-01-05", "amount": 1})
    await city.refused(403, path, "health", json={"stage": "dpa", "date": "2022-01-05", "amount": 1})
    # Back to an earlier stage, progress going down, a day in the future, a missing amount, a bad stage.
    assert "sudah lewat" in (await city.refused(409, path, "roads", json={
        "stage": "apbd", "date": "2022-06-01", "amount": 1_000})).text  # fmt: skip
    await city.refused(422, path, "roads", json={"stage": "pelaksanaan", "date": "2022-06-01", "progress": 30})
    await city.refused(422, path, "roads", json={"stage": "pelaksanaan", "date": "2099-01-01", "progress": 50})
    await city.refused(422, path, "roads", json={"stage": "pelaksanaan", "date": "2022-04-01", "progress": 50})
    await city.refused(422, path, "roads", json={"stage": "terbang", "date": "2022-06-01"})
    await city.refused(422, path, "roads", json={"stage": "batal", "date": "2022-06-01"})
    await city.refused(422, path, "roads", json={"stage": "pelaksanaan", "date": "2022-06-01", "progress": 101})
    await city.refused(404, f"{BASE}/lines/NOPE-001/milestones", "admin", json={"stage": "batal",
                       "date": "2022-06-01", "note": "x"})  # fmt: skip


async def test_a_bad_row_in_a_csv_is_named_and_nothing_of_the_file_is_recorded(city: City) -> None:
    good = "2022-07-01,tiang terpasang"
    rows = ["baris,tahap,nilai,persen,tanggal,catatan", f"{LINE},pelaksanaan,,60,{good}",
            f"{LINE},pelaksanaan,,55,2022-07-02,turun", f"{LINE},selesai,,,31/02/2022,"]  # fmt: skip
    before = await city.events()
    r = await city.client.post(f"{BASE}/milestones", content="\r\n".join(rows).encode(),
                               headers={**city.auth["roads"], "Content-Type": "text/csv"})  # fmt: skip
    assert r.status_code == 422, r.text
    errors = r.json()["errors"]
    assert set(errors) == {"3.persen", "4.tanggal"}, errors  # by the file's columns; row 2 was right, yet not recorded
    assert await city.events() == before
    assert _item((await city.client.get(BASE)).json())["progress"] == 40


async def test_a_body_declared_as_something_else_is_not_read_as_a_csv(city: City) -> None:
    """A JSON list or a form posted to the CSV endpoint was read as a file without its header row (422
    about columns): it is refused for what it is, and nothing is recorded; a spreadsheet's own type is read as one."""
    row = f"baris,tahap,nilai,persen,tanggal,catatan\r\n{LINE},pelaksanaan,,45,2022-07-03,x\r\n".encode()
    before = await city.events()
    for declared in ("application/json", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"):
        r = await city.client.post(f"{BASE}/milestones", content=row,
                                   headers={**city.auth["roads"], "Content-Type": declared})  # fmt: skip
        assert r.status_code == 415, (declared, r.text)
        assert r.json()["message"].endswith("Content-Type: text/csv"), r.text  # which header, to what
    assert await city.events() == before
    wrong_day = row.replace(b"2022-07-03", b"31/02/2022")  # read as a CSV (and its row refused): not recorded
    r = await city.client.post(f"{BASE}/milestones", content=wrong_day,
                               headers={**city.auth["roads"], "Content-Type": "application/vnd.ms-excel"})  # fmt: skip
    assert r.status_code == 422 and set(r.json()["errors"]) == {"2.tanggal"}, r.text
    assert await city.events() == before


async def test_an_agency_records_on_its_page_and_a_wrong_entry_keeps_what_was_typed(city: City) -> None:
    staff = await sign_in(city.base_url, city.users["roads"])
    async with contextlib.aclosing(staff):
        listing = await staff.get("/petugas/realisasi/2022")
        assert listing.status_code == 200 and LINE in listing.text
        assert "DINKES" not in listing.text  # only the agency's own lines
        template = await staff.get("/petugas/realisasi/2022/templat.csv")
        assert template.text.lstrip("\ufeff").startswith("baris,tahap,nilai,persen,tanggal,catatan")
        assert template.headers["content-type"] == "text/csv; charset=utf-8"
        assert f"{LINE}," in template.text
        # A file with a wrong row: the page names it, nothing is recorded.
        before = await city.events()
        bad = (f"baris,tahap,nilai,persen,tanggal,catatan\r\n{LINE},pelaksanaan,,45,2022-06-01,ok\r\n"
               f"{LINE},selesai,,,kemarin,\r\n")  # fmt: skip
        r = await staff.post("/petugas/realisasi/2022/berkas",
                             data={"_csrf_token": hidden(listing.text, "_csrf_token")},
                             files={"berkas": ("realisasi.csv", bad.encode(), "text/csv")})  # fmt: skip
        assert r.status_code == 422 and "Baris 3" in r.text and "Baris 2" not in r.text
        assert await city.events() == before
        # The line's form: a day that does not exist is refused with everything typed kept.
        form = await staff.get(f"/petugas/realisasi/2022/{LINE}")
        assert form.status_code == 200, form.text[-3000:]
        csrf = hidden(form.text, "_csrf_token")
        fields = {"_csrf_token": csrf, "stage": "pelaksanaan", "date": "2022-02-30", "progress": "55",
                  "note": "pemasangan u-ditch sisi selatan"}  # fmt: skip
        r = await staff.post(f"/petugas/realisasi/2022/{LINE}", data=fields)
        assert r.status_code == 422 and "pemasangan u-ditch sisi selatan" in r.text and 'value="55"' in r.text
        assert await city.events() == before
        # Refused with a photo (a date before the RKPD year, a photo where none belongs): none is kept.
        photos = await city.pool.fetchval("SELECT count(*) FROM photos")
        for wrong in ({"date": "2019-06-01"}, {"stage": "kontrak", "date": "2022-01-10", "amount": "1 juta"}):
            r = await staff.post(f"/petugas/realisasi/2022/{LINE}", data={**fields, **wrong},
                                 files={"foto": ("kerja.jpg", jpeg_with_gps(), "image/jpeg")})  # fmt: skip
            assert r.status_code == 422, (wrong, r.text[-2000:])
        assert await city.pool.fetchval("SELECT count(*) FROM photos") == photos
        assert await city.events() == before
        # Right, with a photo of the work.
        r = await staff.post(f"/petugas/realisasi/2022/{LINE}", data={**fields, "date": "2022-06-01"},
                             files={"foto": ("kerja.jpg", jpeg_with_gps(), "image/jpeg")})  # fmt: skip
        assert r.status_code == 303, r.text
        item = _item((await city.client.get(BASE)).json())
        assert item["progress"] == 55 and len(item["milestones"][-1]["photos"]) == 1
        assert (await staff.get("/petugas/realisasi/2022/NOPE-001")).status_code == 404
        # A year not adopted yet says so (it was a bare "halaman tidak ditemukan": review s22).
        ahead = await staff.get("/petugas/realisasi/2031")
        assert ahead.status_code == 404 and "RKPD 2031 belum ditetapkan" in ahead.text
    # Another agency's account does not see this line at all.
    health = await sign_in(city.base_url, city.users["health"])
    try:
        assert (await health.get(f"/petugas/realisasi/2022/{LINE}")).status_code == 404
        assert LINE not in (await health.get("/petugas/realisasi/2022")).text
    finally:
        await health.aclose()


async def test_each_stage_through_the_api_the_page_and_a_csv_shows_everywhere(city: City) -> None:
    c = city.codes
    roads = city.auth["roads"]
    # A photo of the work, then the progress it shows.
    upload = await city.client.post(f"{BASE}/lines/{LINE}/photos", headers=roads,
                                     files={"photo": ("kerja.jpg", jpeg_with_gps(), "image/jpeg")})  # fmt: skip
    assert upload.status_code == 201, upload.text
    photo = upload.json()["photo_id"]
    r = await city.client.post(f"{BASE}/lines/{LINE}/milestones", headers=roads, json={
        "stage": "pelaksanaan", "date": "2022-06-15", "progress": 75, "amount": 30_000_000,
        "note": "saluran sisi utara selesai", "photos": [photo]})  # fmt: skip
    assert r.status_code == 201, r.text
    # The handover, from a CSV.
    csv = f"baris,tahap,nilai,persen,tanggal,catatan\r\n{LINE},selesai,47500000,,2022-09-30,serah terima PHO\r\n"
    r = await city.client.post(f"{BASE}/milestones", content=csv.encode(),
                               headers={**roads, "Content-Type": "text/csv"})  # fmt: skip
    assert r.status_code == 201, r.text
    item = _item((await city.client.get(BASE)).json())
    assert (item["stage"], item["progress"], item["spent"]) == ("selesai", 100, 47_500_000)
    assert item["milestones"][2]["photos"] == [photo]
    assert (await city.client.get(f"/photos/{photo}")).status_code == 200
    # Finished: nothing more can be recorded.
    await city.refused(409, f"{BASE}/lines/{LINE}/milestones", "roads", json={
        "stage": "batal", "date": "2022-10-01", "note": "x"})  # fmt: skip

    lineage = (await city.client.get(f"/telusur/rkpd/2022/{LINE}")).text
    assert "serah terima PHO" in lineage and f"/photos/{photo}" in lineage
    for code in (c["a0"], c["a4"]):  # an origin, and the duplicate merged into it
        track = (await city.client.get(f"/lacak/{code}")).text
        assert "Selesai" in track and f"/photos/{photo}" in track, code
    steps = (await city.client.get(f"/api/v1/lineage/{c['b0']}")).json()["steps"]
    assert [s["kind"] for s in steps].count("rkpd.milestone_recorded") >= 4

    realisation = (await city.client.get("/rkpd/2022/realisasi")).text
    assert "Rp 47.500.000" in realisation.replace("\xa0", " ")  # spent, shared among its kecamatan
    assert (await city.client.get("/rkpd/2023/realisasi")).status_code == 404  # nothing adopted there


async def test_residents_who_asked_are_told_once_per_change(city: City) -> None:
    """a1's proposer chose e-mail: each change that matters wrote one message (none delivered here: no
    channel is configured), the RKPD's second adoption added none, and the progress reports one per step of
    25% they reached."""
    rows = await city.pool.fetch(
        "SELECT o.purpose, o.channel, o.address, o.body, o.link FROM outbox o"
        " JOIN subscriptions s ON s.id = o.subscription WHERE s.subject = $1 ORDER BY o.created_at",
        city.codes["a1"])  # fmt: skip
    purposes = [r["purpose"] for r in rows]
    assert purposes[:4] == ["submitted", "verified", "forum", "forum"]
    assert purposes.count("in_rkpd") == 1 and purposes.count("budgeted") == 1
    # Work under way: one message per step of 25% reached (session 25), not one per report.
    told = [r["body"] for r in rows if r["purpose"] == "under_way"]
    assert [re.search(r"(\d+)% dikerjakan", b)[1] for b in told] == ["40", "55", "75"], told  # type: ignore[index]
    assert {r["channel"] for r in rows} == {"email"} and {r["address"] for r in rows} == {"sri.lestari@contoh.id"}
    assert all(r["link"] == f"/lacak/{city.codes['a1']}" for r in rows)
    assert all(city.codes["a1"] in r["body"] for r in rows)
    # Nobody else chose to be told.
    assert await city.pool.fetchval("SELECT count(DISTINCT address) FROM outbox") == 1
    # The e-mail never reached the log.
    assert await city.pool.fetchval("SELECT count(*) FROM events WHERE data::text LIKE '%contoh.id%'"
                                    " OR metadata::text LIKE '%contoh.id%'") == 0  # fmt: skip


async def test_the_proposer_stops_messages_from_the_tracking_page(city: City) -> None:
    """Only the number or e-mail the proposal was made with stops its messages; the page answers the same
    either way (it must not tell whether a number made a proposal), and the proposer is told on the channel
    that was stopped."""
    code = city.codes["a1"]
    page = await city.client.get(f"/lacak/{code}")
    csrf = hidden(page.text, "_csrf_token")
    live = "SELECT count(*) FROM subscriptions WHERE address = 'sri.lestari@contoh.id' AND stopped_at IS NULL"
    answers = []
    for contact, left in (("0812-0000-0000", 1), ("Sri.Lestari@contoh.id", 0)):
        r = await city.client.post(f"/lacak/{code}/berhenti", data={"kontak": contact, "_csrf_token": csrf})
        assert r.status_code == 303 and await city.pool.fetchval(live) == left
        answers.append((r.headers["location"], (await city.client.get(r.headers["location"])).text))
    assert answers[0][0] == answers[1][0]
    assert answers[0][1].count("kabar dihentikan") == answers[1][1].count("kabar dihentikan")
    queued = await city.pool.fetch("SELECT purpose, status FROM outbox WHERE address = 'sri.lestari@contoh.id'")
    assert {r["status"] for r in queued if r["purpose"] != "stopped"} <= {"cancelled", "delivered"}
    assert [r["status"] for r in queued if r["purpose"] == "stopped"] == ["pending"]  # the last message
