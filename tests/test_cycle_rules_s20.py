"""Reviewed defects of the planning-cycle rules (domain/cycle.py): stage dates past the RKPD year and stages
closing out of order, a past year opened after a later one was adopted, a window change that undid a
recorded stage advance, priority programs given twice, and the default calendar of a year that cannot have
one. The rules as pure functions, then each through the real CLI (one `error:` line, exit 3, nothing
recorded)."""

from __future__ import annotations

import datetime as dt
from functools import reduce
from pathlib import Path

import asyncpg
import msgspec
import pytest

from musrenbang.db.connect import create_pool
from musrenbang.domain import cycle
from musrenbang.domain.errors import DomainError, ValidationFailed
from musrenbang.domain.events import StageWindow
from musrenbang.eventlog.store import EventStore, Metadata
from musrenbang.services import cycles
from musrenbang.services.bootstrap import set_up_city
from musrenbang.services.streams import execute
from tests.test_cli_review import musrenbang, one_error

D = dt.date
TODAY = D(2026, 12, 4)


def given(*events: object) -> cycle.Cycle:
    return reduce(cycle.evolve, events, cycle.Cycle())


def start(year: int, **changes: object) -> cycle.StartCycle:
    command = cycle.StartCycle(year=year, region="32.75", theme="Tema", priority_programs=("A", "B"),
                               calendar=cycle.default_calendar(year))  # fmt: skip
    return msgspec.structs.replace(command, **changes)


def opened(year: int) -> cycle.Cycle:
    return given(*cycle.decide(given(), start(year)))


def windows(**days: tuple[D, D]) -> tuple[StageWindow, ...]:
    return tuple(StageWindow(stage=s, opens=o, closes=c) for s, (o, c) in days.items())


# --- 1. stage dates within the RKPD year, and the stages closing in order ---------------------------------------


def test_a_calendar_running_past_its_rkpd_year_is_refused() -> None:
    """RKPD 2024 opened in December 2026 took proposals until 2028."""
    late = windows(usulan=(D(2026, 12, 1), D(2028, 12, 31)),
                   **{s: (D(2026, 12, 1), D(2028, 12, 31)) for s in cycle.STAGES[1:]})  # fmt: skip
    with pytest.raises(ValidationFailed) as refused:
        cycle.decide(given(), start(2024, calendar=late, today=TODAY))
    assert "terlalu akhir untuk RKPD 2024" in refused.value.errors["calendar.usulan"]
    # The last day of the RKPD year itself is the bound; a day more is refused (no day stated: no exception).
    last = [StageWindow(stage=w.stage, opens=w.opens, closes=D(2030, 12, 31)) for w in cycle.default_calendar(2030)]
    assert cycle.decide(given(), start(2030, calendar=tuple(last)))
    last[-1] = StageWindow(stage="ditetapkan", opens=last[-1].opens, closes=D(2031, 1, 1))
    with pytest.raises(ValidationFailed) as refused:
        cycle.decide(given(), start(2030, calendar=tuple(last)))
    assert set(refused.value.errors) == {"calendar.ditetapkan"}
    # A past year recorded now on today's days (the demo's next year, tests): up to the end of next year.
    now = windows(**{s: (D(2026, 11, 27), D(2027, 12, 31)) for s in cycle.STAGES})
    assert cycle.decide(given(), start(2023, calendar=now, today=TODAY))
    with pytest.raises(ValidationFailed):
        cycle.decide(given(), start(2023, calendar=now))  # no day stated: the year's own end


def test_a_kickoff_decades_after_its_year_is_refused() -> None:
    with pytest.raises(ValidationFailed) as refused:
        cycle.decide(given(), start(2031, kickoff_on=D(2099, 1, 1), today=TODAY))
    assert set(refused.value.errors) == {"kickoff_on"}
    assert cycle.decide(given(), start(2031, kickoff_on=D(2030, 1, 10), today=TODAY))


def test_a_stage_may_not_close_after_a_later_stage_closes() -> None:
    calendar = list(cycle.default_calendar(2030))
    usulan, kelurahan = calendar[0], calendar[1]
    calendar[0] = StageWindow(stage="usulan", opens=usulan.opens, closes=kelurahan.closes + dt.timedelta(days=1))
    with pytest.raises(ValidationFailed) as refused:
        cycle.decide(given(), start(2030, calendar=tuple(calendar)))
    assert set(refused.value.errors) == {"calendar.usulan"}
    assert "ditutup sesudah tahap berikutnya" in refused.value.errors["calendar.usulan"]
    calendar[0] = StageWindow(stage="usulan", opens=usulan.opens, closes=kelurahan.closes)  # overlapping: let be
    assert cycle.decide(given(), start(2030, calendar=tuple(calendar)))


def test_a_window_moved_past_its_rkpd_year_is_refused() -> None:
    state = opened(2023)
    usulan = state.calendar["usulan"]
    far = cycle.ChangeWindow(year=2023, stage="usulan", opens=usulan.opens, closes=D(2035, 1, 1), reason="x",
                             today=TODAY)  # fmt: skip
    with pytest.raises(ValidationFailed) as refused:
        cycle.decide(state, far)
    assert "terlalu akhir untuk RKPD 2023" in refused.value.errors["closes"]
    kelurahan = state.calendar["kelurahan"]  # extended first: the proposals close no later (s27)
    assert cycle.decide(state, msgspec.structs.replace(far, stage="kelurahan", opens=kelurahan.opens,
                                                       closes=kelurahan.closes + dt.timedelta(days=14)))  # fmt: skip


# --- 2. no year at or before the newest adopted -------------------------------------------------------------


def test_a_year_at_or_before_the_newest_adopted_is_not_opened() -> None:
    adopted = given(*cycle.decide(given(), start(2022)),
                    *cycle.decide(opened(2022), cycle.RecordAdoption(year=2022, today=D(2021, 6, 1))))  # fmt: skip
    assert adopted.adopted
    with pytest.raises(DomainError) as refused:
        cycle.check_after_adopted(2021, [adopted, opened(2023)])
    assert "RKPD 2022" in refused.value.message and "2021" in refused.value.message
    cycle.check_after_adopted(2022, [adopted])  # open already: `decide` says so
    cycle.check_after_adopted(2024, [adopted, opened(2023)])
    cycle.check_after_adopted(2021, [opened(2022)])  # nothing adopted


# --- 3. a window change does not undo a recorded advance ----------------------------------------------------


def test_the_opening_of_a_stage_reached_by_advancing_is_not_moved_after_today() -> None:
    today = D(2028, 12, 10)
    state = opened(2030)
    for advanced in cycle.decide(state, cycle.AdvanceStage(year=2030, today=today)):
        state = cycle.evolve(state, advanced)
    assert state.stage_on(today) == "kelurahan"
    later = cycle.ChangeWindow(year=2030, stage="kelurahan", opens=today + dt.timedelta(days=3),
                               closes=state.calendar["kelurahan"].closes, reason="x", today=today)  # fmt: skip
    with pytest.raises(ValidationFailed) as refused:
        cycle.decide(state, later)
    assert set(refused.value.errors) == {"opens"} and "memajukan tahap" in refused.value.errors["opens"]
    assert cycle.decide(state, msgspec.structs.replace(later, opens=today))
    # A stage the calendar has not reached may still be moved later.
    untouched = opened(2030)
    assert cycle.decide(untouched, msgspec.structs.replace(later, opens=D(2029, 1, 5)))


# --- 4. no priority program twice ---------------------------------------------------------------------------


@pytest.mark.parametrize("programs", [("Jalan", "Jalan"), ("Jalan", "Drainase", "  jalan  "),
                                      ("Jalan  raya", "JALAN RAYA")])  # fmt: skip
def test_a_priority_program_given_twice_is_refused(programs: tuple[str, ...]) -> None:
    with pytest.raises(ValidationFailed) as refused:
        cycle.decide(given(), start(2030, priority_programs=programs))
    assert "dua kali" in refused.value.errors["priority_programs"]
    assert programs[-1].strip() in refused.value.errors["priority_programs"]
    assert cycle.decide(given(), start(2030, priority_programs=("Jalan", "Jalan raya")))


# --- 5. a year with no default calendar ---------------------------------------------------------------------


def test_a_year_whose_default_calendar_cannot_be_built_is_refused_on_the_year() -> None:
    with pytest.raises(ValidationFailed) as refused:
        cycle.default_calendar_for(2000)
    assert set(refused.value.errors) == {"year"} and "RKPD 2000" in refused.value.errors["year"]
    assert cycle.default_calendar_for(2001) == cycle.default_calendar(2001)
    with pytest.raises(ValidationFailed) as refused:
        cycle.default_calendar_for(1)
    assert set(refused.value.errors) == {"year"}


# --- through the CLI ----------------------------------------------------------------------------------------


def _programs(path: Path, calendar: dict[str, tuple[D, D]] | None = None, titles: tuple[str, ...] = ("Jalan",)) -> Path:
    lines = [f'[[programs]]\ntitle = "{t}"\n' for t in titles]
    if calendar:
        lines.append("[calendar]\n" + "".join(f"{s} = [{o}, {c}]\n" for s, (o, c) in calendar.items()))
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


async def _events(url: str) -> int:
    conn = await asyncpg.connect(url)
    try:
        return int(await conn.fetchval("SELECT count(*) FROM events WHERE stream_id LIKE 'cycle-%'"))
    finally:
        await conn.close()


async def test_the_cli_refuses_dates_past_the_rkpd_year_and_stages_out_of_order(
    cli_env: dict[str, str], database_url: str, tmp_path: Path
) -> None:
    assert musrenbang(cli_env, "setup").returncode == 0
    now = cycles.today()
    past = now.year - 2  # "RKPD 2024 in December 2026": proposals until the end of the year after next
    first = D(now.year, 1, 1)
    late = {"usulan": (first, D(now.year + 2, 12, 31)), **{s: (first, first) for s in cycle.STAGES[1:]}}
    before = await _events(database_url)
    line = one_error(musrenbang(cli_env, "cycle", "open", "--year", str(past), "--theme", "Tema", "--programs",
                                str(_programs(tmp_path / "late.toml", late))))  # fmt: skip
    assert "terlalu akhir" in line, line
    year = now.year + 5  # planned years from now: the default calendar, a kick-off decades later
    line = one_error(musrenbang(cli_env, "cycle", "open", "--year", str(year), "--theme", "Tema", "--programs",
                                str(_programs(tmp_path / "p.toml")), "--kickoff", "2099-01-01"))  # fmt: skip
    assert line.startswith("error: kickoff_on:") and "terlalu akhir" in line, line
    unordered = {s: (w.opens, w.closes) for s, w in ((w.stage, w) for w in cycle.default_calendar(year))}
    unordered["kecamatan"] = (unordered["kecamatan"][0], unordered["ditetapkan"][1])
    line = one_error(musrenbang(cli_env, "cycle", "open", "--year", str(year), "--theme", "Tema", "--programs",
                                str(_programs(tmp_path / "u.toml", unordered))))  # fmt: skip
    assert "calendar.kecamatan" in line and "ditutup sesudah tahap berikutnya" in line, line
    assert await _events(database_url) == before
    opened_ = musrenbang(cli_env, "cycle", "open", "--year", str(year), "--theme", "Tema", "--programs",
                         str(_programs(tmp_path / "p.toml")))  # fmt: skip
    assert opened_.returncode == 0, opened_.stderr
    before = await _events(database_url)
    line = one_error(musrenbang(cli_env, "cycle", "window", "--year", str(year), "--stage", "usulan", "--closes",
                                f"{year + 4}-01-01", "--reason", "diperpanjang"))  # fmt: skip
    assert "terlalu akhir" in line, line
    assert await _events(database_url) == before


async def test_the_cli_refuses_a_year_before_the_newest_adopted(
    cli_env: dict[str, str], database_url: str, tmp_path: Path
) -> None:
    assert musrenbang(cli_env, "setup").returncode == 0
    year = cycles.today().year + 1
    programs = str(_programs(tmp_path / "p.toml"))
    assert musrenbang(cli_env, "cycle", "open", "--year", str(year), "--theme", "T", "--programs", programs
                      ).returncode == 0  # fmt: skip
    pool = await create_pool(database_url, min_size=1, max_size=2)
    try:  # the RKPD of the year adopted: recorded on its cycle as services/rkpd.py does with the adoption
        adoption = cycle.RecordAdoption(year=year, today=cycles.today())
        await execute(EventStore(pool), cycles.CYCLE, cycle.stream_id(year), adoption, metadata=Metadata(actor="t"))
    finally:
        await pool.close()
    before = await _events(database_url)
    for earlier in (year - 1, year - 4):
        line = one_error(musrenbang(cli_env, "cycle", "open", "--year", str(earlier), "--theme", "T", "--programs",
                                    programs))  # fmt: skip
        assert f"RKPD {year}" in line and str(earlier) in line, line
    assert await _events(database_url) == before
    again = musrenbang(cli_env, "cycle", "open", "--year", str(year), "--theme", "T", "--programs", programs)
    assert "sudah ditetapkan" in one_error(again)  # not "sudah dibuka": the operator would look for its window
    later = musrenbang(cli_env, "cycle", "open", "--year", str(year + 1), "--theme", "T", "--programs", programs)
    assert later.returncode == 0, later.stderr


async def test_the_cli_keeps_a_stage_reached_by_advancing(
    cli_env: dict[str, str], database_url: str, tmp_path: Path
) -> None:
    assert musrenbang(cli_env, "setup").returncode == 0
    today = cycles.today()
    year = today.year + 1
    days = {"usulan": (-10, 20), "kelurahan": (30, 40), "kecamatan": (50, 60), "perangkat_daerah": (70, 80),
            "kota": (90, 100), "ditetapkan": (110, 120)}  # fmt: skip
    calendar = {s: (today + dt.timedelta(days=a), today + dt.timedelta(days=b)) for s, (a, b) in days.items()}
    opened_ = musrenbang(cli_env, "cycle", "open", "--year", str(year), "--theme", "T", "--programs",
                         str(_programs(tmp_path / "p.toml", calendar)))  # fmt: skip
    assert opened_.returncode == 0, opened_.stderr
    advanced = musrenbang(cli_env, "cycle", "advance", "--year", str(year))
    assert advanced.returncode == 0 and "now at kelurahan" in advanced.stdout, advanced.stderr
    before = await _events(database_url)
    line = one_error(musrenbang(cli_env, "cycle", "window", "--year", str(year), "--stage", "kelurahan", "--opens",
                                str(today + dt.timedelta(days=3)), "--closes", str(today + dt.timedelta(days=40)),
                                "--reason", "diundur"))  # fmt: skip
    assert "memajukan tahap" in line, line
    assert await _events(database_url) == before
    listed = musrenbang(cli_env, "cycle", "list")
    assert f"RKPD {year}: kelurahan" in listed.stdout, listed.stdout


async def test_the_cli_refuses_programs_given_twice_and_a_year_with_no_default_calendar(
    cli_env: dict[str, str], database_url: str, tmp_path: Path
) -> None:
    assert musrenbang(cli_env, "setup").returncode == 0
    year = str(cycles.today().year + 5)
    twice = str(_programs(tmp_path / "twice.toml", titles=("Jalan", "Jalan", "  jalan  ")))
    line = one_error(musrenbang(cli_env, "cycle", "open", "--year", year, "--theme", "T", "--programs", twice))
    assert line.startswith("error: priority_programs:") and "Jalan" in line, line
    line = one_error(musrenbang(cli_env, "cycle", "open", "--year", "2000", "--theme", "T", "--programs",
                                str(_programs(tmp_path / "p.toml"))))  # fmt: skip
    assert line.startswith("error: year:") and "RKPD 2000" in line, line
    assert await _events(database_url) == 0


async def test_the_api_path_refuses_a_year_with_no_default_calendar_on_the_year(store: EventStore) -> None:
    """What `POST /api/v1/cycles` runs: `{"year": 2000}` with no calendar was refused on `calendar.usulan`."""
    await set_up_city(store)
    with pytest.raises(ValidationFailed) as refused:
        await cycles.open_planned(store, year=2000, theme="T", programs=[("Jalan", "")],
                                  metadata=Metadata(actor="t", role="admin"))  # fmt: skip
    assert set(refused.value.errors) == {"year"}
    assert not (await cycles.load_cycle(store, 2000)).exists
