"""Two cycles side by side, and a need carried from one year into the next: RKPD 2022 is adopted and
refuses anything new, RKPD 2023 takes proposals; a resident proposes their 2022 proposal again from its
tracking page in a real browser (Debian's Chromium, 360 px), with the secret code they kept, and the new
proposal's page and lineage show both years. A facilitator can carry a need on for a resident; nothing
that was accommodated, or already carried, goes forward again."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest

from musrenbang.services.cycles import today
from musrenbang.services.proposals import ProposalService
from tests import history
from tests.e2e.conftest import needs_chromium
from tests.http.conftest import payload
from tests.http.test_staff import PASSWORD, add_user
from tests.server import serving

pytestmark = pytest.mark.slow
SECRET = b"s" * 32
"""The server secret tests/history.py derives its proposers' secret codes from."""
years_url: list[str] = []
"""The fixture's database, for adding an account."""


@pytest.fixture(scope="module")
async def years(server_url: str, template_name: str) -> AsyncIterator[tuple[str, dict[str, str], dict[str, str]]]:
    """A server on its own copy of the history: 2022 adopted, 2023 open. Yields its address, the 2022
    proposals by name (a0..a4, b0, b1) and a facilitator's bearer header."""
    async with history.database(server_url, template_name) as (url, built):
        names = dict(zip(("a0", "a1", "a2", "a3", "a4", "b0", "b1"), built.codes, strict=True))
        facilitator = f"fasilitator-{uuid.uuid4().hex[:6]}"
        add_user(url, facilitator, "facilitator", "--region", history.KECAMATAN)
        years_url[:] = [url]
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


async def test_the_same_carry_over_form_sent_twice_answers_the_same_proposal(years) -> None:  # noqa: ANN001
    """A 2023 proposal returned for revision is proposed again for 2024 through the form; the form sent
    twice (a double tap, a refresh after a slow answer) finds the earlier proposal already carried on — by
    this very form — and answers with the same proposal and secret code, not with an error. Proposals in
    the RKPD, or merged into another, are refused beside the field."""
    from tests.http.test_pages import code_on, hidden

    base_url, c, facilitator = years
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:
        made = await client.post("/api/v1/proposals", json=payload(kelurahan=history.KELURAHAN_A), headers=key())
        returned = made.json()["code"]
        r = await client.post(f"/api/v1/proposals/{returned}/verification", headers=facilitator,
                              json={"decision": "return", "reason": "lengkapi foto lokasi"})  # fmt: skip
        assert r.status_code == 200, r.text
        admin = f"bappeda-{uuid.uuid4().hex[:6]}"
        add_user(years_url[0], admin, "admin")
        token = (await client.post("/api/v1/auth/token", json={"username": admin, "password": PASSWORD})).json()
        first_day = today() - dt.timedelta(days=1)
        stages = ("usulan", "kelurahan", "kecamatan", "perangkat_daerah", "kota", "ditetapkan")
        calendar = [{"stage": s, "opens": str(first_day), "closes": str(first_day + dt.timedelta(days=60))}
                    for s in stages]  # fmt: skip
        opened = await client.post("/api/v1/cycles", headers={"Authorization": f"Bearer {token['token']}"}, json={
            "year": 2024, "theme": "Tahun berikutnya", "priority_programs": [{"title": "Program satu"}],
            "calendar": calendar})  # fmt: skip
        assert opened.status_code == 201, opened.text

        def fields(form: httpx.Response, earlier: str, kelurahan: str) -> dict[str, str]:
            out = {n: hidden(form.text, n) for n in ("_csrf_token", "idempotency_key", "year", "carried_from")}
            assert (out["year"], out["carried_from"]) == ("2024", earlier)
            out.update(kelurahan=kelurahan, rw="3", rt="1", kind="fisik", bidang="infrastruktur",
                       title="Perbaikan saluran diusulkan lagi",
                       problem="Masalah yang cukup panjang", solution="Penyelesaian yang jelas", beneficiaries="40",
                       volume="10", unit="meter", estimated_cost="10 juta", address="Jl. Uji",
                       proposer_name="Rina Marlina Siregar", proposer_phone="0838-6677-1605",
                       revision_secret=secret_of(earlier))  # fmt: skip
            return out

        for earlier, kelurahan, why in ((c["b0"], history.KELURAHAN_B, "belum selesai atau sudah diakomodasi"),
                                        (c["a4"], history.KELURAHAN_A, "belum selesai atau sudah diakomodasi")):
            # Said before the form is shown, by the rule the submission applies (review s22: the form came
            # filled in, and the refusal only once it was sent).
            refused = await client.get(f"/usulan/baru?lanjutan={earlier}")
            assert refused.status_code == 409 and why in refused.text, refused.text[:500]
            assert 'id="tidak-dapat-diusulkan-lagi"' in refused.text and 'name="carried_from"' not in refused.text
            assert kelurahan in refused.text  # a fresh proposal for that kelurahan is one link away

        form = await client.get(f"/usulan/baru?lanjutan={returned}")
        sent = fields(form, returned, history.KELURAHAN_A)
        first, second = [await client.post("/usulan/baru", data=sent) for _ in range(2)]
        assert first.status_code == second.status_code == 200, second.text
        assert code_on(first.text) == code_on(second.text)
        assert 'id="revision-secret"' in second.text  # the secret code shown again
        again = (await client.get(f"/api/v1/proposals/{code_on(first.text)}")).json()
        assert [h["year"] for h in again["history"]] == [2023, 2024]


@needs_chromium
def test_a_resident_proposes_a_need_again_from_its_tracking_page(years, browser) -> None:  # noqa: ANN001
    base_url, c, _ = years
    page = browser.new_page(viewport={"width": 360, "height": 740}, is_mobile=True, has_touch=True)
    page.goto(f"{base_url}/lacak/{c['b1']}")  # left out by the kecamatan forum (over its ceiling)
    page.get_by_role("link", name="Usulkan lagi untuk RKPD 2023").click()
    page.wait_for_url(f"**/usulan/baru?lanjutan={c['b1']}&tahun=2023")  # the soonest year taking it, of two
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
