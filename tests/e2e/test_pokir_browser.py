"""A DPRD member enters a pokir from their reses on a phone (Debian's Chromium, 360 px), on a server with
its own copy of the history and the RKPD 2024 cycle taking pokir (tests/http/test_pokir.py opens it): the
form offers the kelurahan of the member's daerah pemilihan, says what is missing beside the field and keeps
what was typed, then saves it; the secretariat forwards it from its own phone; the public list names the
member."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest

from tests import history
from tests.e2e.conftest import needs_chromium
from tests.http.test_pokir import IN_DAPIL, OTHER_DAPIL, YEAR, _open
from tests.http.test_staff import PASSWORD, add_user
from tests.server import serving

pytestmark = [pytest.mark.slow, needs_chromium]
MEMBER_NAME = "Hj. Euis Komariah (uji)"


@pytest.fixture(scope="module")
async def site(server_url: str, template_name: str) -> AsyncIterator[tuple[str, str, str]]:
    """The server's address, a DPRD member of daerah pemilihan Bekasi 1 and a secretariat account."""
    async with history.database(server_url, template_name) as (url, _):
        await _open(url)
        tag = uuid.uuid4().hex[:6]
        member, setwan = f"dprd-{tag}", f"setwan-{tag}"
        add_user(url, member, "dprd", "--dapil", "Bekasi 1", "--name", MEMBER_NAME, "--faction", "Fraksi Uji")
        add_user(url, setwan, "setwan")
        with serving(url) as server:
            yield server.base_url, member, setwan


def _fits(page) -> None:  # noqa: ANN001
    assert page.evaluate("document.documentElement.scrollWidth") <= 360


def _sign_in(page, base: str, username: str) -> None:  # noqa: ANN001
    page.goto(f"{base}/masuk")
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    page.get_by_role("button", name="Masuk").click()
    page.wait_for_url("**/petugas")


def test_a_member_enters_a_pokir_on_a_phone_and_the_secretariat_forwards_it(site, browser) -> None:  # noqa: ANN001
    base, member, setwan = site
    context = browser.new_context(viewport={"width": 360, "height": 740}, is_mobile=True, has_touch=True)
    page = context.new_page()
    outside: list[str] = []
    page.on("request", lambda r: None if r.url.startswith(base) else outside.append(r.url))
    _sign_in(page, base, member)
    page.get_by_role("link", name="Masukkan pokok pikiran dari reses").first.click()
    page.wait_for_url("**/petugas/pokir/baru")
    assert f"RKPD {YEAR}" in page.inner_text("main")  # the cycle still taking pokir, not the closed 2023
    options = page.eval_on_selector_all("#kelurahan option", "els => els.map(e => e.value)")
    assert IN_DAPIL in options and OTHER_DAPIL not in options  # only the member's daerah pemilihan
    page.fill("#reses_on", "2023-03-12")
    page.select_option("#kelurahan", IN_DAPIL)
    page.fill("#rw", "3")
    page.fill("#rt", "2")
    page.fill("#address", "Jl. Melati RT 02/RW 03")
    page.check("input[name=kind][value=fisik]")
    page.select_option("#bidang", "infrastruktur")
    page.fill("#title", "Normalisasi saluran Jl. Melati")
    page.fill("#problem", "Saluran tersumbat, banjir setiap hujan deras")
    page.fill("#solution", "Normalisasi dan sodetan saluran sepanjang 400 meter")
    page.fill("#beneficiaries", "800")
    page.fill("#volume", "400")
    page.fill("#unit", "meter")
    page.fill("#estimated_cost", "300 juta")
    _fits(page)
    # The place of the reses left out: the browser's own check is bypassed, so the server's answers.
    page.eval_on_selector("#reses_place", "e => e.removeAttribute('required')")
    page.get_by_role("button", name="Kirim ke Sekretariat DPRD").click()
    page.wait_for_selector("#reses_place-error")
    assert page.input_value("#title") == "Normalisasi saluran Jl. Melati"  # what was typed is kept
    page.fill("#reses_place", "Aula RW 03 Kelurahan Bekasijaya")
    page.get_by_role("button", name="Kirim ke Sekretariat DPRD").click()
    page.wait_for_selector("text=Pokok pikiran tersimpan")
    code = page.url.split("/petugas/pokir/")[1].split("?")[0]
    assert "Aula RW 03 Kelurahan Bekasijaya" in page.inner_text("main")
    _fits(page)
    context.close()

    context = browser.new_context(viewport={"width": 360, "height": 740}, is_mobile=True, has_touch=True)
    page = context.new_page()
    _sign_in(page, base, setwan)
    page.get_by_role("link", name="Periksa kelengkapan pokok pikiran").click()
    page.get_by_role("link", name="Normalisasi saluran Jl. Melati").first.click()
    page.wait_for_url(f"**/petugas/pokir/{code}")
    page.get_by_role("button", name="Lengkap: teruskan ke Forum Perangkat Daerah").click()
    page.wait_for_selector("text=Diteruskan ke Forum Perangkat Daerah")
    _fits(page)
    page.goto(f"{base}/pokir/{YEAR}")
    row = page.locator("tr", has_text="Normalisasi saluran Jl. Melati").first.inner_text()
    assert MEMBER_NAME in row and "diteruskan Sekretariat DPRD" in row
    _fits(page)
    assert outside == []
    context.close()
