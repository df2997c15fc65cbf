"""Closing the loop in a real browser (Debian's Chromium, 360 px), on a server with its own copy of the
history (tests/history.py: RKPD 2022 adopted, DBMSDA-002 budgeted and 40% done; RKPD 2023 taking
proposals): an agency records the work's progress with a photo from its phone; the public sees it on the
line's lineage, the list and the realisation view; a resident asks to be told by WhatsApp, and stops it
from the tracking page with the number they gave."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest

from tests import history
from tests.e2e.conftest import needs_chromium
from tests.http.test_staff import PASSWORD, add_user
from tests.images import jpeg_with_gps
from tests.server import serving

pytestmark = [pytest.mark.slow, needs_chromium]
LINE = "DBMSDA-002"


@pytest.fixture(scope="module")
async def site(server_url: str, template_name: str) -> AsyncIterator[tuple[str, str, list[str]]]:
    """The server's address, an agency account of DBMSDA, and the 2022 proposals a0..a4, b0, b1."""
    async with history.database(server_url, template_name) as (url, built):
        roads = f"dbmsda-{uuid.uuid4().hex[:6]}"
        add_user(url, roads, "opd", "--opd", "DBMSDA")
        with serving(url) as server:
            yield server.base_url, roads, built.codes


def _fits(page) -> None:  # noqa: ANN001
    assert page.evaluate("document.documentElement.scrollWidth") <= 360


def test_an_agency_records_progress_with_a_photo_and_everyone_sees_it(site, browser) -> None:  # noqa: ANN001
    base, roads, codes = site
    context = browser.new_context(viewport={"width": 360, "height": 740}, is_mobile=True, has_touch=True)
    page = context.new_page()
    outside: list[str] = []
    page.on("request", lambda r: None if r.url.startswith(base) else outside.append(r.url))
    page.goto(f"{base}/masuk")
    page.fill("#username", roads)
    page.fill("#password", PASSWORD)
    page.get_by_role("button", name="Masuk").click()
    page.wait_for_url("**/petugas")
    page.get_by_role("link", name="Realisasi RKPD 2022").click()
    _fits(page)
    page.get_by_role("link", name=LINE).click()
    page.wait_for_url(f"**/petugas/realisasi/2022/{LINE}")
    page.select_option("#stage", "pelaksanaan")
    page.fill("#date", "2022-07-01")
    page.fill("#progress", "80")
    page.fill("#note", "pengecoran sisi utara selesai")
    page.set_input_files("#foto", files=[{"name": "kerja.jpg", "mimeType": "image/jpeg", "buffer": jpeg_with_gps()}])
    page.get_by_role("button", name="Catat", exact=True).click()
    page.wait_for_selector("text=Tahap dicatat.")
    assert "80%" in page.inner_text("main")
    _fits(page)

    page.goto(f"{base}/telusur/rkpd/2022/{LINE}")
    summary = page.inner_text("#summary")
    assert "Sesudah penetapan, terakhir:" in summary and "pengecoran sisi utara selesai" in summary
    assert page.locator("#summary img").count() == 1
    _fits(page)
    page.goto(f"{base}/lacak/{codes[0]}")  # a resident whose proposal fed the line
    assert "kemajuan 80%" in page.inner_text("main")
    page.goto(f"{base}/rkpd/2022/realisasi")
    assert "Realisasi per kecamatan" in page.inner_text("h1")
    _fits(page)
    assert outside == []
    context.close()


def test_a_resident_asks_for_whatsapp_and_stops_it_from_the_tracking_page(site, browser) -> None:  # noqa: ANN001
    base, _, _ = site
    page = browser.new_page(viewport={"width": 360, "height": 740}, is_mobile=True, has_touch=True)
    page.goto(f"{base}/usulan/baru?kelurahan={history.KELURAHAN_A}")
    page.fill("#title", "Lampu jalan gang Kenanga")
    page.fill("#problem", "Gang gelap di malam hari, rawan kecelakaan")
    page.fill("#solution", "Pasang lima titik lampu jalan tenaga surya")
    page.check("input[name=kind][value=fisik]")
    page.select_option("#bidang", "infrastruktur")
    page.fill("#rw", "3")
    page.fill("#rt", "2")
    page.fill("#beneficiaries", "120")
    page.fill("#volume", "5")
    page.fill("#unit", "titik")
    page.fill("#estimated_cost", "25 juta")
    page.fill("#address", "Gang Kenanga RT 02/RW 03")
    page.fill("#proposer_name", "Nur Aini Rahmawati")
    page.fill("#proposer_phone", "0812-5550-1234")
    page.get_by_role("radio", name="WhatsApp").check()
    _fits(page)
    page.get_by_role("button", name="Kirim usulan").click()
    page.wait_for_selector("#tracking-code")
    code = page.inner_text("#tracking-code").replace("-", "").strip()
    page.goto(f"{base}/lacak/{code}")
    page.locator("#kabar summary").click()
    page.fill("#kontak", "+62 812-5550-1234")
    page.get_by_role("button", name="Hentikan kabar").click()
    assert "pengiriman kabar dihentikan" in page.inner_text("#kabar")
    _fits(page)
    page.close()
