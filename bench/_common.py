"""Shared by the benchmark scripts: a fresh, migrated database on the bundled server (or on the server at
MUSRENBANG_DATABASE_URL), and a table printer."""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import tempfile
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from musrenbang.db.bundled import BundledDatabase
from musrenbang.db.connect import connect, create_database, ensure_database
from musrenbang.db.migrations import migrate


@contextlib.contextmanager
def server_url():
    """The bundled server in a temporary data dir, unless MUSRENBANG_DATABASE_URL names a server."""
    if os.environ.get("MUSRENBANG_DATABASE_URL"):
        yield os.environ["MUSRENBANG_DATABASE_URL"]
        return
    with tempfile.TemporaryDirectory(prefix="musrenbang-bench-") as tmp:
        bundled = BundledDatabase(Path(tmp))
        try:
            yield bundled.start()
        finally:
            bundled.stop()


@contextlib.asynccontextmanager
async def fresh_database(url: str, *, region: str | None = None, migrated_only: bool = False) -> AsyncIterator[str]:
    """A new migrated database on the server of `url`, dropped afterwards: set up for `region` (Kota
    Bekasi by default) with a cycle taking proposals today, unless `migrated_only`."""
    await ensure_database(url)
    name = f"mbench_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(url)
    await create_database(admin, name)
    bench_url = urlunsplit(urlsplit(url)._replace(path=f"/{name}"))
    try:
        conn = await connect(bench_url)
        await migrate(conn)
        await conn.close()
        if not migrated_only:
            await open_city(bench_url, region)
        yield bench_url
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


async def open_city(url: str, region: str | None = None) -> None:
    """The city set up (`region`'s settings) and next year's cycle open, every window from a week ago to
    three months from now: a server on it takes proposals and forums today."""
    from musrenbang.db.connect import create_pool
    from musrenbang.domain.cycle import STAGES
    from musrenbang.domain.events import StageWindow
    from musrenbang.eventlog.store import EventStore, Metadata
    from musrenbang.reference import city_settings
    from musrenbang.services import cycles
    from musrenbang.services.bootstrap import prepare

    pool = await create_pool(url, min_size=1, max_size=2)
    try:
        store = EventStore(pool)
        async with pool.acquire() as conn:
            await prepare(conn, store, city_settings(region) if region else None)
        day = cycles.today()
        calendar = tuple(StageWindow(stage=s, opens=day - dt.timedelta(days=7), closes=day + dt.timedelta(days=90))
                         for s in STAGES)  # fmt: skip
        await cycles.open_planned(store, year=day.year + 1, theme="Tahun uji beban", calendar=calendar,
                                  programs=[("Program prioritas satu", ""), ("Program prioritas dua", "")],
                                  metadata=Metadata(actor="bench", role="admin"))  # fmt: skip
    finally:
        await pool.close()


def print_table(headers: list[str], rows: list[list[object]]) -> None:
    cells = [headers, *[[_fmt(c) for c in row] for row in rows]]
    widths = [max(len(str(r[i])) for r in cells) for i in range(len(headers))]
    for n, row in enumerate(cells):
        print("  ".join(str(c).rjust(w) for c, w in zip(row, widths, strict=True)))
        if n == 0:
            print("  ".join("-" * w for w in widths))


def _fmt(value: object) -> str:
    if isinstance(value, float):
        return f"{value:,.2f}" if value < 100 else f"{value:,.0f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)
