"""Shared by the benchmark scripts: a fresh, migrated database on the bundled server (or on the server at
MUSRENBANG_DATABASE_URL), and a table printer."""

from __future__ import annotations

import contextlib
import os
import tempfile
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from musrenbang.db.bundled import BundledDatabase
from musrenbang.db.connect import connect, ensure_database
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
async def fresh_database(url: str) -> AsyncIterator[str]:
    """A new migrated database on the server of `url`, dropped afterwards."""
    await ensure_database(url)
    name = f"mbench_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(url)
    await admin.execute(f'CREATE DATABASE "{name}"')
    bench_url = urlunsplit(urlsplit(url)._replace(path=f"/{name}"))
    try:
        conn = await connect(bench_url)
        await migrate(conn)
        await conn.close()
        yield bench_url
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


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
