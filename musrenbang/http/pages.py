"""Public pages for residents."""

from __future__ import annotations

import asyncpg
from litestar import get
from litestar.response import Template

from musrenbang.projections import cycles
from musrenbang.reference import kecamatan_with_kelurahan


@get("/", include_in_schema=False)
async def home(pool: asyncpg.Pool) -> Template:
    async with pool.acquire() as conn:
        cycle = await cycles.current_cycle(conn)
        programs = await cycles.priority_programs(conn, cycle["year"]) if cycle else []
        kecamatan = await kecamatan_with_kelurahan(conn)
    return Template(
        "home.html",
        context={
            "cycle": cycle,
            "programs": programs,
            "kecamatan": kecamatan,
            "kelurahan_count": sum(len(k["kelurahan"]) for k in kecamatan),
        },
    )
