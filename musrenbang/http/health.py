"""GET /health (for people and monitoring) and GET /health/ready (for a load balancer).

/health tells the truth about the whole site: the database, each projection's lag and state (`ok`,
`catching_up`, `stalled` with the event and the error) and, with read replicas, each standby's state and
replay lag as this process last saw it (db/replicas.py). Its status is `ok` (HTTP 200) only when the
database answers, no projection is stalled, every standby is in use, this process's sealer writes its
seals and the newest check of the whole log found it intact; `degraded` (a projection stalled: pages from
that read model stop changing; a standby skipped: its reads fall on the primary; seals failing: the
published head stops moving; the log broken: an event was changed or removed behind the program's back)
and `unavailable` (no database) answer 503, so a monitor alerts on either.

`log`: the newest check of every chain and seal, as `musrenbang verify` checks them, that a server process
made (soon after it starts, then every MUSRENBANG_VERIFY_INTERVAL seconds; eventlog/verifications.py):
`verified_at` (when it finished), `started_at`, `events` (how many it read), `intact`, and when not intact
`problems` (how many `verify` would list) and `problem` (the first, as `verify` words it: the broken stream
with its version, global position and event type, or the seal that no longer matches). `null` until a
first check finished: a new server is not degraded for it. A log whose newest check found it broken is
`degraded` (and the sealer writes no seal over it: `seal.failing`).

/health/ready says whether *this process* can serve requests (its database connection works): what a
load balancer needs to route around a broken instance. A stalled projection does not make it unready —
every instance shares the database, so taking them all out would only turn stale pages into no pages.
"""

from __future__ import annotations

import datetime as dt
import logging

import asyncpg
import msgspec
from litestar import Controller, Response, get
from litestar.datastructures import State

from musrenbang.db.backup import RESTORE_MARK
from musrenbang.db.replicas import STREAMING, ReadPools, ReplicaStatus
from musrenbang.delivery.worker import DeliveryWorker
from musrenbang.eventlog import seal, verifications
from musrenbang.http.deps import PoolDep, RunnerDep
from musrenbang.projections.runner import ProjectionRunner
from musrenbang.projections.status import STALLED, ProjectionStatus, projection_status

log = logging.getLogger(__name__)

OK, DEGRADED, UNAVAILABLE = "ok", "degraded", "unavailable"
_PROBLEMS = (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError)


class DatabaseHealth(msgspec.Struct, omit_defaults=True):
    status: str
    version: str | None = None
    error: str | None = None


class OutboxHealth(msgspec.Struct, omit_defaults=True):
    """Messages to residents not delivered yet: waiting for a retry, or for a channel nobody configured
    (`/petugas/pesan` lists them), and refused for good. Not a reason for 503 — the site works — but an
    old `oldest_pending_seconds` is worth an alert."""

    pending: int
    failed: int
    oldest_pending_seconds: float | None
    channels: list[str] = []
    """The channels this server process delivers by (left out when none is configured — messages wait — and
    in `musrenbang status`, which runs no sender)."""
    failing: dict[str, str] = {}
    """Channels whose sends fail now (the gateway or SMTP server down, say), with the error: retried with
    back-off, and cleared by the next delivery."""


class SealHealth(msgspec.Struct, omit_defaults=True):
    """The newest seal over the log (none before the first) and, when this process's sealer fails, why: a
    seal that cannot be written leaves the published head where it was, which only the log said."""

    seal: int | None = None
    sealed_at: dt.datetime | None = None
    failing: str | None = None


class LogHealth(msgspec.Struct, omit_defaults=True):
    """The newest check of the whole log (eventlog/verifications.py): see the module's docstring."""

    verified_at: dt.datetime
    started_at: dt.datetime
    events: int
    intact: bool
    problems: int = 0
    problem: str | None = None


class Health(msgspec.Struct):
    status: str
    database: DatabaseHealth
    projections: dict[str, ProjectionStatus]
    listening: bool
    """Whether this process is woken by notifications of new events (else it polls)."""
    outbox: OutboxHealth | None = None
    replicas: list[ReplicaStatus] = []
    """Each read replica (MUSRENBANG_REPLICA_URLS); empty without any."""
    seal: SealHealth | None = None
    restore_unfinished: bool = False
    """A restore stopped after its load (db/backup.RESTORE_MARK): the read models are built again from a log
    it may not have verified yet; `musrenbang replay` finishes it (503 `degraded` until then)."""
    log: LogHealth | None = None
    """The newest check of every chain and seal (None: none finished yet); broken: 503 `degraded`."""


class Ready(msgspec.Struct, omit_defaults=True):
    ready: bool
    error: str | None = None


CONNECTION_WITHIN = 2
STATEMENTS_WITHIN = 3
"""Seconds /health waits for a connection, then for its statements (a table locked by a migration or a
rebuild's switch), so that a monitor gets 503 within five seconds, never a request that hangs."""


async def site_health(pool: asyncpg.Pool, runner: ProjectionRunner, delivery: DeliveryWorker | None = None,
                      reads: ReadPools | None = None, *, public: bool = False) -> Health:  # fmt: skip
    """`public`: the page anyone may read names what kind of problem the database has, not its message,
    which can hold the database's host, port and user name (the log has it whole, as `musrenbang status`)."""
    replicas = reads.statuses() if reads is not None else []
    try:
        async with pool.acquire(timeout=CONNECTION_WITHIN) as conn, conn.transaction(readonly=True):
            await conn.execute(f"SET LOCAL statement_timeout = '{STATEMENTS_WITHIN}s'")
            version = await conn.fetchval("SHOW server_version")
            projections = await projection_status(conn, runner.projections)
            outbox = await _outbox(conn)
            newest = await seal.latest(conn)
            unfinished = await conn.fetchval(f"SELECT to_regclass('{RESTORE_MARK}') IS NOT NULL")
            verified = await verifications.latest(conn)
        if delivery is not None:
            outbox = msgspec.structs.replace(outbox, channels=delivery.channels, failing=delivery.failing)
    except _PROBLEMS as exc:
        return Health(UNAVAILABLE, DatabaseHealth("unreachable", error=_unreachable(exc, public)), {},
                      runner.listening, replicas=replicas)  # fmt: skip
    if public:  # the kind of a projection's failure, not its message: PostgreSQL's names a row's values
        projections = {name: msgspec.structs.replace(s, error=_kind(s.error)) for name, s in projections.items()}
    sealing = SealHealth(newest.seal if newest else None, newest.sealed_at if newest else None,
                         _kind(runner.seal_trouble) if public else runner.seal_trouble)  # fmt: skip
    stalled = any(s.state == STALLED for s in projections.values())
    skipped = any(r.state != STREAMING for r in replicas)
    checked = None if verified is None else LogHealth(verified.finished_at, verified.started_at, verified.events,
                                                      verified.intact, verified.problems, verified.problem)
    broken = checked is not None and not checked.intact
    troubled = stalled or skipped or sealing.failing is not None or unfinished or broken
    return Health(DEGRADED if troubled else OK, DatabaseHealth("ok", version=version), projections,
                  runner.listening, outbox, replicas, sealing, unfinished, checked)  # fmt: skip


def _kind(error: str | None) -> str | None:
    """A problem as `describe` wrote it ("UniqueViolationError: duplicate key … DETAIL: Failing row contains
    (…)"), its kind alone: what the public health answer says (the log and `musrenbang status` have it whole)."""
    return None if error is None else error.split(":", 1)[0]


def _problem(exc: BaseException, public: bool) -> str:
    """What a health answer says of a database problem: for the public, its kind alone (`_unreachable`
    logs it whole); for the operator, its message."""
    return type(exc).__name__ if public else str(exc) or type(exc).__name__


def _unreachable(exc: BaseException, public: bool) -> str:
    """`_problem`, with the whole message logged where the public answer leaves it out."""
    if public:
        log.warning("health: the database does not answer: %s", exc)
    return _problem(exc, public)


async def _outbox(conn: asyncpg.Connection) -> OutboxHealth:
    """Two index-only counts (the partial indexes of migration 0025), whatever the number delivered."""
    row = await conn.fetchrow(
        "SELECT (SELECT count(*) FROM outbox WHERE status = 'pending') AS pending,"
        " (SELECT count(*) FROM outbox WHERE status = 'failed') AS failed,"
        " extract(epoch FROM now() - (SELECT min(created_at) FROM outbox WHERE status = 'pending'))::float8 AS oldest"
    )
    return OutboxHealth(row["pending"], row["failed"], row["oldest"])


class HealthApi(Controller):
    """Public: a load balancer or a monitor asks without signing in, so no guard (the answer names a database
    problem's kind, not its message)."""

    path = "/health"

    @get("/", summary="The database, each projection's lag and state, each read replica's; 503 unless all is well")
    async def health(self, state: State, pool: PoolDep, runner: RunnerDep) -> Response[Health]:
        body = await site_health(pool, runner, state.get("delivery"), state.get("reads"), public=True)
        return Response(body, status_code=200 if body.status == OK else 503)

    @get("/ready", summary="Whether this server process can serve requests (for a load balancer)")
    async def ready(self, pool: PoolDep) -> Response[Ready]:
        try:
            async with pool.acquire(timeout=3) as conn:
                await conn.fetchval("SELECT 1", timeout=3)
        except _PROBLEMS as exc:
            return Response(Ready(False, _unreachable(exc, public=True)), status_code=503)
        return Response(Ready(True))
