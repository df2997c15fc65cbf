"""Reference data: the Kemendagri table of every region of Indonesia (Kepmendagri 300.2.2-2138/2025:
91,599 provinsi, kabupaten, kota, kecamatan, kelurahan and desa), shipped gzipped beside this module, and
the settings files a city starts from (`kota_bekasi.toml`, the documented example and the default;
`pemerintah_daerah.toml` for any other region set up without a file of its own).

Regions are not decisions, so not events: the codes come from a ministerial decree. The city's own
subtree of the table (its province, itself, its kecamatan and their kelurahan and desa) is upserted into
the `regions` table on start; which city that is, is a decision (`city.configured`, domain/city.py).
"""

from __future__ import annotations

import csv
import gzip
import tomllib
from collections.abc import Iterator, Sequence
from decimal import Decimal
from itertools import groupby
from pathlib import Path
from typing import Any

import asyncpg
import msgspec

from musrenbang.domain.city import ConfigureCity, with_kecamatan
from musrenbang.domain.events import CityAgency, CoordinateBounds, Dapil
from musrenbang.domain.search import like_pattern

HERE = Path(__file__).resolve().parent
NATIONAL_TABLE = HERE / "wilayah_indonesia.csv.gz"
EXAMPLE_SETTINGS = HERE / "kota_bekasi.toml"
"""Kota Bekasi: the documented example, and the settings used when none are given."""
GENERIC_SETTINGS = HERE / "pemerintah_daerah.toml"
"""Any other kabupaten or kota set up without a settings file of its own."""
DEFAULT_REGION = "32.75"
VILLAGE_LEVELS = ("kelurahan", "desa")
"""Where residents propose: a kota's villages are mostly kelurahan, a kabupaten's mostly desa."""


class Region(msgspec.Struct, frozen=True):
    kode: str
    nama: str
    tingkat: str
    kode_induk: str | None


class SettingsError(ValueError):
    """A settings file that cannot be read, or a region the table does not have as a kabupaten or kota."""


def national_regions() -> Iterator[Region]:
    """Every row of the national table, parents before their children."""
    with gzip.open(NATIONAL_TABLE, "rt", encoding="utf-8", newline="") as f:
        for r in csv.DictReader(f):
            yield Region(r["kode"], r["nama"], r["tingkat"], r["kode_induk"] or None)


def city_regions(city: str) -> list[Region]:
    """The city's subtree of the table: its province, itself, its kecamatan, kelurahan and desa."""
    province = city.split(".")[0]
    inside = city + "."
    return [r for r in national_regions() if r.kode in (province, city) or r.kode.startswith(inside)]


def find_city(code: str) -> Region:
    """The kabupaten or kota with this code, or SettingsError saying what the code is instead."""
    for region in national_regions():
        if region.kode == code:
            if region.tingkat not in ("kabupaten", "kota"):
                raise SettingsError(f"{code} is a {region.tingkat} ({region.nama}), not a kabupaten or kota")
            return region
    raise SettingsError(f"no region {code} in the Kemendagri table (a kabupaten or kota code looks like 32.75)")


async def load_regions(conn: asyncpg.Connection, city: str = DEFAULT_REGION) -> int:
    """Upsert the city's regions; running it again changes nothing."""
    rows = [(r.kode, r.nama, r.tingkat, r.kode_induk) for r in city_regions(city)]
    await conn.executemany(
        "INSERT INTO regions (kode, nama, tingkat, kode_induk) VALUES ($1, $2, $3, $4)"
        " ON CONFLICT (kode) DO UPDATE SET nama = EXCLUDED.nama, tingkat = EXCLUDED.tingkat,"
        " kode_induk = EXCLUDED.kode_induk"
        " WHERE (regions.nama, regions.tingkat, regions.kode_induk)"
        " IS DISTINCT FROM (EXCLUDED.nama, EXCLUDED.tingkat, EXCLUDED.kode_induk)",
        rows,
    )
    return len(rows)


async def kecamatan_with_kelurahan(conn: asyncpg.Connection) -> list[dict[str, Any]]:
    """Every kecamatan with its kelurahan and desa ("kelurahan" below: where residents propose), in code
    order; each village says which it is (`tingkat`)."""
    rows = await conn.fetch(
        "SELECT kc.kode AS kecamatan_kode, kc.nama AS kecamatan_nama, kl.kode, kl.nama, kl.tingkat"
        " FROM regions kl JOIN regions kc ON kc.kode = kl.kode_induk"
        " WHERE kl.tingkat IN ('kelurahan', 'desa') ORDER BY kc.kode, kl.kode"
    )
    return [
        {"kode": kode, "nama": nama,
         "kelurahan": [{"kode": r["kode"], "nama": r["nama"], "tingkat": r["tingkat"]} for r in items]}
        for (kode, nama), items in groupby(rows, key=lambda r: (r["kecamatan_kode"], r["kecamatan_nama"]))
    ]  # fmt: skip


async def villages(conn: asyncpg.Connection, typed: str, *, limit: int, offset: int
                   ) -> tuple[int, list[asyncpg.Record]]:  # fmt: skip
    """One page of the kelurahan and desa whose name, kecamatan's name or code holds `typed` (all when
    empty), in code order, with their kecamatan; and how many match. Names are compared by search key
    (domain/search.py): "pondok gede" finds Pondokgede, "Tjikini" finds Cikini."""
    key = like_pattern(typed)
    code = typed.strip().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    where = ("r.tingkat IN ('kelurahan', 'desa')"
             " AND ($1::text IS NULL OR r.search_key LIKE $1 OR p.search_key LIKE $1 OR r.kode LIKE $2)")  # fmt: skip
    joined = "FROM regions r JOIN regions p ON p.kode = r.kode_induk"
    total = await conn.fetchval(f"SELECT count(*) {joined} WHERE {where}", key, code)
    rows = await conn.fetch(
        f"SELECT r.kode, r.nama, r.tingkat, p.nama AS kecamatan {joined}"
        f" WHERE {where} ORDER BY r.kode LIMIT $3 OFFSET $4",
        key, code, limit, offset,
    )  # fmt: skip
    return total, rows


async def regions_within(conn: asyncpg.Connection, scope: str) -> list[dict[str, Any]]:
    """The regions a forum can be held for within `scope` (the city, a kecamatan or a village code), by
    kecamatan: `[{"kecamatan": row or None, "regions": [rows]}]`, the city itself (when in scope) first, in
    its own group without a kecamatan."""
    rows = await conn.fetch(
        "SELECT kode, nama, tingkat, kode_induk FROM regions WHERE (kode = $1 OR kode LIKE $1 || '.%')"
        " AND tingkat IN ('kota', 'kabupaten', 'kecamatan', 'kelurahan', 'desa') ORDER BY kode",
        scope,
    )
    groups: list[dict[str, Any]] = []
    for r in rows:
        if r["tingkat"] in ("kota", "kabupaten"):
            groups.append({"kecamatan": None, "regions": [r]})
        elif r["tingkat"] == "kecamatan":
            groups.append({"kecamatan": r, "regions": [r]})
        elif groups and groups[-1]["kecamatan"] is not None and groups[-1]["kecamatan"]["kode"] == r["kode_induk"]:
            groups[-1]["regions"].append(r)
        else:  # a village without its kecamatan in scope (a facilitator of one kelurahan)
            parent = await conn.fetchrow("SELECT kode, nama, tingkat FROM regions WHERE kode = $1", r["kode_induk"])
            groups.append({"kecamatan": parent, "regions": [r], "partial": True})
    return groups


async def region_names(conn: asyncpg.Connection, codes: Sequence[str] | None = None, *,
                       level: str | None = None) -> dict[str, str]:  # fmt: skip
    """Code -> name, in code order, for pages that name regions by code: of `codes` (unknown ones left out),
    else of every region, or of every one at `level` ("kecamatan", "kelurahan", "desa")."""
    return dict(await conn.fetch(
        "SELECT kode, nama FROM regions WHERE ($1::text[] IS NULL OR kode = ANY($1::text[]))"
        " AND ($2::text IS NULL OR tingkat = $2) ORDER BY kode",
        None if codes is None else list(codes), level,
    ))  # fmt: skip


async def region(conn: asyncpg.Connection, kode: str) -> asyncpg.Record | None:
    """A region with its parent's name (a kelurahan's or desa's kecamatan)."""
    return await conn.fetchrow(
        "SELECT r.kode, r.nama, r.tingkat, r.kode_induk, p.nama AS induk_nama"
        " FROM regions r LEFT JOIN regions p ON p.kode = r.kode_induk WHERE r.kode = $1",
        kode,
    )


# --- settings files ------------------------------------------------------------------------------------


class _Agency(msgspec.Struct, forbid_unknown_fields=True):
    code: str
    name: str
    urusan: list[str]
    kecamatan: str = ""
    """For a kecamatan listed among the agencies: its region code (else one is added for it)."""


class _Bounds(msgspec.Struct, forbid_unknown_fields=True):
    south: float | int | str
    north: float | int | str
    west: float | int | str
    east: float | int | str


class _Dapil(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    name: str
    kecamatan: list[str]


class _SettingsFile(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """What a settings file holds (kota_bekasi.toml documents each key)."""

    region: str | None = None
    name: str | None = None
    planning_agency: str
    planning_agency_short: str
    bounds: _Bounds
    agencies: list[_Agency]
    bidang_agency: dict[str, str]
    timezone: str = ""
    dapil: list[_Dapil] = []


def city_settings(region: str | None = None, path: Path | None = None) -> ConfigureCity:
    """The settings to set a city up with: from `path`, else Kota Bekasi's for Kota Bekasi (or when no
    region is given either), else the generic ones with the region's name. SettingsError when the file
    cannot be read or disagrees with `region`, or the region is not a kabupaten or kota. What the values
    may be is the domain's to check (domain/city.py) when the settings are recorded."""
    if region is not None and not region.strip():
        raise SettingsError("--region is empty: give the code of a kabupaten or kota, e.g. 32.75 (Kota Bekasi)")
    if path is None:
        path = EXAMPLE_SETTINGS if region in (None, DEFAULT_REGION) else GENERIC_SETTINGS
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
        given = msgspec.convert(raw, _SettingsFile)
    except OSError as exc:
        raise SettingsError(f"cannot read {path}: {exc.strerror or exc}") from None
    except (tomllib.TOMLDecodeError, msgspec.ValidationError, UnicodeDecodeError) as exc:
        raise SettingsError(f"{path}: {exc}") from None
    if region and given.region and region != given.region:
        raise SettingsError(f"{path} is for region {given.region}, not {region}")
    code = region or given.region
    if code is None:
        raise SettingsError(f"{path} names no region: give one with --region")
    city = find_city(code)
    kecamatan = [(r.kode, r.nama) for r in city_regions(code) if r.tingkat == "kecamatan"]
    return with_kecamatan(ConfigureCity(
        region=code,
        name=given.name or city.nama,
        planning_agency=given.planning_agency,
        planning_agency_short=given.planning_agency_short,
        agencies=tuple(CityAgency(code=a.code, name=a.name, urusan=tuple(a.urusan), kecamatan=a.kecamatan)
                       for a in given.agencies),
        bidang_agency=given.bidang_agency,
        bounds=CoordinateBounds(**{side: _degrees(getattr(given.bounds, side))
                                   for side in ("south", "north", "west", "east")}),  # fmt: skip
        timezone=given.timezone,
        dapil=tuple(Dapil(name=d.name, kecamatan=tuple(d.kecamatan)) for d in given.dapil),
    ), kecamatan)


def _degrees(value: float | int | str) -> str:
    """A coordinate as the domain reads it: TOML's -6.45 is a float; its shortest repr is what was typed."""
    return str(Decimal(repr(value))) if isinstance(value, float) else str(value)
