"""The planning cycle on the event log: opened once per RKPD year, then moved through its stages
(usulan → kelurahan → kecamatan → perangkat daerah → kota → ditetapkan) by Bappeda, so that everyone's
pages say where the year's planning stands."""

from __future__ import annotations

from musrenbang.domain import cycle
from musrenbang.eventlog.store import AppendResult, EventStore, Metadata
from musrenbang.services.streams import Aggregate, execute

CYCLE = Aggregate(cycle.Cycle(), cycle.decide, cycle.evolve)


async def advance_stage(
    store: EventStore, year: int, metadata: Metadata, idempotency_key: str | None = None
) -> AppendResult:
    """Move the cycle of `year` to its next stage (refused after the last one)."""
    return await execute(store, CYCLE, cycle.stream_id(year), cycle.AdvanceStage(year=year), metadata=metadata,
                         idempotency_key=idempotency_key)  # fmt: skip
