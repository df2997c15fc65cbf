"""Which proposals a forum decides, once: a merge after a forum opened left the duplicate and its target on
the agenda (counted twice against the ceiling), and a second forum scheduled for the same kelurahan and year
(a double tap on "Jadwalkan") decided the same proposals again, with another result."""

from __future__ import annotations

import asyncio
import re

import asyncpg
import httpx

from musrenbang.services.forums import lock_forum_place
from tests.http.conftest import event_count
from tests.http.test_forum_entry import FORUM, _signed_in
from tests.http.test_pages import hidden
from tests.http.test_staff import KELURAHAN, new_proposal, token, users  # noqa: F401  (a fixture)
from tests.waiting import eventually


async def _accepted(client: httpx.AsyncClient, auth: dict[str, str], n: int) -> list[str]:
    codes = [await new_proposal(client, estimated_cost=3_000_000) for _ in range(n)]
    for code in codes:
        r = await client.post(f"/api/v1/proposals/{code}/verification", json={"decision": "accept"}, headers=auth)
        assert r.status_code == 200, r.text
    return codes


async def _scheduled(client: httpx.AsyncClient, auth: dict[str, str]) -> str:
    r = await client.post("/api/v1/forums", headers=auth, json={**FORUM, "title": "Forum sekali", "rule": "greedy",
                                                                 "ballot_kind": "approval"})  # fmt: skip
    assert r.status_code == 201, r.text
    forum_id = r.json()["forum_id"]
    r = await client.post(f"/api/v1/forums/{forum_id}/delegates", headers=auth,
                          json=[{"delegate_id": "d1", "name": "Delegasi"}])  # fmt: skip
    assert r.status_code == 200, r.text
    return forum_id


async def _opened(client: httpx.AsyncClient, auth: dict[str, str], forum_id: str) -> list[str]:
    r = await client.post(f"/api/v1/forums/{forum_id}/open", headers=auth)
    assert r.status_code == 200, r.text
    return [a["proposal"] for a in r.json()["agenda"]]


async def test_proposals_on_an_opened_forums_agenda_are_merged_no_more(
    client: httpx.AsyncClient, users: dict[str, str], app_pool: asyncpg.Pool  # noqa: F811
) -> None:
    auth = await token(client, users["kelurahan"])
    target, duplicate = await _accepted(client, auth, 2)
    forum_id = await _scheduled(client, auth)
    assert {target, duplicate} <= set(await _opened(client, auth, forum_id))
    before = await event_count(app_pool)
    for into, codes in ((target, [duplicate]), (duplicate, [target])):
        r = await client.post("/api/v1/proposals/merge", headers=auth,
                              json={"into": into, "codes": codes, "reason": "duplikat jalan yang sama"})  # fmt: skip
        assert r.status_code == 409, r.text
        assert "sudah dibahas di musyawarah «Forum sekali»: tidak dapat digabungkan lagi" in r.json()["message"]
    late = (await _accepted(client, auth, 1))[0]  # accepted after the forum opened: not on its agenda
    r = await client.post("/api/v1/proposals/merge", headers=auth,
                          json={"into": target, "codes": [late], "reason": "sama"})  # fmt: skip
    assert r.status_code == 409 and target in r.json()["message"], r.text
    assert await event_count(app_pool) == before + 2  # the late proposal's submission and acceptance only


async def test_a_second_forum_of_the_same_place_and_year_leaves_out_what_the_first_took_up(
    client: httpx.AsyncClient, users: dict[str, str]  # noqa: F811
) -> None:
    auth = await token(client, users["kelurahan"])
    first_ones = await _accepted(client, auth, 2)
    first, second = await _scheduled(client, auth), await _scheduled(client, auth)  # a double tap by the API
    assert set(first_ones) <= set(await _opened(client, auth, first))
    later = await _accepted(client, auth, 1)
    assert await _opened(client, auth, second) == later  # not the first forum's proposals again


async def test_a_merge_and_an_opening_racing_never_leave_a_merged_proposal_on_the_agenda(
    client: httpx.AsyncClient, users: dict[str, str], app_pool: asyncpg.Pool  # noqa: F811
) -> None:
    """Both sent while the place's lock is held, so that both are in flight at once (seen waiting in
    pg_locks); whichever goes first, the agenda holds no proposal merged into another."""
    auth = await token(client, users["kelurahan"])
    target, duplicate = await _accepted(client, auth, 2)
    forum_id = await _scheduled(client, auth)
    async with app_pool.acquire() as conn, conn.transaction():
        await lock_forum_place(conn, "kelurahan", KELURAHAN, FORUM["year"])
        merge = asyncio.create_task(client.post("/api/v1/proposals/merge", headers=auth, json={
            "into": target, "codes": [duplicate], "reason": "duplikat"}))  # fmt: skip
        opening = asyncio.create_task(client.post(f"/api/v1/forums/{forum_id}/open", headers=auth))
        waiting = ("SELECT count(*) = 2 FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
                   " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())")
        await eventually(lambda: app_pool.fetchval(waiting), "the merge and the opening both waiting")
    merged, opened = await merge, await opening
    assert opened.status_code == 200, opened.text
    agenda = {a["proposal"] for a in opened.json()["agenda"]}
    assert target in agenda
    if merged.status_code == 200:  # merged first: the duplicate lives on in its target, not on the agenda
        assert duplicate not in agenda
    else:  # opened first: both on the agenda, the merge refused
        assert merged.status_code == 409 and duplicate in agenda, merged.text


async def test_the_schedule_form_sent_twice_makes_one_forum(
    client: httpx.AsyncClient, users: dict[str, str], app_pool: asyncpg.Pool  # noqa: F811
) -> None:
    csrf = await _signed_in(client, users["kelurahan"])
    form = (await client.get("/petugas/musyawarah/baru")).text
    fields = {"_csrf_token": csrf, "forum_id": hidden(form, "forum_id"), "level": "kelurahan", "region": KELURAHAN,
              "year": "2022", "held_on": "2021-01-20", "title": "Musrenbang dua kali", "place": "Aula",
              "chair": "Lurah", "ceiling": "50000000", "rule": "greedy"}  # fmt: skip
    before = await event_count(app_pool)
    first = await client.post("/petugas/musyawarah/baru", data=fields)
    again = await client.post("/petugas/musyawarah/baru", data=fields)
    assert first.status_code == again.status_code == 303
    assert first.headers["location"] == again.headers["location"] == f"/forum/{fields['forum_id']}"
    assert await event_count(app_pool) == before + 1
    assert re.fullmatch(r"[0-9A-Z]{8}", hidden((await client.get("/petugas/musyawarah/baru")).text, "forum_id"))
    for odd in ("x", "../../etc", "abcd-efgh"):
        r = await client.post("/petugas/musyawarah/baru", data={**fields, "forum_id": odd})
        assert r.status_code == 400, (odd, r.status_code)
    assert await event_count(app_pool) == before + 1


async def test_the_projector_counts_score_sheets_and_shows_scores_as_people_write_them(
    client: httpx.AsyncClient, users: dict[str, str]  # noqa: F811
) -> None:
    """A weighted-criteria forum showed "0 suara/lembar nilai" with four sheets given, and scores as "27/2"."""
    from tests.http.test_forum_entry import _open_forum

    await _signed_in(client, users["kelurahan"])
    auth = await token(client, users["kelurahan"])
    forum_id, _ = await _open_forum(client, auth, rule="weighted-criteria")
    forum = (await client.get(f"/api/v1/forums/{forum_id}")).json()
    item, keys = forum["agenda"][0]["item_id"], [c["key"] for c in forum["criteria"]]
    for sheet, mark in (("d1", 5), ("d2", 4)):
        r = await client.post(f"/api/v1/forums/{forum_id}/scores", headers=auth,
                              json={"sheet": sheet, "marks": {item: {k: mark for k in keys}}})  # fmt: skip
        assert r.status_code == 200, r.text
    screen = (await client.get(f"/forum/{forum_id}/layar")).text
    scores = re.findall(r'<td>([0-9/,]+)</td><td class="num">', screen)
    assert '<span id="ballots">2</span>' in screen, screen[:3000]
    assert scores and not any("/" in s for s in scores), scores
    session = (await client.get(f"/forum/{forum_id}")).text
    assert not re.search(r"<td>\d+/\d+</td>", session)


async def test_a_mandate_form_from_a_stale_tab_or_naming_one_twice_is_answered_beside_the_field(
    client: httpx.AsyncClient, users: dict[str, str], app_pool: asyncpg.Pool  # noqa: F811
) -> None:
    """A delegate not registered (a tab shown before the list changed) got the whole-page "Maaf" error, and
    one named twice was told to "choose 1 to 5"."""
    from tests.http.test_forum_entry import _open_forum

    csrf = await _signed_in(client, users["kelurahan"])
    forum_id, _ = await _open_forum(client, await token(client, users["kelurahan"]))
    before = await event_count(app_pool)
    for chosen, said in ((["d1", "d1"], "setiap delegasi dipilih satu kali saja"),
                         (["d1", "hantu"], "peserta tidak terdaftar di musyawarah ini")):  # fmt: skip
        r = await client.post(f"/forum/{forum_id}/mandat", data={"_csrf_token": csrf, "delegates": chosen})
        assert r.status_code == 422 and said in r.text and "Maaf" not in r.text, (chosen, r.status_code)
    assert await event_count(app_pool) == before
