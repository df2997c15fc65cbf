"""The database's `search_key` (migrations/0033) is the domain's rule (domain/search.py), so that a search
run in SQL finds what the rule says it finds."""

from __future__ import annotations

import asyncpg

from musrenbang.domain.search import search_key
from musrenbang.reference import city_regions

SAMPLES = ["Pondok Gede", "Tjikini", "Soekarno-Hatta", "Djatinegara", "Jogjakarta", "Achmad", "Sjahrir",
           "Jl. Melati №5, RT 03/RW 05 — café", "İstanbul ǅemal ßtraße", "ÀÉÎ õü", "tab\there", "%_\\'\"",
           "7KQ2M9XD", "oedjtjchj", "OEDJTJCHJ", "", "Perbaikan saluran air depan Masjid Al-Ikhlas"]  # fmt: skip


async def test_sql_and_python_keys_agree(pool: asyncpg.Pool) -> None:
    names = SAMPLES + [r.nama for r in city_regions("32.75")]
    keys = await pool.fetch("SELECT t, search_key(t) AS k FROM unnest($1::text[]) t", names)
    assert {r["t"]: r["k"] for r in keys} == {n: search_key(n) for n in names}


async def test_regions_carry_their_key(pool: asyncpg.Pool) -> None:
    row = await pool.fetchrow("SELECT nama, search_key FROM regions WHERE kode = '32.75.08'")
    assert row["nama"] == "Pondokgede" and row["search_key"] == search_key("pondok gede")
