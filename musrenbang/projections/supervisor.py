"""Keeping every projection moving, whatever goes wrong: one worker per projection, and a LISTEN connection.

Isolation: each projection has its own worker task, so a projection that fails (a bug, an event this
version cannot read, a value its table cannot hold) never stops another one.

Supervision: a worker survives every exception. It logs the problem once (again only when it changes),
backs off (0.5 s doubling to 30 s) and tries again, so it resumes by itself when the cause goes away —
the database coming back after an outage, a newer server taking over during a rolling upgrade. A failure
on an event is recorded beside the projection's checkpoint (position, type, error, how many times in a
row); from STALLED_AFTER failures on the same event the projection is reported as stalled by /health and
`musrenbang status`. A lost database connection is not the event's fault and is not counted.

Seals: when given an interval, a sealer seals the log that often (eventlog/seal.py); one process at a
time does it, the others find the lock taken. A sealer that finds the log broken writes no seal and says
why in /health, as for any other failure (`seal_trouble`).

Checks of the whole log: when given an interval, a verifier checks every chain and seal soon after the
process starts (VERIFY_FIRST_AFTER) and then that often, storing the result where /health and
`musrenbang status` read it (eventlog/verifications.py); one process at a time, the others skip the round.

Wake-ups: the LISTEN connection is re-established whenever it is lost (checked with a ping every poll
interval, because a silent network loss never closes the socket); meanwhile, and always as a fallback,
each worker polls. A notification is only a hint. It says which types of event were committed, where
the last one stands and which process's workers apply them (eventlog/store.py, CHANNEL). A worker wakes
only for types its projection handles; only if this process has not applied them already (the request
that wrote them usually has, waiting for its own write); and for another process's events, only
FOREIGN_DELAY later, once for all that came meanwhile, in case that process's workers did not apply
them (it reads where the projection stands first, without a lock). Under a stream of submissions a
submission then costs a transaction in the projections that apply it, in its own process, instead of one
in every projection of every process: what a projection ignores is passed over at its next wake-up or
poll, and passing it over changes nothing in its tables (`Projection.handles`). An event a look was rung
for but could not apply yet (an older transaction still open holds it back in the safe order, or another
worker held the projection) is looked at again soon after (`_Retry`): the transaction that releases it may
announce only types this projection ignores. A blind ring (a reconnection, an older version's empty
notification) is a look for everything up to the log's head, retried the same way.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

import asyncpg

from musrenbang.db.connect import connect
from musrenbang.eventlog import seal, verifications
from musrenbang.eventlog.order import log_head
from musrenbang.eventlog.store import CHANNEL, OUTBOX_NOTICE, EventStore, Position, announced
from musrenbang.projections import Projection
from musrenbang.projections.runner import ProjectionFailed, ProjectionRunner, describe, is_connection_problem
from musrenbang.projections.status import STALLED_AFTER

log = logging.getLogger(__name__)

FIRST_BACKOFF, MAX_BACKOFF = 0.5, 30.0
GATHER_SECONDS = 0.02
"""After a wake-up, how long a worker lets the events of a burst gather before it applies them. Under
load every process notifies every few milliseconds, and each worker of each process answered each with a
transaction of its own (most finding nothing, or the projection held by another process): several
transactions per submission, more than the submission's own. A request that waits for its own write does
not wait for this: it helps the projection along itself (ProjectionRunner.wait_until_applied)."""
FOREIGN_DELAY = 1.0
"""Seconds a worker leaves another process's events to that process's own workers before it looks."""
VERIFY_FIRST_AFTER = 5.0
"""Seconds after a process starts (or its verifier restarts) before its first check of the log (sooner
when the interval is shorter): not in the way of the start itself."""
LISTENER_NAME = "musrenbang-listener"
"""The LISTEN connection's application_name, as pg_stat_activity shows it."""


class Backoff:
    def __init__(self) -> None:
        self.delay = 0.0

    def next(self) -> float:
        self.delay = FIRST_BACKOFF if not self.delay else min(self.delay * 2, MAX_BACKOFF)
        return self.delay

    def reset(self) -> None:
        self.delay = 0.0


class Wake:
    """A worker's alarm: rung by the listener with where the last event it cares about stands (`needed`),
    or blind (a reconnection, a notification that does not say what was committed)."""

    def __init__(self) -> None:
        self._event = asyncio.Event()
        self._later: asyncio.TimerHandle | None = None
        self._later_at = 0.0
        self.needed: Position | None = None
        self.blind = False
        self.now = False
        """Rung for a look at once (not only by a delayed ring)."""

    @property
    def rung(self) -> bool:
        return self._event.is_set()

    def ring(self, at: Position | None) -> None:
        self.note(at)
        self.now = True
        self._event.set()

    def ring_later(self, at: Position, delay: float | None = None) -> None:
        """Ring in `delay` seconds (FOREIGN_DELAY as it is when called), once for all that come meanwhile
        (another process's events, or a look again at events held back); a ring pending sooner stands."""
        self.note(at)
        delay = FOREIGN_DELAY if delay is None else delay
        loop = asyncio.get_running_loop()
        when = loop.time() + delay
        if self._later is None or when < self._later_at:
            if self._later is not None:
                self._later.cancel()
            self._later, self._later_at = loop.call_later(delay, self._event.set), when

    def note(self, at: Position | None) -> None:
        """What the next look is for, without ringing: the later of `at` and what was noted (None: blind)."""
        if at is None:
            self.blind = True
        elif self.needed is None or at > self.needed:
            self.needed = at

    def clear(self) -> None:
        """Before a look at the log, which sees every event announced so far: a ring still pending for
        them has nothing more to say."""
        if self._later is not None:
            self._later.cancel()
            self._later = None
        self._event.clear()
        self.needed, self.blind, self.now = None, False, False

    async def wait(self, timeout: float) -> bool:
        """Whether it was rung (False: `timeout` passed)."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                await self._event.wait()
            return True
        return False

    async def pointless(self, runner: ProjectionRunner, name: str) -> bool:
        """Rung only for events the projection has applied: no look (a transaction that locks the
        checkpoint row) needed. After a delayed ring alone, where the projection stands is read first (a
        plain read): another process's workers have usually applied its events by then."""
        if self.blind or self.needed is None:
            return False
        applied = runner.has_applied(name, self.needed)
        if applied or self.now:
            return applied
        try:
            await runner.applied(name)
        except Exception as exc:  # noqa: BLE001 - the look that follows meets it and backs off
            log.debug("could not read where %s stands: %s", name, describe(exc))
            return False
        # Rung blind during the read (the listener reconnected: notifications were missed): a look, or
        # the clear that follows would forget the ring.
        return not self.blind and runner.has_applied(name, self.needed)


class _Retry:
    """When to look again at events announced but not applied by a look (an older transaction still open
    holds them back in the safe order, or another worker held the projection): in 10 ms, doubling up to
    FOREIGN_DELAY, until the delays add up to the poll interval, when the poll looks anyway. Without it
    such an event waited for the next notification of a type the projection handles, or the poll."""

    FIRST = 0.01

    def __init__(self, poll_interval: float) -> None:
        self._poll_interval = poll_interval
        self.reset()

    def reset(self) -> None:
        self._delay, self._waited = 0.0, 0.0

    def next(self) -> float | None:
        if self._waited >= self._poll_interval:
            return None
        self._delay = min(self._delay * 2 or self.FIRST, FOREIGN_DELAY)
        self._waited += self._delay
        return self._delay


def ring_for(runner: ProjectionRunner, wakes: dict[str, Wake], payload: str) -> None:
    """Ring the workers a notification concerns: those whose projection handles a type it names (later
    for another process's events), every one when it does not say (see CHANNEL), none for the outbox's."""
    if payload == OUTBOX_NOTICE:
        return
    news = announced(payload)
    for projection in runner.projections:
        wake, kinds = wakes[projection.name], projection.kinds
        if news is None:
            wake.ring(None)
        elif kinds is not None and kinds.isdisjoint(news.types):
            continue
        elif news.origin is None or news.origin == runner.origin:
            wake.ring(news.last)
        else:
            wake.ring_later(news.last)


async def supervise(runner: ProjectionRunner, database_url: str, seal_interval: float | None = None,
                    verify_interval: float | None = None) -> None:  # fmt: skip
    """Run the listener, one worker per projection and (with an interval each) the sealer and the verifier
    until cancelled; restart any that ends."""
    wakes = {p.name: Wake() for p in runner.projections}
    jobs: dict[str, Callable[[], Awaitable[None]]] = {
        "listener": lambda: _listen(runner, database_url, wakes),
        **{f"projection {p.name}": _worker_job(runner, p, wakes[p.name]) for p in runner.projections},
    }
    if seal_interval:
        jobs["sealer"] = lambda: _seal_periodically(runner, seal_interval)
    if verify_interval:
        jobs["verifier"] = lambda: _verify_periodically(runner, verify_interval)
    tasks = [asyncio.create_task(_restarting(name, job), name=name) for name, job in jobs.items()]
    try:
        await asyncio.gather(*tasks)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def _worker_job(runner: ProjectionRunner, projection: Projection, wake: Wake) -> Callable[[], Awaitable[None]]:
    return lambda: _work(runner, projection, wake)


async def _restarting(name: str, job: Callable[[], Awaitable[None]]) -> None:
    """Belt and braces: the loops below catch everything, but should one still end, start it again."""
    backoff = Backoff()
    while True:
        try:
            await job()
            log.error("%s ended unexpectedly; starting it again", name)
        except asyncio.CancelledError:
            raise
        except BaseException as exc:  # noqa: BLE001 - nothing may stop a worker for good
            log.exception("%s crashed (%s); starting it again", name, describe(exc))
        await asyncio.sleep(backoff.next())


async def _work(runner: ProjectionRunner, projection: Projection, wake: Wake) -> None:
    name = projection.name
    backoff = Backoff()
    retry = _Retry(runner.poll_interval)
    trouble: str | None = None  # what was last logged about this worker
    while True:
        await _aim_blind_look(runner, wake)
        needed = wake.needed
        wake.clear()  # before catching up: a ring meanwhile means one more look
        try:
            await runner.catch_up(projection)
        except ProjectionFailed as exc:
            failures = await _record_failure(runner, exc)
            delay = backoff.next()
            text = f"{exc} (failed {failures} time(s) in a row; next try in {delay:.1f} s)"
            if failures == STALLED_AFTER:
                log.error("projection %s is STALLED: %s", name, text)
            elif trouble != str(exc):
                log.warning("%s", text)
            trouble = str(exc)
            await asyncio.sleep(delay)
            continue
        except Exception as exc:  # noqa: BLE001 - any other problem: log it, back off, try again
            delay = backoff.next()
            what = "cannot reach the database" if is_connection_problem(exc) else "failed"
            text = f"projection {name} {what}: {describe(exc)}"
            if trouble != text:
                log.warning("%s; trying again in %.1f s (and backing off)", text, delay)
                if not is_connection_problem(exc):
                    log.debug("traceback", exc_info=exc)
            trouble = text
            await asyncio.sleep(delay)
            continue
        if trouble is not None:
            log.info("projection %s is moving again", name)
            trouble = None
        backoff.reset()
        if needed is not None and not runner.has_applied(name, needed):
            if (again := retry.next()) is not None:
                wake.ring_later(needed, again)
        else:
            retry.reset()
        await _next_wake(runner, name, wake)


async def _aim_blind_look(runner: ProjectionRunner, wake: Wake) -> None:
    """After a blind ring, note the log's last event as what the look is for, so that an event it cannot
    apply yet (held back by an older transaction still open) is looked at again like one announced
    (`_Retry`). Nothing when the head cannot be read: the look meets the problem and backs off."""
    if not wake.blind:
        return
    try:
        async with runner.pool.acquire() as conn:
            head = await log_head(conn)
    except Exception as exc:  # noqa: BLE001 - the look that follows meets it and backs off
        log.debug("could not read the log's head: %s", describe(exc))
        return
    if head is not None:
        wake.note(head)


async def _next_wake(runner: ProjectionRunner, name: str, wake: Wake) -> None:
    """Until there may be something to apply: a ring for events the projection has not applied (after
    letting a burst gather), or the poll interval, whatever rings meanwhile."""
    loop = asyncio.get_running_loop()
    poll = loop.time() + runner.poll_interval
    while await wake.wait(max(poll - loop.time(), 0.0)):
        await asyncio.sleep(GATHER_SECONDS)
        if not await wake.pointless(runner, name):
            return
        wake.clear()


async def _record_failure(runner: ProjectionRunner, exc: ProjectionFailed) -> int:
    """Count the failure beside the checkpoint (in a transaction of its own); returns the count in a row
    on this event, or 0 when it could not be recorded."""
    try:
        failures = await runner.pool.fetchval(
            "UPDATE projection_checkpoints SET"
            " failures = CASE WHEN failing_position = $2 THEN failures + 1 ELSE 1 END,"
            " failing_since = CASE WHEN failing_position = $2 THEN failing_since ELSE now() END,"
            " failing_position = $2, failing_type = $3, error = $4"
            # Not when another worker has applied the event meanwhile (a newer version, say).
            " WHERE name = $1 AND (tx, position) < ($5::bigint, $2::bigint) RETURNING failures",
            exc.projection, exc.position, exc.event_type, describe(exc.cause)[:2000], exc.at.tx,
        )  # fmt: skip
    except Exception as problem:  # noqa: BLE001 - the failure is still logged; health will catch up
        log.debug("could not record the failure of %s: %s", exc.projection, describe(problem))
        return 0
    return failures or 0


async def _listen(runner: ProjectionRunner, database_url: str, wakes: dict[str, Wake]) -> None:
    """Keep a LISTEN connection open, reconnecting whenever it is lost; wake the workers each notification
    concerns (`ring_for`), and every one once after (re)connecting, since notifications sent meanwhile
    were missed."""

    def wake_all() -> None:
        for wake in wakes.values():
            wake.ring(None)

    def notified(_conn: object, _pid: int, _channel: str, payload: str) -> None:
        ring_for(runner, wakes, payload)

    backoff = Backoff()
    trouble: str | None = None
    while True:
        conn: asyncpg.Connection | None = None
        try:
            conn = await connect(database_url, application_name=LISTENER_NAME)
            lost = asyncio.Event()
            conn.add_termination_listener(lambda _, lost=lost: lost.set())
            await conn.add_listener(CHANNEL, notified)
            runner.listening = True
            if trouble is not None:
                log.info("listening for new events again")
                trouble = None
            backoff.reset()
            wake_all()
            while not lost.is_set():
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(runner.poll_interval):
                        await lost.wait()
                if not lost.is_set():
                    async with asyncio.timeout(10):  # a silent network loss
                        await conn.fetchval("SELECT 1")
            raise ConnectionError("the LISTEN connection was closed")
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - polling goes on meanwhile
            runner.listening = False
            text = describe(exc)
            if trouble != text:
                log.warning("not listening for new events (%s); polling every %.0f s and reconnecting",
                            text, runner.poll_interval)  # fmt: skip
            trouble = text
        finally:
            runner.listening = False
            if conn is not None and not conn.is_closed():
                conn.terminate()
        await asyncio.sleep(backoff.next())


async def _seal_periodically(runner: ProjectionRunner, interval: float) -> None:
    """Seal the log every `interval` seconds (at once again while a backlog remains)."""
    store = EventStore(runner.pool)
    backoff = Backoff()
    trouble: str | None = None
    while True:
        await asyncio.sleep(interval)
        try:
            while (covered := await seal.seal(store)) >= seal.MAX_EVENTS_PER_SEAL:
                log.info("sealed %d events; more are waiting", covered)
        except seal.BrokenLog as exc:
            text = describe(exc)
            if trouble != text:
                log.error("NOT sealing the log: %s (`musrenbang verify` names every break)", exc)
            trouble = runner.seal_trouble = text
            await asyncio.sleep(backoff.next())
            continue
        except Exception as exc:  # noqa: BLE001 - try again next time
            text = describe(exc)
            if trouble != text:
                log.warning("could not seal the log (%s); trying again", text)
            trouble = runner.seal_trouble = text  # said in /health too, not only in the log (review s25)
            await asyncio.sleep(backoff.next())
            continue
        if trouble is not None:
            log.info("sealing the log again")
            trouble = runner.seal_trouble = None
        backoff.reset()



async def _verify_periodically(runner: ProjectionRunner, interval: float) -> None:
    """Check the whole log soon after start, then every `interval` seconds (eventlog/verifications.py); a
    round that fails (the database away) is tried again with back-off."""
    backoff = Backoff()
    trouble: str | None = None
    delay = min(interval, VERIFY_FIRST_AFTER)
    fresh_within: float | None = None  # the first round checks whatever the others did
    while True:
        await asyncio.sleep(delay)
        try:
            done = await verifications.verify_round(runner.pool, fresh_within)
        except Exception as exc:  # noqa: BLE001 - try again, backing off
            text = describe(exc)
            delay = backoff.next()
            if trouble != text:
                log.warning("could not verify the log (%s); trying again in %.1f s", text, delay)
            trouble = text
            continue
        if trouble is not None:
            log.info("verifying the log again")
            trouble = None
        backoff.reset()
        delay, fresh_within = interval, interval / 2
        if isinstance(done, verifications.Skipped):
            log.debug("not verifying the log this round: %s", done.value)
        elif done.intact:
            log.info("verified the log: %d events, every chain and seal intact", done.events)
        else:
            log.error("the log does NOT verify (%d problem(s), `musrenbang verify` names each): %s",
                      done.problems, done.problem)  # fmt: skip
