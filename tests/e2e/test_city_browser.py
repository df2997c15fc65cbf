"""An agency's planner makes an RKPD line from two proposals on a 360 px phone, in a real browser
(Debian's Chromium), on a server of its own with a history up to the kecamatan forums."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import httpx
import pytest

from tests.conftest import _throwaway_database
from tests.e2e.conftest import needs_chromium
from tests.http.city_setup import seed
from tests.http.test_staff import PASSWORD, add_user
from tests.server import serving

pytestmark = [pytest.mark.slow, needs_chromium]


@pytest.fixture(scope="module")
async def city(server_url: str, template_name: str) -> AsyncIterator[tuple[str, dict[str, str], str]]:
    async with _throwaway_database(server_url, template_name) as url:
        codes = await seed(url)
        tag = uuid.uuid4().hex[:6]
        admin, planner = f"bappeda-{tag}", f"dbmsda-{tag}"
        add_user(url, admin, "admin")
        add_user(url, planner, "opd", "--opd", "DBMSDA")
        with serving(url, extra_env={"MUSRENBANG_TRUST_PROXY": "1"}) as server:
            async with httpx.AsyncClient(base_url=server.base_url, timeout=30) as http:
                r = await http.post("/api/v1/auth/token", json={"username": admin, "password": PASSWORD})
                auth = {"Authorization": f"Bearer {r.json()['token']}"}
                (await http.post("/api/v1/rkpd/2022/receive", headers=auth)).raise_for_status()
            yield server.base_url, codes, planner


def test_an_agency_planner_makes_a_line_on_a_phone(city, browser) -> None:  # noqa: ANN001  (city first: its setup is async)
    base_url, codes, planner = city
    page = browser.new_page(viewport={"width": 360, "height": 640}, is_mobile=True, has_touch=True)
    page.goto(base_url + "/masuk")
    page.fill("#username", planner)
    page.fill("#password", PASSWORD)
    page.get_by_role("button", name="Masuk").click()
    page.wait_for_url("**/petugas")
    page.get_by_role("link", name="Forum Perangkat Daerah").click()
    page.wait_for_url("**/petugas/perangkat-daerah")
    assert page.evaluate("document.documentElement.scrollWidth") <= 360  # nothing wider than the phone
    page.get_by_label("Perbaikan saluran RW 01").check()
    page.get_by_label("Perbaikan saluran RW 02").check()
    page.fill("#program", "Program Pengelolaan Sumber Daya Air")
    page.fill("#kegiatan", "Pengelolaan dan Pengembangan Sistem Drainase")
    page.fill("#sub_kegiatan", "Rehabilitasi Saluran Drainase Lingkungan")
    page.fill("#sub_kegiatan_code", "1.03.03.2.01.0005")
    page.select_option("#priority_program", "3")
    page.select_option("#funding_source", "apbd_kota")
    page.fill("#volume", "200")
    page.fill("#unit", "meter")
    page.fill("#pagu", "25 juta")
    page.fill("#output_indicator", "Panjang saluran yang direhabilitasi")
    page.fill("#target", "200")
    page.fill("#target_unit", "meter")
    page.get_by_role("button", name="Buat baris").click()
    page.wait_for_url("**/petugas/perangkat-daerah?tahun=2022#baris")  # back to the year the form was for
    assert "Baris DBMSDA-001 dibuat" in page.inner_text("main")
    line = page.locator("#l-DBMSDA-001")
    assert "Rp 25.000.000" in line.inner_text()
    assert codes["Perbaikan saluran RW 01"] in line.inner_text()
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    page.goto(f"{base_url}/lacak/{codes['Perbaikan saluran RW 02']}")
    assert "Masuk RKPD" in page.inner_text("main")
    page.close()
