"""Projection "lineage": for every proposal and every RKPD line, each event of the log that concerns it —
submission, verification, merges, each forum's agenda, votes, scores, adjustments and result, the
agencies' handling, adoption, and what became of the line after it (budget, contract, work, handover) —
with the event's stream, position, time, actor role and hash.

A step's `detail` holds only what the event says about *that* subject (a ballot's mark for this item,
not the whole ballot) and never personal data: events carry none, and delegates appear by their id.
`proposal.decided_at_forum` is left out: it repeats, on the proposal's own stream, the rank the
forum's close (which is in) computed.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import asyncpg
import msgspec

from musrenbang.domain import realisation
from musrenbang.domain.events import (
    BallotCast,
    ForumClosed,
    ForumOpened,
    ForumScheduled,
    ItemAdjusted,
    PokirForwarded,
    ProposalAccepted,
    ProposalCarriedOver,
    ProposalMerged,
    ProposalPhotoAttached,
    ProposalRejected,
    ProposalReturned,
    ProposalRevised,
    ProposalsMergedIn,
    ProposalSubmitted,
    RkpdAdopted,
    RkpdEnacted,
    RkpdForumClosed,
    RkpdLineSet,
    RkpdLineWithdrawn,
    RkpdMilestoneRecorded,
    RkpdProposalDeclined,
    RkpdProposalPassed,
    RkpdProposalsReceived,
    ScoresGiven,
)
from musrenbang.eventlog import codec
from musrenbang.eventlog.store import RecordedEvent
from musrenbang.projections import Projection, Statements, insert_rows


def line_subject(year: int, line_id: str) -> str:
    return f"rkpd/{year}/{line_id}"



class Lineage(Projection):
    name = "lineage"
    tables = ("lineage_lines", "lineage_merges", "lineage_forums", "lineage_forum_items", "lineage_steps")
    appended = ("lineage_steps",)
    handles = (ProposalSubmitted, PokirForwarded, ProposalCarriedOver, ProposalRevised, ProposalPhotoAttached,
               ProposalAccepted, ProposalReturned, ProposalRejected, ProposalMerged, ProposalsMergedIn,
               ForumScheduled, ForumOpened, ItemAdjusted, BallotCast, ScoresGiven, ForumClosed, RkpdProposalsReceived,
               RkpdProposalPassed, RkpdProposalDeclined, RkpdLineSet, RkpdLineWithdrawn, RkpdAdopted, RkpdEnacted,
               RkpdForumClosed, RkpdMilestoneRecorded)  # fmt: skip

    async def apply(self, conn: asyncpg.Connection, events: Sequence[RecordedEvent]) -> None:
        """One pass over the batch with what it reads kept in memory: each kind of state it looks up
        (forums, their items, lines' origins, merge roots) is read for the whole batch in one query at
        its first need, and the writes go at the end, many rows at a time (see `Statements`)."""
        steps: list[tuple[Any, ...]] = []
        writes = Statements(conn)
        forums: dict[str, tuple[str, str, str, str, int]] = {}  # forum id -> level, region, title, rule, ceiling
        items: dict[str, dict[str, str]] = {}  # forum id -> item id -> proposal code
        lines: dict[tuple[int, str], list[str]] = {}
        merges = _Merges(events)

        async def forum(forum_id: str) -> tuple[str, str, str, str, int]:
            if forum_id not in forums:
                wanted = {r.event.forum_id for r in events if isinstance(r.event, ForumOpened)} - forums.keys()
                rows = await conn.fetch("SELECT forum_id, level, region, title, rule, ceiling FROM lineage_forums"
                                        " WHERE forum_id = ANY($1::text[])", sorted(wanted))  # fmt: skip
                forums.update((r["forum_id"], tuple(r.values())[1:]) for r in rows)
            return forums[forum_id]

        async def codes_of(forum_id: str) -> dict[str, str]:
            if forum_id not in items:
                wanted = {r.event.forum_id for r in events if isinstance(r.event, _USES_ITEMS)} - items.keys()
                rows = await conn.fetch("SELECT forum_id, item_id, code FROM lineage_forum_items"
                                        " WHERE forum_id = ANY($1::text[])", sorted(wanted))  # fmt: skip
                for f in wanted:
                    items[f] = {}
                for row in rows:
                    items[row["forum_id"]][row["item_id"]] = row["code"]
            return items[forum_id]

        async def origins_of(year: int, line_id: str) -> list[str]:
            if (year, line_id) not in lines:
                wanted = {(r.event.year, _line_id(r.event)) for r in events
                          if isinstance(r.event, RkpdLineSet | RkpdLineWithdrawn)} - lines.keys()  # fmt: skip
                rows = await conn.fetch(
                    "SELECT l.year, l.line_id, l.origins FROM lineage_lines l"
                    " JOIN unnest($1::int[], $2::text[]) AS w(year, line_id) USING (year, line_id)",
                    [y for y, _ in wanted], [i for _, i in wanted],
                )  # fmt: skip
                lines.update({key: [] for key in wanted})
                lines.update(((row["year"], row["line_id"]), list(row["origins"])) for row in rows)
            return lines[(year, line_id)]

        def step(subject: str, r: RecordedEvent, detail: dict[str, Any]) -> None:
            steps.append((subject, r.global_position, r.stream_id, r.stream_version, r.event_type, r.recorded_at,
                          r.metadata.role, r.hash, codec.encode(detail)))  # fmt: skip

        for r in events:
            e = r.event
            match e:
                case ProposalSubmitted():
                    c = e.content
                    detail = {"source": e.source, "title": c.title, "kelurahan": c.kelurahan, "rw": c.rw,
                              "kind": c.kind, "bidang": c.bidang, "volume": c.volume, "unit": c.unit,
                              "estimated_cost": c.estimated_cost, "beneficiaries": c.beneficiaries, "year": e.year}
                    if e.carried_from is not None:
                        detail["carried_from"] = e.carried_from
                    if e.pokir is not None:
                        detail["pokir"] = msgspec.to_builtins(e.pokir)
                    step(e.code, r, detail)  # fmt: skip
                case PokirForwarded():
                    step(e.code, r, {"note": e.note})
                case ProposalCarriedOver():
                    step(e.code, r, {"to_code": e.to_code, "to_year": e.to_year})
                case ProposalRevised():
                    step(e.code, r, {"title": e.content.title, "estimated_cost": e.content.estimated_cost,
                                     "volume": e.content.volume, "unit": e.content.unit})  # fmt: skip
                case ProposalPhotoAttached():
                    step(e.code, r, {"photo_id": e.photo_id})
                case ProposalAccepted():
                    step(e.code, r, {"reason": e.reason, "agreed_volume": e.agreed_volume,
                                     "agreed_cost": e.agreed_cost})  # fmt: skip
                case ProposalReturned() | ProposalRejected():
                    step(e.code, r, {"reason": e.reason})
                case ProposalMerged():
                    await merges.merge(conn, e.code, e.into)
                    step(e.code, r, {"into": e.into, "reason": e.reason})
                case ProposalsMergedIn():
                    step(e.code, r, {"merged": list(e.merged), "beneficiaries_added": e.beneficiaries_added,
                                     "reason": e.reason})  # fmt: skip
                case ForumScheduled():
                    forums[e.forum_id] = (e.level, e.region, e.title, e.rule, e.ceiling)
                    await writes.add_for(
                        [("forum", e.forum_id)],
                        "INSERT INTO lineage_forums (forum_id, level, region, title, rule, ceiling)"
                        " VALUES ($1, $2, $3, $4, $5, $6)",
                        e.forum_id, e.level, e.region, e.title, e.rule, e.ceiling,
                    )  # fmt: skip
                case ForumOpened():
                    level, region, title, rule, ceiling = await forum(e.forum_id)
                    mapping = {a.item_id: a.proposal for a in e.agenda if a.proposal}
                    items[e.forum_id] = mapping
                    for item_id, code in mapping.items():
                        await writes.add_for([("forum", e.forum_id)], "INSERT INTO lineage_forum_items"
                                             " (forum_id, item_id, code) VALUES ($1, $2, $3)",
                                             e.forum_id, item_id, code)  # fmt: skip
                    for a in e.agenda:
                        if a.proposal:
                            step(a.proposal, r, {"forum_id": e.forum_id, "level": level, "region": region,
                                                 "forum": title, "rule": rule, "ceiling": ceiling,
                                                 "item_id": a.item_id, "cost": a.cost, "volume": a.volume,
                                                 "unit": a.unit, "agenda_size": len(e.agenda)})  # fmt: skip
                case ItemAdjusted():
                    adjusted = (await codes_of(e.forum_id)).get(e.item_id)
                    if adjusted:
                        step(adjusted, r, {"forum_id": e.forum_id, "item_id": e.item_id, "reason": e.reason,
                                       "agreed_volume": e.agreed_volume, "agreed_cost": e.agreed_cost})  # fmt: skip
                case BallotCast():
                    mapping = await codes_of(e.forum_id)
                    marks: dict[str, dict[str, Any]] = {}
                    for item in e.approvals:
                        marks[item] = {"approved": True}
                    for item, points in e.points.items():
                        marks[item] = {"points": points}
                    for n, item in enumerate(e.ranking, start=1):
                        marks[item] = {"position": n}
                    for item, mark in marks.items():
                        if item in mapping:
                            step(mapping[item], r, {"forum_id": e.forum_id, "delegate_id": e.delegate_id, **mark})
                case ScoresGiven():
                    mapping = await codes_of(e.forum_id)
                    for item, given in e.marks.items():
                        if item in mapping:
                            step(mapping[item], r, {"forum_id": e.forum_id, "sheet": e.sheet, "marks": given})
                case ForumClosed():
                    mapping = await codes_of(e.forum_id)
                    for ranked in e.result.ranking:
                        if ranked.item_id in mapping:
                            step(mapping[ranked.item_id], r, {
                                "forum_id": e.forum_id, "rank": ranked.rank, "score": ranked.score,
                                "cost": ranked.cost, "selected": ranked.selected, "reason": ranked.reason,
                                "of": len(e.result.ranking), "spent": e.result.spent, "ballots": e.result.ballots,
                                "sheets": e.result.sheets, "forward_to": e.forward_to,
                            })  # fmt: skip
                case RkpdProposalsReceived():
                    for i in e.items:
                        step(i.code, r, {"year": e.year, "agency": i.agency, "forum_id": i.forum_id, "cost": i.cost})
                case RkpdProposalPassed():
                    step(e.code, r, {"year": e.year, "from_agency": e.from_agency, "to_agency": e.to_agency,
                                     "reason": e.reason})  # fmt: skip
                case RkpdProposalDeclined():
                    step(e.code, r, {"year": e.year, "agency": e.agency, "reason": e.reason})
                case RkpdLineSet():
                    line, key = e.line, (e.year, e.line.line_id)
                    before = await origins_of(*key)
                    detail = {"year": e.year, "line": msgspec.to_builtins(line), "reason": e.reason}
                    step(line_subject(e.year, line.line_id), r, detail)
                    for code in line.origins:
                        step(code, r, detail)
                    for code in before:
                        if code not in line.origins:
                            step(code, r, {"year": e.year, "line_id": line.line_id, "removed": True,
                                           "reason": e.reason})  # fmt: skip
                    lines[key] = list(line.origins)
                    await writes.add_for(
                        [key],
                        "INSERT INTO lineage_lines (year, line_id, origins) VALUES ($1, $2, $3)"
                        " ON CONFLICT (year, line_id) DO UPDATE SET origins = EXCLUDED.origins, withdrawn = false",
                        e.year, line.line_id, list(line.origins),
                    )  # fmt: skip
                case RkpdLineWithdrawn():
                    detail = {"year": e.year, "line_id": e.line_id, "agency": e.agency, "reason": e.reason}
                    step(line_subject(e.year, e.line_id), r, detail)
                    for code in await origins_of(e.year, e.line_id):
                        step(code, r, detail)
                    await writes.add_for([(e.year, e.line_id)], "UPDATE lineage_lines SET withdrawn = true"
                                         " WHERE year = $1 AND line_id = $2", e.year, e.line_id)  # fmt: skip
                case RkpdAdopted():
                    for line in e.lines:
                        detail = {"year": e.year, "revision": e.revision, "line_id": line.line_id,
                                  "pagu": line.pagu, "total_pagu": e.total_pagu, "lines": len(e.lines)}  # fmt: skip
                        step(line_subject(e.year, line.line_id), r, detail)
                        for code in line.origins:
                            step(code, r, detail)
                case RkpdEnacted():
                    # Every line in force, and the proposals it came from: the path ends in the law.
                    detail = {"year": e.year, "revision": e.revision, "regulation": e.regulation,
                              "enacted_on": e.enacted_on.isoformat(), "list_hash": e.list_hash,
                              "amendment": e.amendment}  # fmt: skip
                    await writes.flush()  # the lines' writes so far, read back here
                    for row in await conn.fetch("SELECT line_id, origins FROM lineage_lines WHERE year = $1"
                                                " AND NOT withdrawn ORDER BY line_id", e.year):  # fmt: skip
                        step(line_subject(e.year, row["line_id"]), r, detail)
                        for code in row["origins"]:
                            step(code, r, detail)
                case RkpdForumClosed():
                    # The Berita Acara on every path it speaks of: each agreed line and its origins, and
                    # each proposal not agreed, with its reason.
                    for line in e.agreed:
                        detail = {"year": e.year, "forum": e.forum, "line_id": line.line_id, "pagu": line.pagu}
                        step(line_subject(e.year, line.line_id), r, detail)
                        for code in line.origins:
                            step(code, r, detail)
                    for x in e.not_agreed:
                        step(x.code, r, {"year": e.year, "forum": e.forum, "agency": x.agency, "reason": x.reason})
                case RkpdMilestoneRecorded():
                    detail = realisation.public_detail(e)
                    step(line_subject(e.year, e.line_id), r, detail)
                    for code in e.origins:
                        step(code, r, detail)
        await merges.write(writes)
        await writes.flush()
        await insert_rows(conn, "lineage_steps", _STEP_COLUMNS, steps)


_STEP_COLUMNS = ("subject", "position", "stream_id", "stream_version", "event_type", "recorded_at", "role", "hash",
                 "detail")  # fmt: skip
_USES_ITEMS = ItemAdjusted | BallotCast | ScoresGiven | ForumClosed


def _line_id(e: RkpdLineSet | RkpdLineWithdrawn) -> str:
    return e.line.line_id if isinstance(e, RkpdLineSet) else e.line_id


class _Merges:
    """lineage_merges as far as a batch's merges touch it: each merged proposal's row names the proposal it
    went into and the root it lives on in (the end of the chain). One read at the first merge gets every
    row the batch can look at or move — those of the proposals merged into, and those whose root is a
    proposal the batch merges away (the only rows a merge re-roots: a row re-rooted by the batch was
    already among them) — and the rows that changed are written once, at the end, with their last value."""

    def __init__(self, events: Sequence[RecordedEvent]) -> None:
        self._events = events
        self._rows: dict[str, tuple[str, str]] | None = None  # code -> merged_into, root
        self._changed: set[str] = set()

    async def merge(self, conn: asyncpg.Connection, code: str, into: str) -> None:
        if self._rows is None:
            merged = [r.event for r in self._events if isinstance(r.event, ProposalMerged)]
            found = await conn.fetch(
                "SELECT code, merged_into, root FROM lineage_merges WHERE code = ANY($1::text[])"
                " OR root = ANY($2::text[])",
                sorted({m.into for m in merged}), sorted({m.code for m in merged}),
            )  # fmt: skip
            self._rows = {row["code"]: (row["merged_into"], row["root"]) for row in found}
        root = self._rows[into][1] if into in self._rows else into
        self._rows[code] = (into, root)
        self._changed.add(code)
        for other, (other_into, other_root) in self._rows.items():
            if other_root == code:
                self._rows[other] = (other_into, root)
                self._changed.add(other)

    async def write(self, writes: Statements) -> None:
        rows = self._rows or {}
        for code in sorted(self._changed):
            into, root = rows[code]
            await writes.add_for(
                [("merge", code)],
                "INSERT INTO lineage_merges (code, merged_into, root) VALUES ($1, $2, $3)"
                " ON CONFLICT (code) DO UPDATE SET merged_into = EXCLUDED.merged_into, root = EXCLUDED.root",
                code, into, root,
            )  # fmt: skip


# --- queries ----------------------------------------------------------------------------------------


class Step(msgspec.Struct, frozen=True, kw_only=True):
    subject: str
    kind: str
    stream: str
    version: int
    position: int
    at: str
    role: str | None
    hash: str
    detail: msgspec.Raw


_NODE_COLUMNS = (
    "p.code, p.title, p.kelurahan, p.rw, p.bidang, p.estimated_cost, p.status, p.status_reason, p.merged_into"
)


async def proposal_graph(conn: asyncpg.Connection, code: str) -> list[asyncpg.Record]:
    """In one round trip: where `code` lives on (`root`: the proposal it was finally merged into, or
    itself), that proposal's family (itself and everything merged into it, at any depth) as public
    proposal rows, and the RKPD lines the root is in now (`lines`: "year/line_id"). No rows: no such
    proposal."""
    return await conn.fetch(
        "WITH root AS (SELECT coalesce((SELECT root FROM lineage_merges WHERE code = $1), $1) AS code)"
        f" SELECT {_NODE_COLUMNS}, (SELECT code FROM root) AS root,"
        "  ARRAY(SELECT l.year || '/' || l.line_id FROM lineage_lines l"
        "   WHERE l.origins @> ARRAY[(SELECT code FROM root)] AND NOT l.withdrawn ORDER BY l.year, l.line_id) AS lines"
        " FROM proposals p WHERE p.code IN (SELECT code FROM root"
        "  UNION ALL SELECT m.code FROM lineage_merges m WHERE m.root = (SELECT code FROM root))"
        " ORDER BY p.code",
        code,
    )


async def line_graph(conn: asyncpg.Connection, year: int, line_id: str) -> list[asyncpg.Record]:
    """The public proposal rows behind a line: its origins and everything merged into them (none for a
    line from an agency's own work plan: ask `line_exists`)."""
    return await conn.fetch(
        "WITH origins AS (SELECT unnest(origins) AS code FROM lineage_lines WHERE year = $1 AND line_id = $2)"
        f" SELECT {_NODE_COLUMNS} FROM proposals p"
        " WHERE p.code IN (SELECT code FROM origins"
        "  UNION SELECT m.code FROM lineage_merges m WHERE m.root IN (SELECT code FROM origins))"
        " ORDER BY p.code",
        year, line_id,
    )  # fmt: skip


async def line_exists(conn: asyncpg.Connection, year: int, line_id: str) -> bool:
    return bool(await conn.fetchval("SELECT 1 FROM lineage_lines WHERE year = $1 AND line_id = $2", year, line_id))


async def members(conn: asyncpg.Connection, roots: Sequence[str]) -> list[str]:
    """`roots` and everything merged into them, at any depth."""
    rows = await conn.fetch(
        "SELECT code FROM unnest($1::text[]) AS code UNION SELECT code FROM lineage_merges WHERE root = ANY($1::text[])"
        " ORDER BY code",
        list(roots),
    )
    return [r["code"] for r in rows]


async def steps(conn: asyncpg.Connection, subjects: Sequence[str]) -> list[Step]:
    rows = await conn.fetch(
        "SELECT subject, position, stream_id, stream_version, event_type, recorded_at, role, hash, detail"
        " FROM lineage_steps WHERE subject = ANY($1::text[]) ORDER BY position, subject",
        list(subjects),
    )
    return [
        Step(
            subject=r["subject"],
            kind=r["event_type"],
            stream=r["stream_id"],
            version=r["stream_version"],
            position=r["position"],
            at=r["recorded_at"].isoformat(),
            role=r["role"],
            hash=r["hash"].hex(),
            detail=msgspec.Raw(r["detail"]),
        )  # fmt: skip
        for r in rows
    ]
