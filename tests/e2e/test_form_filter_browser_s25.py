"""The proposal form's kelurahan filter (app.js, an enhancement over the plain list) reads names as the
site's search does. Debian's Chromium, the real server."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import needs_chromium
from tests.server import Server

pytestmark = [pytest.mark.slow, needs_chromium]


def test_the_proposal_forms_kelurahan_filter_reads_names_as_the_site_search_does(browser, app_server: Server) -> None:
    """Review s25: the form's filter box matched the typed text as it is, so "pondok gede" and "jati sampurna"
    found nothing (the names are Pondokgede and Jatisampurna) while the site's search found them."""
    context = browser.new_context(viewport={"width": 360, "height": 640})
    page = context.new_page()
    page.goto(f"{app_server.base_url}/usulan/baru")
    box = page.locator("input.search")
    shown = "[...document.querySelectorAll('#kelurahan option')].filter(o => !o.hidden && o.value).length"
    for typed, least in (("pondok gede", 5), ("jati sampurna", 1), ("JATI-BENING baru", 1)):
        box.fill(typed)
        assert page.evaluate(shown) >= least, typed
    box.fill("tidak ada kelurahan seperti ini")
    assert page.evaluate(shown) == 0
    context.close()
