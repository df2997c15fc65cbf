"""The rules of an RKPD line after adoption (domain/realisation.py), and reading a bulk file."""

from __future__ import annotations

import datetime as dt

import pytest

from musrenbang.domain import realisation as r
from musrenbang.domain.access import Forbidden
from musrenbang.domain.errors import DomainError, NotFound, ValidationFailed
from tests.domain.test_notices import LINE

TODAY = dt.date(2023, 1, 1)


def record(state: r.LineProgress, stage: str, day: str, **given: object) -> r.LineProgress:
    command = r.RecordMilestone(year=2022, line_id=LINE.line_id, stage=stage, on=dt.date.fromisoformat(day),
                                **given)  # type: ignore[arg-type]
    for e in r.decide(state, command, line=LINE, today=TODAY):
        state = r.evolve(state, e)
    return state


def test_a_line_moves_forward_to_its_handover() -> None:
    s = record(r.LineProgress(), "apbd", "2021-11-30", amount=LINE.pagu)
    s = record(s, "kontrak", "2022-03-01", amount=45_000_000, contractor="CV Karya")  # the DPA was not recorded
    s = record(s, "pelaksanaan", "2022-05-01", progress=40)
    s = record(s, "pelaksanaan", "2022-06-01", progress=40, note="hujan")  # the same progress again is allowed
    s = record(s, "selesai", "2022-09-30")
    assert (s.stage, s.progress, s.milestones) == ("selesai", 100, 5)
    with pytest.raises(DomainError, match="tidak ada tahap lagi"):
        record(s, "batal", "2022-10-01", note="x")


@pytest.mark.parametrize(("stage", "day", "given", "field"), [
    ("apbd", "2021-11-30", {"amount": 40_000_000}, "note"),  # less than the pagu, without the reason
    ("apbd", "2021-11-30", {}, "amount"),
    ("kontrak", "2022-03-01", {"amount": 1}, "contractor"),
    ("pelaksanaan", "2022-03-01", {}, "progress"),
    ("pelaksanaan", "2022-03-01", {"progress": 101}, "progress"),
    ("pelaksanaan", "2030-03-01", {"progress": 10}, "date"),
    ("kua_ppas", "2020-12-31", {"amount": 1}, "date"),  # RKPD 2022 is planned from 2021 on
    ("batal", "2022-03-01", {}, "note"),
    ("dpa", "2022-03-01", {"amount": 1, "progress": 10}, "progress"),
    ("terbang", "2022-03-01", {}, "stage"),
])  # fmt: skip
def test_what_is_wrong_is_named_by_its_field(stage: str, day: str, given: dict, field: str) -> None:
    with pytest.raises(ValidationFailed) as refused:
        record(r.LineProgress(), stage, day, **given)
    assert field in refused.value.errors


def test_no_going_back_in_stage_progress_or_time() -> None:
    s = record(r.LineProgress(), "pelaksanaan", "2022-05-01", progress=50)
    with pytest.raises(DomainError, match="sudah lewat"):
        record(s, "kontrak", "2022-05-02", amount=1, contractor="CV")
    with pytest.raises(ValidationFailed) as down:
        record(s, "pelaksanaan", "2022-05-02", progress=30)
    assert "progress" in down.value.errors
    with pytest.raises(ValidationFailed) as earlier:
        record(s, "pelaksanaan", "2022-04-30", progress=60)
    assert "date" in earlier.value.errors


def test_only_a_line_of_the_adopted_rkpd_and_only_by_its_agency() -> None:
    command = r.RecordMilestone(year=2022, line_id="X-001", stage="batal", on=TODAY, note="x", by_agency="DINKES")
    with pytest.raises(NotFound):
        r.decide(r.LineProgress(), command, line=None, today=TODAY)
    with pytest.raises(Forbidden):
        r.decide(r.LineProgress(), command, line=LINE, today=TODAY)


def test_a_bulk_file_reads_indonesian_and_english_headers_and_names_each_bad_row() -> None:
    rows = r.read_rows([["\ufeffBaris", "Tahap", "Nilai", "Persen", "Tanggal", "Catatan"],
                        ["DBMSDA-002", "KUA-PPAS", "Rp 50.000.000", "", "26/07/2021", ""],
                        ["", "", "", "", "", ""],
                        ["DBMSDA-002", "progres", "", "45%", "2022-13-01", ""]], 2022, None)  # fmt: skip
    assert [row.number for row in rows] == [2, 4]
    assert rows[0].command is not None and rows[0].command.stage == "kua_ppas" and rows[0].command.amount == 50_000_000
    assert rows[1].command is None and set(rows[1].errors) == {"date"}
    english = r.read_rows([["line_id", "stage", "date"], ["DBMSDA-002", "dpa", "2022-01-12"]], 2022, "DBMSDA")
    assert english[0].command is not None and english[0].command.by_agency == "DBMSDA"
    with pytest.raises(DomainError, match="kolom"):
        r.read_rows([["baris", "nilai"]], 2022, None)
    with pytest.raises(DomainError):
        r.read_rows([["baris", "tahap", "tanggal"]], 2022, None)
