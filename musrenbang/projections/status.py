"""Where every projection stands, as /health and `musrenbang status` report it.

A projection is `ok` when it has applied everything committed that it handles, `catching_up` while
such events wait for it (or it has just failed and is trying again), and `stalled` once it has failed
STALLED_AFTER times in a row on the same event: then the event's position and type and the error are
given, and the overall status is not ok. Events of types a projection does nothing with are passed over
at its next wake-up or poll (projections/supervisor.py): they are not lag, its tables are whole without
them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import asyncpg
import msgspec

from musrenbang.eventlog.store import START, Position, count_after
from musrenbang.projections import Projection

STALLED_AFTER = 3
"""Failures in a row on the same event after which a projection is reported as stalled."""
LAG_COUNTED_UP_TO = 100_000
OK, CATCHING_UP, STALLED = "ok", "catching_up", "stalled"


class ProjectionStatus(msgspec.Struct, kw_only=True, omit_defaults=True):
    state: str
    lag: int
    """Events of the types the projection handles committed but not applied yet (counted among the next
    LAG_COUNTED_UP_TO events)."""
    error: str | None = None
    position: int | None = None
    """Global position of the event it fails on."""
    event_type: str | None = None
    failures: int = 0
    failing_since: dt.datetime | None = None


async def projection_status(conn: asyncpg.Connection, projections: Sequence[Projection]
                            ) -> dict[str, ProjectionStatus]:  # fmt: skip
    names = [p.name for p in projections]
    rows = await conn.fetch(
        "SELECT name, tx, position, failures, failing_position, failing_type, error, failing_since"
        " FROM projection_checkpoints WHERE name = ANY($1::text[])",
        list(names),
    )
    found = {r["name"]: r for r in rows}
    out = {}
    for projection in projections:
        name = projection.name
        r = found.get(name)
        at = Position(r["tx"], r["position"]) if r is not None else START
        lag = await count_after(conn, at, LAG_COUNTED_UP_TO, projection.kinds)
        failures = r["failures"] if r is not None else 0
        state = STALLED if failures >= STALLED_AFTER else CATCHING_UP if lag or failures else OK
        if r is None or not failures:
            out[name] = ProjectionStatus(state=state, lag=lag)
            continue
        out[name] = ProjectionStatus(
            state=state, lag=lag, error=r["error"], position=r["failing_position"], event_type=r["failing_type"],
            failures=failures, failing_since=r["failing_since"],
        )  # fmt: skip
    return out


async def checkpoints(conn: asyncpg.Connection, names: Sequence[str]) -> tuple[tuple[int, int], ...]:
    """What each named projection's tables are, in the order named: the position of the last event that
    changed them (of a kind the projection handles; 0: none yet) and their generation (a `replay`
    switches new tables in at the same position). A read model's state is a function of them, so a page
    read from those models can be cached by them, through events they ignore (a seal, a ballot for the
    calendar)."""
    found = {r["name"]: (r["changed"], r["generation"]) for r in await conn.fetch(
        "SELECT name, changed, generation FROM projection_checkpoints WHERE name = ANY($1::text[])",
        list(names))}  # fmt: skip
    return tuple(found.get(n, (0, 0)) for n in names)
