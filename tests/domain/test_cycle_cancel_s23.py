"""Withdrawing a cycle opened by mistake (domain/cycle.py): only before any of its stages opened; the year
is then as if never opened."""

from __future__ import annotations

import datetime as dt

import pytest

from musrenbang.domain import cycle
from musrenbang.domain.errors import DomainError, NotFound, ValidationFailed
from musrenbang.domain.events import CycleCancelled
from tests.domain.test_cycle import START, given, started

BEFORE = cycle.default_calendar(2022)[0].opens - dt.timedelta(days=1)


def test_an_unopened_cycle_is_withdrawn_and_the_year_can_be_opened_again() -> None:
    [event] = cycle.decide(started(), cycle.CancelCycle(year=2022, reason=" salah tahun ", today=BEFORE))
    assert event == CycleCancelled(year=2022, reason="salah tahun")
    withdrawn = cycle.evolve(started(), event)
    assert not withdrawn.exists and withdrawn == cycle.Cycle()
    assert cycle.decide(withdrawn, START)  # opened again
    with pytest.raises(NotFound):
        cycle.decide(withdrawn, cycle.CancelCycle(year=2022, reason="lagi", today=BEFORE))


def test_a_cycle_whose_first_stage_opened_is_not_withdrawn() -> None:
    opened = started().calendar["usulan"].opens
    with pytest.raises(DomainError) as refused:
        cycle.decide(started(), cycle.CancelCycle(year=2022, reason="x", today=opened))
    assert "tahap Pengajuan usulan warga sudah dibuka" in str(refused.value.message)


def test_nor_one_advanced_adopted_or_without_calendar_and_a_reason_is_needed() -> None:
    state = started()
    day = state.calendar["kota"].opens
    [adoption] = cycle.decide(state, cycle.RecordAdoption(year=2022, today=day))
    for refused_state in (cycle.evolve(state, adoption), given(*cycle.decide(given(), cycle.StartCycle(
            year=2022, region="32.75", theme="T", priority_programs=("A",), require_calendar=False)))):  # fmt: skip
        with pytest.raises(DomainError):
            cycle.decide(refused_state, cycle.CancelCycle(year=2022, reason="x", today=BEFORE))
    with pytest.raises(ValidationFailed) as blank:
        cycle.decide(state, cycle.CancelCycle(year=2022, reason="  ", today=BEFORE))
    assert set(blank.value.errors) == {"reason"}
    with pytest.raises(ValidationFailed):
        cycle.decide(state, cycle.CancelCycle(year=2022, reason="x" * 1001, today=BEFORE))
