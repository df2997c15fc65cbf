"""What a resident types and reads, through the real server: amounts as bank slips write them, a phone
number or a location that is wrong in a way the page names, and a timeline that reads as sentences."""

from __future__ import annotations

import html
import re
import uuid

import asyncpg
import httpx

from tests.http.conftest import event_count
from tests.http.test_pages import FORM_FIELDS, code_on, open_form, send_form
from tests.http.test_staff import KELURAHAN, add_user, new_proposal, token


def _error(page: str, field: str) -> str:
    match = re.search(rf'id="{field}-error">([^<]*)<', page)
    assert match, f"no error beside {field}"
    return html.unescape(match.group(1))


async def test_an_amount_with_zero_sen_is_taken_as_typed(client: httpx.AsyncClient) -> None:
    r = await send_form(client, await open_form(client), {**FORM_FIELDS, "estimated_cost": "Rp2.500.000,00"})
    assert r.status_code == 200, r.text
    assert "Rp 2.500.000" in (await client.get(f"/lacak/{code_on(r.text)}")).text


async def test_an_amount_with_sen_is_refused_saying_so(client: httpx.AsyncClient, app_pool: asyncpg.Pool) -> None:
    before = await event_count(app_pool)
    r = await send_form(client, await open_form(client), {**FORM_FIELDS, "estimated_cost": "2.500.000,50"})
    assert r.status_code == 422
    assert _error(r.text, "estimated_cost").startswith("biaya dalam rupiah bulat, tanpa sen")
    assert 'value="2.500.000,50"' in r.text and await event_count(app_pool) == before


async def test_a_phone_number_too_short_is_called_too_short(client: httpx.AsyncClient) -> None:
    r = await send_form(client, await open_form(client), {**FORM_FIELDS, "proposer_phone": "08123"})
    assert r.status_code == 422
    message = _error(r.text, "proposer_phone")
    assert "terlalu pendek" in message and "diawali" not in message


async def test_swapped_latitude_and_longitude_are_pointed_out(client: httpx.AsyncClient) -> None:
    swapped = {**FORM_FIELDS, "latitude": "106.9756", "longitude": "-6.2383"}
    r = await send_form(client, await open_form(client), swapped)
    assert r.status_code == 422
    assert _error(r.text, "latitude").endswith("garis lintang dan garis bujur tertukar?")
    assert _error(r.text, "longitude").endswith("garis lintang dan garis bujur tertukar?")
    right = await send_form(client, await open_form(client), {**FORM_FIELDS, "latitude": "-6.2383",
                                                              "longitude": "106.9756"})  # fmt: skip
    assert right.status_code == 200, right.text


async def test_a_timeline_entry_with_agreed_changes_reads_as_a_sentence(
    client: httpx.AsyncClient, app_database: str
) -> None:
    facilitator = f"lacak-{uuid.uuid4().hex[:8]}"
    add_user(app_database, facilitator, "facilitator", "--region", KELURAHAN)
    code = await new_proposal(client, volume=150, unit="meter")
    decision = {"decision": "accept_with_changes", "agreed_volume": "80", "agreed_cost": 75_000_000,
                "reason": "Hasil survei lapangan"}  # fmt: skip
    r = await client.post(f"/api/v1/proposals/{code}/verification", json=decision,
                          headers=await token(client, facilitator))  # fmt: skip
    assert r.status_code == 200, r.text
    page = (await client.get(f"/lacak/{code}")).text
    timeline = page.split("<h2>Riwayat</h2>")[1].split("</ol>")[0]
    entries = [" ".join(html.unescape(re.sub(r"<[^>]+>", "", li)).split()) for li in timeline.split("<li>")[1:]]
    assert any(e.endswith("Diterima dengan perubahan: volume disepakati 80 meter, biaya disepakati Rp 75.000.000"
                          " — Hasil survei lapangan") for e in entries), entries  # fmt: skip
