"""One complete, small planning cycle built through the services, as people would, touching every kind of
event (the cycle moves to its kelurahan stage once):

- kelurahan A (`KELURAHAN_A`): proposals a0..a4 (a0 with a photo, returned and revised, a4 merged into
  a0, a2 rejected, a1 accepted with a lower cost); its forum corrects a delegate (d2) and withdraws one
  registered by mistake (d3), votes by approval ballots (one replaced), adjusts a0's cost and mandates a
  delegate;
- kelurahan B (`KELURAHAN_B`): b0 and b1 (the expensive one), scored by consensus;
- the kecamatan forum scores all five it received; b1 does not fit its ceiling (`over_ceiling`);
- the city: a line for a0 is set and withdrawn, line DBMSDA-002 takes a0, a1 and b0; a3 is passed to
  DISPERKIMTAN, which declines it; the RKPD is adopted, DBMSDA-002's pagu revised, and adopted again
  (revision 2, Rp 50 juta) and enacted by `REGULATION`; the Forum Perangkat Daerah and the Musrenbang Kota
  are then recorded as forums and closed (nothing more to adopt); DBMSDA-002 is budgeted in the APBD
  (Rp 48 juta, with the reason) and under way (40%);
- kelurahan Bintara's Musrenbang (`KELURAHAN_CALLED_OFF`, Kecamatan Bekasi Barat), scheduled and never held,
  is cancelled once the RKPD is adopted;
- a DPRD member's pokir (kelurahan `KELURAHAN_POKIR`), returned once by the secretariat, revised and
  forwarded; taken up at the Forum Perangkat Daerah with the forums' proposals, and declined by DBMSDA;
- RKPD 2023 opens (its submissions extended) and RKPD 2090, opened by mistake, is cancelled;
- finally the log is sealed (seal 1 covers everything before it).

`build` returns the codes in the order a0..a4, b0, b1. Proposers' names and phones (personal data) are in
`PROPOSERS` (a0 and a1 come from the same person, `PROPOSER`, who typed the number differently)."""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import AsyncIterator

import asyncpg
import msgspec

from musrenbang.domain import city_forums as cf
from musrenbang.domain import forum as f
from musrenbang.domain import proposal as rules
from musrenbang.domain import rkpd as r
from musrenbang.domain.access import Actor
from musrenbang.domain.cycle import ChangeWindow, StartCycle, default_calendar_for
from musrenbang.domain.realisation import RecordMilestone
from musrenbang.eventlog import seal
from musrenbang.eventlog.store import EventStore, Metadata
from musrenbang.photos import process
from musrenbang.projections import all_projections
from musrenbang.projections.runner import ProjectionRunner
from musrenbang.services import cycles
from musrenbang.services.accounts import add_user
from musrenbang.services.forums import ForumService, new_forum_id
from musrenbang.services.pokir import PokirService, Reses
from musrenbang.services.proposals import ProposalService
from musrenbang.services.realisation import RealisationService
from musrenbang.services.rkpd import RkpdService
from tests.cycles import FORUM_DAY, open_test_cycle
from tests.images import jpeg_with_gps

META = Metadata(actor="uji", role="admin")
KELURAHAN_A, KELURAHAN_B, KECAMATAN = "32.75.01.1001", "32.75.01.1002", "32.75.01"
KELURAHAN_CALLED_OFF = "32.75.02.1001"  # Bintara, Kecamatan Bekasi Barat: its forum is cancelled
YEAR = 2022
NEXT_YEAR = 2023
MISTAKEN_YEAR = 2090
"""Opened by mistake and cancelled in the history (a year no other test of a history database opens)."""
REGULATION = "Peraturan Wali Kota Bekasi Nomor 30 Tahun 2021"
"""The regulation that sets the history's RKPD 2022 (revision 2)."""

PROPOSER = rules.Proposer(name="Sri Wahyuningsih Lestari", phone="+6281299887766")
PROPOSERS = [  # (name, phone as typed) for a0..a4, b0, b1
    (PROPOSER.name, "0812-9988-7766"),
    (PROPOSER.name, "+62 812 9988 7766"),
    ("Bambang Tri Hartono", "0813-4455-1302"),
    ("Dewi Anggraeni Putri", "0857-1122-1403"),
    ("Joko Susilo Pranoto", "0821-9900-1504"),
    ("Rina Marlina Siregar", "0838-6677-1605"),
    ("Agus Salim Nasution", "0878-3344-1706"),
]


class History(msgspec.Struct, kw_only=True):
    codes: list[str]
    """a0..a4, b0, b1"""
    forums: dict[str, str]
    """"kelurahan_a", "kelurahan_b", "kecamatan", "called_off" -> forum id"""
    year: int = YEAR
    carried: str = ""
    """a3 (declined in 2022) proposed again for 2023"""
    pokir: str = ""
    """The DPRD member's pokir (forwarded, received, declined)"""


async def _submit(proposals: ProposalService, n: int, kelurahan: str, rw: int, cost: str = "10 juta") -> str:
    content = await proposals.validate(rules.ProposalInput(
        kelurahan=kelurahan, rw=str(rw), rt="1", kind="fisik", bidang="infrastruktur", title=f"Usulan nomor {n}",
        problem="Masalah yang cukup panjang", solution="Penyelesaian yang jelas", beneficiaries="50", volume="10",
        unit="meter", estimated_cost=cost, address="Jl. Uji",
    ), year=2022)  # fmt: skip
    name, phone = PROPOSERS[n]
    # a1's proposer wants news by e-mail (no channel is configured here: the messages wait in the outbox).
    email, notify = ("sri.lestari@contoh.id", "email") if n == 1 else (None, None)
    submitted = await proposals.submit(content, rules.validate_proposer(name, phone, email, notify),
                                       idempotency_key=f"history-{n}", request_fingerprint=str(n),
                                       photos=[process(jpeg_with_gps())] if n == 0 else [], year=2022)  # fmt: skip
    return submitted.code


async def build(pool: asyncpg.Pool, store: EventStore) -> History:
    await open_test_cycle(store)
    runner = ProjectionRunner(pool, all_projections())
    await runner.catch_up_all()
    proposals = ProposalService(pool, store, b"s" * 32, runner)
    a = [await _submit(proposals, n, KELURAHAN_A, n + 1) for n in range(5)]
    b = [await _submit(proposals, 5, KELURAHAN_B, 1), await _submit(proposals, 6, KELURAHAN_B, 2, "90 juta")]
    await proposals.verify(rules.VerifyProposal(code=a[0], decision="return", reason="lengkapi"), META)
    content = await proposals.validate(rules.ProposalInput(
        kelurahan=KELURAHAN_A, rw="1", rt="2", kind="fisik", bidang="infrastruktur", title="Usulan nomor 0 revisi",
        problem="Masalah yang cukup panjang", solution="Penyelesaian yang jelas", beneficiaries="60", volume="10",
        unit="meter", estimated_cost="10 juta", address="Jl. Uji"), year=2022)  # fmt: skip
    await proposals.revise(a[0], proposals.revision_secret(a[0]), content)
    await proposals.merge(rules.MergeProposals(into=a[0], codes=(a[4],), reason="sama"), META)
    await proposals.verify(rules.VerifyProposal(code=a[0], decision="accept"), META)
    await proposals.verify(rules.VerifyProposal(code=a[1], decision="accept_with_changes", agreed_cost=8_000_000,
                                                reason="harga"), META)  # fmt: skip
    await proposals.verify(rules.VerifyProposal(code=a[2], decision="reject", reason="bukan kewenangan"), META)
    for code in (a[3], *b):
        await proposals.verify(rules.VerifyProposal(code=code, decision="accept"), META)
    await runner.catch_up_all()

    forums = ForumService(pool, store, runner)
    # Kelurahan A: approval ballots.
    forum_a = new_forum_id()
    await forums.schedule(f.ScheduleForum(forum_id=forum_a, level="kelurahan", region=KELURAHAN_A, year=YEAR,
                                          title="Musrenbang Kelurahan Bekasijaya", held_on=FORUM_DAY,
                                          place="Aula", chair="Lurah", ceiling=30_000_000, rule="greedy",
                                          ballot_kind="approval"), META)  # fmt: skip
    delegates = [f.RegisterDelegate(delegate_id="d1", name="Ketua RW 01", gender="P"),
                 f.RegisterDelegate(delegate_id="d2", name="Ketua RW 2", gender="L"),
                 f.RegisterDelegate(delegate_id="d3", name="Ketua RW 03", gender="L")]  # fmt: skip
    await forums.register_delegates(forum_a, delegates, META)
    # The desk corrects d2 (a misspelt name, the group left out) and withdraws d3, registered by mistake.
    await forums.correct_delegate(forum_a, f.CorrectDelegate(delegate_id="d2", name="Ketua RW 02", represents="RW 02",
                                                             gender="L", reason="salah ketik"), META)  # fmt: skip
    await forums.withdraw_delegate(forum_a, f.WithdrawDelegate(delegate_id="d3", reason="bukan peserta"), META)
    await forums.open(forum_a, META)
    forum, _ = await forums.load(forum_a)
    items = [x.item_id for x in forum.agenda]
    await forums.adjust(forum_a, f.AdjustItem(item_id=a[0], reason="harga", agreed_cost=7_000_000), META)
    await forums.cast_ballot(forum_a, f.CastBallot(delegate_id="d1", approvals=tuple(items)), META)
    await forums.cast_ballot(forum_a, f.CastBallot(delegate_id="d2", approvals=(items[-1],)), META)
    await forums.cast_ballot(forum_a, f.CastBallot(delegate_id="d2", approvals=(a[0],)), META)  # replaces
    await forums.mandate(forum_a, f.MandateDelegates(delegate_ids=("d1",)), META)
    await forums.close(forum_a, META, no_mandate_confirmed=True)
    # Kelurahan B: consensus scores.
    forum_b = new_forum_id()
    await forums.schedule(f.ScheduleForum(forum_id=forum_b, level="kelurahan", region=KELURAHAN_B, year=YEAR,
                                          title="Musrenbang Kelurahan Margahayu", held_on=FORUM_DAY,
                                          place="Aula", chair="Lurah", ceiling=150_000_000), META)  # fmt: skip
    await forums.open(forum_b, META)
    marks = {code: {c.key: 4 for c in f.DEFAULT_CRITERIA} for code in b}
    await forums.give_scores(forum_b, f.GiveScores(sheet="konsensus", marks=marks), META)
    await forums.close(forum_b, META, no_mandate_confirmed=True)
    # Kecamatan: what both kelurahan forwarded; b1 (Rp 90 juta, scored lowest) does not fit.
    kecamatan = new_forum_id()
    await forums.schedule(f.ScheduleForum(forum_id=kecamatan, level="kecamatan", region=KECAMATAN, year=YEAR,
                                          title="Musrenbang Kecamatan Bekasi Timur", held_on=FORUM_DAY, place="Aula",
                                          chair="Camat", ceiling=100_000_000), META)  # fmt: skip
    await runner.catch_up_all()
    await forums.open(kecamatan, META)
    criteria, _ = await forums.load(kecamatan)
    assert {x.item_id for x in criteria.agenda} == {a[0], a[1], a[3], *b}
    marks = {x.item_id: {c.key: 3 if x.item_id == b[1] else 4 for c in f.DEFAULT_CRITERIA} for x in criteria.agenda}
    await forums.give_scores(kecamatan, f.GiveScores(sheet="konsensus", marks=marks), META)
    await forums.close(kecamatan, META, no_mandate_confirmed=True)
    called_off = new_forum_id()
    await forums.schedule(f.ScheduleForum(forum_id=called_off, level="kelurahan", region=KELURAHAN_CALLED_OFF,
                                          year=YEAR, title="Musrenbang Kelurahan Bintara", held_on=FORUM_DAY,
                                          place="Aula", chair="Lurah", ceiling=10_000_000), META)  # fmt: skip
    await runner.catch_up_all()

    pokir = await _pokir(pool, store, proposals)
    await runner.catch_up_all()
    rkpd = RkpdService(pool, store, runner)
    await rkpd.receive(YEAR, META)
    await rkpd.execute(YEAR, r.DeclineProposal(code=pokir, reason="sudah masuk rencana kerja DBMSDA",
                                               by_agency="DBMSDA"), META)  # fmt: skip
    line = r.LineInput(agency="DBMSDA", origins=(a[0],), priority_program=1, sub_kegiatan_code="1.03.10.2.01.0017",
                       program="Program Penyelenggaraan Jalan", kegiatan="Penyelenggaraan Jalan Kabupaten/Kota",
                       sub_kegiatan="Rehabilitasi Jalan", funding_source="apbd_kota", volume="300", unit="m",
                       pagu=9_000_000, output_indicator="Panjang jalan yang direhabilitasi", target="300",
                       target_unit="m")  # fmt: skip
    await rkpd.execute(YEAR, r.SetLine(line=line, priority_programs=6), META)
    await rkpd.execute(YEAR, r.WithdrawLine(line_id="DBMSDA-001", reason="digabung dengan usulan lain"), META)
    joined = msgspec.structs.replace(line, line_id=None, origins=(a[0], a[1], b[0]), pagu=45_000_000)
    await rkpd.execute(YEAR, r.SetLine(line=joined, priority_programs=6), META)
    await rkpd.execute(YEAR, r.PassProposal(code=a[3], to_agency="DISPERKIMTAN", reason="jalan lingkungan"), META)
    await rkpd.execute(YEAR, r.DeclineProposal(code=a[3], reason="sudah dianggarkan 2021", by_agency="DISPERKIMTAN"),
                       META)  # fmt: skip
    await rkpd.execute(YEAR, r.Adopt(year=YEAR, on=dt.date(2021, 4, 5)), META)
    revised = msgspec.structs.replace(joined, line_id="DBMSDA-002", pagu=50_000_000)
    await rkpd.execute(YEAR, r.SetLine(line=revised, priority_programs=6, reason="harga satuan naik"), META)
    await rkpd.execute(YEAR, r.Adopt(year=YEAR, note="perubahan pagu", on=dt.date(2021, 5, 20)), META)
    await rkpd.execute(YEAR, r.Enact(year=YEAR, regulation=REGULATION, enacted_on=dt.date(2021, 5, 31),
                                     today=cycles.today()), META)  # fmt: skip
    await _city_forums(rkpd)
    await forums.cancel(called_off, f.CancelForum(reason="tidak jadi diadakan"), META)
    await _after_adoption(RealisationService(pool, store))
    carried = await _next_year(store, runner, proposals, a[3])
    await seal.seal(store)  # the whole log so far, under a seal
    await runner.catch_up_all()
    return History(codes=[*a, *b], forums={"kelurahan_a": forum_a, "kelurahan_b": forum_b, "kecamatan": kecamatan,
                                           "called_off": called_off},
                   carried=carried, pokir=pokir)  # fmt: skip


MEMBER = Actor(username="dprd.uji", role="dprd", dapil="Bekasi 1")
KELURAHAN_POKIR = "32.75.01.1003"


async def _pokir(pool: asyncpg.Pool, store: EventStore, proposals: ProposalService) -> str:
    """Entered before the deadline (a week before the test calendar's Musrenbang Kota opens, 1 June 2020)."""
    async with pool.acquire() as conn:
        await add_user(conn, MEMBER.username, "kata-sandi-uji-panjang", "dprd", None, None, dapil="Bekasi 1",
                       name="Anggota DPRD Uji", faction="Fraksi Uji")  # fmt: skip
    service = PokirService(pool, store, proposals)
    raw = rules.ProposalInput(
        kelurahan=KELURAHAN_POKIR, rw="2", rt="1", kind="fisik", bidang="infrastruktur", title="Pokir saluran uji",
        problem="Saluran meluap setiap hujan", solution="Normalisasi saluran", beneficiaries="200", volume="100",
        unit="meter", estimated_cost="60 juta", address="Jl. Uji Pokir")  # fmt: skip
    reses, on = Reses(held_on=dt.date(2020, 3, 10), place="Aula RW 02"), dt.date(2020, 5, 20)
    code, _ = await service.submit(MEMBER, YEAR, raw, reses, idempotency_key="history-pokir", fingerprint="pokir",
                                   on=on)  # fmt: skip
    setwan = Actor(username="setwan.uji", role="setwan")
    await service.check(setwan, rules.ReturnPokir(code=code, reason="sebutkan RT"))
    await service.revise(MEMBER, code, msgspec.structs.replace(raw, rt="3"), reses, on=on)
    await service.check(setwan, rules.ForwardPokir(code=code))
    return code


async def _city_forums(rkpd: RkpdService) -> None:
    """The Forum Perangkat Daerah and the Musrenbang Kota recorded as forums after the list was set: both
    closed with their Berita Acara (revision 2 unchanged, so the Musrenbang Kota adopts nothing more)."""
    people = (cf.ParticipantInput(name="Perwakilan DBMSDA", kind="agency", represents="DBMSDA"),
              cf.ParticipantInput(name="Ketua RW 01", kind="kecamatan", represents="Bekasi Timur"))  # fmt: skip
    for forum, day in ((cf.FORUM_PD, dt.date(2021, 3, 10)), (cf.MUSRENBANG_KOTA, dt.date(2021, 4, 5))):
        await rkpd.execute(YEAR, cf.ScheduleCityForum(year=YEAR, forum=forum, held_on=day, place="Aula Bappeda",
                                                      chair="Sekda", participants=people, agenda=("Pembahasan",)),
                           META)  # fmt: skip
        await rkpd.execute(YEAR, cf.CloseCityForum(year=YEAR, forum=forum, minutes="Disepakati.",
                                                   today=cycles.today()), META)  # fmt: skip


async def _after_adoption(realisation: RealisationService) -> None:
    """DBMSDA-002 is budgeted in the APBD for less than its pagu, and its work gets under way."""
    line = {"year": YEAR, "line_id": "DBMSDA-002"}
    await realisation.record(RecordMilestone(**line, stage="apbd", on=dt.date(2021, 12, 20), amount=48_000_000,
                                             note="efisiensi harga satuan"), META)  # fmt: skip
    await realisation.record(RecordMilestone(**line, stage="pelaksanaan", on=dt.date(2022, 5, 2), progress=40,
                                             amount=19_000_000, note="galian saluran selesai"), META)  # fmt: skip


async def _next_year(store: EventStore, runner: ProjectionRunner, proposals: ProposalService, declined: str) -> str:
    """RKPD 2023 opens; its submissions are extended (with a reason); RKPD 2090, opened by mistake, is
    cancelled; and the proposal 2022 declined is proposed again for 2023 by its proposer."""
    await open_test_cycle(store, NEXT_YEAR)
    state = await cycles.load_cycle(store, NEXT_YEAR)
    for stage in ("kelurahan", "usulan"):  # the kelurahan forums first: the proposals close no later (s27)
        window = state.calendar[stage]
        longer = ChangeWindow(year=NEXT_YEAR, stage=stage, opens=window.opens, closes=window.closes + dt.timedelta(14),
                              reason="diperpanjang: banyak RW belum mengusulkan")  # fmt: skip
        await cycles.change_window(store, longer, META)
    # A year typed wrong, withdrawn before any of its stages opened (its calendar begins in MISTAKEN_YEAR - 1).
    await cycles.open_cycle(store, StartCycle(year=MISTAKEN_YEAR, region="32.75", theme="RKPD yang keliru",
                                              priority_programs=("Program keliru",),
                                              calendar=default_calendar_for(MISTAKEN_YEAR)), META)  # fmt: skip
    await runner.catch_up_all()
    await cycles.cancel_cycle(store, runner, MISTAKEN_YEAR, "salah ketik: maksudnya RKPD 2023", META)
    content = await proposals.validate(rules.ProposalInput(
        kelurahan=KELURAHAN_A, rw="4", rt="1", kind="fisik", bidang="infrastruktur", title="Usulan nomor 3 lagi",
        problem="Masalah yang cukup panjang, belum tertangani", solution="Penyelesaian yang jelas", beneficiaries="60",
        volume="10", unit="meter", estimated_cost="10 juta", address="Jl. Uji",
    ), year=NEXT_YEAR)  # fmt: skip
    name, phone = PROPOSERS[3]
    submitted = await proposals.submit(content, rules.validate_proposer(name, phone), idempotency_key="history-carry",
                                       request_fingerprint="carry", year=NEXT_YEAR, carried_from=declined)  # fmt: skip
    return submitted.code


@contextlib.asynccontextmanager
async def database(server_url: str, template_name: str) -> AsyncIterator[tuple[str, History]]:
    """A throwaway database holding this history (for tests that change it with a server of their own)."""
    from musrenbang.db.connect import create_pool
    from tests.conftest import _throwaway_database

    async with _throwaway_database(server_url, template_name) as url:
        pool = await create_pool(url, min_size=1, max_size=5)
        try:
            built = await build(pool, EventStore(pool))
        finally:
            await pool.close()
        yield url, built
