"""A resident on a cheap phone: Debian's Chromium at 360 x 640, driven by Playwright, against the real
server. Opens the home page, submits a proposal with a photo, lands on the code page, follows the
proposal, and switches to English."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.e2e.conftest import needs_chromium
from tests.images import jpeg_with_gps
from tests.server import Server

pytestmark = [pytest.mark.slow, needs_chromium]


def test_a_resident_proposes_from_a_phone_and_follows_it(browser, app_server: Server, tmp_path: Path) -> None:
    photo = tmp_path / "jalan.jpg"
    photo.write_bytes(jpeg_with_gps())
    context = browser.new_context(
        viewport={"width": 360, "height": 640}, extra_http_headers={"X-Forwarded-For": "10.250.0.1"}
    )
    page = context.new_page()
    outside: list[str] = []
    page.on("request", lambda r: None if r.url.startswith(app_server.base_url) else outside.append(r.url))

    page.goto(app_server.base_url + "/")
    assert page.locator("h1").inner_text() == "Musyawarah Perencanaan Pembangunan"
    # Nothing wider than the phone's screen.
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    page.get_by_role("link", name="Ajukan usulan").first.click()

    page.wait_for_url("**/usulan/baru")
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    page.locator("input.search").fill("harapan")  # the kelurahan list filters as one types (JS)
    assert not page.locator("option[value='32.75.01.1001']").is_visible()
    page.select_option("#kelurahan", "32.75.03.1003")  # Harapanbaru
    page.fill("#rw", "4")
    page.fill("#rt", "1")
    page.fill("#address", "Jl. Harapan Baru Raya, dekat pos ronda")
    page.check("input[name=kind][value=fisik]")
    page.select_option("#bidang", "infrastruktur")
    page.fill("#title", "Perbaikan jalan berlubang")
    page.fill("#problem", "Jalan berlubang membahayakan pengendara motor dan anak sekolah")
    page.fill("#solution", "Penambalan dan pengaspalan ulang sepanjang 200 meter")
    page.fill("#beneficiaries", "450")
    page.fill("#volume", "200")
    page.fill("#unit", "meter")
    page.fill("#estimated_cost", "75 juta")
    page.select_option("#priority_program", "4")
    page.set_input_files("#photos", str(photo))
    page.fill("#proposer_name", "Dewi Lestari Anggraeni")
    page.fill("#proposer_phone", "0812-7777-8888")
    page.get_by_role("button", name="Kirim usulan").click()

    page.wait_for_selector("#tracking-code")
    code = page.locator("#tracking-code").inner_text().replace("-", "")
    assert re.fullmatch(r"[0-9A-Z]{8}", code)
    assert re.fullmatch(r"[0-9A-Z]{16}", page.locator("#revision-secret").inner_text())
    page.get_by_role("link", name="Lihat status usulan").click()

    page.wait_for_url(f"**/lacak/{code}")
    assert page.locator("h1").inner_text() == "Perbaikan jalan berlubang"
    assert "Diajukan, menunggu verifikasi" in page.content()
    assert "Rp 75.000.000" in page.content()
    assert page.locator(".photos img").count() == 1
    assert page.evaluate("document.querySelector('.photos img').naturalWidth") > 0  # the photo really loads
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    assert "Dewi Lestari" not in page.content()

    page.get_by_role("link", name="English").click()
    page.wait_for_url("**lang=en")
    assert "Submitted, awaiting verification" in page.content()
    assert page.locator("html").get_attribute("lang") == "en"
    page.goto(app_server.base_url + "/")  # the language is remembered
    assert page.get_by_role("link", name="Submit a proposal").count() == 1
    assert outside == []
    context.close()


def test_a_word_longer_than_the_phone_is_wide_wraps_on_every_page_that_shows_it(browser, app_server: Server) -> None:
    """A title typed without spaces ("Perbaikan_jalan_…") made the kelurahan list 583 px wide, lineage 693."""
    import uuid

    import httpx

    from tests.http.conftest import payload

    tag = "".join(chr(ord("a") + int(c, 16) % 26) for c in uuid.uuid4().hex[:8])  # its own word: found on page 1
    long = f"Perbaikan_jalan_lingkungan_RT04/RW03_Kelurahan_Bekasijaya_{tag}"
    made = httpx.post(f"{app_server.base_url}/api/v1/proposals", timeout=30,
                      json=payload(title=long, address=long, problem=long + "_" + long),
                      headers={"Idempotency-Key": str(uuid.uuid4()), "X-Forwarded-For": "10.250.0.9"})  # fmt: skip
    assert made.status_code == 201, made.text
    code = made.json()["code"]
    page = browser.new_context(viewport={"width": 360, "height": 640}).new_page()
    for path in ("/kelurahan/32.75.01.1001", f"/telusur/usulan/{code}", f"/lacak/{code}", f"/usulan?q={tag}",
                 f"/ikuti?subjek={code}"):  # fmt: skip
        page.goto(app_server.base_url + path)
        assert long in page.content(), path
        assert page.evaluate("document.documentElement.scrollWidth") <= 360, path
