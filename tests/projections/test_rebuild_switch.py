"""The switch of a rebuild against what else a live database holds: grants, indexes of one definition,
readers in a snapshot of their own, migrations under way. Each of these once failed the rebuild or
quietly undid a setting (a review of projections/rebuild.py, issue 15)."""

from __future__ import annotations

import asyncio
import logging
import uuid

import asyncpg
import pytest

from musrenbang.db.migrations import MIGRATION_LOCK_KEY
from musrenbang.eventlog.store import EventStore
from musrenbang.projections import Projection, all_projections
from musrenbang.projections.rebuild import RebuildNotSwitched, rebuild_many
from musrenbang.projections.runner import ProjectionRunner
from tests import history
from tests.projections.test_rebuild import _shape

_MIGRATIONS_LOCK = f"locktype = 'advisory' AND (classid::bigint << 32) + objid::bigint = {MIGRATION_LOCK_KEY}"


def _projection(name: str) -> Projection:
    return next(p for p in all_projections() if p.name == name)


async def _waiting(pool: asyncpg.Pool, condition: str, within: float = 30.0) -> bool:
    """Whether some backend comes to wait for a lock matching `condition` (SQL on pg_locks) in time."""
    for _ in range(int(within / 0.02)):
        if await pool.fetchval(f"SELECT count(*) FROM pg_locks WHERE NOT granted AND {condition}"):
            return True
        await asyncio.sleep(0.02)
    return False


async def _generation(pool: asyncpg.Pool, name: str) -> int:
    return await pool.fetchval("SELECT generation FROM projection_checkpoints WHERE name = $1", name)


async def _refused_rebuild(pool: asyncpg.Pool, name: str) -> str:
    """The message of a rebuild of projection `name` that refuses to start; nothing switched, no copies left."""
    generation = await _generation(pool, name)
    projection = _projection(name)
    with pytest.raises(RebuildNotSwitched) as refused:
        await ProjectionRunner(pool, [projection]).replay(projection)
    assert await _generation(pool, name) == generation  # nothing switched
    assert not await pool.fetchval("SELECT count(*) FROM pg_namespace WHERE nspname LIKE 'rebuild_%'")
    return str(refused.value)


async def test_grants_to_public_and_to_roles_whose_names_need_quotes_survive_a_rebuild(
    store: EventStore, pool: asyncpg.Pool
) -> None:
    await history.build(pool, store)
    role = f"Musrenbang-Reader {uuid.uuid4().hex[:8]}"  # upper case, a dash and a space: quoted in SQL
    await pool.execute(f'CREATE ROLE "{role}"')
    try:
        await pool.execute("GRANT SELECT ON cycles TO PUBLIC")
        await pool.execute(f'GRANT SELECT, UPDATE ON cycles TO "{role}" WITH GRANT OPTION')
        acl = "SELECT relacl::text[] FROM pg_class WHERE oid = 'cycles'::regclass"
        before = sorted(await pool.fetchval(acl))
        cycles = _projection("cycles")
        assert await ProjectionRunner(pool, [cycles]).replay(cycles) > 0
        assert sorted(await pool.fetchval(acl)) == before
        assert any(entry.startswith("=r/") for entry in before)  # PUBLIC may read
        assert any(entry.startswith(f'"{role}"=r*w*/') for entry in before)
    finally:
        await pool.execute(f'DROP OWNED BY "{role}"')
        await pool.execute(f'DROP ROLE "{role}"')


async def test_indexes_of_one_definition_keep_their_names_and_their_constraints(
    store: EventStore, pool: asyncpg.Pool
) -> None:
    """A plain index made twice, and a unique index beside the primary key on the same column: each name
    goes back to an index of its kind, the primary key's to the one backing the key."""
    await history.build(pool, store)
    await pool.execute("CREATE INDEX cycles_stage_a ON cycles (stage)")
    await pool.execute("CREATE INDEX cycles_stage_b ON cycles (stage)")
    await pool.execute("CREATE UNIQUE INDEX cycles_year_again ON cycles (year)")
    async with pool.acquire() as conn:
        shape = await _shape(conn, ["cycles"])
    assert {r[1] for r in shape} >= {"cycles_stage_a", "cycles_stage_b", "cycles_year_again", "cycles_pkey"}
    cycles = _projection("cycles")
    assert await ProjectionRunner(pool, [cycles]).replay(cycles) > 0
    async with pool.acquire() as conn:
        assert await _shape(conn, ["cycles"]) == shape


async def test_a_reader_that_deadlocks_with_the_switch_only_delays_it(
    store: EventStore, pool: asyncpg.Pool, caplog: pytest.LogCaptureFixture
) -> None:
    """A page rendered in one snapshot reads `proposals`, then `proposal_timeline`; the switch locks
    `proposal_timeline` and waits for `proposals`. PostgreSQL ends the cycle by aborting the switch, which
    tries again and switches; the reader was never in the wrong."""
    await history.build(pool, store)
    proposals = _projection("proposals")
    before = await _generation(pool, "proposals")
    async with pool.acquire() as reader:
        snapshot = reader.transaction(isolation="repeatable_read", readonly=True)
        await snapshot.start()
        shown = await reader.fetchval("SELECT count(*) FROM proposals")
        with caplog.at_level(logging.WARNING, logger="musrenbang.projections.rebuild"):
            rebuilding = asyncio.create_task(ProjectionRunner(pool, [proposals]).replay(proposals))
            assert await _waiting(pool, "relation = 'proposals'::regclass")  # the switch waits for the reader
            assert await reader.fetchval("SELECT count(*) FROM proposal_timeline") > 0
            await snapshot.commit()
            assert await rebuilding > 0
    assert "deadlocked with the switch" in caplog.text  # the race happened
    assert await _generation(pool, "proposals") != before
    assert await pool.fetchval("SELECT count(*) FROM proposals") == shown


async def test_a_migration_under_way_is_neither_lost_by_the_copies_nor_deadlocked_by_the_switch(
    store: EventStore, pool: asyncpg.Pool, caplog: pytest.LogCaptureFixture
) -> None:
    """A migration holds the migrations' lock while it runs. Copies made meanwhile had the old shape (an
    index it added was gone after the switch); a switch that took a row of `projection_checkpoints`
    before waiting for that lock deadlocked with a migration altering that table."""
    await history.build(pool, store)
    cycles = _projection("cycles")
    runner = ProjectionRunner(pool, [cycles], batch_size=1)  # a batch per event: a reading that lasts
    reading = asyncio.Event()
    async with pool.acquire() as migration:
        # A migration under way when the rebuild starts: its index is not committed yet.
        first = migration.transaction()
        await first.start()
        await migration.execute("SELECT pg_advisory_xact_lock($1)", MIGRATION_LOCK_KEY)
        await migration.execute("CREATE INDEX cycles_meanwhile ON cycles (stage)")
        caplog.set_level(logging.WARNING, logger="musrenbang.projections.rebuild")
        rebuilding = asyncio.create_task(rebuild_many(runner, [cycles], lambda _: reading.set()))
        assert await _waiting(pool, _MIGRATIONS_LOCK)  # copies wait
        await first.commit()
        # Another, once the copies are made: it alters projection_checkpoints while the switch waits.
        await asyncio.wait_for(reading.wait(), 60)
        second = migration.transaction()
        await second.start()
        await migration.execute("SELECT pg_advisory_xact_lock($1)", MIGRATION_LOCK_KEY)
        assert await _waiting(pool, _MIGRATIONS_LOCK)  # the switch
        await migration.execute("ALTER TABLE projection_checkpoints ADD COLUMN meanwhile text")
        await second.commit()
    [applied] = await rebuilding
    assert applied > 0
    assert "deadlocked" not in caplog.text  # the switch waited for the migration, holding nothing it needs
    assert await pool.fetchval("SELECT to_regclass('cycles_meanwhile') IS NOT NULL")


async def test_settings_a_rebuild_cannot_carry_over_stop_it_before_it_starts(
    store: EventStore, pool: asyncpg.Pool
) -> None:
    """Row-level security and a privilege on one column, set by an administrator: the switch would have
    dropped them without a word. The rebuild names them, and the live tables keep them."""
    await history.build(pool, store)
    role = f"musrenbang_column_reader_{uuid.uuid4().hex[:8]}"
    await pool.execute(f"CREATE ROLE {role}")
    try:
        await pool.execute("ALTER TABLE cycles ENABLE ROW LEVEL SECURITY")
        await pool.execute(f"GRANT SELECT (year) ON cycles TO {role}")
        message = await _refused_rebuild(pool, "cycles")
        assert "row-level security (cycles)" in message and "privileges on single columns (cycles)" in message
        assert await pool.fetchval("SELECT relrowsecurity FROM pg_class WHERE oid = 'cycles'::regclass")
        assert await pool.fetchval("SELECT has_column_privilege($1, 'cycles', 'year', 'SELECT')", role)
    finally:
        await pool.execute(f"DROP OWNED BY {role}")
        await pool.execute(f"DROP ROLE {role}")


async def test_what_keeps_the_live_tables_from_being_dropped_stops_a_rebuild_before_it_starts(
    store: EventStore, pool: asyncpg.Pool
) -> None:
    """A view over a read model, another table's foreign key into one, a serial column: the switch could not
    drop the live tables ("other objects depend on it") after the whole rebuild. It names them first."""
    await history.build(pool, store)
    await pool.execute("CREATE VIEW cycle_years AS SELECT year FROM cycles")
    await pool.execute("CREATE TABLE cycle_notes (year int REFERENCES cycles (year), note text)")
    await pool.execute("ALTER TABLE cycles ADD COLUMN counted serial")
    message = await _refused_rebuild(pool, "cycles")
    for named in ("views over them (cycles)", "foreign keys from other tables (cycles)",
                  "sequences of their own (serial columns) (cycles)"):  # fmt: skip
        assert named in message, message


async def test_a_rebuild_after_a_restore_does_not_meet_the_generation_the_site_had(
    store: EventStore, pool: asyncpg.Pool
) -> None:
    """Review s25: backup (generation g), replay (g+1), restore (g put back) and its rebuild: g+1 again, and
    the log then reuses positions the site had used, so pages and ETags from before the restore matched.
    A rebuild's generation is drawn, never the current one."""
    await history.build(pool, store)
    city = _projection("city")
    backed_up = await _generation(pool, "city")
    await ProjectionRunner(pool, [city]).replay(city)
    before_restore = await _generation(pool, "city")
    assert before_restore != backed_up
    await pool.execute("UPDATE projection_checkpoints SET generation = $1 WHERE name = 'city'", backed_up)
    await ProjectionRunner(pool, [city]).replay(city)  # as restore's rebuild does
    assert await _generation(pool, "city") not in (backed_up, before_restore)
