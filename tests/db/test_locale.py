"""Text sorts the same on every machine: a new cluster does not take the machine's LANG, and the
application's database compares text by code point (PostgreSQL's own C.UTF-8 where the server has it)."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import asyncpg
import pytest

from musrenbang.db.bundled import BundledDatabase
from musrenbang.db.connect import ensure_database
from tests.conftest import with_database

MISSING_LOCALE = "xx_XX.UTF-8"
"""A locale no machine has: what initdb meets when `ssh` passes on a LANG the server never generated."""


@pytest.mark.bundled
async def test_the_bundled_server_starts_whatever_locale_the_machine_names(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("LC_ALL", raising=False)
    monkeypatch.setenv("LANG", MISSING_LOCALE)
    monkeypatch.setenv("LC_COLLATE", MISSING_LOCALE)
    bundled = BundledDatabase(tmp_path / "data")
    url = bundled.start()  # initdb refused a missing locale ("invalid locale settings") before
    try:
        await ensure_database(url)
        conn = await asyncpg.connect(url)
        try:
            assert await conn.fetchval("SELECT datcollate FROM pg_database WHERE datname = 'template1'") == "C"
            assert await conn.fetchval("SELECT current_setting('server_encoding')") == "UTF8"
        finally:
            await conn.close()
    finally:
        bundled.stop()
    assert "LC_ALL" not in os.environ  # put back as it was


async def test_a_new_database_orders_text_by_code_point_and_knows_case_beyond_ascii(server_url: str) -> None:
    name = f"mtest_locale_{uuid.uuid4().hex[:8]}"
    await ensure_database(server_url)
    admin = await asyncpg.connect(server_url)
    try:
        await ensure_database(with_database(server_url, name))
        conn = await asyncpg.connect(with_database(server_url, name))
        try:
            if conn.get_server_version().major >= 17:
                provider, locale = await conn.fetchrow(
                    "SELECT datlocprovider, datlocale FROM pg_database WHERE datname = current_database()"
                )
                assert (provider, locale) == (b"b", "C.UTF-8")
            words = ["b", "Bekasi", "a", "é", "e", "Zainal", "ā"]
            ordered = await conn.fetchval("SELECT array_agg(w ORDER BY w) FROM unnest($1::text[]) w", words)
            assert ordered == sorted(words)  # Python's order is by code point
            assert await conn.fetchval("SELECT lower('ÀÉĀ Bekasi')") == "àéā bekasi"
        finally:
            await conn.close()
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()
