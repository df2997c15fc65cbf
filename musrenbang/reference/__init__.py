"""Reference data: Kota Bekasi's official region codes (Kepmendagri 300.2.2-2138/2025).

Not decisions, so not events: the codes come from a ministerial decree, shipped as a CSV beside this
module and upserted into the `regions` table on start.
"""

from __future__ import annotations

import csv
from itertools import groupby
from typing import Any

import asyncpg

from musrenbang.resources import regions_csv


async def load_regions(conn: asyncpg.Connection) -> int:
    """Upsert the official region codes; running it again changes nothing."""
    with regions_csv().open(encoding="utf-8", newline="") as f:
        rows = [(r["kode"], r["nama"], r["tingkat"], r["kode_induk"] or None) for r in csv.DictReader(f)]
    # Parents precede their children in the file.
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
    """Every kecamatan with its kelurahan, in code order."""
    rows = await conn.fetch(
        "SELECT kc.kode AS kecamatan_kode, kc.nama AS kecamatan_nama, kl.kode, kl.nama"
        " FROM regions kl JOIN regions kc ON kc.kode = kl.kode_induk"
        " WHERE kl.tingkat = 'kelurahan' ORDER BY kc.kode, kl.kode"
    )
    return [
        {"kode": kode, "nama": nama, "kelurahan": [{"kode": r["kode"], "nama": r["nama"]} for r in items]}
        for (kode, nama), items in groupby(rows, key=lambda r: (r["kecamatan_kode"], r["kecamatan_nama"]))
    ]


async def region(conn: asyncpg.Connection, kode: str) -> asyncpg.Record | None:
    """A region with its parent's name (a kelurahan's kecamatan)."""
    return await conn.fetchrow(
        "SELECT r.kode, r.nama, r.tingkat, r.kode_induk, p.nama AS induk_nama"
        " FROM regions r LEFT JOIN regions p ON p.kode = r.kode_induk WHERE r.kode = $1",
        kode,
    )
