"""The consensus score grid of a weighted-criteria forum on a 360 px phone in Debian's Chromium: each agenda
item a block with its number and title, each mark's box labelled where it can be seen with its criterion (and
named by it for a screen reader), boxes big enough to tap, nothing wider than the screen, nothing axe-core
finds; and the form still sends what it sent before."""

from __future__ import annotations

import re
import uuid

import httpx
import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import needs_chromium
from tests.e2e.test_accessibility import PHONE, SMALL_TARGETS, _violations
from tests.http.conftest import payload
from tests.http.test_staff import KELURAHAN, PASSWORD, add_user
from tests.server import Server

pytestmark = [pytest.mark.slow, needs_chromium]

WIDTH = PHONE["viewport"]["width"]
TITLES = ("Perbaikan saluran drainase dan trotoar sepanjang Jalan Melati RW 02", "Lampu jalan RW 05")


def _signed_in(browser: object, base: str, username: str) -> object:
    page = browser.new_page(**PHONE)
    page.goto(base + "/masuk")
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    page.locator("form button[type=submit]").click()
    page.wait_for_url("**/petugas")
    return page


def _fits(page: object, what: str) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= WIDTH, f"{what}: the page is {width} px wide on a {WIDTH} px phone"


def _no_axe_violation(page: object, what: str) -> None:
    found = _violations(page)
    assert not found, f"axe-core finds on {what}:\n" + "\n".join(found)


@pytest.fixture(scope="module")
def scoring_forum(app_server: Server, app_database: str) -> tuple[str, str, dict]:
    """A facilitator and an open weighted-criteria forum of two verified proposals: base URL, username, forum."""
    username = f"s21-fas-{uuid.uuid4().hex[:6]}"
    add_user(app_database, username, "facilitator", "--region", KELURAHAN)
    with httpx.Client(base_url=app_server.base_url, headers={"X-Forwarded-For": "10.252.21.1"}) as http:
        token = http.post("/api/v1/auth/token", json={"username": username, "password": PASSWORD}).json()["token"]
        auth = {"Authorization": f"Bearer {token}"}
        for title in TITLES:
            r = http.post("/api/v1/proposals", json=payload(kelurahan=KELURAHAN, title=title, estimated_cost=5_000_000),
                          headers={"Idempotency-Key": str(uuid.uuid4())})  # fmt: skip
            assert r.status_code == 201, r.text
            http.post(f"/api/v1/proposals/{r.json()['code']}/verification", json={"decision": "accept"},
                      headers=auth).raise_for_status()  # fmt: skip
        r = http.post("/api/v1/forums", headers=auth, json={
            "level": "kelurahan", "region": KELURAHAN, "year": 2022, "held_on": "2021-01-20",
            "ceiling": 50_000_000, "title": "Musrenbang Kelurahan di ponsel", "rule": "weighted-criteria",
        })  # fmt: skip
        assert r.status_code == 201, r.text
        forum_id = r.json()["forum_id"]
        people = [{"delegate_id": f"d{i}", "name": f"Delegasi {i}"} for i in range(1, 4)]
        http.post(f"/api/v1/forums/{forum_id}/delegates", json=people, headers=auth).raise_for_status()
        http.post(f"/api/v1/forums/{forum_id}/open", headers=auth).raise_for_status()
        forum = http.get(f"/api/v1/forums/{forum_id}").json()
    return app_server.base_url, username, forum


@pytest.mark.parametrize("lang", ["", "?lang=en"])
def test_the_score_grid_is_usable_on_a_phone(scoring_forum, browser, lang: str) -> None:  # noqa: ANN001
    base, username, forum = scoring_forum
    assert {a["title"] for a in forum["agenda"]} >= set(TITLES) and len(forum["criteria"]) >= 2
    page = _signed_in(browser, base, username)
    page.goto(f"{base}/forum/{forum['forum_id']}{lang}")
    _fits(page, "the forum page")
    form = page.locator(f"form[action='/forum/{forum['forum_id']}/nilai']")
    for number, item in enumerate(forum["agenda"], start=1):
        for criterion in forum["criteria"]:
            box = form.locator(f"input[name='m_{item['item_id']}_{criterion['key']}']")
            label = page.locator(f"label[for='m_{item['item_id']}_{criterion['key']}']")
            # Which box is which, seen: its criterion's name beside it, its item's title above, all on screen.
            expect(label).to_be_visible()
            shown = label.inner_text().strip()
            assert shown, criterion["key"]
            expect(box).to_have_accessible_name(re.compile(re.escape(shown)))  # what is seen is what is read
            expect(box).to_have_accessible_name(re.compile(re.escape(item["title"])))
            if not lang:  # the Indonesian page names the criterion as the forum does
                assert criterion["label"] in shown
            for rect in (box.bounding_box(), label.bounding_box()):
                assert rect["x"] >= 0 and rect["x"] + rect["width"] <= WIDTH, (criterion["key"], rect)
        title = form.get_by_text(f"{number}. {item['title']}")
        expect(title).to_be_visible()
        assert title.bounding_box()["x"] + title.bounding_box()["width"] <= WIDTH
    small = page.evaluate(SMALL_TARGETS, f"form[action='/forum/{forum['forum_id']}/nilai'] input:not([type=hidden])")
    assert not small, "marks' boxes under 44×44 px:\n" + "\n".join(f"{w}×{h} {html}" for html, w, h in small)
    _no_axe_violation(page, "the forum page")
    page.close()


def test_the_score_grid_keeps_its_fields_and_saves_from_a_phone(scoring_forum, browser) -> None:  # noqa: ANN001
    """The form sends what it sent before (the server code reading it is unchanged): typed on a phone, saved."""
    base, username, forum = scoring_forum
    page = _signed_in(browser, base, username)
    page.goto(f"{base}/forum/{forum['forum_id']}")
    item = forum["agenda"][0]["item_id"]
    for i, criterion in enumerate(forum["criteria"]):
        page.fill(f"#m_{item}_{criterion['key']}", str(1 + i % 5))
    page.locator(f"form[action='/forum/{forum['forum_id']}/nilai'] button[type=submit]").click()
    page.wait_for_load_state()
    for i, criterion in enumerate(forum["criteria"]):
        expect(page.locator(f"#m_{item}_{criterion['key']}")).to_have_value(str(1 + i % 5))
    assert page.locator("#errors").count() == 0
    page.close()
