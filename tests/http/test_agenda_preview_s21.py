"""A scheduled forum's page shows what opening it now would put on its agenda (review s20: a facilitator
could not see the agenda before opening, when it is frozen): the proposals accepted in its kelurahan, with
their costs and total, said to be provisional (opening reads it again, fresh, and freezes that)."""

from __future__ import annotations

import re
import uuid

import httpx
import pytest

from tests.http.conftest import payload
from tests.http.test_pages import hidden
from tests.http.test_staff import KELURAHAN, token
from tests.http.test_staff_screens_s20 import Site, _as, _schedule, site  # noqa: F401  (a fixture)

pytestmark = pytest.mark.slow


async def _accepted(client: httpx.AsyncClient, auth: dict[str, str], year: int, title: str, cost: int) -> str:
    r = await client.post("/api/v1/proposals", json=payload(kelurahan=KELURAHAN, year=year, title=title,
                                                           estimated_cost=cost),
                          headers={"Idempotency-Key": str(uuid.uuid4()), "X-Forwarded-For": "10.21.0.1"})  # fmt: skip
    assert r.status_code == 201, r.text
    code = r.json()["code"]
    r = await client.post(f"/api/v1/proposals/{code}/verification", json={"decision": "accept"}, headers=auth)
    assert r.status_code == 200, r.text
    return code


async def test_a_scheduled_forum_shows_its_provisional_agenda(site: Site) -> None:  # noqa: F811
    async with httpx.AsyncClient(base_url=site.base_url, timeout=30) as client:
        auth = await token(client, site.users["facilitator"])
        codes = [await _accepted(client, auth, site.year, f"Agenda sementara {n}", cost)
                 for n, cost in ((1, 12_000_000), (2, 8_000_000))]  # fmt: skip
        waiting = await client.post("/api/v1/proposals", json=payload(kelurahan=KELURAHAN, year=site.year,
                                                                       title="Belum diverifikasi"),
                                    headers={"Idempotency-Key": str(uuid.uuid4()), "X-Forwarded-For": "10.21.0.2"})
        assert waiting.status_code == 201
    async with _as(site, "facilitator") as staff:
        forum_id = await _schedule(staff, "Musrenbang dengan agenda sementara")
        page = (await staff.get(f"/forum/{forum_id}")).text
    preview = page.split('id="agenda-sementara"')[1].split("</form>")[0]
    for code in codes:
        assert f'href="/lacak/{code}"' in preview
    assert "Agenda sementara 1" in preview and "Rp 12.000.000" in preview
    assert waiting.json()["code"] not in preview  # not accepted: not on an agenda
    assert re.search(r"2 usulan, jumlah Rp 20\.000\.000 · pagu Rp 50\.000\.000", preview)
    assert "Agenda ditetapkan saat musyawarah dibuka" in preview
    assert 'action="/forum/' + forum_id + '/buka"' in page and hidden(page, "_csrf_token")
