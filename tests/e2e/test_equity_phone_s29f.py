"""The equity and realisation views with a city-wide Renja line (review s29) on a 360 px phone in Debian's
Chromium: the page no wider than the screen (the wide tables scroll inside their own box), the "Seluruh kota"
row there, and nothing axe-core finds. On a copy of tests/history.py's history of its own (the line changes
the city level). A module of its own: its server (an async fixture) must start before the browser does."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import httpx
import pytest

from tests import history
from tests.e2e.conftest import needs_chromium
from tests.e2e.test_phone_s21_score_grid import WIDTH, _fits, _no_axe_violation
from tests.http.test_renja import LINE
from tests.http.test_staff import PASSWORD, add_user
from tests.server import serving

pytestmark = [pytest.mark.slow, needs_chromium]


@pytest.fixture(scope="module")
async def site(server_url: str, template_name: str) -> AsyncIterator[str]:
    async with history.database(server_url, template_name) as (url, _):
        tag = uuid.uuid4().hex[:6]
        for name, role, scope in (("roads", "opd", ("--opd", "DBMSDA")), ("admin", "admin", ())):
            add_user(url, f"{name}-{tag}", role, *scope)
        with serving(url) as server:
            async with httpx.AsyncClient(base_url=server.base_url, timeout=30) as client:
                auth = {}
                for name in ("roads", "admin"):
                    r = await client.post("/api/v1/auth/token", json={"username": f"{name}-{tag}",
                                                                       "password": PASSWORD})  # fmt: skip
                    auth[name] = {"Authorization": f"Bearer {r.json()['token']}"}
                r = await client.post(f"/api/v1/rkpd/{history.YEAR}/lines", json={
                    **LINE, "origins": [], "renja_reason": "Renstra: pemeliharaan jalan seluruh kota"},
                    headers=auth["roads"])  # fmt: skip
                assert r.status_code == 201, r.text
                r = await client.post(f"/api/v1/rkpd/{history.YEAR}/adopt", json={"note": "Renja kota"},
                                      headers=auth["admin"])  # fmt: skip
                assert r.status_code == 200, r.text  # a city-wide line is no kecamatan's: nothing to confirm
            yield server.base_url


def test_equity_and_realisation_with_a_city_wide_row_fit_a_phone(site, browser) -> None:  # noqa: ANN001
    page = browser.new_page(viewport={"width": WIDTH, "height": 740})
    for path in ("pemerataan", "realisasi"):
        for lang in ("", "?lang=en"):
            page.goto(f"{site}/rkpd/{history.YEAR}/{path}{lang}")
            _fits(page, path)
            assert page.locator('tr[data-kode="seluruh"]').count() == 1, path
            _no_axe_violation(page, path)
    page.close()
