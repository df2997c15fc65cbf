"""What staff see of the outbox (`/petugas/pesan`): how many messages each channel holds in each state,
whether the channel can send at all, and the messages not delivered, a page at a time, with their
addresses masked."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

import asyncpg

from musrenbang.delivery.channels import CHANNELS, mask_address

STATUSES = ("pending", "delivered", "failed", "cancelled")
UNDELIVERED_SHOWN = 100
"""Undelivered messages a page lists; `?halaman=` reaches the older ones."""


def pages_of(count: int) -> int:
    """How many pages `count` undelivered messages fill (one, empty, when there are none).

    >>> pages_of(0), pages_of(100), pages_of(101)
    (1, 1, 2)
    """
    return max(1, -(-count // UNDELIVERED_SHOWN))


async def outbox_overview(conn: asyncpg.Connection, configured: Collection[str], page: int = 1) -> dict[str, Any]:
    """`channels`: per channel, whether it is configured and its count per status; `totals` per status;
    `undelivered`: page `page` (1-based, UNDELIVERED_SHOWN a page, newest first) of the pending or failed
    messages, address masked; `undelivered_count` and `pages`. A page past the last has no messages: the
    caller compares `page` with `pages`. Read both in one snapshot for the page to agree with the counts."""
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
    return {"channels": channels, "totals": totals, "undelivered": undelivered,
            "undelivered_count": undelivered_count, "pages": pages}  # fmt: skip
