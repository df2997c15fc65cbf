"""Back after a proposal was sent, and the same form sent again (review s25): the page was fetched anew
with a new key and the second sending made a second, identical proposal. The tab now keeps the key each
sending went with, by a digest of what was sent: the same content goes with its first key and the answer is
the proposal the first sending made; changed content is a new proposal. And the result page's language switch
leads to that proposal's page (it led to an empty form, the code lost), after asking whether the secret,
shown only there, was written down. Debian's Chromium, the real server."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import needs_chromium
from tests.e2e.proposal_form import fill_proposal_form
from tests.server import Server

pytestmark = [pytest.mark.slow, needs_chromium]


def _sent(page, title: str) -> str:  # noqa: ANN001
    fill_proposal_form(page, title=title, address="Gang Melati, depan pos ronda", proposer_name="Rahmat Hidayat",
                       proposer_phone="0812-7777-1212")  # fmt: skip
    page.get_by_role("button", name="Kirim usulan").click()
    page.wait_for_selector("#tracking-code")
    return page.inner_text("#tracking-code").strip()


def test_the_same_form_sent_again_after_back_is_the_same_proposal(browser, app_server: Server) -> None:
    context = browser.new_context(viewport={"width": 360, "height": 640},
                                  extra_http_headers={"X-Forwarded-For": "10.250.0.25"})  # fmt: skip
    page = context.new_page()
    page.goto(app_server.base_url + "/usulan/baru")
    first = _sent(page, "Lampu jalan gang melati mati")
    page.go_back()
    page.wait_for_selector("#title")
    again = _sent(page, "Lampu jalan gang melati mati")  # as typed again, or as the browser filled it back
    assert again == first
    stored = page.evaluate("JSON.stringify(Object.entries(sessionStorage))")
    assert "Rahmat" not in stored and "7777" not in stored and "melati" not in stored.lower()

    page.go_back()
    page.wait_for_selector("#title")
    other = _sent(page, "Lampu jalan gang melati dan gang mawar mati")  # changed: another proposal
    assert other != first

    link = page.locator("header a.lang")
    assert link.get_attribute("data-leaves-secret")
    dialogs: list[str] = []
    page.once("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.accept()))
    link.click()
    page.wait_for_url(f"**/lacak/{other.replace('-', '')}?lang=en*")
    assert len(dialogs) == 1 and "rahasia" in dialogs[0], dialogs
    assert page.evaluate("document.documentElement.lang") == "en"
    context.close()
