"""Queries for the Atom feeds (http/feeds.py): the newest public changes of a kelurahan's, a kecamatan's
or an RKPD year's proposals and lines. Query-only: it reads the tables of projections "proposals" and
"rkpd" (public fields only: no personal data lives there) and writes nothing."""

from __future__ import annotations

import datetime as dt
from typing import Any

import asyncpg
import msgspec

LIMIT = 50
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
"""Only for a database with no city set up at all (a feed needs some date)."""

TIMELINE = "timeline"
ADOPTION = "adoption"
MILESTONE = "milestone"
ENACTMENT = "enactment"

RKPD_KINDS_LEFT_OUT = ("rkpd.adopted", "rkpd.milestone_recorded", "rkpd.enacted")
"""Timeline kinds an RKPD feed does not repeat per proposal: the adoption, the enactment and the milestones
have entries of their own there (one per event, not one per proposal they touch)."""


class Change(msgspec.Struct, frozen=True, kw_only=True):
    """One public change, whatever table it comes from."""

    source: str
    """TIMELINE (a proposal's timeline entry), ADOPTION (an RKPD adopted) or MILESTONE (an RKPD line
    after adoption)."""
    position: int
    """The event's global position: with `source` and `key`, what makes the entry's id."""
    at: dt.datetime
    kind: str
    """The event type (`proposal.accepted`…) of a timeline entry; the stage of a milestone; `rkpd.adopted`."""
    key: str
    """The proposal's code, the line's id, or the adoption's revision."""
    title: str
    """The proposal's title or the line's sub-kegiatan ("" when the line is not adopted)."""
    year: int
    details: dict[str, Any]


async def region_changes(conn: asyncpg.Connection, *, kelurahan: str | None = None, kecamatan: str | None = None,
                         limit: int = LIMIT) -> list[Change]:  # fmt: skip
    """The newest timeline entries of the proposals of a kelurahan or desa, or of a kecamatan (every
    year's), newest first."""
    column, value = ("kelurahan", kelurahan) if kelurahan is not None else ("kecamatan", kecamatan)
    rows = await conn.fetch(
        "SELECT t.code, t.seq, t.at, t.kind, t.details, p.title, p.year, p.unit"
        " FROM proposal_timeline t JOIN proposals p ON p.code = t.code"
        f" WHERE p.{column} = $1 ORDER BY t.seq DESC, t.code LIMIT $2",
        value, limit,
    )  # fmt: skip
    return [_timeline(r) for r in rows]


async def rkpd_changes(conn: asyncpg.Connection, year: int, *, limit: int = LIMIT) -> list[Change]:
    """The newest changes of an RKPD year, newest first: its adoptions, its lines' milestones, and the
    timeline entries of its proposals at the city level (received, passed, declined, put in a line…)."""
    adoptions = await conn.fetch(
        "SELECT a.revision, a.total_pagu, a.note, a.adopted_at, a.position,"
        " (SELECT count(*) FROM rkpd_adopted_lines l WHERE l.year = a.year AND l.revision = a.revision) AS lines"
        " FROM rkpd_adoptions a WHERE a.year = $1 ORDER BY a.position DESC LIMIT $2",
        year, limit,
    )  # fmt: skip
    milestones = await conn.fetch(
        "SELECT m.line_id, m.position, m.stage, m.on_date, m.amount, m.progress, m.note, m.contractor, m.ends,"
        " m.recorded_at, l.sub_kegiatan, l.agency"
        " FROM rkpd_milestones m LEFT JOIN LATERAL ("
        "   SELECT line->>'sub_kegiatan' AS sub_kegiatan, agency FROM rkpd_adopted_lines a"
        "   WHERE a.year = m.year AND a.line_id = m.line_id ORDER BY a.revision DESC LIMIT 1) l ON true"
        " WHERE m.year = $1 ORDER BY m.position DESC LIMIT $2",
        year, limit,
    )  # fmt: skip
    enactments = await conn.fetch(
        "SELECT revision, regulation, enacted_on, list_hash, amendment, recorded_at, position FROM rkpd_enactments"
        " WHERE year = $1 ORDER BY position DESC LIMIT $2",
        year, limit,
    )  # fmt: skip
    timeline = await conn.fetch(
        "SELECT t.code, t.seq, t.at, t.kind, t.details, p.title, p.year, p.unit"
        " FROM proposal_timeline t JOIN proposals p ON p.code = t.code"
        " WHERE p.year = $1 AND t.kind LIKE 'rkpd.%' AND NOT t.kind = ANY($2::text[])"
        " ORDER BY t.seq DESC, t.code LIMIT $3",
        year, list(RKPD_KINDS_LEFT_OUT), limit,
    )  # fmt: skip
    changes = [
        *(Change(source=ADOPTION, position=r["position"], at=r["adopted_at"], kind="rkpd.adopted",
                 key=str(r["revision"]), title="", year=year,
                 details={"revision": r["revision"], "total_pagu": r["total_pagu"], "note": r["note"],
                          "lines": r["lines"]}) for r in adoptions),
        *(Change(source=MILESTONE, position=r["position"], at=r["recorded_at"], kind=r["stage"], key=r["line_id"],
                 title=r["sub_kegiatan"] or "", year=year,
                 details={"on": r["on_date"], "amount": r["amount"], "progress": r["progress"], "note": r["note"],
                          "contractor": r["contractor"], "ends": r["ends"], "agency": r["agency"] or ""})
          for r in milestones),
        *(Change(source=ENACTMENT, position=r["position"], at=r["recorded_at"], kind="rkpd.enacted",
                 key=str(r["revision"]), title="", year=year,
                 details={"revision": r["revision"], "regulation": r["regulation"],
                          "enacted_on": r["enacted_on"].isoformat(), "amendment": r["amendment"]})
          for r in enactments),
        *(_timeline(r) for r in timeline),
    ]  # fmt: skip
    changes.sort(key=lambda c: (c.position, c.source, c.key), reverse=True)
    return changes[:limit]


async def year_started(conn: asyncpg.Connection, year: int) -> dt.datetime | None:
    """When `year` became a planning year: its cycle's opening, or, for an RKPD loaded before cycles existed,
    the city's settings. None when `year` is none. A feed with no entries yet is dated by it (Atom's
    `updated` is required: the moment the feed began is true, where 1970 was not)."""
    row = await conn.fetchrow(
        "SELECT (SELECT started_at FROM cycles WHERE year = $1) AS started,"
        " EXISTS (SELECT 1 FROM rkpd_state WHERE year = $1) AS rkpd, (SELECT min(configured_at) FROM city) AS city",
        year,
    )  # fmt: skip
    if row["started"] is not None:
        return row["started"]
    return (row["city"] or EPOCH) if row["rkpd"] else None


async def city_started(conn: asyncpg.Connection) -> dt.datetime:
    """When the city began taking proposals, its first cycle's opening: what a region's feed with no entries
    yet is dated by. Before any cycle, when its settings were last changed (the city's read model keeps
    one row, written again at each change, so its first setup is not there to read)."""
    return await conn.fetchval(
        "SELECT coalesce((SELECT min(started_at) FROM cycles), (SELECT min(configured_at) FROM city))"
    ) or EPOCH


def _timeline(r: asyncpg.Record) -> Change:
    details = msgspec.json.decode(r["details"]) if r["details"] else {}
    details["unit"] = r["unit"]
    return Change(source=TIMELINE, position=r["seq"], at=r["at"], kind=r["kind"], key=r["code"], title=r["title"],
                  year=r["year"], details=details)  # fmt: skip
