"""A resident whose form expired while they typed (review s20): the CSRF cookie was gone (an in-app browser,
a browser restarted), the send answered 403 with only a link home, Back resent the same expired token, and
a fresh form was empty: a quarter of an hour's writing lost. Now the browser keeps what was typed (never
the proposer's name or number) and a fresh form takes it back. Debian's Chromium, the real server."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import needs_chromium
from tests.e2e.proposal_form import fill_proposal_form
from tests.server import Server

pytestmark = [pytest.mark.slow, needs_chromium]

TITLE, PROBLEM = "Saluran air tersumbat di gang mawar", "Air meluap ke jalan setiap hujan deras sore hari"


def test_what_was_typed_survives_an_expired_form_and_is_forgotten_once_sent(browser, app_server: Server) -> None:
    context = browser.new_context(viewport={"width": 360, "height": 640},
                                  extra_http_headers={"X-Forwarded-For": "10.250.0.9"})  # fmt: skip
    page = context.new_page()
    page.goto(app_server.base_url + "/usulan/baru")
    fill_proposal_form(page, kelurahan="32.75.03.1003", kind="fisik", title=TITLE, problem=PROBLEM,
                       proposer_name="Siti Rahmawati", proposer_phone="0812-5555-6666")  # fmt: skip
    context.clear_cookies()  # the form's cookie is gone before it is sent
    page.get_by_role("button", name="Kirim usulan").click()

    page.wait_for_selector("#open-again")
    assert "kedaluwarsa" in page.content()
    page.click("#open-again")
    page.wait_for_selector("#draft-restored")
    assert page.input_value("#title") == TITLE and page.input_value("#problem") == PROBLEM
    assert page.input_value("#kelurahan") == "32.75.03.1003" and page.is_checked("input[name=kind][value=fisik]")
    assert page.input_value("#proposer_name") == "" and page.input_value("#proposer_phone") == ""
    [key] = page.evaluate("Object.keys(localStorage)")
    assert key.startswith("draft:usulan-baru-")  # one per RKPD year: its programs are numbered per year
    stored = page.evaluate(f"localStorage.getItem('{key}')")
    assert TITLE in stored and "Siti" not in stored and "5555" not in stored
    page.fill("#proposer_name", "Siti Rahmawati")
    page.fill("#proposer_phone", "0812-5555-6666")
    page.get_by_role("button", name="Kirim usulan").click()

    page.wait_for_selector("#tracking-code")
    assert page.evaluate("Object.keys(localStorage)") == []
    page.goto(app_server.base_url + "/usulan/baru")  # the next proposal starts empty
    assert page.input_value("#title") == "" and page.locator("#draft-restored").count() == 0
    context.close()
