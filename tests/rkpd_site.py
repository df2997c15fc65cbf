"""A server of its own with a whole RKPD 2022 history (for the public RKPD pages' HTTP and browser tests).

The history goes through the services, as in tests/projections/test_replay_all.py: proposals in two
kecamatan (one rejected, one merged into another), a kelurahan forum where one proposal does not fit the
ceiling, a kecamatan forum scored by criteria, the agencies (a proposal passed to another agency, one
declined with a reason), three RKPD lines under two priority programs, and the adoption. It is built on a
fresh database before the server starts, so nothing else in the test session touches it and the shared
`app_server` keeps its own data.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import dataclasses
import datetime as dt
import re
import uuid
from collections.abc import Iterator
from html import unescape

import asyncpg
import msgspec

from musrenbang.db.connect import create_pool
from musrenbang.domain import forum as f
from musrenbang.domain import proposal as rules
from musrenbang.domain import rkpd as r
from musrenbang.eventlog.store import EventStore, Metadata
from musrenbang.projections import all_projections
from musrenbang.projections.runner import ProjectionRunner
from musrenbang.services.forums import ForumService, new_forum_id
from musrenbang.services.proposals import ProposalService
from musrenbang.services.rkpd import RkpdService
from tests.cycles import FORUM_DAY, open_test_cycle
from tests.server import Server, serving

META = Metadata(actor="bappeda", role="admin")
YEAR = 2022
ADOPTED_ON = dt.date(YEAR - 1, 4, 5)
"""The Musrenbang Kota's day, long before the adoption is recorded (as the demo's and any late entry's)."""
PROPOSER_NAME = "Rahmat Hidayatullah Saputra"
PROPOSER_PHONE = "+6281299887766"
KELURAHAN = "32.75.01.1001"  # Bekasijaya, Kecamatan Bekasi Timur
OTHER_KELURAHAN = "32.75.02.1002"  # Kranji, Kecamatan Bekasi Barat
REJECTION = "Bukan kewenangan pemerintah kota: jalan provinsi"
DECLINE = "Sudah dianggarkan pada APBD Perubahan tahun berjalan"
RENJA_PAGU = 5_000_000


@dataclasses.dataclass
class Site:
    server: Server
    database_url: str
    codes: dict[str, str]
    """road (in the RKPD, a duplicate merged in), duplicate, drain (passed on, in the RKPD), rejected, declined,
    left_out (over the kelurahan forum's ceiling), park (in the RKPD), other, other_accepted."""
    lines: dict[str, str]


async def _submit(proposals: ProposalService, n: int, kelurahan: str = KELURAHAN, **changes: str) -> str:
    fields = dict(
        kelurahan=kelurahan, rw=str(n + 1), rt="1", kind="fisik", bidang="infrastruktur", title=f"Usulan uji {n}",
        problem="Masalah yang cukup panjang untuk diuji", solution="Penyelesaian yang jelas dan terukur",
        beneficiaries="50", volume="100", unit="meter", estimated_cost="10 juta", address="Jl. Uji Coba",
    )  # fmt: skip
    fields.update(changes)
    content = await proposals.validate(rules.ProposalInput(**fields), year=2022)
    submitted = await proposals.submit(content, rules.Proposer(name=PROPOSER_NAME, phone=PROPOSER_PHONE),
                                       idempotency_key=f"site-{n}", request_fingerprint=str(n), year=2022)  # fmt: skip
    return submitted.code


async def build_history(database_url: str) -> tuple[dict[str, str], dict[str, str]]:
    pool = await create_pool(database_url, min_size=1, max_size=5)
    try:
        store = EventStore(pool)
        await open_test_cycle(store)
        runner = ProjectionRunner(pool, all_projections())
        await runner.catch_up_all()
        proposals = ProposalService(pool, store, b"s" * 32, runner)
        names = ("road", "duplicate", "drain", "rejected", "declined", "left_out", "park")
        titles = ("Perbaikan jalan lingkungan RW 01", "Jalan rusak di RW 01", "Normalisasi saluran air",
                  "Pelebaran jalan provinsi", "Penerangan jalan umum", "Gapura kampung",
                  "Taman bermain anak")  # fmt: skip
        codes = {
            name: await _submit(proposals, n, title=t) for n, (name, t) in enumerate(zip(names, titles, strict=True))
        }
        codes["other"] = await _submit(proposals, 20, kelurahan=OTHER_KELURAHAN, title="Posyandu keliling")
        codes["other_accepted"] = await _submit(proposals, 21, kelurahan=OTHER_KELURAHAN, title="Sumur resapan")
        await proposals.merge(rules.MergeProposals(into=codes["road"], codes=(codes["duplicate"],),
                                                   reason="lokasi dan masalah sama"), META)  # fmt: skip
        for name in ("road", "drain", "declined", "left_out", "park", "other_accepted"):
            await proposals.verify(rules.VerifyProposal(code=codes[name], decision="accept"), META)
        await proposals.verify(rules.VerifyProposal(code=codes["rejected"], decision="reject", reason=REJECTION), META)
        await runner.catch_up_all()

        forums = ForumService(pool, store, runner)
        kelurahan_forum = new_forum_id()
        await forums.schedule(f.ScheduleForum(
            forum_id=kelurahan_forum, level="kelurahan", region=KELURAHAN, year=YEAR, title="Musrenbang Bekasijaya",
            held_on=FORUM_DAY, place="Aula kelurahan", chair="Lurah", ceiling=45_000_000, rule="greedy",
            ballot_kind="approval"), META)  # fmt: skip
        await forums.register_delegates(kelurahan_forum, [f.RegisterDelegate(delegate_id="d1", name="A", gender="P"),
                                                          f.RegisterDelegate(delegate_id="d2", name="B", gender="L")],
                                        META)  # fmt: skip
        await forums.open(kelurahan_forum, META)
        main = tuple(codes[n] for n in ("road", "drain", "declined", "park"))
        await forums.adjust(kelurahan_forum, f.AdjustItem(item_id=codes["road"], reason="harga satuan",
                                                          agreed_cost=9_000_000), META)  # fmt: skip
        await forums.cast_ballot(kelurahan_forum, f.CastBallot(delegate_id="d1", approvals=main), META)
        await forums.cast_ballot(kelurahan_forum, f.CastBallot(delegate_id="d2", approvals=(*main, codes["left_out"])),
                                 META)  # fmt: skip
        await forums.close(kelurahan_forum, META, no_mandate_confirmed=True)
        await runner.catch_up_all()
        kecamatan_forum = new_forum_id()
        await forums.schedule(f.ScheduleForum(
            forum_id=kecamatan_forum, level="kecamatan", region="32.75.01", year=YEAR,
            title="Musrenbang Bekasi Timur", held_on=FORUM_DAY, place="Aula kecamatan", chair="Camat",
            ceiling=150_000_000), META)  # fmt: skip
        await forums.schedule(f.ScheduleForum(
            forum_id=new_forum_id(), level="kecamatan", region="32.75.02", year=YEAR,
            title="Musrenbang Bekasi Barat", held_on=FORUM_DAY, place="Aula kecamatan", chair="Camat",
            ceiling=80_000_000), META)  # fmt: skip
        await runner.catch_up_all()
        await forums.open(kecamatan_forum, META)
        forum, _ = await forums.load(kecamatan_forum)
        marks = {a.item_id: {c.key: 4 for c in f.DEFAULT_CRITERIA} for a in forum.agenda}
        marks[codes["road"]] = {c.key: 5 for c in f.DEFAULT_CRITERIA}
        await forums.give_scores(kecamatan_forum, f.GiveScores(sheet="konsensus", marks=marks), META)
        await forums.close(kecamatan_forum, META, no_mandate_confirmed=True)
        await runner.catch_up_all()

        rkpd = RkpdService(pool, store, runner)
        await rkpd.receive(YEAR, META)
        road = r.LineInput(agency="DBMSDA", origins=(codes["road"],), priority_program=1,
                           sub_kegiatan_code="1.03.10.2.01.0017", program="Program Penyelenggaraan Jalan",
                           kegiatan="Penyelenggaraan Jalan Kabupaten/Kota", sub_kegiatan="Rehabilitasi Jalan",
                           funding_source="apbd_kota", volume="300", unit="m", pagu=9_000_000,
                           output_indicator="Panjang jalan yang direhabilitasi", target="300",
                           target_unit="m")  # fmt: skip
        await rkpd.execute(YEAR, r.SetLine(line=road, priority_programs=6), META)
        park = msgspec.structs.replace(road, origins=(codes["park"],), priority_program=4, pagu=12_500_000,
                                       sub_kegiatan="Pembangunan Taman Lingkungan", volume="1", unit="unit",
                                       output_indicator="Taman yang dibangun", target="1",
                                       target_unit="unit")  # fmt: skip
        await rkpd.execute(YEAR, r.SetLine(line=park, priority_programs=6), META)
        await rkpd.execute(YEAR, r.PassProposal(code=codes["drain"], to_agency="DISPERKIMTAN",
                                                reason="drainase lingkungan permukiman"), META)  # fmt: skip
        drain = msgspec.structs.replace(road, agency="DISPERKIMTAN", origins=(codes["drain"],),
                                        sub_kegiatan_code="1.04.02.2.01.0005", program="Program Kawasan Permukiman",
                                        kegiatan="Penataan Kawasan Permukiman", sub_kegiatan="Drainase Lingkungan",
                                        funding_source="apbd_kota", volume="2.5", unit="km", pagu=10_000_000,
                                        target="2.5", target_unit="km")  # fmt: skip
        await rkpd.execute(YEAR, r.SetLine(line=drain, priority_programs=6), META)
        await rkpd.execute(YEAR, r.DeclineProposal(code=codes["declined"], reason=DECLINE), META)
        await rkpd.execute(YEAR, r.Adopt(year=YEAR, note="Musrenbang Kota", on=ADOPTED_ON), META)
        await runner.catch_up_all()
        lines = {x["origin"]: x["line_id"] for x in await pool.fetch(
            "SELECT line_id, origins[1] AS origin FROM lineage_lines WHERE year = $1", YEAR)}  # fmt: skip
        return codes, {name: lines[codes[name]] for name in ("road", "drain", "park")}
    finally:
        await pool.close()


async def renja_line_in_bekasi_barat(url: str) -> None:
    """A line from an agency's Renja located in Kranji (Kecamatan Bekasi Barat), adopted as revision 2: the
    list then has lines in two kecamatan (for the filter tests). For a site whose server is running."""
    pool = await create_pool(url, min_size=1, max_size=2)
    try:
        runner = ProjectionRunner(pool, all_projections())
        rkpd = RkpdService(pool, EventStore(pool), runner)
        line = r.LineInput(agency="DISPERKIMTAN", origins=(), priority_program=4, renja_reason="Renja 2022",
                           sub_kegiatan_code="1.04.02.2.01.0006", program="Program Kawasan Permukiman",
                           kegiatan="Penataan Kawasan Permukiman", sub_kegiatan="Penerangan Jalan Lingkungan",
                           funding_source="apbd_kota", volume="20", unit="titik", pagu=RENJA_PAGU,
                           output_indicator="Titik lampu terpasang", target="20", target_unit="titik",
                           locations=(OTHER_KELURAHAN,))  # fmt: skip
        await rkpd.execute(YEAR, r.SetLine(line=line, priority_programs=6, reason="Renja: lampu jalan"), META)
        result = await rkpd.execute(YEAR, r.Adopt(year=YEAR, note="perubahan"), META)
        assert await runner.wait_until_applied(["rkpd", "lineage", "proposals"], result.last, 30)
    finally:
        await pool.close()


async def _create(server_url: str, template: str, name: str) -> None:
    admin = await asyncpg.connect(server_url)
    try:
        await admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    finally:
        await admin.close()


async def _drop(server_url: str, name: str) -> None:
    admin = await asyncpg.connect(server_url)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


def _run(coroutine):  # type: ignore[no-untyped-def]
    """Run on a loop of its own in another thread: the test session's loop stays untouched."""
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


@contextlib.contextmanager
def rkpd_site(server_url: str, template: str) -> Iterator[Site]:
    from tests.conftest import with_database

    name = f"mtest_rkpd_{uuid.uuid4().hex[:8]}"
    _run(_create(server_url, template, name))
    url = with_database(server_url, name)
    try:
        codes, lines = _run(build_history(url))
        with serving(url) as server:
            yield Site(server=server, database_url=url, codes=codes, lines=lines)
    finally:
        _run(_drop(server_url, name))



def text(html: str) -> str:
    """The page's words, tags removed and whitespace collapsed."""
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", html)))
