"""Projection "city": the settings in force, for pages (the city's name, its planning agency, agency names).
Commands read the settings from the log (services/city.py), not from here."""

from __future__ import annotations

import bisect
from collections.abc import Sequence

import asyncpg
import msgspec

from musrenbang.domain import city as city_rules
from musrenbang.domain.city import City
from musrenbang.domain.events import CityAgency, CityConfigured, CoordinateBounds, Dapil, event_tag
from musrenbang.eventlog import codec
from musrenbang.eventlog.store import RecordedEvent
from musrenbang.projections import Projection


class CityProjection(Projection):
    name = "city"
    tables = ("city_agencies", "city")
    handles = (CityConfigured,)

    async def apply(self, conn: asyncpg.Connection, events: Sequence[RecordedEvent]) -> None:
        for recorded in events:
            e = recorded.event
            if not isinstance(e, CityConfigured):
                continue
            # The whole settings each time: an agency left out is no longer one.
            await conn.execute("DELETE FROM city")
            await conn.execute(
                "INSERT INTO city (region, name, planning_agency, planning_agency_short, south, north, west, east,"
                " bidang_agency, configured_at, timezone, dapil) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11,"
                " $12)",
                e.region, e.name, e.planning_agency, e.planning_agency_short, e.bounds.south, e.bounds.north,
                e.bounds.west, e.bounds.east, msgspec.json.encode(e.bidang_agency), recorded.recorded_at,
                e.timezone, msgspec.json.encode(e.dapil),
            )  # fmt: skip
            await conn.execute("DELETE FROM city_agencies")
            await conn.executemany(
                "INSERT INTO city_agencies (code, name, urusan, position, kecamatan) VALUES ($1, $2, $3, $4, $5)",
                [(a.code, a.name, list(a.urusan), n, a.kecamatan) for n, a in enumerate(e.agencies, start=1)],
            )


async def settings(conn: asyncpg.Connection) -> City:
    """The settings as the read model has them (`exists` False before setup)."""
    row = await conn.fetchrow("SELECT * FROM city")
    if row is None:
        return City()
    agencies = await conn.fetch("SELECT code, name, urusan, kecamatan FROM city_agencies ORDER BY position")
    return City(
        region=row["region"], name=row["name"], planning_agency=row["planning_agency"],
        planning_agency_short=row["planning_agency_short"],
        agencies=tuple(CityAgency(code=a["code"], name=a["name"], urusan=tuple(a["urusan"]), kecamatan=a["kecamatan"])
                       for a in agencies),
        bidang_agency=msgspec.json.decode(row["bidang_agency"]),
        bounds=CoordinateBounds(**{side: str(row[side]) for side in ("south", "north", "west", "east")}),
        timezone=row["timezone"], dapil=msgspec.json.decode(row["dapil"], type=tuple[Dapil, ...]),
    )  # fmt: skip


async def settings_as_of(conn: asyncpg.Connection, position: int) -> City:
    """The settings that were in force when the event at global `position` was written: a document frozen
    then (an adopted RKPD, a forum's Berita Acara) names each perangkat daerah as it was named then, not as
    a later reorganisation renamed it. Read from the log, which keeps every version of the settings (this
    read model keeps only the last): one indexed row of a short stream. The settings now when none are
    older (not reached: a city is set up before anything is decided in it)."""
    data = await conn.fetchval(
        "SELECT data FROM events WHERE stream_id = $1 AND event_type = $2 AND global_position < $3"
        " ORDER BY stream_version DESC LIMIT 1",
        city_rules.STREAM, event_tag(CityConfigured), position,
    )  # fmt: skip
    if data is None:
        return await settings(conn)
    return city_rules.evolve(City(), codec.decode_event(event_tag(CityConfigured), data))


class AgencyNames:
    """Each perangkat daerah's name as the settings named it at a point of the log, for pages that tell what
    happened over the years (a proposal's timeline, a lineage): a step says who acted by the name of the day
    (the adopted list does, `settings_as_of`), not by a later reorganisation's. Called without a point, or
    for a code the settings of that point did not know, the name now (or the code)."""

    def __init__(self, versions: Sequence[tuple[int, dict[str, str]]]) -> None:
        self._positions = [position for position, _ in versions]
        self._names = [names for _, names in versions]

    def __call__(self, code: str, at: int | None = None) -> str:
        if at is not None:
            i = bisect.bisect_left(self._positions, at) - 1  # the last settings written before `at`
            if i >= 0 and code in self._names[i]:
                return self._names[i][code]
        return self._names[-1].get(code, code) if self._names else code


async def agency_names(conn: asyncpg.Connection) -> AgencyNames:
    """Every version of the agencies' names, from the log (a handful of settings events)."""
    rows = await conn.fetch(
        "SELECT global_position, data FROM events WHERE stream_id = $1 AND event_type = $2 ORDER BY stream_version",
        city_rules.STREAM, event_tag(CityConfigured),
    )  # fmt: skip
    versions = []
    for r in rows:
        e = codec.decode_event(event_tag(CityConfigured), r["data"])
        assert isinstance(e, CityConfigured)
        versions.append((r["global_position"], {a.code: a.name for a in e.agencies}))
    return AgencyNames(versions)
