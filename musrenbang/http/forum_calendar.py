"""The public forum calendar (`/musyawarah`): every musyawarah of an RKPD year — kelurahan and desa,
kecamatan, and the city's Forum Perangkat Daerah and Musrenbang Kota — with its day, place and level,
grouped by kecamatan, so that residents know when and where to come. Forum pages themselves are for the
people running them (sign-in); this page needs none, and a closed forum links to its public Berita Acara.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import itertools

import asyncpg
from litestar import Controller, Request, Response, get

from musrenbang.domain import city_forums
from musrenbang.domain.errors import N_
from musrenbang.http import page_cache
from musrenbang.http.deps import PoolDep
from musrenbang.http.errors import BadForm
from musrenbang.http.inputs import int_param, year_asked
from musrenbang.http.labels import LEVEL_LABELS, forum_level
from musrenbang.http.reads import FROM_REPLICA
from musrenbang.http.render import page_context, rendered
from musrenbang.projections import cycles
from musrenbang.projections import forums as forum_views
from musrenbang.projections import rkpd as rkpd_views
from musrenbang.reference import region_names

STATUS_LABELS = {"scheduled": N_("dijadwalkan"), "open": N_("sedang berlangsung"), "closed": N_("selesai"),
                 "cancelled": N_("dibatalkan"), "dijadwalkan": N_("dijadwalkan"), "ditutup": N_("selesai")}  # fmt: skip


@dataclasses.dataclass
class Meeting:
    """One musyawarah as the calendar shows it."""

    held_on: dt.date | None
    level: str
    title: str
    place: str
    status: str
    region: str = ""
    """The kelurahan or desa it is held for (empty for a kecamatan or city forum)."""
    link: str = ""
    """Its public Berita Acara, once closed."""
    starts_at: dt.time | None = None
    reason: str = ""
    """Why it was called off (status `cancelled`): residents who planned to come read it here."""


@dataclasses.dataclass
class Group:
    kode: str
    nama: str
    meetings: list[Meeting]


CALENDAR_MODELS = ("forums", "rkpd", "cycles")
"""The read models the calendar reads (regions are reference data)."""


class CalendarPages(Controller):
    """The public calendar: residents need no sign-in to know when and where to come, so no guard."""

    path = "/musyawarah"
    include_in_schema = False

    @get("/", dependencies=FROM_REPLICA)
    async def calendar(self, request: Request, pool: PoolDep) -> Response:
        """`?tahun=` (default the year being planned), `?kecamatan=` (one kecamatan's only). Cached by the
        checkpoints of the models it reads, per year and kecamatan chosen (both checked first: a bounded
        set)."""
        wanted = request.query_params.get("kecamatan") or None
        async with pool.acquire() as conn:
            year = await _year_checked(request, conn, wanted)
        return await page_cache.by_checkpoints(request, pool, f"musyawarah.html {year} {wanted}", CALENDAR_MODELS,
                                               lambda conn: _rendered(request, conn, year, wanted))  # fmt: skip


async def _year_checked(request: Request, conn: asyncpg.Connection, wanted: str | None) -> int | None:
    """The year shown; a `?tahun=` with no cycle or a `?kecamatan=` that is not one refused (400)."""
    year, _ = await year_asked(request, conn)
    if request.query_params.get("tahun") and year != int_param(request, "tahun"):
        raise BadForm(N_("Tidak ada siklus perencanaan untuk tahun itu."))
    if wanted is not None and await conn.fetchval(
            "SELECT count(*) FROM regions WHERE kode = $1 AND tingkat = 'kecamatan'", wanted) == 0:  # fmt: skip
        raise BadForm(N_("Kecamatan itu tidak ada di daerah ini."))
    return year


async def _rendered(request: Request, conn: asyncpg.Connection, year: int | None, wanted: str | None) -> bytes:
    """The page as the cache keeps it, read on the connection `by_checkpoints` lends."""
    years = [r["year"] for r in await cycles.all_cycles(conn)]
    rows = await forum_views.calendar(conn, year) if year else []
    city = await rkpd_views.city_forum_days(conn, year) if year else {}
    kecamatan = await region_names(conn, level="kecamatan")
    groups = _grouped(rows, kecamatan, wanted)
    city_meetings = [
        Meeting(f.held_on, "kota", city_forums.FORUMS[key], f.place, f.status, starts_at=f.starts_at,
                link=f"/rkpd/{year}/{city_forums.PAGES[key]}" if f.berita_acara else "")
        for key, f in city.items()
    ] if wanted is None else []  # fmt: skip
    return rendered(request, "musyawarah.html", page_context(
        request, year=year, years=years, groups=groups, city_meetings=city_meetings, kecamatan=kecamatan,
        wanted=wanted, LEVELS=LEVEL_LABELS, STATUS=STATUS_LABELS,
        count=sum(len(g.meetings) for g in groups) + len(city_meetings)))  # fmt: skip


def _grouped(rows: list[asyncpg.Record], kecamatan: dict[str, str], wanted: str | None) -> list[Group]:
    """By kecamatan (in code order), each kecamatan's forums by day (undated last), the kelurahan and desa
    forums of a day before the kecamatan's (they send it their results), then by title."""

    def kecamatan_of(region: str) -> str:
        return ".".join(region.split(".")[:3])

    meetings = sorted(
        ((kecamatan_of(r["region"]), Meeting(
            r["held_on"], forum_level(r["level"], r["region"]), r["title"], r["place"], r["status"],
            region=r["region_name"] if r["level"] != "kecamatan" else "", starts_at=r["starts_at"],
            link=f"/forum/{r['forum_id']}/berita-acara" if r["status"] == "closed" else "",
            reason=r["cancel_reason"] or ""))
         for r in rows if wanted is None or kecamatan_of(r["region"]) == wanted),
        key=lambda m: (m[0], m[1].held_on is None, m[1].held_on or dt.date.min, m[1].level == "kecamatan",
                       m[1].starts_at or dt.time.min, m[1].title),
    )  # fmt: skip
    return [Group(kode, kecamatan.get(kode, kode), [m for _, m in items])
            for kode, items in itertools.groupby(meetings, key=lambda m: m[0])]  # fmt: skip
