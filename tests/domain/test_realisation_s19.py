"""The rules of realisation a second review found missing (domain/realisation.py): the amount spent
against the line's state, a handover's progress, a file refused whole as an input error, a day that does
not exist, and no photo for a finished line."""

from __future__ import annotations

import pytest

from musrenbang.domain import realisation as r
from musrenbang.domain.errors import DomainError, UnreadableFile, ValidationFailed
from tests.domain.test_notices import LINE  # pagu Rp 50 juta
from tests.domain.test_realisation import record


def _refused(state: r.LineProgress, stage: str, day: str, **given: object) -> dict:
    with pytest.raises(ValidationFailed) as refused:
        record(state, stage, day, **given)
    return dict(refused.value.errors)


def test_the_amount_spent_goes_down_or_past_the_budget_only_with_its_reason() -> None:
    """Down (a slip corrected) or past what the line may spend (a budget amended in the year) with the reason
    in the note; never many times over (a zero too many); without a note, refused beside the note."""
    # Nothing budgeted yet: the RKPD pagu is the ceiling.
    assert set(_refused(r.LineProgress(), "pelaksanaan", "2022-05-01", progress=10,
                        amount=LINE.pagu + 1)) == {"note"}  # fmt: skip
    s = record(r.LineProgress(), "apbd", "2021-11-30", amount=40_000_000, note="efisiensi")
    errors = _refused(s, "pelaksanaan", "2022-05-01", progress=10, amount=99_000_000_000_000, note="APBD-P")
    assert set(errors) == {"amount"} and "40.000.000" in errors["amount"]  # a note does not make it right
    errors = _refused(s, "pelaksanaan", "2022-05-01", progress=10, amount=45_000_000)
    assert set(errors) == {"note"} and "40.000.000" in errors["note"]
    s = record(s, "pelaksanaan", "2022-05-01", progress=40, amount=19_000_000)
    assert s.spent == 19_000_000
    errors = _refused(s, "pelaksanaan", "2022-06-01", progress=41, amount=1)
    assert set(errors) == {"note"} and "19.000.000" in errors["note"]
    assert set(_refused(s, "selesai", "2022-09-30", amount=0)) == {"note"}
    s = record(s, "pelaksanaan", "2022-06-01", progress=50)  # no amount said: what was spent stays
    assert s.spent == 19_000_000
    s = record(s, "pelaksanaan", "2022-06-02", progress=55, amount=9_100_000, note="koreksi: salah ketik 19 juta")
    assert s.spent == 9_100_000  # a slip corrected, with its reason
    s = record(s, "pelaksanaan", "2022-06-03", progress=60, amount=40_000_000)  # the whole budget
    assert (s.spent, s.ceiling(LINE)) == (40_000_000, 40_000_000)
    s = record(s, "selesai", "2022-09-30", amount=52_000_000, note="APBD Perubahan menambah Rp 12 juta")
    assert s.spent == 52_000_000


def test_a_contract_above_the_budget_is_the_ceiling() -> None:
    s = record(r.LineProgress(), "dpa", "2022-01-12", amount=45_000_000)
    s = record(s, "kontrak", "2022-03-01", amount=47_000_000, contractor="CV Karya")
    assert s.ceiling(LINE) == 47_000_000
    s = record(s, "selesai", "2022-09-30", amount=47_000_000)
    assert (s.stage, s.spent) == ("selesai", 47_000_000)


@pytest.mark.parametrize("progress", [30, 0, 99, 101])
def test_a_handover_is_at_100_or_says_nothing(progress: int) -> None:
    assert set(_refused(r.LineProgress(), "selesai", "2022-09-30", progress=progress)) == {"progress"}


def test_a_handover_at_100_or_without_a_progress_is_recorded() -> None:
    assert record(r.LineProgress(), "selesai", "2022-09-30", progress=100).progress == 100
    assert record(r.LineProgress(), "selesai", "2022-09-30").progress == 100


@pytest.mark.parametrize("records", [
    [], [[""]], [["baris", "tahap", "nilai", "persen", "tanggal", "catatan"]],
    [["baris", "tahap", "tanggal"], ["", "", ""]], [["baris", "nilai"], ["x", "1"]],
])  # fmt: skip
def test_a_file_refused_whole_is_an_input_error(records: list[list[str]]) -> None:
    with pytest.raises(UnreadableFile):
        r.read_rows(records, 2022, None)


@pytest.mark.parametrize("text", ["31/02/2026", "2026-02-30", "29-02-2023", "2022-13-01", "00/01/2022"])
def test_a_day_that_does_not_exist_is_named_so(text: str) -> None:
    with pytest.raises(ValueError, match="tidak ada di kalender"):
        r.parse_day(text)


@pytest.mark.parametrize("text", ["kemarin", "2022/03/31", "31.03.2022", ""])
def test_a_day_in_another_form_is_told_the_forms(text: str) -> None:
    with pytest.raises(ValueError, match="2022-03-31 atau 31/03/2022"):
        r.parse_day(text)


def test_no_photo_for_a_finished_or_dropped_line() -> None:
    r.check_photo_state(r.LineProgress())
    under_way = record(r.LineProgress(), "pelaksanaan", "2022-05-01", progress=40)
    r.check_photo_state(under_way)
    for stage, given in (("selesai", {}), ("batal", {"note": "lahan sengketa"})):
        ended = record(under_way, stage, "2022-09-30", **given)
        with pytest.raises(DomainError, match="foto"):
            r.check_photo_state(ended)
