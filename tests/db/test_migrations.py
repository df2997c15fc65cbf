"""The migration runner: in order, once, checksummed, and safe when two servers start together."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import pytest

from musrenbang.db.connect import connect
from musrenbang.db.migrations import MigrationError, load_migrations, migrate
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
