"""Finding one's way in the public lists on a cheap phone (Chromium at 360 x 640, issue 16 part 4): the
RKPD list filtered by kecamatan with JavaScript off, and the kelurahan search that finds Pondokgede for
"pondok gede". Against a real server with an adopted RKPD whose lines lie in two kecamatan."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.e2e.conftest import needs_chromium
from tests.rkpd_site import RENJA_PAGU, YEAR, Site, _run, renja_line_in_bekasi_barat, rkpd_site

pytestmark = [pytest.mark.slow, needs_chromium]


@pytest.fixture(scope="module")
def site(server_url: str, template_name: str) -> Iterator[Site]:
    with rkpd_site(server_url, template_name) as s:
        _run(renja_line_in_bekasi_barat(s.database_url))
        yield s


def _fits(page) -> None:  # type: ignore[no-untyped-def]
    assert page.evaluate("document.documentElement.scrollWidth") <= 360


def _tall_enough(locator) -> None:  # type: ignore[no-untyped-def]
    """A tap target a thumb can hit: at least 44 x 44 CSS pixels."""
    for n in range(locator.count()):
        box = locator.nth(n).bounding_box()
        assert box["height"] >= 44 and box["width"] >= 44, box


def test_filtering_the_rkpd_by_kecamatan_without_javascript(browser, site: Site) -> None:
    base = site.server.base_url
    context = browser.new_context(viewport={"width": 360, "height": 640}, java_script_enabled=False)
    page = context.new_page()
    outside: list[str] = []
    page.on("request", lambda r: None if r.url.startswith(base) else outside.append(r.url))

    page.goto(f"{base}/rkpd/{YEAR}")
    assert page.locator("td.pagu").count() == 4
    _fits(page)
    _tall_enough(page.locator("#saring select, #saring button"))
    kecamatan = page.get_by_label("Kecamatan", exact=True)
    assert "1 baris — Bekasi Barat" in kecamatan.locator("option[value='32.75.02']").inner_text()
    kecamatan.select_option("32.75.02")
    page.get_by_role("button", name="Tampilkan").click()  # a plain GET form: no script needed

    page.wait_for_url("**/rkpd/2022?kecamatan=32.75.02**")
    assert page.locator("td.pagu").count() == 1
    assert page.locator("td.pagu").inner_text() == f"Rp {RENJA_PAGU:,}".replace(",", ".")
    assert "1 baris dari 4" in page.locator("#hasil-saringan").inner_text()
    assert page.get_by_label("Kecamatan", exact=True).input_value() == "32.75.02"
    _fits(page)
    page.get_by_role("link", name="Hapus saringan").click()
    page.wait_for_url(f"**/rkpd/{YEAR}")
    assert page.locator("td.pagu").count() == 4
    assert outside == []
    context.close()


def test_the_kelurahan_search_finds_pondok_gede(browser, site: Site) -> None:
    base = site.server.base_url
    context = browser.new_context(viewport={"width": 360, "height": 640})
    page = context.new_page()
    page.goto(f"{base}/")
    page.get_by_label("Cari kelurahan atau desa").fill("pondok gede")
    page.get_by_label("Cari kelurahan atau desa").press("Enter")

    page.wait_for_url("**/wilayah?q=pondok+gede")
    results = page.locator("ul.list li")
    assert results.count() == 5  # the five kelurahan of Kecamatan Pondokgede
    assert all("Kecamatan Pondokgede" in t for t in results.all_inner_texts())
    _fits(page)
    page.get_by_role("link", name="Kelurahan Jatibening Baru").click()
    page.wait_for_url("**/kelurahan/32.75.08.1006")
    assert "Jatibening Baru" in page.locator("h1").inner_text()
    context.close()
