"""What staff see of the outbox (`/petugas/pesan`): how many messages each channel holds in each state,
whether the channel can send at all, and the messages not delivered, with their addresses masked."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

import asyncpg

from musrenbang.delivery.channels import CHANNELS, mask_address

STATUSES = ("pending", "delivered", "failed", "cancelled")
UNDELIVERED_SHOWN = 100


async def outbox_overview(conn: asyncpg.Connection, configured: Collection[str]) -> dict[str, Any]:
    """`channels`: per channel, whether it is configured and its count per status; `totals` per status;
    `undelivered`: the newest pending or failed messages (at most UNDELIVERED_SHOWN), address masked."""
    counts = {(r["channel"], r["status"]): r["n"] for r in await conn.fetch(
        "SELECT channel, status, count(*) AS n FROM outbox GROUP BY channel, status")}  # fmt: skip
    per_channel = {c: {s: counts.get((c, s), 0) for s in STATUSES} for c in CHANNELS}
    channels = [{"channel": c, "configured": c in configured, "counts": per_channel[c]} for c in CHANNELS]
    totals = {s: sum(n[s] for n in per_channel.values()) for s in STATUSES}
    rows = await conn.fetch(
        "SELECT id, purpose, channel, address, status, created_at, attempts, next_attempt_at, last_error"
        " FROM outbox WHERE status IN ('pending', 'failed') ORDER BY created_at DESC, id LIMIT $1",
        UNDELIVERED_SHOWN,
    )
    undelivered = [{**dict(r), "address": mask_address(r["address"]), "configured": r["channel"] in configured}
                   for r in rows]  # fmt: skip
    return {"channels": channels, "totals": totals, "undelivered": undelivered,
            "undelivered_count": totals["pending"] + totals["failed"]}  # fmt: skip
