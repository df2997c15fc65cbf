"""Projection "cycles": planning cycles with their theme, priority programs and stage."""

from __future__ import annotations

from collections.abc import Sequence

import asyncpg

from musrenbang.domain.cycle import STAGES
from musrenbang.domain.events import CycleStageAdvanced, CycleStarted
from musrenbang.eventlog.store import RecordedEvent
from musrenbang.projections import Projection


class Cycles(Projection):
    name = "cycles"
    tables = ("cycle_priority_programs", "cycles")

    async def apply(self, conn: asyncpg.Connection, events: Sequence[RecordedEvent]) -> None:
        for recorded in events:
            match recorded.event:
                case CycleStarted() as e:
                    await conn.execute(
                        "INSERT INTO cycles (year, region, theme, stage, kickoff_on, started_at, stream_id)"
                        " VALUES ($1, $2, $3, $4, $5, $6, $7)",
                        e.year,
                        e.region,
                        e.theme,
                        STAGES[0],
                        e.kickoff_on,
                        recorded.recorded_at,
                        recorded.stream_id,
                    )
                    await conn.executemany(
                        "INSERT INTO cycle_priority_programs (year, number, title) VALUES ($1, $2, $3)",
                        [(e.year, i, title) for i, title in enumerate(e.priority_programs, start=1)],
                    )
                case CycleStageAdvanced() as e:
                    await conn.execute("UPDATE cycles SET stage = $2 WHERE year = $1", e.year, e.stage)


async def current_cycle(conn: asyncpg.Connection) -> asyncpg.Record | None:
    """The newest cycle (the one being planned now)."""
    return await conn.fetchrow("SELECT * FROM cycles ORDER BY year DESC LIMIT 1")


async def priority_programs(conn: asyncpg.Connection, year: int) -> list[asyncpg.Record]:
    return await conn.fetch("SELECT number, title FROM cycle_priority_programs WHERE year = $1 ORDER BY number", year)
