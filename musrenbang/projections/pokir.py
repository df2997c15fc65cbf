"""Read side of the pokok-pikiran DPRD: the pokir list (table `pokir`, kept by the projection "proposals"
beside the proposal each pokir is) and where the RKPD's pagu came from, per kecamatan and per daerah
pemilihan (from the projection "rkpd", shared by domain/rkpd.pagu_by_source)."""

from __future__ import annotations

from collections.abc import Sequence

import asyncpg
import msgspec

from musrenbang.domain import rkpd as rkpd_rules
from musrenbang.domain.events import CityItem, Dapil
from musrenbang.projections import rkpd as rkpd_views

POKIR_COLUMNS = (
    "p.code, p.year, p.kelurahan, p.kecamatan, p.rw, p.rt, p.priority_program, p.latitude::text AS latitude,"
    " p.longitude::text AS longitude, p.bidang, p.kind, p.title, p.problem, p.solution, p.beneficiaries,"
    " p.volume::text AS volume, p.unit, p.estimated_cost, p.address, p.status, p.status_reason, p.rkpd_line,"
    " p.submitted_at, p.updated_at, p.revision, k.member, k.member_name, k.faction, k.dapil, k.reses_on, k.reses_place,"
    " k.forwarded_at, k.note"
)


async def pokir(conn: asyncpg.Connection, year: int, *, dapil: str | None = None, member: str | None = None,
                status: str | None = None) -> list[asyncpg.Record]:  # fmt: skip
    """The year's pokir, by daerah pemilihan, member and code; narrowed to one dapil, member or status."""
    return await conn.fetch(
        f"SELECT {POKIR_COLUMNS} FROM pokir k JOIN proposals p USING (code) WHERE k.year = $1"
        " AND ($2::text IS NULL OR k.dapil = $2) AND ($3::text IS NULL OR k.member = $3)"
        " AND ($4::text IS NULL OR p.status = $4) ORDER BY k.dapil, k.member_name, p.code",
        year, dapil, member, status,
    )  # fmt: skip


async def dapil_names(conn: asyncpg.Connection, year: int) -> list[str]:
    """The daerah pemilihan the year's pokir were entered under, as they were named then."""
    return [r["dapil"] for r in await conn.fetch("SELECT DISTINCT dapil FROM pokir WHERE year = $1 ORDER BY dapil",
                                                 year)]  # fmt: skip


async def one(conn: asyncpg.Connection, code: str) -> asyncpg.Record | None:
    return await conn.fetchrow(f"SELECT {POKIR_COLUMNS} FROM pokir k JOIN proposals p USING (code) WHERE k.code = $1",
                               code)  # fmt: skip


class SourceRow(msgspec.Struct, kw_only=True):
    musrenbang: int = 0
    pokir: int = 0
    renja: int = 0

    @property
    def total(self) -> int:
        return self.musrenbang + self.pokir + self.renja

    def add(self, source: str, amount: int) -> None:
        setattr(self, source, getattr(self, source) + amount)


class Sources(msgspec.Struct, kw_only=True):
    published: rkpd_views.Published
    by_kecamatan: dict[str, SourceRow]
    """Kecamatan code -> its pagu by source; `rkpd_rules.CITY_WIDE` ("") for Renja lines naming no place."""
    by_dapil: dict[str, SourceRow]
    totals: SourceRow


async def sources(conn: asyncpg.Connection, year: int, dapil: Sequence[Dapil],
                  published: rkpd_views.Published | None = None) -> Sources:  # fmt: skip
    """The published list's pagu (adopted, or the working draft; `published`, when the caller has read
    it) by where it came from. Run in one snapshot (the caller's transaction) so that lines and items
    agree."""
    published = published or await rkpd_views.published(conn, year)
    rows = await conn.fetch(
        "SELECT i.code, i.title, i.kelurahan, i.bidang, i.cost, i.agency, i.forum_id,"
        " CASE WHEN p.source = 'pokir' THEN 'pokir' ELSE 'musrenbang' END AS source"
        " FROM rkpd_items i LEFT JOIN proposals p USING (code) WHERE i.year = $1", year,
    )  # fmt: skip
    items = {r["code"]: CityItem(code=r["code"], title=r["title"], kelurahan=r["kelurahan"], bidang=r["bidang"],
                                 cost=r["cost"], agency=r["agency"], forum_id=r["forum_id"], source=r["source"])
             for r in rows}  # fmt: skip
    shares = rkpd_rules.pagu_by_source(published.lines, items)
    dapil_of = {k: d.name for d in dapil for k in d.kecamatan}
    by_kecamatan: dict[str, SourceRow] = {}
    by_dapil: dict[str, SourceRow] = {d.name: SourceRow() for d in dapil}
    totals = SourceRow()
    for (kecamatan, source), amount in sorted(shares.items()):
        by_kecamatan.setdefault(kecamatan, SourceRow()).add(source, amount)
        totals.add(source, amount)
        if kecamatan in dapil_of:
            by_dapil[dapil_of[kecamatan]].add(source, amount)
    return Sources(published=published, by_kecamatan=by_kecamatan, by_dapil=by_dapil, totals=totals)
