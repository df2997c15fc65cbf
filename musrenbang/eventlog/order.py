"""The safe global order of the log: what every reader follows so that it never skips an event.

Why not `global_position` alone: positions are handed out when a row is inserted but become visible when
its transaction commits, so a slow transaction can commit a *lower* position after a reader has passed a
higher one, and "position > checkpoint" would skip it forever.

The order is `(tx, global_position)`, where `tx` is an *order key*: the inserting transaction's id plus a
per-database offset (`event_order`, migration 0017). A reader takes only events whose key lies below the
*horizon* (`event_horizon()`): the smallest transaction id still running **in this database**, or the
snapshot's xmax when none is, plus the offset.

Proof that nothing commits behind a reader. Let S be the snapshot a read runs in and h its horizon. Take
any transaction T with key k < h, i.e. xid x < h - offset ≤ xmax(S). Either x is listed as running in S:
then, since x is below the smallest running xid of this database, pg_stat_activity (or pg_prepared_xacts)
showed x in *another* database, and PostgreSQL has no cross-database writes, so T never writes to this log.
Or x is not running in S and below xmax(S): then T had ended when S was taken, so its events are visible
in S (committed) or never will be (rolled back). Any transaction that can still write here has xid ≥ the
smallest running xid of this database, or gets one ≥ xmax(S) later: its key is ≥ h. So a reader that has
read every event with key < h in S has read everything that will ever sort below h, and moving its
checkpoint anywhere below h is safe. Unknown running transactions count as ours (the safe side), and the
horizon uses the same snapshot as the read (`event_horizon` is STABLE and called inside the reading
statement).

Other databases: `pg_snapshot_xmin` is cluster-wide, so a transaction left open in another database on the
same server held every projection back; the horizon above ignores what is positively foreign. A
transaction left open in *this* database still holds readers back, for at most
`idle_in_transaction_session_timeout` (db/connect.py).

Backup, restore, another server: transaction ids belong to one cluster. A dump restored into a cluster
whose counter is lower would give new events keys below the restored ones: they would sort before the
restored checkpoints and never be applied, and the restored events would sit above the horizon (nothing
read). `rebase` (run by `musrenbang restore` and at every start-up, before anything appends) raises the
offset so that the horizon, and so every key a transaction can still take, lies above every stored key.
Stored keys never change, so checkpoints, seals and read models carried over in the dump stay valid: the
restored order is the order they were computed in, and new events follow it.
"""

from __future__ import annotations

import logging

import asyncpg

from musrenbang.eventlog.store import Position

log = logging.getLogger(__name__)


async def rebase(conn: asyncpg.Connection) -> int:
    """Make every key a transaction can still take sort after every stored event (after a restore into
    another cluster). Returns how far the order was shifted (0: it already did)."""
    async with conn.transaction():
        shift = await conn.fetchval("SELECT rebase_event_order()")
        # Keys beyond every id this cluster has handed out came from another cluster (a restore); otherwise
        # the shift only stepped past a transaction of this database still running, which is harmless.
        foreign = shift and await conn.fetchval(
            "SELECT max(tx) >= pg_snapshot_xmax(pg_current_snapshot())::text::bigint + (SELECT order_offset"
            " FROM event_order) - $1 FROM events", shift,
        )  # fmt: skip
    if foreign:
        log.warning("the event log came from another PostgreSQL cluster: order keys rebased by %d", shift)
    elif shift:
        log.debug("order keys moved on by %d past a transaction still running", shift)
    return shift


async def log_head(conn: asyncpg.Connection) -> Position | None:
    """The last committed event in the safe order (None: the log is empty). A read model that has reached
    it has applied everything the log holds now."""
    row = await conn.fetchrow("SELECT tx, global_position FROM events ORDER BY tx DESC, global_position DESC LIMIT 1")
    return None if row is None else Position(row["tx"], row["global_position"])
