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
answering, that is no longer in recovery (promoted: its data may have gone its own way) or that is a
standby of another cluster (a URL left over from before a restore) is skipped until it answers as a
standby of this primary again; `/health` shows each one's state and lag. A standby that fails a reader
(it refuses, is full, or hangs) is skipped at once, and a reader it could not give a connection to gets
the primary's instead (`StandbyPool`).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import datetime as dt
import logging
import random
import time

import asyncpg
import msgspec

from musrenbang.db.connect import SERVER_SETTINGS, Pool, close_pool, create_pool, redact

log = logging.getLogger(__name__)

POLL_INTERVAL = 0.2
"""Seconds between two looks at each standby: how stale the cached replay position may be (a writer is
sent to the primary meanwhile, never to a standby that lacks its write)."""
MAX_LAG = 30.0
"""A standby that does not hold what the primary held this many seconds ago is not read from: the bound on
how stale any public page can be. A writer's cookie lives longer than this, so that once it expires
every standby still in use holds the write."""
CHECK_TIMEOUT = 1.0
"""How long a look at a standby or at the primary's position may take, and a reader waits for a standby's
connection before it takes the primary's."""
STANDBY_COMMAND_TIMEOUT = 5.0
"""A statement on a standby unanswered this long fails (and the standby is skipped): one that hangs (a
partition, a frozen machine) would otherwise hold its readers for as long as TCP takes to give up, hours.
Public pages' statements take milliseconds."""
FRESH = CHECK_TIMEOUT + 2 * POLL_INTERVAL
"""A comparison with the primary's position older than this no longer says a standby is caught up now."""
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


SHORT_PAGE_HEADER, LONG_PAGE_HEADER = 24, 40


def record_end(insert_lsn: int, page_size: int, segment_size: int) -> int:
    """The end of the last WAL record, from `pg_current_wal_insert_lsn()`. When a record ends exactly at a
    page's end, the insert position already lies past the next page's header (24 bytes, 40 at the start
    of a segment), where no standby's replay position ever is until more is written: an idle primary would
    keep a caught-up standby "behind" for good. No record ends inside a header, so stepping back over it
    loses nothing a reader wrote. (`pg_current_wal_flush_lsn()` has no header in it, but lags a commit
    under `synchronous_commit = off`.)"""
    if insert_lsn % segment_size == LONG_PAGE_HEADER:
        return insert_lsn - LONG_PAGE_HEADER
    if insert_lsn % page_size == SHORT_PAGE_HEADER:
        return insert_lsn - SHORT_PAGE_HEADER
    return insert_lsn


_SYSTEM = (
    "CASE WHEN has_function_privilege('pg_control_system()', 'execute')"
    " THEN (SELECT system_identifier FROM pg_control_system()) END AS system"
)
"""What tells a standby of this primary from one of another cluster, read only where the role may (a
hosted server may withhold pg_control_system)."""
_PRIMARY_POSITION = (
    "SELECT pg_current_wal_insert_lsn()::text AS lsn, clock_timestamp() AS now,"
    " current_setting('wal_block_size')::bigint AS page_size,"
    f" (SELECT setting::bigint FROM pg_settings WHERE name = 'wal_segment_size') AS segment_size, {_SYSTEM}"
)
_STANDBY_POSITION = (
    "SELECT pg_is_in_recovery() AS standby, pg_last_wal_replay_lsn()::text AS replayed,"
    f" pg_last_xact_replay_timestamp() AS replayed_commit, {_SYSTEM}"
)

_TROUBLE = (OSError, TimeoutError, asyncpg.PostgresConnectionError, asyncpg.TooManyConnectionsError,
            asyncpg.CannotConnectNowError, asyncpg.AdminShutdownError, asyncpg.InterfaceError)  # fmt: skip
"""What a standby that is down, full, starting, stopping or hanging raises (not a statement's own error)."""


def _describe(exc: BaseException) -> str:
    return str(exc) or type(exc).__name__


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
    def __init__(self, url: str, pool: StandbyPool) -> None:
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
                             None if lag is None else round(lag, 3), self.error)  # fmt: skip

    def lag_seconds(self, now: float) -> float | None:
        """Since when it is known to hold what the primary held: 0 when it was caught up at a recent look;
        growing while the primary's position cannot be read (so that a standby is not used for longer
        than MAX_LAG on a verdict nobody can check)."""
        if self.caught_up_at is None:
            return None
        behind = max(0.0, now - self.caught_up_at)
        return 0.0 if self.lag_bytes == 0 and behind <= FRESH else behind

    def failed(self, exc: BaseException) -> None:
        """Skipped until the background check finds it answering again."""
        if self.state != UNREACHABLE:
            log.warning("read replica %s skipped: %s", redact(self.url), _describe(exc))
        self.state, self.error = UNREACHABLE, _describe(exc)


class StandbyPool(Pool):
    """A standby's pool. A reader it cannot give a connection to within CHECK_TIMEOUT (the standby refuses,
    is full, starting, or does not answer) gets one from the primary's pool instead: the page is served, a
    moment fresher. Trouble during a read (a statement past STANDBY_COMMAND_TIMEOUT, a dropped connection)
    fails that read. Either way the standby is skipped at once rather than at the next look."""

    primary: asyncpg.Pool
    replica: Replica

    def acquire(self, *, timeout: float | None = None):  # as Pool.acquire
        return _FallingBack(self, timeout)

    def acquire_own(self, *, timeout: float | None = None):
        """A connection to the standby itself, or the error: the background check must see the standby."""
        return super().acquire(timeout=timeout)


class _FallingBack:
    """`async with pool.acquire()` on a StandbyPool."""

    def __init__(self, pool: StandbyPool, timeout: float | None) -> None:
        self._pool, self._timeout = pool, timeout
        self._inner: contextlib.AbstractAsyncContextManager[asyncpg.Connection] | None = None
        self._standby = True

    async def __aenter__(self) -> asyncpg.Connection:
        self._inner = self._pool.acquire_own(timeout=self._timeout)
        try:
            return await self._inner.__aenter__()
        except _TROUBLE as exc:
            self._pool.replica.failed(exc)
        self._standby = False
        self._inner = self._pool.primary.acquire(timeout=self._timeout)
        return await self._inner.__aenter__()

    async def __aexit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: object) -> None:
        if self._standby and isinstance(exc, _TROUBLE):
            self._pool.replica.failed(exc)
        assert self._inner is not None
        await self._inner.__aexit__(kind, exc, tb)  # type: ignore[arg-type]


class _PrimaryPosition(msgspec.Struct):
    lsn: int
    at: float
    """time.monotonic() when read."""
    now: dt.datetime
    """The primary's clock then."""


class ReadPools:
    """The primary's pool and the standbys' pools, and which of them a read uses."""

    def __init__(self, primary: asyncpg.Pool, replicas: list[Replica], primary_url: str = "") -> None:
        self.primary = primary
        self.replicas = replicas
        self._primary_url = primary_url
        self._watch: asyncpg.Connection | None = None
        """The background check's own connection to the primary: borrowing one of the request pool's,
        a busy site left the standbys' verdicts unchecked for as long as it stayed busy."""
        self._primary_lsns: collections.deque[tuple[float, int]] = collections.deque(maxlen=HISTORY)
        self._wal_sizes: tuple[int, int] | None = None
        """The primary's WAL page and segment sizes (record_end), once read."""
        self._system: int | None = None
        """The primary's system identifier, once read (None where the role may not read it)."""
        self._task: asyncio.Task[None] | None = None

    @classmethod
    async def open(cls, primary: asyncpg.Pool, primary_url: str, urls: tuple[str, ...], *, max_size: int = 20
                   ) -> ReadPools:  # fmt: skip
        """The standbys looked at once (the first requests may already read from them), then every
        POLL_INTERVAL seconds in the background until `close`. Their pools connect on first use
        (`min_size=0`): a standby that is down when the server starts must not keep the server from
        starting; it is skipped until it answers."""
        replicas = []
        for url in urls:
            pool = await create_pool(url, min_size=0, max_size=max_size, acquire_timeout=CHECK_TIMEOUT,
                                     command_timeout=STANDBY_COMMAND_TIMEOUT, pool_class=StandbyPool)  # fmt: skip
            assert isinstance(pool, StandbyPool)
            replica = Replica(url, pool)
            pool.primary, pool.replica = primary, replica
            replicas.append(replica)
        reads = cls(primary, replicas, primary_url)
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
            lsn = parse_lsn(await conn.fetchval("SELECT pg_current_wal_insert_lsn()::text", timeout=timeout)) or 0
        # Before the sizes are known, the raw position: at worst past a header, never short of a commit.
        return record_end(lsn, *self._wal_sizes) if self._wal_sizes else lsn

    async def run_forever(self) -> None:
        """Look at every standby every POLL_INTERVAL seconds, until cancelled. One standby's trouble is
        recorded on it and never stops the others' checks; a bug here is logged and the looking goes on
        (the standbys' lag then grows until they are skipped, and health shows it)."""
        while True:
            await asyncio.sleep(POLL_INTERVAL)
            try:
                await self.check_once()
            except Exception:
                log.exception("looking at the read replicas failed")

    async def check_once(self) -> None:
        """The primary's position, then each standby's. Without the primary's (it is away, or too slow to
        answer) a standby's lag is not measured again: it grows from the last comparison, so a standby is
        used on an old verdict for at most MAX_LAG."""
        primary = await self._primary_position()
        if primary is not None:
            self._primary_lsns.append((primary.at, primary.lsn))
        await asyncio.gather(*(self._check(r, primary) for r in self.replicas))

    async def _primary_position(self) -> _PrimaryPosition | None:
        try:
            if self._watch is None or self._watch.is_closed():
                self._watch = await asyncpg.connect(self._primary_url, timeout=CHECK_TIMEOUT, server_settings={
                    **SERVER_SETTINGS, "application_name": "musrenbang replicas"})  # fmt: skip
            row = await self._watch.fetchrow(_PRIMARY_POSITION, timeout=CHECK_TIMEOUT)
        except (*_TROUBLE, asyncpg.PostgresError) as exc:
            log.debug("primary position unknown: %s", _describe(exc))
            self._forget_watch()
            return None
        self._wal_sizes = (row["page_size"], row["segment_size"])
        self._system = row["system"]
        lsn = record_end(parse_lsn(row["lsn"]) or 0, *self._wal_sizes)
        return _PrimaryPosition(lsn, time.monotonic(), row["now"])

    def _forget_watch(self) -> None:
        if self._watch is not None:
            self._watch.terminate()  # it may hang: never wait for it
            self._watch = None

    async def _check(self, replica: Replica, primary: _PrimaryPosition | None) -> None:
        pool = replica.pool
        try:
            async with pool.acquire_own(timeout=CHECK_TIMEOUT) as conn:
                row = await conn.fetchrow(_STANDBY_POSITION, timeout=CHECK_TIMEOUT)
        except (*_TROUBLE, asyncpg.PostgresError) as exc:
            replica.failed(exc)
            await pool.expire_connections()  # a restarted standby gets fresh connections, not dead ones
            return
        trouble = self._not_a_standby_of_ours(row)
        if trouble is not None:
            if replica.state != NOT_STANDBY:
                log.warning("read replica %s skipped: %s", redact(replica.url), trouble)
            replica.state, replica.error = NOT_STANDBY, trouble
            return
        replica.replay_lsn = parse_lsn(row["replayed"]) or 0
        if primary is not None:
            commit = row["replayed_commit"]  # on the primary's clock, placed on this process's
            self._note_lag(replica, None if commit is None else primary.at - (primary.now - commit).total_seconds())
        state, error = self._verdict(replica)
        if state != replica.state and state != STARTING:
            log.log(logging.INFO if state == STREAMING else logging.WARNING, "read replica %s %s", redact(replica.url),
                    "in use" if state == STREAMING else f"skipped: {error}")  # fmt: skip
        replica.state, replica.error = state, error

    def _not_a_standby_of_ours(self, row: asyncpg.Record) -> str | None:
        if not row["standby"]:
            return "not in recovery: not a standby of this primary (promoted?)"
        if row["system"] is not None and self._system is not None and row["system"] != self._system:
            return (f"a standby of another cluster (system identifier {row['system']}, the primary's"
                    f" {self._system}): is the URL left over from before a restore?")  # fmt: skip
        return None

    def _verdict(self, replica: Replica) -> tuple[str, str | None]:
        """Streaming (used) when it holds what the primary held at most MAX_LAG seconds ago. One that has not
        replayed any position seen yet, nor a commit made in the last MAX_LAG, is `starting` while those
        positions span less than MAX_LAG (a server just started, or a standby catching up: how far behind
        is not known yet), `behind` after."""
        now = time.monotonic()
        behind = f"more than {MAX_LAG:.0f} s behind the primary"
        lag = replica.lag_seconds(now)
        if lag is not None:
            return (STREAMING, None) if lag <= MAX_LAG else (BEHIND, behind)
        if not self._primary_lsns or now - self._primary_lsns[0][0] < MAX_LAG:
            return STARTING, "has not replayed any position of the primary seen yet"
        return BEHIND, behind

    def _note_lag(self, replica: Replica, committed_at: float | None = None) -> None:
        """Lag against the primary positions seen so far: the newest one the standby has replayed says
        since when it is behind. So does the last commit it replayed (`committed_at`, on this process's
        clock): it holds everything committed before it, which tells how far behind a standby is that
        has replayed none of the positions seen yet (one a few seconds behind, looked at for a second by
        `musrenbang status`)."""
        if not self._primary_lsns:
            return
        replica.lag_bytes = max(0, self._primary_lsns[-1][1] - replica.replay_lsn)
        since = [at for at, lsn in self._primary_lsns if lsn <= replica.replay_lsn][-1:]
        if committed_at is not None:
            since.append(committed_at)
        if replica.caught_up_at is not None:
            since.append(replica.caught_up_at)
        if since:
            replica.caught_up_at = max(since)

    def statuses(self) -> list[ReplicaStatus]:
        now = time.monotonic()
        return [r.status(now) for r in self.replicas]

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self._forget_watch()
        await asyncio.gather(*(close_pool(r.pool, CLOSE_GRACE) for r in self.replicas), return_exceptions=True)
