"""A review of the residents' pages through the real server: a revision sent again after an edit is told
in words, not as a technical key conflict; a tracking code pasted from a chat (invisible characters, a
phone's dash) is found; a photo's error is read with its field; a resident who cannot link an earlier
proposal (its secret lost) can still send what they typed as a new proposal."""

from __future__ import annotations

import html
import re
import uuid

import asyncpg
import httpx

from tests.http.conftest import event_count, payload
from tests.http.test_pages import FORM_FIELDS, hidden, open_form, send_form
from tests.http.test_staff import KELURAHAN, token, users  # noqa: F401  (a fixture)
from tests.waiting import eventually


async def _proposed(client: httpx.AsyncClient) -> tuple[str, str]:
    r = await client.post("/api/v1/proposals", json=payload(kelurahan=KELURAHAN),
                          headers={"Idempotency-Key": str(uuid.uuid4())})  # fmt: skip
    assert r.status_code == 201, r.text
    return r.json()["code"], r.json()["revision_secret"]


def _tag(page: str, element_id: str) -> str:
    match = re.search(rf'<[a-z]+ [^>]*id="{element_id}"[^>]*>', page)
    assert match, f"no element {element_id}"
    return match.group(0)


def revision_fields(form: str, secret: str) -> dict[str, str]:
    """A revision form (`/lacak/{code}/perbaiki`) as a proposer fills it in, with its hidden fields."""
    return {"_csrf_token": hidden(form, "_csrf_token"), "idempotency_key": hidden(form, "idempotency_key"),
            "revision_secret": secret, "kelurahan": KELURAHAN, "rw": "5", "rt": "3", "kind": "fisik",
            "bidang": "infrastruktur", "title": "Perbaikan saluran air RT 3",
            "problem": "Saluran tersumbat sehingga banjir", "solution": "Normalisasi saluran 150 meter",
            "beneficiaries": "300", "volume": "150", "unit": "meter", "estimated_cost": "25 juta",
            "address": "Jl. Melati, depan masjid"}  # fmt: skip


async def test_a_revision_sent_again_after_an_edit_is_told_so_not_as_a_key_conflict(
    client: httpx.AsyncClient,
    users: dict[str, str],  # noqa: F811
    app_pool: asyncpg.Pool,
) -> None:
    """The proposer sends their revision, goes Back, fixes a typo and sends again: the answer was a bare
    409 page saying "Idempotency-Key ini sudah dipakai untuk kiriman yang berbeda"."""
    code, secret, form = await returned_for_revision(client, users)
    fields = revision_fields(form, secret)
    sent = await client.post(f"/lacak/{code}/perbaiki", data=fields)
    assert sent.status_code == 303, sent.text
    before = await event_count(app_pool)
    again = await client.post(f"/lacak/{code}/perbaiki", data={**fields, "title": "Perbaikan saluran air RT 03"})
    assert again.status_code == 409
    assert "Formulir perbaikan ini sudah terkirim sebelumnya" in again.text, again.text
    assert "Idempotency-Key" not in again.text and f'href="/lacak/{code}"' in again.text
    assert await event_count(app_pool) == before


async def test_a_tracking_code_pasted_with_invisible_characters_or_another_dash_is_found(
    client: httpx.AsyncClient, app_pool: asyncpg.Pool
) -> None:
    """Copied from a chat or typed on a phone, "7KQ2–M9XD" (an en dash), a zero-width space or a direction
    mark made the code "not 8 letters and digits", though the page shows nothing wrong with it."""
    code, _ = await _proposed(client)
    for typed in (f"{code[:4]}\u2013{code[4:]}", f"{code[:4]}\u2011{code[4:]}", f"\u200f{code[:4]}\u200b{code[4:]}",
                  f"\ufeff{code.lower()}", f"{code[:4]}\u2014{code[4:]} "):  # fmt: skip
        r = await client.get("/lacak", params={"kode": typed})
        assert (r.status_code, r.headers.get("location")) == (303, f"/lacak/{code}"), repr(typed)
    email = f"warga.{uuid.uuid4().hex[:8]}@contoh.id"
    follow = await client.get("/ikuti")
    r = await client.post("/ikuti", data={"_csrf_token": hidden(follow.text, "_csrf_token"), "email": email,
                                          "subject": f"{code[:4]}\u2013{code[4:]}\u200b"})  # fmt: skip
    assert r.status_code == 200, r.text
    assert await app_pool.fetchval("SELECT subject FROM subscriptions WHERE address = $1", email) == code
    bad = await client.get("/lacak", params={"kode": "x" * 5000})
    assert bad.status_code == 422 and "8 huruf dan angka" in bad.text and "x" * 101 not in bad.text


async def test_a_photo_refused_is_read_with_its_field(client: httpx.AsyncClient) -> None:
    """Every other field's error is tied to its control (aria-describedby); the photo's was not, so a
    screen reader on the file field said nothing of why the form came back."""
    r = await send_form(client, await open_form(client), FORM_FIELDS, photos=[b"bukan foto"])
    assert r.status_code == 422
    assert 'id="photos-error"' in r.text
    control = _tag(r.text, "photos")
    assert 'aria-describedby="photos-error"' in control and 'aria-invalid="true"' in control


async def test_a_form_sent_after_submissions_closed_shows_back_what_was_written(
    client: httpx.AsyncClient, app_pool: asyncpg.Pool
) -> None:
    """A form typed while the window closed (or for a year no longer taking proposals) was answered with
    one sentence, and the quarter of an hour the resident spent writing was gone. What they wrote comes back,
    to copy; nothing is stored."""
    tokens = await open_form(client)
    problem = "Saluran tersumbat <sampah> sehingga banjir & jalan rusak"
    fields = {**FORM_FIELDS, "kelurahan": KELURAHAN, "year": "2031", "problem": problem}
    before = await event_count(app_pool)
    closed = await send_form(client, tokens, fields)
    assert closed.status_code == 409 and "Usulan ini belum tersimpan" in closed.text
    assert 'id="kept-problem" readonly' in closed.text and html.escape(problem, quote=False) in closed.text
    assert FORM_FIELDS["title"] in closed.text and FORM_FIELDS["proposer_phone"] not in closed.text
    assert await event_count(app_pool) == before


async def returned_for_revision(client: httpx.AsyncClient, users: dict[str, str]) -> tuple[str, str, str]:  # noqa: F811
    """A new proposal returned to its proposer: its code, revision secret and revision form's page (once
    the server's read model has the return)."""
    code, secret = await _proposed(client)
    auth = await token(client, users["kelurahan"])
    returned = await client.post(f"/api/v1/proposals/{code}/verification", headers=auth,
                                 json={"decision": "return", "reason": "Sebutkan RT yang dilalui"})  # fmt: skip
    assert returned.status_code == 200, returned.text

    async def revision_form() -> str | None:
        page = (await client.get(f"/lacak/{code}/perbaiki")).text
        return page if "Kirim perbaikan" in page else None

    return code, secret, await eventually(revision_form, "the revision form")
