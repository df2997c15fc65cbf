"""The auditor's page (`/audit`, roles auditor and admin): the state of the log's hash chains, the head
hash of every closed forum and every RKPD adoption (what their Berita Acara and lists print), and a form
that checks a pasted head hash, an event's or a seal's, the way `/periksa/{hash}` does.

Checking every chain reads the whole log, so it runs only on request (`?periksa=1`); otherwise the page
shows cheap counts. The full offline check (results and lists recomputed) is `musrenbang export events`
then `musrenbang verify --file`.
"""

from __future__ import annotations

import math

import asyncpg
from litestar import Controller, Request, get
from litestar.exceptions import NotFoundException
from litestar.response import Template

from musrenbang.domain import city_forums
from musrenbang.eventlog.verify import verify_database
from musrenbang.http.deps import ActorDep, PoolDep
from musrenbang.http.guards import AUDITORS
from musrenbang.http.labels import LEVEL_LABELS
from musrenbang.http.log_head import PastedHead, check_pasted_head, hash_problem, latest_seal, pasted_hash
from musrenbang.http.render import page, page_number
from musrenbang.reference import region_names

HEADS_SHOWN = 200
"""Closed forums a page lists; `?halaman=` reaches the older ones."""


class AuditPages(Controller):
    path = "/audit"
    include_in_schema = False

    @get("/", guards=[AUDITORS])
    async def audit(self, request: Request, actor: ActorDep, pool: PoolDep) -> Template:
        report = None
        if request.query_params.get("periksa") == "1":
            async with pool.acquire() as conn:
                report = await verify_database(conn)
        counts = await pool.fetchrow("SELECT count(*) AS events, coalesce(max(global_position), 0) AS last FROM events")
        forums, number, pages = await _closed_forums(pool, page_number(request))
        adoptions = await pool.fetch(
            "SELECT year, revision, total_pagu, adopted_at, stream_id, stream_version, position, hash"
            " FROM rkpd_adoptions ORDER BY year DESC, revision DESC"
        )
        city_level = await _closed_city_forums(pool)
        async with pool.acquire() as conn:
            names = await region_names(conn, sorted({f["region"] for f in forums}))
        digest = pasted_hash(str(request.query_params.get("hash", "")))
        problem = hash_problem(digest) if digest else None
        pasted = PastedHead(None, None, False)
        if digest and problem is None:
            async with pool.acquire() as conn:
                pasted = await check_pasted_head(conn, digest)
        return page(
            request, "audit.html", actor=actor, report=report, chains=report.chains if report else None, counts=counts,
            forums=forums, adoptions=adoptions, city_level=city_level, CITY_FORUMS=city_forums.FORUMS,
            CITY_PAGES=city_forums.PAGES, digest=digest[:200], problem=problem, found=pasted.found,
            intact=pasted.intact, sealed=pasted.sealed, page_number=number, pages=pages,
            seal=await latest_seal(pool), names=names, LEVELS=LEVEL_LABELS,
        )  # fmt: skip


async def _closed_city_forums(pool: asyncpg.Pool) -> list[asyncpg.Record]:
    """The heads of the closed city-level forums (Forum Perangkat Daerah, Musrenbang Kota), newest first:
    their Berita Acara print them as the kelurahan and kecamatan forums' do, and the README promises every
    closed forum's head here. Each is read from its year's `rkpd-` stream (two a year)."""
    return await pool.fetch(
        "SELECT f.year, f.forum, f.closed_at, e.stream_id, e.stream_version, e.global_position, e.hash"
        " FROM rkpd_forums f JOIN events e ON e.stream_id = 'rkpd-' || f.year"
        "  AND e.event_type = 'rkpd.forum_closed' AND e.data->>'forum' = f.forum"
        " WHERE f.closed_at IS NOT NULL ORDER BY e.global_position DESC"
    )


async def _closed_forums(pool: asyncpg.Pool, number: int) -> tuple[list[asyncpg.Record], int, int]:
    """One page of the closed forums' heads, newest first, with the page's number and how many pages there
    are: a city closes some seventy forums a year, and an auditor must reach the older ones too."""
    total = await pool.fetchval("SELECT count(*) FROM forums WHERE status = 'closed'")
    pages = max(1, math.ceil(total / HEADS_SHOWN))
    if number > pages:
        raise NotFoundException()
    rows = await pool.fetch(
        "SELECT f.forum_id, f.title, f.level, f.region, f.closed_at, e.stream_id, e.stream_version,"
        " e.global_position, e.hash FROM forums f"
        " JOIN events e ON e.stream_id = 'forum-' || f.forum_id AND e.event_type = 'forum.closed'"
        " WHERE f.status = 'closed' ORDER BY e.global_position DESC LIMIT $1 OFFSET $2",
        HEADS_SHOWN, (number - 1) * HEADS_SHOWN,
    )  # fmt: skip
    return rows, number, pages
