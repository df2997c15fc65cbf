"""Running projections: exactly once, one worker at a time per projection, across all processes.

Each batch is one transaction that locks the projection's checkpoint row, reads the next events in the
safe global order, applies them to the read model *and* moves the checkpoint, so a crash at any point
leaves both where they were. The checkpoint row is taken with `FOR UPDATE SKIP LOCKED`: whoever holds it
works, anyone else skips, and the lock ends with the transaction — a cancelled or killed worker cannot
leave it held (a session-level advisory lock could stay held on a pooled connection). Because the lock
is taken by the statement that reads the checkpoint, the checkpoint read is always the latest committed
one: two workers can never apply the same event.

A projection that fails on an event is retried one event at a time until the failing event is known;
the supervisor (projections/supervisor.py) records it, backs off and tries again, while every other
projection carries on.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import uuid
from collections.abc import Callable, Sequence

import asyncpg

from musrenbang.eventlog.order import log_head
from musrenbang.eventlog.store import START, EventUnreadable, Position, RecordedEvent, read_after
from musrenbang.projections import Projection

log = logging.getLogger(__name__)

WAITS_GIVEN_UP: contextvars.ContextVar[list[str] | None] = contextvars.ContextVar("waits_given_up", default=None)
"""Whoever sets a list here (the web server, per request) learns which projections a
`wait_until_applied` gave up on, so that it can say that what it shows may be behind."""


class ProjectionFailed(Exception):
    """Applying (or reading) one event failed; the projection stays before it."""

    def __init__(self, projection: str, at: Position, event_type: str, cause: BaseException) -> None:
        super().__init__(f"projection {projection} failed on event {event_type} at global position {at.position}:"
                         f" {describe(cause)}")  # fmt: skip
        self.projection, self.at, self.event_type, self.cause = projection, at, event_type, cause

    @property
    def position(self) -> int:
        return self.at.position


def describe(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def is_connection_problem(exc: BaseException) -> bool:
    """The database could not be reached or went away: nothing to do with the event being applied."""
    return isinstance(
        exc,
        (OSError, asyncpg.InterfaceError, asyncpg.PostgresConnectionError, asyncpg.CannotConnectNowError,
         asyncpg.AdminShutdownError, asyncpg.CrashShutdownError, asyncpg.TooManyConnectionsError),
    )  # fmt: skip


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
        # Within this process, one task at a time works on a projection; the others wait for it and
        # usually find their events applied by then (many requests, one catch-up).
        self._local = {p.name: asyncio.Lock() for p in self.projections}
        self._refreshing = {p.name: asyncio.Lock() for p in self.projections}
        self._applied: dict[str, Position] = {}
        self._progressed = asyncio.Event()
        self._careful_until: dict[str, Position] = {}
        """After a batch failed: apply one event at a time up to here, to find the event that fails."""
        self._rows_made: set[str] = set()
        self.listening = False
        self.seal_trouble: str | None = None
        """Why the last seal of this process's sealer failed, until one succeeds (`/health` says it)."""
        """Whether this process's LISTEN connection is up (set by the supervisor); shown by /health."""
        self.origin = uuid.uuid4().hex[:12]
        """This process's name in the notifications of an EventStore whose events its workers apply."""

    @property
    def pool(self) -> asyncpg.Pool:
        return self._pool

    def named(self, names: Sequence[str]) -> list[Projection]:
        return [p for p in self.projections if p.name in names]

    async def catch_up(self, projection: Projection, max_batches: int | None = None) -> int | None:
        """Apply every committed event the projection has not seen (or `max_batches` batches of them); None
        if another worker holds it. Raises ProjectionFailed naming the event that could not be applied."""
        async with self._local[projection.name], self._pool.acquire() as conn:
            return await self.run_batches(conn, projection, max_batches=max_batches)

    async def catch_up_all(self) -> dict[str, int | None]:
        return {p.name: await self.catch_up(p) for p in self.projections}

    async def run_batches(
        self,
        conn: asyncpg.Connection,
        projection: Projection,
        on_progress: Callable[[int], None] | None = None,
        max_batches: int | None = None,
    ) -> int | None:
        """Batches on `conn` until no committed event is left (or another worker holds the projection, or
        `max_batches` were applied)."""
        name = projection.name
        if name not in self._rows_made:
            await conn.execute(
                "INSERT INTO projection_checkpoints (name) VALUES ($1) ON CONFLICT (name) DO NOTHING", name
            )
            self._rows_made.add(name)
        applied = 0
        while True:
            async with conn.transaction():
                row = await conn.fetchrow(
                    "SELECT tx, position, failures FROM projection_checkpoints WHERE name = $1"
                    " FOR UPDATE SKIP LOCKED",
                    name,
                )
                if row is None:
                    return applied or None  # another worker is applying this projection right now
                checkpoint = Position(row["tx"], row["position"])
                self._note_applied(name, checkpoint)
                events = await self._read(conn, projection, checkpoint)
                if events is None:
                    continue  # a batch could not be read: read it again one event at a time
                if not events:
                    if row["failures"]:  # the event it failed on was applied since (by a newer worker)
                        await _clear_failure(conn, name)
                    return applied
                if not await self._apply(conn, projection, events):
                    continue  # a batch failed: find the failing event one at a time
                last = Position(events[-1].tx, events[-1].global_position)
                await save_checkpoint(conn, name, last, clear_failure=row["failures"] > 0,
                                      changed=projection.last_change(events))  # fmt: skip
            self._note_applied(name, last)
            applied += len(events)
            if on_progress is not None:
                on_progress(len(events))
            if max_batches is not None:
                max_batches -= 1
                if max_batches <= 0:
                    return applied

    async def _read(self, conn: asyncpg.Connection, projection: Projection, checkpoint: Position
                    ) -> list[RecordedEvent] | None:  # fmt: skip
        careful = checkpoint < self._careful_until.get(projection.name, START)
        try:
            return await read_after(conn, checkpoint, 1 if careful else self.batch_size)
        except EventUnreadable as exc:
            if not careful:
                # Apply what comes before it, one at a time, so the projection stops right before it.
                self._careful_until[projection.name] = Position(exc.tx, exc.global_position)
                return None
            raise ProjectionFailed(projection.name, Position(exc.tx, exc.global_position), exc.event_type,
                                   exc.cause) from exc  # fmt: skip

    async def _apply(self, conn: asyncpg.Connection, projection: Projection, events: list[RecordedEvent]) -> bool:
        """Apply `events` inside a savepoint. False when a batch of several failed (the caller then goes one
        event at a time up to its end); ProjectionFailed when a single event failed."""
        try:
            async with conn.transaction():
                await projection.apply(conn, events)
        except Exception as exc:
            if is_connection_problem(exc):
                raise
            if len(events) > 1:
                self._careful_until[projection.name] = Position(events[-1].tx, events[-1].global_position)
                return False
            raise ProjectionFailed(projection.name, Position(events[0].tx, events[0].global_position),
                                   events[0].event_type, exc) from exc  # fmt: skip
        return True

    def has_applied(self, name: str, at: Position) -> bool:
        """Whether this process knows the projection to have applied `at` (it may have, unknown to it)."""
        return self._applied.get(name, START) >= at

    def _note_applied(self, name: str, at: Position) -> None:
        if at > self._applied.get(name, START):
            self._applied[name] = at
            # Wake the requests of this process waiting for their writes (wait_until_applied).
            self._progressed.set()
            self._progressed = asyncio.Event()

    async def applied(self, name: str) -> Position:
        """Where the projection stands, as committed by whichever worker applies it."""
        row = await self._pool.fetchrow("SELECT tx, position FROM projection_checkpoints WHERE name = $1", name)
        if row is not None:
            self._note_applied(name, Position(row["tx"], row["position"]))
        return self._applied.get(name, START)

    async def _refresh(self, name: str) -> Position:
        """`applied(name)`, read by one waiting task of this process at a time: the others learn of it
        from `_progressed` (many requests waiting on one projection made a round trip each, every few
        milliseconds, which was a fair share of a submission's cost under load)."""
        lock = self._refreshing[name]
        if lock.locked():
            return self._applied.get(name, START)
        async with lock:
            return await self.applied(name)

    async def wait_until_applied(self, names: Sequence[str], at: Position, timeout: float = 5.0) -> bool:
        """Read-your-writes: return True once the named projections have applied the event at `at`, helping
        them along when no other worker is busy with them. False, with a line in the log, if `timeout`
        passed first (an older transaction still open holds the safe order back) or a projection fails
        before the event: the caller then says that what it shows may be a few seconds behind."""
        deadline = asyncio.get_running_loop().time() + timeout
        for projection in self.named(names):
            why = await self._wait_for(projection, at, deadline)
            if why is not None:
                given_up = WAITS_GIVEN_UP.get()
                if given_up is not None:
                    given_up.append(projection.name)
                log.warning("gave up %s waiting for projection %s to apply global position %d; serving data that"
                            " may be a few seconds behind", why, projection.name, at.position)  # fmt: skip
                return False
        return True

    async def _wait_for(self, projection: Projection, at: Position, deadline: float) -> str | None:
        """None once `projection` has applied `at`; else why not (the time ran out, or it fails before)."""
        loop = asyncio.get_running_loop()
        started, helping, pause = loop.time(), True, 0.002
        while self._applied.get(projection.name, START) < at:
            progressed = self._progressed  # taken before looking, so no progress goes unnoticed
            # Help with one batch at a time, and only when this process's worker is not already at it:
            # waiting for the whole backlog (after a restart, a rebuild) would overrun the deadline.
            if helping and not self._local[projection.name].locked():
                try:
                    await self.catch_up(projection, max_batches=1)
                except ProjectionFailed as exc:
                    if self._applied.get(projection.name, START) < at:  # stuck before our event
                        return f"at once (it fails on {exc.event_type} at global position {exc.position})"
                    helping = False
                except Exception as exc:  # noqa: BLE001 - the supervisor deals with it; here: stop helping
                    log.debug("not helping %s along: %s", projection.name, describe(exc))
                    helping = False
            if self._applied.get(projection.name, START) >= at or await self._refresh(projection.name) >= at:
                return None
            if loop.time() + pause > deadline:
                return f"after {loop.time() - started:.1f} s"
            # This process's worker wakes us as soon as it applies something; a worker in another process
            # is seen by reading the checkpoint again after the pause.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(pause):
                    await progressed.wait()
            pause = min(pause * 2, 0.05)
        return None

    async def wait_for_head(self, names: Sequence[str], timeout: float = 10.0) -> bool:
        """Whether the named read models have applied everything the log holds now (waiting up to
        `timeout`): what a decision must check before it freezes data read from them."""
        async with self._pool.acquire() as conn:
            head = await log_head(conn)
        return head is None or await self.wait_until_applied(names, head, timeout)

    async def replay(self, projection: Projection, on_progress: Callable[[int], None] | None = None) -> int:
        """Rebuild the projection from the first event beside its live tables and switch them in one
        transaction (projections/rebuild.py): the live read model stays whole meanwhile."""
        from musrenbang.projections.rebuild import rebuild

        return await rebuild(self, projection, on_progress)

    async def replay_all(self, projections: Sequence[Projection], on_progress: Callable[[int], None] | None = None
                         ) -> list[int]:  # fmt: skip
        """`replay` of several projections reading the log once for all of them (needs a pool of at least
        len(projections) + 1 connections)."""
        from musrenbang.projections.rebuild import rebuild_many

        return await rebuild_many(self, projections, on_progress)

    async def run_forever(self, database_url: str, seal_interval: float | None = None,
                          verify_interval: float | None = None) -> None:  # fmt: skip
        """One supervised worker per projection, a LISTEN connection and (with an interval each) the sealer
        and the verifier of the log, until cancelled."""
        from musrenbang.projections.supervisor import supervise

        await supervise(self, database_url, seal_interval, verify_interval)


async def _clear_failure(conn: asyncpg.Connection, name: str) -> None:
    await conn.execute(
        "UPDATE projection_checkpoints SET failures = 0, failing_position = NULL, failing_type = NULL, error = NULL,"
        " failing_since = NULL WHERE name = $1",
        name,
    )


async def save_checkpoint(conn: asyncpg.Connection, name: str, at: Position, *, clear_failure: bool,
                          changed: int | None) -> None:  # fmt: skip
    """The projection has applied everything up to `at`; `changed`: the position of the last event among
    them it handles (`Projection.last_change`), what pages cached by its checkpoint key on (see
    projections/status.checkpoints); None leaves the previous one."""
    if clear_failure:
        await conn.execute(
            "UPDATE projection_checkpoints SET tx = $2, position = $3, updated_at = now(), failures = 0,"
            " failing_position = NULL, failing_type = NULL, error = NULL, failing_since = NULL,"
            " changed = coalesce($4, changed) WHERE name = $1",
            name, at.tx, at.position, changed,
        )  # fmt: skip
    else:
        await conn.execute(
            "UPDATE projection_checkpoints SET tx = $2, position = $3, updated_at = now(),"
            " changed = coalesce($4, changed) WHERE name = $1",
            name, at.tx, at.position, changed,
        )  # fmt: skip


async def lag(conn: asyncpg.Connection, projections: Sequence[Projection]) -> dict[str, int]:
    """Events committed but not yet applied, per projection (see projections/status.py)."""
    from musrenbang.projections.status import projection_status

    return {name: s.lag for name, s in (await projection_status(conn, projections)).items()}
