"""A resident whose proposal was returned for a missing photo adds it from a phone, at 360 x 640 and with
JavaScript off: the revision form takes the photo, and the proposal goes back to verification."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import httpx
import pytest

from tests.e2e.conftest import needs_chromium
from tests.http.conftest import payload
from tests.http.test_staff import KELURAHAN, PASSWORD, users  # noqa: F401  (a fixture)
from tests.images import jpeg_with_gps
from tests.server import Server

pytestmark = [pytest.mark.slow, needs_chromium]
ADDRESS = "10.250.22.2"


def _returned(server: Server, facilitator: str) -> tuple[str, str]:
    with httpx.Client(base_url=server.base_url, headers={"X-Forwarded-For": ADDRESS}, timeout=30) as client:
        made = client.post("/api/v1/proposals", json=payload(kelurahan=KELURAHAN),
                           headers={"Idempotency-Key": str(uuid.uuid4())})  # fmt: skip
        assert made.status_code == 201, made.text
        code, secret = made.json()["code"], made.json()["revision_secret"]
        auth = client.post("/api/v1/auth/token", json={"username": facilitator, "password": PASSWORD}).json()
        returned = client.post(f"/api/v1/proposals/{code}/verification",
                               json={"decision": "return", "reason": "Lampirkan foto lokasi"},
                               headers={"Authorization": f"Bearer {auth['token']}"})  # fmt: skip
        assert returned.status_code == 200, returned.text
        deadline = time.monotonic() + 30
        while client.get(f"/api/v1/proposals/{code}").json()["status"] != "dikembalikan":
            assert time.monotonic() < deadline, "the return in the read model"
            time.sleep(0.05)
    return code, secret


def test_a_photo_asked_for_is_added_from_a_phone_without_javascript(
    browser,  # noqa: ANN001
    app_server: Server,
    users: dict[str, str],  # noqa: F811
    tmp_path: Path,
) -> None:
    code, secret = _returned(app_server, users["kelurahan"])
    photo = tmp_path / "lokasi.jpg"
    photo.write_bytes(jpeg_with_gps())
    context = browser.new_context(viewport={"width": 360, "height": 640}, java_script_enabled=False,
                                  extra_http_headers={"X-Forwarded-For": ADDRESS})  # fmt: skip
    page = context.new_page()
    page.goto(f"{app_server.base_url}/lacak/{code}")
    page.get_by_role("link", name="Perbaiki usulan").click()
    page.wait_for_url(f"**/lacak/{code}/perbaiki")
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    page.fill("#revision_secret", secret)
    page.set_input_files("#photos", str(photo))
    assert page.locator("#photos").is_visible()
    page.get_by_role("button", name="Kirim perbaikan").click()

    page.wait_for_url(f"**/lacak/{code}")
    assert "Diajukan, menunggu verifikasi" in page.content()
    assert page.locator(".photos img").count() == 1
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    context.close()
