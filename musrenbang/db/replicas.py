"""Streaming read replicas (`MUSRENBANG_REPLICA_URLS`): which pool a public read uses.

Everything is written on the primary (the log, the read models, sessions, counters); PostgreSQL's own
streaming replication carries it to the standbys. A read may go to a standby when the standby already
holds what the reader must see:

- a reader that wrote nothing recently may see any standby that is streaming and holds everything the
  primary held MAX_LAG seconds ago (usually it is a moment behind; health says how far);
- a reader that just wrote carries the primary's WAL position taken at the end of its write
  (`http/reads.py` puts it in a cookie that outlives MAX_LAG) and reads from a standby only once that
  standby has replayed up to it; until then from the primary (read-your-writes).

Choosing costs no round trip: a background task (`run_forever`) asks each standby for its replay
position every `POLL_INTERVAL` seconds and `pool_for` routes on the cached answer. A standby that stops
answering, or that is no longer in recovery (promoted: its data may have gone its own way), is skipped
until it answers as a standby again; `/health` shows each one's state and lag.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import random
import time

import asyncpg
import msgspec

from musrenbang.db.connect import Pool, close_pool, create_pool, redact

log = logging.getLogger(__name__)

POLL_INTERVAL = 0.2
"""Seconds between two looks at each standby: how stale the cached replay position may be (a writer is
sent to the primary meanwhile, never to a standby that lacks its write)."""
MAX_LAG = 30.0
"""A standby that does not hold what the primary held this many seconds ago is not read from: the bound on
how stale any public page can be. A writer's cookie lives longer than this, so that once it expires
every standby still in use holds the write."""
CHECK_TIMEOUT = 1.0
HISTORY = 300
"""Primary positions remembered (a minute at POLL_INTERVAL) to say since when a standby is behind."""

CLOSE_GRACE = 3.0
"""At shutdown, how long a standby's pool waits for reads still in flight before closing them anyway."""

STREAMING, BEHIND, UNREACHABLE, NOT_STANDBY, STARTING = "streaming", "behind", "unreachable", "not_standby", "starting"


def parse_lsn(text: str | None) -> int | None:
    """`16/B374D848` (PostgreSQL's notation) as a number; None for anything else."""
    if not text or len(text) > 17:
        return None
    high, slash, low = text.partition("/")
    try:
        if not slash or not high or not low:
            return None
        return (int(high, 16) << 32) | int(low, 16)
    except ValueError:
        return None


def format_lsn(lsn: int) -> str:
    return f"{lsn >> 32:X}/{lsn & 0xFFFFFFFF:X}"


class ReplicaStatus(msgspec.Struct, omit_defaults=True):
    """One standby as `/health` shows it."""

    url: str
    """Without its password."""
    state: str
    """`streaming` (used for reads); skipped: `behind` (more than MAX_LAG seconds), `unreachable`,
    `not_standby` (promoted, or never a standby), `starting` (not asked yet, or not caught up with any
    position of the primary seen so far)."""
    replay_lsn: str | None = None
    lag_bytes: int | None = None
    """How much WAL the primary has written that this standby has not replayed yet (at the last look)."""
    lag_seconds: float | None = None
    """The standby holds everything the primary held this many seconds ago (0: caught up at the last look;
    None: not caught up within the last minute remembered)."""
    error: str | None = None


class Replica:
    def __init__(self, url: str, pool: Pool) -> None:
        self.url = url
        self.pool = pool
        self.state = STARTING
        self.replay_lsn = 0
        self.caught_up_at: float | None = None
        self.lag_bytes: int | None = None
        self.error: str | None = None

    def status(self, now: float) -> ReplicaStatus:
        if self.state not in (STREAMING, BEHIND):
            return ReplicaStatus(redact(self.url), self.state, error=self.error)
        lag = self.lag_seconds(now)
        return ReplicaStatus(redact(self.url), self.state, format_lsn(self.replay_lsn), self.lag_bytes,
                             None if lag is None else round(lag, 3))  # fmt: skip

    def lag_seconds(self, now: float) -> float | None:
        if self.lag_bytes == 0:
            return 0.0
        return None if self.caught_up_at is None else max(0.0, now - self.caught_up_at)


class ReadPools:
    """The primary's pool and the standbys' pools, and which of them a read uses."""

    def __init__(self, primary: asyncpg.Pool, replicas: list[Replica]) -> None:
        self.primary = primary
        self.replicas = replicas
        self._primary_lsns: collections.deque[tuple[float, int]] = collections.deque(maxlen=HISTORY)
        self._task: asyncio.Task[None] | None = None

    @classmethod
    async def open(cls, primary: asyncpg.Pool, urls: tuple[str, ...], *, max_size: int = 20) -> ReadPools:
        """The standbys looked at once (the first requests may already read from them), then every
        POLL_INTERVAL seconds in the background until `close`. Their pools connect on first use
        (`min_size=0`): a standby that is down when the server starts must not keep the server from
        starting; it is skipped until it answers."""
        reads = cls(primary, [Replica(url, await create_pool(url, min_size=0, max_size=max_size)) for url in urls])
        await reads.check_once()
        reads._task = asyncio.create_task(reads.run_forever())
        return reads

    def pool_for(self, after: int | None) -> asyncpg.Pool:
        """A streaming standby that has replayed `after` (any streaming one when None), else the primary."""
        usable = [r for r in self.replicas if r.state == STREAMING and (after is None or r.replay_lsn >= after)]
        return random.choice(usable).pool if usable else self.primary

    async def primary_lsn(self, timeout: float | None = None) -> int:
        """Where the primary's WAL ends now: every commit made so far is at or before it."""
        async with self.primary.acquire(timeout=timeout) as conn:
            return parse_lsn(await conn.fetchval("SELECT pg_current_wal_insert_lsn()::text")) or 0

    async def run_forever(self) -> None:
        """Look at every standby every POLL_INTERVAL seconds, until cancelled. One standby's trouble is
        recorded on it and never stops the others' checks; a bug here is logged and the looking goes on
        (the standbys' states then stop changing, and health shows their lag growing)."""
        while True:
            await asyncio.sleep(POLL_INTERVAL)
            try:
                await self.check_once()
            except Exception:
                log.exception("looking at the read replicas failed")

    async def check_once(self) -> None:
        """The primary's position, then each standby's. Without the primary's (it is away, or its pool is
        full for a moment) a standby's lag cannot be judged: the standbys keep the verdict they had, so that
        a busy primary is not also handed every read."""
        try:
            self._primary_lsns.append((time.monotonic(), await self.primary_lsn(timeout=CHECK_TIMEOUT)))
            judged = True
        except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            log.debug("primary position unknown: %s", exc)
            judged = False
        await asyncio.gather(*(self._check(r, judged) for r in self.replicas))

    async def _check(self, replica: Replica, judged: bool) -> None:
        try:
            async with replica.pool.acquire(timeout=CHECK_TIMEOUT) as conn:
                row = await conn.fetchrow(
                    "SELECT pg_is_in_recovery() AS standby, pg_last_wal_replay_lsn()::text AS replayed",
                    timeout=CHECK_TIMEOUT,
                )
        except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            if replica.state != UNREACHABLE:
                log.warning("read replica %s skipped: %s", redact(replica.url), exc or type(exc).__name__)
            replica.state, replica.error = UNREACHABLE, str(exc) or type(exc).__name__
            replica.pool.expire_connections()  # a restarted standby gets fresh connections, not dead ones
            return
        if not row["standby"]:
            if replica.state != NOT_STANDBY:
                log.warning("read replica %s skipped: it is not in recovery (promoted?)", redact(replica.url))
            replica.state, replica.error = NOT_STANDBY, "not in recovery: not a standby of this primary"
            return
        replica.replay_lsn = parse_lsn(row["replayed"]) or 0
        if not judged and replica.state in (STREAMING, BEHIND):
            return
        self._note_lag(replica)
        state, error = self._verdict(replica)
        if state != replica.state and state != STARTING:
            log.log(logging.INFO if state == STREAMING else logging.WARNING, "read replica %s %s", redact(replica.url),
                    "in use" if state == STREAMING else f"skipped: {error}")  # fmt: skip
        replica.state, replica.error = state, error

    def _verdict(self, replica: Replica) -> tuple[str, str | None]:
        """Streaming (used) when it holds what the primary held at most MAX_LAG seconds ago. One that has not
        replayed any position seen yet is `starting` while those positions span less than MAX_LAG (a server
        just started, or a standby catching up: how far behind is not known yet), `behind` after."""
        now = time.monotonic()
        lag = replica.lag_seconds(now)
        if lag is not None:
            return (STREAMING, None) if lag <= MAX_LAG else (BEHIND, f"more than {MAX_LAG:.0f} s behind the primary")
        if not self._primary_lsns or now - self._primary_lsns[0][0] < MAX_LAG:
            return STARTING, "has not replayed any position of the primary seen yet"
        return BEHIND, f"more than {MAX_LAG:.0f} s behind the primary"

    def _note_lag(self, replica: Replica) -> None:
        """Lag against the primary positions seen so far: the newest one the standby has replayed says
        since when it is behind."""
        if not self._primary_lsns:
            return
        replica.lag_bytes = max(0, self._primary_lsns[-1][1] - replica.replay_lsn)
        for at, lsn in reversed(self._primary_lsns):
            if lsn <= replica.replay_lsn:
                replica.caught_up_at = at if replica.caught_up_at is None else max(replica.caught_up_at, at)
                return

    def statuses(self) -> list[ReplicaStatus]:
        now = time.monotonic()
        return [r.status(now) for r in self.replicas]

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await asyncio.gather(*(close_pool(r.pool, CLOSE_GRACE) for r in self.replicas), return_exceptions=True)
