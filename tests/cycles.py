"""Opening a cycle for tests: the city set up (Kota Bekasi, the shipped settings) and the RKPD 2022 cycle
with every stage's window open from mid-2020 (the dates its forums were held on) to a year from now, so
that a test can propose, hold forums and adopt on any day it runs. Tests of the calendar itself open
their own cycles."""

from __future__ import annotations

import asyncio
import datetime as dt
import threading

from musrenbang.db.connect import create_pool
from musrenbang.demo import RKPD_2022_PROGRAMS, RKPD_2022_THEME
from musrenbang.domain import bounds, cycle
from musrenbang.domain.events import StageWindow
from musrenbang.eventlog.store import EventStore, Metadata
from musrenbang.services import cycles
from musrenbang.services.bootstrap import prepare, set_up_city

SYSTEM = Metadata(actor="system", role="system")
FORUM_DAY = dt.date(2021, 1, 20)
"""The day test forums of RKPD 2022 are held: inside the test calendar's windows."""


def open_calendar(around: dt.date | None = None, year: int = 2022) -> tuple[StageWindow, ...]:
    """Every stage open from before the test forums' days (or from the first day RKPD `year` may be
    planned on, if later) to a year after `around`."""
    day = around or cycles.today()
    planned_from = dt.date(year - 2, 1, 1) if bounds.MIN_YEAR <= year <= bounds.MAX_YEAR else dt.date(2020, 6, 1)
    opens = max(dt.date(2020, 6, 1), planned_from)
    closes = max(day, opens) + dt.timedelta(days=365)
    return tuple(StageWindow(stage=s, opens=opens, closes=closes) for s in cycle.STAGES)


async def open_test_cycle(store: EventStore, year: int = 2022) -> None:
    """Once per database, however often it is called."""
    await set_up_city(store)
    if (await cycles.load_cycle(store, year)).exists:
        return
    command = cycle.StartCycle(year=year, region="32.75", theme=RKPD_2022_THEME, priority_programs=RKPD_2022_PROGRAMS,
                               calendar=open_calendar(year=year))  # fmt: skip
    await cycles.open_cycle(store, command, SYSTEM)


def open_test_cycle_at(database_url: str, year: int = 2022) -> None:
    """`open_test_cycle` from synchronous code (a test that starts a server process), in a thread of its
    own so that it works whether or not the caller runs an event loop. A database not migrated yet is
    prepared first, as the server would at start (migrations, the city, its regions)."""

    async def run() -> None:
        pool = await create_pool(database_url, min_size=1, max_size=2)
        try:
            store = EventStore(pool)
            async with pool.acquire() as conn:
                await prepare(conn, store)
            await open_test_cycle(store, year)
        finally:
            await pool.close()

    errors: list[BaseException] = []

    def target() -> None:
        try:
            asyncio.run(run())
        except BaseException as exc:  # noqa: BLE001 - handed to the caller
            errors.append(exc)

    thread = threading.Thread(target=target)
    thread.start()
    thread.join()
    if errors:
        raise errors[0]
