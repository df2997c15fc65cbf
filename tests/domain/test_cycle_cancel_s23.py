"""Withdrawing a cycle opened by mistake (domain/cycle.py): never once adopted, always with a reason; the
year is then as if never opened. Whether anything was made in the year is the service's to check
(tests/http/test_cycle_cancel_s23.py, tests/services/test_cycle_cancel_race_s23.py)."""

from __future__ import annotations

import pytest

from musrenbang.domain import cycle
from musrenbang.domain.errors import DomainError, NotFound, ValidationFailed
from musrenbang.domain.events import CycleCancelled
from tests.domain.test_cycle import START, started


def test_a_cycle_is_withdrawn_and_the_year_can_be_opened_again() -> None:
    [event] = cycle.decide(started(), cycle.CancelCycle(year=2022, reason=" salah tahun "))
    assert event == CycleCancelled(year=2022, reason="salah tahun")
    withdrawn = cycle.evolve(started(), event)
    assert not withdrawn.exists and withdrawn == cycle.Cycle()
    assert cycle.decide(withdrawn, START)  # opened again
    with pytest.raises(NotFound):
        cycle.decide(withdrawn, cycle.CancelCycle(year=2022, reason="lagi"))


def test_a_stage_open_does_not_matter_an_adoption_does_and_a_reason_is_needed() -> None:
    """A year typed wrong gets a calendar in the past, open at once: withdrawn all the same."""
    state = started()
    day = state.calendar["kota"].opens
    assert state.is_open("kota", day)
    assert cycle.decide(state, cycle.CancelCycle(year=2022, reason="x"))
    [adoption] = cycle.decide(state, cycle.RecordAdoption(year=2022, today=day))
    with pytest.raises(DomainError, match="sudah ditetapkan"):
        cycle.decide(cycle.evolve(state, adoption), cycle.CancelCycle(year=2022, reason="x"))
    with pytest.raises(ValidationFailed) as blank:
        cycle.decide(state, cycle.CancelCycle(year=2022, reason="  "))
    assert set(blank.value.errors) == {"reason"}
    with pytest.raises(ValidationFailed):
        cycle.decide(state, cycle.CancelCycle(year=2022, reason="x" * 1001))
