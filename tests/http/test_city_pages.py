"""The Forum Perangkat Daerah and Musrenbang Kota pages, through a real server on a database of their own
(tests/http/city_setup.py): Bappeda takes up the kecamatan results, agencies make lines from proposals,
pass and decline them, and Bappeda adopts the RKPD. The tests run in order on one history."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import AsyncIterator
from typing import Any

import pytest

from musrenbang.domain import cycle
from musrenbang.domain.events import StageWindow
from musrenbang.eventlog.store import EventStore, Metadata
from musrenbang.projections import cycles as cycle_views
from musrenbang.services import cycles as cycle_service
from tests.http.city_setup import PROPOSALS, City, city_site
from tests.http.conftest import event_count
from tests.http.test_pages import hidden
from tests.waiting import eventually

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
async def city(server_url: str, template_name: str) -> AsyncIterator[City]:
    accounts = {
        "admin": ("admin",), "auditor": ("auditor",), "facilitator": ("facilitator", "--region", "32.75.01"),
        "dbmsda": ("opd", "--opd", "DBMSDA"), "dinkes": ("opd", "--opd", "DINKES"),
    }  # fmt: skip
    async with city_site(server_url, template_name, accounts) as c:
        yield c


def line_form(page: str, codes: list[str], **changes: str) -> dict[str, Any]:
    body: dict[str, Any] = {
        "_csrf_token": hidden(page, "_csrf_token"),
        "idempotency_key": hidden(page, "idempotency_key") if 'name="idempotency_key"' in page else "",
        "opd": hidden(page, "opd"),
        "origins": codes,
        "program": "Program Pengelolaan Sumber Daya Air",
        "kegiatan": "Pengelolaan dan Pengembangan Sistem Drainase",
        "sub_kegiatan": "Rehabilitasi Saluran Drainase Lingkungan",
        "sub_kegiatan_code": "1.03.03.2.01.0005",
        "nomenclature": "Kepmendagri 050-5889/2021",
        "priority_program": "3",
        "funding_source": "apbd_kota",
        "volume": "200",
        "unit": "meter",
        "pagu": "Rp 18.000.000",
        "output_indicator": "Panjang saluran yang direhabilitasi",
        "target": "200",
        "target_unit": "meter",
        "reason": "",
    }
    body.update(changes)
    return body


async def test_bappeda_takes_up_the_kecamatan_results(city: City) -> None:
    admin = await city.as_("admin")
    home = await admin.get("/petugas")
    assert 'href="/petugas/rkpd"' in home.text and 'href="/petugas/perangkat-daerah"' in home.text
    r = await admin.get("/petugas/rkpd")
    assert r.status_code == 303 and r.headers["location"] == "/petugas/rkpd/2022"
    review = await admin.get("/petugas/rkpd/2022")
    assert review.status_code == 200
    assert re.search(r'id="waiting">6<', review.text)
    r = await admin.post("/petugas/rkpd/2022/terima", data={"_csrf_token": hidden(review.text, "_csrf_token")})
    assert r.status_code == 303
    review = await admin.get(r.headers["location"])
    assert re.search(r'id="waiting">0<', review.text) and "Hasil Musrenbang Kecamatan diterima" in review.text
    assert "Dinas Bina Marga dan Sumber Daya Air" in review.text and "Dinas Kesehatan" in review.text
    assert await city.pool.fetchval("SELECT count(*) FROM rkpd_items") == 6


async def test_who_may_open_the_city_pages(city: City) -> None:
    facilitator = await city.as_("facilitator")
    assert (await facilitator.get("/petugas/perangkat-daerah")).status_code == 403
    assert (await facilitator.get("/petugas/rkpd/2022")).status_code == 403
    auditor = await city.as_("auditor")
    assert (await auditor.get("/petugas/perangkat-daerah")).status_code == 403
    read_only = await auditor.get("/petugas/rkpd/2022")
    assert read_only.status_code == 200 and "/tetapkan" not in read_only.text and "/terima" not in read_only.text
    dinkes = await city.as_("dinkes")
    assert (await dinkes.get("/petugas/perangkat-daerah?opd=DBMSDA")).status_code == 403
    home = await dinkes.get("/petugas")
    assert 'href="/petugas/perangkat-daerah"' in home.text and 'href="/petugas/rkpd"' not in home.text


async def test_an_agency_sees_only_its_own_proposals(city: City) -> None:
    dbmsda = await (await city.as_("dbmsda")).get("/petugas/perangkat-daerah")
    dinkes = await (await city.as_("dinkes")).get("/petugas/perangkat-daerah")
    assert dbmsda.status_code == dinkes.status_code == 200
    for title, bidang in PROPOSALS.items():
        mine, other = (dbmsda, dinkes) if bidang == "infrastruktur" else (dinkes, dbmsda)
        assert title in mine.text and title not in other.text
        assert f'href="/lacak/{city.codes[title]}"' in mine.text
    assert "Rp 10.000.000" in dbmsda.text  # the cost the forum agreed


async def test_an_agency_makes_a_line_from_two_proposals(city: City) -> None:
    client = await city.as_("dbmsda")
    page = await client.get("/petugas/perangkat-daerah")
    two = [city.codes["Perbaikan saluran RW 01"], city.codes["Perbaikan saluran RW 02"]]
    wrong = await client.post("/petugas/perangkat-daerah/baris", data=line_form(page.text, two, volume="12.5"))
    assert wrong.status_code == 422 and 'id="volume-error"' in wrong.text and "tulis 12,5" in wrong.text
    # As an operator writes them: a dot groups thousands, a comma is the decimal mark.
    r = await client.post("/petugas/perangkat-daerah/baris", data=line_form(page.text, two, volume="1.500",
                                                                              target="2,5"))  # fmt: skip
    assert r.status_code == 303, r.text
    stored = await city.pool.fetchrow("SELECT line->>'volume' AS volume, line->>'target' AS target FROM rkpd_lines"
                                      " WHERE line_id = 'DBMSDA-001'")  # fmt: skip
    assert (stored["volume"], stored["target"]) == ("1500", "2.5")  # "1.500" was 1.5
    after = await client.get(r.headers["location"])
    assert "Baris DBMSDA-001 dibuat" in after.text
    prefilled = (await client.get("/petugas/perangkat-daerah/baris/DBMSDA-001")).text
    assert 'value="1.500"' in prefilled and 'value="2,5"' in prefilled  # what the form reads back the same
    assert 'id="l-DBMSDA-001"' in after.text and "Rp 18.000.000" in after.text
    for code in two:
        track = await client.get(f"/lacak/{code}")
        assert "Masuk RKPD" in track.text
    statuses = dict(await city.pool.fetch("SELECT code, status FROM proposals WHERE code = ANY($1::text[])", two))
    assert set(statuses.values()) == {"masuk_rkpd"}


async def test_a_wrong_code_and_pagu_are_shown_next_to_their_fields(city: City) -> None:
    client = await city.as_("dbmsda")
    page = await client.get("/petugas/perangkat-daerah")
    before = await event_count(city.pool)
    body = line_form(page.text, [city.codes["Jalan lingkungan RW 03"]], sub_kegiatan_code="1.3.10", pagu="banyak")
    r = await client.post("/petugas/perangkat-daerah/baris", data=body)
    assert r.status_code == 422
    assert 'id="sub_kegiatan_code-error"' in r.text and "U.BB.PP.K.KK.SSSS" in r.text
    assert 'id="pagu-error"' in r.text and "tulis biaya dalam rupiah" in r.text
    assert 'value="banyak"' in r.text and 'value="Program Pengelolaan Sumber Daya Air"' in r.text  # input kept
    assert re.search(rf'value="{city.codes["Jalan lingkungan RW 03"]}" checked', r.text)
    # another agency's urusan is refused as well
    r = await client.post("/petugas/perangkat-daerah/baris", data={**body, "sub_kegiatan_code": "1.02.02.2.01.0001",
                                                                    "pagu": "25 juta"})  # fmt: skip
    assert r.status_code == 422 and "urusan 1.02 bukan urusan perangkat daerah ini" in r.text
    assert await event_count(city.pool) == before


async def test_an_agency_passes_a_proposal_to_another(city: City) -> None:
    client = await city.as_("dbmsda")
    code = city.codes["Penerangan jalan RW 04"]
    page = await client.get("/petugas/perangkat-daerah")
    csrf = hidden(page.text, "_csrf_token")
    url = f"/petugas/perangkat-daerah/usulan/{code}/alihkan"
    no_reason = await client.post(url, data={"_csrf_token": csrf, "to_agency": "DISPERKIMTAN", "reason": " "})
    assert no_reason.status_code == 422 and "tulis alasannya" in no_reason.text
    r = await client.post(url, data={"_csrf_token": csrf, "to_agency": "DISPERKIMTAN",
                                     "reason": "penerangan jalan lingkungan"})  # fmt: skip
    assert r.status_code == 303
    mine = await client.get(r.headers["location"])
    assert "dialihkan" in mine.text and "Penerangan jalan RW 04" not in mine.text
    theirs = await (await city.as_("admin")).get("/petugas/perangkat-daerah?opd=DISPERKIMTAN")
    assert "Penerangan jalan RW 04" in theirs.text and "penerangan jalan lingkungan" in theirs.text
    assert await city.pool.fetchval("SELECT agency FROM rkpd_items WHERE code = $1", code) == "DISPERKIMTAN"


async def test_another_agency_and_a_facilitator_are_refused_and_nothing_is_written(city: City) -> None:
    before = await event_count(city.pool)
    code = city.codes["Turap kali RW 05"]
    dinkes = await city.as_("dinkes")
    csrf = hidden((await dinkes.get("/petugas/perangkat-daerah")).text, "_csrf_token")
    for url in (f"/petugas/perangkat-daerah/usulan/{code}/tolak", f"/petugas/perangkat-daerah/usulan/{code}/alihkan"):
        r = await dinkes.post(url, data={"_csrf_token": csrf, "reason": "bukan kami", "to_agency": "DINKES"})
        assert r.status_code == 403
    assert (await dinkes.get("/petugas/perangkat-daerah/baris/DBMSDA-001")).status_code == 403
    r = await dinkes.post("/petugas/perangkat-daerah/baris/DBMSDA-001/tarik", data={"_csrf_token": csrf,
                                                                                     "reason": "x"})  # fmt: skip
    assert r.status_code == 403
    page = await dinkes.get("/petugas/perangkat-daerah")
    r = await dinkes.post("/petugas/perangkat-daerah/baris", data=line_form(page.text, [code], opd="DBMSDA"))
    assert r.status_code == 403
    facilitator = await city.as_("facilitator")
    fcsrf = hidden((await facilitator.get("/petugas")).text, "_csrf_token")
    r = await facilitator.post(f"/petugas/perangkat-daerah/usulan/{code}/tolak", data={"_csrf_token": fcsrf,
                                                                                        "reason": "x"})  # fmt: skip
    assert r.status_code == 403
    r = await facilitator.post("/petugas/rkpd/2022/tetapkan", data={"_csrf_token": fcsrf})
    assert r.status_code == 403
    assert await event_count(city.pool) == before


async def test_opening_next_year_early_leaves_the_agencies_on_the_year_whose_forum_runs(city: City) -> None:
    """RKPD 2023 opened with its proposals begun while 2022's Forum Perangkat Daerah still runs: residents'
    pages go to 2023 (planned_first), the agencies' pages stay on 2022 (working_first) and offer 2023, and
    every form posts to the year it showed. The tests after this one still work on 2022 by default."""
    today = cycle_service.today()
    days = {"usulan": (-7, 30), "kelurahan": (31, 45), "kecamatan": (46, 59), "perangkat_daerah": (60, 90),
            "kota": (91, 120), "ditetapkan": (121, 180)}  # fmt: skip
    calendar = tuple(StageWindow(stage=s, opens=today + dt.timedelta(days=a), closes=today + dt.timedelta(days=b))
                     for s, (a, b) in days.items())  # fmt: skip
    command = cycle.StartCycle(year=2023, region="32.75", theme="Tema 2023", priority_programs=("Program A",),
                               calendar=calendar)  # fmt: skip
    await cycle_service.open_cycle(EventStore(city.pool), command, Metadata(actor="admin", role="admin"))
    await eventually(lambda: city.pool.fetchval("SELECT 1 FROM cycles WHERE year = 2023"), "2023 projected")
    async with city.pool.acquire() as conn:
        assert (await cycle_views.current_cycle(conn, today))["year"] == 2023  # the residents' default moved

    dbmsda = await city.as_("dbmsda")
    page = await dbmsda.get("/petugas/perangkat-daerah")
    assert "Forum Perangkat Daerah 2022" in page.text
    assert '<option value="2023">2023</option>' in page.text  # offered, not chosen
    assert 'action="/petugas/perangkat-daerah/baris?tahun=2022"' in page.text
    later = await dbmsda.get("/petugas/perangkat-daerah?tahun=2023")
    assert "Forum Perangkat Daerah 2023" in later.text and '<option value="2023" selected>' in later.text
    for wrong in ("1999", "dua", "²⁰²²"):
        assert (await dbmsda.get(f"/petugas/perangkat-daerah?tahun={wrong}")).status_code == 404
    admin = await city.as_("admin")
    r = await admin.get("/petugas/rkpd")
    assert r.headers["location"] == "/petugas/rkpd/2022"  # the year whose Musrenbang Kota window runs


async def test_adoption_waits_until_every_proposal_is_decided(city: City) -> None:
    admin = await city.as_("admin")
    review = await admin.get("/petugas/rkpd/2022")
    csrf = hidden(review.text, "_csrf_token")
    before = await event_count(city.pool)
    refused = await admin.post("/petugas/rkpd/2022/tetapkan", data={"_csrf_token": csrf, "note": "sidang pleno"})
    assert refused.status_code == 409
    assert "masih ada 4 usulan yang belum diputuskan perangkat daerah" in refused.text
    assert "sidang pleno" in refused.text  # the note is kept
    assert await event_count(city.pool) == before
    # The agencies decide the rest: one more line (over the kecamatan's ceiling), and declines.
    dbmsda = await city.as_("dbmsda")
    page = await dbmsda.get("/petugas/perangkat-daerah")
    body = line_form(page.text, [city.codes["Jalan lingkungan RW 03"]], pagu="95 juta",
                     sub_kegiatan_code="1.03.10.2.01.0017", program="Program Penyelenggaraan Jalan")  # fmt: skip
    assert (await dbmsda.post("/petugas/perangkat-daerah/baris", data=body)).status_code == 303
    for title in ("Turap kali RW 05", "Penerangan jalan RW 04", "Posyandu RW 06"):
        r = await admin.post(f"/petugas/perangkat-daerah/usulan/{city.codes[title]}/tolak",
                             data={"_csrf_token": csrf, "reason": "sudah dianggarkan tahun berjalan"})  # fmt: skip
        assert r.status_code == 303, r.text
    review = await admin.get("/petugas/rkpd/2022")
    assert '<tr class="over">' in review.text and "melebihi pagu" in review.text  # 113 juta against 100 juta
    asked = await admin.post("/petugas/rkpd/2022/tetapkan", data={"_csrf_token": csrf, "note": "sidang pleno"})
    assert asked.status_code == 422 and "Bekasi Timur: lebih Rp 13.000.000" in asked.text  # over: ticked only (s27)
    r = await admin.post("/petugas/rkpd/2022/tetapkan", data={"_csrf_token": csrf, "note": "sidang pleno",
                                                              "confirm_over_pagu": "1"})  # fmt: skip
    assert r.status_code == 303
    adopted = await admin.get(r.headers["location"])
    head = await city.pool.fetchval("SELECT encode(hash, 'hex') FROM rkpd_adoptions WHERE year = 2022")
    assert f'href="/periksa/{head}"' in adopted.text and 'href="/rkpd/2022"' in adopted.text
    assert "/tetapkan" not in adopted.text  # nothing changed since: nothing to adopt again
    # After adoption a change needs a reason, and shows until the RKPD is adopted again.
    # RKPD 2022 adopted, 2023 is the agencies' default now (the test before opened it): 2022 by its year.
    assert (await dbmsda.get("/petugas/perangkat-daerah/baris/DBMSDA-001")).status_code == 404
    line = await dbmsda.get("/petugas/perangkat-daerah/baris/DBMSDA-001?tahun=2022")
    assert 'value="18000000"' in line.text  # prefilled
    changed = line_form(line.text, [city.codes["Perbaikan saluran RW 01"], city.codes["Perbaikan saluran RW 02"]],
                        pagu="17 juta")  # fmt: skip
    r = await dbmsda.post("/petugas/perangkat-daerah/baris/DBMSDA-001?tahun=2022", data=changed)
    assert r.status_code == 422 and 'id="reason-error"' in r.text and 'value="17 juta"' in r.text
    changed["reason"] = "harga satuan turun"
    r = await dbmsda.post("/petugas/perangkat-daerah/baris/DBMSDA-001?tahun=2022", data=changed)
    assert r.status_code == 303
    review = await admin.get("/petugas/rkpd/2022")
    assert "berubah sejak penetapan" in review.text and "Tetapkan lagi" in review.text
