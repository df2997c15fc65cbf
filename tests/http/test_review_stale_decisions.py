"""A decision taken on a page opened before the content was revised (session 19's review): a pokir returned,
revised to Rp 2 miliar and waiting again looked to the secretariat's open page as it did before, and "Lengkap:
teruskan" forwarded a content no one had read; the facilitator's queue did the same with a resident's
proposal. Each decision form now names the revision it showed (`seen_revision`), and one revised since is
refused, nothing written; read again, it goes through."""

from __future__ import annotations

import uuid

import asyncpg
import httpx

from tests.http import test_pokir
from tests.http.city_setup import sign_in
from tests.http.conftest import event_count, payload
from tests.http.test_pages import hidden
from tests.http.test_pokir import POKIR, _events, _submit
from tests.http.test_review_residents import returned_for_revision, revision_fields
from tests.http.test_staff import KELURAHAN, token, users  # noqa: F401  (a fixture)
from tests.waiting import eventually

dprd = test_pokir.dprd  # the module's own copy of its history and server
CHANGED = "sudah diperbaiki sejak halaman ini dibuka"


async def new_pokir_form(member: httpx.AsyncClient, **changes: str) -> dict[str, str]:
    """A member's new-pokir form as the page gives it (its token and key), filled with POKIR and `changes`."""
    page = await member.get("/petugas/pokir/baru")
    return {k: str(v) for k, v in POKIR.items()} | {"_csrf_token": hidden(page.text, "_csrf_token"),
                                                    "idempotency_key": hidden(page.text, "idempotency_key"),
                                                    **changes}  # fmt: skip


async def _return_and_revise(client: httpx.AsyncClient, ctx: dict, code: str) -> None:
    """Bappeda returns the pokir and its member revises it to Rp 2 miliar (its revision 1)."""
    returned = await client.post(f"/api/v1/pokir/{code}/return", json={"reason": "lengkapi foto"},
                                 headers=ctx["auth"]["admin"])  # fmt: skip
    assert returned.status_code == 200, returned.text
    revised = await client.post(f"/api/v1/pokir/{code}/revise", headers=ctx["auth"]["member"], json={
        **{k: v for k, v in POKIR.items() if k != "year"}, "title": "Pembangunan gedung DPRD dapil",
        "estimated_cost": 2_000_000_000})  # fmt: skip
    assert revised.status_code == 200, revised.text


async def _revised_pokir(client: httpx.AsyncClient, ctx: dict, title: str) -> str:
    """A pokir returned by Bappeda and revised by its member (revision 1)."""
    code = (await _submit(client, ctx["auth"]["member"], title=title)).json()["code"]
    await _return_and_revise(client, ctx, code)
    return code


async def test_the_secretariat_cannot_forward_a_pokir_revised_since_its_page_was_opened(dprd) -> None:  # noqa: ANN001
    client, pool, ctx = dprd
    code = (await _submit(client, ctx["auth"]["member"], title="Perbaikan jalan lingkungan")).json()["code"]
    setwan = await sign_in(str(client.base_url), f"setwan-{ctx['tag']}")
    try:
        opened = await setwan.get(f"/petugas/pokir/{code}")  # read at revision 0: Rp 300 juta
        forward = opened.text[opened.text.index("/teruskan"):]
        stale = {"_csrf_token": hidden(opened.text, "_csrf_token"), "note": "sudah lengkap",
                 "idempotency_key": hidden(forward, "idempotency_key"),
                 "seen_revision": hidden(forward, "seen_revision")}  # fmt: skip
        assert stale["seen_revision"] == "0"
        await _return_and_revise(client, ctx, code)
        before = await _events(pool)
        refused = await setwan.post(f"/petugas/pokir/{code}/teruskan", data=stale)
        assert refused.status_code == 422 and CHANGED in refused.text, refused.text[-3000:]
        assert await _events(pool) == before
        assert (await client.get(f"/api/v1/pokir/{code}")).json()["status"] == "diajukan"
        # The page shown with the refusal is the new content, and its form names revision 1: it goes through.
        assert "Pembangunan gedung DPRD dapil" in refused.text
        again = refused.text[refused.text.index("/teruskan"):]
        assert hidden(again, "seen_revision") == "1"
        done = await setwan.post(f"/petugas/pokir/{code}/teruskan", data={
            **stale, "seen_revision": "1", "idempotency_key": hidden(again, "idempotency_key")})  # fmt: skip
        assert done.status_code == 303, done.text[-2000:]
        assert (await client.get(f"/api/v1/pokir/{code}")).json()["status"] == "diteruskan_setwan"
    finally:
        await setwan.aclose()


async def test_the_pokir_api_refuses_a_check_on_an_earlier_revision_and_shows_the_revision(dprd) -> None:  # noqa: ANN001
    client, pool, ctx = dprd
    code = await _revised_pokir(client, ctx, "Pokir diperiksa lewat API")
    shown = (await client.get(f"/api/v1/pokir/{code}")).json()
    assert shown["revision"] == 1
    before = await _events(pool)
    stale = await client.post(f"/api/v1/pokir/{code}/forward", json={"seen_revision": 0},
                              headers=ctx["auth"]["setwan"])  # fmt: skip
    assert stale.status_code == 409 and CHANGED in stale.json()["message"], stale.text
    odd = await client.post(f"/api/v1/pokir/{code}/forward", json={"seen_revision": -1},
                            headers=ctx["auth"]["setwan"])  # fmt: skip
    assert odd.status_code == 422 and "seen_revision" in odd.json()["errors"], odd.text
    assert await _events(pool) == before
    done = await client.post(f"/api/v1/pokir/{code}/return", json={"reason": "RAB belum ada", "seen_revision": 1},
                             headers=ctx["auth"]["setwan"])  # fmt: skip
    assert done.status_code == 200, done.text


async def test_a_facilitator_cannot_accept_a_proposal_revised_since_the_queue_was_opened(
    client: httpx.AsyncClient,
    users: dict[str, str],  # noqa: F811
    app_pool: asyncpg.Pool,
) -> None:
    code, secret, form = await returned_for_revision(client, users)
    facilitator = await sign_in(str(client.base_url), users["kelurahan"])
    try:
        # The queue as it was before the return: its form for this proposal named revision 0.
        stale = {"_csrf_token": hidden((await facilitator.get("/masuk")).text, "_csrf_token"), "decision": "accept",
                 "seen_revision": "0"}  # fmt: skip
        sent = await client.post(f"/lacak/{code}/perbaiki", data=revision_fields(form, secret))
        assert sent.status_code == 303, sent.text

        async def revised() -> bool:
            shown = (await client.get(f"/api/v1/proposals/{code}")).json()
            return shown["revision"] == 1 and shown["status"] == "diajukan"

        await eventually(revised, "the revision in the read model")
        queue = (await facilitator.get("/petugas/verifikasi", params={"halaman": "1"})).text
        assert 'name="seen_revision" value="' in queue
        before = await event_count(app_pool)
        refused = await facilitator.post(f"/petugas/verifikasi/{code}", data=stale)
        assert refused.status_code == 422 and CHANGED in refused.text, refused.text[-3000:]
        auth = await token(client, users["kelurahan"])
        api = await client.post(f"/api/v1/proposals/{code}/verification", headers=auth,
                                json={"decision": "accept", "seen_revision": 0})  # fmt: skip
        assert api.status_code == 409 and CHANGED in api.json()["message"], api.text
        assert await event_count(app_pool) == before
        done = await facilitator.post(f"/petugas/verifikasi/{code}", data={**stale, "seen_revision": "1"})
        assert done.status_code == 303, done.text[-2000:]
        odd = await facilitator.post(f"/petugas/verifikasi/{code}", data={**stale, "seen_revision": "satu"})
        assert odd.status_code == 400
    finally:
        await facilitator.aclose()


async def test_a_pokir_form_sent_again_after_an_edit_goes_to_what_the_first_made(dprd) -> None:  # noqa: ANN001
    """Back, the title changed, sent again under the form's key: a bare 409 page said "Idempotency-Key ini
    sudah dipakai", and the member lost the form. Now: the pokir the first sending made, with a notice; the
    revision form likewise shows the pokir as the first revision left it."""
    client, pool, ctx = dprd
    member = await sign_in(str(client.base_url), f"member-{ctx['tag']}")
    try:
        fields = await new_pokir_form(member, title="Pokir dikirim dua kali")
        first = await member.post("/petugas/pokir/baru", data=fields)
        assert first.status_code == 303, first.text[-2000:]
        before = await _events(pool)
        again = await member.post("/petugas/pokir/baru", data={**fields, "title": "Pokir dikirim dua kali, diubah"})
        assert again.status_code == 303 and again.headers["location"] == first.headers["location"], again.text[-2000:]
        shown = await member.get(again.headers["location"])
        assert "sudah terkirim sebelumnya dengan isi lain" in shown.text and "Idempotency-Key" not in shown.text
        assert await _events(pool) == before
        code = first.headers["location"].rsplit("/", 1)[1]
        returned = await client.post(f"/api/v1/pokir/{code}/return", json={"reason": "lengkapi foto"},
                                     headers=ctx["auth"]["setwan"])  # fmt: skip
        assert returned.status_code == 200, returned.text
        form = (await member.get(f"/petugas/pokir/{code}")).text
        revision = {**fields, "idempotency_key": hidden(form[form.index("/perbaiki"):], "idempotency_key"),
                    "title": "Pokir diperbaiki sekali"}  # fmt: skip
        assert (await member.post(f"/petugas/pokir/{code}/perbaiki", data=revision)).status_code == 303
        before = await _events(pool)
        edited = await member.post(f"/petugas/pokir/{code}/perbaiki", data={**revision, "title": "Diperbaiki lagi"})
        assert edited.status_code == 409 and "sudah terkirim sebelumnya dengan isi lain" in edited.text
        assert "Idempotency-Key" not in edited.text and "Pokir diperbaiki sekali" in edited.text
        assert await _events(pool) == before
    finally:
        await member.aclose()


async def test_the_queue_shows_the_cost_a_facilitator_agreed(
    client: httpx.AsyncClient,
    users: dict[str, str],  # noqa: F811
) -> None:
    """An accepted-with-changes row showed only "Diterima dengan perubahan — a": a cost raised forty-six
    times by a slip of the keyboard went unseen in the queue."""
    code = (await client.post("/api/v1/proposals", json=payload(kelurahan=KELURAHAN),
                              headers={"Idempotency-Key": str(uuid.uuid4())})).json()["code"]  # fmt: skip
    auth = await token(client, users["kelurahan"])
    decided = await client.post(f"/api/v1/proposals/{code}/verification", headers=auth, json={
        "decision": "accept_with_changes", "reason": "harga satuan naik", "agreed_cost": 31_500_000})  # fmt: skip
    assert decided.status_code == 200, decided.text
    facilitator = await sign_in(str(client.base_url), users["kelurahan"])
    try:
        async def shown() -> str | None:
            for number in range(1, 50):
                page = await facilitator.get("/petugas/verifikasi", params={"status": "diterima_dengan_perubahan",
                                                                            "halaman": str(number)})  # fmt: skip
                if f'id="usulan-{code}"' in page.text:
                    return page.text[page.text.index(f'id="usulan-{code}"'):][:3000]
                if 'rel="next"' not in page.text:
                    return None
            return None

        row = await eventually(shown, "the decided proposal in the queue")
        assert "<strong>Rp31.500.000</strong>" in row.replace("Rp ", "Rp").replace("\xa0", ""), row
    finally:
        await facilitator.aclose()
