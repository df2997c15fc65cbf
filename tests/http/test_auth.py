"""Signing in through the real server: back to the page that asked for it, and never to another site."""

from __future__ import annotations

import uuid

import httpx
import pytest

from tests.http.test_pages import hidden
from tests.http.test_staff import KELURAHAN, PASSWORD, add_user

ASKED = "/petugas/verifikasi?status=dikembalikan&bidang=infrastruktur"


@pytest.fixture(scope="module")
def facilitator(app_database: str) -> str:
    username = f"kembali-{uuid.uuid4().hex[:6]}"
    add_user(app_database, username, "facilitator", "--region", KELURAHAN)
    return username


async def _sign_in(client: httpx.AsyncClient, username: str, form_address: str, back: str | None) -> httpx.Response:
    form = await client.get(form_address)
    assert form.status_code == 200
    fields = {"_csrf_token": hidden(form.text, "_csrf_token"), "username": username, "password": PASSWORD}
    return await client.post("/masuk", data=fields if back is None else {**fields, "kembali": back})


async def test_signing_in_returns_to_the_page_asked_for(client: httpx.AsyncClient, facilitator: str) -> None:
    asked = await client.get(ASKED)
    assert asked.status_code == 303
    sign_in = asked.headers["location"]
    assert sign_in == "/masuk?kembali=/petugas/verifikasi%3Fstatus%3Ddikembalikan%26bidang%3Dinfrastruktur"
    form = await client.get(sign_in)
    assert hidden(form.text, "kembali") == ASKED
    signed_in = await _sign_in(client, facilitator, sign_in, hidden(form.text, "kembali"))
    assert signed_in.status_code == 303 and signed_in.headers["location"] == ASKED
    assert (await client.get(ASKED)).status_code == 200


async def test_a_wrong_password_keeps_the_page_to_return_to(client: httpx.AsyncClient, facilitator: str) -> None:
    form = await client.get("/masuk?kembali=/petugas/verifikasi")
    typed = {"_csrf_token": hidden(form.text, "_csrf_token"), "username": facilitator, "password": "salah",
             "kembali": "/petugas/verifikasi"}  # fmt: skip
    refused = await client.post("/masuk", data=typed)
    assert refused.status_code == 401 and hidden(refused.text, "kembali") == "/petugas/verifikasi"


@pytest.mark.parametrize(
    "elsewhere",
    ["//evil.example/", "https://evil.example/", "/\\evil.example", "\\\\evil.example", "/\t/evil.example",
     "/%0a/x\n/evil.example", "javascript:alert(1)", "evil.example", "/" + "a" * 3000],
)  # fmt: skip
async def test_a_page_to_return_to_on_another_site_is_ignored(
    client: httpx.AsyncClient, facilitator: str, elsewhere: str
) -> None:
    form = await client.get("/masuk", params={"kembali": elsewhere})
    assert form.status_code == 200 and 'name="kembali"' not in form.text
    signed_in = await _sign_in(client, facilitator, "/masuk", elsewhere)  # a form made elsewhere
    assert signed_in.status_code == 303 and signed_in.headers["location"] == "/petugas"
