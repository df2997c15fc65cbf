"""Two cycles side by side, and a need carried from one year into the next: RKPD 2022 is adopted and
refuses anything new, RKPD 2023 takes proposals; a resident proposes their 2022 proposal again from its
tracking page in a real browser (Debian's Chromium, 360 px), with the secret code they kept, and the new
proposal's page and lineage show both years. A facilitator can carry a need on for a resident; nothing
that was accommodated, or already carried, goes forward again."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import httpx
import pytest

from musrenbang.db.connect import create_pool
from musrenbang.eventlog.store import EventStore
from musrenbang.services.proposals import ProposalService
from tests import history
from tests.conftest import _throwaway_database
from tests.e2e.conftest import needs_chromium
from tests.http.conftest import payload
from tests.http.test_staff import PASSWORD, add_user
from tests.server import serving

pytestmark = pytest.mark.slow
SECRET = b"s" * 32
"""The server secret tests/history.py derives its proposers' secret codes from."""


@pytest.fixture(scope="module")
async def years(server_url: str, template_name: str) -> AsyncIterator[tuple[str, dict[str, str], dict[str, str]]]:
    """A server on its own copy of the history: 2022 adopted, 2023 open. Yields its address, the 2022
    proposals by name (a0..a4, b0, b1) and a facilitator's bearer header."""
    async with _throwaway_database(server_url, template_name) as url:
        pool = await create_pool(url, min_size=1, max_size=5)
        try:
            built = await history.build(pool, EventStore(pool))
        finally:
            await pool.close()
        names = dict(zip(("a0", "a1", "a2", "a3", "a4", "b0", "b1"), built.codes, strict=True))
        facilitator = f"fasilitator-{uuid.uuid4().hex[:6]}"
        add_user(url, facilitator, "facilitator", "--region", history.KECAMATAN)
        with serving(url, extra_env={"MUSRENBANG_SECRET_KEY": SECRET.hex()}) as server:
            async with httpx.AsyncClient(base_url=server.base_url, timeout=30) as http:
                r = await http.post("/api/v1/auth/token", json={"username": facilitator, "password": PASSWORD})
                yield server.base_url, names, {"Authorization": f"Bearer {r.json()['token']}"}


def secret_of(code: str) -> str:
    return ProposalService(None, None, SECRET, None).revision_secret(code)  # type: ignore[arg-type]


def key() -> dict[str, str]:
    return {"Idempotency-Key": str(uuid.uuid4())}


async def test_an_adopted_year_refuses_and_the_next_takes_proposals(years) -> None:  # noqa: ANN001
    base_url, _, _ = years
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:
        cycles = {c["year"]: c for c in (await client.get("/api/v1/cycles")).json()}
        assert (cycles[2022]["stage"], cycles[2022]["adopted"]) == ("ditetapkan", True)
        assert cycles[2023]["adopted"] is False and [w["stage"] for w in cycles[2023]["calendar"]][0] == "usulan"
        assert cycles[2023]["window_changes"][0]["reason"] == "diperpanjang: banyak RW belum mengusulkan"
        late = await client.post("/api/v1/proposals", json=payload(year=2022), headers=key())
        assert late.status_code == 409 and "RKPD 2022 sudah ditetapkan" in late.json()["message"]
        r = await client.post("/api/v1/proposals", json=payload(), headers=key())  # no year: the open one
        assert r.status_code == 201, r.text
        assert (await client.get(f"/api/v1/proposals/{r.json()['code']}")).json()["year"] == 2023
        assert (await client.get("/rkpd/2022")).status_code == 200
        assert (await client.get("/rkpd/2023")).status_code == 200


async def test_who_may_carry_a_need_on_and_which(years) -> None:  # noqa: ANN001
    base_url, c, facilitator = years
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:
        here = {"kelurahan": history.KELURAHAN_A}

        async def carry(code: str, headers: dict[str, str] | None = None, **extra: object) -> httpx.Response:
            body = payload(**here, carried_from=code, **extra)
            return await client.post("/api/v1/proposals", json=body, headers={**key(), **(headers or {})})

        assert (await carry(c["a2"])).status_code == 403  # neither the secret nor a facilitator
        assert (await carry(c["a2"], revision_secret="SALAH")).status_code == 403
        assert (await carry(c["a0"], facilitator)).status_code == 409  # it is in the RKPD 2022
        assert (await carry(c["a3"], facilitator)).status_code == 409  # carried into 2023 already
        other = await client.post("/api/v1/proposals", headers={**key(), **facilitator},
                                  json=payload(kelurahan=history.KELURAHAN_B, carried_from=c["a2"]))  # fmt: skip
        assert other.status_code == 422 and "kelurahan" in other.json()["errors"]  # the same place only
        r = await carry(c["a2"], facilitator)  # rejected in 2022: a facilitator proposes it again
        assert r.status_code == 201, r.text
        again = (await client.get(f"/api/v1/proposals/{r.json()['code']}")).json()
        assert [(h["year"], h["code"], h["outcome"]) for h in again["history"]] == [
            (2022, c["a2"], "ditolak"), (2023, again["code"], "diajukan")]  # fmt: skip
        assert (await client.get(f"/api/v1/proposals/{c['a2']}")).json()["carried_to"] == again["code"]
        assert (await carry(c["a2"], facilitator)).status_code == 409  # once


@needs_chromium
def test_a_resident_proposes_a_need_again_from_its_tracking_page(years, browser) -> None:  # noqa: ANN001
    base_url, c, _ = years
    page = browser.new_page(viewport={"width": 360, "height": 740}, is_mobile=True, has_touch=True)
    page.goto(f"{base_url}/lacak/{c['b1']}")  # left out by the kecamatan forum (over its ceiling)
    page.get_by_role("link", name="Usulkan lagi untuk RKPD 2023").click()
    page.wait_for_url(f"**/usulan/baru?lanjutan={c['b1']}")
    assert page.input_value("#title") == "Usulan nomor 6"  # filled in with what it said in 2022
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    page.fill("#revision_secret", secret_of(c["b1"]))
    page.fill("#title", "Usulan nomor 6, diusulkan lagi")
    page.fill("#proposer_name", "Agus Salim Nasution")
    page.fill("#proposer_phone", "0878-3344-1706")
    page.get_by_role("button", name="Kirim usulan").click()
    page.wait_for_selector(".code")
    code = page.inner_text(".code").replace("-", "").strip()
    page.goto(f"{base_url}/lacak/{code}")
    assert "Diusulkan sejak 2022, 2 kali" in page.inner_text("main")
    assert page.get_by_role("link", name=f"{c['b1'][:4]}-{c['b1'][4:]}").count() >= 1
    page.goto(f"{base_url}/telusur/usulan/{code}")
    text = page.inner_text("main")
    assert "Diusulkan sejak 2022, 2 kali" in text and "Jejak RKPD 2022" in text
    page.goto(f"{base_url}/lacak/{c['b1']}")
    assert "Diusulkan lagi untuk RKPD 2023 sebagai" in page.inner_text("main")
    assert page.get_by_role("link", name="Usulkan lagi untuk RKPD 2023").count() == 0  # once only
    page.close()
