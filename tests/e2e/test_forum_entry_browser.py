"""Forgiving forum entry on a phone (360×640, Chromium): a facilitator schedules a forum by picking the
kelurahan by name, types ten paper ballots of which two have typos, gets all ten rows back with the two
marked, fixes them and the tally counts ten; closing asks first (issue 16, parts 1 and 2)."""

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
KECAMATAN, KELURAHAN, NAME = "32.75.04", "32.75.04.1004", "Jakasetia"
pytestmark = [pytest.mark.slow, needs_chromium]


def _facilitator(database: str) -> str:
    username = f"fas-{uuid.uuid4().hex[:6]}"
    env = {**os.environ, "MUSRENBANG_DATABASE_URL": database}
    subprocess.run(["musrenbang", "user", "add", "--username", username, "--role", "facilitator", "--region",
                    KECAMATAN], input=PASSWORD + "\n", env=env, check=True, capture_output=True, text=True)  # fmt: skip
    return username


def _accepted_proposals(http: httpx.Client, auth: dict[str, str], count: int) -> None:
    for n in range(count):
        body = payload(kelurahan=KELURAHAN, title=f"Usulan entri {n + 1}", estimated_cost=10_000_000)
        code = http.post("/api/v1/proposals", json=body, headers={"Idempotency-Key": str(uuid.uuid4())}).json()["code"]
        http.post(f"/api/v1/proposals/{code}/verification", json={"decision": "accept"},
                  headers=auth).raise_for_status()  # fmt: skip


def test_ten_ballot_rows_with_two_typos_come_back_marked_and_closing_asks_first(
    browser,  # noqa: ANN001
    app_server: Server,
    app_database: str,
) -> None:
    username = _facilitator(app_database)
    with httpx.Client(base_url=app_server.base_url, headers={"X-Forwarded-For": "10.252.0.7"}) as http:
        token = http.post("/api/v1/auth/token", json={"username": username, "password": PASSWORD}).json()["token"]
        auth = {"Authorization": f"Bearer {token}"}
        _accepted_proposals(http, auth, 4)

        page = browser.new_page(viewport={"width": 360, "height": 640})
        page.goto(app_server.base_url + "/masuk")
        page.fill("#username", username)
        page.fill("#password", PASSWORD)
        page.get_by_role("button", name="Masuk").click()
        page.wait_for_url("**/petugas")
        assert "fasilitator" in page.content() and "facilitator" not in page.locator("main p").first.inner_text()
        page.get_by_role("link", name="Jadwalkan musyawarah").click()
        # The region by its name: typed in the search box, then chosen from the (filtered) list.
        page.get_by_role("searchbox").fill(NAME)
        page.select_option("#region", label=f"Kelurahan {NAME} · {KELURAHAN}")
        page.fill("#title", "Musrenbang Kelurahan Jakasetia")
        page.fill("#place", "Aula")
        page.fill("#chair", "Lurah")
        page.fill("#ceiling", "30000000")
        page.select_option("#rule", "greedy")
        page.get_by_role("button", name="Jadwalkan").click()
        page.wait_for_url(re.compile(r".*/forum/[0-9A-Z]{8}$"))
        forum_id = page.url.rsplit("/", 1)[1]
        assert "Jakasetia" in page.locator("h1 + p").inner_text()
        delegates = [{"delegate_id": f"d{n:02d}", "name": f"Peserta {n}"} for n in range(1, 11)]
        http.post(f"/api/v1/forums/{forum_id}/delegates", json=delegates, headers=auth).raise_for_status()
        page.reload()
        page.get_by_role("button", name=re.compile("Buka musyawarah")).click()
        page.wait_for_load_state()

        rows = ["1,2", "2", "1, 5", "3,4", "1", "4", "satu", "2,3", "1,4", "3"]
        for n, text in enumerate(rows, start=1):
            page.get_by_role("textbox", name=f"Peserta {n}", exact=True).fill(text)
        page.get_by_role("button", name="Simpan surat suara").click()
        page.wait_for_load_state()
        inputs = page.locator("input[name^=b_]")
        assert inputs.count() == 10
        assert [inputs.nth(i).input_value() for i in range(10)] == rows  # every row as typed
        marked = page.locator("input[name^=b_][aria-invalid=true]")
        assert marked.count() == 2
        assert page.get_by_role("textbox", name="Peserta 3", exact=True).get_attribute("aria-invalid") == "true"
        assert page.get_by_role("textbox", name="Peserta 7", exact=True).get_attribute("aria-invalid") == "true"
        expect(page.locator("#b_d03-error")).to_contain_text("nomor 5 tidak ada di agenda (1 sampai 4)")
        expect(page.locator("#b_d07-error")).to_contain_text("«satu» bukan nomor usulan")
        assert http.get(f"/api/v1/forums/{forum_id}").json()["ballots"] == 0  # nothing saved yet

        page.get_by_role("textbox", name="Peserta 3", exact=True).fill("1,4")
        page.get_by_role("textbox", name="Peserta 7", exact=True).fill("2")
        page.get_by_role("button", name="Simpan surat suara").click()
        page.wait_for_load_state()
        expect(page.locator("#kabar")).to_have_text("10 surat suara disimpan")
        assert http.get(f"/api/v1/forums/{forum_id}").json()["ballots"] == 10

        # Closing asks first: the button alone does nothing (the checkbox says what closing means).
        page.get_by_role("button", name=re.compile("Tutup musyawarah")).click()
        assert page.url.split("#")[0].endswith(f"/forum/{forum_id}")
        assert page.locator("#understood").evaluate("e => !e.validity.valid")
        assert http.get(f"/api/v1/forums/{forum_id}").json()["status"] == "open"
        page.get_by_role("checkbox", name="Saya paham, dan musyawarah sudah selesai").check()
        # Nobody was mandated to the Musrenbang Kecamatan: the close says it is meant (s29h).
        page.get_by_role("checkbox", name="Tutup tanpa delegasi yang diutus").check()
        page.get_by_role("button", name=re.compile("Tutup musyawarah")).click()
        page.wait_for_url("**/berita-acara")
        assert "suara persetujuan, diisi berurutan sampai pagu habis" in page.content()
        assert http.get(f"/api/v1/forums/{forum_id}").json()["status"] == "closed"
        page.close()
