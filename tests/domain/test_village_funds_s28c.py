"""Dana Desa and Dana Kelurahan go only where their villages are (review s28, Kabupaten Jembrana 51.01 and Kabupaten
Aceh Selatan 11.01). The rules alone: a Dana Desa line is of desa only (every place of it a desa, by the Kemendagri
code: 2xxx a desa, 1xxx a kelurahan), and a region without kelurahan neither has Dana Kelurahan lines nor sets an
amount per kelurahan in its cycle. The service and the pages over a real database:
tests/e2e/test_village_funds_s28c.py."""

from __future__ import annotations

import datetime as dt

import pytest

from musrenbang.domain import agency
from musrenbang.domain import cycle as cycle_rules
from musrenbang.domain import rkpd as r
from musrenbang.domain.errors import ValidationFailed
from musrenbang.domain.events import CycleStarted, RkpdLineSet
from tests.domain.test_rkpd import AGENCIES, item, line

KELURAHAN, DESA, OTHER_DESA = "51.01.01.1006", "51.01.01.2001", "51.01.02.2001"  # Baler Bale Agung; Cupel; …


def decide_line(state: r.Rkpd, x: r.LineInput, **villages: bool) -> list:
    return r.decide(state, r.SetLine(line=x, priority_programs=6), agencies=AGENCIES, **villages)


def received(*items: object) -> r.Rkpd:
    [event] = r.decide(r.Rkpd(), r.ReceiveProposals(year=2028, items=items), agencies=AGENCIES)  # type: ignore[arg-type]
    return r.evolve(r.Rkpd(), event)


def refusal(state: r.Rkpd, x: r.LineInput, **villages: bool) -> str:
    with pytest.raises(ValidationFailed) as caught:
        decide_line(state, x, **villages)
    assert list(caught.value.errors) == ["funding_source"], caught.value.errors
    return str(caught.value.errors["funding_source"])


def test_a_renja_line_takes_dana_desa_only_when_located_in_desa_alone() -> None:
    state = received(item("A", kelurahan=DESA))
    renja = {"renja_reason": "Renstra: jalan lingkungan", "funding_source": agency.DANA_DESA}
    in_kelurahan = refusal(state, line(locations=(KELURAHAN,), **renja))  # was accepted: a kelurahan gets no Dana Desa
    assert KELURAHAN in in_kelurahan and "bukan desa" in in_kelurahan and "hanya disalurkan ke desa" in in_kelurahan
    mixed = refusal(state, line(locations=(DESA, KELURAHAN), **renja))
    assert KELURAHAN in mixed
    wide = refusal(state, line(**renja))  # was accepted: the kabupaten's own work, no desa's transfer
    assert "bukan untuk seluruh wilayah" in wide and "sebutkan desa" in wide
    [in_desa] = decide_line(state, line(locations=(DESA, OTHER_DESA), **renja))  # work the desa fund together
    assert isinstance(in_desa, RkpdLineSet) and in_desa.line.funding_source == agency.DANA_DESA


def test_a_line_from_proposals_takes_dana_desa_only_when_every_one_is_from_a_desa() -> None:
    state = received(item("A", kelurahan=DESA), item("B", kelurahan=KELURAHAN), item("C", kelurahan=OTHER_DESA))
    said = refusal(state, line("A", "B", funding_source=agency.DANA_DESA))  # was accepted
    assert "usulan B dari kelurahan" in said and "Dana Desa hanya disalurkan ke desa" in said
    [from_desa] = decide_line(state, line("A", "C", funding_source=agency.DANA_DESA))
    assert isinstance(from_desa, RkpdLineSet) and from_desa.line.locations == (DESA, OTHER_DESA)


def test_dana_kelurahan_is_refused_where_the_region_has_no_kelurahan_saying_why() -> None:
    """Aceh Selatan: every village a desa. The kecamatan's own line from its desa was refused before too, but
    as if the proposal came from the wrong kecamatan; now the reason is the region's."""
    kecamatan = next(a.code for a in AGENCIES.values() if a.kecamatan == "32.75.01")
    state = received(item("A", kelurahan="32.75.01.1001", agency=kecamatan))
    x = line("A", agency=kecamatan, funding_source=agency.DANA_KELURAHAN, sub_kegiatan_code="7.01.03.2.01.0002")
    said = refusal(state, x, has_kelurahan=False)
    assert "wilayah ini tidak mempunyai kelurahan" in said
    [made] = decide_line(state, x)  # where there are kelurahan, as before
    assert isinstance(made, RkpdLineSet)


def test_the_funding_sources_offered_follow_the_villages_the_region_has() -> None:
    assert list(agency.funding_sources(True, True)) == ["apbd_kota", "apbd_provinsi", "apbn", "dana_kelurahan",
                                                        "dana_desa"]  # Jembrana: both  # fmt: skip
    assert agency.DANA_KELURAHAN not in agency.funding_sources(True, False)  # Aceh Selatan: desa only
    assert list(agency.funding_sources(False)) == ["apbd_kota", "apbd_provinsi", "apbn", "dana_kelurahan"]  # Bekasi


def start(**changes: object) -> cycle_rules.StartCycle:
    fields: dict[str, object] = dict(year=2028, region="11.01", theme="Tes", priority_programs=("Jalan desa",),
                                     require_calendar=False, today=dt.date(2027, 1, 5))  # fmt: skip
    fields.update(changes)
    return cycle_rules.StartCycle(**fields)  # type: ignore[arg-type]


def test_a_cycle_of_a_region_without_kelurahan_sets_no_dana_kelurahan() -> None:
    with pytest.raises(ValidationFailed) as caught:
        cycle_rules.decide(cycle_rules.Cycle(), start(dana_kelurahan=352_000_000, has_kelurahan=False))
    assert list(caught.value.errors) == ["dana_kelurahan"]
    assert "wilayah ini tidak mempunyai kelurahan" in str(caught.value.errors["dana_kelurahan"])
    [opened] = cycle_rules.decide(cycle_rules.Cycle(), start(has_kelurahan=False))  # without it: opened
    assert isinstance(opened, CycleStarted) and opened.dana_kelurahan is None
    [both] = cycle_rules.decide(cycle_rules.Cycle(), start(region="51.01", dana_kelurahan=352_000_000))
    assert isinstance(both, CycleStarted) and both.dana_kelurahan == 352_000_000
