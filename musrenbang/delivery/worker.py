"""Sending the outbox: a few supervised senders per server process, each claiming one due message at a
time, sending it and recording what became of it.

**Claiming without holding the log back.** A row lock (`SELECT … FOR UPDATE SKIP LOCKED`) held across the
send would be the textbook claim, but locking a row gives the transaction an xid, and a transaction with
an xid still running holds back the event horizon (eventlog/order.py) that every projection reads below:
one slow gateway would stall every read model, and a held request would stall them until it timed out.
So a sender claims a message with a transaction-level advisory lock, which takes no xid:

    1. BEGIN; among the first due pending messages of a configured channel, in order of due time, take
       the first whose advisory lock is free (`pg_try_advisory_xact_lock`, skipping those other senders
       of any process hold);
    2. read that row again, in a new statement and so a new snapshot: if another sender finished it
       between our first read and our lock (it commits before its lock is released), it is no longer
       pending and we leave it;
    3. send it, the transaction open and idle, holding nothing but the advisory lock;
    4. UPDATE the row — delivered, failed, or attempts + 1 and the next try after min(2^attempts s, 1 h)
       — and COMMIT, which releases the lock.

No two senders ever send a message at the same time, and a message is marked delivered only once the
other side has taken it. A process killed at any point (SIGKILL included) loses its connection, which
ends the transaction and releases the lock: the message is still pending, and the next sender sends it
again — at least once, and exactly once for the resident because the gateway deduplicates by the
message's id, and e-mail carries a Message-ID derived from it (delivery/channels.py).

**Waking up.** Every append NOTIFYs `musrenbang_events` after it commits; a LISTEN connection of the
worker's own rings a doorbell that wakes one idle sender (each sender that claims a message rings it
again, so a burst draws in every sender). Each idle sender also wakes when the next retry is due and at
least every poll interval (notifications are hints; messages written without an event are found so).
Messages whose channel has no adapter configured are left pending: the staff page shows them.

**Supervision**, as for the projections (projections/supervisor.py): any exception is logged once (again
only when it changes), backed off and retried; a sender never dies silently and never takes another down.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Awaitable, Callable

import asyncpg

from musrenbang.config import Settings
from musrenbang.db.connect import connect
from musrenbang.delivery.channels import Channel, Message, Outcome, configured_channels, scrubbed
from musrenbang.eventlog.store import CHANNEL, OUTBOX_NOTICE, announced
from musrenbang.projections.runner import describe, is_connection_problem
from musrenbang.projections.supervisor import Backoff

log = logging.getLogger(__name__)

SENDERS = 4
"""Concurrent senders per server process, each on a connection of its own."""
MAX_DELAY = 3600.0
CANDIDATES = 100
"""Due messages looked at per claim: more than all the senders of all processes can hold at once."""
STOP_GRACE = 5.0
"""On shutdown, how long a message being sent may take to finish (then it is cancelled and, still
pending, sent again at the next start)."""
SENDER_NAME = "musrenbang-delivery"
_OUTBOX_LOCK = 0x6F62  # advisory lock space of outbox messages: (class, hashtext(id)); see services/forums.py

_CLAIM = f"""
WITH due AS MATERIALIZED (
    SELECT id FROM outbox
    WHERE status = 'pending' AND next_attempt_at <= now() AND channel = ANY($1::text[])
    ORDER BY next_attempt_at
    LIMIT {CANDIDATES}
)
SELECT id FROM due WHERE pg_try_advisory_xact_lock({_OUTBOX_LOCK}, hashtext(id::text)) LIMIT 1
"""
# MATERIALIZED keeps the lock out of the inner scan: it is tried only on rows the CTE yields (due, of a
# configured channel, in order of due time), and the first one taken ends the scan, so no lock is ever
# held on a row this sender does not send.

_CLAIMED = """
SELECT o.id, o.channel, o.address, o.title, o.body, o.link, o.attempts, s.token, s.stopped_at IS NOT NULL AS stopped
FROM outbox o LEFT JOIN subscriptions s ON s.id = o.subscription
WHERE o.id = $1 AND o.status = 'pending' AND o.next_attempt_at <= now()
"""

_NEXT_DUE = """
SELECT extract(epoch FROM min(next_attempt_at) - now())::float8 FROM outbox
WHERE status = 'pending' AND channel = ANY($1::text[]) AND next_attempt_at > now()
"""
# In the claim's transaction, so `now()` is the claim's: every message due by then was looked at (taken,
# or being sent by another sender, who looks again when done); this is the first that was not yet due.


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
        self._stopping = False
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
        jobs = {"delivery listener": self._listen, **{f"sender {n}": self._send_loop for n in range(self._senders)}}
        self._tasks = [asyncio.create_task(self._supervised(name, job), name=name) for name, job in jobs.items()]

    async def stop(self, grace: float = STOP_GRACE) -> None:
        """Let messages being sent finish (up to `grace` seconds), then end every task."""
        self._stopping = True
        self._bell.ring_all()
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=grace)
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for channel in {id(c): c for c in self._channels.values()}.values():
            with contextlib.suppress(Exception):
                await channel.close()

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
            await asyncio.sleep(backoff.next())

    # --- senders ------------------------------------------------------------------------------------------

    async def _send_loop(self) -> None:
        backoff = Backoff()
        trouble: str | None = None
        while not self._stopping:
            conn: asyncpg.Connection | None = None
            try:
                conn = await connect(self._url, application_name=SENDER_NAME)
                # A send may take several network steps; the claim's transaction holds no xid meanwhile
                # (see above), so a longer idle transaction than the default costs nothing. This connection
                # writes nothing but what became of a send: should the database crash before the WAL is
                # flushed, the message is pending again and resent under the same id, which the gateway
                # absorbs; not waiting for the flush took bench/outbox.py from 358 to 484 messages/s.
                await conn.execute("SET idle_in_transaction_session_timeout = '300s'; SET synchronous_commit = off")
                while not self._stopping:
                    due_in = await self._deliver_one(conn)
                    if trouble is not None:
                        log.info("delivery is reading the outbox again")
                        trouble = None
                    backoff.reset()
                    if due_in is not None:
                        await self._bell.wait(min(due_in, self._settings.poll_interval))
                return
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - log it, back off, try again
                delay = backoff.next()
                what = "cannot reach the database" if is_connection_problem(exc) else "failed"
                text = f"delivery {what}: {describe(exc)}"
                if trouble != text:
                    log.warning("%s; trying again in %.1f s (and backing off)", text, delay)
                    if not is_connection_problem(exc):
                        log.debug("traceback", exc_info=exc)
                trouble = text
                await asyncio.sleep(delay)
            finally:
                if conn is not None and not conn.is_closed():
                    conn.terminate()

    async def _deliver_one(self, conn: asyncpg.Connection) -> float | None:
        """Send one due message, if any. None when one was handled; otherwise the seconds until the next
        message of a configured channel is due (the poll interval when none is waiting)."""
        channels = list(self._channels)
        async with conn.transaction():
            claimed = await conn.fetchval(_CLAIM, channels)
            row = await conn.fetchrow(_CLAIMED, claimed) if claimed is not None else None
            if claimed is not None and row is None:
                return 0.0  # another sender finished it just before we took its lock: look again at once
            if row is None:
                due_in = await conn.fetchval(_NEXT_DUE, channels)
                return self._settings.poll_interval if due_in is None else max(due_in, 0.0) + 0.01
            self._bell.ring()  # more may be due: another idle sender looks meanwhile
            if row["stopped"]:  # the resident stopped these messages after this one was queued
                await conn.execute("UPDATE outbox SET status = 'cancelled', last_error = $2 WHERE id = $1",
                                   row["id"], "the subscription was stopped before sending")  # fmt: skip
                return None
            outcome = await self._send(row)
            await _record(conn, row["id"], row["attempts"], outcome)
        self._note(row["id"], row["channel"], outcome)
        return None

    async def _send(self, row: asyncpg.Record) -> Outcome:
        message = Message(id=row["id"], channel=row["channel"], address=row["address"], title=row["title"],
                          body=row["body"], link=row["link"], stop_token=row["token"])  # fmt: skip
        try:
            return await self._channels[row["channel"]].send(message)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - an adapter's bug must not lose the message: try later
            log.debug("sending outbox message %s raised", row["id"], exc_info=exc)
            return Outcome("retry", scrubbed(describe(exc), message.address))

    def _note(self, message_id: uuid.UUID, channel: str, outcome: Outcome) -> None:
        """Log a channel's trouble once when it starts and once when it ends; never an address or a text."""
        if outcome.status == "delivered":
            if self._trouble.pop(channel, None) is not None:
                log.info("delivery by %s works again", channel)
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
                        await asyncio.wait_for(lost.wait(), self._settings.poll_interval)
                    if not lost.is_set():
                        await asyncio.wait_for(conn.fetchval("SELECT 1"), 10)
                if self._stopping:
                    return
                raise ConnectionError("the LISTEN connection was closed")
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - the senders poll meanwhile
                text = describe(exc)
                if trouble != text:
                    log.warning("delivery is not listening for new events (%s); polling and reconnecting", text)
                trouble = text
            finally:
                if conn is not None and not conn.is_closed():
                    conn.terminate()
            await asyncio.sleep(backoff.next())


async def _record(conn: asyncpg.Connection, message_id: uuid.UUID, attempts: int, outcome: Outcome) -> None:
    """What became of a send, in the claim's transaction. clock_timestamp(), not now(): the transaction
    began before the send."""
    if outcome.status == "delivered":
        await conn.execute("UPDATE outbox SET status = 'delivered', attempts = attempts + 1,"
                           " delivered_at = clock_timestamp() WHERE id = $1", message_id)  # fmt: skip
    elif outcome.status == "failed":
        await conn.execute("UPDATE outbox SET status = 'failed', attempts = attempts + 1, last_error = $2"
                           " WHERE id = $1", message_id, outcome.error)  # fmt: skip
    else:
        await conn.execute(
            "UPDATE outbox SET attempts = attempts + 1, last_error = $2,"
            " next_attempt_at = clock_timestamp() + make_interval(secs => $3) WHERE id = $1",
            message_id, outcome.error, retry_delay(attempts, outcome.retry_after),
        )  # fmt: skip


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
                await asyncio.wait_for(waiter, timeout)
        finally:
            self._waiting.remove(waiter)
