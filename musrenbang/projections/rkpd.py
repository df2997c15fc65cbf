"""Projection "rkpd": the agencies' lists at the Forum Perangkat Daerah, the working RKPD lines, each
adopted RKPD exactly as the adoption froze it, and the city-level forums with their Berita Acara. Queries
for the public list, the equity view, the exports and the forums are below."""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import asyncpg
import msgspec

from musrenbang.domain import city_forums
from musrenbang.domain import rkpd as rules
from musrenbang.domain.city import City
from musrenbang.domain.events import (
    CityItem,
    Event,
    ForumParticipant,
    NotAgreedProposal,
    RkpdAdopted,
    RkpdEnacted,
    RkpdForumClosed,
    RkpdForumScheduled,
    RkpdLine,
    RkpdLineSet,
    RkpdLineWithdrawn,
    RkpdMilestoneRecorded,
    RkpdProposalDeclined,
    RkpdProposalPassed,
    RkpdProposalsReceived,
)
from musrenbang.domain.values import kecamatan_of
from musrenbang.eventlog import codec
from musrenbang.eventlog.seal import SEAL_STREAM
from musrenbang.eventlog.store import RecordedEvent
from musrenbang.projections import Projection, Statements
from musrenbang.projections import city as city_views
from musrenbang.projections import forums as forum_views

_YEAR_EVENTS = (RkpdProposalsReceived, RkpdProposalPassed, RkpdProposalDeclined, RkpdLineSet, RkpdLineWithdrawn,
                RkpdAdopted, RkpdMilestoneRecorded, RkpdForumScheduled, RkpdForumClosed, RkpdEnacted)  # fmt: skip
"""Every event this projection applies: each changes what the year's pages show."""


class RkpdProjection(Projection):
    name = "rkpd"
    tables = ("rkpd_adopted_lines", "rkpd_adoptions", "rkpd_state", "rkpd_lines", "rkpd_items", "rkpd_milestones",
              "rkpd_line_progress", "rkpd_enactments", "rkpd_forums", "rkpd_year_versions")
    handles = _YEAR_EVENTS

    async def apply(self, conn: asyncpg.Connection, events: Sequence[RecordedEvent]) -> None:
        """Each write is queued with the rows it touches (`Statements.add_for`), so that a rebuild's
        thousands of milestones and line changes go many rows a round trip. A year's proposals (rkpd_items)
        are one key for every write that sets their status or line, which must stay in log order; a
        transfer between agencies writes other columns and keys the proposal alone."""
        writes = Statements(conn)
        versions: dict[int, int] = {}
        for r in events:
            e = r.event
            if isinstance(e, _YEAR_EVENTS):
                versions[e.year] = r.global_position
            on_event = _ON_EVENT.get(type(e))
            if on_event is not None:
                await on_event(writes, r, e)
        await writes.flush()
        if versions:
            # In the batch's transaction, with the rows: a cached page keyed by it is never older than
            # the rows it names (http/page_cache.py).
            await conn.executemany(
                "INSERT INTO rkpd_year_versions (year, position) VALUES ($1, $2)"
                " ON CONFLICT (year) DO UPDATE SET position = EXCLUDED.position",
                sorted(versions.items()),
            )


# --- the agencies' lists and the working lines


async def _received(writes: Statements, r: RecordedEvent, e: RkpdProposalsReceived) -> None:
    """The year's state row, and the proposals in each agency's list, waiting."""
    await writes.add_for([("state", e.year)], "INSERT INTO rkpd_state (year) VALUES ($1)"
                         " ON CONFLICT DO NOTHING", e.year)  # fmt: skip
    for i in e.items:
        await writes.add_for(
            [("items", e.year), ("item", e.year, i.code)],
            "INSERT INTO rkpd_items (year, code, title, kelurahan, kecamatan, bidang, cost, volume,"
            " unit, forum_id, agency, status)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
            e.year, i.code, i.title, i.kelurahan, kecamatan_of(i.kelurahan), i.bidang, i.cost, i.volume,
            i.unit, i.forum_id, i.agency, rules.MENUNGGU,
        )  # fmt: skip


async def _passed(writes: Statements, r: RecordedEvent, e: RkpdProposalPassed) -> None:
    """Keyed by the proposal alone: a transfer sets neither status nor line."""
    await writes.add_for(
        [("item", e.year, e.code)],
        "UPDATE rkpd_items SET agency = $3, reason = $4 WHERE year = $1 AND code = $2",
        e.year, e.code, e.to_agency, e.reason,
    )  # fmt: skip


async def _declined(writes: Statements, r: RecordedEvent, e: RkpdProposalDeclined) -> None:
    await writes.add_for(
        [("items", e.year), ("item", e.year, e.code)],
        "UPDATE rkpd_items SET status = $3, reason = $4 WHERE year = $1 AND code = $2",
        e.year, e.code, rules.DITOLAK_OPD, e.reason,
    )  # fmt: skip


async def _line_set(writes: Statements, r: RecordedEvent, e: RkpdLineSet) -> None:
    """The line's proposals now: its origins; the ones it had before and not now wait again."""
    line = e.line
    await writes.add_for(
        [("items", e.year)],
        "UPDATE rkpd_items SET status = CASE WHEN code = ANY($2::text[]) THEN $4 ELSE $5 END,"
        " line_id = CASE WHEN code = ANY($2::text[]) THEN $3 END"
        " WHERE year = $1 AND (line_id = $3 OR code = ANY($2::text[]))",
        e.year, list(line.origins), line.line_id, rules.DIPETAKAN, rules.MENUNGGU,
    )  # fmt: skip
    await writes.add_for(
        [("line", e.year, line.line_id)],
        "INSERT INTO rkpd_lines (year, line_id, agency, pagu, line, updated_at)"
        " VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (year, line_id) DO UPDATE"
        " SET pagu = EXCLUDED.pagu, line = EXCLUDED.line, updated_at = EXCLUDED.updated_at",
        e.year, line.line_id, line.agency, line.pagu, codec.encode(line), r.recorded_at,
    )  # fmt: skip
    await _changed(writes, e.year)


async def _line_withdrawn(writes: Statements, r: RecordedEvent, e: RkpdLineWithdrawn) -> None:
    """The line's proposals wait again."""
    await writes.add_for(
        [("items", e.year)],
        "UPDATE rkpd_items SET status = $3, line_id = NULL WHERE year = $1 AND line_id = $2",
        e.year, e.line_id, rules.MENUNGGU,
    )  # fmt: skip
    await writes.add_for([("line", e.year, e.line_id)],
                         "DELETE FROM rkpd_lines WHERE year = $1 AND line_id = $2", e.year, e.line_id)
    await _changed(writes, e.year)


async def _changed(writes: Statements, year: int) -> None:
    await writes.add_for([("state", year)], "UPDATE rkpd_state SET changed = revision > 0 WHERE year = $1", year)


# --- adoption and enactment


async def _adopted(writes: Statements, r: RecordedEvent, e: RkpdAdopted) -> None:
    """The revision in force, and the adoption with its list exactly as it froze it."""
    await writes.add_for([("state", e.year)], "UPDATE rkpd_state SET revision = $2, changed = false"
                         " WHERE year = $1", e.year, e.revision)  # fmt: skip
    await writes.add(
        "INSERT INTO rkpd_adoptions (year, revision, total_pagu, note, adopted_at, stream_id,"
        " stream_version, position, hash, adopted_on) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        e.year, e.revision, e.total_pagu, e.note, r.recorded_at, r.stream_id, r.stream_version,
        r.global_position, r.hash, e.adopted_on,
    )  # fmt: skip
    for x in e.lines:
        await writes.add("INSERT INTO rkpd_adopted_lines (year, revision, line_id, agency, pagu, line)"
                         " VALUES ($1, $2, $3, $4, $5, $6)",
                         e.year, e.revision, x.line_id, x.agency, x.pagu, codec.encode(x))  # fmt: skip


async def _enacted(writes: Statements, r: RecordedEvent, e: RkpdEnacted) -> None:
    await writes.add(
        "INSERT INTO rkpd_enactments (year, revision, regulation, enacted_on, list_hash, amendment,"
        " recorded_at, position, hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        e.year, e.revision, e.regulation, e.enacted_on, e.list_hash, e.amendment, r.recorded_at,
        r.global_position, r.hash,
    )  # fmt: skip


# --- after adoption: realisation


async def _milestone(writes: Statements, r: RecordedEvent, e: RkpdMilestoneRecorded) -> None:
    """The milestone itself, and where its line stands now: the stage, and the latest amount of each kind
    (proposed in KUA-PPAS, budgeted in the APBD (the DPA's if one follows), contracted, spent)."""
    await writes.add_for(
        [("milestones", e.year, e.line_id)],
        "INSERT INTO rkpd_milestones (year, line_id, position, stage, on_date, amount, progress, note, contractor,"
        " ends, photos, recorded_at, role) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
        e.year, e.line_id, r.global_position, e.stage, e.on, e.amount, e.progress, e.note, e.contractor, e.ends,
        codec.encode([p.photo_id for p in e.photos]), r.recorded_at, r.metadata.role,
    )  # fmt: skip
    column = {"kua_ppas": "proposed", "apbd": "budgeted", "dpa": "budgeted", "kontrak": "contract",
              "pelaksanaan": "spent", "selesai": "spent"}.get(e.stage)  # fmt: skip
    amount_set = f", {column} = coalesce(EXCLUDED.{column}, p.{column})" if column else ""
    await writes.add_for(
        [("progress", e.year, e.line_id)],
        f"INSERT INTO rkpd_line_progress AS p (year, line_id, stage, {column or 'proposed'}, progress, finished_on,"
        " updated_at) VALUES ($1, $2, $3, $4, coalesce($5, 0), $6, $7) ON CONFLICT (year, line_id) DO UPDATE"
        " SET stage = EXCLUDED.stage, progress = greatest(p.progress, EXCLUDED.progress),"
        f" finished_on = coalesce(EXCLUDED.finished_on, p.finished_on), updated_at = EXCLUDED.updated_at{amount_set}",
        e.year, e.line_id, e.stage, e.amount if column else None, e.progress,
        e.on if e.stage == "selesai" else None, r.recorded_at,
    )  # fmt: skip


# --- the city-level forums


async def _forum_scheduled(writes: Statements, r: RecordedEvent, e: RkpdForumScheduled) -> None:
    """A schedule replaces the forum's earlier one."""
    await writes.add_for(
        [("forum", e.year, e.forum)],
        "INSERT INTO rkpd_forums (year, forum, held_on, place, chair, participants, agenda, scheduled_at,"
        " starts_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (year, forum) DO UPDATE SET held_on ="
        " EXCLUDED.held_on, place = EXCLUDED.place, chair = EXCLUDED.chair, participants = EXCLUDED.participants,"
        " agenda = EXCLUDED.agenda, scheduled_at = EXCLUDED.scheduled_at, starts_at = EXCLUDED.starts_at",
        e.year, e.forum, e.held_on, e.place, e.chair, codec.encode(e.participants), codec.encode(e.agenda),
        r.recorded_at, e.starts_at,
    )  # fmt: skip


async def _forum_closed(writes: Statements, r: RecordedEvent, e: RkpdForumClosed) -> None:
    """The close adds its Berita Acara and where it is in the log."""
    await writes.add_for(
        [("forum", e.year, e.forum)],
        "UPDATE rkpd_forums SET closed_at = $3, minutes = $4, agreed = $5, not_agreed = $6, total_pagu = $7,"
        " stream_id = $8, stream_version = $9, position = $10, hash = $11 WHERE year = $1 AND forum = $2",
        e.year, e.forum, r.recorded_at, e.minutes, codec.encode(e.agreed), codec.encode(e.not_agreed), e.total_pagu,
        r.stream_id, r.stream_version, r.global_position, r.hash,
    )  # fmt: skip


_ON_EVENT: dict[type[Event], Callable[[Statements, RecordedEvent, Any], Awaitable[None]]] = {
    RkpdProposalsReceived: _received, RkpdProposalPassed: _passed, RkpdProposalDeclined: _declined,
    RkpdLineSet: _line_set, RkpdLineWithdrawn: _line_withdrawn, RkpdAdopted: _adopted, RkpdEnacted: _enacted,
    RkpdMilestoneRecorded: _milestone, RkpdForumScheduled: _forum_scheduled, RkpdForumClosed: _forum_closed,
}  # fmt: skip
"""Each of `_YEAR_EVENTS` and its writes: by the event's exact class (no event class is subclassed), so one
look-up instead of a match trying every kind in turn."""


# --- queries ----------------------------------------------------------------------------------------


class ListVersion(msgspec.Struct, frozen=True, kw_only=True):
    """What the public list of a year is computed from, in a few values: equal values, equal list (the
    origins' proposals no longer change once an agency has received them; regions are reference data)."""

    rkpd: int
    """The global position of the last event the rkpd projection applied for the year (0: none yet)."""
    programs: str | None
    """A digest of the year's priority programs; None when the year has no cycle (the list is not found)."""
    city: dt.datetime | None
    """When the city's settings (agency names, time zone) were last configured."""
    seal: int
    """The number of the newest seal of the log (the adopted list's page says whether it covers it)."""
    tables: int
    """Which tables hold the rkpd read model (an OID): `replay` switches in rebuilt ones at the same
    positions, and a page cached from the old ones must not outlive them (projections/rebuild.py)."""


async def list_version(conn: asyncpg.Connection, year: int) -> ListVersion:
    """One round trip, every value read by primary key or a small index."""
    row = await conn.fetchrow(
        "SELECT (SELECT position FROM rkpd_year_versions WHERE year = $1) AS rkpd,"
        " (SELECT md5(string_agg(number || ':' || title, chr(10) ORDER BY number)) FROM cycle_priority_programs"
        "  WHERE year = $1) AS programs,"
        " (SELECT max(configured_at) FROM city) AS city,"
        " (SELECT max(stream_version) FROM events WHERE stream_id = $2) AS seal,"
        " 'rkpd_year_versions'::regclass::oid::bigint AS tables",
        year, SEAL_STREAM,
    )  # fmt: skip
    return ListVersion(rkpd=row["rkpd"] or 0, programs=row["programs"], city=row["city"], seal=row["seal"] or 0,
                       tables=row["tables"])  # fmt: skip


_YEAR_PARTS = {
    "rkpd": "(SELECT position FROM rkpd_year_versions WHERE year = $1)",
    "proposals": "(SELECT position FROM proposal_year_versions WHERE year = $1)",
    "merges": "(SELECT count(*) FROM lineage_merges)",  # never deleted: their count moves with each
    "ceilings": "(SELECT md5(string_agg(forum_id || ':' || region || ':' || ceiling || ':' || status, ','"
                " ORDER BY forum_id))"
                " FROM forums WHERE year = $1 AND level = 'kecamatan')",
}  # fmt: skip


async def year_version(conn: asyncpg.Connection, year: int, parts: Sequence[str], models: Sequence[str]
                       ) -> tuple[object, ...]:  # fmt: skip
    """What a page of one RKPD year is a function of, read by key or small index: the `parts` of the year
    (`_YEAR_PARTS`), and for each read model in `models` the generation of its tables (a `replay` switches
    new ones in) and, for cycles and city, which keep no per-year version, their last change. Keyed by the
    read models' checkpoints instead, every past year's page was rendered again for each new proposal in
    the January peak."""
    row = await conn.fetchrow(
        "SELECT " + ", ".join(_YEAR_PARTS[p] for p in parts) + ", (SELECT array_agg(name || ':' || generation"
        " || ':' || CASE WHEN name IN ('cycles', 'city') THEN changed ELSE 0 END ORDER BY name)"
        " FROM projection_checkpoints WHERE name = ANY($2::text[]))",
        year, list(models),
    )  # fmt: skip
    return tuple(row.values())


async def equity_version(conn: asyncpg.Connection, year: int) -> tuple[object, ...]:
    """The equity view (`/rkpd/{year}/pemerataan`): the year's RKPD and proposals, the merges (the lines'
    families), the kecamatan forums' ceilings, the cycle's pagu per kecamatan and the city."""
    return await year_version(conn, year, ("rkpd", "proposals", "merges", "ceilings"),
                              ("rkpd", "proposals", "lineage", "forums", "cycles", "city"))  # fmt: skip


async def sources_version(conn: asyncpg.Connection, year: int) -> tuple[object, ...]:
    """The sources view (`/rkpd/{year}/sumber`): the year's RKPD, its proposals (whether each is a pokir),
    the city (its daerah pemilihan) and the cycles (a year whose cycle was withdrawn has no such page)."""
    return await year_version(conn, year, ("rkpd", "proposals"), ("rkpd", "proposals", "cycles", "city"))


_line_decoder = msgspec.json.Decoder(RkpdLine)


class Published(msgspec.Struct, frozen=True, kw_only=True):
    """The RKPD list of a year as the public sees it: the latest adopted revision, or the working draft
    while nothing is adopted (`revision` 0)."""

    year: int
    revision: int
    adoption: asyncpg.Record | None
    lines: list[RkpdLine]
    changed_since_adoption: bool
    enactment: asyncpg.Record | None = None
    """The latest regulation setting the list (its `revision` may be older than the latest adoption's:
    an amendment adopted and not enacted yet)."""


async def settings_of(conn: asyncpg.Connection, published: Published, now: City | None = None) -> City:
    """The settings a published list is read by (its agencies' names and order, the dapil its pagu is
    counted in): those in force at its adoption for an adopted list (a legal document: a later
    reorganisation or redistricting does not rewrite it), else those in force now (`now`, when the caller
    has read them already)."""
    if published.adoption is not None:
        return await city_views.settings_as_of(conn, published.adoption["position"])
    return now or await city_views.settings(conn)


async def published(conn: asyncpg.Connection, year: int) -> Published:
    state = await conn.fetchrow("SELECT revision, changed FROM rkpd_state WHERE year = $1", year)
    adoption = None
    if state is not None and state["revision"]:
        adoption = await conn.fetchrow(
            "SELECT * FROM rkpd_adoptions WHERE year = $1 AND revision = $2", year, state["revision"]
        )
        rows = await conn.fetch(
            "SELECT line FROM rkpd_adopted_lines WHERE year = $1 AND revision = $2 ORDER BY line_id",
            year, adoption["revision"],
        )  # fmt: skip
    else:
        rows = await conn.fetch("SELECT line FROM rkpd_lines WHERE year = $1 ORDER BY line_id", year)
    changed = bool(state and state["changed"])
    enactment = await conn.fetchrow(
        "SELECT * FROM rkpd_enactments WHERE year = $1 ORDER BY revision DESC LIMIT 1", year
    ) if adoption is not None else None  # fmt: skip
    return Published(
        year=year,
        revision=adoption["revision"] if adoption else 0,
        adoption=adoption,
        lines=[_line_decoder.decode(r["line"]) for r in rows],
        changed_since_adoption=changed,
        enactment=enactment,
    )


async def working_lines(conn: asyncpg.Connection, year: int, agency: str | None = None) -> list[RkpdLine]:
    rows = await conn.fetch(
        "SELECT line FROM rkpd_lines WHERE year = $1 AND ($2::text IS NULL OR agency = $2) ORDER BY line_id",
        year, agency,
    )  # fmt: skip
    return [_line_decoder.decode(r["line"]) for r in rows]


async def declined(conn: asyncpg.Connection, year: int, agency: str | None = None) -> dict[str, str]:
    """The proposals an agency declined (code → reason): with the working lines, what a close freezes."""
    return dict(await conn.fetch(
        "SELECT code, reason FROM rkpd_items WHERE year = $1 AND status = $2 AND ($3::text IS NULL OR agency = $3)",
        year, rules.DITOLAK_OPD, agency,
    ))  # fmt: skip


async def items(conn: asyncpg.Connection, year: int, agency: str | None = None) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT * FROM rkpd_items WHERE year = $1 AND ($2::text IS NULL OR agency = $2) ORDER BY kecamatan, code",
        year, agency,
    )  # fmt: skip


async def item_facts(conn: asyncpg.Connection, year: int) -> tuple[dict[str, int], dict[str, str]]:
    """Cost and kecamatan of every received proposal (what `rules.pagu_by_kecamatan` needs)."""
    rows = await conn.fetch("SELECT code, cost, kecamatan FROM rkpd_items WHERE year = $1", year)
    return {r["code"]: r["cost"] for r in rows}, {r["code"]: r["kecamatan"] for r in rows}


async def city_items(conn: asyncpg.Connection, year: int) -> dict[str, CityItem]:
    """Every received proposal of the year as the rules share pagu by (`rules.pagu_by_source`,
    `rules.musrenbang_by_kecamatan`): its cost, place and source (a pokir, or a resident's proposal through the
    Musrenbang), as the sources view reads them (projections/pokir.sources)."""
    rows = await conn.fetch(
        "SELECT i.code, i.title, i.kelurahan, i.bidang, i.cost, i.agency, i.forum_id,"
        " CASE WHEN p.source = 'pokir' THEN 'pokir' ELSE 'musrenbang' END AS source"
        " FROM rkpd_items i LEFT JOIN proposals p USING (code) WHERE i.year = $1", year,
    )  # fmt: skip
    return {r["code"]: CityItem(code=r["code"], title=r["title"], kelurahan=r["kelurahan"], bidang=r["bidang"],
                                cost=r["cost"], agency=r["agency"], forum_id=r["forum_id"], source=r["source"])
            for r in rows}  # fmt: skip


async def ceilings(conn: asyncpg.Connection, year: int) -> dict[str, int]:
    """Pagu indikatif per kecamatan: as Bappeda set it when opening the cycle, else the ceiling of the
    kecamatan's Musrenbang Kecamatan (the latest scheduled that was not cancelled; a cancelled one's only
    when the kecamatan has no other: it is still the pagu the kecamatan was told)."""
    rows = await conn.fetch(
        "SELECT DISTINCT ON (region) region, ceiling FROM forums WHERE year = $1 AND level = 'kecamatan'"
        " ORDER BY region, status = 'cancelled', scheduled_at DESC",
        year,
    )
    set_by_bappeda = await conn.fetch("SELECT kecamatan, pagu FROM cycle_pagu_kecamatan WHERE year = $1", year)
    return {**{r["region"]: r["ceiling"] for r in rows}, **{r["kecamatan"]: r["pagu"] for r in set_by_bappeda}}


async def equity(conn: asyncpg.Connection, year: int, in_rkpd: Sequence[str]) -> list[asyncpg.Record]:
    """Per kecamatan: residents' proposals (pokir are DPRD members': the sources view counts them) submitted,
    accepted at verification, and in the RKPD (`in_rkpd`: the
    origin codes of the published lines, with everything merged into them); and the needs that have
    waited: proposals of this year carried over from an earlier one, and the longest wait in years."""
    # `in_rkpd` joined as a set: a `= ANY(array)` per proposal compared every proposal of a city with every
    # origin (40 ms at 11,000 proposals and 1,300 origins).
    return await conn.fetch(
        "SELECT r.kode, r.nama, count(p.code) AS submitted,"
        " count(p.code) FILTER (WHERE p.accepted) AS accepted,"
        " count(p.code) FILTER (WHERE i.code IS NOT NULL) AS in_rkpd,"
        " count(p.code) FILTER (WHERE p.first_year < p.year) AS waited,"
        " coalesce(max(p.year - p.first_year), 0) AS longest_wait"
        " FROM regions r LEFT JOIN proposals p ON p.kecamatan = r.kode AND p.year = $1 AND p.source <> 'pokir'"
        " LEFT JOIN (SELECT DISTINCT unnest($2::text[]) AS code) AS i ON i.code = p.code"
        " WHERE r.tingkat = 'kecamatan' GROUP BY r.kode, r.nama ORDER BY r.kode",
        year, list(in_rkpd),
    )  # fmt: skip


async def milestones(conn: asyncpg.Connection, year: int, line_id: str | None = None) -> list[asyncpg.Record]:
    """The milestones of a year's lines (or one line's), oldest first."""
    return await conn.fetch(
        "SELECT line_id, position, stage, on_date, amount, progress, note, contractor, ends, photos, recorded_at"
        " FROM rkpd_milestones WHERE year = $1 AND ($2::text IS NULL OR line_id = $2) ORDER BY line_id, position",
        year, line_id,
    )  # fmt: skip


async def progress(conn: asyncpg.Connection, year: int) -> dict[str, asyncpg.Record]:
    """Where each line of a year stands after adoption (lines without a milestone are absent)."""
    rows = await conn.fetch("SELECT * FROM rkpd_line_progress WHERE year = $1", year)
    return {r["line_id"]: r for r in rows}


# --- the city-level forums ------------------------------------------------------------------------------


class AgencyAgreed(msgspec.Struct, frozen=True, kw_only=True):
    agency: str
    agency_name: str
    lines: list[RkpdLine]
    total_pagu: int


class ForumHead(msgspec.Struct, frozen=True, kw_only=True):
    """The closing event: anyone can check it with `/periksa/{hash}`."""

    stream: str
    version: int
    position: int
    hash: str


class BeritaAcara(msgspec.Struct, frozen=True, kw_only=True):
    """What the close froze: the lines agreed, per agency, and the proposals not agreed with reasons."""

    closed_at: dt.datetime
    minutes: str
    total_pagu: int
    agreed: list[AgencyAgreed]
    not_agreed: list[NotAgreedProposal]
    head: ForumHead
    agency_names: dict[str, str] = {}
    """Every perangkat daerah's name (by code) as it was at the close: the Berita Acara names agencies so,
    whatever they are called now."""


class CityForum(msgspec.Struct, frozen=True, kw_only=True):
    year: int
    forum: str
    """`forum_pd` (Forum Perangkat Daerah) or `musrenbang_kota` (Musrenbang Kota)."""
    status: str
    """`dijadwalkan` (scheduled) or `ditutup` (closed, with its `berita_acara`)."""
    held_on: dt.date
    place: str
    chair: str
    participants: list[ForumParticipant]
    agenda: list[str]
    berita_acara: BeritaAcara | None = None
    starts_at: dt.time | None = None
    """When it begins on `held_on`, on the city's clock (None: not given)."""


_lines_decoder = msgspec.json.Decoder(list[RkpdLine])
_not_agreed_decoder = msgspec.json.Decoder(list[NotAgreedProposal])


async def city_forum(conn: asyncpg.Connection, year: int, forum: str) -> CityForum | None:
    """A city-level forum of the year as the public sees it (None: not scheduled)."""
    row = await conn.fetchrow("SELECT * FROM rkpd_forums WHERE year = $1 AND forum = $2", year, forum)
    if row is None:
        return None
    berita_acara = None
    if row["closed_at"] is not None:
        city = await city_views.settings_as_of(conn, row["position"])  # as the close named them
        by_agency: dict[str, list[RkpdLine]] = {}
        for line in _lines_decoder.decode(row["agreed"]):
            by_agency.setdefault(line.agency, []).append(line)
        agreed = [AgencyAgreed(agency=a, agency_name=city.agency_name(a), lines=by_agency[a],
                               total_pagu=sum(x.pagu for x in by_agency[a]))
                  for a in sorted(by_agency, key=city.agency_name)]  # fmt: skip
        head = ForumHead(stream=row["stream_id"], version=row["stream_version"], position=row["position"],
                         hash=row["hash"].hex())  # fmt: skip
        berita_acara = BeritaAcara(closed_at=row["closed_at"], minutes=row["minutes"], total_pagu=row["total_pagu"],
                                   agreed=agreed, not_agreed=_not_agreed_decoder.decode(row["not_agreed"]),
                                   head=head, agency_names={a.code: a.name for a in city.agencies})  # fmt: skip
    return CityForum(
        year=year, forum=forum, status="ditutup" if berita_acara else "dijadwalkan", held_on=row["held_on"],
        place=row["place"], chair=row["chair"], agenda=msgspec.json.decode(row["agenda"], type=list[str]),
        participants=msgspec.json.decode(row["participants"], type=list[ForumParticipant]), berita_acara=berita_acara,
        starts_at=row["starts_at"],
    )  # fmt: skip


async def city_forums_of(conn: asyncpg.Connection, year: int) -> dict[str, CityForum]:
    """Both forums of the year that are scheduled, by forum."""
    found = {f: await city_forum(conn, year, f) for f in city_forums.FORUMS}
    return {f: x for f, x in found.items() if x is not None}


class CityForumDay(msgspec.Struct, frozen=True, kw_only=True):
    """When and where a city-level forum of the year meets, and whether it has closed: what a list or a
    calendar links to, without reading its Berita Acara."""

    forum: str
    held_on: dt.date
    place: str
    status: str
    """`dijadwalkan` or `ditutup`, as CityForum's."""
    starts_at: dt.time | None = None

    @property
    def berita_acara(self) -> bool:
        return self.status == "ditutup"


async def city_forum_days(conn: asyncpg.Connection, year: int) -> dict[str, CityForumDay]:
    """Both forums of the year that are scheduled, by forum (in city_forums.FORUMS order)."""
    rows = {r["forum"]: r for r in await conn.fetch(
        "SELECT forum, held_on, starts_at, place, closed_at IS NOT NULL AS closed FROM rkpd_forums WHERE year = $1",
        year,
    )}  # fmt: skip
    return {f: CityForumDay(forum=f, held_on=r["held_on"], place=r["place"],
                            status="ditutup" if r["closed"] else "dijadwalkan", starts_at=r["starts_at"])
            for f in city_forums.FORUMS if (r := rows.get(f)) is not None}  # fmt: skip


async def suggested_participants(conn: asyncpg.Connection, year: int) -> list[ForumParticipant]:
    """Whom a city forum of the year gathers, as a schedule form starts: each perangkat daerah of the city,
    and the delegates each Musrenbang Kecamatan mandated (DPRD members are typed in by Bappeda)."""
    city = await city_views.settings(conn)
    places = dict(await conn.fetch("SELECT kode, nama FROM regions WHERE tingkat = 'kecamatan'"))
    agencies = [ForumParticipant(name=f"Perwakilan {a.name}", kind="agency", represents=a.code) for a in city.agencies]
    delegates = [ForumParticipant(name=r["name"], kind="kecamatan",
                                  represents=f"Kecamatan {places.get(r['region'], r['region'])}")
                 for r in await forum_views.mandated_delegates(conn, year)]  # fmt: skip
    return agencies + delegates


