"""Small faults of review s26, through the services on a real database (a fresh one per test: the RKPD 2022
cycle opened in it goes with it).

- A realisation milestone dated before the Musrenbang Kota adopted its line (a KUA-PPAS of 2026-12-01 on a
  line adopted 2026-12-05) was taken, by the API, the staff form and the CSV alike, while an enactment
  dated so was refused: refused now, naming the adoption's day.
- A pokir for a year whose cycle is not open was refused with "siklus RKPD tahun ini belum dibuka": the
  year is named, as the proposals' refusal names it.
"""

from __future__ import annotations

import datetime as dt

import asyncpg
import pytest

from musrenbang.domain import proposal as p
from musrenbang.domain import realisation as m
from musrenbang.domain import rkpd as r
from musrenbang.domain.access import Actor
from musrenbang.domain.errors import DomainError, ValidationFailed
from musrenbang.eventlog.store import EventStore, Metadata
from musrenbang.projections import all_projections
from musrenbang.projections.runner import ProjectionRunner
from musrenbang.services import cycles
from musrenbang.services.accounts import add_user
from musrenbang.services.pokir import PokirService, Reses
from musrenbang.services.proposals import ProposalService
from musrenbang.services.realisation import RealisationService, parse_csv
from musrenbang.services.rkpd import RkpdService
from tests.cycles import open_test_cycle

YEAR = 2022
META = Metadata(actor="bappeda", role="admin")
ADOPTED_ON = dt.date(2021, 4, 5)
AMENDED_ON = dt.date(2021, 6, 10)


def _renja_line(n: int) -> r.LineInput:
    return r.LineInput(agency="DBMSDA", origins=(), priority_program=1, renja_reason="pemeliharaan menurut Renstra",
                       sub_kegiatan_code="1.03.10.2.01.0017", program="Program Penyelenggaraan Jalan",
                       kegiatan="Penyelenggaraan Jalan Kabupaten/Kota", sub_kegiatan=f"Pemeliharaan jalan {n}",
                       funding_source="apbd_kota", volume="2", unit="km", pagu=10_000_000,
                       output_indicator="Panjang jalan yang dipelihara", target="2", target_unit="km",
                       locations=("32.75.01.1001",))  # fmt: skip


async def _adopted(pool: asyncpg.Pool, store: EventStore) -> tuple[RealisationService, list[str]]:
    """Two Renja lines of RKPD 2022: the first adopted on `ADOPTED_ON`, the second added after and adopted
    with the amendment of `AMENDED_ON`."""
    await open_test_cycle(store)
    rkpd = RkpdService(pool, store, ProjectionRunner(pool, all_projections()))
    await rkpd.receive(YEAR, META)  # nothing forwarded: the city level opens with the agencies' own lines
    await rkpd.execute(YEAR, r.SetLine(line=_renja_line(1), priority_programs=6, reason="Renja"), META)
    await rkpd.execute(YEAR, r.Adopt(year=YEAR, on=ADOPTED_ON), META)
    await rkpd.execute(YEAR, r.SetLine(line=_renja_line(2), priority_programs=6, reason="Renja"), META)
    await rkpd.execute(YEAR, r.Adopt(year=YEAR, note="perubahan", on=AMENDED_ON), META)
    realisation = RealisationService(pool, store)
    return realisation, sorted(await realisation.adopted_lines(YEAR))


def _kua_ppas(line_id: str, on: dt.date) -> m.RecordMilestone:
    return m.RecordMilestone(year=YEAR, line_id=line_id, stage="kua_ppas", on=on, amount=10_000_000)


async def test_a_milestone_before_its_line_was_adopted_is_refused_by_every_door(
    pool: asyncpg.Pool, store: EventStore
) -> None:
    realisation, (first, second) = await _adopted(pool, store)
    before = await pool.fetchval("SELECT count(*) FROM events")
    said = "tanggal tidak boleh sebelum RKPD ini ditetapkan di Musrenbang Kota (5 April 2021)"
    early = _kua_ppas(first, ADOPTED_ON - dt.timedelta(days=4))
    with pytest.raises(ValidationFailed) as api:  # the JSON API
        await realisation.record(early, META)
    assert api.value.errors == {"date": said}
    with pytest.raises(ValidationFailed) as form:  # the staff form checks before keeping its photos
        await realisation.check(early)
    assert form.value.errors == {"date": said}
    csv = parse_csv(f"baris,tahap,nilai,tanggal\n{first},kua_ppas,10000000,01/04/2021\n".encode())
    rows = m.read_rows(csv, YEAR, None)
    assert [row.errors for row in rows] == [{}]
    assert await realisation.problems([row.command for row in rows if row.command], [2]) == {"2.date": said}
    # The year's first adoption is the bound, for a line added by the amendment too (an amendment is often
    # recorded late, dated the day it is entered).
    with pytest.raises(ValidationFailed) as later:
        await realisation.record(_kua_ppas(second, dt.date(2021, 1, 2)), META)
    assert later.value.errors == {"date": said}
    assert await pool.fetchval("SELECT count(*) FROM events") == before
    # The adoption's own day is taken.
    await realisation.record(_kua_ppas(first, ADOPTED_ON), META)
    await realisation.record(_kua_ppas(second, AMENDED_ON - dt.timedelta(days=1)), META)
    assert await pool.fetchval("SELECT count(*) FROM events") == before + 2


async def test_a_pokir_for_a_year_not_opened_names_the_year(pool: asyncpg.Pool, store: EventStore) -> None:
    await open_test_cycle(store)  # the city; RKPD 2031 is never opened here
    async with pool.acquire() as conn:
        await add_user(conn, "dprd-s26", "kata-sandi-uji-panjang", "dprd", None, None, dapil="Bekasi 1",
                       name="Anggota DPRD Uji", faction="Fraksi Uji")  # fmt: skip
    proposals = ProposalService(pool, store, b"k" * 32, ProjectionRunner(pool, all_projections()))
    service = PokirService(pool, store, proposals)
    raw = p.ProposalInput(kelurahan="32.75.01.1001", rw="2", rt="1", kind="fisik", bidang="infrastruktur",
                          title="Saluran RW 02", problem="Saluran meluap setiap hujan", solution="Normalisasi saluran",
                          beneficiaries="200", volume="100", unit="meter", estimated_cost="50 juta",
                          address="Jl. Uji")  # fmt: skip
    member = Actor(username="dprd-s26", role="dprd", dapil="Bekasi 1")
    with pytest.raises(DomainError) as refused:
        await service.submit(member, 2031, raw, Reses(held_on=cycles.today(), place="Aula RW 02"),
                             idempotency_key="s26-pokir", fingerprint="s26")  # fmt: skip
    assert str(refused.value.message) == "siklus RKPD 2031 belum dibuka"
    assert await pool.fetchval("SELECT count(*) FROM events WHERE stream_id LIKE 'proposal-%'") == 0


async def test_other_refusals_of_a_year_not_opened_name_it_too(pool: asyncpg.Pool, store: EventStore) -> None:
    """A proposal's content checked for a year not opened ("siklus perencanaan tahun ini belum dibuka") and an
    RKPD line's priority programs ("siklus RKPD tahun ini belum dibuka") said the same thing without the year."""
    await open_test_cycle(store)
    runner = ProjectionRunner(pool, all_projections())
    proposals = ProposalService(pool, store, b"k" * 32, runner)
    raw = p.ProposalInput(kelurahan="32.75.01.1001", rw="2", rt="1", kind="fisik", bidang="infrastruktur",
                          title="Saluran RW 02", problem="Saluran meluap setiap hujan", solution="Normalisasi saluran",
                          beneficiaries="200", volume="100", unit="meter", estimated_cost="50 juta",
                          address="Jl. Uji")  # fmt: skip
    with pytest.raises(DomainError) as proposal:
        await proposals.validate(raw, year=2031)
    with pytest.raises(DomainError) as line:
        await RkpdService(pool, store, runner).priority_programs(2031)
    assert [str(proposal.value.message), str(line.value.message)] == ["siklus RKPD 2031 belum dibuka"] * 2
