"""A facilitator runs a small forum in a real browser (Debian's Chromium): signs in, schedules, registers
delegates, opens, types paper ballots row by row, watches the projector screen, closes, and opens the
Berita Acara; then anyone checks its log head."""

from __future__ import annotations

import os
import re
import subprocess
import uuid

import httpx
import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import needs_chromium
from tests.http.conftest import payload
from tests.server import Server

PASSWORD = "kata-sandi-fasilitator"
pytestmark = [pytest.mark.slow, needs_chromium]


def test_a_facilitator_runs_a_forum_and_prints_the_berita_acara(
    browser,  # noqa: ANN001
    app_server: Server,
    app_database: str,
) -> None:
    username = f"fas-{uuid.uuid4().hex[:6]}"
    env = {**os.environ, "MUSRENBANG_DATABASE_URL": app_database}
    command = [
        "musrenbang",
        "user",
        "add",
        "--username",
        username,
        "--role",
        "facilitator",
        "--region",
        "32.75.05.1001",
    ]
    subprocess.run(command, input=PASSWORD + "\n", env=env, check=True, capture_output=True, text=True)
    # Two verified proposals in the kelurahan (residents submit, the facilitator accepts through the API).
    with httpx.Client(base_url=app_server.base_url, headers={"X-Forwarded-For": "10.252.0.1"}) as http:
        token = http.post("/api/v1/auth/token", json={"username": username, "password": PASSWORD}).json()["token"]
        for title, cost in (("Perbaikan drainase RW 02", 40_000_000), ("Lampu jalan RW 05", 30_000_000)):
            body = payload(kelurahan="32.75.05.1001", title=title, estimated_cost=cost)
            code = http.post("/api/v1/proposals", json=body, headers={"Idempotency-Key": str(uuid.uuid4())}).json()[
                "code"
            ]
            http.post(f"/api/v1/proposals/{code}/verification", json={"decision": "accept"},
                      headers={"Authorization": f"Bearer {token}"}).raise_for_status()  # fmt: skip

    page = browser.new_page(viewport={"width": 1024, "height": 768})
    page.goto(app_server.base_url + "/masuk")
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    page.get_by_role("button", name="Masuk").click()
    page.wait_for_url("**/petugas")
    page.get_by_role("link", name="Jadwalkan musyawarah").click()
    page.select_option("#level", "kelurahan")
    page.select_option("#region", "32.75.05.1001")
    page.fill("#title", "Musrenbang Kelurahan uji")
    page.fill("#place", "Aula Kelurahan")
    page.fill("#chair", "Lurah")
    page.fill("#ceiling", "50000000")
    page.select_option("#rule", "greedy")
    page.get_by_role("button", name="Jadwalkan").click()
    page.wait_for_url(re.compile(r".*/forum/[0-9A-Z]{8}$"))
    forum_url = page.url
    for name, gender in (("Ibu Sari", "P"), ("Pak Joko", "L"), ("Ibu Rina", "P")):
        page.fill("input[name=name]", name)
        page.select_option("select[name=gender]", gender)
        page.get_by_role("button", name="Daftarkan").click()
        page.wait_for_load_state()
    page.get_by_role("button", name=re.compile("Buka musyawarah")).click()
    page.wait_for_load_state()
    agenda = page.locator("ol li").all_inner_texts()
    drainase = next(i for i, t in enumerate(agenda, start=1) if "drainase" in t)
    lampu = next(i for i, t in enumerate(agenda, start=1) if "Lampu" in t)
    # Paper ballots, typed one delegate per row with the keyboard.
    page.locator("input[name^=b_]").first.click()
    page.keyboard.type(f"{drainase},{lampu}")
    page.keyboard.press("Tab")
    page.keyboard.type(str(drainase))
    page.keyboard.press("Enter")
    page.wait_for_load_state()

    screen = browser.new_page(viewport={"width": 1280, "height": 720})
    # The Content-Security-Policy (script-src 'self') must not block the page's own script.
    refused: list[str] = []
    screen.on("console", lambda m: refused.append(m.text) if "Content Security Policy" in m.text else None)
    screen.goto(forum_url + "/layar")
    screen.wait_for_selector("#ranking tbody tr")
    assert "drainase" in screen.locator("#ranking tbody tr").first.inner_text()
    assert screen.locator("#ballots").inner_text() == "2"
    # A third ballot arrives: the projector updates by itself (Server-Sent Events).
    page.locator("input[name^=b_]").nth(2).fill(str(lampu))
    page.get_by_role("button", name="Simpan surat suara").click()
    page.wait_for_load_state()
    expect(screen.locator("#ballots")).to_have_text("3", timeout=10_000)
    assert refused == []

    # The forum agrees a lower cost for the drainage (the original stays), and mandates a delegate.
    page.select_option("#item_id", index=drainase - 1)
    page.fill("#agreed_cost", "20 juta")
    page.fill("#adjust_reason", "harga satuan terbaru")
    page.get_by_role("button", name="Simpan perubahan").click()
    page.wait_for_load_state()
    page.get_by_role("checkbox", name="Ibu Sari").check()
    page.get_by_role("button", name="Tetapkan delegasi").click()
    page.wait_for_load_state()
    page.get_by_role("checkbox", name="Saya paham, dan musyawarah sudah selesai").check()
    page.get_by_role("button", name=re.compile("Tutup musyawarah")).click()
    page.wait_for_url("**/berita-acara")
    text = page.content()
    assert "BERITA ACARA" in text and "perempuan 2, laki-laki 1" in text
    # At the agreed 20 million the drainage and the lamps (30 million) both fit in the 50 million ceiling.
    assert "Perbaikan drainase RW 02" in text and "Lampu jalan RW 05" in text
    assert "diubah: harga satuan terbaru" in text and "semula Rp 40.000.000" in text and "Rp 20.000.000" in text
    assert "Tidak ada." in text.split("III. Usulan yang tidak disepakati")[1].split("IV.")[0]
    assert "Dinas Bina Marga dan Sumber Daya Air" in text  # grouped by (indicative) agency
    assert "Ibu Sari" in text.split("IV. Delegasi")[1].split("V. Tanda tangan")[0]
    assert page.locator(".qr svg").count() == 1
    check = page.locator(".proof a").get_attribute("href")
    page.goto(check)
    assert "Ada dan utuh" in page.content()
    page.close()
    screen.close()
