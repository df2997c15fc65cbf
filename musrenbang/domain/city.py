"""The city the platform serves: any kabupaten or kota of the Kemendagri table, with its own settings.

Its region decides which kecamatan, kelurahan and desa residents propose in; its settings say what the
pages call it and its planning agency (Kota Bekasi's is Bappelitbangda, most are Bappeda), which
perangkat daerah there are (and the urusan each carries out: a sub-kegiatan code is checked against
them), which agency takes a proposal of each bidang first, and where a proposal's coordinates may lie.
Settings are decisions, so they are events (`city.configured`, on the stream `city`): set up once, then
changed the same way, never edited in place. The region itself never changes: proposals, forums and the
RKPD of a city all hang on its region codes.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from decimal import Decimal

import msgspec

from musrenbang.domain import bounds, values
from musrenbang.domain.errors import N_, DomainError, Message
from musrenbang.domain.events import CityAgency, CityConfigured, CoordinateBounds, Dapil, Event
from musrenbang.domain.proposal import BIDANG

STREAM = "city"
MAX_AGENCIES = 200
MAX_URUSAN = 20
INDONESIA = CoordinateBounds(south="-11.5", north="6.5", west="94.5", east="141.5")
"""The whole country with a margin: every coordinate an event may carry lies inside."""
TIMEZONES = {"WIB": 7, "WITA": 8, "WIT": 9}
"""Indonesia's three time zones and their hours ahead of UTC."""
_WITA_PROVINCES = {"51", "52", "53", "63", "64", "65", "71", "72", "73", "74", "75", "76"}
"""Bali, Nusa Tenggara, South/East/North Kalimantan and Sulawesi (UU, Keppres 41/1987); Maluku and
Papua (province codes 8x and 9x) are WIT; the rest WIB."""
_CITY_CODE = re.compile(r"[0-9]{2}\.[0-9]{2}")  # ASCII digits: \d takes ٣٢.٧٥ too
_AGENCY_CODE = re.compile(r"[A-Z0-9_]{2,30}")
_URUSAN = re.compile(r"[0-9]\.[0-9]{2}")


class City(msgspec.Struct, frozen=True, kw_only=True):
    """The settings in force (what the last `city.configured` said); `region` empty before setup."""

    region: str = ""
    name: str = ""
    planning_agency: str = ""
    planning_agency_short: str = ""
    agencies: tuple[CityAgency, ...] = ()
    bidang_agency: dict[str, str] = {}
    bounds: CoordinateBounds = INDONESIA
    timezone: str = "WIB"
    dapil: tuple[Dapil, ...] = ()

    @property
    def exists(self) -> bool:
        return bool(self.region)

    @property
    def agencies_by_code(self) -> dict[str, CityAgency]:
        return {a.code: a for a in self.agencies}

    def agency_name(self, code: str) -> str:
        """The agency's name, or its code when the city has no such agency (any more)."""
        agency = self.agencies_by_code.get(code)
        return agency.name if agency else code

    def agency_for(self, bidang: str) -> str:
        """The agency that takes a proposal of `bidang` first at the Forum Perangkat Daerah ("" for an
        item that is no resident's proposal, e.g. an imported election's project)."""
        return self.bidang_agency.get(bidang, "")

    def dapil_of(self, kecamatan: str) -> str | None:
        """The daerah pemilihan `kecamatan` votes in (None: not configured, or not in any)."""
        return next((d.name for d in self.dapil if kecamatan in d.kecamatan), None)


class ConfigureCity(msgspec.Struct, frozen=True, kw_only=True):
    """Set the city up, or change its settings: every setting, whole (what is left out is not kept)."""

    region: str
    name: str
    planning_agency: str
    planning_agency_short: str
    agencies: tuple[CityAgency, ...]
    bidang_agency: Mapping[str, str]
    bounds: CoordinateBounds
    timezone: str = ""
    """WIB, WITA or WIT; empty: the zone of the region's province."""
    dapil: tuple[Dapil, ...] = ()


def timezone_of(region: str) -> str:
    """The time zone a kabupaten or kota lies in, by its province's Kemendagri code."""
    province = region[:2]
    if province in _WITA_PROVINCES:
        return "WITA"
    return "WIT" if province[:1] in ("8", "9") else "WIB"


def local_date(zone: str, instant: dt.datetime) -> dt.date:
    """The calendar day `instant` falls on in `zone` (the city's day, for its planning calendar)."""
    return instant.astimezone(dt.timezone(dt.timedelta(hours=TIMEZONES.get(zone, 7)))).date()


def decide(state: City, command: ConfigureCity) -> list[Event]:
    """The settings as an event; nothing when they are what is in force already. Refused: another region
    than the one set up, and any setting out of its bounds (each field's message at once)."""
    checks = bounds.Checks()
    region = checks.check("region", _city_code, command.region)
    if state.exists and region is not None and region != state.region:
        raise DomainError(Message(N_("platform ini sudah disiapkan untuk wilayah %(region)s; wilayahnya tidak"
                                     " dapat diganti"), region=state.region))  # fmt: skip
    name = checks.text("name", command.name, bounds.NAME, required=True)
    planning_agency = checks.text("planning_agency", command.planning_agency, bounds.TITLE, required=True)
    short = checks.text("planning_agency_short", command.planning_agency_short, 40, required=True)
    agencies = _agencies(checks, command.agencies)
    bidang_agency = _bidang_agency(checks, command.bidang_agency, {a.code for a in agencies})
    area = checks.check("bounds", _bounds, command.bounds)
    dapil = _dapil(checks, command.dapil, command.region)
    zone = command.timezone or timezone_of(command.region)
    if zone not in TIMEZONES:
        checks.fail("timezone", N_("zona waktu: WIB, WITA atau WIT"))
    checks.done()
    configured = CityConfigured(
        region=command.region, name=name, planning_agency=planning_agency, planning_agency_short=short,
        agencies=agencies, bidang_agency=bidang_agency, bounds=area or INDONESIA, timezone=zone,
        dapil=dapil,
    )  # fmt: skip
    return [] if evolve(state, configured) == state else [configured]


def evolve(state: City, event: Event) -> City:
    if isinstance(event, CityConfigured):
        return City(region=event.region, name=event.name, planning_agency=event.planning_agency,
                    planning_agency_short=event.planning_agency_short, agencies=event.agencies,
                    bidang_agency=dict(event.bidang_agency), bounds=event.bounds,
                    timezone=event.timezone, dapil=event.dapil)  # fmt: skip
    return state


def within(area: CoordinateBounds, latitude: str, longitude: str) -> bool:
    """Whether a point (decimal degrees as text) lies inside `area`."""
    lat, lon = Decimal(latitude), Decimal(longitude)
    return (Decimal(area.south) <= lat <= Decimal(area.north)) and (Decimal(area.west) <= lon <= Decimal(area.east))


def _city_code(value: str) -> str:
    if not isinstance(value, str) or not _CITY_CODE.fullmatch(value):
        raise ValueError(N_("kode wilayah kabupaten/kota terdiri dari dua bagian, misalnya 32.75"))
    return value


def _agencies(checks: bounds.Checks, given: tuple[CityAgency, ...]) -> tuple[CityAgency, ...]:
    if not 1 <= len(given) <= MAX_AGENCIES:
        checks.fail("agencies", Message(N_("isi 1 sampai %(max)d perangkat daerah"), max=MAX_AGENCIES))
        return ()
    seen: set[str] = set()
    agencies = []
    for agency in given:
        if not isinstance(agency.code, str) or not _AGENCY_CODE.fullmatch(agency.code):
            checks.fail("agencies", Message(N_("kode perangkat daerah %(code)s: huruf besar, angka atau garis bawah,"
                                               " 2 sampai 30"), code=str(agency.code)[:40]))  # fmt: skip
            continue
        if agency.code in seen:
            checks.fail("agencies", Message(N_("kode perangkat daerah %(code)s dipakai dua kali"), code=agency.code))
        seen.add(agency.code)
        name = checks.text("agencies", agency.name, bounds.TITLE, required=True)
        if not 1 <= len(agency.urusan) <= MAX_URUSAN or not all(
            isinstance(u, str) and _URUSAN.fullmatch(u) for u in agency.urusan
        ):
            checks.fail("agencies", Message(N_("urusan %(code)s: 1 sampai 20 kode seperti 1.03"), code=agency.code))
        if agency.kecamatan:
            checks.check("agencies", bounds.region_code, agency.kecamatan)
        agencies.append(CityAgency(code=agency.code, name=name, urusan=tuple(agency.urusan),
                                   kecamatan=agency.kecamatan))  # fmt: skip
    return tuple(agencies)


MAX_DAPIL = 100


def _dapil(checks: bounds.Checks, given: tuple[Dapil, ...], region: str) -> tuple[Dapil, ...]:
    """Named, each kecamatan of the city in one at most (a kecamatan votes in one daerah pemilihan)."""
    if len(given) > MAX_DAPIL:
        checks.fail("dapil", Message(N_("paling banyak %(max)d daerah pemilihan"), max=MAX_DAPIL))
        return ()
    out, names, seen = [], set(), set()
    for d in given:
        name = checks.text("dapil", d.name, 60, required=True)
        if name.casefold() in names:
            checks.fail("dapil", Message(N_("daerah pemilihan %(name)s disebut dua kali"), name=name))
        names.add(name.casefold())
        if not 1 <= len(d.kecamatan) <= MAX_AGENCIES:
            checks.fail("dapil", Message(N_("daerah pemilihan %(name)s: sebutkan kecamatannya"), name=name))
        for kode in d.kecamatan:
            if not isinstance(kode, str) or kode.count(".") != 2 or not kode.startswith(region + "."):
                checks.fail("dapil", Message(N_("daerah pemilihan %(name)s: %(code)s bukan kode kecamatan kota ini"),
                                             name=name, code=str(kode)[:20]))  # fmt: skip
            elif kode in seen:
                checks.fail("dapil", Message(N_("kecamatan %(code)s ada di dua daerah pemilihan"), code=kode))
            else:
                checks.check("dapil", bounds.region_code, kode)
            seen.add(kode)
        out.append(Dapil(name=name, kecamatan=tuple(d.kecamatan)))
    return tuple(out)


KECAMATAN_URUSAN = ("7.01",)
"""Unsur kewilayahan — kecamatan, in the Permendagri 90/2019 nomenclature."""


def with_kecamatan(command: ConfigureCity, kecamatan: Sequence[tuple[str, str]]) -> ConfigureCity:
    """`command` with each kecamatan (region code, name) as an agency of its own, unless the settings
    already name it: Dana Kelurahan and kecamatan-run activities are budgeted through the kecamatan
    (Permendagri 130/2018). Codes are `KEC_` and the name in capitals (`KEC_BEKASI_TIMUR`)."""
    have = {a.kecamatan for a in command.agencies if a.kecamatan}
    agencies = list(command.agencies)
    codes = {a.code for a in agencies}
    changed = False
    for kode, nama in kecamatan:
        if kode in have:
            continue
        base = ("KEC_" + re.sub(r"[^A-Z0-9]+", "_", nama.upper()).strip("_"))[:30]
        listed = next((i for i, a in enumerate(agencies) if a.code == base and not a.kecamatan), None)
        if listed is not None:  # the settings list it already, untagged: it is that kecamatan
            agencies[listed] = msgspec.structs.replace(agencies[listed], kecamatan=kode)
            changed = True
            continue
        code, n = base, 2
        while code in codes:
            code, n = f"{base[:27]}_{n}", n + 1
        codes.add(code)
        agencies.append(CityAgency(code=code, name=f"Kecamatan {nama}", urusan=KECAMATAN_URUSAN, kecamatan=kode))
        changed = True
    return msgspec.structs.replace(command, agencies=tuple(agencies)) if changed else command


def as_command(state: City) -> ConfigureCity:
    """The settings in force, as the command that would record them (to change one part of them)."""
    return ConfigureCity(region=state.region, name=state.name, planning_agency=state.planning_agency,
                         planning_agency_short=state.planning_agency_short, agencies=state.agencies,
                         bidang_agency=state.bidang_agency, bounds=state.bounds, timezone=state.timezone,
                         dapil=state.dapil)  # fmt: skip


def _bidang_agency(checks: bounds.Checks, given: Mapping[str, str], codes: set[str]) -> dict[str, str]:
    unknown = sorted(set(given) - set(BIDANG))
    missing = [b for b in BIDANG if b not in given]
    if unknown or missing:
        checks.fail("bidang_agency", Message(N_("sebutkan perangkat daerah untuk setiap bidang (%(all)s)"),
                                             all=", ".join(BIDANG)))  # fmt: skip
    for bidang in BIDANG:
        if bidang in given and given[bidang] not in codes:
            checks.fail("bidang_agency", Message(N_("bidang %(bidang)s: perangkat daerah %(code)s tidak ada"),
                                                 bidang=bidang, code=str(given[bidang])[:40]))  # fmt: skip
    return {b: given[b] for b in BIDANG if b in given}


def _bounds(area: CoordinateBounds) -> CoordinateBounds:
    """Bounds in canonical decimal text, inside Indonesia, south of north and west of east."""
    try:
        south, north, west, east = (values.parse_decimal(v, places=7) for v in
                                    (area.south, area.north, area.west, area.east))  # fmt: skip
    except (ValueError, TypeError):
        raise ValueError(N_("batas koordinat harus angka desimal")) from None
    canonical = CoordinateBounds(south=south, north=north, west=west, east=east)
    if not (within(INDONESIA, south, west) and within(INDONESIA, north, east)):
        raise ValueError(N_("batas koordinat harus di dalam wilayah Indonesia"))
    if not (Decimal(south) < Decimal(north) and Decimal(west) < Decimal(east)):
        raise ValueError(N_("batas selatan harus di bawah batas utara, dan batas barat di kiri batas timur"))
    return canonical
