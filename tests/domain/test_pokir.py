"""Pokok-pikiran DPRD as pure rules: the member and reses a pokir records, the deadline a week before the
Musrenbang Kota, the member's own daerah pemilihan, the secretariat's check (and nobody else's), the
daerah pemilihan in the city's settings, and how the RKPD's pagu is shared by where it came from."""

from __future__ import annotations

import datetime as dt

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from musrenbang.domain import city, cycle, pokir
from musrenbang.domain import proposal as p
from musrenbang.domain import rkpd as r
from musrenbang.domain.errors import DomainError, ValidationFailed
from musrenbang.domain.events import (
    CityItem,
    Dapil,
    PokirForwarded,
    ProposalContent,
    ProposalReturned,
    ProposalRevised,
    ProposalSubmitted,
    RkpdLine,
    RkpdLineSet,
    RkpdProposalsReceived,
    StageWindow,
)
from musrenbang.recompute import Recomputer, Where
from musrenbang.reference import city_settings

BEKASI = city_settings()
CITY = city.evolve(city.City(), city.decide(city.City(), BEKASI)[0])
MEMBER = pokir.Member(username="ahmad", name="H. Ahmad", faction="Fraksi A", dapil="Bekasi 1")
TODAY = dt.date(2026, 3, 1)
CONTENT = ProposalContent(kelurahan="32.75.01.1001", rw=1, rt=1, kind="fisik", bidang="infrastruktur",
                          title="Saluran Jl. Melati", problem="Banjir setiap hujan", solution="Normalisasi saluran",
                          beneficiaries=100, volume="100", unit="meter", estimated_cost=50_000_000,
                          address="Jl. Melati")  # fmt: skip


def _cycle(kota_opens: dt.date | None, adopted: bool = False) -> cycle.Cycle:
    calendar = {} if kota_opens is None else {"kota": StageWindow(stage="kota", opens=kota_opens,
                                                                  closes=kota_opens + dt.timedelta(30))}  # fmt: skip
    return cycle.Cycle(year=2027, calendar=calendar, adopted=adopted)


def test_the_deadline_is_a_week_before_the_musrenbang_kota() -> None:
    state = _cycle(dt.date(2026, 3, 22))
    assert pokir.deadline(state) == dt.date(2026, 3, 15)
    pokir.check_open(state, dt.date(2026, 3, 15), year=2027, forum_pd_closed=False)  # the last day still counts
    with pytest.raises(DomainError, match="batas penyampaian"):
        pokir.check_open(state, dt.date(2026, 3, 16), year=2027, forum_pd_closed=False)
    # A returned one: still.
    pokir.check_open(state, dt.date(2026, 3, 16), year=2027, forum_pd_closed=False, revising=True)
    with pytest.raises(DomainError, match="Forum Perangkat Daerah"):
        pokir.check_open(state, dt.date(2026, 3, 1), year=2027, forum_pd_closed=True, revising=True)
    pokir.check_open(_cycle(None), dt.date(2030, 1, 1), year=2027, forum_pd_closed=False)  # no calendar: until adoption
    with pytest.raises(DomainError, match="sudah ditetapkan"):
        pokir.check_open(_cycle(None, adopted=True), TODAY, year=2027, forum_pd_closed=False)
    with pytest.raises(DomainError, match="^siklus RKPD 2027 belum dibuka$"):
        pokir.check_open(cycle.Cycle(), TODAY, year=2027, forum_pd_closed=False)  # no cycle at all


def test_a_reses_is_held_before_today_and_not_too_long_before_the_plan() -> None:
    origin = pokir.pokir_from(MEMBER, dt.date(2026, 2, 10), "  Aula RW 03 ", year=2027, today=TODAY)
    assert (origin.member, origin.reses_place, origin.dapil) == ("ahmad", "Aula RW 03", "Bekasi 1")
    for day, place, field in ((None, "Aula", "reses_on"), (dt.date(2026, 3, 2), "Aula", "reses_on"),
                              (dt.date(2024, 12, 31), "Aula", "reses_on"), (dt.date(2026, 1, 1), "", "reses_place"),
                              (dt.date(2026, 1, 1), "x" * 201, "reses_place")):  # fmt: skip
        with pytest.raises(ValidationFailed) as refused:
            pokir.pokir_from(MEMBER, day, place, year=2027, today=TODAY)
        assert field in refused.value.errors, (day, place)


def test_a_member_brings_pokir_from_their_own_daerah_pemilihan() -> None:
    pokir.check_place(CITY, "Bekasi 1", "32.75.01.1001")  # Bekasi Timur
    with pytest.raises(ValidationFailed) as refused:
        pokir.check_place(CITY, "Bekasi 1", "32.75.03.1001")  # Bekasi Utara: Bekasi 2
    assert "kelurahan" in refused.value.errors
    with pytest.raises(DomainError):
        pokir.check_place(CITY, "Bekasi 9", "32.75.01.1001")
    pokir.check_place(city.City(region="32.75"), "apa saja", "32.75.03.1001")  # no dapil configured: any place


def _submitted() -> p.Proposal:
    origin = pokir.pokir_from(MEMBER, dt.date(2026, 2, 10), "Aula", year=2027, today=TODAY)
    [event] = p.decide(p.Proposal(), p.SubmitProposal(code="ABCD2345", year=2027, source="pokir", content=CONTENT,
                                                      proposer_ref="dprd.ahmad", pokir=origin))  # fmt: skip
    return p.evolve(p.Proposal(), event)


def test_the_secretariat_returns_or_forwards_and_the_kelurahan_does_not_verify() -> None:
    state = _submitted()
    assert state.source == "pokir" and state.pokir is not None
    for decision in ("accept", "reject", "return"):
        with pytest.raises(DomainError, match="Sekretariat DPRD"):
            p.decide(state, p.VerifyProposal(code="ABCD2345", decision=decision, reason="x"))
    with pytest.raises(ValidationFailed):
        p.decide(state, p.ReturnPokir(code="ABCD2345", reason=" "))
    [returned] = p.decide(state, p.ReturnPokir(code="ABCD2345", reason="sebutkan RT"))
    state = p.evolve(state, returned)
    moved = msgspec.structs.replace(state.pokir, reses_place="Aula RW 05")
    [revised] = p.decide(state, p.ReviseProposal(code="ABCD2345", content=CONTENT, pokir=moved))
    state = p.evolve(state, revised)
    assert state.status == p.DIAJUKAN and state.pokir is not None and state.pokir.reses_place == "Aula RW 05"
    [forwarded] = p.decide(state, p.ForwardPokir(code="ABCD2345"))
    state = p.evolve(state, forwarded)
    assert state.status == p.DITERUSKAN_SETWAN
    with pytest.raises(DomainError, match="sudah diperiksa"):
        p.decide(state, p.ForwardPokir(code="ABCD2345"))


def test_a_residents_proposal_is_not_the_secretariats_and_a_pokir_needs_its_member() -> None:
    [event] = p.decide(p.Proposal(), p.SubmitProposal(code="WXYZ2345", year=2027, source="warga", content=CONTENT,
                                                      proposer_ref="r1"))  # fmt: skip
    resident = p.evolve(p.Proposal(), event)
    with pytest.raises(DomainError, match="usulan warga"):
        p.decide(resident, p.ForwardPokir(code="WXYZ2345"))
    with pytest.raises(DomainError):
        p.decide(p.Proposal(), p.SubmitProposal(code="WXYZ2346", year=2027, source="pokir", content=CONTENT,
                                                proposer_ref="r1"))  # fmt: skip
    with pytest.raises(DomainError, match="tidak digabungkan"):
        p.decide_merge(resident, {"ABCD2345": _submitted()}, p.MergeProposals(into="WXYZ2345", codes=("ABCD2345",),
                                                                               reason="sama"))  # fmt: skip


def test_daerah_pemilihan_in_the_settings_are_named_and_share_no_kecamatan() -> None:
    assert [d.name for d in CITY.dapil] == ["Bekasi 1", "Bekasi 2", "Bekasi 3", "Bekasi 4", "Bekasi 5"]
    assert sorted(k for d in CITY.dapil for k in d.kecamatan) == [f"32.75.{n:02d}" for n in range(1, 13)]
    for wrong in ((Dapil(name="A", kecamatan=("32.75.01",)), Dapil(name="B", kecamatan=("32.75.01",))),
                  (Dapil(name="A", kecamatan=("32.01.01",)),), (Dapil(name="", kecamatan=("32.75.01",)),),
                  (Dapil(name="A", kecamatan=()),)):  # fmt: skip
        with pytest.raises(ValidationFailed) as refused:
            city.decide(CITY, msgspec.structs.replace(BEKASI, dapil=wrong))
        assert "dapil" in refused.value.errors, wrong


def _line(line_id: str, pagu: int, origins: tuple[str, ...] = (), locations: tuple[str, ...] = ()) -> RkpdLine:
    return RkpdLine(line_id=line_id, agency="DBMSDA", origins=origins, locations=locations, priority_program=1,
                    sub_kegiatan_code="1.03.10.2.01.0017", nomenclature="x", program="x", kegiatan="x",
                    sub_kegiatan="x", funding_source="apbd_kota", volume="1", unit="m", pagu=pagu,
                    output_indicator="x", target="1", target_unit="m",
                    renja_reason="" if origins else "Renstra")  # fmt: skip


def _item(code: str, kelurahan: str, cost: int, source: str) -> CityItem:
    return CityItem(code=code, title=code, kelurahan=kelurahan, bidang="infrastruktur", cost=cost, agency="DBMSDA",
                    forum_id="" if source == "pokir" else "KEC", source=source)  # fmt: skip


def test_a_line_joining_a_pokir_and_residents_proposals_is_shared_by_their_costs() -> None:
    items = {"W": _item("W", "32.75.01.1001", 300, "musrenbang"), "P": _item("P", "32.75.03.1001", 100, "pokir")}
    shares = r.pagu_by_source([_line("L1", 1_000, ("W", "P")), _line("L2", 90), _line("L3", 31, (),
                                                                                       ("32.75.02.1001",))], items)
    assert shares == {("32.75.01", "musrenbang"): 750, ("32.75.03", "pokir"): 250, (r.CITY_WIDE, "renja"): 90,
                      ("32.75.02", "renja"): 31}  # fmt: skip


@given(st.lists(st.tuples(st.integers(1, 10**12), st.lists(st.sampled_from("WPQ"), max_size=3, unique=True),
                          st.lists(st.sampled_from(["32.75.01.1001", "32.75.02.1001"]), max_size=2, unique=True)),
                max_size=6),
       st.integers(0, 10**9), st.integers(0, 10**9), st.integers(0, 10**9))  # fmt: skip
def test_every_lines_pagu_is_shared_exactly(lines: list, w: int, q: int, pk: int) -> None:  # noqa: ANN001
    items = {"W": _item("W", "32.75.01.1001", w, "musrenbang"), "P": _item("P", "32.75.03.1001", pk, "pokir"),
             "Q": _item("Q", "32.75.01.1002", q, "musrenbang")}  # fmt: skip
    made = [_line(f"L{n}", pagu, tuple(origins), () if origins else tuple(places))
            for n, (pagu, origins, places) in enumerate(lines)]  # fmt: skip
    assert sum(r.pagu_by_source(made, items).values()) == sum(x.pagu for x in made)


def _where(n: int, stream: str) -> Where:
    return Where(position=n, stream_id=stream, stream_version=n)


def test_verify_file_receives_only_pokir_the_secretariat_forwarded_as_they_stood() -> None:
    """`musrenbang verify --file`'s recomputation: a pokir taken up at the Forum Perangkat Daerah must have
    been forwarded before, and arrive as it was forwarded; a line from it is complete lineage."""
    origin = pokir.pokir_from(MEMBER, dt.date(2026, 2, 10), "Aula", year=2027, today=TODAY)
    submitted = ProposalSubmitted(code="ABCD2345", year=2027, source="pokir", content=CONTENT, proposer_ref="x",
                                  pokir=origin)  # fmt: skip
    item = _item("ABCD2345", CONTENT.kelurahan, CONTENT.estimated_cost, "pokir")
    item = msgspec.structs.replace(item, title=CONTENT.title)
    honest = Recomputer()
    honest.feed(_where(1, "proposal-ABCD2345"), submitted)
    honest.feed(_where(2, "proposal-ABCD2345"), PokirForwarded(code="ABCD2345"))
    honest.feed(_where(3, "rkpd-2027"), RkpdProposalsReceived(year=2027, items=(item,)))
    honest.feed(_where(4, "rkpd-2027"), RkpdLineSet(year=2027, line=_line("DBMSDA-001", 10, ("ABCD2345",))))
    assert honest.differences == [] and honest.forwarded_pokir == {"ABCD2345"}
    unchecked = Recomputer()
    unchecked.feed(_where(1, "proposal-ABCD2345"), submitted)
    unchecked.feed(_where(3, "rkpd-2027"), RkpdProposalsReceived(year=2027, items=(item,)))
    assert ["had not forwarded" in d for d in unchecked.differences] == [True]
    changed = Recomputer()
    changed.feed(_where(1, "proposal-ABCD2345"), submitted)
    changed.feed(_where(2, "proposal-ABCD2345"), PokirForwarded(code="ABCD2345"))
    dearer = msgspec.structs.replace(item, cost=item.cost * 10)
    changed.feed(_where(3, "rkpd-2027"), RkpdProposalsReceived(year=2027, items=(dearer,)))
    assert ["not the pokir's as forwarded" in d for d in changed.differences] == [True]


def test_dana_kelurahan_does_not_pay_for_a_pokir() -> None:
    """Dana Kelurahan pays for what a kelurahan agreed at its own Musrenbang: a pokir was not."""
    agencies = {a.code: a for a in BEKASI.agencies}
    kecamatan = next(a.code for a in BEKASI.agencies if a.kecamatan == "32.75.01")
    state = r.Rkpd()
    received = [_item("P", "32.75.01.1001", 100, "pokir"), _item("W", "32.75.01.1001", 100, "musrenbang")]
    for event in r.decide(state, r.ReceiveProposals(year=2027, items=tuple(msgspec.structs.replace(
            i, agency=kecamatan) for i in received)), agencies=agencies):  # fmt: skip
        state = r.evolve(state, event)
    line = r.LineInput(agency=kecamatan, origins=("P",), priority_program=1, sub_kegiatan_code="7.01.03.2.01.0002",
                       program="x", kegiatan="x", sub_kegiatan="x", funding_source="dana_kelurahan", volume="1",
                       unit="m", pagu=100, output_indicator="x", target="1", target_unit="m")  # fmt: skip
    with pytest.raises(ValidationFailed) as refused:
        r.decide(state, r.SetLine(line=line, priority_programs=3), agencies=agencies)
    assert "pokok pikiran DPRD" in str(refused.value.errors["funding_source"])
    [ok] = r.decide(state, r.SetLine(line=msgspec.structs.replace(line, origins=("W",)), priority_programs=3),
                    agencies=agencies)  # fmt: skip
    assert ok.line.funding_source == "dana_kelurahan"


def test_every_pokir_is_answered_before_the_city_level_closes() -> None:
    waiting = _submitted()
    returned = p.evolve(waiting, p.decide(waiting, p.ReturnPokir(code="ABCD2345", reason="lengkapi"))[0])
    forwarded = p.evolve(waiting, p.decide(waiting, p.ForwardPokir(code="ABCD2345"))[0])
    pokir.check_answered({"ABCD2345": returned}, ())  # returned and not corrected: that is its answer
    pokir.check_answered({"ABCD2345": forwarded}, {"ABCD2345"})  # taken up by the agencies
    with pytest.raises(DomainError, match="menunggu pemeriksaan"):
        pokir.check_answered({"ABCD2345": waiting}, ())
    with pytest.raises(DomainError, match="belum diterima"):
        pokir.check_answered({"ABCD2345": forwarded}, ())


def test_verify_file_knows_who_may_enter_and_check_a_pokir_and_where() -> None:
    """The recomputation reads who recorded each pokir event (its metadata): its own member enters and
    corrects it, in their daerah pemilihan; the secretariat checks it, once, while it waits."""
    origin = pokir.pokir_from(MEMBER, dt.date(2026, 2, 10), "Aula", year=2027, today=TODAY)
    submitted = ProposalSubmitted(code="ABCD2345", year=2027, source="pokir", content=CONTENT, proposer_ref="x",
                                  pokir=origin)  # fmt: skip
    stream = "proposal-ABCD2345"

    def run(*steps: tuple[str, str, object]) -> list[str]:
        recomputer = Recomputer()
        recomputer.feed(Where(0, "city", 1), city.decide(city.City(), BEKASI)[0])
        for n, (actor, role, event) in enumerate(steps, start=1):
            recomputer.feed(Where(n, stream, n, b"", actor, role), event)  # type: ignore[arg-type]
        return recomputer.differences

    returned = ProposalReturned(code="ABCD2345", reason="lengkapi")
    revised = ProposalRevised(code="ABCD2345", content=CONTENT)
    assert run(("ahmad", "dprd", submitted), ("sekwan", "setwan", returned), ("ahmad", "dprd", revised),
               ("sekwan", "setwan", PokirForwarded(code="ABCD2345"))) == []  # fmt: skip
    assert ["not by its member" in d for d in run(("fasil", "facilitator", submitted))] == [True]
    by_member = run(("ahmad", "dprd", submitted), ("ahmad", "dprd", PokirForwarded(code="ABCD2345")))
    assert ["not by the DPRD secretariat" in d for d in by_member] == [True]
    twice = run(("ahmad", "dprd", submitted), ("sekwan", "setwan", PokirForwarded(code="ABCD2345")),
                ("sekwan", "setwan", PokirForwarded(code="ABCD2345")))  # fmt: skip
    assert ["while it was not waiting" in d for d in twice] == [True]
    assert ["revised while it was not returned" in d for d in run(("ahmad", "dprd", submitted),
                                                                  ("ahmad", "dprd", revised))] == [True]
    elsewhere = msgspec.structs.replace(submitted, content=msgspec.structs.replace(CONTENT, kelurahan="32.75.03.1001"))
    assert ["outside daerah pemilihan Bekasi 1" in d for d in run(("ahmad", "dprd", elsewhere))] == [True]


def test_a_returned_pokir_may_be_corrected_to_another_kelurahan_of_its_dapil() -> None:
    """Unlike a resident's proposal, a pokir is checked by the city's secretariat and weighed at the city's
    Forum Perangkat Daerah: a wrong place is one of the things it is returned for (services/pokir.py keeps
    the new one within the member's dapil)."""
    state = _submitted()
    state = p.evolve(state, p.decide(state, p.ReturnPokir(code="ABCD2345", reason="kelurahannya keliru"))[0])
    moved = msgspec.structs.replace(CONTENT, kelurahan="32.75.01.1002")
    [revised] = p.decide(state, p.ReviseProposal(code="ABCD2345", content=moved, pokir=state.pokir))
    assert p.evolve(state, revised).submitted.kelurahan == "32.75.01.1002"
