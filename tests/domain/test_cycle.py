"""The planning cycle: given events / when command / then events."""

from __future__ import annotations

import datetime as dt
from functools import reduce

import pytest

from musrenbang.domain import cycle
from musrenbang.domain.errors import AlreadyExists, DomainError, NotFound
from musrenbang.domain.events import CycleStageAdvanced, CycleStarted

START = cycle.StartCycle(
    year=2022, region="32.75", theme=" Tema ", priority_programs=("A", "B"), kickoff_on=dt.date(2021, 1, 19)
)


def given(*events: object) -> cycle.Cycle:
    return reduce(cycle.evolve, events, cycle.Cycle())


def test_starting_a_cycle_records_theme_and_programs() -> None:
    assert cycle.decide(given(), START) == [
        CycleStarted(
            year=2022,
            region="32.75",
            theme="Tema",
            priority_programs=("A", "B"),
            kickoff_on=dt.date(2021, 1, 19),
        )
    ]


def test_a_cycle_cannot_start_twice() -> None:
    with pytest.raises(AlreadyExists):
        cycle.decide(given(*cycle.decide(given(), START)), START)


@pytest.mark.parametrize(
    "bad", [{"theme": "  "}, {"priority_programs": ()}, {"priority_programs": ("A", " ")}, {"year": 1900}]
)
def test_a_cycle_needs_a_theme_programs_and_a_sensible_year(bad: dict) -> None:
    import msgspec

    with pytest.raises(DomainError):
        cycle.decide(given(), msgspec.structs.replace(START, **bad))


def test_stages_advance_in_order_and_stop_at_the_end() -> None:
    state = given(*cycle.decide(given(), START))
    assert state.stage == "usulan"
    for expected in cycle.STAGES[1:]:
        [event] = cycle.decide(state, cycle.AdvanceStage(year=2022))
        assert event == CycleStageAdvanced(year=2022, stage=expected)
        state = cycle.evolve(state, event)
    with pytest.raises(DomainError):
        cycle.decide(state, cycle.AdvanceStage(year=2022))


def test_advancing_a_cycle_that_does_not_exist_is_refused() -> None:
    with pytest.raises(NotFound):
        cycle.decide(given(), cycle.AdvanceStage(year=2022))
