"""The server's own check of the whole log, so that routine monitoring sees a log changed behind its back.

`musrenbang verify` checks every chain and seal when an operator runs it; an event changed in the database
(its guard switched off) went unseen by `/health` and `musrenbang status` until then. So each server process
runs `verify_round` soon after it starts and every MUSRENBANG_VERIFY_INTERVAL seconds (the supervised job in
projections/supervisor.py): the same check (`verify.verify_database`, every chain and every seal, in one
read-only snapshot that blocks no writer and holds back no reader of the safe order), its result stored in
`log_verifications` (migration 0050) where every process's `/health` and `musrenbang status` read the newest
row. A log whose newest check found it broken makes their status `degraded`, and the sealer writes no seal
over it (eventlog/seal.py).

One process at a time: a round takes a session advisory lock with a try (VERIFY_LOCK); a process that finds
it taken skips that round (another is verifying the same log right now). A round also skips when another
process started one within `fresh_within` seconds (with several processes, one check per interval, not one
per process).
"""

from __future__ import annotations

import datetime as dt
import enum
from typing import NamedTuple

import asyncpg

from musrenbang.eventlog.verify import LogReport, verify_database

VERIFY_LOCK = 0x7665726966
"""Session advisory lock held during a round: one process verifies at a time."""
KEPT = 10
"""How many of the newest results `log_verifications` keeps."""
PROBLEM_CHARS = 1000
"""How much of the first problem's text is stored (a seal's problem names its hash and counts; a chain's,
the stream, version, position and event type)."""


class Verification(NamedTuple):
    """A check of the whole log as stored (a row of `log_verifications`)."""

    started_at: dt.datetime
    finished_at: dt.datetime
    events: int
    intact: bool
    problems: int
    """How many problems `verify` would list (broken streams and seal problems)."""
    problem: str | None
    """The first of them, worded as `musrenbang verify` words it (after its "BROKEN: "), cut to PROBLEM_CHARS."""


class Skipped(enum.Enum):
    LOCKED = "another process is verifying the log"
    FRESH = "another process verified the log recently"


_COLUMNS = "started_at, finished_at, events, intact, problems, problem"


async def latest(conn: asyncpg.Connection) -> Verification | None:
    """The newest check of the log (None: never checked yet)."""
    row = await conn.fetchrow(f"SELECT {_COLUMNS} FROM log_verifications ORDER BY id DESC LIMIT 1")
    return None if row is None else Verification(*row)


def problems_of(report: LogReport) -> list[str]:
    """What `musrenbang verify` prints after "BROKEN: ", in its order."""
    return [f"chain broken: {b}" for b in report.breaks] + report.seal_problems


async def verify_round(pool: asyncpg.Pool, fresh_within: float | None = None) -> Verification | Skipped:
    """Check every chain and seal of the log and store the result; or skip (another process holds the lock,
    or started a check less than `fresh_within` seconds ago)."""
    async with pool.acquire() as conn:
        if not await conn.fetchval("SELECT pg_try_advisory_lock($1)", VERIFY_LOCK):
            return Skipped.LOCKED
        try:
            if fresh_within and await conn.fetchval(
                "SELECT EXISTS (SELECT FROM log_verifications WHERE started_at > now() - make_interval(secs => $1))",
                fresh_within,
            ):
                return Skipped.FRESH
            started = await conn.fetchval("SELECT clock_timestamp()")
            report = await verify_database(conn)
            found = problems_of(report)
            problem = found[0][:PROBLEM_CHARS] if found else None
            async with conn.transaction():
                row = await conn.fetchrow(
                    f"INSERT INTO log_verifications ({_COLUMNS}) VALUES ($1, clock_timestamp(), $2, $3, $4, $5)"
                    f" RETURNING {_COLUMNS}",
                    started, report.chains.events, not found, len(found), problem,
                )  # fmt: skip
                await conn.execute(
                    "DELETE FROM log_verifications WHERE id < (SELECT min(id) FROM"
                    " (SELECT id FROM log_verifications ORDER BY id DESC LIMIT $1) AS kept)",
                    KEPT,
                )  # fmt: skip
            return Verification(*row)
        finally:
            try:
                await conn.execute("SELECT pg_advisory_unlock($1)", VERIFY_LOCK)
            except BaseException:
                conn.terminate()  # the pool does not release advisory locks (db/connect.py): its session ends
                raise
