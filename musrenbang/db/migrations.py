"""The migration runner: numbered `.sql` files, applied in order, each in its own transaction.

Forward-only. A file is recorded with its SHA-256 when applied; an applied file that was edited later is
refused, because the database would no longer be what the file says. Two servers starting at the same
moment take turns on an advisory lock, so each file runs exactly once.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import NamedTuple

import asyncpg

from musrenbang.db.errors import DatabaseError
from musrenbang.resources import migrations_dir

# Any constant works as long as nothing else in the database uses it for another purpose.
MIGRATION_LOCK_KEY = 0x6D75_7372_6D69_6772

_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")

# The runner's own bookkeeping table is the one object not created by a migration file: it must exist
# before the first file can be recorded.
_BOOKKEEPING = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version    integer PRIMARY KEY,
    name       text NOT NULL,
    checksum   text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
)
"""


class MigrationError(DatabaseError):
    pass


async def refuse_another_applications(conn: asyncpg.Connection) -> None:
    """Migrate only a database that is empty or ours (our `schema_migrations`, with its names and checksums):
    into another application's, ours would be added beside its tables unasked. Rails and golang-migrate
    also keep a `schema_migrations`, of another shape."""
    ours = await conn.fetchval(
        "SELECT count(*) = 2 FROM pg_attribute WHERE attname IN ('name', 'checksum') AND NOT attisdropped"
        " AND attrelid = to_regclass(format('%I.schema_migrations', current_schema()))"
    )
    if ours:
        return
    rows = await conn.fetch("SELECT tablename FROM pg_tables WHERE schemaname = current_schema() ORDER BY 1")
    tables = [r["tablename"] for r in rows]
    if tables:
        shown = ", ".join(tables[:5]) + (f" and {len(tables) - 5} more" if len(tables) > 5 else "")
        raise MigrationError(f"the database holds tables of another application ({shown}) and no Musrenbang"
                             " migrations: nothing was changed; use an empty database of its own")  # fmt: skip


class Migration(NamedTuple):
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def load_migrations(directory: Path | None = None) -> list[Migration]:
    directory = directory or migrations_dir()
    found: list[Migration] = []
    for path in sorted(directory.glob("*.sql")):
        match = _NAME.match(path.name)
        if not match:
            raise MigrationError(f"migration file {path.name} is not named NNNN_lowercase_words.sql")
        found.append(Migration(int(match.group(1)), path.name, path.read_text(encoding="utf-8")))
    versions = [m.version for m in found]
    if len(set(versions)) != len(versions):
        raise MigrationError("two migration files share a number")
    return found


def _pending(migrations: list[Migration], applied: dict[int, asyncpg.Record]) -> list[Migration]:
    """The migrations not applied yet; MigrationError when the database was migrated by a newer version
    (migrations this program does not know) or an applied file was edited since."""
    known = {m.version for m in migrations}
    unknown = sorted(set(applied) - known)
    if unknown:
        names = ", ".join(applied[v]["name"] for v in unknown)
        raise MigrationError(
            f"the database has migrations this program does not know ({names}); it was migrated by a"
            " newer version — upgrade this program"
        )
    for m in migrations:
        record = applied.get(m.version)
        if record is not None and record["checksum"] != m.checksum:
            raise MigrationError(
                f"migration {m.name} was changed after it was applied to this database"
                f" (recorded checksum {record['checksum'][:12]}…, file now {m.checksum[:12]}…)."
                " Applied migrations are never edited: restore the file and add a new one."
            )
    return [m for m in migrations if m.version not in applied]


async def pending_migrations(conn: asyncpg.Connection, directory: Path | None = None) -> list[Migration]:
    """What `migrate` would apply, changing nothing (`status`); MigrationError for what `migrate` refuses:
    another application's database, one a newer version migrated, an applied migration edited since."""
    migrations = load_migrations(directory)
    await refuse_another_applications(conn)
    applied: dict[int, asyncpg.Record] = {}
    if await conn.fetchval("SELECT to_regclass(format('%I.schema_migrations', current_schema())) IS NOT NULL"):
        applied = {r["version"]: r for r in await conn.fetch("SELECT version, name, checksum FROM schema_migrations")}
    return _pending(migrations, applied)


async def migrate(conn: asyncpg.Connection, directory: Path | None = None) -> list[str]:
    """Apply what is not applied yet; return the names applied now."""
    migrations = load_migrations(directory)
    await conn.execute("SELECT pg_advisory_lock($1)", MIGRATION_LOCK_KEY)
    try:
        await refuse_another_applications(conn)
        await conn.execute(_BOOKKEEPING)
        applied = {
            r["version"]: r
            for r in await conn.fetch("SELECT version, name, checksum FROM schema_migrations ORDER BY version")
        }
        pending = _pending(migrations, applied)
        done: list[str] = []
        for m in pending:
            async with conn.transaction():
                try:
                    await conn.execute(m.sql)
                except asyncpg.PostgresError as exc:
                    raise MigrationError(f"migration {m.name} failed: {exc}") from None
                await conn.execute(
                    "INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)",
                    m.version,
                    m.name,
                    m.checksum,
                )
            done.append(m.name)
        return done
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1)", MIGRATION_LOCK_KEY)
