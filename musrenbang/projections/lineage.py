"""Projection "lineage": for every proposal and every RKPD line, each event of the log that concerns it —
submission, verification, merges, each forum's agenda, votes, scores, adjustments and result (or its
cancellation), the agencies' handling, adoption, and what became of the line after it (budget, contract,
work, handover) —
with the event's stream, position, time, actor role and hash.

A step's `detail` holds only what the event says about *that* subject (a ballot's mark for this item,
not the whole ballot) and never personal data: events carry none, and delegates appear by their id.
`proposal.decided_at_forum` is left out: it repeats, on the proposal's own stream, the rank the
forum's close (which is in) computed.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import asyncpg
import msgspec

from musrenbang.domain import realisation
from musrenbang.domain.events import (
    BallotCast,
    Event,
    ForumCancelled,
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
               ForumScheduled, ForumOpened, ItemAdjusted, BallotCast, ScoresGiven, ForumClosed, ForumCancelled,
               RkpdProposalsReceived,
               RkpdProposalPassed, RkpdProposalDeclined, RkpdLineSet, RkpdLineWithdrawn, RkpdAdopted, RkpdEnacted,
               RkpdForumClosed, RkpdMilestoneRecorded)  # fmt: skip

    async def apply(self, conn: asyncpg.Connection, events: Sequence[RecordedEvent]) -> None:
        """One pass over the batch with what it reads kept in memory: each kind of state it looks up
        (forums, their items, lines' origins, merge roots) is read for the whole batch in one query at
        its first need, and the writes go at the end, many rows at a time (see `Statements`)."""
        batch = _Batch(conn, events)
        for r in events:
            on_event = _ON_EVENT.get(type(r.event))
            if on_event is not None:
                await on_event(batch, r, r.event)
        await batch.finish()


class _Batch:
    """One batch being applied: the state it has read or moved so far, the steps it adds (all sent at
    the end, by COPY when there are many: lineage_steps is only ever appended to) and its other writes."""

    def __init__(self, conn: asyncpg.Connection, events: Sequence[RecordedEvent]) -> None:
        self.conn = conn
        self.events = events
        self.steps: list[tuple[Any, ...]] = []
        self.writes = Statements(conn)
        self.forums: dict[str, tuple[str, str, str, str, int]] = {}  # forum id -> level, region, title, rule, ceiling
        self.items: dict[str, dict[str, str]] = {}  # forum id -> item id -> proposal code
        self.lines: dict[tuple[int, str], list[str]] = {}  # (year, line id) -> origins
        self.merges = _Merges(events)

    async def finish(self) -> None:
        """The merges' rows with their last value, every queued write, then the steps."""
        await self.merges.write(self.writes)
        await self.writes.flush()
        await insert_rows(self.conn, "lineage_steps", _STEP_COLUMNS, self.steps)

    # --- what the batch reads: each kind once, for every event of the batch that needs it

    async def forum(self, forum_id: str) -> tuple[str, str, str, str, int]:
        """Level, region, title, rule and ceiling of a forum being opened: scheduled in this batch, or
        read at the first miss together with every other forum the batch opens."""
        if forum_id not in self.forums:
            wanted = {r.event.forum_id for r in self.events if isinstance(r.event, ForumOpened)} - self.forums.keys()
            rows = await self.conn.fetch("SELECT forum_id, level, region, title, rule, ceiling FROM lineage_forums"
                                         " WHERE forum_id = ANY($1::text[])", sorted(wanted))  # fmt: skip
            self.forums.update((r["forum_id"], tuple(r.values())[1:]) for r in rows)
        return self.forums[forum_id]

    async def codes_of(self, forum_id: str) -> dict[str, str]:
        """A forum's agenda items (item id -> proposal code): what adjustments, ballots, scores and the
        result name, read at the first miss for every forum of the batch they concern (opened in the
        batch: kept from its opening)."""
        if forum_id not in self.items:
            wanted = {r.event.forum_id for r in self.events if isinstance(r.event, _USES_ITEMS)} - self.items.keys()
            rows = await self.conn.fetch("SELECT forum_id, item_id, code FROM lineage_forum_items"
                                         " WHERE forum_id = ANY($1::text[])", sorted(wanted))  # fmt: skip
            for f in wanted:
                self.items[f] = {}
            for row in rows:
                self.items[row["forum_id"]][row["item_id"]] = row["code"]
        return self.items[forum_id]

    async def origins_of(self, year: int, line_id: str) -> list[str]:
        """A line's origins as they stand before this event, read at the first miss for every line the
        batch sets or withdraws (a line new to the log has none)."""
        if (year, line_id) not in self.lines:
            wanted = {(r.event.year, _line_id(r.event)) for r in self.events
                      if isinstance(r.event, RkpdLineSet | RkpdLineWithdrawn)} - self.lines.keys()  # fmt: skip
            rows = await self.conn.fetch(
                "SELECT l.year, l.line_id, l.origins FROM lineage_lines l"
                " JOIN unnest($1::int[], $2::text[]) AS w(year, line_id) USING (year, line_id)",
                [y for y, _ in wanted], [i for _, i in wanted],
            )  # fmt: skip
            self.lines.update({key: [] for key in wanted})
            self.lines.update(((row["year"], row["line_id"]), list(row["origins"])) for row in rows)
        return self.lines[(year, line_id)]

    # --- the steps

    def step(self, subject: str, r: RecordedEvent, detail: dict[str, Any]) -> None:
        self.steps.append((subject, r.global_position, r.stream_id, r.stream_version, r.event_type, r.recorded_at,
                           r.metadata.role, r.hash, codec.encode(detail)))  # fmt: skip

    def line_step(self, year: int, line_id: str, origins: Sequence[str], r: RecordedEvent,
                  detail: dict[str, Any]) -> None:  # fmt: skip
        """The same step on a line's path and on the path of each proposal it came from."""
        self.step(line_subject(year, line_id), r, detail)
        for code in origins:
            self.step(code, r, detail)

    # --- a proposal's own stream

    async def submitted(self, r: RecordedEvent, e: ProposalSubmitted) -> None:
        c = e.content
        detail = {"source": e.source, "title": c.title, "kelurahan": c.kelurahan, "rw": c.rw,
                  "kind": c.kind, "bidang": c.bidang, "volume": c.volume, "unit": c.unit,
                  "estimated_cost": c.estimated_cost, "beneficiaries": c.beneficiaries, "year": e.year}  # fmt: skip
        if e.carried_from is not None:
            detail["carried_from"] = e.carried_from
        if e.pokir is not None:
            detail["pokir"] = msgspec.to_builtins(e.pokir)
        self.step(e.code, r, detail)

    async def pokir_forwarded(self, r: RecordedEvent, e: PokirForwarded) -> None:
        self.step(e.code, r, {"note": e.note})

    async def carried_over(self, r: RecordedEvent, e: ProposalCarriedOver) -> None:
        self.step(e.code, r, {"to_code": e.to_code, "to_year": e.to_year})

    async def revised(self, r: RecordedEvent, e: ProposalRevised) -> None:
        self.step(e.code, r, {"title": e.content.title, "estimated_cost": e.content.estimated_cost,
                              "volume": e.content.volume, "unit": e.content.unit})  # fmt: skip

    async def photo_attached(self, r: RecordedEvent, e: ProposalPhotoAttached) -> None:
        self.step(e.code, r, {"photo_id": e.photo_id})

    async def accepted(self, r: RecordedEvent, e: ProposalAccepted) -> None:
        self.step(e.code, r, {"reason": e.reason, "agreed_volume": e.agreed_volume,
                              "agreed_cost": e.agreed_cost})  # fmt: skip

    async def returned_or_rejected(self, r: RecordedEvent, e: ProposalReturned | ProposalRejected) -> None:
        self.step(e.code, r, {"reason": e.reason})

    async def merged(self, r: RecordedEvent, e: ProposalMerged) -> None:
        await self.merges.merge(self.conn, e.code, e.into)
        self.step(e.code, r, {"into": e.into, "reason": e.reason})

    async def merged_in(self, r: RecordedEvent, e: ProposalsMergedIn) -> None:
        self.step(e.code, r, {"merged": list(e.merged), "beneficiaries_added": e.beneficiaries_added,
                              "reason": e.reason})  # fmt: skip

    # --- forums

    async def forum_scheduled(self, r: RecordedEvent, e: ForumScheduled) -> None:
        """Kept for the steps of its opening (in this batch: from `forums`; in a later one: from the table)."""
        self.forums[e.forum_id] = (e.level, e.region, e.title, e.rule, e.ceiling)
        await self.writes.add_for(
            [("forum", e.forum_id)],
            "INSERT INTO lineage_forums (forum_id, level, region, title, rule, ceiling)"
            " VALUES ($1, $2, $3, $4, $5, $6)",
            e.forum_id, e.level, e.region, e.title, e.rule, e.ceiling,
        )  # fmt: skip

    async def forum_opened(self, r: RecordedEvent, e: ForumOpened) -> None:
        """The agenda's items are kept (item id -> proposal): every later event of the forum names items."""
        level, region, title, rule, ceiling = await self.forum(e.forum_id)
        mapping = {a.item_id: a.proposal for a in e.agenda if a.proposal}
        self.items[e.forum_id] = mapping
        for item_id, code in mapping.items():
            await self.writes.add_for([("forum", e.forum_id)], "INSERT INTO lineage_forum_items"
                                      " (forum_id, item_id, code) VALUES ($1, $2, $3)",
                                      e.forum_id, item_id, code)  # fmt: skip
        for a in e.agenda:
            if a.proposal:
                self.step(a.proposal, r, {"forum_id": e.forum_id, "level": level, "region": region,
                                          "forum": title, "rule": rule, "ceiling": ceiling,
                                          "item_id": a.item_id, "cost": a.cost, "volume": a.volume,
                                          "unit": a.unit, "agenda_size": len(e.agenda)})  # fmt: skip

    async def item_adjusted(self, r: RecordedEvent, e: ItemAdjusted) -> None:
        adjusted = (await self.codes_of(e.forum_id)).get(e.item_id)
        if adjusted:
            self.step(adjusted, r, {"forum_id": e.forum_id, "item_id": e.item_id, "reason": e.reason,
                                    "agreed_volume": e.agreed_volume, "agreed_cost": e.agreed_cost})  # fmt: skip

    async def ballot_cast(self, r: RecordedEvent, e: BallotCast) -> None:
        """Each item's own mark only: approved, its points or its position (the last of them an item has)."""
        mapping = await self.codes_of(e.forum_id)
        marks: dict[str, dict[str, Any]] = {}
        for item in e.approvals:
            marks[item] = {"approved": True}
        for item, points in e.points.items():
            marks[item] = {"points": points}
        for n, item in enumerate(e.ranking, start=1):
            marks[item] = {"position": n}
        for item, mark in marks.items():
            if item in mapping:
                self.step(mapping[item], r, {"forum_id": e.forum_id, "delegate_id": e.delegate_id, **mark})

    async def scores_given(self, r: RecordedEvent, e: ScoresGiven) -> None:
        mapping = await self.codes_of(e.forum_id)
        for item, given in e.marks.items():
            if item in mapping:
                self.step(mapping[item], r, {"forum_id": e.forum_id, "sheet": e.sheet, "marks": given})

    async def forum_closed(self, r: RecordedEvent, e: ForumClosed) -> None:
        mapping = await self.codes_of(e.forum_id)
        for ranked in e.result.ranking:
            if ranked.item_id in mapping:
                self.step(mapping[ranked.item_id], r, {
                    "forum_id": e.forum_id, "rank": ranked.rank, "score": ranked.score,
                    "cost": ranked.cost, "selected": ranked.selected, "reason": ranked.reason,
                    "of": len(e.result.ranking), "spent": e.result.spent, "ballots": e.result.ballots,
                    "sheets": e.result.sheets, "forward_to": e.forward_to,
                })  # fmt: skip

    async def forum_cancelled(self, r: RecordedEvent, e: ForumCancelled) -> None:
        """Each proposal on the agenda of a forum called off after it opened: its path no longer reads as
        still under discussion there (one cancelled before opening had no agenda, and no step)."""
        for code in (await self.codes_of(e.forum_id)).values():
            self.step(code, r, {"forum_id": e.forum_id, "reason": e.reason})

    # --- the city level (the year's RKPD stream) and after

    async def received(self, r: RecordedEvent, e: RkpdProposalsReceived) -> None:
        for i in e.items:
            self.step(i.code, r, {"year": e.year, "agency": i.agency, "forum_id": i.forum_id, "cost": i.cost})

    async def passed(self, r: RecordedEvent, e: RkpdProposalPassed) -> None:
        self.step(e.code, r, {"year": e.year, "from_agency": e.from_agency, "to_agency": e.to_agency,
                              "reason": e.reason})  # fmt: skip

    async def declined(self, r: RecordedEvent, e: RkpdProposalDeclined) -> None:
        self.step(e.code, r, {"year": e.year, "agency": e.agency, "reason": e.reason})

    async def line_set(self, r: RecordedEvent, e: RkpdLineSet) -> None:
        """A step for the line and each origin, and a `removed` one for each proposal it had before and not
        now: hence the origins it had, kept in `lines` as the batch moves them."""
        line, key = e.line, (e.year, e.line.line_id)
        before = await self.origins_of(*key)
        detail = {"year": e.year, "line": msgspec.to_builtins(line), "reason": e.reason}
        self.line_step(e.year, line.line_id, line.origins, r, detail)
        for code in before:
            if code not in line.origins:
                self.step(code, r, {"year": e.year, "line_id": line.line_id, "removed": True,
                                    "reason": e.reason})  # fmt: skip
        self.lines[key] = list(line.origins)
        await self.writes.add_for(
            [key],
            "INSERT INTO lineage_lines (year, line_id, origins) VALUES ($1, $2, $3)"
            " ON CONFLICT (year, line_id) DO UPDATE SET origins = EXCLUDED.origins, withdrawn = false",
            e.year, line.line_id, list(line.origins),
        )  # fmt: skip

    async def line_withdrawn(self, r: RecordedEvent, e: RkpdLineWithdrawn) -> None:
        detail = {"year": e.year, "line_id": e.line_id, "agency": e.agency, "reason": e.reason}
        self.line_step(e.year, e.line_id, await self.origins_of(e.year, e.line_id), r, detail)
        await self.writes.add_for([(e.year, e.line_id)], "UPDATE lineage_lines SET withdrawn = true"
                                  " WHERE year = $1 AND line_id = $2", e.year, e.line_id)  # fmt: skip

    async def adopted(self, r: RecordedEvent, e: RkpdAdopted) -> None:
        for line in e.lines:
            detail = {"year": e.year, "revision": e.revision, "line_id": line.line_id,
                      "pagu": line.pagu, "total_pagu": e.total_pagu, "lines": len(e.lines)}  # fmt: skip
            self.line_step(e.year, line.line_id, line.origins, r, detail)

    async def enacted(self, r: RecordedEvent, e: RkpdEnacted) -> None:
        """Every line in force, and the proposals it came from: the path ends in the law. The lines are
        read back from the table, so the writes queued so far (lines set or withdrawn) go first."""
        detail = {"year": e.year, "revision": e.revision, "regulation": e.regulation,
                  "enacted_on": e.enacted_on.isoformat(), "list_hash": e.list_hash,
                  "amendment": e.amendment}  # fmt: skip
        await self.writes.flush()
        for row in await self.conn.fetch("SELECT line_id, origins FROM lineage_lines WHERE year = $1"
                                         " AND NOT withdrawn ORDER BY line_id", e.year):  # fmt: skip
            self.line_step(e.year, row["line_id"], row["origins"], r, detail)

    async def city_forum_closed(self, r: RecordedEvent, e: RkpdForumClosed) -> None:
        """The Berita Acara on every path it speaks of: each agreed line and its origins, and each proposal
        not agreed, with its reason."""
        for line in e.agreed:
            detail = {"year": e.year, "forum": e.forum, "line_id": line.line_id, "pagu": line.pagu}
            self.line_step(e.year, line.line_id, line.origins, r, detail)
        for x in e.not_agreed:
            self.step(x.code, r, {"year": e.year, "forum": e.forum, "agency": x.agency, "reason": x.reason})

    async def milestone_recorded(self, r: RecordedEvent, e: RkpdMilestoneRecorded) -> None:
        self.line_step(e.year, e.line_id, e.origins, r, realisation.public_detail(e))


_ON_EVENT: dict[type[Event], Callable[[_Batch, RecordedEvent, Any], Awaitable[None]]] = {
    ProposalSubmitted: _Batch.submitted, PokirForwarded: _Batch.pokir_forwarded,
    ProposalCarriedOver: _Batch.carried_over, ProposalRevised: _Batch.revised,
    ProposalPhotoAttached: _Batch.photo_attached, ProposalAccepted: _Batch.accepted,
    ProposalReturned: _Batch.returned_or_rejected, ProposalRejected: _Batch.returned_or_rejected,
    ProposalMerged: _Batch.merged, ProposalsMergedIn: _Batch.merged_in,
    ForumScheduled: _Batch.forum_scheduled, ForumOpened: _Batch.forum_opened, ItemAdjusted: _Batch.item_adjusted,
    BallotCast: _Batch.ballot_cast, ScoresGiven: _Batch.scores_given, ForumClosed: _Batch.forum_closed,
    ForumCancelled: _Batch.forum_cancelled,
    RkpdProposalsReceived: _Batch.received, RkpdProposalPassed: _Batch.passed, RkpdProposalDeclined: _Batch.declined,
    RkpdLineSet: _Batch.line_set, RkpdLineWithdrawn: _Batch.line_withdrawn, RkpdAdopted: _Batch.adopted,
    RkpdEnacted: _Batch.enacted, RkpdForumClosed: _Batch.city_forum_closed,
    RkpdMilestoneRecorded: _Batch.milestone_recorded,
}  # fmt: skip
"""Each kind `Lineage.handles`, and what it adds to the paths: by the event's exact class (no event class
is subclassed), so one look-up instead of a match trying every kind in turn."""


_STEP_COLUMNS = ("subject", "position", "stream_id", "stream_version", "event_type", "recorded_at", "role", "hash",
                 "detail")  # fmt: skip
_USES_ITEMS = ItemAdjusted | BallotCast | ScoresGiven | ForumClosed | ForumCancelled


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
    """The steps of `subjects`, in log order, as the public reads them: a pokir's submission without its
    member's login name (`pokir.member`, half a credential; review s29), which the step keeps from the event
    — the member's name, faction and dapil stay."""
    rows = await conn.fetch(
        "SELECT subject, position, stream_id, stream_version, event_type, recorded_at, role, hash,"
        " detail #- '{pokir,member}' AS detail"
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
