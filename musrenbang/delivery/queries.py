"""What staff see of the outbox (`/petugas/pesan`): how many messages each channel holds in each state,
whether the channel can send at all, the messages not delivered, a page at a time, and the latest
cancelled, with why, their addresses masked."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

import asyncpg

from musrenbang.delivery.channels import CHANNELS, mask_address

STATUSES = ("pending", "delivered", "failed", "cancelled")
UNDELIVERED_SHOWN = 100
"""Undelivered messages a page lists; `?halaman=` reaches the older ones."""
CANCELLED_SHOWN = 50
"""Cancelled messages the page lists, the latest: each is cancelled for good, so the list says why the
recent ones were (a resident's stop, the demo's made-up residents), not what remains to be done."""

# Why each was cancelled: the reason recorded with it (`last_error`: the demo's, demo.UNSENT, or the sender's
# when a stop came after the message was queued), else `stopped` when the subscription it was for, or the one
# its confirmation link (/ikuti/<token>) would have confirmed, was stopped: a stop cancels what is waiting
# without a word (eventlog/outbox.cancel_queued). Only the page's rows are looked up.
_CANCELLED = """
SELECT c.id, c.purpose, c.channel, c.address, c.created_at, c.last_error AS reason,
       EXISTS (SELECT 1 FROM subscriptions s WHERE s.stopped_at IS NOT NULL
               AND (s.id = c.subscription
                    OR (c.subscription IS NULL AND c.link LIKE '/ikuti/%' AND s.token = substr(c.link, 8)))) AS stopped
FROM (SELECT id, subscription, purpose, channel, address, created_at, last_error, link FROM outbox
      WHERE status = 'cancelled' ORDER BY created_at DESC, id LIMIT $1) c
ORDER BY c.created_at DESC, c.id
"""


def pages_of(count: int) -> int:
    """How many pages `count` undelivered messages fill (one, empty, when there are none).

    >>> pages_of(0), pages_of(100), pages_of(101)
    (1, 1, 2)
    """
    return max(1, -(-count // UNDELIVERED_SHOWN))


async def outbox_overview(conn: asyncpg.Connection, configured: Collection[str], page: int = 1) -> dict[str, Any]:
    """`channels`: per channel, whether it is configured and its count per status; `totals` per status;
    `undelivered`: page `page` (1-based, UNDELIVERED_SHOWN a page, newest first) of the pending or failed
    messages, address masked; `undelivered_count` and `pages`; `cancelled`: the latest CANCELLED_SHOWN
    cancelled messages, with the `reason` recorded (None when none was) and whether their subscription was
    `stopped`. A page past the last has no messages: the caller compares `page` with `pages`. Read all in one
    snapshot for the page to agree with the counts."""
    counts = {(r["channel"], r["status"]): r["n"] for r in await conn.fetch(
        "SELECT channel, status, count(*) AS n FROM outbox GROUP BY channel, status")}  # fmt: skip
    per_channel = {c: {s: counts.get((c, s), 0) for s in STATUSES} for c in CHANNELS}
    channels = [{"channel": c, "configured": c in configured, "counts": per_channel[c]} for c in CHANNELS]
    totals = {s: sum(n[s] for n in per_channel.values()) for s in STATUSES}
    undelivered_count = totals["pending"] + totals["failed"]
    pages = pages_of(undelivered_count)
    rows = [] if page > pages else await conn.fetch(
        "SELECT id, purpose, channel, address, status, created_at, attempts, next_attempt_at, last_error"
        " FROM outbox WHERE status IN ('pending', 'failed') ORDER BY created_at DESC, id LIMIT $1 OFFSET $2",
        UNDELIVERED_SHOWN, (page - 1) * UNDELIVERED_SHOWN,
    )  # fmt: skip
    undelivered = [{**dict(r), "address": mask_address(r["address"]), "configured": r["channel"] in configured}
                   for r in rows]  # fmt: skip
    cancelled = [] if page > pages or not totals["cancelled"] else [
        {**dict(r), "address": mask_address(r["address"])} for r in await conn.fetch(_CANCELLED, CANCELLED_SHOWN)
    ]  # fmt: skip
    return {"channels": channels, "totals": totals, "undelivered": undelivered,
            "undelivered_count": undelivered_count, "pages": pages, "cancelled": cancelled}  # fmt: skip
