"""The tracking page dates a forum's decision and an adoption by the day they happened, not only by when
they were typed in (a forum held on paper is often entered days later): the history's forums were held on
their own days in 2021 and recorded when the test ran."""

from __future__ import annotations

import datetime as dt
import re

import asyncpg
import httpx
import msgspec

from tests.server import Server

MONTHS = ["Januari", "Februari", "Maret", "April", "Mei", "Juni", "Juli", "Agustus", "September", "Oktober",
          "November", "Desember"]  # fmt: skip


def long_date(day: dt.date) -> str:
    return f"{day.day} {MONTHS[day.month - 1]} {day.year}"


async def test_a_forum_decision_and_the_adoption_carry_their_own_day(city_server: Server, city_database: str) -> None:
    conn = await asyncpg.connect(city_database)
    try:
        decided = await conn.fetchrow(
            "SELECT t.code, f.held_on, f.level, t.at FROM proposal_timeline t JOIN forums f"
            " ON f.forum_id = t.details->>'forum_id' WHERE t.kind = 'proposal.decided_at_forum'"
            " AND f.level = 'kelurahan' ORDER BY t.code LIMIT 1"
        )  # fmt: skip
        adopted = await conn.fetchrow(
            "SELECT t.code, e.data FROM proposal_timeline t JOIN events e ON e.global_position = t.seq"
            " WHERE t.kind = 'rkpd.adopted' AND NOT (t.details ? 'unprocessed') ORDER BY t.seq LIMIT 1"
        )  # fmt: skip
    finally:
        await conn.close()
    assert decided is not None and decided["held_on"] != decided["at"].date()  # held in 2021, recorded today
    async with httpx.AsyncClient(base_url=city_server.base_url, timeout=30) as client:
        page = (await client.get(f"/lacak/{decided['code']}")).text
        assert f"Dibahas di Musrenbang Kelurahan pada {long_date(decided['held_on'])}, peringkat" in page
        assert re.search(r"peringkat \d+: (disepakati|tidak terakomodasi)", page)  # a space after the rank (s24)
        day = dt.date.fromisoformat(msgspec.json.decode(adopted["data"])["adopted_on"])
        page = (await client.get(f"/lacak/{adopted['code']}")).text
        assert f"RKPD ditetapkan pada {long_date(day)}" in page
        english = (await client.get(f"/lacak/{decided['code']}", params={"lang": "en"})).text  # remembered after
        assert f"Discussed at the Kelurahan forum on {decided['held_on'].day} January" in english
