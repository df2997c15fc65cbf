"""Projection "cycles": planning cycles with their theme, priority programs (and sasaran), pagu indikatif
per kecamatan, calendar, and whether the RKPD is adopted. The stage a cycle is at on a given day is the
domain's to say (domain/cycle.py, `Cycle.stage_on`); `overview` gives it what it needs."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import asyncpg

from musrenbang.domain.city_forums import FORUM_PD
from musrenbang.domain.cycle import ADOPTED, STAGES, Cycle, planned_first, working_first
from musrenbang.domain.events import CycleCancelled, CycleStageAdvanced, CycleStarted, CycleWindowChanged, StageWindow
from musrenbang.eventlog.store import RecordedEvent
from musrenbang.projections import Projection, Statements


class Cycles(Projection):
    name = "cycles"
    tables = ("cycle_window_changes", "cycle_pagu_kecamatan", "cycle_calendar", "cycle_priority_programs", "cycles")
    handles = (CycleStarted, CycleStageAdvanced, CycleWindowChanged, CycleCancelled)

    async def apply(self, conn: asyncpg.Connection, events: Sequence[RecordedEvent]) -> None:
        writes = Statements(conn)
        for recorded in events:
            match recorded.event:
                case CycleStarted() as e:
                    await self._started(writes, recorded, e)
                case CycleStageAdvanced() as e:
                    await self._advanced(writes, e)
                case CycleWindowChanged() as e:
                    await writes.add(
                        "INSERT INTO cycle_calendar (year, stage, opens, closes) VALUES ($1, $2, $3, $4)"
                        " ON CONFLICT (year, stage) DO UPDATE SET opens = EXCLUDED.opens, closes = EXCLUDED.closes",
                        e.year, e.stage, e.opens, e.closes,
                    )  # fmt: skip
                    await writes.add(
                        "INSERT INTO cycle_window_changes (year, seq, stage, opens, closes, reason, changed_at)"
                        " VALUES ($1, $2, $3, $4, $5, $6, $7)",
                        e.year, recorded.global_position, e.stage, e.opens, e.closes, e.reason, recorded.recorded_at,
                    )  # fmt: skip
                case CycleCancelled() as e:  # as if never opened: the year may be opened again
                    for table in self.tables:
                        await writes.add(f"DELETE FROM {table} WHERE year = $1", e.year)
        await writes.flush()

    @staticmethod
    async def _started(writes: Statements, recorded: RecordedEvent, e: CycleStarted) -> None:
        await writes.add(
            "INSERT INTO cycles (year, region, theme, stage, kickoff_on, started_at, stream_id)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7)",
            e.year, e.region, e.theme, STAGES[0], e.kickoff_on, recorded.recorded_at, recorded.stream_id,
        )  # fmt: skip
        targets = e.priority_targets or ("",) * len(e.priority_programs)
        for i, (title, target) in enumerate(zip(e.priority_programs, targets, strict=True), start=1):
            await writes.add(
                "INSERT INTO cycle_priority_programs (year, number, title, target) VALUES ($1, $2, $3, $4)",
                e.year, i, title, target,
            )  # fmt: skip
        for w in e.calendar:
            await writes.add("INSERT INTO cycle_calendar (year, stage, opens, closes) VALUES ($1, $2, $3, $4)",
                             e.year, w.stage, w.opens, w.closes)  # fmt: skip
        for c in e.pagu_kecamatan:
            await writes.add("INSERT INTO cycle_pagu_kecamatan (year, kecamatan, pagu) VALUES ($1, $2, $3)",
                             e.year, c.kecamatan, c.pagu)  # fmt: skip

    @staticmethod
    async def _advanced(writes: Statements, e: CycleStageAdvanced) -> None:
        """As domain/cycle.py evolves it: adoption marks the cycle; another stage, opened on a day, closes
        the windows before it the day before (at the latest) and opens its own (at the latest)."""
        await writes.add("UPDATE cycles SET stage = $2, adopted = adopted OR $3 WHERE year = $1",
                         e.year, e.stage, e.stage == ADOPTED)  # fmt: skip
        if e.on is None or e.stage == ADOPTED:
            return
        earlier = list(STAGES[: STAGES.index(e.stage)])
        await writes.add(
            "UPDATE cycle_calendar SET closes = least(closes, $3::date - 1)"
            " WHERE year = $1 AND stage = ANY($2::text[])",
            e.year, earlier, e.on,
        )  # fmt: skip
        await writes.add(
            "UPDATE cycle_calendar SET opens = least(opens, $3), closes = greatest(closes, $3)"
            " WHERE year = $1 AND stage = $2",
            e.year, e.stage, e.on,
        )  # fmt: skip


async def all_cycles(conn: asyncpg.Connection) -> list[asyncpg.Record]:
    """Every cycle, newest year first."""
    return await conn.fetch("SELECT * FROM cycles ORDER BY year DESC")


async def current_cycle(conn: asyncpg.Connection, today: dt.date) -> asyncpg.Record | None:
    """The cycle being planned on `today` (domain/cycle.py, `planned_first`, says which)."""
    rows = await conn.fetch(
        "SELECT c.*, k.opens AS usulan_opens FROM cycles c"
        " LEFT JOIN cycle_calendar k ON k.year = c.year AND k.stage = 'usulan'"
    )
    ordered = planned_first([(r["year"], r["adopted"], r["usulan_opens"]) for r in rows], today)
    return next((r for year in ordered for r in rows if r["year"] == year), None)


async def years_at_work(conn: asyncpg.Connection, stage: str, today: dt.date) -> list[int]:
    """Every cycle's year in the order a staff page of `stage` offers them (domain/cycle.py, `working_first`)."""
    rows = await conn.fetch(
        "SELECT c.year, c.adopted, k.opens, k.closes FROM cycles c"
        " LEFT JOIN cycle_calendar k ON k.year = c.year AND k.stage = $1", stage,
    )  # fmt: skip
    windows = [(r["year"], r["adopted"], StageWindow(stage=stage, opens=r["opens"], closes=r["closes"])
                if r["opens"] is not None else None) for r in rows]  # fmt: skip
    return working_first(windows, today)


async def made_in(conn: asyncpg.Connection, year: int) -> dict[str, int]:
    """What the read models hold of `year` besides its cycle: proposals (a pokir is one) and the city's own
    forums (an imported Pabulib election names a year too, but belongs to no cycle of ours), by kind, only
    those with any. A cycle whose year holds any is not withdrawn (services/cycles.py)."""
    row = await conn.fetchrow(
        "SELECT (SELECT count(*) FROM proposals WHERE year = $1) AS proposals,"
        " (SELECT count(*) FROM forums WHERE year = $1 AND origin = 'musrenbang') AS forums",
        year,
    )  # fmt: skip
    return {kind: count for kind, count in row.items() if count}


async def withdrawable(conn: asyncpg.Connection, years: list[int]) -> set[int]:
    """Of `years`, those whose year the read models hold nothing of (no proposal, forum or city-level
    record): what the staff page offers to withdraw. The withdrawal checks again, under its locks."""
    rows = await conn.fetch(
        "SELECT y FROM unnest($1::int[]) AS y WHERE NOT EXISTS (SELECT 1 FROM proposals p WHERE p.year = y)"
        " AND NOT EXISTS (SELECT 1 FROM forums f WHERE f.year = y AND f.origin = 'musrenbang')"
        " AND NOT EXISTS (SELECT 1 FROM rkpd_state s WHERE s.year = y)"
        " AND NOT EXISTS (SELECT 1 FROM rkpd_lines l WHERE l.year = y)",
        years,
    )  # fmt: skip
    return {r["y"] for r in rows}


async def cycle_row(conn: asyncpg.Connection, year: int) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT * FROM cycles WHERE year = $1", year)


async def priority_programs(conn: asyncpg.Connection, year: int) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT number, title, target FROM cycle_priority_programs WHERE year = $1 ORDER BY number", year
    )


async def overview(conn: asyncpg.Connection, today: dt.date, year: int | None = None) -> list[dict[str, Any]]:
    """Every cycle (or the one of `year`), newest first, as the public sees it on `today`: theme, the
    stage it is at, whether its RKPD is adopted, its calendar with what is open now (and `until` when: the
    proposals no later than the kelurahan stage), whether it takes proposals (`taking`: the proposals'
    window says so too), its priority programs and the recorded changes of its windows. One read of each
    table, whatever the number of years; what is open and the stage are the domain's to say
    (`Cycle.is_open`, `Cycle.takes_proposals`, `Cycle.stage_on`), the Forum Perangkat Daerah's close read
    from the city level's read model."""
    rows = [r for r in await all_cycles(conn) if year is None or r["year"] == year]
    years = [r["year"] for r in rows]
    windows = await conn.fetch("SELECT year, stage, opens, closes FROM cycle_calendar WHERE year = ANY($1)", years)
    forum_pd_closed = {r["year"] for r in await conn.fetch(
        "SELECT year FROM rkpd_forums WHERE year = ANY($1) AND forum = $2 AND closed_at IS NOT NULL", years, FORUM_PD)}
    programs = await conn.fetch("SELECT year, number, title, target FROM cycle_priority_programs"
                                " WHERE year = ANY($1) ORDER BY number", years)  # fmt: skip
    changes = await conn.fetch("SELECT year, stage, opens, closes, reason, changed_at FROM cycle_window_changes"
                               " WHERE year = ANY($1) ORDER BY seq", years)  # fmt: skip
    out = []
    for row in rows:
        own = {w["stage"]: StageWindow(stage=w["stage"], opens=w["opens"], closes=w["closes"])
               for w in windows if w["year"] == row["year"]}  # fmt: skip
        state = Cycle(year=row["year"], region=row["region"], theme=row["theme"], stage=row["stage"],
                      adopted=row["adopted"], calendar={s: own[s] for s in STAGES if s in own})  # fmt: skip
        pd_closed = row["year"] in forum_pd_closed
        taking = state.takes_proposals(today, forum_pd_closed=pd_closed)
        out.append({
            "year": row["year"], "theme": row["theme"], "stage": state.stage_on(today), "adopted": state.adopted,
            "taking": taking,
            "calendar": [{"stage": w.stage, "opens": w.opens, "closes": w.closes, "until": state.last_day(w.stage),
                          "open": state.shows_open(w.stage, today, forum_pd_closed=pd_closed)}
                         for w in state.calendar.values()],
            "programs": [p for p in programs if p["year"] == row["year"]],
            "changes": [c for c in changes if c["year"] == row["year"]],
        })  # fmt: skip
    return out


def open_windows(cycles: list[dict[str, Any]]) -> list[tuple[dict[str, Any], str, dict[str, Any]]]:
    """From an `overview`: every (cycle, stage, window) open today, newest year first — what the home page
    announces (penetapan is not something the public takes part in)."""
    return [(c, w["stage"], w) for c in cycles for w in c["calendar"] if w["open"] and w["stage"] != ADOPTED]
