"""Review s27 (a city's second year), the cycle's calendar:

- `musrenbang cycle advance` ended the current window "yesterday" though proposals came in today (left
  outside their own window), and the move was in no list of window changes. It now ends the current stage at
  the end of today, each window moved recorded as a window change (reason `cycle.ADVANCED`) like any other;
- a window move could leave the proposals' window open after the kelurahan stage closed (proposals no forum
  could take up). Such a move is refused (`_submissions_before_kelurahan`); a calendar recorded so before
  still loads, and takes proposals only to its kelurahan stage's last day.

The rules as pure functions, then through the real CLI and database."""

from __future__ import annotations

import datetime as dt
from functools import reduce
from pathlib import Path

import asyncpg
import msgspec
import pytest

from musrenbang.db.connect import create_pool
from musrenbang.domain import city as city_rules
from musrenbang.domain import cycle
from musrenbang.domain import proposal as p
from musrenbang.domain.errors import DomainError, ValidationFailed
from musrenbang.domain.events import CycleStageAdvanced, CycleStarted, CycleWindowChanged, StageWindow
from musrenbang.eventlog.store import EventStore
from musrenbang.projections import all_projections
from musrenbang.projections import cycles as cycle_views
from musrenbang.projections.runner import ProjectionRunner
from musrenbang.services import cycles
from musrenbang.services.proposals import ProposalService
from tests.test_cli_review import musrenbang, one_error
from tests.test_cycle_rules_s20 import _events, _programs

D = dt.date
TODAY = D(2026, 12, 5)
DAYS = {"usulan": (-10, 20), "kelurahan": (5, 40), "kecamatan": (41, 60), "perangkat_daerah": (61, 80),
        "kota": (81, 100), "ditetapkan": (101, 120)}  # fmt: skip
"""Days from today: the proposals open, the kelurahan forums still to open."""


def calendar(today: dt.date, **days: tuple[int, int]) -> dict[str, tuple[dt.date, dt.date]]:
    return {s: (today + dt.timedelta(days=a), today + dt.timedelta(days=b)) for s, (a, b) in {**DAYS, **days}.items()}


def opened(**days: tuple[int, int]) -> cycle.Cycle:
    windows = tuple(StageWindow(stage=s, opens=o, closes=c) for s, (o, c) in calendar(TODAY, **days).items())
    return cycle.evolve(cycle.Cycle(), CycleStarted(year=2028, region="32.75", theme="Tema", priority_programs=("A",),
                                                    calendar=windows))  # fmt: skip


# --- 1. an advance ends the current stage at the end of today, and lists what it moved ---------------------------


def test_an_advance_keeps_today_inside_the_current_window_and_records_each_window_it_moves() -> None:
    state = opened()
    events = cycle.decide(state, cycle.AdvanceStage(year=2028, today=TODAY))
    assert events == [
        CycleWindowChanged(year=2028, stage="usulan", opens=TODAY - dt.timedelta(days=10), closes=TODAY,
                           reason=cycle.ADVANCED),
        CycleWindowChanged(year=2028, stage="kelurahan", opens=TODAY, closes=TODAY + dt.timedelta(days=40),
                           reason=cycle.ADVANCED),
        CycleStageAdvanced(year=2028, stage="kelurahan"),
    ]  # fmt: skip
    after = reduce(cycle.evolve, events, state)
    assert after.stage_on(TODAY) == "kelurahan" and after.stage == "kelurahan"
    assert after.is_open("usulan", TODAY)  # what came in today came in inside its window
    assert not after.is_open("usulan", TODAY + dt.timedelta(days=1)) and after.is_open("kelurahan", TODAY)
    # The next advance, a day later, ends the kelurahan window then (the proposals' ended already).
    later = cycle.decide(after, cycle.AdvanceStage(year=2028, today=TODAY + dt.timedelta(days=1)))
    assert [(e.stage, getattr(e, "closes", None)) for e in later] == [
        ("kelurahan", TODAY + dt.timedelta(days=1)), ("kecamatan", TODAY + dt.timedelta(days=60)), ("kecamatan", None)]
    assert all(w.opens <= w.closes for w in reduce(cycle.evolve, later, after).calendar.values())
    # An advance already in the log carries its day and ended the windows before it the day before: so it stays.
    recorded = cycle.evolve(state, CycleStageAdvanced(year=2028, stage="kelurahan", on=TODAY))
    assert (recorded.calendar["usulan"].closes, recorded.calendar["kelurahan"].opens) == (
        TODAY - dt.timedelta(days=1), TODAY)


# --- 2. the proposals never close after the kelurahan stage ------------------------------------------------------


@pytest.mark.parametrize(("stage", "closes"), [("usulan", TODAY + dt.timedelta(days=41)),
                                               ("kelurahan", TODAY + dt.timedelta(days=19))])  # fmt: skip
def test_a_move_leaving_the_proposals_open_after_the_kelurahan_stage_is_refused(stage: str, closes: dt.date) -> None:
    state = opened()
    move = cycle.ChangeWindow(year=2028, stage=stage, opens=state.calendar[stage].opens, closes=closes,
                              reason="diperpanjang", today=TODAY)  # fmt: skip
    with pytest.raises(ValidationFailed) as refused:
        cycle.decide(state, move)
    assert str(refused.value.errors["closes"]).startswith(
        "pengajuan usulan warga tidak dapat ditutup sesudah Musrenbang Kelurahan/Desa ditutup (")
    assert cycle.decide(state, msgspec.structs.replace(move, closes=state.calendar["kelurahan"].closes
                                                       if stage == "usulan" else state.calendar["usulan"].closes))


def test_a_calendar_recorded_with_the_proposals_closing_later_loads_and_takes_them_to_the_kelurahan_stage_only(
) -> None:  # fmt: skip
    state = opened(usulan=(-30, 21), kelurahan=(-20, -1), kecamatan=(0, 30))
    assert state.exists and state.calendar["usulan"].closes == TODAY + dt.timedelta(days=21)
    assert state.last_day("usulan") == TODAY - dt.timedelta(days=1)
    assert not state.is_open("usulan", TODAY)
    assert not state.takes_proposals(TODAY, forum_pd_closed=False)
    assert state.is_open("usulan", TODAY - dt.timedelta(days=1))
    with pytest.raises(DomainError) as refused:
        cycle.check_takes_proposals(state, TODAY, forum_pd_closed=False)
    assert refused.value.message == ("pengajuan usulan RKPD 2028 sudah ditutup: Musrenbang Kelurahan/Desa berakhir"
                                     " 4 Desember 2026, sehingga usulan baru tidak dapat lagi dibahas di musyawarah"
                                     " mana pun")  # fmt: skip
    kota = state.calendar["kota"]  # another stage still moves
    assert cycle.decide(state, cycle.ChangeWindow(year=2028, stage="kota", opens=kota.opens,
                                                  closes=kota.closes + dt.timedelta(days=5), reason="x", today=TODAY))
    with pytest.raises(DomainError, match="Forum Perangkat Daerah RKPD 2028 sudah ditutup"):
        cycle.check_takes_proposals(opened(), TODAY, forum_pd_closed=True)


# --- 3. through the CLI --------------------------------------------------------------------------------------------


async def _propose_today(url: str, year: int) -> str:
    pool = await create_pool(url, min_size=1, max_size=3)
    try:
        store = EventStore(pool)
        proposals = ProposalService(pool, store, b"s27" * 11, ProjectionRunner(pool, all_projections()))
        content = await proposals.validate(p.ProposalInput(
            kelurahan="32.75.01.1001", rw="5", rt="3", kind="fisik", bidang="infrastruktur", title="Saluran air",
            problem="Saluran tersumbat setiap hujan", solution="Normalisasi saluran", beneficiaries="300",
            volume="150", unit="meter", estimated_cost="25 juta", address="Jl. Melati",
        ), year=year)  # fmt: skip
        made = await proposals.submit(content, p.validate_proposer("Siti Rahmawati", "0813-9876-5432"),
                                      idempotency_key="s27-today", request_fingerprint="s27", year=year)  # fmt: skip
        return made.code
    finally:
        await pool.close()


async def test_the_cli_advance_ends_the_stage_tonight_and_lists_its_moves(
    cli_env: dict[str, str], database_url: str, tmp_path: Path
) -> None:
    assert musrenbang(cli_env, "setup").returncode == 0
    today = cycles.today()
    year = today.year + 1
    opened_ = musrenbang(cli_env, "cycle", "open", "--year", str(year), "--theme", "T", "--programs",
                         str(_programs(tmp_path / "p.toml", calendar(today))))  # fmt: skip
    assert opened_.returncode == 0, opened_.stderr
    code = await _propose_today(database_url, year)

    # The proposals may not be extended past the kelurahan stage: refused, nothing recorded.
    before = await _events(database_url)
    line = one_error(musrenbang(cli_env, "cycle", "window", "--year", str(year), "--stage", "usulan", "--closes",
                                str(today + dt.timedelta(days=45)), "--reason", "diperpanjang"))  # fmt: skip
    assert "tidak dapat ditutup sesudah Musrenbang Kelurahan/Desa ditutup" in line, line
    assert await _events(database_url) == before

    advanced = musrenbang(cli_env, "cycle", "advance", "--year", str(year))
    assert advanced.returncode == 0, advanced.stderr
    assert f"RKPD {year}: now at kelurahan" in advanced.stdout
    assert f"usulan            {today - dt.timedelta(days=10)} .. {today}  (moved)" in advanced.stdout
    assert f"kelurahan         {today} .. {today + dt.timedelta(days=40)}  (moved)" in advanced.stdout

    pool = await create_pool(database_url, min_size=1, max_size=2)
    try:
        await ProjectionRunner(pool, all_projections()).catch_up_all()
        async with pool.acquire() as conn:
            [shown] = await cycle_views.overview(conn, today, year)
            submitted: asyncpg.Record = await conn.fetchrow("SELECT recorded_at FROM events WHERE stream_id = $1",
                                                            p.stream_id(code))  # fmt: skip
    finally:
        await pool.close()
    usulan = next(w for w in shown["calendar"] if w["stage"] == "usulan")
    day_of_proposal = city_rules.local_date("WIB", submitted["recorded_at"])
    assert usulan["opens"] <= day_of_proposal <= usulan["closes"] == today  # inside its window, as it came in
    assert usulan["open"] and shown["taking"]  # to the end of today
    changes = [(c["stage"], c["opens"], c["closes"], c["reason"]) for c in shown["changes"]]
    assert changes == [("usulan", today - dt.timedelta(days=10), today, cycle.ADVANCED),
                       ("kelurahan", today, today + dt.timedelta(days=40), cycle.ADVANCED)]  # fmt: skip
    listed = musrenbang(cli_env, "cycle", "list")
    assert f"usulan            {today - dt.timedelta(days=10)} .. {today}  open" in listed.stdout, listed.stdout
