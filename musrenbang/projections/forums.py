"""Projection "forums": forums, their agenda, delegates, who voted, results, and forwarded proposals.

A forum's `status` is `scheduled`, `open`, `closed` or `cancelled` (with `cancel_reason` and `cancelled_at`,
migration 0048); a cancelled forum keeps its agenda rows, and every rule asking which proposals a forum holds
reads only those of forums `open` or `closed`."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import asyncpg

from musrenbang.domain.events import (
    BallotCast,
    DelegateCorrected,
    DelegateRegistered,
    DelegateWithdrawn,
    ForumCancelled,
    ForumClosed,
    ForumOpened,
    ForumScheduled,
    ItemAdjusted,
)
from musrenbang.domain.values import kecamatan_of
from musrenbang.eventlog import codec
from musrenbang.eventlog.store import RecordedEvent
from musrenbang.projections import Projection, insert_rows


class Forums(Projection):
    name = "forums"
    tables = ("forum_forwarded", "forum_results", "forum_ballots", "forum_agenda", "forum_delegates", "forums")
    handles = (DelegateRegistered, DelegateCorrected, DelegateWithdrawn, BallotCast, ForumScheduled, ForumOpened,
               ItemAdjusted, ForumClosed, ForumCancelled)  # fmt: skip
    # forum_delegates is not `appended`: a correction updates its row, a withdrawal deletes it.

    async def apply(self, conn: asyncpg.Connection, events: Sequence[RecordedEvent]) -> None:
        delegates: list[tuple[object, ...]] = []
        ballots: dict[tuple[str, str], object] = {}
        for r in events:
            e = r.event
            if isinstance(e, DelegateRegistered):  # many at once (an imported election): batched below
                delegates.append((e.forum_id, e.delegate_id, e.name, e.role, e.represents, e.gender))
                continue
            if isinstance(e, BallotCast):
                ballots[(e.forum_id, e.delegate_id)] = r.recorded_at
                continue
            await self._flush(conn, delegates, ballots)
            delegates, ballots = [], {}
            match e:
                case ForumScheduled():
                    await conn.execute(
                        "INSERT INTO forums (forum_id, level, region, year, title, held_on, place, chair, ceiling,"
                        " quota, rule, ballot_kind, rule_params, criteria, origin, status, scheduled_at, starts_at)"
                        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, 'scheduled', $16,"
                        " $17)",
                        e.forum_id, e.level, e.region, e.year, e.title, e.held_on, e.place, e.chair, e.ceiling,
                        e.quota, e.rule, e.ballot_kind, codec.encode(e.rule_params), codec.encode(e.criteria),
                        e.origin, r.recorded_at, e.starts_at,
                    )  # fmt: skip
                case ForumOpened():
                    await conn.execute("UPDATE forums SET status = 'open' WHERE forum_id = $1", e.forum_id)
                    await conn.executemany(
                        "INSERT INTO forum_agenda (forum_id, position, item_id, proposal, title, cost, volume, unit,"
                        " kelurahan) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                        [(e.forum_id, n, a.item_id, a.proposal, a.title, a.cost, a.volume, a.unit, a.kelurahan)
                         for n, a in enumerate(e.agenda, start=1)],
                    )  # fmt: skip
                case DelegateCorrected():
                    await conn.execute(
                        "UPDATE forum_delegates SET name = $3, role = $4, represents = $5, gender = $6"
                        " WHERE forum_id = $1 AND delegate_id = $2",
                        e.forum_id, e.delegate_id, e.name, e.role, e.represents, e.gender,
                    )  # fmt: skip
                case DelegateWithdrawn():  # not counted, not listed: as if never registered (the log keeps it)
                    await conn.execute("DELETE FROM forum_delegates WHERE forum_id = $1 AND delegate_id = $2",
                                       e.forum_id, e.delegate_id)  # fmt: skip
                case ItemAdjusted():
                    await conn.execute(
                        "UPDATE forum_agenda SET agreed_cost = coalesce($3, agreed_cost),"
                        " agreed_volume = coalesce($4, agreed_volume), adjust_reason = $5"
                        " WHERE forum_id = $1 AND item_id = $2",
                        e.forum_id, e.item_id, e.agreed_cost, e.agreed_volume, e.reason,
                    )  # fmt: skip
                case ForumClosed():
                    await self._closed(conn, e, r)
                case ForumCancelled():  # its agenda rows stay (what was on it), its status frees them
                    await conn.execute("UPDATE forums SET status = 'cancelled', cancel_reason = $2, cancelled_at = $3"
                                       " WHERE forum_id = $1", e.forum_id, e.reason, r.recorded_at)  # fmt: skip
        await self._flush(conn, delegates, ballots)

    async def _flush(self, conn: asyncpg.Connection, delegates: list, ballots: dict) -> None:
        await insert_rows(conn, "forum_delegates", ("forum_id", "delegate_id", "name", "role", "represents", "gender"),
                          delegates)  # fmt: skip
        if ballots:
            await conn.executemany(
                "INSERT INTO forum_ballots (forum_id, delegate_id, cast_at) VALUES ($1, $2, $3)"
                " ON CONFLICT (forum_id, delegate_id) DO UPDATE SET cast_at = EXCLUDED.cast_at",
                [(f, d, at) for (f, d), at in ballots.items()],
            )

    async def _closed(self, conn: asyncpg.Connection, e: ForumClosed, r: RecordedEvent) -> None:
        await conn.execute(
            "UPDATE forums SET status = 'closed', spent = $2, closed_at = $3 WHERE forum_id = $1",
            e.forum_id, e.result.spent, r.recorded_at,
        )  # fmt: skip
        await conn.executemany(
            "INSERT INTO forum_results (forum_id, rank, item_id, score, cost, selected, reason)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7)",
            [(e.forum_id, i.rank, i.item_id, i.score, i.cost, i.selected, i.reason) for i in e.result.ranking],
        )
        if e.forward_to is None:
            return
        forum = await conn.fetchrow("SELECT level, region, year FROM forums WHERE forum_id = $1", e.forum_id)
        to_region = kecamatan_of(forum["region"]) if e.forward_to != "kota" else forum["region"][:5]
        await conn.execute(
            "INSERT INTO forum_forwarded (from_forum, to_level, to_region, year, proposal, title, cost, volume,"
            " unit, kelurahan)"
            " SELECT a.forum_id, $2, $3, $4, a.proposal, a.title, coalesce(a.agreed_cost, a.cost),"
            " coalesce(a.agreed_volume, a.volume), a.unit, a.kelurahan"
            " FROM forum_agenda a JOIN forum_results res ON res.forum_id = a.forum_id AND res.item_id = a.item_id"
            " WHERE a.forum_id = $1 AND res.selected AND a.proposal IS NOT NULL"
            " ON CONFLICT DO NOTHING",
            e.forum_id, e.forward_to, to_region, forum["year"],
        )  # fmt: skip


# --- queries ----------------------------------------------------------------------------------------


async def get(conn: asyncpg.Connection, forum_id: str) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT f.*, (SELECT count(*) FROM forum_delegates d WHERE d.forum_id = f.forum_id) AS delegates,"
        " (SELECT count(*) FROM forum_delegates d WHERE d.forum_id = f.forum_id AND d.gender = 'P') AS women,"
        " (SELECT count(*) FROM forum_ballots b WHERE b.forum_id = f.forum_id) AS ballots"
        " FROM forums f WHERE f.forum_id = $1",
        forum_id,
    )


async def agenda(conn: asyncpg.Connection, forum_id: str) -> list[asyncpg.Record]:
    return await conn.fetch("SELECT * FROM forum_agenda WHERE forum_id = $1 ORDER BY position", forum_id)


async def results(conn: asyncpg.Connection, forum_id: str) -> list[asyncpg.Record]:
    return await conn.fetch("SELECT * FROM forum_results WHERE forum_id = $1 ORDER BY rank", forum_id)


async def kecamatan_priorities(conn: asyncpg.Connection, year: int, selected: Sequence[tuple[str, int, str, str]],
                               agency_for: Callable[[str], str]) -> list[dict[str, object]]:  # fmt: skip
    """The rows of table T-D.4 (Permendagri 86/2017): what a Musrenbang Kecamatan agreed, as the
    kecamatan's priority list per perangkat daerah. `selected` holds, in rank order, each agreed item's
    (proposal code, cost, volume, unit) as the forum agreed them. Each row names the regional priority
    program and its target the proposal serves, the programme field (its bidang), the priority activity
    (the proposal) and its target (beneficiaries), the place, volume and pagu, and the perangkat daerah
    that usually takes that bidang (`agency_for`; the Forum Perangkat Daerah decides for good). Rows are
    grouped by perangkat daerah, ranks kept within each."""
    codes = [code for code, *_ in selected]
    facts = {r["code"]: r for r in await conn.fetch(
        "SELECT p.code, p.title, p.bidang, p.priority_program, p.beneficiaries, p.rw, r.nama AS place,"
        " pp.title AS program, pp.target FROM proposals p JOIN regions r ON r.kode = p.kelurahan"
        " LEFT JOIN cycle_priority_programs pp ON pp.year = $2 AND pp.number = p.priority_program"
        " WHERE p.code = ANY($1::text[])", codes, year)}  # fmt: skip
    rows = []
    for rank, (code, cost, volume, unit) in enumerate(selected, start=1):
        f = facts.get(code)
        if f is None:
            continue
        rows.append({
            "rank": rank, "code": code, "priority": f["program"] or "", "target": f["target"] or "",
            "bidang": f["bidang"], "activity": f["title"], "beneficiaries": f["beneficiaries"],
            "place": f"{f['place']} RW {f['rw']:02d}" if f["rw"] is not None else f["place"],  # a desa may have none
            "volume": volume, "unit": unit, "pagu": cost,
            "agency": agency_for(f["bidang"]),
        })  # fmt: skip
    return sorted(rows, key=lambda r: (str(r["agency"]), int(str(r["rank"]))))


async def mandated_delegates(conn: asyncpg.Connection, year: int) -> list[asyncpg.Record]:
    """The delegates each Musrenbang Kecamatan of the year sent on to the city (`name`, `represents`, and the
    forum's `region`), by kecamatan. Mandates are not in this read model: the latest `forum.delegates_mandated`
    of each forum is read from the log (a handful of events, found by the stream index)."""
    return await conn.fetch(
        "WITH latest AS (SELECT DISTINCT ON (f.forum_id) f.forum_id, f.region, e.data->'delegate_ids' AS ids"
        " FROM forums f JOIN events e ON e.stream_id = 'forum-' || f.forum_id"
        " AND e.event_type = 'forum.delegates_mandated'"
        " WHERE f.year = $1 AND f.level = 'kecamatan' ORDER BY f.forum_id, e.stream_version DESC)"
        " SELECT l.region, d.name, d.represents FROM latest l"
        " CROSS JOIN LATERAL jsonb_array_elements_text(l.ids) AS m(delegate_id)"
        " JOIN forum_delegates d ON d.forum_id = l.forum_id AND d.delegate_id = m.delegate_id"
        " ORDER BY l.region, d.name",
        year,
    )


async def calendar(conn: asyncpg.Connection, year: int) -> list[asyncpg.Record]:
    """Every kelurahan, desa and kecamatan musyawarah of a year (imported elections are not meetings),
    with the name of the region it is held for."""
    return await conn.fetch(
        "SELECT f.forum_id, f.level, f.region, r.nama AS region_name, f.title, f.held_on, f.starts_at, f.place,"
        " f.status, f.cancel_reason"
        " FROM forums f LEFT JOIN regions r ON r.kode = f.region"
        " WHERE f.year = $1 AND f.origin = 'musrenbang' AND f.level IN ('kelurahan', 'kecamatan')",
        year,
    )
