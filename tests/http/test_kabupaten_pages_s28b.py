"""A kabupaten reads as a kabupaten, its desa as desa (review s28: Kabupaten Jembrana, 51.01, was named as a
kota with kelurahan): a database set up for Jembrana as `musrenbang setup --region 51.01` sets it up, a whole
RKPD 2022 through the services — proposals in Desa Medewi (Kecamatan Pekutatan), its Musrenbang Desa and the
kecamatan's forum, an agency's line for them and a kabupaten-wide Renja line, the Forum Perangkat Daerah and
the Musrenbang Kabupaten closed (which adopts) — then its public and staff pages through a real server. Kota
Bekasi's pages (the shared complete cycle, tests/history.py) still say kota and kelurahan."""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from musrenbang.db.connect import create_pool
from musrenbang.demo import RKPD_2022_PROGRAMS, RKPD_2022_THEME
from musrenbang.domain import city_forums as cf
from musrenbang.domain import forum as f
from musrenbang.domain import proposal as rules
from musrenbang.domain import rkpd as r
from musrenbang.domain.cycle import StartCycle
from musrenbang.eventlog.store import EventStore, Metadata
from musrenbang.projections import all_projections
from musrenbang.projections.runner import ProjectionRunner
from musrenbang.reference import city_settings
from musrenbang.services import accounts, cycles
from musrenbang.services.bootstrap import prepare
from musrenbang.services.forums import ForumService, new_forum_id
from musrenbang.services.proposals import ProposalService
from musrenbang.services.rkpd import RkpdService
from tests.conftest import _throwaway_database
from tests.cycles import FORUM_DAY, open_calendar
from tests.http.test_staff import PASSWORD
from tests.rkpd_site import text
from tests.server import Server, serving

pytestmark = pytest.mark.slow

JEMBRANA, PEKUTATAN, MEDEWI, DESA_PEKUTATAN = "51.01", "51.01.03", "51.01.03.2001", "51.01.03.2004"
YEAR = 2022
META = Metadata(actor="bappeda", role="admin")
TAG = uuid.uuid4().hex[:6]
HISTORY_YEAR = 2022  # tests/history.py's adopted year, in Kota Bekasi
ADMIN, FACILITATOR = f"admin-{TAG}", f"fasilitator-{TAG}"


@dataclasses.dataclass
class Kabupaten:
    server: Server
    codes: list[str]


async def _build(url: str) -> list[str]:
    pool = await create_pool(url, min_size=1, max_size=5)
    try:
        store = EventStore(pool)
        async with pool.acquire() as conn:
            await prepare(conn, store, city_settings(JEMBRANA))
        cycles.use_timezone("WIB")  # prepare took Jembrana's (WITA) for this process: the other tests' is Bekasi's
        async with pool.acquire() as conn:
            await accounts.add_user(conn, ADMIN, PASSWORD, "admin", None, None)
            await accounts.add_user(conn, FACILITATOR, PASSWORD, "facilitator", DESA_PEKUTATAN, None)
        await cycles.open_cycle(store, StartCycle(year=YEAR, region=JEMBRANA, theme=RKPD_2022_THEME,
                                                  priority_programs=RKPD_2022_PROGRAMS,
                                                  calendar=open_calendar(year=YEAR)), META)  # fmt: skip
        runner = ProjectionRunner(pool, all_projections())
        await runner.catch_up_all()
        proposals = ProposalService(pool, store, b"j" * 32, runner)
        codes = []
        for n, title in enumerate(("Perbaikan jalan desa Medewi", "Senderan saluran subak")):
            content = await proposals.validate(rules.ProposalInput(
                kelurahan=MEDEWI, rw=str(n + 1), rt="1", kind="fisik", bidang="infrastruktur", title=title,
                problem="Jalan rusak dan tergenang setiap hujan", solution="Perbaikan dengan beton",
                beneficiaries="80", volume="100", unit="meter", estimated_cost="10 juta", address="Banjar Medewi",
            ), year=YEAR)  # fmt: skip
            submitted = await proposals.submit(content, rules.Proposer(name="Warga Medewi", phone="+6281234567"),
                                               idempotency_key=f"jembrana-{n}", request_fingerprint=str(n),
                                               year=YEAR)  # fmt: skip
            codes.append(submitted.code)
            await proposals.verify(rules.VerifyProposal(code=submitted.code, decision="accept"), META)
        await runner.catch_up_all()
        forums = ForumService(pool, store, runner)
        desa = new_forum_id()
        await forums.schedule(f.ScheduleForum(
            forum_id=desa, level="kelurahan", region=MEDEWI, year=YEAR, title="Musyawarah Medewi",
            held_on=FORUM_DAY, place="Balai desa", chair="Perbekel", ceiling=45_000_000, rule="greedy",
            ballot_kind="approval"), META)  # fmt: skip
        await forums.register_delegates(desa, [f.RegisterDelegate(delegate_id="d1", name="A", gender="P")], META)
        await forums.open(desa, META)
        await forums.cast_ballot(desa, f.CastBallot(delegate_id="d1", approvals=tuple(codes)), META)
        await forums.close(desa, META, no_mandate_confirmed=True)
        await runner.catch_up_all()
        kecamatan = new_forum_id()
        await forums.schedule(f.ScheduleForum(
            forum_id=kecamatan, level="kecamatan", region=PEKUTATAN, year=YEAR, title="Musyawarah Pekutatan",
            held_on=FORUM_DAY, place="Kantor camat", chair="Camat", ceiling=150_000_000), META)  # fmt: skip
        await runner.catch_up_all()
        await forums.open(kecamatan, META)
        forum, _ = await forums.load(kecamatan)
        marks = {a.item_id: {c.key: 4 for c in f.DEFAULT_CRITERIA} for a in forum.agenda}
        await forums.give_scores(kecamatan, f.GiveScores(sheet="konsensus", marks=marks), META)
        await forums.close(kecamatan, META, no_mandate_confirmed=True)
        await runner.catch_up_all()

        rkpd = RkpdService(pool, store, runner)
        await rkpd.receive(YEAR, META)
        road = r.LineInput(agency="DPUPR", origins=tuple(codes), priority_program=1,
                           sub_kegiatan_code="1.03.10.2.01.0017", program="Program Penyelenggaraan Jalan",
                           kegiatan="Penyelenggaraan Jalan Kabupaten/Kota", sub_kegiatan="Rehabilitasi Jalan Desa",
                           funding_source="apbd_kota", volume="200", unit="m", pagu=20_000_000,
                           output_indicator="Panjang jalan yang direhabilitasi", target="200",
                           target_unit="m")  # fmt: skip
        await rkpd.execute(YEAR, r.SetLine(line=road, priority_programs=6), META)
        renja = r.LineInput(agency="DPUPR", origins=(), priority_program=1, renja_reason="Renja DPUPR 2022",
                            sub_kegiatan_code="1.03.10.2.01.0018", program="Program Penyelenggaraan Jalan",
                            kegiatan="Penyelenggaraan Jalan Kabupaten/Kota", sub_kegiatan="Survei Kondisi Jalan",
                            funding_source="apbd_kota", volume="1", unit="dokumen", pagu=5_000_000,
                            output_indicator="Dokumen survei", target="1", target_unit="dokumen")  # fmt: skip
        await rkpd.execute(YEAR, r.SetLine(line=renja, priority_programs=6, reason="Renja: survei jalan"), META)
        people = (cf.ParticipantInput(name="Perwakilan DPUPR", kind="agency", represents="DPUPR"),)
        for forum_name, day in ((cf.FORUM_PD, dt.date(2021, 3, 10)), (cf.MUSRENBANG_KOTA, dt.date(2021, 4, 5))):
            await rkpd.execute(YEAR, cf.ScheduleCityForum(year=YEAR, forum=forum_name, held_on=day, place="Aula",
                                                          chair="Sekda", participants=people,
                                                          agenda=("Pembahasan",)), META)  # fmt: skip
            await rkpd.execute(YEAR, cf.CloseCityForum(year=YEAR, forum=forum_name, minutes="Disepakati.",
                                                       today=cycles.today()), META)  # fmt: skip
        await cycles.open_cycle(store, StartCycle(year=YEAR + 1, region=JEMBRANA, theme=RKPD_2022_THEME,
                                                  priority_programs=RKPD_2022_PROGRAMS,
                                                  calendar=open_calendar(year=YEAR + 1)), META)  # fmt: skip
        # (RKPD 2023 open: the proposal form's year)
        await runner.catch_up_all()
        return codes
    finally:
        await pool.close()


@pytest.fixture(scope="module")
async def kabupaten(server_url: str) -> AsyncIterator[Kabupaten]:
    async with _throwaway_database(server_url, None) as url:
        codes = await _build(url)
        with serving(url, cycle=False) as server:
            yield Kabupaten(server, codes)


@pytest.fixture
async def web(kabupaten: Kabupaten) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=kabupaten.server.base_url, timeout=30) as client:
        yield client


async def bearer(client: httpx.AsyncClient, username: str) -> dict[str, str]:
    got = await client.post("/api/v1/auth/token", json={"username": username, "password": PASSWORD})
    assert got.status_code == 200, got.text
    return {"Authorization": f"Bearer {got.json()['token']}"}


async def words(client: httpx.AsyncClient, path: str, headers: dict[str, str] | None = None) -> str:
    got = await client.get(path, headers=headers or {})
    assert got.status_code == 200, (path, got.status_code)
    return text(got.text)


async def test_the_kabupaten_level_forum_is_the_musrenbang_kabupaten_on_every_page(
    web: httpx.AsyncClient, kabupaten: Kabupaten
) -> None:
    admin = await bearer(web, ADMIN)
    code = kabupaten.codes[0]
    pages = {
        "/petugas/siklus": await words(web, "/petugas/siklus", admin),
        "/petugas/rkpd": await words(web, f"/petugas/rkpd/{YEAR}", admin),
        "/petugas": await words(web, "/petugas", admin),
        "/audit": await words(web, "/audit", admin),
        "ba": await words(web, f"/rkpd/{YEAR}/musrenbang-kota"),
        "/rkpd": await words(web, f"/rkpd/{YEAR}"),
        "/musyawarah": await words(web, f"/musyawarah?tahun={YEAR}"),
        "/telusur": await words(web, f"/telusur/usulan/{code}"),
        "/sumber": await words(web, f"/rkpd/{YEAR}/sumber"),
    }
    for path, said in pages.items():
        assert "Musrenbang Kota" not in said and "MUSRENBANG KOTA" not in said, path
    assert "Musrenbang Kabupaten" in pages["/petugas/siklus"]  # the stage of the calendar
    assert "misalnya 51.01.01 = 7500000000" in pages["/petugas/siklus"]  # its own kecamatan, not 32.75.01
    staff = pages["/petugas/rkpd"]
    assert f"Musrenbang Kabupaten {YEAR}" in staff and f"Musrenbang Kabupaten: RKPD {YEAR}" in staff
    assert "2. Musrenbang Kabupaten" in staff
    assert "Tingkat kabupaten" in pages["/petugas"] and "Tingkat kota" not in pages["/petugas"]
    assert "Forum tingkat kabupaten yang sudah ditutup" in pages["/audit"]
    assert f"Musrenbang Kabupaten {YEAR}" in pages["/audit"]
    assert f"BERITA ACARA MUSRENBANG KABUPATEN RKPD {YEAR} KABUPATEN JEMBRANA" in pages["ba"]
    assert "Musrenbang Kabupaten Jembrana" in pages["ba"]  # its body, as before
    assert "Musrenbang Kabupaten (5 April 2021" in pages["/rkpd"]  # the Berita Acara's link
    assert "Musrenbang Kabupaten" in pages["/musyawarah"] and "Tingkat kabupaten" in pages["/musyawarah"]
    lineage = pages["/telusur"]
    assert "Ditetapkan di Musrenbang Kabupaten (revisi 1)" in lineage
    assert "diteruskan ke tingkat kabupaten" in lineage and "tingkat kota" not in lineage
    assert "Disepakati di Musrenbang Kabupaten" in lineage
    assert "Seluruh kabupaten" in pages["/sumber"] and "Seluruh kota" not in pages["/sumber"]
    english = await words(web, f"/rkpd/{YEAR}?lang=en")
    assert "Musrenbang Kota" not in english and "City forum" not in english


async def test_a_desa_forum_is_a_musrenbang_desa_where_residents_and_staff_follow_it(
    web: httpx.AsyncClient, kabupaten: Kabupaten
) -> None:
    code = kabupaten.codes[0]
    track = await words(web, f"/lacak/{code}")
    assert "Dibahas di Musrenbang Desa pada 20 Januari 2021" in track and "Musrenbang Kelurahan" not in track
    assert "Umpan Atom desa ini" in track
    feed = (await web.get(f"/kelurahan/{MEDEWI}.atom")).text
    assert "Dibahas di Musrenbang Desa, peringkat" in feed and "Musrenbang Kelurahan" not in feed
    admin = await bearer(web, ADMIN)
    for path in ("/petugas", "/audit"):
        said = await words(web, path, admin)
        assert "Musrenbang Desa Medewi" in said and "Musrenbang Kelurahan" not in said, path
    facilitator = await words(web, "/petugas", await bearer(web, FACILITATOR))
    assert f"wilayah Desa Pekutatan ({DESA_PEKUTATAN})" in facilitator
    english = await words(web, f"/lacak/{code}?lang=en")
    assert "Kelurahan forum" not in english and "Desa forum" in english


async def test_the_proposal_form_names_the_kelurahan_and_desa_it_lists(web: httpx.AsyncClient) -> None:
    form = (await web.get(f"/usulan/baru?tahun={YEAR + 1}")).text
    assert '<label for="kelurahan">Kelurahan/Desa</label>' in form
    assert "— pilih kelurahan/desa —" in form and 'data-searchable="Cari kelurahan/desa…"' in form
    assert "petugas kelurahan atau desa" in form and "dipakai petugas kelurahan untuk" not in form
    assert '<option value="51.01.03.2001">Medewi</option>' in form  # a desa, listed as before


async def test_the_rkpd_names_the_kabupaten_and_its_own_budget(web: httpx.AsyncClient) -> None:
    rkpd = (await web.get(f"/rkpd/{YEAR}")).text
    survey = rkpd[rkpd.index("Survei Kondisi Jalan"):]
    survey = survey[:survey.index("</tr>")]
    assert "Seluruh kabupaten" in text(survey) and "Kec." not in survey  # the Renja line with no place
    assert "APBD Kabupaten" in text(rkpd) and "APBD Kabupaten/Kota" not in rkpd
    home = await words(web, "/")
    assert "kecamatan dan kabupaten, lalu" in home and "kabupaten/kota" not in home


# --- Kota Bekasi reads as before -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def bekasi_accounts(city_database: str) -> Iterator[dict[str, str]]:
    from tests.http.test_staff import add_user

    names = {"admin": f"bekasi-admin-{TAG}", "facilitator": f"bekasi-fasilitator-{TAG}"}
    add_user(city_database, names["admin"], "admin")
    add_user(city_database, names["facilitator"], "facilitator", "--region", "32.75.01")
    yield names


async def test_kota_bekasi_still_says_musrenbang_kota_and_kelurahan(
    city_server: Server, city_database: str, bekasi_accounts: dict[str, str]
) -> None:
    pool = await create_pool(city_database, min_size=1, max_size=1)
    try:
        code = await pool.fetchval("SELECT code FROM proposal_timeline WHERE kind = 'proposal.decided_at_forum'"
                                   " AND details->>'level' = 'kelurahan' AND (details->>'selected')::boolean"
                                   " ORDER BY seq LIMIT 1")  # fmt: skip
    finally:
        await pool.close()
    async with httpx.AsyncClient(base_url=city_server.base_url, timeout=30) as client:
        admin = await bearer(client, bekasi_accounts["admin"])
        staff = await words(client, f"/petugas/rkpd/{HISTORY_YEAR}", admin)
        assert f"Musrenbang Kota: RKPD {HISTORY_YEAR}" in staff and "2. Musrenbang Kota" in staff
        assert "Musrenbang Kabupaten" not in staff
        home = await words(client, "/petugas", admin)
        assert "Tingkat kota" in home and "Musrenbang Kelurahan" in home and "Musrenbang Desa" not in home
        facilitator = await words(client, "/petugas", await bearer(client, bekasi_accounts["facilitator"]))
        assert "wilayah Kecamatan Bekasi Timur (32.75.01)" in facilitator
        ba = await words(client, f"/rkpd/{HISTORY_YEAR}/musrenbang-kota")
        assert f"BERITA ACARA MUSRENBANG KOTA RKPD {HISTORY_YEAR} KOTA BEKASI" in ba
        rkpd = await words(client, f"/rkpd/{HISTORY_YEAR}")
        assert "Musrenbang Kota" in rkpd and "APBD Kota" in rkpd
        assert "Musrenbang Kabupaten" not in rkpd and "APBD Kabupaten" not in rkpd
        sources = await words(client, f"/rkpd/{HISTORY_YEAR}/sumber")
        assert "Seluruh kabupaten" not in sources
        track = await words(client, f"/lacak/{code}")
        assert "Dibahas di Musrenbang Kelurahan pada" in track and "Musrenbang Desa" not in track
        lineage = await words(client, f"/telusur/usulan/{code}")
        assert "diteruskan ke tingkat kecamatan" in lineage and "tingkat kabupaten" not in lineage
        assert "Musrenbang Kabupaten" not in lineage
        form = (await client.get("/usulan/baru")).text
        assert '<label for="kelurahan">Kelurahan</label>' in form and "— pilih kelurahan —" in form
        assert "dipakai petugas kelurahan untuk" in form and "data-searchable>" in form
        said = await words(client, "/")
        assert "kecamatan dan kota, lalu" in said and "kabupaten/kota" not in said
