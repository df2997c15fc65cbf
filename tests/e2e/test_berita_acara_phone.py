"""Staff pages opened on a phone (Chromium, 360 px, mobile): a Berita Acara laid out for the screen's width,
not shrunk from a 980 px desktop page, nothing wider than the screen but its own scrolling tables; the
sign-in fields alike."""

from __future__ import annotations

import uuid

import httpx
import pytest

from tests.e2e.conftest import needs_chromium
from tests.http.conftest import payload
from tests.http.test_staff import KELURAHAN, PASSWORD, add_user
from tests.server import Server

pytestmark = [pytest.mark.slow, needs_chromium]


def _closed_forum(http: httpx.Client, auth: dict[str, str]) -> str:
    codes = []
    for n in range(3):
        body = payload(kelurahan=KELURAHAN, title=f"Usulan berita acara {n + 1}", estimated_cost=4_000_000)
        code = http.post("/api/v1/proposals", json=body, headers={"Idempotency-Key": str(uuid.uuid4())}).json()["code"]
        http.post(f"/api/v1/proposals/{code}/verification", json={"decision": "accept"},
                  headers=auth).raise_for_status()  # fmt: skip
        codes.append(code)
    forum = http.post("/api/v1/forums", headers=auth, json={
        "level": "kelurahan", "region": KELURAHAN, "year": 2022, "held_on": "2021-01-20",
        "title": "Musrenbang Kelurahan dibaca di ponsel", "ceiling": 10_000_000, "rule": "greedy",
        "ballot_kind": "approval"})  # fmt: skip
    forum_id = forum.json()["forum_id"]
    delegates = [{"delegate_id": "d1", "name": "Ibu RW 01", "gender": "P"}, {"delegate_id": "d2", "name": "Pak RW 02",
                  "gender": "L"}]  # fmt: skip
    http.post(f"/api/v1/forums/{forum_id}/delegates", json=delegates, headers=auth).raise_for_status()
    http.post(f"/api/v1/forums/{forum_id}/open", headers=auth).raise_for_status()
    ballots = [{"delegate_id": "d1", "approvals": codes}, {"delegate_id": "d2", "approvals": codes[:1]}]
    http.post(f"/api/v1/forums/{forum_id}/ballots", json=ballots, headers=auth).raise_for_status()
    http.post(f"/api/v1/forums/{forum_id}/close", json={"no_mandate_confirmed": True}, headers=auth).raise_for_status()
    return forum_id


def test_a_berita_acara_fits_a_phone_screen(browser, app_server: Server, app_database: str) -> None:  # noqa: ANN001
    username = f"ba-{uuid.uuid4().hex[:6]}"
    add_user(app_database, username, "facilitator", "--region", KELURAHAN)
    with httpx.Client(base_url=app_server.base_url, headers={"X-Forwarded-For": "10.252.0.9"}, timeout=30) as http:
        token = http.post("/api/v1/auth/token", json={"username": username, "password": PASSWORD}).json()["token"]
        forum_id = _closed_forum(http, {"Authorization": f"Bearer {token}"})
    context = browser.new_context(viewport={"width": 360, "height": 740}, is_mobile=True, has_touch=True)
    page = context.new_page()
    page.goto(f"{app_server.base_url}/forum/{forum_id}/berita-acara")
    assert "Ibu RW 01" in page.content()
    assert page.evaluate("window.innerWidth") == 360  # without a viewport a phone lays it out 980 px wide
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    context.close()


def test_the_sign_in_fields_look_alike_on_a_phone(browser, app_server: Server) -> None:  # noqa: ANN001
    """The password box was the browser's narrow default (the stylesheet named text inputs and not it):
    beside a full-width username box, on a phone it looked like something else than a field to fill."""
    context = browser.new_context(viewport={"width": 360, "height": 740}, is_mobile=True, has_touch=True)
    page = context.new_page()
    page.goto(f"{app_server.base_url}/masuk")
    width = "(name) => document.querySelector(`input[name=${name}]`).getBoundingClientRect().width"
    username, password = page.evaluate(width, "username"), page.evaluate(width, "password")
    assert username > 250 and password == username
    border = "(name) => getComputedStyle(document.querySelector(`input[name=${name}]`)).borderTopColor"
    assert page.evaluate(border, "password") == page.evaluate(border, "username")
    context.close()
