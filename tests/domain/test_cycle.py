"""The planning cycle and its calendar: given events / when command / then events."""

from __future__ import annotations

import datetime as dt
from functools import reduce

import msgspec
import pytest

from musrenbang.domain import cycle
from musrenbang.domain.errors import AlreadyExists, DomainError, NotFound, ValidationFailed
from musrenbang.domain.events import (
    CycleStageAdvanced,
    CycleStarted,
    CycleWindowChanged,
    KecamatanCeiling,
    StageWindow,
)

D = dt.date
CALENDAR = cycle.default_calendar(2022)
START = cycle.StartCycle(
    year=2022, region="32.75", theme=" Tema ", priority_programs=("A", "B"), kickoff_on=D(2021, 1, 19),
    calendar=CALENDAR, pagu_kecamatan=(KecamatanCeiling(kecamatan="32.75.01", pagu=5_000_000_000),),
)  # fmt: skip


def given(*events: object) -> cycle.Cycle:
    return reduce(cycle.evolve, events, cycle.Cycle())


def started() -> cycle.Cycle:
    return given(*cycle.decide(given(), START))


def test_starting_a_cycle_records_theme_programs_calendar_and_pagu() -> None:
    [event] = cycle.decide(given(), START)
    assert event == CycleStarted(
        year=2022, region="32.75", theme="Tema", priority_programs=("A", "B"), kickoff_on=D(2021, 1, 19),
        calendar=CALENDAR, pagu_kecamatan=START.pagu_kecamatan,
    )  # fmt: skip
    assert [w.stage for w in event.calendar] == list(cycle.STAGES)


def test_a_calendar_of_years_before_its_rkpd_is_refused_as_a_mistyped_year() -> None:
    """RKPD 2030 opened with 2026's dates took proposals beside the RKPD being planned then."""
    early = msgspec.structs.replace(START, year=2030, kickoff_on=D(2030, 1, 1))  # CALENDAR is RKPD 2022's
    with pytest.raises(ValidationFailed) as refused:
        cycle.decide(given(), early)
    assert set(refused.value.errors) == {f"calendar.{stage}" for stage in cycle.STAGES}
    assert "terlalu awal untuk RKPD 2030" in str(refused.value.errors["calendar.usulan"])
    assert cycle.decide(given(), msgspec.structs.replace(early, calendar=cycle.default_calendar(2030)))
    with pytest.raises(ValidationFailed) as kickoff:
        cycle.decide(given(), msgspec.structs.replace(START, kickoff_on=D(2019, 12, 31)))
    assert set(kickoff.value.errors) == {"kickoff_on"}
    moved = cycle.ChangeWindow(year=2022, stage="usulan", opens=D(2019, 12, 1), closes=D(2021, 1, 15), reason="x")
    with pytest.raises(ValidationFailed) as window:
        cycle.decide(started(), moved)
    assert "terlalu awal" in str(window.value.errors["opens"])  # the opening day is the one too early


def test_a_cycle_cannot_start_twice() -> None:
    with pytest.raises(AlreadyExists):
        cycle.decide(started(), START)


@pytest.mark.parametrize(
    "bad",
    [
        {"theme": "  "},
        {"priority_programs": ()},
        {"priority_programs": ("A", " ")},
        {"year": 1900},
        {"calendar": ()},  # a new cycle has a calendar
        {"calendar": CALENDAR[:-1]},  # every stage's window
        {"calendar": (*CALENDAR[:-1], CALENDAR[0])},  # one window per stage
        {"calendar": (StageWindow(stage="usulan", opens=D(2021, 2, 1), closes=D(2021, 1, 1)), *CALENDAR[1:])},
        {"calendar": (StageWindow(stage="usulan", opens=D(2021, 3, 1), closes=D(2021, 3, 9)), *CALENDAR[1:])},
        {"priority_targets": ("only one",)},  # one per program, or none
        {"pagu_kecamatan": (KecamatanCeiling(kecamatan="32.75.01", pagu=-1),)},
    ],
)
def test_a_cycle_needs_a_theme_programs_a_calendar_in_order_and_a_sensible_year(bad: dict) -> None:
    with pytest.raises(ValidationFailed):
        cycle.decide(given(), msgspec.structs.replace(START, **bad))


def test_what_is_open_follows_the_calendar_by_date() -> None:
    state = started()
    usulan, kelurahan = state.calendar["usulan"], state.calendar["kelurahan"]
    assert not state.is_open("usulan", usulan.opens - dt.timedelta(days=1))
    assert state.is_open("usulan", usulan.opens) and state.is_open("usulan", usulan.closes)
    assert not state.is_open("usulan", usulan.closes + dt.timedelta(days=1))
    assert state.stage_on(usulan.opens - dt.timedelta(days=1)) == "usulan"
    assert state.stage_on(kelurahan.opens) == "kelurahan"
    assert state.next_opening("kecamatan", kelurahan.opens) == state.calendar["kecamatan"].opens
    assert state.next_opening("usulan", kelurahan.opens) is None


def test_a_window_is_changed_with_a_reason_and_the_change_counts() -> None:
    state = started()
    later = state.calendar["kelurahan"].closes + dt.timedelta(days=10)  # the proposals' close may not (s27)
    change = cycle.ChangeWindow(year=2022, stage="kelurahan", opens=state.calendar["kelurahan"].opens,
                                closes=later, reason=" diperpanjang karena banjir ")  # fmt: skip
    [event] = cycle.decide(state, change)
    assert event == CycleWindowChanged(year=2022, stage="kelurahan", opens=change.opens, closes=later,
                                       reason="diperpanjang karena banjir")  # fmt: skip
    assert cycle.evolve(state, event).is_open("kelurahan", later)
    with pytest.raises(ValidationFailed):
        cycle.decide(state, msgspec.structs.replace(change, reason=" "))
    with pytest.raises(ValidationFailed):
        cycle.decide(state, msgspec.structs.replace(change, closes=change.opens - dt.timedelta(days=1)))


def test_a_moved_window_keeps_the_stages_in_their_order() -> None:
    """Checked by the rules (not only by the web form): the CLI's `cycle window` and two changes at once too."""
    state = started()
    kelurahan, kecamatan = state.calendar["kelurahan"], state.calendar["kecamatan"]
    before_usulan = state.calendar["usulan"].opens - dt.timedelta(days=1)
    early = cycle.ChangeWindow(year=2022, stage="kelurahan", opens=before_usulan, closes=kelurahan.closes,
                               reason="maju")  # fmt: skip
    with pytest.raises(ValidationFailed) as refused:
        cycle.decide(state, early)
    assert set(refused.value.errors) == {"opens"}
    late = msgspec.structs.replace(early, opens=kecamatan.opens + dt.timedelta(days=1),
                                   closes=kecamatan.opens + dt.timedelta(days=5))  # fmt: skip
    with pytest.raises(ValidationFailed) as refused:
        cycle.decide(state, late)
    assert "Musrenbang Kecamatan" in refused.value.errors["opens"]
    assert cycle.decide(state, msgspec.structs.replace(early, opens=kelurahan.opens + dt.timedelta(days=1)))


def test_advancing_closes_the_current_stage_and_opens_the_next_that_day() -> None:
    """The current stage ends at the end of that day (s27: it ended the day before, leaving what came in that
    day after its window), each window moved a change of its own."""
    state = started()
    day = state.calendar["usulan"].opens + dt.timedelta(days=3)
    events = cycle.decide(state, cycle.AdvanceStage(year=2022, today=day))
    assert events[-1] == CycleStageAdvanced(year=2022, stage="kelurahan")
    after = given(*cycle.decide(given(), START), *events)
    assert after.is_open("usulan", day) and after.is_open("kelurahan", day)
    assert not after.is_open("usulan", day + dt.timedelta(days=1)) and after.stage_on(day) == "kelurahan"


def test_a_stage_opened_today_is_not_advanced_past_the_same_day() -> None:
    """Advanced twice in a day, the stage between closed the day before it opened (`kelurahan 2026-12-04 ..
    2026-12-03` in `cycle list`): a window the calendar's own checks refuse."""
    state = started()
    day = state.calendar["usulan"].opens + dt.timedelta(days=3)
    after = reduce(cycle.evolve, cycle.decide(state, cycle.AdvanceStage(year=2022, today=day)), state)
    with pytest.raises(DomainError, match="baru dibuka hari ini"):
        cycle.decide(after, cycle.AdvanceStage(year=2022, today=day))
    later = cycle.decide(after, cycle.AdvanceStage(year=2022, today=day + dt.timedelta(days=1)))
    windows = reduce(cycle.evolve, later, after).calendar
    assert all(w.opens <= w.closes for w in windows.values()), windows


def test_the_last_stage_is_reached_by_adoption_only_and_then_everything_is_closed() -> None:
    state = started()
    day = state.calendar["kota"].opens
    with pytest.raises(DomainError):
        cycle.decide(state, cycle.AdvanceStage(year=2022, today=state.calendar["ditetapkan"].opens))
    [event] = cycle.decide(state, cycle.RecordAdoption(year=2022, today=day))
    adopted = cycle.evolve(state, event)
    assert adopted.adopted and adopted.stage_on(day) == "ditetapkan"
    assert not any(adopted.is_open(s, day) for s in cycle.STAGES)
    assert cycle.decide(adopted, cycle.RecordAdoption(year=2022, today=day)) == []  # a later revision
    with pytest.raises(DomainError):
        cycle.decide(adopted, cycle.ChangeWindow(year=2022, stage="kota", opens=day, closes=day, reason="x"))


def test_forums_are_held_inside_their_levels_window() -> None:
    state = started()
    window = state.calendar["kecamatan"]
    cycle.check_forum_day(state, "kecamatan", window.opens, window.opens)
    with pytest.raises(ValidationFailed):
        cycle.check_forum_day(state, "kecamatan", window.closes + dt.timedelta(days=1), window.opens)
    with pytest.raises(DomainError):  # scheduled after the window closed
        cycle.check_forum_day(state, "kecamatan", window.closes, window.closes + dt.timedelta(days=1))


def test_changing_a_cycle_that_does_not_exist_is_refused() -> None:
    with pytest.raises(NotFound):
        cycle.decide(given(), cycle.AdvanceStage(year=2022, today=D(2021, 1, 1)))


def test_the_cycle_being_planned_is_the_running_one_before_one_opened_early() -> None:
    today = D(2026, 12, 2)
    cycles = [(2026, True, D(2024, 12, 1)), (2027, False, D(2025, 12, 1)), (2028, False, D(2026, 12, 1)),
              (2030, False, D(2029, 1, 1)), (2029, False, D(2027, 12, 1))]  # fmt: skip
    assert cycle.planned_first(cycles, today) == [2028, 2027, 2029, 2030, 2026]
    assert cycle.planned_first([(2022, True, None)], today) == [2022]
    assert cycle.planned_first([(2022, False, None)], today) == [2022]  # a cycle without a calendar runs


def test_a_stage_s_staff_page_keeps_the_year_whose_window_of_that_stage_runs_when_the_next_opens_early() -> None:
    """RKPD 2027's Forum Perangkat Daerah still running in December 2026 while 2028's proposals have begun:
    the Renja pages stay on 2027 (residents' pages go to 2028, above)."""
    today = D(2026, 12, 2)

    def window(opens: dt.date, closes: dt.date) -> StageWindow:
        return StageWindow(stage="perangkat_daerah", opens=opens, closes=closes)

    cycles = [(2026, True, window(D(2025, 2, 15), D(2025, 3, 15))),
              (2027, False, window(D(2026, 2, 15), D(2026, 12, 31))),  # extended, still running
              (2028, False, window(D(2027, 2, 15), D(2027, 3, 15))),  # ahead
              (2029, False, window(D(2028, 2, 15), D(2028, 3, 15))),
              (2025, False, window(D(2024, 2, 15), D(2024, 3, 15)))]  # passed, never adopted  # fmt: skip
    assert cycle.working_first(cycles, today) == [2027, 2028, 2029, 2025, 2026]
    assert cycle.planned_first([(y, a, D(y - 2, 12, 1)) for y, a, _ in cycles], today)[0] == 2028
    both_open = [(2028, False, window(D(2026, 12, 1), D(2027, 1, 31))), *cycles[1:2]]
    assert cycle.working_first(both_open, today) == [2027, 2028]  # the older's work is due first
    assert cycle.working_first([(2022, False, None), (2023, False, None)], today) == [2022, 2023]


def test_no_stage_is_closed_before_the_calendar_begins() -> None:
    state = started()
    with pytest.raises(DomainError, match="belum ada tahap"):
        cycle.decide(state, cycle.AdvanceStage(year=2022, today=state.calendar["usulan"].opens - dt.timedelta(1)))


@pytest.mark.parametrize(
    ("region", "zone"),
    [("32.75", "WIB"), ("32.01", "WIB"), ("61.71", "WIB"), ("51.71", "WITA"), ("64.72", "WITA"),
     ("73.71", "WITA"), ("81.71", "WIT"), ("91.71", "WIT")],
)  # fmt: skip
def test_a_city_counts_its_days_in_its_provinces_time_zone(region: str, zone: str) -> None:
    from musrenbang.domain import city

    assert city.timezone_of(region) == zone
    late_evening_utc = dt.datetime(2026, 12, 1, 16, 30, tzinfo=dt.UTC)  # 23.30 WIB, 00.30 WITA, 01.30 WIT
    assert city.local_date(zone, late_evening_utc) == (D(2026, 12, 1) if zone == "WIB" else D(2026, 12, 2))
