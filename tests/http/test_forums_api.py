"""GET /api/v1/forums/{id} through the real server."""

from __future__ import annotations

import asyncio

import asyncpg
import httpx

from musrenbang.eventlog.store import EventStore
from musrenbang.services.pabulib_import import import_file
from tests.test_pabulib import PABULIB


async def test_a_closed_forum_shows_agenda_and_result_with_reasons(
    client: httpx.AsyncClient, app_pool: asyncpg.Pool
) -> None:
    forum_id = await import_file(app_pool, EventStore(app_pool), PABULIB / "Poland_Gdynia_2024_Orlowo__large.pb")
    for _ in range(200):  # the server's projection worker picks the forum up
        r = await client.get(f"/api/v1/forums/{forum_id}")
        if r.status_code == 200 and r.json()["status"] == "closed":
            break
        await asyncio.sleep(0.05)
    body = r.json()
    assert body["rule"] == "greedy-no-skip" and body["ceiling"] == 462890 and body["ballots"] == 424
    assert {a["item_id"] for a in body["agenda"]} == {"2024/ORL/0003", "2024/ORL/0005"}
    result = {x["item_id"]: x for x in body["result"]}
    assert result["2024/ORL/0003"]["selected"] and result["2024/ORL/0003"]["rank"] == 1
    assert not result["2024/ORL/0005"]["selected"] and result["2024/ORL/0005"]["reason"] == "over_ceiling"
    assert (await client.get("/api/v1/forums/NOSUCHID")).status_code == 404
