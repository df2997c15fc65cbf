"""A kelurahan/desa or kecamatan forum is opened (and closed) on its day or later, not weeks before it with a
Berita Acara dated on a day still to come; and POST /api/v1/forums takes its documented starting time, a
ballot left out as the staff form gives it, and says which levels there are (review, session 28)."""

from __future__ import annotations

import datetime as dt
import re
import uuid

import asyncpg
import httpx

from musrenbang.domain import forum as rules
from musrenbang.domain.errors import ValidationFailed
from musrenbang.domain.rules import BALLOT_KINDS
from musrenbang.domain.values import long_date
from musrenbang.services.cycles import today
from tests.http.test_forum_entry import FORUM, _signed_in
from tests.http.test_pages import hidden
from tests.http.test_staff import KELURAHAN, new_proposal, token, users  # noqa: F401  (a fixture)


async def _events(pool: asyncpg.Pool) -> int:
    return await pool.fetchval("SELECT count(*) FROM events")


async def test_a_forum_is_not_opened_before_its_day(
    client: httpx.AsyncClient, users: dict[str, str], app_pool: asyncpg.Pool  # noqa: F811
) -> None:
    """Through the API (409, the day named, nothing written) and on its staff page (the button disabled,
    the day it can be opened shown; sent anyway, the page again saying why, nothing written). One held today
    opens from its page."""
    auth = await token(client, users["kelurahan"])
    code = await new_proposal(client, estimated_cost=5_000_000)
    await client.post(f"/api/v1/proposals/{code}/verification", json={"decision": "accept"}, headers=auth)
    held_on = today() + dt.timedelta(days=10)  # inside the test cycle's kelurahan window
    made = await client.post("/api/v1/forums", headers=auth, json={
        **FORUM, "held_on": held_on.isoformat(), "title": f"Musrenbang dini {uuid.uuid4().hex[:6]}", "rule": "greedy",
        "ballot_kind": "approval"})  # fmt: skip
    assert made.status_code == 201, made.text
    forum_id = made.json()["forum_id"]
    day = str(long_date(held_on))
    before = await _events(app_pool)
    r = await client.post(f"/api/v1/forums/{forum_id}/open", headers=auth)
    assert r.status_code == 409, r.text
    assert f"dijadwalkan {day}: belum dapat dibuka sebelum hari itu" in r.json()["message"]
    assert "batalkan musyawarah ini lalu jadwalkan lagi" in r.json()["message"]
    assert await _events(app_pool) == before
    assert (await client.get(f"/api/v1/forums/{forum_id}")).json()["status"] == "scheduled"

    await _signed_in(client, users["kelurahan"])
    page = (await client.get(f"/forum/{forum_id}")).text
    assert f"dapat dibuka mulai {day}" in page
    assert re.search(r'<button type="submit" class="primary" disabled aria-describedby="opens-on">Buka musyawarah',
                     page)  # fmt: skip
    sent = await client.post(f"/forum/{forum_id}/buka", data={"_csrf_token": hidden(page, "_csrf_token")})
    assert sent.status_code == 409, sent.text[-2000:]
    assert f"dijadwalkan {day}: belum dapat dibuka" in sent.text
    assert await _events(app_pool) == before

    # Held today (the city's day): the button is offered, and opens it.
    made = await client.post("/api/v1/forums", headers=auth, json={
        **FORUM, "held_on": today().isoformat(), "title": "Musrenbang hari ini", "rule": "greedy",
        "ballot_kind": "approval"})  # fmt: skip
    assert made.status_code == 201, made.text
    forum_id = made.json()["forum_id"]
    page = (await client.get(f"/forum/{forum_id}")).text
    button = page.split(f'action="/forum/{forum_id}/buka"')[1][:300]
    assert "dapat dibuka mulai" not in page and "disabled" not in button
    opened = await client.post(f"/forum/{forum_id}/buka", data={"_csrf_token": hidden(page, "_csrf_token")})
    assert opened.status_code == 303, opened.text[-2000:]
    assert (await client.get(f"/api/v1/forums/{forum_id}")).json()["status"] == "open"


async def test_the_api_takes_the_documented_starting_time(
    client: httpx.AsyncClient, users: dict[str, str]  # noqa: F811
) -> None:
    """ "09:00" (as the message of a wrong one asks) and "09:00:00" (as the README shows) are both taken."""
    auth = await token(client, users["kelurahan"])
    body = {**FORUM, "title": "Musrenbang pukul sembilan", "rule": "greedy", "ballot_kind": "approval"}
    for sent in ("09:00", "09:00:00"):
        r = await client.post("/api/v1/forums", headers=auth, json={**body, "starts_at": sent})
        assert r.status_code == 201, (sent, r.text)
        assert r.json()["starts_at"] == "09:00:00"
    for wrong, says in (("25:00", "bukan jam yang sah: tulis seperti 09:00"), ("jam 9", "bukan jam yang sah"),
                        ("09:30:15", "misalnya 09:00"), ("09:30+07:00", "misalnya 09:00")):  # fmt: skip
        r = await client.post("/api/v1/forums", headers=auth, json={**body, "starts_at": wrong})
        assert r.status_code == 422 and says in r.json()["errors"]["starts_at"], (wrong, r.text)


async def test_a_ballot_left_out_is_approval_and_a_wrong_level_says_which_there_are(
    client: httpx.AsyncClient, users: dict[str, str], app_pool: asyncpg.Pool  # noqa: F811
) -> None:
    """rule "greedy" without ballot_kind: approval, as the staff form schedules it. level "desa": one error,
    on level, naming kelurahan (a desa's Musrenbang is of that level) and kecamatan; nothing written."""
    auth = await token(client, users["kelurahan"])
    body = {**FORUM, "title": "Musrenbang tanpa jenis surat suara", "rule": "greedy"}
    r = await client.post("/api/v1/forums", headers=auth, json=body)
    assert r.status_code == 201, r.text
    assert r.json()["ballot_kind"] == "approval"
    before = await _events(app_pool)
    r = await client.post("/api/v1/forums", headers=auth, json={**body, "level": "desa"})
    assert r.status_code == 422, r.text
    errors = r.json()["errors"]
    assert list(errors) == ["level"], errors
    assert "kelurahan" in errors["level"] and "desa" in errors["level"] and "kecamatan" in errors["level"]
    assert await _events(app_pool) == before


def test_a_rule_that_counts_ballots_without_a_ballot_kind_says_it_is_required() -> None:
    """The rules themselves (any caller): required, with the kinds to choose from; no "tidak dikenal"."""
    command = rules.ScheduleForum(forum_id="F1", level="kelurahan", region=KELURAHAN, year=2022, title="t",
                                  held_on=dt.date(2021, 1, 20), place="", chair="", ceiling=1,
                                  rule="greedy")  # fmt: skip
    try:
        rules.decide(rules.Forum(), command)
    except ValidationFailed as exc:
        message = str(exc.errors["ballot_kind"])
    else:
        raise AssertionError("scheduled without a ballot kind")
    assert "wajib diisi" in message and all(kind in message for kind in BALLOT_KINDS), message
