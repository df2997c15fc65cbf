"""Sending the outbox: a few supervised senders per server process, each claiming one due message at a
time, sending it and recording what became of it.

**Claiming with a lease.** No transaction and no lock is held while a message is sent. A sender claims
a message by moving it out of everyone's reach for a while, in one short statement that commits at once:

    1. among the first due pending messages of a configured channel that are next in line for their
       address (below), in order of due time, take the first no other sender is claiming at this
       instant (`FOR UPDATE SKIP LOCKED`, held for the statement only) and set its `next_attempt_at` to
       now + LEASE (10 minutes) — no other sender finds it due until then;
    2. send it, holding nothing in the database (the connection may even be lost meanwhile);
    3. record what became of it in another short statement — delivered, failed, or attempts + 1 and the
       next try after min(2^attempts s, 1 h) — which replaces the lease. A record that cannot be made
       because the connection was lost is kept and made on the next connection, before anything else.

The lease is what makes "never sent twice at the same time" hold whatever happens to the sender's
database session: a session advisory lock (the design before this one) is released when the session
ends — a restart or failover of the database, a network cut, a timeout — while the sender, still alive,
goes on sending, and another sender then sent the same message beside it. A lease ends only with time:
LEASE is longer than any send can take (channels.SEND_DEADLINE, 2 minutes, cuts a longer one short), so
the sender that holds it has recorded the outcome long before. Every claim and every record is a short
transaction that commits at once, so none holds back the event horizon (eventlog/order.py) that every
projection reads below, and none sits idle in a transaction.

A process killed at any point (SIGKILL included) records nothing: the message is still pending, under its
lease, and is sent again when the lease ends (at most LEASE later) — at least once, and exactly once for
the resident because the gateway deduplicates by the message's id, and e-mail carries a Message-ID
derived from it (delivery/channels.py). A recorded outcome never overwrites another: a record only
changes a message still pending, and (unless it says delivered) only under the lease it was sent under.

**One at a time per address, in the order queued.** The rows of one transaction (a CSV of milestones)
share their due time, and several senders claim side by side: an address got "selesai dikerjakan" 7 ms
before "mulai dikerjakan". A message is claimed only when no earlier one (by `queued`, migration 0047: the
log's order) to the same channel and address is still pending — under a lease or waiting for a retry;
delivered, failed (refused or given up) and cancelled ones hold nothing back. The test reads committed
rows, and a message being sent stays pending until its outcome is recorded, so it holds across the senders
of every process with no lock of its own. A retry moves its address's later messages to its own next try
(`_RETRY`), so that the claim does not pass over them at every look; `outbox retry` gives a message a new
number, behind what its address still has pending. Not covered: a message whose transaction commits after
a later-numbered one to its address was sent (numbers follow inserts, not commits), and one cancelled
mid-send (the next may go beside it).

**Giving up.** A message the other side has not taken after GIVE_UP_ATTEMPTS tries — about three days at
the pace above (longer when the other side asks for more with Retry-After) — is marked failed, with
"given up after N tries" and the last error: a gateway that answers 5xx to one message for ever, a mail
server that refuses us for days. `musrenbang outbox retry [--channel C] [--since DATE]` (`requeue_failed`)
puts failed messages back in the queue, with their tries counted afresh: after a mistake in the
configuration is fixed, or to try once more what was refused for good. Tries cut short by our own stop
are not counted.

**Stopping** (`stop`). The senders claim nothing more, and the channels are told: an e-mail that has not
begun its DATA is cut at once (nothing was sent: it is due again at once), one waiting for the server's
answer to its text is given until STOP_GRACE - CUT_GRACE seconds to hear it — cut sooner, a message
the server was about to take would be sent again, a second copy — and is then cut, as is a gateway
request still without its answer; each sender records what became of its message and ends. The
server's stop (cli/server.py: a worker that does not end within 6 s is killed) allows no more: an SMTP
server that takes longer than that to answer a message's text may have taken it, and it is sent again at
the next start, with the same Message-ID. A message cut by the stop is due again at once and its try is
not counted.

**Waking up.** Every append NOTIFYs `musrenbang_events` after it commits; a LISTEN connection of the
worker's own rings a doorbell that wakes one idle sender (each sender that claims a message rings it
again, so a burst draws in every sender). Each idle sender also wakes when the next retry is due and at
least every poll interval (notifications are hints; messages written without an event are found so).
Messages whose channel has no adapter configured are left pending: the staff page shows them.

**Supervision**, as for the projections (projections/supervisor.py): any exception is logged once (again
only when it changes), backed off and retried; a sender never dies silently and never takes another down.
No error while recording can keep a message due for ever: a record the database refuses (what a server
answered, say) is replaced by a retry with a plain error, and failing that the lease runs out.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import uuid
from collections.abc import Awaitable, Callable

import asyncpg
import msgspec

from musrenbang.config import Settings
from musrenbang.db.connect import connect
from musrenbang.delivery.channels import (
    CHANNELS,
    SCRUBBED_LENGTH,
    Channel,
    Message,
    Outcome,
    configured_channels,
    printable,
    scrubbed,
)
from musrenbang.eventlog.store import CHANNEL, OUTBOX_NOTICE, announced
from musrenbang.projections.runner import describe, is_connection_problem
from musrenbang.projections.supervisor import Backoff

log = logging.getLogger(__name__)

SENDERS = 4
"""Concurrent senders per server process, each on a connection of its own."""
MAX_DELAY = 3600.0
LEASE = 600.0
"""Seconds a claimed message is kept from every other sender: far longer than a send may take
(channels.SEND_DEADLINE) and its outcome takes to record. Also how long a message waits after its sender
was killed mid-send before another sends it.

>>> from musrenbang.delivery.channels import SEND_DEADLINE
>>> SEND_DEADLINE < LEASE / 2
True
"""
GIVE_UP_ATTEMPTS = 84
"""Tries after which a message the other side never took is marked failed: about three days at the
back-off of `retry_delay` (see `give_up_after`)."""
STOP_GRACE = 5.0
"""On shutdown, how long the senders may take to end: a message being sent may finish meanwhile."""
CUT_GRACE = 1.0
"""The end of STOP_GRACE kept for the sends still under way to be cut and their outcome recorded."""
SENDER_NAME = "musrenbang-delivery"
NOT_RECORDED = "what the other side answered could not be recorded ({}); tried again later"

CANDIDATES = 100
"""Due messages looked at per claim: more than all the senders of all processes can hold at once."""

_CLAIM = f"""
WITH due AS MATERIALIZED (
    SELECT d.id FROM unnest($1::text[]) AS c (channel), LATERAL (
        SELECT o.id, o.next_attempt_at FROM outbox o
        WHERE o.status = 'pending' AND o.channel = c.channel AND o.next_attempt_at <= now()
          AND NOT EXISTS (SELECT FROM outbox e WHERE e.status = 'pending' AND e.channel = o.channel
                          AND e.address = o.address AND e.queued < o.queued ORDER BY e.queued OFFSET 0)
        ORDER BY o.next_attempt_at
        LIMIT {CANDIDATES}
    ) AS d
    ORDER BY d.next_attempt_at
    LIMIT {CANDIDATES}
), claimed AS (
    UPDATE outbox SET next_attempt_at = clock_timestamp() + make_interval(secs => $2)
    WHERE id = (
        SELECT id FROM outbox
        WHERE id = ANY (ARRAY(SELECT id FROM due)) AND status = 'pending' AND next_attempt_at <= now()
        ORDER BY next_attempt_at
        LIMIT 1
        FOR UPDATE SKIP LOCKED
    )
    RETURNING id, channel, address, title, body, link, attempts, subscription, next_attempt_at
)
SELECT c.id, c.channel, c.address, c.title, c.body, c.link, c.attempts, c.next_attempt_at AS leased_until,
       s.token, s.stopped_at IS NOT NULL AS stopped
FROM claimed c LEFT JOIN subscriptions s ON s.id = c.subscription
"""
# One statement, committed at once: the row lock lasts for it only. The candidates are handed to the lock
# as an array (`= ANY (ARRAY(…))`), probed by primary key: as `IN (SELECT …)` PostgreSQL hashed every
# pending message once the statistics saw a backlog (2.5 of 3 ms a claim at 10,000 pending).
# `due`: the first due messages of each configured channel that are next for their address, read from the
# index on (channel, next_attempt_at) and stopping there, however long the queue; for each, one probe of the
# index on (channel, address, queued) asks whether an earlier one is pending (a retry pushes the later ones
# back: few are passed over).
# OFFSET 0 keeps it a probe (as a join, with statistics from before a burst, it hashed every pending
# message of the channel) and ORDER BY e.queued keeps it on that index (with such statistics it read the
# whole channel's index for each message). SKIP LOCKED then lets the senders of every process claim among
# them side by side. Under READ COMMITTED a row another sender leased since our snapshot is read again and,
# no longer due, passed over; the earlier-message test needs no second look: our snapshot can only show
# pending an earlier message that has left since, never the reverse (one queued again takes a new number).

_RETRY = """
WITH tried AS (
    UPDATE outbox SET attempts = attempts + 1, last_error = $3,
                      next_attempt_at = clock_timestamp() + make_interval(secs => $4)
    WHERE id = $1 AND status = 'pending' AND next_attempt_at = $2
    RETURNING channel, address, queued, next_attempt_at
)
UPDATE outbox o SET next_attempt_at = t.next_attempt_at FROM tried t
WHERE o.status = 'pending' AND o.channel = t.channel AND o.address = t.address AND o.queued > t.queued
  AND o.next_attempt_at <= now()
"""
# A retry, and the later messages to the address it holds back made due with it (not before: the claim
# would pass over them at every look while it waits). Only those due now: a later one not due is under a
# lease of its own (its earlier one committed late) or waiting for its own retry.

_REQUEUE = """
WITH again AS MATERIALIZED (
    SELECT id FROM outbox
    WHERE status = 'failed' AND ($1::text IS NULL OR channel = $1) AND ($2::timestamptz IS NULL OR created_at >= $2)
    ORDER BY queued NULLS FIRST, created_at, id
    FOR UPDATE
), numbered AS MATERIALIZED (
    SELECT id, nextval('outbox_queued') AS queued FROM again
)
UPDATE outbox o SET status = 'pending', attempts = 0, next_attempt_at = now(), queued = n.queued
FROM numbered n WHERE o.id = n.id
RETURNING o.channel
"""
# Queued anew: a number after everything queued so far, taken in the messages' own order (an address's
# failed messages keep theirs among themselves).

_NEXT_DUE = """
SELECT extract(epoch FROM min(n.at) - now())::float8 FROM unnest($1::text[]) AS c (channel), LATERAL (
    SELECT min(next_attempt_at) AS at FROM outbox
    WHERE status = 'pending' AND channel = c.channel AND next_attempt_at > now()
) AS n
"""


async def wake_senders(conn: asyncpg.Connection) -> None:
    """Wake the senders of every process now rather than at their next poll: for code that writes outbox
    rows without appending an event (appends notify by themselves). Inside a transaction the notification
    leaves at its commit."""
    await conn.execute("SELECT pg_notify($1, $2)", CHANNEL, OUTBOX_NOTICE)


def retry_delay(attempts: int, asked: float | None = None) -> float:
    """Seconds until the next try after a failed one, `attempts` being the tries before it (0 for the
    first): 1, 2, 4 … up to an hour, or longer when the other side asked for it (Retry-After, itself at
    most an hour).

    >>> [retry_delay(n) for n in (0, 1, 2, 12, 40)], retry_delay(0, 30.0)
    ([1.0, 2.0, 4.0, 3600.0, 3600.0], 30.0)
    """
    delay = MAX_DELAY if attempts >= 12 else min(float(2**attempts), MAX_DELAY)
    return max(delay, min(asked or 0.0, MAX_DELAY))


def give_up_after(attempts: int = GIVE_UP_ATTEMPTS) -> dt.timedelta:
    """How long after its first try a message is given up at the latest back-off, when every try fails.

    >>> give_up_after()
    datetime.timedelta(days=3, seconds=495)
    """
    return dt.timedelta(seconds=sum(retry_delay(n) for n in range(attempts - 1)))


async def requeue_failed(conn: asyncpg.Connection, *, channel: str | None = None,
                         since: dt.datetime | None = None) -> dict[str, int]:  # fmt: skip
    """Put failed messages back in the queue — of `channel`, and queued at or after `since` when given —
    due now, with their tries counted afresh (their last error stays until the next try) and a new place
    in their address's line (`_REQUEUE`); wake the senders of every running process. Returns how many
    were queued again, per channel."""
    if channel is not None and channel not in CHANNELS:
        raise ValueError(f"no channel {channel!r} (known: {', '.join(CHANNELS)})")
    async with conn.transaction():
        rows = await conn.fetch(_REQUEUE, channel, since)
        if rows:
            await wake_senders(conn)
    counts: dict[str, int] = {}
    for r in rows:
        counts[r["channel"]] = counts.get(r["channel"], 0) + 1
    return counts


class _Claim(msgspec.Struct, frozen=True):
    id: uuid.UUID
    channel: str
    attempts: int
    leased_until: dt.datetime


class _Sent(msgspec.Struct, frozen=True):
    """A send whose outcome is still to be recorded."""

    claim: _Claim
    outcome: Outcome


class DeliveryWorker:
    """The senders and the LISTEN connection of one server process. `start()` in the app's lifespan,
    `stop()` at its end."""

    def __init__(self, database_url: str, settings: Settings, *, senders: int = SENDERS) -> None:
        self._url = database_url
        self._settings = settings
        self._senders = senders
        self._channels: dict[str, Channel] = {}
        self._bell = _Doorbell()
        self._tasks: list[asyncio.Task[None]] = []
        self._listener: asyncio.Task[None] | None = None
        self._stopping = False
        self._stopped = asyncio.Event()
        self._trouble: dict[str, str] = {}
        """channel -> the error last logged for it, until it delivers again."""

    @property
    def channels(self) -> list[str]:
        return sorted(self._channels)

    @property
    def failing(self) -> dict[str, str]:
        """Channels whose last send failed and has not succeeded since, with the error (no address in it):
        what /health reports, beside the backlog."""
        return dict(self._trouble)

    def start(self) -> None:
        self._channels = configured_channels(self._settings)
        if not self._channels:
            log.info("no delivery channel configured (MUSRENBANG_SMTP_URL, MUSRENBANG_SMS_GATEWAY_URL): messages"
                     " to residents wait in the outbox")  # fmt: skip
            return
        log.info("delivering messages by %s", ", ".join(self.channels))
        self._listener = asyncio.create_task(self._supervised("delivery listener", self._listen),
                                             name="delivery listener")  # fmt: skip
        self._tasks = [asyncio.create_task(self._supervised(f"sender {n}", self._send_loop), name=f"sender {n}")
                       for n in range(self._senders)]  # fmt: skip

    async def stop(self, grace: float = STOP_GRACE) -> None:
        """Claim nothing more; let messages being sent finish (up to `grace` - CUT_GRACE seconds), then cut
        those still under way, let their outcome be recorded, and end every task (see the module's doc)."""
        self._stopping = True
        self._stopped.set()
        channels = list({id(c): c for c in self._channels.values()}.values())
        for channel in channels:
            channel.stopping()
        self._bell.ring_all()
        if self._listener is not None:
            self._listener.cancel()
        if self._tasks:
            _, running = await asyncio.wait(self._tasks, timeout=max(grace - CUT_GRACE, 0.0))
            if running:
                for channel in channels:
                    channel.abort()
                await asyncio.wait(running, timeout=min(CUT_GRACE, grace))
        every = [*self._tasks, *([self._listener] if self._listener is not None else [])]
        for task in every:
            task.cancel()
        await asyncio.gather(*every, return_exceptions=True)
        for channel in channels:
            with contextlib.suppress(Exception):
                await channel.close()

    async def _pause(self, seconds: float) -> None:
        """Sleep `seconds`, or less once a stop began."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await self._stopped.wait()
        if self._stopping:
            await asyncio.sleep(min(seconds, 0.2))  # a sender with an outcome to record tries again, not in a spin

    async def _supervised(self, name: str, job: Callable[[], Awaitable[None]]) -> None:
        """Belt and braces: the loops catch everything, but should one still end or crash, start it again."""
        backoff = Backoff()
        while not self._stopping:
            try:
                await job()
                if self._stopping:
                    return
                log.error("%s ended unexpectedly; starting it again", name)
            except asyncio.CancelledError:
                raise
            except BaseException as exc:  # noqa: BLE001 - nothing may stop a sender for good
                log.exception("%s crashed (%s); starting it again", name, describe(exc))
            await self._pause(backoff.next())

    # --- senders ------------------------------------------------------------------------------------------

    async def _send_loop(self) -> None:
        backoff = Backoff()
        trouble: str | None = None
        unrecorded: list[_Sent] = []
        """Outcomes not recorded because the connection was lost: recorded first on the next one."""
        while unrecorded or not self._stopping:
            conn: asyncpg.Connection | None = None
            try:
                conn = await connect(self._url, application_name=SENDER_NAME)
                # This connection writes nothing but claims and what became of a send: should the database
                # crash before the WAL is flushed, a lease is lost (the message is sent again under the same
                # id, which the gateway absorbs) or an outcome is (the same, after the lease). Not waiting
                # for the flush took bench/outbox.py from 358 to 484 messages/s.
                await conn.execute("SET synchronous_commit = off")
                while unrecorded:
                    await self._record(conn, unrecorded[0])
                    sent = unrecorded.pop(0)
                    self._note(sent.claim.id, sent.claim.channel, sent.outcome)
                if trouble is not None:
                    log.info("delivery is reading the outbox again")
                    trouble = None
                backoff.reset()
                while not self._stopping:
                    due_in = await self._deliver_one(conn, unrecorded)
                    if due_in is not None:
                        await self._bell.wait(min(due_in, self._settings.poll_interval))
                return
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - log it, back off, try again
                delay = backoff.next()
                what = "cannot reach the database" if is_connection_problem(exc) else "failed"
                text = printable(f"delivery {what}: {describe(exc)}")
                if trouble != text:
                    log.warning("%s; trying again in %.1f s (and backing off)", text, delay)
                    if not is_connection_problem(exc):
                        log.debug("traceback", exc_info=exc)
                trouble = text
                await self._pause(delay)
            finally:
                if conn is not None and not conn.is_closed():
                    conn.terminate()

    async def _deliver_one(self, conn: asyncpg.Connection, unrecorded: list[_Sent]) -> float | None:
        """Send one due message, if any. None when one was handled; otherwise the seconds until the next
        message of a configured channel is due (the poll interval when none is waiting)."""
        channels = list(self._channels)
        row = await conn.fetchrow(_CLAIM, channels, LEASE)
        if row is None:
            due_in = await conn.fetchval(_NEXT_DUE, channels)
            return self._settings.poll_interval if due_in is None else max(due_in, 0.0) + 0.01
        self._bell.ring()  # more may be due: another idle sender looks meanwhile
        claim = _Claim(row["id"], row["channel"], row["attempts"], row["leased_until"])
        if row["stopped"]:  # the resident stopped these messages after this one was queued
            await conn.execute("UPDATE outbox SET status = 'cancelled', last_error = $2 WHERE id = $1"
                               " AND status = 'pending'", claim.id,
                               "the subscription was stopped before sending")  # fmt: skip
            return None
        if self._stopping:  # the stop came while claiming: give it back, due at once
            outcome = Outcome("retry", "stopped before sending (nothing sent)", interrupted=True)
        else:
            outcome = await self._send(row)
        sent = _Sent(claim, outcome)
        unrecorded.append(sent)
        await self._record(conn, sent)
        unrecorded.remove(sent)
        self._note(claim.id, claim.channel, outcome)
        return None

    async def _send(self, row: asyncpg.Record) -> Outcome:
        """What became of sending the row, its error fit to be stored and logged (`scrubbed`, whatever
        the channel did already)."""
        message = Message(id=row["id"], channel=row["channel"], address=row["address"], title=row["title"],
                          body=row["body"], link=row["link"], stop_token=row["token"])  # fmt: skip
        try:
            outcome = await self._channels[row["channel"]].send(message)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - an adapter's bug must not lose the message: try later
            log.debug("sending outbox message %s raised", row["id"], exc_info=exc)
            outcome = Outcome("retry", describe(exc))
        if outcome.error is not None:
            outcome = msgspec.structs.replace(outcome, error=scrubbed(outcome.error, message.address))
        return outcome

    async def _record(self, conn: asyncpg.Connection, sent: _Sent) -> None:
        """Record what became of a send. Raises only when the connection is lost (the caller keeps the
        outcome and records it on the next connection); a record the database refuses is replaced by a
        retry with a plain error, so no answer of a server can keep a message due for ever."""
        claim, outcome = sent.claim, sent.outcome
        try:
            await _write_outcome(conn, claim, outcome)
            return
        except Exception as exc:
            if is_connection_problem(exc):
                raise
            refused = exc
        fallback = outcome if outcome.status == "delivered" else Outcome("retry", NOT_RECORDED.format(
            type(refused).__name__))  # fmt: skip
        try:
            await _write_outcome(conn, claim, fallback)
        except Exception as exc:
            if is_connection_problem(exc):
                raise
            log.error("what became of outbox message %s cannot be recorded (%s); it is sent again when its lease"
                      " ends", claim.id, printable(describe(exc)))  # fmt: skip
        else:
            log.warning("what became of outbox message %s (%s) could not be recorded (%s); recorded as %s",
                        claim.id, outcome.status, printable(describe(refused)), fallback.status)  # fmt: skip

    def _note(self, message_id: uuid.UUID, channel: str, outcome: Outcome) -> None:
        """Log a channel's trouble once when it starts and once when it ends; never an address or a text."""
        if outcome.status == "delivered":
            if self._trouble.pop(channel, None) is not None:
                log.info("delivery by %s works again", channel)
        elif outcome.interrupted:
            log.info("outbox message %s (%s) was cut short by the stop: %s", message_id, channel, outcome.error)
        elif outcome.status == "failed":
            log.info("outbox message %s (%s) cannot be delivered: %s", message_id, channel, outcome.error)
        elif self._trouble.get(channel) != outcome.error:
            self._trouble[channel] = outcome.error or ""
            log.warning("delivery by %s fails (%s); messages wait and are tried again with back-off", channel,
                        outcome.error)  # fmt: skip

    # --- wake-ups -----------------------------------------------------------------------------------------

    def _notified(self, _conn: object, _pid: int, _channel: str, payload: str) -> None:
        """Ring the doorbell for messages queued, or when a notification does not say (eventlog/store.py,
        CHANNEL): not for each ballot and each score sheet of a forum, which queue none."""
        news = announced(payload)
        if news is None or OUTBOX_NOTICE in news.types:
            self._bell.ring()

    async def _listen(self) -> None:
        """Ring the doorbell on notifications of messages queued (`_notified`), and once after (re)connecting
        (notifications sent meanwhile were missed); reconnect whenever the connection is lost (pinged every
        poll interval)."""
        backoff = Backoff()
        trouble: str | None = None
        while not self._stopping:
            conn: asyncpg.Connection | None = None
            try:
                conn = await connect(self._url, application_name=f"{SENDER_NAME}-listener")
                lost = asyncio.Event()
                conn.add_termination_listener(lambda _, lost=lost: lost.set())
                await conn.add_listener(CHANNEL, self._notified)
                if trouble is not None:
                    log.info("delivery is listening for new events again")
                    trouble = None
                backoff.reset()
                self._bell.ring()
                while not lost.is_set() and not self._stopping:
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(self._settings.poll_interval):
                            await lost.wait()
                    if not lost.is_set():
                        async with asyncio.timeout(10):
                            await conn.fetchval("SELECT 1")
                if self._stopping:
                    return
                raise ConnectionError("the LISTEN connection was closed")
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - the senders poll meanwhile
                text = printable(describe(exc))
                if trouble != text:
                    log.warning("delivery is not listening for new events (%s); polling and reconnecting", text)
                trouble = text
            finally:
                if conn is not None and not conn.is_closed():
                    conn.terminate()
            await self._pause(backoff.next())


def _given_up(attempts: int, error: str | None) -> str:
    said = f"given up after {attempts} tries (musrenbang outbox retry queues it again); the last: {error or '-'}"
    return said[:SCRUBBED_LENGTH]


async def _write_outcome(conn: asyncpg.Connection, claim: _Claim, outcome: Outcome) -> None:
    """What became of a send, in one statement. Only a message still pending changes, and, unless it was
    delivered (which stands whoever else may have sent it since), only under the lease it was sent under.
    clock_timestamp(): the time of the record, as for the claim."""
    if outcome.status == "delivered":
        await conn.execute("UPDATE outbox SET status = 'delivered', attempts = attempts + 1,"
                           " delivered_at = clock_timestamp() WHERE id = $1 AND status = 'pending'",
                           claim.id)  # fmt: skip
        return
    leased = "WHERE id = $1 AND status = 'pending' AND next_attempt_at = $2"
    if outcome.interrupted:  # our stop: not the message's try, due again at once
        await conn.execute(f"UPDATE outbox SET last_error = $3, next_attempt_at = clock_timestamp() {leased}",
                           claim.id, claim.leased_until, outcome.error)  # fmt: skip
    elif outcome.status == "failed" or claim.attempts + 1 >= GIVE_UP_ATTEMPTS:
        error = outcome.error if outcome.status == "failed" else _given_up(claim.attempts + 1, outcome.error)
        await conn.execute("UPDATE outbox SET status = 'failed', attempts = attempts + 1, last_error = $3,"
                           f" next_attempt_at = clock_timestamp() {leased}", claim.id, claim.leased_until,
                           error)  # fmt: skip
    else:
        await conn.execute(_RETRY, claim.id, claim.leased_until, outcome.error,
                           retry_delay(claim.attempts, outcome.retry_after))  # fmt: skip


class _Doorbell:
    """Wakes idle senders one at a time: a notification needs one sender to look, not all of them. A ring
    while every sender is busy is kept for the next one that falls idle."""

    def __init__(self) -> None:
        self._waiting: list[asyncio.Future[None]] = []
        self._rung = False

    def ring(self) -> None:
        for waiter in self._waiting:
            if not waiter.done():
                waiter.set_result(None)
                return
        self._rung = True

    def ring_all(self) -> None:
        for waiter in self._waiting:
            if not waiter.done():
                waiter.set_result(None)
        self._rung = True

    async def wait(self, timeout: float) -> None:
        if self._rung:
            self._rung = False
            return
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting.append(waiter)
        try:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(timeout):
                    await waiter
        finally:
            self._waiting.remove(waiter)
