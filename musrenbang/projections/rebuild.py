"""Rebuilding a read model from the first event while the site keeps serving the old one.

The projection is replayed into copies of its tables in a schema of their own (`rebuild_<name>`, put
first on the rebuilding connection's search_path, so the projection's unqualified SQL writes there),
with a checkpoint table of its own (tables the projection only adds rows to are filled with no index,
and their indexes built once the rows are in). The live tables keep being read, and kept up to date by
the live worker, meanwhile. Then one transaction switches them: it locks the live checkpoint row (the
live worker skips a locked row, so it pauses), applies to the copies whatever arrived since, drops the
live tables, moves the copies in under the live names (indexes and constraints renamed to the names the
migrations gave them, foreign keys recreated, owner and grants carried over), and moves the live
checkpoint to where the copies stand. Readers see the old tables until that commit and the new ones
after it; never an empty list. The switch waits at most a few seconds for a long reader of the live
tables (a backup, a report) rather than make every other reader queue behind it, and tries again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import AsyncIterator, Callable, Sequence
from typing import TYPE_CHECKING

import asyncpg

from musrenbang.db.errors import DatabaseError
from musrenbang.db.migrations import MIGRATION_LOCK_KEY
from musrenbang.eventlog.store import START, Position, RecordedEvent, read_after
from musrenbang.projections import Projection

if TYPE_CHECKING:  # runner.py imports this module when it rebuilds
    from musrenbang.projections.runner import ProjectionRunner

_REBUILD_LOCK = 0x7262  # advisory lock space: one rebuild of a projection at a time
SWITCH_LOCK_TIMEOUT = "5s"
SWITCH_ATTEMPTS = 12
log = logging.getLogger(__name__)


class RebuildNotSwitched(DatabaseError):
    """The copies were rebuilt, but the live tables stayed in use: nothing was switched."""


async def rebuild(
    runner: ProjectionRunner, projection: Projection, on_progress: Callable[[int], None] | None = None
) -> int:
    """Replay `projection` from the first event into copies of its tables and switch them in; returns the
    number of events applied. `runner` is the ProjectionRunner whose pool to use."""
    [applied] = await rebuild_many(runner, [projection], on_progress)
    return applied


async def rebuild_many(
    runner: ProjectionRunner, projections: Sequence[Projection], on_progress: Callable[[int], None] | None = None
) -> list[int]:
    """Rebuild `projections` together: the log is read and decoded once, and each batch is handed to every
    projection, each applying it on a connection of its own (into its own copies) at the same time. Then
    each catches up with what arrived meanwhile and is switched in on its own. Returns the events each
    applied; `on_progress` hears of each batch read. Needs len(projections) + 1 connections of the pool.

    A projection whose batch fails leaves the shared reading; it goes on alone from its last batch, one
    event at a time near the failure (the runner's careful mode), so that the error names the event."""
    from musrenbang.projections.runner import ProjectionRunner

    for projection in projections:
        if not re.fullmatch(r"[a-z][a-z0-9_]*", projection.name):
            raise ValueError(f"projection name {projection.name!r} cannot name a schema")
    # Its own runner: the live one's bookkeeping (what it applied, where it goes carefully) is the live
    # tables', not the copies'.
    rebuilding = ProjectionRunner(runner.pool, projections, batch_size=runner.batch_size)
    live = await runner.pool.fetchval("SELECT current_schema()")
    async with contextlib.AsyncExitStack() as stack:
        conns = [await stack.enter_async_context(_rebuilding_connection(runner.pool, p, live)) for p in projections]
        shared = await _apply_shared(runner.pool, rebuilding.batch_size, projections, conns, on_progress)
        # Each finishes (switched, or failed) before any error is raised: one projection's poison event
        # must not cut another's switch short.
        finished = await asyncio.gather(*(
            _finish(rebuilding, conn, live, projection, applied)
            for projection, conn, applied in zip(projections, conns, shared, strict=True)
        ), return_exceptions=True)  # fmt: skip
    for outcome in finished:
        if isinstance(outcome, BaseException):
            raise outcome
    return [n for n in finished if isinstance(n, int)]


@contextlib.asynccontextmanager
async def _rebuilding_connection(pool: asyncpg.Pool, projection: Projection, live: str
                                ) -> AsyncIterator[asyncpg.Connection]:  # fmt: skip
    """A connection holding `projection`'s rebuild lock, writing to fresh copies of its tables."""
    shadow = f"rebuild_{projection.name}"
    async with pool.acquire() as conn:
        try:
            # Session-level lock and search_path: this connection is closed at the end, never reused.
            await conn.execute("SELECT pg_advisory_lock($1, hashtext($2))", _REBUILD_LOCK, projection.name)
            await _make_copies(conn, live, shadow, projection)
            await conn.execute(f"SET search_path = {_ident(shadow)}, {_ident(live)}")
            yield conn
        finally:
            conn.terminate()


READ_AHEAD = 3
"""Batches a projection may fall behind the reading before the reading waits for it."""


async def _apply_shared(pool: asyncpg.Pool, batch_size: int, projections: Sequence[Projection],
                        conns: list[asyncpg.Connection], on_progress: Callable[[int], None] | None,
                        ) -> list[int]:  # fmt: skip
    """Read the log once, in the safe order, and hand each batch to every projection still reading it.
    Each applies its batches in order, a transaction each on its own connection, at its own pace, up to
    READ_AHEAD batches behind the reading: one projection's slow batch (a forum's close, a line's change)
    holds up neither the others nor the reading.
    Returns the events each applied this way; `on_progress` hears of events every projection applied."""
    from musrenbang.projections.runner import is_connection_problem

    applied = [0] * len(projections)
    reading = set(range(len(projections)))
    failed: set[int] = set()
    queues: list[asyncio.Queue[list[RecordedEvent] | None]] = [asyncio.Queue(READ_AHEAD) for _ in projections]
    reported = 0

    def report() -> None:
        """Progress is what every projection that has not failed has applied: one that leaves (a poison
        event) holds the figure back no longer, even when the others finished before it failed."""
        nonlocal reported
        low = min((applied[i] for i in range(len(projections)) if i not in failed), default=reported)
        if on_progress is not None and low > reported:
            on_progress(low - reported)
        reported = max(reported, low)

    async def apply(i: int) -> None:
        kinds = projections[i].kinds
        try:
            while (batch := await queues[i].get()) is not None:
                mine = batch if kinds is None else [r for r in batch if r.event_type in kinds]
                try:
                    await _apply_one(conns[i], projections[i], mine, Position(batch[-1].tx, batch[-1].global_position))
                except Exception as exc:
                    if is_connection_problem(exc):
                        raise
                    log.info("rebuild of %s: a batch failed (%s); going on alone to find the event",
                             projections[i].name, exc)  # fmt: skip
                    failed.add(i)
                    report()
                    return
                applied[i] += len(batch)
                report()
        finally:
            reading.discard(i)
            while not queues[i].empty():  # the reading may wait to hand it one more: let it
                queues[i].get_nowait()

    async def read() -> None:
        async with pool.acquire() as reader:
            at = START
            while reading and (batch := await read_after(reader, at, batch_size)):
                at = Position(batch[-1].tx, batch[-1].global_position)
                for i in sorted(reading):
                    await queues[i].put(batch)
        for i in sorted(reading):
            await queues[i].put(None)

    tasks = [asyncio.ensure_future(read()), *(asyncio.ensure_future(apply(i)) for i in range(len(projections)))]
    try:
        await asyncio.gather(*tasks)
    except BaseException:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise
    report()
    return applied


async def _apply_one(conn: asyncpg.Connection, projection: Projection, events: list[RecordedEvent], at: Position
                     ) -> None:  # fmt: skip
    """`events` (the batch's events the projection handles, maybe none) and the checkpoint at the batch's end."""
    from musrenbang.projections.runner import save_checkpoint

    async with conn.transaction():
        if events:
            await projection.apply(conn, events)
        await save_checkpoint(conn, projection.name, at, clear_failure=False,
                              changed=projection.last_change(events))  # fmt: skip


async def _finish(rebuilding: ProjectionRunner, conn: asyncpg.Connection, live: str, projection: Projection,
                  applied: int) -> int:  # fmt: skip
    """What the shared reading left (all of it, for a projection that failed there), then the switch."""
    shadow = f"rebuild_{projection.name}"
    applied += await rebuilding.run_batches(conn, projection) or 0
    await _build_indexes(conn, live, shadow, projection)
    await _analyze(conn, shadow, projection)
    for attempt in range(SWITCH_ATTEMPTS):
        try:
            return applied + await _catch_up_and_switch(conn, rebuilding, live, shadow, projection)
        except (asyncpg.LockNotAvailableError, asyncpg.DeadlockDetectedError) as exc:
            # A deadlock: a reader that read one live table in a snapshot of its own (a page render in
            # REPEATABLE READ) and then asked for another the switch had locked meanwhile. PostgreSQL
            # aborts the switch, the one that waited first; the reader goes on, and the switch tries again.
            why = ("another session deadlocked with the switch" if isinstance(exc, asyncpg.DeadlockDetectedError)
                   else "the live tables are in use by a long reader")  # fmt: skip
            log.warning("rebuild of %s: %s; switching again in a moment (attempt %d of %d)", projection.name, why,
                        attempt + 1, SWITCH_ATTEMPTS)  # fmt: skip
            await asyncio.sleep(1)
    raise RebuildNotSwitched(
        f"the rebuilt {projection.name} tables could not be switched in: the live ones stayed in use by a"
        f" long reader for {SWITCH_ATTEMPTS} attempts; the live read model is unchanged, try again"
    )


async def _catch_up_and_switch(conn: asyncpg.Connection, rebuilding: ProjectionRunner, live: str, shadow: str,
                               projection: Projection) -> int:  # fmt: skip
    """One transaction: pause the live worker (its checkpoint row, made if it was missing), apply to the
    copies what arrived meanwhile, switch. Gives up after SWITCH_LOCK_TIMEOUT waiting for a lock rather
    than queue every reader of the live tables behind a long one.

    The migrations' lock comes first, before any lock on a live table: a migration holds it while it
    alters tables (`projection_checkpoints` among them), and the switch taking a row of that table first
    and then waiting for the migration made a cycle, ended by aborting one of the two."""
    async with conn.transaction():
        await conn.execute(f"SET LOCAL lock_timeout = '{SWITCH_LOCK_TIMEOUT}'")
        # No migration between this check and the commit: they hold this lock while they run.
        await conn.execute("SELECT pg_advisory_xact_lock_shared($1)", MIGRATION_LOCK_KEY)
        await conn.execute(
            f"INSERT INTO {_ident(live)}.projection_checkpoints (name) VALUES ($1) ON CONFLICT (name) DO NOTHING",
            projection.name,
        )
        await conn.fetchrow(
            f"SELECT 1 FROM {_ident(live)}.projection_checkpoints WHERE name = $1 FOR UPDATE", projection.name
        )
        await _check_same_schema(conn, live, shadow, projection)
        applied = await rebuilding.run_batches(conn, projection) or 0
        await _switch(conn, live, shadow, projection)
    return applied


async def _build_indexes(conn: asyncpg.Connection, live: str, shadow: str, projection: Projection) -> None:
    """The keys and indexes of the live appended tables (see `Projection.appended`), made on their copies
    now that the rows are in. Before the switch: the catch-up under the switch's lock then writes into
    indexed tables, and a duplicate row stops the rebuild here, with nothing switched."""
    for table in projection.appended:
        keys = await conn.fetch(
            "SELECT pg_get_constraintdef(k.oid) AS def FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid"
            " JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE n.nspname = $1 AND c.relname = $2 AND k.contype IN ('p', 'u', 'x') ORDER BY k.conname",
            live, table,
        )  # fmt: skip
        others = await conn.fetch(
            "SELECT i.relname AS name, pg_get_indexdef(i.oid) AS def FROM pg_index x"
            " JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class c ON c.oid = x.indrelid"
            " JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relname = $2"
            " AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = x.indexrelid"
            "                 AND k.conrelid = x.indrelid AND k.contype IN ('p', 'u', 'x')) ORDER BY i.relname",
            live, table,
        )  # fmt: skip
        # Unnamed: PostgreSQL names them in the copies' schema; the switch gives them the live names.
        statements = [f"ALTER TABLE {_ident(shadow)}.{_ident(table)} ADD {k['def']}" for k in keys] + [
            re.sub(r"\bON (ONLY )?\S+\.", lambda m: f"ON {m.group(1) or ''}{_ident(shadow)}.",
                   i["def"].replace(f"INDEX {i['name']} ", "INDEX ", 1), count=1)
            for i in others
        ]  # fmt: skip
        try:
            for statement in statements:
                await conn.execute(statement)
        except asyncpg.IntegrityConstraintViolationError as exc:
            raise RebuildNotSwitched(
                f"the rebuilt {projection.name} read model holds a row of {table} twice"
                f" ({exc.detail or exc}): nothing was switched, the live read model is unchanged"
            ) from exc


async def _analyze(conn: asyncpg.Connection, shadow: str, projection: Projection) -> None:
    """Statistics for the copies before they go live. New tables have none, and switched in without them
    the site's queries on a rebuilt read model were planned from the tables' sizes alone until autovacuum
    came round to analyze them (at a million events, the first minutes after a replay). ANALYZE reads a
    sample: about a second for the 1.8M lineage steps of a 917k-event log."""
    for table in projection.tables:
        await conn.execute(f"ANALYZE {_ident(shadow)}.{_ident(table)}")


async def _make_copies(conn: asyncpg.Connection, live: str, shadow: str, projection: Projection) -> None:
    """Empty copies of the projection's live tables, with the live tables' shape and the schema version
    they have, all read while no migration runs: `CREATE TABLE ... LIKE` waits for no migration's index or
    setting, and copies made while one was under way got part of the old shape under the new version,
    which the switch then put in place for good."""
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock_shared($1)", MIGRATION_LOCK_KEY)
        await _check_nothing_would_be_lost(conn, live, projection)
        await conn.execute(f"DROP SCHEMA IF EXISTS {_ident(shadow)} CASCADE")  # left by a rebuild that died
        await conn.execute(f"CREATE SCHEMA {_ident(shadow)}")
        for table in (*projection.tables, "projection_checkpoints"):
            # An appended table's copy starts with no index: they are built once its rows are in.
            excluding = " EXCLUDING INDEXES" if table in projection.appended else ""
            await conn.execute(
                f"CREATE TABLE {_ident(shadow)}.{_ident(table)}"
                f" (LIKE {_ident(live)}.{_ident(table)} INCLUDING ALL{excluding})"
            )
            # LIKE copies no storage parameters: a fillfactor the migrations chose (room for updates to
            # stay on their page) would be lost with the switch.
            options = await conn.fetchval(
                "SELECT array_to_string(reloptions, ', ') FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
                " WHERE n.nspname = $1 AND c.relname = $2",
                live, table,
            )  # fmt: skip
            if options:
                await conn.execute(f"ALTER TABLE {_ident(shadow)}.{_ident(table)} SET ({options})")
            await _carry_statistics_targets(conn, live, shadow, table)
        await conn.execute(
            f"INSERT INTO {_ident(shadow)}.projection_checkpoints (name) VALUES ($1)", projection.name
        )
        # The copies have the shape of the migrations applied now; the switch checks it is still so.
        await conn.execute(f"COMMENT ON SCHEMA {_ident(shadow)} IS '{await _schema_version(conn, live)}'")


_NOT_CARRIED = (
    ("row-level security", "SELECT c.relname FROM pg_class c WHERE c.oid = ANY($1::oid[])"
     " AND (c.relrowsecurity OR EXISTS (SELECT 1 FROM pg_policy p WHERE p.polrelid = c.oid))"),
    ("privileges on single columns", "SELECT DISTINCT c.relname FROM pg_class c JOIN pg_attribute a"
     " ON a.attrelid = c.oid WHERE c.oid = ANY($1::oid[]) AND a.attacl IS NOT NULL"),
    ("triggers", "SELECT DISTINCT c.relname FROM pg_class c JOIN pg_trigger t ON t.tgrelid = c.oid"
     " WHERE c.oid = ANY($1::oid[]) AND NOT t.tgisinternal"),
    ("rules", "SELECT DISTINCT c.relname FROM pg_class c JOIN pg_rewrite r ON r.ev_class = c.oid"
     " WHERE c.oid = ANY($1::oid[]) AND r.rulename <> '_RETURN'"),
    ("extended statistics", "SELECT DISTINCT c.relname FROM pg_class c JOIN pg_statistic_ext x"
     " ON x.stxrelid = c.oid WHERE c.oid = ANY($1::oid[])"),
    ("a replica identity other than the key", "SELECT c.relname FROM pg_class c WHERE c.oid = ANY($1::oid[])"
     " AND c.relreplident <> 'd'"),
    ("publications", "SELECT DISTINCT c.relname FROM pg_class c JOIN pg_publication_rel p ON p.prrelid = c.oid"
     " WHERE c.oid = ANY($1::oid[])"),
    ("views over them", "SELECT DISTINCT c.relname FROM pg_class c JOIN pg_depend d ON d.refobjid = c.oid"
     " AND d.refclassid = 'pg_class'::regclass AND d.classid = 'pg_rewrite'::regclass"
     " JOIN pg_rewrite r ON r.oid = d.objid WHERE c.oid = ANY($1::oid[]) AND r.ev_class <> c.oid"),
    ("foreign keys from other tables", "SELECT DISTINCT c.relname FROM pg_class c JOIN pg_constraint k"
     " ON k.confrelid = c.oid AND k.contype = 'f' WHERE c.oid = ANY($1::oid[]) AND NOT k.conrelid = ANY($1::oid[])"),
    ("sequences of their own (serial columns)", "SELECT DISTINCT c.relname FROM pg_class c JOIN pg_depend d"
     " ON d.refobjid = c.oid AND d.refclassid = 'pg_class'::regclass AND d.classid = 'pg_class'::regclass"
     " AND d.deptype = 'a' JOIN pg_class q ON q.oid = d.objid AND q.relkind = 'S' WHERE c.oid = ANY($1::oid[])"),
)  # fmt: skip
"""What a database administrator may have set on a read model's tables that a switch would not carry over
to the rebuilt ones (`CREATE TABLE ... LIKE` copies none of it), or that keeps the live tables from being
dropped (a view or another table's foreign key depends on them; the copies' defaults would draw on the
live tables' own sequences): a rebuild refuses before it starts rather than drop a security setting
without a word, or fail at the switch with PostgreSQL's "other objects depend on it"."""


async def _check_nothing_would_be_lost(conn: asyncpg.Connection, live: str, projection: Projection) -> None:
    tables = await conn.fetchval(
        "SELECT array_agg(c.oid) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
        " WHERE n.nspname = $1 AND c.relname = ANY($2::text[])",
        live, list(projection.tables),
    )  # fmt: skip
    found = []
    for what, query in _NOT_CARRIED:
        if names := [r[0] for r in await conn.fetch(query, tables or [])]:
            found.append(f"{what} ({', '.join(sorted(names))})")
    if found:
        raise RebuildNotSwitched(
            f"the {projection.name} tables have {'; '.join(found)}, which a rebuild cannot carry over to the"
            " tables it builds: nothing was rebuilt, the live read model is unchanged. Remove them (and set"
            " them again afterwards) to rebuild"
        )


async def _carry_statistics_targets(conn: asyncpg.Connection, live: str, shadow: str, table: str) -> None:
    """Nor does LIKE copy a column's statistics target (migration 0038 sets 0 on columns no query looks
    into, so that ANALYZE skips them): without this, the first rebuild would quietly undo it."""
    targets = await conn.fetch(
        "SELECT a.attname AS name, a.attstattarget AS target FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid"
        " JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relname = $2 AND a.attnum > 0"
        " AND NOT a.attisdropped AND a.attstattarget >= 0",  # -1 (NULL from PostgreSQL 17): the default
        live, table,
    )  # fmt: skip
    for t in targets:
        await conn.execute(f"ALTER TABLE {_ident(shadow)}.{_ident(table)} ALTER COLUMN {_ident(t['name'])}"
                           f" SET STATISTICS {int(t['target'])}")  # fmt: skip


async def _schema_version(conn: asyncpg.Connection, live: str) -> int:
    return await conn.fetchval(f"SELECT coalesce(max(version), 0) FROM {_ident(live)}.schema_migrations")


async def _check_same_schema(conn: asyncpg.Connection, live: str, shadow: str, projection: Projection) -> None:
    """Refuse to switch in copies made before a migration that ran during the rebuild: they have the old
    shape (a column a migration changed, an index it added), and the live tables would get it back for
    good, since the next rebuild copies whatever is live."""
    made = await conn.fetchval("SELECT obj_description(oid, 'pg_namespace') FROM pg_namespace WHERE nspname = $1",
                               shadow)  # fmt: skip
    now = await _schema_version(conn, live)
    if made != str(now):
        raise RebuildNotSwitched(
            f"the database was migrated while {projection.name} was rebuilt (migration {made} when its copies"
            f" were made, {now} now): nothing was switched, the live read model is unchanged; run replay again"
        )


async def _switch(conn: asyncpg.Connection, live: str, shadow: str, projection: Projection) -> None:
    """Inside the caller's transaction: the copies replace the live tables under the live names."""
    tables = list(projection.tables)
    indexes = await _indexes(conn, live, tables)
    foreign_keys = await conn.fetch(
        "SELECT c.relname AS table, k.conname AS name, pg_get_constraintdef(k.oid) AS def FROM pg_constraint k"
        " JOIN pg_class c ON c.oid = k.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace"
        " WHERE k.contype = 'f' AND n.nspname = $1 AND c.relname = ANY($2::text[])",
        live, tables,
    )  # fmt: skip
    checkpoint = await conn.fetchrow(
        f"SELECT tx, position, changed FROM {_ident(shadow)}.projection_checkpoints WHERE name = $1",
        projection.name,
    )
    # Who may read the live tables (CREATE TABLE ... LIKE copies neither owner nor grants).
    access = await conn.fetch(
        "SELECT c.relname AS table, pg_get_userbyid(c.relowner) AS owner, a.grantee = c.relowner AS own,"
        " CASE WHEN a.grantee <> 0 THEN pg_get_userbyid(a.grantee) END AS grantee,"  # 0: PUBLIC
        " a.privilege_type AS privilege, a.is_grantable"
        " FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
        " LEFT JOIN LATERAL aclexplode(c.relacl) a ON true"
        " WHERE n.nspname = $1 AND c.relname = ANY($2::text[])",
        live, tables,
    )  # fmt: skip
    await conn.execute(f"DROP TABLE {', '.join(_ident(live) + '.' + _ident(t) for t in tables)}")
    for table in tables:
        await conn.execute(f"ALTER TABLE {_ident(shadow)}.{_ident(table)} SET SCHEMA {_ident(live)}")
    await _carry_access(conn, live, access)
    await _rename_indexes(conn, live, tables, indexes, f"{shadow}_tmp")
    for fk in foreign_keys:
        await conn.execute(f"ALTER TABLE {_ident(live)}.{_ident(fk['table'])} ADD CONSTRAINT {_ident(fk['name'])}"
                           f" {fk['def']}")  # fmt: skip
    # A new generation: pages cached from the tables just dropped must not outlive them, even where the
    # copies changed last at the same position. Drawn at random, not counted on: a restore puts back the
    # backup's generation and rebuilds (+1 would be the one the site had before, if a replay ran since the
    # backup), and the log then reuses positions the site had used, so pages and ETags from before the
    # restore matched again (review s25). Never the current one; one in 2^31 of meeting an earlier one.
    await conn.execute(
        f"UPDATE {_ident(live)}.projection_checkpoints SET tx = $2, position = $3, updated_at = now(), failures = 0,"
        " failing_position = NULL, failing_type = NULL, error = NULL, failing_since = NULL, changed = $4,"
        " generation = ((generation::bigint + 1 + floor(random() * 2147483645)::bigint) % 2147483647)::integer"
        " WHERE name = $1",
        projection.name, checkpoint["tx"], checkpoint["position"], checkpoint["changed"],
    )  # fmt: skip
    await conn.execute(f"DROP SCHEMA {_ident(shadow)} CASCADE")


async def _carry_access(conn: asyncpg.Connection, live: str, access: list[asyncpg.Record]) -> None:
    """Give the moved tables the owner and grants the live ones had. Role names come unquoted (as
    `pg_get_userbyid` gives them) and are quoted here once; a grantee of None is PUBLIC."""
    me = await conn.fetchval("SELECT current_user")
    owners = {r["table"]: r["owner"] for r in access}
    for table, owner in owners.items():
        if owner != me:
            await conn.execute(f"ALTER TABLE {_ident(live)}.{_ident(table)} OWNER TO {_ident(owner)}")
    for r in access:
        if r["privilege"] is None or r["own"]:
            continue  # no grants, or the owner's own
        grantee = "PUBLIC" if r["grantee"] is None else _ident(r["grantee"])
        option = " WITH GRANT OPTION" if r["is_grantable"] else ""
        await conn.execute(f"GRANT {r['privilege']} ON {_ident(live)}.{_ident(r['table'])} TO {grantee}{option}")


async def _indexes(conn: asyncpg.Connection, schema: str, tables: list[str]) -> list[asyncpg.Record]:
    """Each index of `tables`: its table, name, definition and the kind of constraint it backs (p, u, x;
    None for a plain index), in name order."""
    return await conn.fetch(
        "SELECT c.relname AS table, i.relname AS name, pg_get_indexdef(i.oid) AS def, k.contype::text AS backs"
        " FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class c ON c.oid = x.indrelid"
        " JOIN pg_namespace n ON n.oid = c.relnamespace"
        " LEFT JOIN pg_constraint k ON k.conindid = x.indexrelid AND k.conrelid = x.indrelid"
        "  AND k.contype IN ('p', 'u', 'x')"
        " WHERE n.nspname = $1 AND c.relname = ANY($2::text[]) ORDER BY i.relname",
        schema, tables,
    )  # fmt: skip


async def _rename_indexes(conn: asyncpg.Connection, live: str, tables: list[str], before: list[asyncpg.Record],
                          scratch: str) -> None:  # fmt: skip
    """Give the moved tables' indexes (and so their constraints) the names the live ones had, matching them
    by definition and by the constraint they back: later migrations refer to them by name. Two indexes of
    one definition (a unique constraint and a unique index on the same columns, or a plain index made
    twice) each take one of the names. `scratch` prefixes the names held for a moment on the way."""
    wanted: dict[tuple[str, str, str | None], list[str]] = {}
    for r in before:
        wanted.setdefault((r["table"], _shape(r["def"], r["name"]), r["backs"]), []).append(r["name"])
    renames = []
    for r in await _indexes(conn, live, tables):
        names = wanted.get((r["table"], _shape(r["def"], r["name"]), r["backs"]))
        target = names.pop(0) if names else None
        if target is not None and target != r["name"]:
            renames.append((r["name"], target))
    # Two steps, so that a name still held by another moved index never collides.
    for n, (name, _) in enumerate(renames):
        await conn.execute(f"ALTER INDEX {_ident(live)}.{_ident(name)} RENAME TO {_ident(f'{scratch}_{n}')}")
    for n, (_, target) in enumerate(renames):
        await conn.execute(f"ALTER INDEX {_ident(live)}.{_ident(f'{scratch}_{n}')} RENAME TO {_ident(target)}")


def _shape(definition: str, name: str) -> str:
    """An index definition without its own name and schema: what two copies of one index share."""
    return re.sub(r"\bON (ONLY )?\S+\.", "ON ", definition.replace(f"INDEX {name} ", "INDEX ", 1))


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'
