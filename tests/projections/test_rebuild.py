"""`replay` rebuilds beside the live tables and switches them in one transaction: readers never see an
empty read model, the rebuilt tables are identical, and the live worker carries on afterwards."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import asyncpg
import pytest

from musrenbang.domain import proposal as p
from musrenbang.domain.events import CycleStageAdvanced
from musrenbang.eventlog.store import Append, EventStore, Position, StreamHead
from musrenbang.projections import all_projections
from musrenbang.projections.rebuild import RebuildNotSwitched
from musrenbang.projections.runner import ProjectionFailed, ProjectionRunner
from musrenbang.projections.supervisor import supervise
from musrenbang.services.proposals import ProposalService
from tests import history
from tests.projections.recording import Tally, table_checksum

WATCHED = ("proposals", "proposal_timeline", "forums", "forum_agenda", "lineage_steps", "rkpd_lines", "cycles")


async def _shape(conn: asyncpg.Connection, tables: list[str]) -> list[tuple[str, str, str]]:
    """Index and constraint names with their definitions (what later migrations refer to), storage settings
    and statistics targets."""
    rows = await conn.fetch(
        "SELECT tablename, indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema()"
        " AND tablename = ANY($1::text[]) ORDER BY 1, 2",
        tables,
    )
    keys = await conn.fetch(
        "SELECT c.relname, k.conname, pg_get_constraintdef(k.oid) FROM pg_constraint k JOIN pg_class c"
        " ON c.oid = k.conrelid WHERE c.relname = ANY($1::text[]) ORDER BY 1, 2",
        tables,
    )
    options = await conn.fetch(
        "SELECT relname, 'options', array_to_string(reloptions, ',') FROM pg_class"
        " WHERE relname = ANY($1::text[]) AND relnamespace = current_schema()::regnamespace ORDER BY 1",
        tables,
    )
    statistics = await conn.fetch(
        "SELECT c.relname, 'statistics ' || a.attname, a.attstattarget::text FROM pg_attribute a"
        " JOIN pg_class c ON c.oid = a.attrelid WHERE c.relname = ANY($1::text[])"
        " AND c.relnamespace = current_schema()::regnamespace AND a.attnum > 0 AND a.attstattarget >= 0 ORDER BY 1, 2",
        tables,
    )
    return [tuple(r) for r in rows] + [tuple(r) for r in keys] + [tuple(r) for r in options] + [
        tuple(r) for r in statistics
    ]


async def test_a_rebuild_on_a_live_site_never_shows_an_empty_read_model(
    store: EventStore, pool: asyncpg.Pool, database_url: str
) -> None:
    await history.build(pool, store)
    projections = all_projections()
    tables = [t for p in projections for t in p.tables]
    async with pool.acquire() as conn:
        before = {t: await table_checksum(conn, t) for t in tables}
        shape = await _shape(conn, tables)
        rows = {t: await conn.fetchval(f"SELECT count(*) FROM {t}") for t in WATCHED}
    assert all(rows.values())
    assert ("proposals", "options", "fillfactor=50") in shape  # storage settings are part of the shape kept
    assert ("lineage_steps", "statistics detail", "0") in shape  # and columns ANALYZE leaves out

    seen: dict[str, set[int]] = {t: set() for t in WATCHED}
    done = asyncio.Event()

    async def read_all_the_while() -> int:
        reads = 0
        async with pool.acquire() as conn:
            while not done.is_set():
                for t in WATCHED:
                    seen[t].add(await conn.fetchval(f"SELECT count(*) FROM {t}"))
                    reads += 1
        return reads

    live = ProjectionRunner(pool, projections, poll_interval=0.2)
    worker = asyncio.create_task(supervise(live, database_url))
    reader = asyncio.create_task(read_all_the_while())
    try:
        rebuilding = ProjectionRunner(pool, projections, batch_size=7)  # many small batches: a long rebuild
        applied = await asyncio.gather(*(rebuilding.replay(p) for p in projections))
        done.set()
        reads = await reader
        assert reads > 100  # the reader really read while the tables were rebuilt and switched
        for t in WATCHED:
            assert seen[t] == {rows[t]}, f"{t} was seen with {sorted(seen[t])} rows"
        assert all(applied)
        async with pool.acquire() as conn:
            assert {t: await table_checksum(conn, t) for t in tables} == before
            # Switched in with statistics: the planner knows the rebuilt tables from their first query.
            analyzed = {r[0] for r in await conn.fetch(
                "SELECT DISTINCT tablename FROM pg_stats WHERE schemaname = current_schema()"
                " AND tablename = ANY($1::text[])", list(WATCHED))}  # fmt: skip
            assert analyzed == set(WATCHED), set(WATCHED) - analyzed
            assert await _shape(conn, tables) == shape  # names the migrations gave, foreign key included
            assert not await conn.fetchval("SELECT count(*) FROM pg_namespace WHERE nspname LIKE 'rebuild_%'")

        # The live worker goes on with the new tables.
        cycle = await store.read_stream("cycle-2022")
        head = StreamHead(cycle[-1].stream_version, cycle[-1].hash)
        await store.append(Append("cycle-2022", head, [CycleStageAdvanced(year=2022, stage="kecamatan")]))
        for _ in range(600):
            if await pool.fetchval("SELECT stage FROM cycles WHERE year = 2022") == "kecamatan":
                break
            await asyncio.sleep(0.05)
        assert await pool.fetchval("SELECT stage FROM cycles WHERE year = 2022") == "kecamatan"
    finally:
        done.set()
        worker.cancel()
        await asyncio.gather(worker, reader, return_exceptions=True)


async def test_events_arriving_during_a_rebuild_end_up_in_the_switched_tables(
    store: EventStore, pool: asyncpg.Pool, database_url: str
) -> None:
    await history.build(pool, store)  # RKPD 2022 adopted, 2023 open
    projections = all_projections()
    live = ProjectionRunner(pool, projections, poll_interval=0.2)
    worker = asyncio.create_task(supervise(live, database_url))
    proposals = ProposalService(pool, store, b"s" * 32, live)
    written: list[str] = []
    stop = asyncio.Event()

    async def submit_the_while() -> None:
        n = 0
        while not stop.is_set():
            content = await proposals.validate(p.ProposalInput(
                kelurahan="32.75.01.1001", rw=3, rt=1, kind="fisik", bidang="infrastruktur", title=f"Usulan {n}",
                problem="Saluran tersumbat setiap hujan", solution="Normalisasi saluran", beneficiaries=10,
                volume=5, unit="meter", estimated_cost=5_000_000, address="Jl. Melati"), year=2023)  # fmt: skip
            done = await proposals.submit(content, p.Proposer(name="Siti", phone="+6281234567890"), year=2023,
                                          idempotency_key=f"during-{n}", request_fingerprint=str(n))  # fmt: skip
            written.append(done.code)
            n += 1

    writer = asyncio.create_task(submit_the_while())
    try:
        rebuilding = ProjectionRunner(pool, projections, batch_size=5)
        await asyncio.gather(*(rebuilding.replay(x) for x in projections))
        stop.set()
        await writer
        assert len(written) > 3  # proposals really arrived while the tables were rebuilt
        last = await pool.fetchrow("SELECT tx, global_position FROM events ORDER BY tx DESC, global_position DESC"
                                   " LIMIT 1")  # fmt: skip
        assert await live.wait_until_applied([x.name for x in projections], Position(last[0], last[1]), 60)
        async with pool.acquire() as conn:
            shown = {r[0] for r in await conn.fetch("SELECT code FROM proposals WHERE code = ANY($1::text[])",
                                                     written)}  # fmt: skip
            assert shown == set(written)
            tables = [t for x in projections for t in x.tables]
            after = {t: await table_checksum(conn, t) for t in tables}
    finally:
        stop.set()
        worker.cancel()
        await asyncio.gather(worker, writer, return_exceptions=True)
    # A quiet rebuild from the first event gives the very same tables.
    quiet = ProjectionRunner(pool, projections)
    for x in projections:
        await quiet.replay(x)
    async with pool.acquire() as conn:
        assert {t: await table_checksum(conn, t) for t in tables} == after


async def test_a_rebuild_of_a_projection_that_never_ran_leaves_a_checkpoint_to_go_on_from(
    store: EventStore, pool: asyncpg.Pool
) -> None:
    """A projection whose worker never ran (a new one after an upgrade, or a restore): no checkpoint row
    yet. The switch makes it, so the live worker carries on from the rebuilt tables instead of starting
    over on top of them."""
    await history.build(pool, store)
    cycles = next(x for x in all_projections() if x.name == "cycles")
    await pool.execute("DELETE FROM projection_checkpoints WHERE name = 'cycles'")
    await pool.execute("TRUNCATE cycle_priority_programs, cycles")
    rebuilding = ProjectionRunner(pool, [cycles])
    assert await rebuilding.replay(cycles) > 0
    row = await pool.fetchrow("SELECT tx, position FROM projection_checkpoints WHERE name = 'cycles'")
    assert row is not None and row["position"] > 0
    assert await ProjectionRunner(pool, [cycles]).catch_up(cycles) == 0  # nothing applied twice, nothing failed


class _FailsOn(Tally, register=False):
    """A tally that cannot apply one chosen event: a poison event met during a rebuild."""

    name = "test_fails_on"

    def __init__(self, position: int) -> None:
        super().__init__()
        self.position = position

    async def apply(self, conn: asyncpg.Connection, events) -> None:
        if any(e.global_position == self.position for e in events):
            raise ValueError("cannot apply this one")
        await super().apply(conn, events)


async def test_rebuilding_many_reads_once_and_a_failing_one_names_its_event(
    store: EventStore, pool: asyncpg.Pool
) -> None:
    """`replay_all` hands each batch to every projection. One that fails on an event leaves the shared
    reading and goes on alone, one event at a time near the failure, so the error names the event; the
    others are rebuilt whole and identical to what the live worker made."""
    from tests.projections.recording import TALLY_TABLE

    await history.build(pool, store)
    await pool.execute(TALLY_TABLE)
    cycles = next(x for x in all_projections() if x.name == "cycles")
    live = ProjectionRunner(pool, [cycles])
    await live.catch_up(cycles)
    async with pool.acquire() as conn:
        before = await table_checksum(conn, "cycles")
    total = await pool.fetchval("SELECT count(*) FROM events")
    poison = await pool.fetchval("SELECT global_position FROM events ORDER BY tx, global_position OFFSET 40 LIMIT 1")
    bad = _FailsOn(poison)
    read: list[int] = []
    # Batches of 25: the reading is shared over several batches before the failing one.
    rebuilding = ProjectionRunner(pool, [cycles, bad], batch_size=25)
    failed = None
    try:
        await rebuilding.replay_all([cycles, bad], read.append)
    except ProjectionFailed as exc:
        failed = exc
    assert failed is not None and failed.position == poison and failed.projection == "test_fails_on"
    assert sum(read) == total  # the log was read once, for both
    async with pool.acquire() as conn:
        assert await table_checksum(conn, "cycles") == before
        assert await conn.fetchval("SELECT count(*) FROM test_tally") == 0  # the live table was left alone
        # The healthy one was switched in; only the failing one's copies are left (the next rebuild drops them).
        assert await conn.fetchval("SELECT array_agg(nspname) FROM pg_namespace WHERE nspname LIKE 'rebuild_%'") == [
            "rebuild_test_fails_on"]


class _Appending(Tally, register=False):
    """A tally that only adds rows (as lineage steps and timelines do), so a rebuild fills its copy before
    indexing it. It notes how many indexes its table has at each batch, and can write one event twice."""

    name = "test_appending"
    appended = ("test_tally",)

    def __init__(self, twice: int | None = None) -> None:
        super().__init__()
        self.twice = twice
        self.indexes: list[int] = []

    async def apply(self, conn: asyncpg.Connection, events) -> None:
        self.indexes.append(await conn.fetchval(
            "SELECT count(*) FROM pg_indexes WHERE schemaname = current_schema() AND tablename = 'test_tally'"
        ))  # fmt: skip
        await super().apply(conn, events)
        await super().apply(conn, [e for e in events if e.global_position == self.twice])


async def _tally_table(pool: asyncpg.Pool) -> None:
    from tests.projections.recording import TALLY_TABLE

    await pool.execute(TALLY_TABLE)
    # Partial, with INCLUDE: rebuilt from the live definition as it is.
    await pool.execute("CREATE INDEX IF NOT EXISTS test_tally_stream ON test_tally (stream_id, stream_version)"
                       " INCLUDE (recorded_at) WHERE stream_version > 0")  # fmt: skip


async def test_an_appended_table_is_filled_first_and_indexed_as_the_live_one_before_the_switch(
    store: EventStore, pool: asyncpg.Pool
) -> None:
    await history.build(pool, store)
    await _tally_table(pool)
    async with pool.acquire() as conn:
        shape = await _shape(conn, ["test_tally"])
    tally = _Appending()
    applied = await ProjectionRunner(pool, [tally], batch_size=50).replay(tally)
    assert applied == await pool.fetchval("SELECT count(*) FROM events")
    assert len(tally.indexes) > 1 and set(tally.indexes) == {0}  # every batch went into a table with no index
    async with pool.acquire() as conn:
        # The key and the other index, under the names the live table had.
        assert await _shape(conn, ["test_tally"]) == shape
        assert {r[1] for r in shape} >= {"test_tally_pkey", "test_tally_stream"}
        assert await conn.fetchval("SELECT count(*) FROM test_tally") == applied


async def _not_switched(store: EventStore, pool: asyncpg.Pool, make: Callable[[], Awaitable[Tally]]) -> str:
    """Rebuild the tally `make` gives beside a live one, over the history: the rebuild must refuse to
    switch and leave the live table as it was. Returns what it said."""
    await history.build(pool, store)
    await _tally_table(pool)
    live = Tally()
    await ProjectionRunner(pool, [live]).catch_up(live)
    async with pool.acquire() as conn:
        before = await table_checksum(conn, "test_tally")
    projection = await make()
    with pytest.raises(RebuildNotSwitched) as refused:
        await ProjectionRunner(pool, [projection], batch_size=50).replay(projection)
    async with pool.acquire() as conn:
        assert await table_checksum(conn, "test_tally") == before
        assert await _shape(conn, ["test_tally"]) != []  # the live table kept its indexes
    return str(refused.value)


async def test_a_row_an_appended_table_holds_twice_stops_the_rebuild_before_the_switch(
    store: EventStore, pool: asyncpg.Pool
) -> None:
    """Without an index while it is filled, a duplicate is found when the key is built: the rebuild says
    so, naming the row."""
    twice: list[int] = []

    async def writing_one_row_twice() -> Tally:
        twice.append(await pool.fetchval("SELECT global_position FROM events ORDER BY tx, global_position"
                                         " OFFSET 30 LIMIT 1"))  # fmt: skip
        return _Appending(twice[0])

    message = await _not_switched(store, pool, writing_one_row_twice)
    assert "test_tally twice" in message and f"(global_position)=({twice[0]})" in message, message


class _MigratedMeanwhile(Tally, register=False):
    """A tally during whose rebuild the database is migrated (a migration recorded by its first batch)."""

    name = "test_migrated_meanwhile"

    async def apply(self, conn: asyncpg.Connection, events) -> None:
        await conn.execute("INSERT INTO schema_migrations (version, name, checksum)"
                           " VALUES (9999, '9999_meanwhile.sql', '-') ON CONFLICT DO NOTHING")  # fmt: skip
        await super().apply(conn, events)


async def test_copies_made_before_a_migration_are_not_switched_in(store: EventStore, pool: asyncpg.Pool) -> None:
    """They have the old shape, and the live tables would keep it for good (the next rebuild copies what
    is live): the rebuild says so and switches nothing."""

    async def migrated_meanwhile() -> Tally:
        return _MigratedMeanwhile()

    message = await _not_switched(store, pool, migrated_meanwhile)
    assert "migrated while test_migrated_meanwhile was rebuilt" in message and "9999 now" in message, message
