"""A window that has opened keeps its opening on or before today (review s24: the proposals window,
open since 1 December with three proposals in, was moved to open on the 6th, leaving them before their own
window). Before it opens, or earlier, or closing later, a window moves as before."""

from __future__ import annotations

import datetime as dt

import msgspec
import pytest

from musrenbang.domain import cycle
from musrenbang.domain.errors import ValidationFailed
from musrenbang.domain.events import StageWindow

D = dt.date
TODAY = D(2026, 12, 5)


def _state() -> cycle.Cycle:
    windows = {"usulan": (D(2026, 12, 1), D(2027, 1, 31)), "kelurahan": (D(2027, 2, 1), D(2027, 2, 28)),
               "kecamatan": (D(2027, 3, 1), D(2027, 3, 20)), "perangkat_daerah": (D(2027, 3, 21), D(2027, 4, 10)),
               "kota": (D(2027, 4, 11), D(2027, 4, 30)), "ditetapkan": (D(2027, 5, 1), D(2027, 6, 30))}
    calendar = {s: StageWindow(stage=s, opens=o, closes=c) for s, (o, c) in windows.items()}
    return msgspec.structs.replace(cycle.Cycle(), year=2028, region="32.75", calendar=calendar)


def _move(stage: str, opens: dt.date, closes: dt.date) -> list[object]:
    return cycle.decide(_state(), cycle.ChangeWindow(year=2028, stage=stage, opens=opens, closes=closes,
                                                     reason="jadwal disesuaikan", today=TODAY))  # fmt: skip


def test_an_opened_window_is_not_moved_to_open_after_today() -> None:
    with pytest.raises(ValidationFailed) as refused:
        _move("usulan", D(2026, 12, 6), D(2027, 1, 31))
    assert str(refused.value.errors["opens"]) == ("tahap Pengajuan usulan warga sudah dibuka sejak 1 Desember 2026:"
                                                   " tanggal bukanya tidak dapat diundur sesudah hari ini"
                                                   " (5 Desember 2026)")  # fmt: skip


@pytest.mark.parametrize(("stage", "opens", "closes"), [
    ("usulan", TODAY, D(2027, 1, 31)),  # to today: what came in since the 1st still lies inside
    ("usulan", D(2026, 11, 20), D(2027, 2, 15)),  # earlier, and closing later
    ("kelurahan", D(2027, 2, 10), D(2027, 2, 28)),  # not opened yet: moved later as before
])  # fmt: skip
def test_other_moves_are_made_as_before(stage: str, opens: dt.date, closes: dt.date) -> None:
    [changed] = _move(stage, opens, closes)
    assert (changed.stage, changed.opens, changed.closes) == (stage, opens, closes)  # type: ignore[attr-defined]


def test_an_opened_window_is_not_closed_before_today() -> None:
    """Session 25: the proposals window, open since 1 December, could be closed on the 2nd, leaving what came
    in on the 3rd to 5th after its own window. Session 27: nor yesterday, which left today's proposals outside
    every window; ended today (as advancing the stage does) it still may be."""
    for closes in (D(2026, 12, 3), D(2026, 12, 4)):
        with pytest.raises(ValidationFailed) as refused:
            _move("usulan", D(2026, 12, 1), closes)
        assert str(refused.value.errors["closes"]) == ("tahap Pengajuan usulan warga sudah dibuka sejak 1 Desember"
                                                        " 2026: tanggal tutupnya tidak dapat dimajukan sebelum 5"
                                                        " Desember 2026")  # fmt: skip
    [ended] = _move("usulan", D(2026, 12, 1), TODAY)
    assert ended.closes == TODAY  # type: ignore[attr-defined]


def test_a_closed_window_keeps_its_last_day() -> None:
    state = msgspec.structs.replace(_state(), calendar={**_state().calendar, "usulan": StageWindow(
        stage="usulan", opens=D(2026, 11, 1), closes=D(2026, 11, 30))})  # fmt: skip
    move = cycle.ChangeWindow(year=2028, stage="usulan", opens=D(2026, 11, 1), closes=D(2026, 11, 29),
                              reason="jadwal disesuaikan", today=TODAY)  # fmt: skip
    with pytest.raises(ValidationFailed) as refused:
        cycle.decide(state, move)
    assert "sebelum 30 November 2026" in str(refused.value.errors["closes"])
    [longer] = cycle.decide(state, msgspec.structs.replace(move, closes=D(2026, 12, 10)))
    assert longer.closes == D(2026, 12, 10)  # type: ignore[attr-defined]
