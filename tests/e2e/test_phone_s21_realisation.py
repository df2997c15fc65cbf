"""The staff realisation table of an adopted RKPD on a 360 px phone in Debian's Chromium: its lines stacked,
nothing wider than the screen, nothing scrolling sideways, and nothing axe-core finds. A module of its own:
the history's server (an async fixture) must start before this module's browser does."""

from __future__ import annotations

import uuid

import pytest

from tests import history
from tests.e2e.conftest import needs_chromium
from tests.e2e.test_phone_s21_score_grid import WIDTH, _fits, _no_axe_violation, _signed_in
from tests.http.test_staff import add_user
from tests.server import Server

pytestmark = [pytest.mark.slow, needs_chromium]


def test_the_realisation_table_fits_a_phone(city_server: Server, city_database: str, browser) -> None:  # noqa: ANN001
    admin = f"s21-admin-{uuid.uuid4().hex[:6]}"
    add_user(city_database, admin, "admin")
    page = _signed_in(browser, city_server.base_url, admin)
    for lang in ("", "?lang=en"):
        page.goto(f"{city_server.base_url}/petugas/realisasi/{history.YEAR}{lang}")
        _fits(page, "the realisation page")
        table = page.locator("main table").first
        rows = table.locator("tbody tr")
        assert rows.count() >= 1
        # Nothing scrolls sideways, not even inside a box of its own: the table is no wider than the screen.
        inner = table.evaluate("t => [t.scrollWidth, t.getBoundingClientRect().right, t.parentElement.scrollWidth,"
                               " t.parentElement.clientWidth]")  # fmt: skip
        assert inner[0] <= WIDTH and inner[1] <= WIDTH and inner[2] <= inner[3], inner
        link = rows.first.locator("a").first  # each line still leads to its form
        assert link.bounding_box()["x"] + link.bounding_box()["width"] <= WIDTH
        _no_axe_violation(page, "the realisation page")
    page.close()
