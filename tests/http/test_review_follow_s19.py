"""Review s19, through real servers: following a proposal that was merged into another follows the one it
was merged into (http/follow.py), and an Atom feed never answers 304 to a reader whose copy lacks an entry
recorded in the same second as its newest (http/feeds.py)."""

from __future__ import annotations

import asyncio
import datetime as dt
import email.utils
import time
import uuid
from collections.abc import AsyncIterator

import asyncpg
import httpx
import pytest

from musrenbang.http import feeds
from tests import history
from tests.http.test_follow import ask, csrf, mails, new_email, subscriptions
from tests.http.test_staff import PASSWORD, add_user, new_proposal, token, users  # noqa: F401  (a fixture)
from tests.server import serving

pytestmark = pytest.mark.slow


# --- 1. a merged proposal is followed through the one it was merged into -----------------------------


async def test_following_a_merged_proposal_follows_the_one_it_lives_on_in(
    client: httpx.AsyncClient, users: dict[str, str], app_pool: asyncpg.Pool  # noqa: F811
) -> None:
    auth = await token(client, users["kelurahan"])
    survivor, duplicate = await new_proposal(client), await new_proposal(client)
    r = await client.post("/api/v1/proposals/merge", headers=auth,
                          json={"into": survivor, "codes": [duplicate], "reason": "lokasi dan masalah sama"})
    assert r.status_code == 200, r.text
    form = await client.get(f"/ikuti?subjek={duplicate}")
    said = f"Usulan {duplicate[:4]}-{duplicate[4:]} sudah digabung ke usulan {survivor[:4]}-{survivor[4:]}"
    assert form.status_code == 200 and said in form.text, form.text
    email = new_email()
    sent = await ask(client, duplicate, email)  # as the form on /lacak/{duplicate} posts it
    assert sent.status_code == 200 and said in sent.text
    [sub] = await subscriptions(app_pool, email)
    assert (sub["subject"], sub["link"]) == (survivor, f"/lacak/{survivor}")
    done = await client.post(f"/ikuti/{sub['token']}", data={"_csrf_token": await csrf(client)})
    assert "Anda sekarang mengikuti" in done.text
    r = await client.post(f"/api/v1/proposals/{survivor}/verification", json={"decision": "accept"}, headers=auth)
    assert r.status_code == 200, r.text
    news = [m for m in await mails(app_pool, email) if m["purpose"] != "confirm"]
    assert [(m["purpose"], m["subscription"]) for m in news] == [("verified", sub["id"])]


async def test_a_follower_who_asked_before_the_merge_was_seen_is_carried_on_when_confirming(
    client: httpx.AsyncClient, users: dict[str, str], app_pool: asyncpg.Pool  # noqa: F811
) -> None:
    """Asked to follow D a moment before D was merged (or before the merge reached the proposals' table):
    the subscription names D and the merge found nothing to carry on. Confirming carries it on to P, and its
    stop link stops both."""
    auth = await token(client, users["kelurahan"])
    survivor, duplicate = await new_proposal(client), await new_proposal(client)
    email = new_email()
    await ask(client, duplicate, email)
    [sub] = await subscriptions(app_pool, email)
    # The merge's copy is what such a race leaves without: take it away, as if the request came just after.
    r = await client.post("/api/v1/proposals/merge", headers=auth,
                          json={"into": survivor, "codes": [duplicate], "reason": "sama"})
    assert r.status_code == 200, r.text
    await app_pool.execute("DELETE FROM subscriptions WHERE owner = $1", sub["id"])
    await client.post(f"/ikuti/{sub['token']}", data={"_csrf_token": await csrf(client)})
    subs = await subscriptions(app_pool, email)
    assert [(s["subject"], s["confirmed"]) for s in subs] == [(duplicate, True), (survivor, True)]
    assert subs[1]["owner"] == sub["id"]


# --- 2. Last-Modified never vouches for a second that can still get entries ---------------------------


@pytest.fixture(scope="module")
async def city(server_url: str, template_name: str) -> AsyncIterator[tuple[httpx.AsyncClient, dict[str, str]]]:
    async with history.database(server_url, template_name) as (url, _):
        name = f"roads-{uuid.uuid4().hex[:6]}"
        add_user(url, name, "opd", "--opd", "DBMSDA")
        with serving(url) as server:
            async with httpx.AsyncClient(base_url=server.base_url, timeout=30) as client:
                r = await client.post("/api/v1/auth/token", json={"username": name, "password": PASSWORD})
                yield client, {"Authorization": f"Bearer {r.json()['token']}"}


async def _progress(client: httpx.AsyncClient, auth: dict[str, str], percent: int) -> None:
    r = await client.post(f"/api/v1/rkpd/{history.YEAR}/lines/DBMSDA-002/milestones", headers=auth, json={
        "stage": "pelaksanaan", "date": "2022-06-15", "progress": percent, "note": f"progres {percent}"})  # fmt: skip
    assert r.status_code == 201, r.text


async def test_a_reader_whose_copy_lacks_an_entry_of_the_same_second_is_sent_the_feed(
    city: tuple[httpx.AsyncClient, dict[str, str]],
) -> None:
    client, auth = city
    url = f"/rkpd/{history.YEAR}.atom"
    for percent in (41, 43, 45):  # up to three times, until both milestones fall in one second
        await asyncio.sleep(1 - time.time() % 1 + 0.02)  # at the start of a second
        await _progress(client, auth, percent)
        first = await client.get(url)
        await _progress(client, auth, percent + 1)
        again = await client.get(url, headers={"If-Modified-Since": first.headers["last-modified"]})
        assert again.status_code == 200 and again.headers["etag"] != first.headers["etag"]
        assert f"progres {percent + 1}" in again.text
        if int(time.time()) == int(email.utils.parsedate_to_datetime(first.headers["date"]).timestamp()):
            break
    # If-None-Match, when sent, decides alone (RFC 9110 §13.1.3): a current date does not hide a new entry.
    now = email.utils.format_datetime(dt.datetime.now(dt.UTC) + dt.timedelta(minutes=1), usegmt=True)
    stale = await client.get(url, headers={"If-None-Match": first.headers["etag"], "If-Modified-Since": now})
    assert stale.status_code == 200


def test_last_modified_names_only_a_second_over_long_enough_for_no_entry_to_come_in_it() -> None:
    updated = dt.datetime(2022, 6, 15, 10, 0, 0, 300_000, tzinfo=dt.UTC)
    second = updated.replace(microsecond=0)
    # Served during that second, or just after: it vouches only for the seconds before, so the copy it
    # comes with is sent again (200) rather than kept while a later entry of that second is missed.
    for later in (0.1, 1.0, feeds.SETTLE.total_seconds()):
        assert feeds.last_modified(updated, updated + dt.timedelta(seconds=later)) < second
    # Long after: the entry's second, so that a reader with the current copy gets 304.
    assert feeds.last_modified(updated, second + feeds.SETTLE + dt.timedelta(seconds=1)) == second
    assert feeds.last_modified(updated, updated + dt.timedelta(days=3)) == second
