"""The migration runner: in order, once, checksummed, and safe when two servers start together."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import shutil
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from asyncpg import Connection, Pool

from musrenbang.db.connect import connect, create_pool
from musrenbang.db.migrations import MigrationError, load_migrations, migrate
from musrenbang.domain.events import ProposalMerged, RkpdAdopted
from musrenbang.eventlog.store import NEW_STREAM, Append, EventStore
from musrenbang.resources import migrations_dir


def test_migration_files_are_numbered_without_gaps() -> None:
    versions = [m.version for m in load_migrations()]
    assert versions == list(range(1, len(versions) + 1))


async def test_migrate_applies_every_file_once(empty_database_url: str) -> None:
    conn = await connect(empty_database_url)
    try:
        applied = await migrate(conn)
        assert applied == [m.name for m in load_migrations()]
        assert await migrate(conn) == []
        assert await conn.fetchval("SELECT count(*) FROM schema_migrations") == len(applied)
    finally:
        await conn.close()


async def test_two_servers_migrating_at_once_apply_each_file_once(empty_database_url: str) -> None:
    conns = [await connect(empty_database_url) for _ in range(3)]
    try:
        results = await asyncio.gather(*(migrate(c) for c in conns))
        assert sorted(len(r) for r in results) == [0, 0, len(load_migrations())]
        assert await conns[0].fetchval("SELECT count(*) FROM schema_migrations") == len(load_migrations())
    finally:
        for c in conns:
            await c.close()


async def test_an_applied_file_that_was_edited_is_refused(empty_database_url: str, tmp_path: Path) -> None:
    shutil.copytree(migrations_dir(), tmp_path / "m")
    conn = await connect(empty_database_url)
    try:
        await migrate(conn, tmp_path / "m")
        edited = tmp_path / "m" / "0004_regions.sql"
        edited.write_text(edited.read_text() + "\n-- an innocent-looking edit\n")
        with pytest.raises(MigrationError, match="0004_regions.sql was changed after it was applied"):
            await migrate(conn, tmp_path / "m")
    finally:
        await conn.close()


async def test_a_failing_migration_leaves_nothing_half_applied(empty_database_url: str, tmp_path: Path) -> None:
    (tmp_path / "0001_good.sql").write_text("CREATE TABLE a (x int);")
    (tmp_path / "0002_bad.sql").write_text("CREATE TABLE b (x int); SELECT no_such_function();")
    conn = await connect(empty_database_url)
    try:
        with pytest.raises(MigrationError, match="0002_bad.sql failed"):
            await migrate(conn, tmp_path)
        assert await conn.fetchval("SELECT to_regclass('a') IS NOT NULL")
        assert await conn.fetchval("SELECT to_regclass('b') IS NULL")
        assert await conn.fetchval("SELECT count(*) FROM schema_migrations") == 1
    finally:
        await conn.close()


async def test_a_database_migrated_by_a_newer_program_is_refused(empty_database_url: str, tmp_path: Path) -> None:
    (tmp_path / "0001_a.sql").write_text("CREATE TABLE a (x int);")
    (tmp_path / "0002_b.sql").write_text("CREATE TABLE b (x int);")
    conn = await connect(empty_database_url)
    try:
        await migrate(conn, tmp_path)
        (tmp_path / "0002_b.sql").unlink()
        with pytest.raises(MigrationError, match="newer version"):
            await migrate(conn, tmp_path)
    finally:
        await conn.close()


@contextlib.asynccontextmanager
async def _migrated_before(url: str, tmp_path: Path, first_left_out: str) -> AsyncIterator[tuple[Connection, Pool]]:
    """A database migrated up to, not including, the migration named `first_left_out` (a data migration's
    test writes the rows it finds, then migrates the rest)."""
    before = tmp_path / "m"
    before.mkdir()
    for path in sorted(migrations_dir().glob("*.sql")):
        if path.name < first_left_out:
            shutil.copy(path, before / path.name)
    conn = await connect(url)
    pool = await create_pool(url, min_size=1, max_size=2)
    try:
        await migrate(conn, before)
        yield conn, pool
    finally:
        await pool.close()
        await conn.close()


async def test_0042_carries_followers_of_an_already_merged_proposal_on_to_where_it_lives(
    empty_database_url: str, tmp_path: Path
) -> None:
    """Before session 19, asking to follow a proposal merged already made a subscription nothing would ever
    write to again. The migration carries the confirmed ones on to the end of the chain of merges."""
    async with _migrated_before(empty_database_url, tmp_path, "0042") as (conn, pool):
        store = EventStore(pool)
        merges = [ProposalMerged(code="AAAA0001", into="BBBB0002", reason="sama"),
                  ProposalMerged(code="BBBB0002", into="CCCC0003", reason="sama")]  # fmt: skip
        await store.append(Append("proposal-AAAA0001", NEW_STREAM, merges[:1]))
        await store.append(Append("proposal-BBBB0002", NEW_STREAM, merges[1:]))
        follow = ("INSERT INTO subscriptions (id, subject, channel, address, link, kind, token, confirmed, stopped_at)"
                  " VALUES ($1, $2, 'email', $3, '/lacak/AAAA0001', 'follower', $4, $5, $6)")  # fmt: skip
        old, stopped, pending = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
        await conn.execute(follow, old, "AAAA0001", "a@contoh.id", "t1", True, None)
        await conn.execute(follow, stopped, "AAAA0001", "b@contoh.id", "t2", True, dt.datetime.now(dt.UTC))
        # A pending one is carried on when it is confirmed (http/follow.py), not here.
        await conn.execute(follow, pending, "AAAA0001", "c@contoh.id", "t3", False, None)
        await migrate(conn)
        rows = await conn.fetch("SELECT subject, address, link, owner, confirmed FROM subscriptions"
                                " WHERE subject <> 'AAAA0001'")  # fmt: skip
        assert [tuple(r) for r in rows] == [("CCCC0003", "a@contoh.id", "/lacak/AAAA0001", old, True)]
        # Run again (as a restore into a migrated database would): nothing more.
        await conn.execute((migrations_dir() / "0042_follow_merged_on.sql").read_text())
        assert await conn.fetchval("SELECT count(*) FROM subscriptions") == 4


async def test_0043_fills_the_day_of_adoptions_projected_before_it(empty_database_url: str, tmp_path: Path) -> None:
    async with _migrated_before(empty_database_url, tmp_path, "0043") as (conn, pool):
        store = EventStore(pool)
        for year, on in ((2031, dt.date(2030, 4, 5)), (2032, None)):
            await store.append(Append(f"rkpd-{year}", NEW_STREAM, [
                RkpdAdopted(year=year, revision=1, lines=(), total_pagu=0, adopted_on=on)]))  # fmt: skip
            await conn.execute(
                "INSERT INTO rkpd_adoptions (year, revision, total_pagu, note, adopted_at, stream_id, stream_version,"
                " position, hash) SELECT $1, 1, 0, '', recorded_at, stream_id, stream_version, global_position, hash"
                " FROM events WHERE stream_id = $2", year, f"rkpd-{year}",
            )  # fmt: skip
        await migrate(conn)
        days = await conn.fetch("SELECT year, adopted_on FROM rkpd_adoptions ORDER BY year")
        assert [tuple(r) for r in days] == [(2031, dt.date(2030, 4, 5)), (2032, None)]
