"""Every projection, fed every kind of event, is rebuilt byte for byte by a replay."""

from __future__ import annotations

import asyncpg

from musrenbang.domain.events import EVENT_TYPES
from musrenbang.eventlog.store import EventStore
from musrenbang.projections import all_projections
from musrenbang.projections.runner import ProjectionRunner
from tests import history
from tests.projections.recording import table_checksum


async def test_replaying_every_projection_gives_the_same_tables(store: EventStore, pool: asyncpg.Pool) -> None:
    built = await history.build(pool, store)
    types = {r[0] for r in await pool.fetch("SELECT DISTINCT event_type FROM events")}
    assert types == set(EVENT_TYPES)  # every kind of event is in this history

    runner = ProjectionRunner(pool, all_projections())
    tables = [t for p in all_projections() for t in p.tables]
    async with pool.acquire() as conn:
        before = {t: await table_checksum(conn, t) for t in tables}
        for projection in all_projections():
            await runner.replay(projection)
        after = {t: await table_checksum(conn, t) for t in tables}
    assert after == before

    statuses = dict(await pool.fetch("SELECT code, status FROM proposals"))
    assert [statuses[c] for c in built.codes] == [
        "masuk_rkpd", "masuk_rkpd", "ditolak", "tidak_terakomodasi", "digabungkan", "masuk_rkpd", "tidak_terakomodasi",
    ]  # fmt: skip
    steps = [r[0] for r in await pool.fetch(
        "SELECT event_type FROM lineage_steps WHERE subject = 'rkpd/2022/DBMSDA-002' ORDER BY position")]  # fmt: skip
    assert steps == ["rkpd.line_set", "rkpd.adopted", "rkpd.line_set", "rkpd.adopted", "rkpd.enacted",
                     "rkpd.forum_closed", "rkpd.forum_closed", "rkpd.milestone_recorded", "rkpd.milestone_recorded"]
