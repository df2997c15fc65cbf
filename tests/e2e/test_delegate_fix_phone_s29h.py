"""Session 29h on a 360 px phone in Debian's Chromium: a forum's delegate list with its "Perbaiki" and "Tarik"
controls per row (no JavaScript needed: <details>), and the close section asking about a close with nobody
mandated — nothing wider than the screen, nothing axe-core finds, and a correction typed on the phone is
what the list then shows."""

from __future__ import annotations

import uuid

import httpx
import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import needs_chromium
from tests.e2e.test_phone_s21_score_grid import _fits, _no_axe_violation, _signed_in
from tests.http.conftest import payload
from tests.http.test_staff import KELURAHAN, PASSWORD, add_user
from tests.server import Server

pytestmark = [pytest.mark.slow, needs_chromium]


@pytest.fixture(scope="module")
def open_forum(app_server: Server, app_database: str) -> tuple[str, str, str]:
    """A facilitator and an open approval forum of three delegates, one of whom voted: base URL, username, id."""
    username = f"s29h-{uuid.uuid4().hex[:6]}"
    add_user(app_database, username, "facilitator", "--region", KELURAHAN)
    with httpx.Client(base_url=app_server.base_url, headers={"X-Forwarded-For": "10.252.29.8"}) as http:
        token = http.post("/api/v1/auth/token", json={"username": username, "password": PASSWORD}).json()["token"]
        auth = {"Authorization": f"Bearer {token}"}
        r = http.post("/api/v1/proposals", json=payload(kelurahan=KELURAHAN, estimated_cost=5_000_000),
                      headers={"Idempotency-Key": str(uuid.uuid4())})  # fmt: skip
        http.post(f"/api/v1/proposals/{r.json()['code']}/verification", json={"decision": "accept"},
                  headers=auth).raise_for_status()  # fmt: skip
        r = http.post("/api/v1/forums", headers=auth, json={
            "level": "kelurahan", "region": KELURAHAN, "year": 2022, "held_on": "2021-01-20", "ceiling": 50_000_000,
            "title": "Musrenbang Kelurahan: peserta di ponsel", "rule": "greedy", "ballot_kind": "approval"})
        forum_id = r.json()["forum_id"]
        people = [{"delegate_id": "d1", "name": "Budi Santosa", "represents": "RW 03 Perumahan Bumi Bekasi Baru",
                   "role": "Ketua RW", "gender": "P"},
                  {"delegate_id": "d2", "name": "Siti Aminah", "represents": "PKK", "gender": "P"},
                  {"delegate_id": "d3", "name": "Joko", "gender": "L"}]  # fmt: skip
        http.post(f"/api/v1/forums/{forum_id}/delegates", json=people, headers=auth).raise_for_status()
        agenda = http.post(f"/api/v1/forums/{forum_id}/open", headers=auth).json()["agenda"]
        http.post(f"/api/v1/forums/{forum_id}/ballots", headers=auth,
                  json=[{"delegate_id": "d2", "approvals": [agenda[0]["item_id"]]}]).raise_for_status()
    return app_server.base_url, username, forum_id


@pytest.mark.parametrize("lang", ["", "?lang=en"])
def test_the_delegate_controls_fit_a_phone_and_axe_finds_nothing(open_forum, browser, lang: str) -> None:  # noqa: ANN001
    base, username, forum_id = open_forum
    page = _signed_in(browser, base, username)
    page.goto(f"{base}/forum/{forum_id}{lang}")
    _fits(page, "the forum page, its rows folded")
    _no_axe_violation(page, "the forum page, its rows folded")
    row = page.locator("#peserta-d1")
    row.locator("summary").first.click()  # "Perbaiki"
    expect(row.locator("#fix_d1_name")).to_be_visible()
    row.locator("summary").nth(1).click()  # "Tarik"
    expect(row.locator("#out_d1_reason")).to_be_visible()
    page.locator("#peserta-d2 summary").first.click()
    expect(page.locator("#peserta-d2")).not_to_contain_text("Tarik peserta ini")  # voted: not offered
    _fits(page, "the forum page, a row's forms open")
    _no_axe_violation(page, "the forum page, a row's forms open")
    page.close()


def test_a_correction_typed_on_the_phone_is_what_the_list_shows(open_forum, browser) -> None:  # noqa: ANN001
    base, username, forum_id = open_forum
    page = _signed_in(browser, base, username)
    page.goto(f"{base}/forum/{forum_id}")
    row = page.locator("#peserta-d1")
    row.locator("summary").first.click()
    row.locator("#fix_d1_name").fill("Budi Santoso")
    row.locator("#fix_d1_gender").select_option("L")
    row.locator("#fix_d1_reason").fill("salah ketik nama dan jenis kelamin")
    row.locator("form button[type=submit]").first.click()
    page.wait_for_load_state()
    expect(page.locator("#peserta-d1")).to_contain_text("Budi Santoso")
    expect(page.locator("#peserta-d1")).to_contain_text("laki-laki")
    # Closing with nobody mandated: the box that confirms it, and the refusal beside it, fit and pass axe.
    page.locator("#understood").check()
    page.locator("form[action$='/tutup'] button[type=submit]").click()
    page.wait_for_load_state()
    expect(page.locator("#no_mandate-error")).to_contain_text("belum ada delegasi yang diutus")
    _fits(page, "the close refused for want of a mandate")
    _no_axe_violation(page, "the close refused for want of a mandate")
    page.close()
