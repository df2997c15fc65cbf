"""The RKPD list and a lineage page on a cheap phone: Debian's Chromium at 360 x 640 against a real server
with an adopted RKPD (tests/rkpd_site.py). Nothing wider than the screen, nothing fetched from elsewhere."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.e2e.conftest import needs_chromium
from tests.rkpd_site import YEAR, Site, rkpd_site

pytestmark = [pytest.mark.slow, needs_chromium]


@pytest.fixture(scope="module")
def site(server_url: str, template_name: str) -> Iterator[Site]:
    with rkpd_site(server_url, template_name) as s:
        yield s


def test_the_rkpd_and_its_lineage_fit_a_phone(browser, site: Site) -> None:
    base = site.server.base_url
    context = browser.new_context(viewport={"width": 360, "height": 640})
    page = context.new_page()
    outside: list[str] = []
    page.on("request", lambda r: None if r.url.startswith(base) else outside.append(r.url))

    page.goto(f"{base}/rkpd/{YEAR}")
    assert "Daftar yang disepakati" in page.locator("#status").inner_text()
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    assert page.evaluate("document.body.scrollWidth") <= 360
    # Every line is reachable on the phone: follow one to its lineage.
    page.locator("a.line").first.click()
    page.wait_for_url(f"**/telusur/rkpd/{YEAR}/*")
    assert "Baris ini ada di RKPD" in page.locator("#summary").inner_text()
    assert page.evaluate("document.documentElement.scrollWidth") <= 360

    page.goto(f"{base}/telusur/usulan/{site.codes['duplicate']}")
    assert "Masuk RKPD" in page.locator("#summary").inner_text()
    page.locator("details summary").first.click()  # the individual ballots unfold
    assert page.evaluate("document.documentElement.scrollWidth") <= 360

    page.goto(f"{base}/rkpd/{YEAR}/pemerataan")
    assert page.locator("svg.chart").count() == 2
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    assert outside == []
    context.close()
