"""Running projections: exactly once, one active worker per projection across all processes.

Each batch is one transaction that applies the events to the read model *and* moves the checkpoint, so a
crash at any point leaves both where they were. A worker only touches a projection while it holds that
projection's advisory lock; every server process runs a runner, and whichever gets the lock does the work
while the others skip. Notifications sent after each append wake the runner; a slow poll covers lost
notifications (a notification is a hint, never data).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence

import asyncpg

from musrenbang.db.connect import connect
from musrenbang.eventlog.store import CHANNEL, START, Position, count_after, read_after
from musrenbang.projections import Projection

log = logging.getLogger(__name__)

_LOCK_CLASS = 0x6D70  # advisory lock space for projections: (class, hashtext(name))


class ProjectionRunner:
    def __init__(
        self,
        pool: asyncpg.Pool,
        projections: Sequence[Projection],
        *,
        batch_size: int = 1000,
        poll_interval: float = 5.0,
    ) -> None:
        self._pool = pool
        self.projections = list(projections)
        self.batch_size = batch_size
        self.poll_interval = poll_interval
        self._wake = asyncio.Event()
        # Within this process, one task at a time works on a projection; the others wait for it and
        # usually find their events applied by then (many requests, one catch-up).
        self._local = {p.name: asyncio.Lock() for p in self.projections}
        self._applied: dict[str, Position] = {}

    async def catch_up(self, projection: Projection) -> int | None:
        """Apply every committed event the projection has not seen; None if another worker holds it."""
        async with self._local[projection.name], self._pool.acquire() as conn:
            if not await conn.fetchval("SELECT pg_try_advisory_lock($1, hashtext($2))", _LOCK_CLASS, projection.name):
                return None
            try:
                return await self._run_batches(conn, projection)
            finally:
                await conn.execute("SELECT pg_advisory_unlock($1, hashtext($2))", _LOCK_CLASS, projection.name)

    async def wait_until_applied(self, names: Sequence[str], at: Position, timeout: float = 5.0) -> bool:
        """Read-your-writes: return once the named projections have applied the event at `at`, helping
        them along when no other worker is busy with them. False if `timeout` passed first (an older
        transaction still open holds the safe order back)."""
        deadline = asyncio.get_running_loop().time() + timeout
        for projection in [p for p in self.projections if p.name in names]:
            while self._applied.get(projection.name, START) < at:
                if asyncio.get_running_loop().time() > deadline:
                    return False
                if await self.catch_up(projection) is None:  # another process is on it: watch its progress
                    row = await self._pool.fetchrow(
                        "SELECT tx, position FROM projection_checkpoints WHERE name = $1", projection.name
                    )
                    if row is not None:
                        self._applied[projection.name] = Position(row["tx"], row["position"])
                    if self._applied.get(projection.name, START) < at:
                        await asyncio.sleep(0.005)
        return True

    async def catch_up_all(self) -> dict[str, int | None]:
        return {p.name: await self.catch_up(p) for p in self.projections}

    async def replay(self, projection: Projection, on_progress: Callable[[int], None] | None = None) -> int:
        """Empty the projection's tables and rebuild them from the first event.

        Waits for a live worker to finish its current round, then holds the lock so none runs meanwhile.
        """
        async with self._pool.acquire() as conn:
            await conn.execute("SELECT pg_advisory_lock($1, hashtext($2))", _LOCK_CLASS, projection.name)
            try:
                async with conn.transaction():
                    if projection.tables:
                        await conn.execute(f"TRUNCATE {', '.join(projection.tables)}")
                    await _save_checkpoint(conn, projection.name, START)
                return await self._run_batches(conn, projection, on_progress)
            finally:
                await conn.execute("SELECT pg_advisory_unlock($1, hashtext($2))", _LOCK_CLASS, projection.name)

    async def _run_batches(
        self,
        conn: asyncpg.Connection,
        projection: Projection,
        on_progress: Callable[[int], None] | None = None,
    ) -> int:
        await conn.execute(
            "INSERT INTO projection_checkpoints (name) VALUES ($1) ON CONFLICT (name) DO NOTHING",
            projection.name,
        )
        applied = 0
        while True:
            async with conn.transaction():
                row = await conn.fetchrow(
                    "SELECT tx, position FROM projection_checkpoints WHERE name = $1", projection.name
                )
                checkpoint = Position(row["tx"], row["position"])
                self._applied[projection.name] = checkpoint
                events = await read_after(conn, checkpoint, self.batch_size)
                if not events:
                    return applied
                await projection.apply(conn, events)
                last = events[-1]
                await _save_checkpoint(conn, projection.name, Position(last.tx, last.global_position))
            applied += len(events)
            if on_progress is not None:
                on_progress(len(events))

    async def run_forever(self, database_url: str) -> None:
        """Catch up, then wait for a notification or the poll interval; repeat until cancelled."""
        listener: asyncpg.Connection | None = None
        try:
            while True:
                if listener is None or listener.is_closed():
                    listener = await self._listen(database_url)
                self._wake.clear()
                for projection in self.projections:
                    try:
                        await self.catch_up(projection)
                    except (asyncpg.PostgresError, OSError) as exc:
                        log.warning("projection %s failed, will retry: %s", projection.name, exc)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self.poll_interval)
        finally:
            if listener is not None and not listener.is_closed():
                await listener.close()

    async def _listen(self, database_url: str) -> asyncpg.Connection | None:
        try:
            conn = await connect(database_url)
            await conn.add_listener(CHANNEL, lambda *_: self._wake.set())
            return conn
        except Exception as exc:  # noqa: BLE001 - polling still works without notifications
            log.warning("cannot LISTEN for new events, polling every %.0f s: %s", self.poll_interval, exc)
            return None


async def _save_checkpoint(conn: asyncpg.Connection, name: str, at: Position) -> None:
    await conn.execute(
        "INSERT INTO projection_checkpoints (name, tx, position, updated_at) VALUES ($1, $2, $3, now())"
        " ON CONFLICT (name) DO UPDATE SET tx = $2, position = $3, updated_at = now()",
        name,
        at.tx,
        at.position,
    )


LAG_COUNTED_UP_TO = 100_000


async def lag(conn: asyncpg.Connection, names: Sequence[str]) -> dict[str, int]:
    """Events committed but not yet applied, per projection (up to LAG_COUNTED_UP_TO: beyond that the
    number only says "far behind", and counting it exactly would read the log)."""
    rows = await conn.fetch(
        "SELECT name, tx, position FROM projection_checkpoints WHERE name = ANY($1::text[])", list(names)
    )
    checkpoints = {r["name"]: Position(r["tx"], r["position"]) for r in rows}
    return {name: await count_after(conn, checkpoints.get(name, START), LAG_COUNTED_UP_TO) for name in names}
