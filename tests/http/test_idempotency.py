"""Staff idempotency keys: a retry gets the first result; the same key for a different command answers 409
and writes nothing; two accounts using the same key are two commands."""

from __future__ import annotations

import asyncpg
import httpx

from tests.http.conftest import event_count
from tests.http.test_staff import KELURAHAN, new_proposal, token, users  # noqa: F401  (module fixture)


def forum(title: str) -> dict[str, object]:
    return {"level": "kelurahan", "region": KELURAHAN, "year": 2022, "held_on": "2021-01-20", "title": title,
            "ceiling": 50_000_000,
            "rule": "greedy", "ballot_kind": "approval"}  # fmt: skip


async def open_forum(client: httpx.AsyncClient, auth: dict[str, str]) -> str:
    made = await client.post("/api/v1/forums", json=forum("Musrenbang kunci"), headers=auth)
    forum_id = made.json()["forum_id"]
    delegates = [{"delegate_id": f"d{n}", "name": f"Warga {n}"} for n in (1, 2)]
    assert (await client.post(f"/api/v1/forums/{forum_id}/delegates", json=delegates, headers=auth)).status_code == 200
    assert (await client.post(f"/api/v1/forums/{forum_id}/open", headers=auth)).status_code == 200
    return forum_id


async def test_a_key_reused_for_another_command_is_refused_and_writes_nothing(
    client: httpx.AsyncClient, app_pool: asyncpg.Pool, users: dict[str, str]  # noqa: F811
) -> None:
    auth = await token(client, users["admin"])
    first, second = await new_proposal(client), await new_proposal(client)
    key = {**auth, "Idempotency-Key": "kunci-verifikasi-1"}
    accept = {"decision": "accept"}
    r = await client.post(f"/api/v1/proposals/{first}/verification", json=accept, headers=key)
    assert r.status_code == 200 and r.json()["status"] == "diterima"
    before = await event_count(app_pool)
    retry = await client.post(f"/api/v1/proposals/{first}/verification", json=accept, headers=key)
    assert retry.status_code == 200 and retry.json()["status"] == "diterima"  # the first result, again
    assert await event_count(app_pool) == before

    other_body = await client.post(f"/api/v1/proposals/{first}/verification", headers=key,
                                   json={"decision": "reject", "reason": "lain"})  # fmt: skip
    other_route = await client.post(f"/api/v1/proposals/{second}/verification", json=accept, headers=key)
    for r in (other_body, other_route):
        assert r.status_code == 409 and r.json()["error"] == "idempotency_key_reused"
        assert r.json()["message"] == "Idempotency-Key ini sudah dipakai untuk kiriman yang berbeda"
    assert await event_count(app_pool) == before
    status = await client.get(f"/api/v1/proposals/{second}")
    assert status.json()["status"] == "diajukan"  # untouched


async def test_the_same_key_from_two_accounts_is_two_commands(
    client: httpx.AsyncClient, app_pool: asyncpg.Pool, users: dict[str, str]  # noqa: F811
) -> None:
    admin, kelurahan = await token(client, users["admin"]), await token(client, users["kelurahan"])
    forum_id = await open_forum(client, admin)
    url = f"/api/v1/forums/{forum_id}/ballots"
    before = await event_count(app_pool)
    mine = await client.post(url, json=[{"delegate_id": "d1", "approvals": []}],
                             headers={**admin, "Idempotency-Key": "kunci-bersama"})  # fmt: skip
    theirs = await client.post(url, json=[{"delegate_id": "d2", "approvals": []}],
                               headers={**kelurahan, "Idempotency-Key": "kunci-bersama"})  # fmt: skip
    assert mine.status_code == theirs.status_code == 200, (mine.text, theirs.text)
    assert await event_count(app_pool) == before + 2
    voted = await app_pool.fetch("SELECT delegate_id FROM forum_ballots WHERE forum_id = $1", forum_id)
    assert {r["delegate_id"] for r in voted} == {"d1", "d2"}
