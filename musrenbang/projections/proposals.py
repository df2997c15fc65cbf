"""Projection "proposals": each proposal's public face, and the timeline a resident follows it by.

Only public fields reach these tables: the events carry no personal data, only a reference to it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import asyncpg
import msgspec

from musrenbang.domain import proposal as rules
from musrenbang.domain import realisation
from musrenbang.domain.events import (
    Event,
    PokirForwarded,
    PokirFrom,
    ProposalAccepted,
    ProposalCarriedOver,
    ProposalContent,
    ProposalDecidedAtForum,
    ProposalMerged,
    ProposalPhotoAttached,
    ProposalRejected,
    ProposalReturned,
    ProposalRevised,
    ProposalsMergedIn,
    ProposalSubmitted,
    RkpdAdopted,
    RkpdEnacted,
    RkpdLineSet,
    RkpdLineWithdrawn,
    RkpdMilestoneRecorded,
    RkpdProposalDeclined,
    RkpdProposalPassed,
    RkpdProposalsReceived,
)
from musrenbang.domain.notices import proposal_news_ended
from musrenbang.domain.search import like_pattern, search_key
from musrenbang.domain.values import kecamatan_of
from musrenbang.eventlog import codec
from musrenbang.eventlog.store import RecordedEvent
from musrenbang.projections import Projection, Statements, insert_rows

_CONTENT_COLUMNS = (
    "kelurahan, rw, rt, kind, bidang, title, problem, solution, beneficiaries, volume, unit,"
    " estimated_cost, priority_program, address, latitude, longitude"
)


def _content_values(c: ProposalContent) -> tuple[Any, ...]:
    return (
        c.kelurahan, c.rw, c.rt, c.kind, c.bidang, c.title, c.problem, c.solution, c.beneficiaries,
        c.volume, c.unit, c.estimated_cost, c.priority_program, c.address, c.latitude, c.longitude,
    )  # fmt: skip


def _search_key(code: str, c: ProposalContent) -> str:
    """What the search (/usulan) matches a typed text against: the title's key and the code's."""
    return f"{search_key(c.title)} {search_key(code)}"


_POKIR_INSERT = ("INSERT INTO pokir (code, year, member, member_name, faction, dapil, reses_on, reses_place)"
                 " VALUES ($1, $2, $3, $4, $5, $6, $7, $8)")
_POKIR_UPDATE = ("UPDATE pokir SET member = $2, member_name = $3, faction = $4, dapil = $5, reses_on = $6,"
                 " reses_place = $7 WHERE code = $1")


def _pokir_values(p: PokirFrom) -> tuple[Any, ...]:
    return p.member, p.member_name, p.faction, p.dapil, p.reses_on, p.reses_place


def _back_at_forum_pd(forwarded: str, by_setwan: str) -> str:
    """The status of a proposal taken out of a line, back with the agencies: forwarded by its forum, or a
    pokir by the DPRD secretariat (the statements' parameters holding those two statuses)."""
    return f"CASE WHEN source = 'pokir' THEN {by_setwan} ELSE {forwarded} END"


_REVISED_CONTENT = ", ".join(
    f"{col} = ${i + 2}" if col != "beneficiaries" else f"{col} = ${i + 2} + merged_beneficiaries"
    for i, col in enumerate(c.strip() for c in _CONTENT_COLUMNS.split(","))
)
"""A revision's content columns, $2 on: beneficiaries are the revised count plus those of duplicates merged
in earlier."""


class Proposals(Projection):
    name = "proposals"
    tables = ("proposal_timeline", "proposals", "pokir", "proposal_year_counts", "proposal_year_versions")
    appended = ("proposal_timeline",)
    handles = (ProposalSubmitted, ProposalCarriedOver, ProposalRevised, PokirForwarded, ProposalPhotoAttached,
               ProposalAccepted, ProposalReturned, ProposalRejected, ProposalMerged, ProposalsMergedIn,
               ProposalDecidedAtForum, RkpdProposalsReceived, RkpdProposalPassed, RkpdProposalDeclined, RkpdLineSet,
               RkpdLineWithdrawn, RkpdAdopted, RkpdMilestoneRecorded, RkpdEnacted)  # fmt: skip

    async def apply(self, conn: asyncpg.Connection, events: Sequence[RecordedEvent]) -> None:
        """Each event's writes are queued with the proposals they touch (`Statements.add_for`) and its
        timeline entries kept; both go at the end, then each year's version and count."""
        batch = _Batch(conn, events)
        for r in events:
            on_event = _ON_EVENT.get(type(r.event))
            if on_event is not None:
                await on_event(batch, r, r.event)
        await batch.finish()


class _Batch:
    """One batch being applied: its writes, its timeline entries (sent at the end, by COPY when there are
    many: proposal_timeline is only ever appended to), the proposals submitted per year, and the merge
    families its milestones read."""

    def __init__(self, conn: asyncpg.Connection, events: Sequence[RecordedEvent]) -> None:
        self.conn = conn
        self.writes = Statements(conn)
        self.families = _Families(events)
        self.timeline: list[tuple[Any, ...]] = []
        self.submitted_per_year: dict[int, int] = {}

    def entry(self, code: str, r: RecordedEvent, details: dict[str, Any]) -> None:
        self.timeline.append((code, r.global_position, r.recorded_at, r.event_type, codec.encode(details)))

    async def finish(self) -> None:
        await self.writes.flush()
        await insert_rows(self.conn, "proposal_timeline", ("code", "seq", "at", "kind", "details"), self.timeline)
        if self.timeline:
            await self._year_versions()
        if self.submitted_per_year:
            # Kept with the rows, so the home page reads each year's count instead of counting them all.
            await self.conn.executemany(
                "INSERT INTO proposal_year_counts AS c (year, proposals) VALUES ($1, $2)"
                " ON CONFLICT (year) DO UPDATE SET proposals = c.proposals + EXCLUDED.proposals",
                sorted(self.submitted_per_year.items()),
            )

    async def _year_versions(self) -> None:
        """Every proposal an event changes has a timeline entry (code, position, …): each year moves on to
        the position of the last event that changed one of its proposals (the same in a replay, whatever
        its batches), and a page read from one year's proposals is cached by its own."""
        last: dict[str, int] = {}
        for row in self.timeline:
            last[row[0]] = max(last.get(row[0], 0), row[1])
        await self.conn.execute(
            "INSERT INTO proposal_year_versions AS v (year, position)"
            " SELECT p.year, max(t.position) FROM unnest($1::text[], $2::bigint[]) AS t (code, position)"
            " JOIN proposals p USING (code) GROUP BY p.year"
            " ON CONFLICT (year) DO UPDATE SET position = greatest(v.position, EXCLUDED.position)",
            list(last), list(last.values()),
        )  # fmt: skip

    # --- a proposal's own stream: its row, and one timeline entry

    async def submitted(self, r: RecordedEvent, e: ProposalSubmitted) -> None:
        writes = self.writes
        await writes.add_for(
            [e.code],
            f"INSERT INTO proposals (code, year, source, kecamatan, {_CONTENT_COLUMNS}, status,"
            " submitted_at, updated_at, first_year, search_key, address_key) VALUES ($1, $2, $3, $4, $5,"
            " $6, $7, $8, $9, $10, $11, $12, $13, $14::numeric, $15, $16, $17, $18, $19::numeric,"
            " $20::numeric, $21, $22, $22, $2, $23, $24)",
            e.code, e.year, e.source, kecamatan_of(e.content.kelurahan),
            *_content_values(e.content), rules.DIAJUKAN, r.recorded_at, _search_key(e.code, e.content),
            search_key(e.content.address),
        )  # fmt: skip
        self.submitted_per_year[e.year] = self.submitted_per_year.get(e.year, 0) + 1
        details: dict[str, Any] = {"source": e.source}
        if e.pokir is not None:
            await writes.add_for([e.code], _POKIR_INSERT, e.code, e.year, *_pokir_values(e.pokir))
            details["pokir"] = msgspec.to_builtins(e.pokir)
        if e.carried_from is not None:
            # The earlier proposal is older in the log, so its row is here: the chain's
            # first year and length carry on from it.
            await writes.add_for(
                [e.code, e.carried_from],
                "UPDATE proposals p SET carried_from = e.code, first_year = e.first_year,"
                " times = e.times + 1 FROM proposals e WHERE p.code = $1 AND e.code = $2",
                e.code, e.carried_from,
            )  # fmt: skip
            details["carried_from"] = e.carried_from
        self.entry(e.code, r, details)

    async def carried_over(self, r: RecordedEvent, e: ProposalCarriedOver) -> None:
        await self.writes.add_for([e.code], "UPDATE proposals SET carried_to = $2 WHERE code = $1", e.code,
                                  e.to_code)  # fmt: skip
        self.entry(e.code, r, {"to_code": e.to_code, "to_year": e.to_year})

    async def revised(self, r: RecordedEvent, e: ProposalRevised) -> None:
        await self.writes.add_for(
            [e.code],
            f"UPDATE proposals SET {_REVISED_CONTENT}, status = $18, status_reason = NULL,"
            " revision = revision + 1, updated_at = $19, search_key = $20, address_key = $21"
            " WHERE code = $1",
            e.code, *_content_values(e.content), rules.DIAJUKAN, r.recorded_at,
            _search_key(e.code, e.content), search_key(e.content.address),
        )  # fmt: skip
        details: dict[str, Any] = {"content": msgspec.to_builtins(e.content)}
        if e.pokir is not None:
            await self.writes.add_for([e.code], _POKIR_UPDATE, e.code, *_pokir_values(e.pokir))
            details["pokir"] = msgspec.to_builtins(e.pokir)
        self.entry(e.code, r, details)

    async def pokir_forwarded(self, r: RecordedEvent, e: PokirForwarded) -> None:
        await self.writes.add_for([e.code], "UPDATE proposals SET status = $2, status_reason = NULL,"
                                  " updated_at = $3 WHERE code = $1", e.code, rules.DITERUSKAN_SETWAN,
                                  r.recorded_at)  # fmt: skip
        await self.writes.add_for([e.code], "UPDATE pokir SET forwarded_at = $2, note = $3 WHERE code = $1",
                                  e.code, r.recorded_at, e.note)  # fmt: skip
        self.entry(e.code, r, {"note": e.note})

    async def photo_attached(self, r: RecordedEvent, e: ProposalPhotoAttached) -> None:
        await self.writes.add_for(
            [e.code],
            "UPDATE proposals SET photo_ids = array_append(photo_ids, $2::uuid), updated_at = $3"
            " WHERE code = $1",
            e.code, e.photo_id, r.recorded_at,
        )  # fmt: skip
        self.entry(e.code, r, {"photo_id": e.photo_id})

    async def accepted(self, r: RecordedEvent, e: ProposalAccepted) -> None:
        changed = e.agreed_volume is not None or e.agreed_cost is not None
        status = rules.DITERIMA_DENGAN_PERUBAHAN if changed else rules.DITERIMA
        await self.writes.add_for(
            [e.code],
            "UPDATE proposals SET status = $2, status_reason = $3, accepted = true,"
            " agreed_volume = $4::numeric, agreed_cost = $5, updated_at = $6 WHERE code = $1",
            e.code, status, e.reason or None, e.agreed_volume, e.agreed_cost, r.recorded_at,
        )  # fmt: skip
        self.entry(e.code, r, {"reason": e.reason, "agreed_volume": e.agreed_volume, "agreed_cost": e.agreed_cost})

    async def returned_or_rejected(self, r: RecordedEvent, e: ProposalReturned | ProposalRejected) -> None:
        status = rules.DIKEMBALIKAN if isinstance(e, ProposalReturned) else rules.DITOLAK
        await self.writes.add_for(
            [e.code],
            "UPDATE proposals SET status = $2, status_reason = $3, updated_at = $4 WHERE code = $1",
            e.code, status, e.reason, r.recorded_at,
        )  # fmt: skip
        self.entry(e.code, r, {"reason": e.reason})

    async def merged(self, r: RecordedEvent, e: ProposalMerged) -> None:
        """Also kept in `families`, for the milestones later in the batch."""
        await self.writes.add_for(
            [e.code],
            "UPDATE proposals SET status = $2, status_reason = $3, merged_into = $4, updated_at = $5"
            " WHERE code = $1",
            e.code, rules.DIGABUNGKAN, e.reason, e.into, r.recorded_at,
        )  # fmt: skip
        self.families.merged(e)
        self.entry(e.code, r, {"into": e.into, "reason": e.reason})

    async def merged_in(self, r: RecordedEvent, e: ProposalsMergedIn) -> None:
        await self.writes.add_for(
            [e.code],
            "UPDATE proposals SET merged_from = merged_from || $2::text[],"
            " beneficiaries = beneficiaries + $3, merged_beneficiaries = merged_beneficiaries + $3,"
            " updated_at = $4 WHERE code = $1",
            e.code, list(e.merged), e.beneficiaries_added, r.recorded_at,
        )  # fmt: skip
        self.entry(e.code, r, {"merged": list(e.merged), "beneficiaries_added": e.beneficiaries_added,
                               "reason": e.reason})  # fmt: skip

    async def decided_at_forum(self, r: RecordedEvent, e: ProposalDecidedAtForum) -> None:
        status = rules.DITERUSKAN if e.selected else rules.TIDAK_TERAKOMODASI
        await self.writes.add_for(
            [e.code],
            "UPDATE proposals SET status = $2, status_reason = $3, updated_at = $4 WHERE code = $1",
            e.code, status, e.reason, r.recorded_at,
        )  # fmt: skip
        self.entry(e.code, r, {"forum_id": e.forum_id, "level": e.level, "rank": e.rank, "selected": e.selected,
                               "reason": e.reason})  # fmt: skip

    # --- the city level (the year's RKPD stream): status and timeline of the proposals an event concerns.
    # A statement that reads rows back (UPDATE … RETURNING, SELECT) goes after a flush of the queued writes.

    async def received(self, r: RecordedEvent, e: RkpdProposalsReceived) -> None:
        for i in e.items:
            self.entry(i.code, r, {"agency": i.agency})

    async def passed(self, r: RecordedEvent, e: RkpdProposalPassed) -> None:
        self.entry(e.code, r, {"from_agency": e.from_agency, "to_agency": e.to_agency, "reason": e.reason})

    async def declined(self, r: RecordedEvent, e: RkpdProposalDeclined) -> None:
        await self.writes.add_for(
            [e.code],
            "UPDATE proposals SET status = $2, status_reason = $3, updated_at = $4 WHERE code = $1",
            e.code, rules.TIDAK_TERAKOMODASI, e.reason, r.recorded_at,
        )  # fmt: skip
        self.entry(e.code, r, {"agency": e.agency, "reason": e.reason})

    async def line_set(self, r: RecordedEvent, e: RkpdLineSet) -> None:
        """The proposals the line had and no longer has go back to the agencies; its origins go in."""
        line = e.line
        await self.writes.flush()
        left = await self.conn.fetch(
            f"UPDATE proposals SET status = {_back_at_forum_pd('$3', '$5')}, rkpd_line = NULL, updated_at = $4"
            " WHERE year = $6 AND rkpd_line = $2 AND NOT code = ANY($1::text[]) RETURNING code",
            list(line.origins), line.line_id, rules.DITERUSKAN, r.recorded_at, rules.DITERUSKAN_SETWAN, e.year,
        )  # fmt: skip
        for row in left:
            self.entry(row["code"], r, {"line_id": line.line_id, "removed": True, "reason": e.reason})
        await self.writes.add_for(
            line.origins,
            "UPDATE proposals SET status = $3, status_reason = NULL, rkpd_line = $2, updated_at = $4"
            " WHERE code = ANY($1::text[])",
            list(line.origins), line.line_id, rules.MASUK_RKPD, r.recorded_at,
        )  # fmt: skip
        for code in line.origins:
            self.entry(code, r, {"line_id": line.line_id, "agency": line.agency, "sub_kegiatan": line.sub_kegiatan,
                                 "pagu": line.pagu, "target": line.target, "target_unit": line.target_unit,
                                 "reason": e.reason})  # fmt: skip

    async def line_withdrawn(self, r: RecordedEvent, e: RkpdLineWithdrawn) -> None:
        await self.writes.flush()
        left = await self.conn.fetch(
            f"UPDATE proposals SET status = {_back_at_forum_pd('$2', '$4')},"
            " rkpd_line = NULL, updated_at = $3 WHERE year = $5 AND rkpd_line = $1 RETURNING code",
            e.line_id, rules.DITERUSKAN, r.recorded_at, rules.DITERUSKAN_SETWAN, e.year,
        )  # fmt: skip
        for row in left:
            self.entry(row["code"], r, {"line_id": e.line_id, "reason": e.reason})

    async def adopted(self, r: RecordedEvent, e: RkpdAdopted) -> None:
        """Each line's origins are in the adopted RKPD. Those short of any outcome (rules.CLOSED_AT_ADOPTION:
        unverified, returned and never corrected, accepted and never decided at a forum): the year is closed
        and nothing can be decided on them any more (services/proposals.py), so they read as closed without
        a decision, with why, a need left unmet that may be proposed again for a later year."""
        adopted_on = e.adopted_on.isoformat() if e.adopted_on else None  # the Musrenbang Kota's day
        for line in e.lines:
            for code in line.origins:
                self.entry(code, r, {"line_id": line.line_id, "revision": e.revision, "adopted_on": adopted_on})
        await self.writes.flush()
        left = await self.conn.fetch(
            "UPDATE proposals p SET status = $2, status_reason = c.reason, updated_at = $3"
            " FROM unnest($4::text[], $5::text[]) AS c(was, reason)"
            " WHERE p.year = $1 AND p.status = c.was RETURNING p.code, c.reason",
            e.year, rules.TIDAK_DIPROSES, r.recorded_at, list(rules.CLOSED_AT_ADOPTION),
            list(rules.CLOSED_AT_ADOPTION.values()),
        )  # fmt: skip
        for row in sorted(left, key=lambda row: row["code"]):  # as migrations 0044 and 0045 write them too
            self.entry(row["code"], r, {"unprocessed": True, "year": e.year, "revision": e.revision,
                                        "reason": row["reason"]})  # fmt: skip

    async def enacted(self, r: RecordedEvent, e: RkpdEnacted) -> None:
        """Every proposal in a line of the year (read back, so the queued writes go first)."""
        await self.writes.flush()
        rows = await self.conn.fetch("SELECT code FROM proposals WHERE year = $1 AND rkpd_line IS NOT NULL"
                                     " ORDER BY code", e.year)  # fmt: skip
        for row in rows:
            self.entry(row["code"], r, {"regulation": e.regulation, "enacted_on": e.enacted_on.isoformat(),
                                        "amendment": e.amendment})  # fmt: skip

    async def milestone_recorded(self, r: RecordedEvent, e: RkpdMilestoneRecorded) -> None:
        """The proposals the line came from, and the duplicates merged into them: every resident whose
        words fed the line reads on their own tracking page what became of it."""
        detail = realisation.public_detail(e)
        for code in [*e.origins, *await self.families.merged_into(self.conn, e.origins)]:
            self.entry(code, r, detail)


_ON_EVENT: dict[type[Event], Callable[[_Batch, RecordedEvent, Any], Awaitable[None]]] = {
    ProposalSubmitted: _Batch.submitted, ProposalCarriedOver: _Batch.carried_over, ProposalRevised: _Batch.revised,
    PokirForwarded: _Batch.pokir_forwarded, ProposalPhotoAttached: _Batch.photo_attached,
    ProposalAccepted: _Batch.accepted, ProposalReturned: _Batch.returned_or_rejected,
    ProposalRejected: _Batch.returned_or_rejected, ProposalMerged: _Batch.merged, ProposalsMergedIn: _Batch.merged_in,
    ProposalDecidedAtForum: _Batch.decided_at_forum,
    RkpdProposalsReceived: _Batch.received, RkpdProposalPassed: _Batch.passed, RkpdProposalDeclined: _Batch.declined,
    RkpdLineSet: _Batch.line_set, RkpdLineWithdrawn: _Batch.line_withdrawn, RkpdAdopted: _Batch.adopted,
    RkpdMilestoneRecorded: _Batch.milestone_recorded, RkpdEnacted: _Batch.enacted,
}  # fmt: skip
"""Each kind `Proposals.handles`, and what it does to proposals and their timelines: by the event's exact
class (no event class is subclassed), so one look-up instead of a match trying every kind in turn."""


class _Families:
    """Which proposals were merged into which, as far as a batch's milestones need it: what the table
    held before the batch, read once (not once per milestone, thousands in a rebuild), plus the batch's
    own merges as they come. The one read covers every proposal merged, at any depth, into a milestone's
    origin or into a proposal the batch itself merges, so a merge later in the batch into an older
    family finds that family's members too."""

    _FAMILY = (
        "WITH RECURSIVE family(code, merged_into, depth) AS ("
        "  SELECT code, merged_into, 1 FROM proposals WHERE merged_into = ANY($1::text[])"
        "  UNION ALL SELECT p.code, p.merged_into, f.depth + 1 FROM proposals p JOIN family f ON p.merged_into = f.code"
        "  WHERE f.depth < 100)"
        " SELECT DISTINCT code, merged_into FROM family"
    )
    MAX_DEPTH = 100

    def __init__(self, events: Sequence[RecordedEvent]) -> None:
        self._events = events
        self._children: dict[str, list[str]] | None = None
        self._merged: list[ProposalMerged] = []

    def merged(self, e: ProposalMerged) -> None:
        self._merged.append(e)
        if self._children is not None:
            self._children.setdefault(e.into, []).append(e.code)

    async def merged_into(self, conn: asyncpg.Connection, origins: Sequence[str]) -> list[str]:
        """Every proposal merged into one of `origins` so far, at any depth (up to MAX_DEPTH), in code order."""
        if self._children is None:
            roots = {r.event.code for r in self._events if isinstance(r.event, ProposalMerged)}
            for r in self._events:
                if isinstance(r.event, RkpdMilestoneRecorded):
                    roots.update(r.event.origins)
            edges = {row["code"]: row["merged_into"] for row in await conn.fetch(self._FAMILY, sorted(roots))}
            edges.update((m.code, m.into) for m in self._merged)
            self._children = {}
            for code, into in edges.items():
                self._children.setdefault(into, []).append(code)
        found: set[str] = set()
        level = list(origins)
        for _ in range(self.MAX_DEPTH):
            level = [c for parent in level for c in self._children.get(parent, ()) if c not in found]
            if not level:
                break
            found.update(level)
        return sorted(found)


# --- queries ----------------------------------------------------------------------------------------

PUBLIC_COLUMNS = (
    "code, year, source, kelurahan, kecamatan, rw, rt, kind, bidang, title, problem, solution,"
    " beneficiaries, volume::text AS volume, unit, estimated_cost, priority_program, address,"
    " latitude::text AS latitude, longitude::text AS longitude, status, status_reason,"
    " agreed_volume::text AS agreed_volume, agreed_cost, photo_ids, revision, submitted_at, updated_at,"
    " merged_into, merged_from, carried_from, carried_to, first_year, times"
)


async def counts_by_year(conn: asyncpg.Connection) -> dict[int, int]:
    """How many proposals each year has (kept by the projection; one row a year)."""
    return dict(await conn.fetch("SELECT year, proposals FROM proposal_year_counts"))


async def get(conn: asyncpg.Connection, code: str) -> asyncpg.Record | None:
    return await conn.fetchrow(f"SELECT {PUBLIC_COLUMNS} FROM proposals WHERE code = $1", code)


async def history(conn: asyncpg.Connection, code: str) -> list[asyncpg.Record]:
    """The whole chain of years `code` belongs to, oldest first: the proposals it was carried from and
    the ones it was carried into, each with its year and outcome (status). A proposal alone is a chain of
    one. Chains are lines (a proposal goes forward once), so both walks follow a single link per step."""
    return await conn.fetch(
        "WITH RECURSIVE back(code, carried_from, depth) AS ("
        "  SELECT code, carried_from, 0 FROM proposals WHERE code = $1"
        "  UNION ALL SELECT p.code, p.carried_from, b.depth + 1 FROM proposals p JOIN back b ON p.code = b.carried_from"
        "  WHERE b.depth < 100),"
        " fwd(code, carried_to, depth) AS ("
        "  SELECT code, carried_to, 0 FROM proposals WHERE code = $1"
        "  UNION ALL SELECT p.code, p.carried_to, f.depth + 1 FROM proposals p JOIN fwd f ON p.code = f.carried_to"
        "  WHERE f.depth < 100)"
        " SELECT p.year, p.code, p.status AS outcome FROM proposals p"
        " WHERE p.code IN (SELECT code FROM back UNION SELECT code FROM fwd) ORDER BY p.year, p.code",
        code,
    )  # fmt: skip


async def timeline(conn: asyncpg.Connection, code: str) -> list[asyncpg.Record]:
    """A proposal's steps in the order recorded, each `at` when it was recorded; a forum's decision also with
    the day the forum was held (`held_on`, from the forums' read model), which a forum typed in from paper
    days later does not share with its `at`. A pokir's submission without its member's login name
    (`pokir.member`, half a credential; review s29): the public API reads this."""
    return await conn.fetch(
        "SELECT t.seq, t.at, t.kind, t.details #- '{pokir,member}' AS details, f.held_on FROM proposal_timeline t"
        " LEFT JOIN forums f ON t.kind = 'proposal.decided_at_forum' AND f.forum_id = t.details->>'forum_id'"
        " WHERE t.code = $1 ORDER BY t.seq",
        code,
    )  # fmt: skip


_TRACKED_STEPS = (
    "SELECT t.seq, t.at, t.kind, t.details #- '{pokir,member}' AS details, f.held_on, a.cost AS forum_cost,"
    " a.volume AS forum_volume, a.unit AS forum_unit, a.agreed_cost AS forum_agreed_cost,"
    " a.agreed_volume AS forum_agreed_volume, a.adjust_reason FROM proposal_timeline t"
    " LEFT JOIN forums f ON t.kind = 'proposal.decided_at_forum' AND f.forum_id = t.details->>'forum_id'"
    " LEFT JOIN forum_agenda a ON t.kind = 'proposal.decided_at_forum' AND a.forum_id = t.details->>'forum_id'"
    " AND a.proposal = t.code"
    " WHERE t.code = $1 ORDER BY t.seq"
)


async def tracked_steps(conn: asyncpg.Connection, code: str) -> list[asyncpg.Record]:
    """`timeline` as the tracking page shows it: a forum's decision also with what that forum agreed to
    change of the proposal on its agenda (from the forums' read model: `adjust_reason`, `forum_agreed_cost`,
    `forum_agreed_volume`, beside the agenda's `forum_cost`, `forum_volume` and `forum_unit` it changed;
    all None when the forum changed nothing)."""
    return await conn.fetch(_TRACKED_STEPS, code)


@dataclasses.dataclass(frozen=True)
class MergedPath:
    """What became of a merged duplicate's need after the merge: the path of the proposal it was merged
    into (`code`, its `title`, `status` now and `unit`), its steps recorded after the merge (`tracked_steps`),
    and the realisation stage of the RKPD line it went into (`line_stage`; None: in no line, or none
    recorded yet)."""

    code: str
    title: str
    status: str
    unit: str
    steps: list[asyncpg.Record]
    line_stage: str | None = None


@dataclasses.dataclass(frozen=True)
class Tracked:
    """A proposal's steps for its tracking page (`tracked_steps`) and, for a merged duplicate, the paths it
    goes on along (`merged`: the proposal it was merged into, and on, should that one have been merged in
    turn). A step shown in a later path (the milestones of the line, copied to every merged duplicate by
    the projection) is left out of the steps before it, so each appears once, where its path has it.

    `line_stage`: the realisation stage of the RKPD line the proposal itself went into (None: in no line,
    or none recorded). `news_ended`: what ended the news of the proposal whose story this is (the last
    of `merged`, else the proposal itself), as domain/notices.proposal_news_ended says it; None while some
    may still come. Asking to follow it is refused then (services/following.py), so its page offers no
    form."""

    steps: list[asyncpg.Record]
    merged: list[MergedPath]
    line_stage: str | None = None
    news_ended: str | None = None

    @property
    def line_dropped(self) -> bool:
        """`line_dropped`, as read with the proposal: its RKPD line was dropped in its budget year."""
        return self.line_stage == "batal"


MAX_MERGE_DEPTH = 100


async def tracked(conn: asyncpg.Connection, code: str) -> Tracked:
    """`Tracked` of `code`: its own steps, and when it was merged into another proposal, that proposal's
    steps after the merge (without its note that `code` was merged in, which the merge step says already),
    read from the timeline that proposal's own page shows: a merge carries the duplicate's followers on to
    the proposal it lives in, so the duplicate's page tells what their messages tell. Assembled here on
    each read (a few indexed reads per merge): the read model keeps each proposal's own timeline. Each
    proposal read (this one, and each it lives on in) is read with the stage of its RKPD line, in the same
    query, for `Tracked.news_ended`."""
    row = await conn.fetchrow(_WITH_LINE_STAGE, code)
    own = await tracked_steps(conn, code)
    paths: list[MergedPath] = []
    steps, follow, seen = own, code, {code}
    for _ in range(MAX_MERGE_DEPTH):
        merge = next((s for s in reversed(steps) if s["kind"] == "proposal.merged"), None)
        into = msgspec.json.decode(merge["details"]).get("into") if merge is not None else None
        if merge is None or not into or into in seen:
            break
        target = await conn.fetchrow(_WITH_LINE_STAGE, into)
        if target is None:
            break
        later = [s for s in await tracked_steps(conn, into)
                 if s["seq"] > merge["seq"] and not _merged_in_note(s, follow)]  # fmt: skip
        paths.append(MergedPath(target["code"], target["title"], target["status"], target["unit"], later,
                                target["line_stage"]))  # fmt: skip
        steps, follow = later, into
        seen.add(into)
    shown_later: set[int] = set()
    trimmed: list[list[asyncpg.Record]] = []
    for path_steps in reversed([own, *(p.steps for p in paths)]):
        trimmed.append([s for s in path_steps if s["seq"] not in shown_later])
        shown_later.update(s["seq"] for s in path_steps)
    trimmed.reverse()
    own_stage = row["line_stage"] if row is not None else None
    # A merged duplicate's news is that of the proposal it lives in (the end of its merges), as following it is.
    lives_in = (paths[-1].status, paths[-1].line_stage) if paths else (row["status"] if row else None, own_stage)
    return Tracked(trimmed[0], [dataclasses.replace(p, steps=s) for p, s in zip(paths, trimmed[1:], strict=True)],
                   line_stage=own_stage, news_ended=proposal_news_ended(*lives_in))  # fmt: skip


_WITH_LINE_STAGE = (
    "SELECT p.code, p.title, p.status, p.unit, l.stage AS line_stage FROM proposals p"
    " LEFT JOIN rkpd_line_progress l ON l.year = p.year AND l.line_id = p.rkpd_line WHERE p.code = $1"
)
"""A proposal as `tracked` reads it: its face on a merged duplicate's page, where it stands, and where the
RKPD line it went into (if any) stands (as services/following.py reads it to judge whether it can be followed)."""


def _merged_in_note(step: asyncpg.Record, code: str) -> bool:
    """Whether `step` is the note that `code` was merged into the step's proposal."""
    return step["kind"] == "proposal.merged_in" and code in msgspec.json.decode(step["details"]).get("merged", ())


async def in_kelurahan(
    conn: asyncpg.Connection,
    kelurahan: str,
    *,
    rw: int | None = None,
    bidang: str | None = None,
    year: int | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[int, list[asyncpg.Record]]:
    """One page of a kelurahan's proposals (newest first) and the total matching the filters (`year`:
    one RKPD year's, else every year's): residents' and DPRD members' pokir alike, each row with its
    `source` (`counted_in_kelurahan` counts them apart)."""
    total = await conn.fetchval(f"SELECT count(*) FROM proposals WHERE {_IN_KELURAHAN}", kelurahan, rw, bidang, year)
    rows = await conn.fetch(
        f"SELECT {PUBLIC_COLUMNS} FROM proposals WHERE {_IN_KELURAHAN}"
        " ORDER BY submitted_at DESC, code LIMIT $5 OFFSET $6",
        kelurahan, rw, bidang, year, limit, offset,
    )  # fmt: skip
    return total, rows


_IN_KELURAHAN = ("kelurahan = $1 AND ($2::int IS NULL OR rw = $2) AND ($3::text IS NULL OR bidang = $3)"
                 " AND ($4::int IS NULL OR year = $4)")  # fmt: skip
"""The proposals `in_kelurahan` lists and `counted_in_kelurahan` counts."""


@dataclasses.dataclass(frozen=True)
class KelurahanCount:
    """What `in_kelurahan` lists, counted as the kecamatan page counts (`totals_by_kelurahan`): residents'
    proposals once each, with their estimated cost; merged duplicates apart, their cost not counted again
    (the proposal they were merged into carries the need); DPRD members' pokir apart, not residents'."""

    residents: int
    estimated_cost: int
    merged: int
    pokir: int


async def counted_in_kelurahan(conn: asyncpg.Connection, kelurahan: str, *, rw: int | None = None,
                               bidang: str | None = None, year: int | None = None) -> KelurahanCount:  # fmt: skip
    """`KelurahanCount` of the proposals `in_kelurahan` lists with the same filters."""
    row = await conn.fetchrow(
        "SELECT count(*) FILTER (WHERE source <> 'pokir' AND status <> $5) AS residents,"
        " coalesce(sum(estimated_cost) FILTER (WHERE source <> 'pokir' AND status <> $5), 0)::bigint"
        " AS estimated_cost, count(*) FILTER (WHERE source <> 'pokir' AND status = $5) AS merged,"
        f" count(*) FILTER (WHERE source = 'pokir') AS pokir FROM proposals WHERE {_IN_KELURAHAN}",
        kelurahan, rw, bidang, year, rules.DIGABUNGKAN,
    )  # fmt: skip
    return KelurahanCount(row["residents"], row["estimated_cost"], row["merged"], row["pokir"])


QUEUE_PAGE = 100
"""Proposals per page of the verification queue: each carries its own decision form."""


async def verification_queue(conn: asyncpg.Connection, scope: str, status: str, bidang: str | None, *,
                             years: Sequence[int] | None = None, offset: int = 0, typed: str = "",
                             code: str | None = None) -> tuple[int, list[asyncpg.Record]]:  # fmt: skip
    """How many proposals of `scope` (a kelurahan, or every kelurahan under a region code) are at `status`,
    and one page of them, the oldest need first; `years`: only those RKPD years' (None: every year's).
    `typed` (a search box's text): only those whose title, code or address holds it, compared by search key
    (domain/search.py), or whose tracking code is `code` (`typed` read as one: "7kq2 m9xo"); a text no key
    can hold (only punctuation, another script) finds none. Pokir are left out: the DPRD secretariat checks
    them, not the kelurahan."""
    pattern = like_pattern(typed)
    if typed and pattern is None and code is None:
        return 0, []
    # The address's key is a column of its own (migration 0046), apart from `search_key`: the public search
    # matches titles and codes only.
    where = ("(kelurahan = $1 OR kelurahan LIKE $1 || '.%') AND status = $2 AND ($3::text IS NULL OR bidang = $3)"
             " AND source <> 'pokir' AND ($4::int[] IS NULL OR year = ANY($4::int[]))"
             " AND (($5::text IS NULL AND $6::text IS NULL) OR code = $6 OR search_key LIKE $5"
             " OR address_key LIKE $5)")  # fmt: skip
    chosen = None if years is None else list(years)
    total = await conn.fetchval(f"SELECT count(*) FROM proposals WHERE {where}", scope, status, bidang, chosen,
                                pattern, code)  # fmt: skip
    rows = await conn.fetch(
        "SELECT code, year, kelurahan, rw, rt, title, problem, bidang, kind, estimated_cost, volume::text AS volume,"
        " unit, beneficiaries, status, status_reason, submitted_at, first_year, times, revision,"
        " agreed_volume::text AS agreed_volume, agreed_cost, address FROM proposals"
        f" WHERE {where} ORDER BY first_year, kelurahan, rw, submitted_at, code LIMIT $7 OFFSET $8",
        scope, status, bidang, chosen, pattern, code, QUEUE_PAGE, offset,
    )  # fmt: skip
    return total, rows


async def line_dropped(conn: asyncpg.Connection, code: str) -> bool:
    """Whether the RKPD line `code` went into was dropped in its budget year (realisation stage `batal`)."""
    return bool(await conn.fetchval(
        "SELECT true FROM proposals p JOIN rkpd_line_progress l ON l.year = p.year AND l.line_id = p.rkpd_line"
        " WHERE p.code = $1 AND l.stage = 'batal'", code,
    ))  # fmt: skip


async def rws_in_kelurahan(conn: asyncpg.Connection, kelurahan: str) -> list[int]:
    """The RW the place's proposals name, for its page's filter (a desa's proposal may name none)."""
    return [
        r[0] for r in await conn.fetch(
            "SELECT DISTINCT rw FROM proposals WHERE kelurahan = $1 AND rw IS NOT NULL ORDER BY 1", kelurahan)
    ]  # fmt: skip


@dataclasses.dataclass
class KelurahanTotals:
    """A kelurahan's or desa's proposals of a year: counted once each (merged duplicates apart), by outcome
    (rules.OUTCOMES: the columns add up to `total`), with their estimated cost."""

    kode: str
    nama: str
    outcomes: dict[str, int]
    merged: int = 0
    estimated_cost: int = 0

    @property
    def total(self) -> int:
        return sum(self.outcomes.values())


async def totals_by_kelurahan(conn: asyncpg.Connection, kecamatan: str, year: int | None = None
                              ) -> list[KelurahanTotals]:  # fmt: skip
    """Per kelurahan or desa of a kecamatan (zeros included), residents' proposals of `year` (else of every
    year) by outcome; a merged duplicate is counted in `merged` only, its cost not at all (the proposal
    it was merged into carries the need)."""
    rows = await conn.fetch(
        "SELECT r.kode, r.nama, p.status, count(p.code) AS n, coalesce(sum(p.estimated_cost), 0)::bigint AS cost"
        " FROM regions r LEFT JOIN proposals p ON p.kelurahan = r.kode AND ($2::int IS NULL OR p.year = $2)"
        " AND p.source <> 'pokir'"
        " WHERE r.kode_induk = $1 AND r.tingkat IN ('kelurahan', 'desa')"
        " GROUP BY r.kode, r.nama, p.status ORDER BY r.kode",
        kecamatan, year,
    )  # fmt: skip
    out: dict[str, KelurahanTotals] = {}
    for r in rows:
        t = out.get(r["kode"])
        if t is None:
            t = out[r["kode"]] = KelurahanTotals(r["kode"], r["nama"], dict.fromkeys(rules.OUTCOMES, 0))
        if r["status"] == rules.DIGABUNGKAN:
            t.merged += r["n"]
        elif r["status"] is not None:
            t.outcomes[rules.OUTCOME_OF[r["status"]]] += r["n"]
            t.estimated_cost += r["cost"]
    return list(out.values())


SEARCH_PAGE = 25
SEARCH_COUNTED = 1_000
"""Matches counted at most: past it a search says "more than 1,000" and shows the first 40 pages. Counting
every match scanned the whole year's keys on every request (48 ms for 105,000 proposals: the page itself
took 0.2 ms), and no one pages through a thousand results: they type one more word."""


async def search_year(conn: asyncpg.Connection, year: int, typed: str, *, limit: int = SEARCH_PAGE,
                      offset: int = 0) -> tuple[int, list[asyncpg.Record]]:  # fmt: skip
    """One page of a year's proposals whose title, code or kelurahan (or its kecamatan) holds `typed`,
    compared by search key (domain/search.py); every one of the year when nothing searchable was typed.
    Public columns only, with the place names; and how many match, up to SEARCH_COUNTED + 1 (more than
    SEARCH_COUNTED match)."""
    where = ("p.year = $1 AND ($2::text IS NULL OR p.search_key LIKE $2 OR k.search_key LIKE $2"
             " OR c.search_key LIKE $2)")  # fmt: skip
    joined = "FROM proposals p JOIN regions k ON k.kode = p.kelurahan JOIN regions c ON c.kode = k.kode_induk"
    pattern = like_pattern(typed)
    total = await conn.fetchval(f"SELECT count(*) FROM (SELECT 1 {joined} WHERE {where} LIMIT $3) found",
                                year, pattern, SEARCH_COUNTED + 1)  # fmt: skip
    rows = await conn.fetch(
        f"SELECT p.code, p.title, p.kelurahan, k.nama AS kelurahan_nama, k.tingkat, c.nama AS kecamatan_nama,"
        f" p.source, p.bidang, p.status, p.estimated_cost, p.merged_into {joined} WHERE {where}"
        f" ORDER BY p.kelurahan, p.code LIMIT $3 OFFSET $4",
        year, pattern, limit, offset,
    )  # fmt: skip
    return total, rows
