"""A proposal returned for a missing photo ("Lampirkan foto lokasi") is completed through the real server:
by the API (the photo, then the revision with the content unchanged) and by the revision form, which
takes the photo itself; a revision that changes nothing, photo or content, is still refused."""

from __future__ import annotations

import uuid
from html.parser import HTMLParser

import asyncpg
import httpx

from tests.http.conftest import event_count, payload
from tests.http.test_pages import hidden
from tests.http.test_staff import KELURAHAN, PASSWORD, token, users  # noqa: F401  (a fixture)
from tests.images import jpeg_with_gps, png_with_alpha
from tests.waiting import eventually

MISSING_PHOTO = "Lampirkan foto lokasi"


async def _returned_for_a_photo(client: httpx.AsyncClient, users: dict[str, str]) -> tuple[str, str]:  # noqa: F811
    """A new proposal returned by its kelurahan's facilitator for a missing photo: its code and secret,
    once the server's read model shows the return."""
    r = await client.post("/api/v1/proposals", json=payload(kelurahan=KELURAHAN),
                          headers={"Idempotency-Key": str(uuid.uuid4())})  # fmt: skip
    assert r.status_code == 201, r.text
    code, secret = r.json()["code"], r.json()["revision_secret"]
    auth = await token(client, users["kelurahan"])
    returned = await client.post(f"/api/v1/proposals/{code}/verification", headers=auth,
                                 json={"decision": "return", "reason": MISSING_PHOTO})  # fmt: skip
    assert returned.status_code == 200, returned.text

    async def shown_returned() -> bool | None:
        return (await client.get(f"/api/v1/proposals/{code}")).json()["status"] == "dikembalikan" or None

    await eventually(shown_returned, "the return in the read model")
    return code, secret


def _unchanged(secret: str) -> dict[str, object]:
    """The revision body of the API with the content exactly as submitted."""
    body = {k: v for k, v in payload(kelurahan=KELURAHAN).items() if k != "proposer"}
    return {**body, "revision_secret": secret}


async def _upload(client: httpx.AsyncClient, code: str, secret: str, data: bytes) -> httpx.Response:
    return await client.post(f"/api/v1/proposals/{code}/photos", files={"photo": ("lokasi.jpg", data, "image/jpeg")},
                             data={"revision_secret": secret})  # fmt: skip


class _FormFields(HTMLParser):
    """What a browser sends for the revision form as the page shows it: every input with its value (no
    file, only checked boxes), every textarea's text, every select's selected option."""

    def __init__(self) -> None:
        super().__init__()
        self.fields: dict[str, str] = {}
        self._in_form = False
        self._textarea: str | None = None
        self._select: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form" and a.get("action", "").endswith("/perbaiki"):
            self._in_form = True
        if not self._in_form or "name" not in a and tag != "option":
            return
        if tag == "input" and a.get("type") not in ("file", "submit"):
            if a.get("type") not in ("checkbox", "radio") or "checked" in a:
                self.fields[a["name"]] = a.get("value", "")
        elif tag == "textarea":
            self._textarea = a["name"]
            self.fields[a["name"]] = ""
        elif tag == "select":
            self._select = a["name"]
            self.fields.setdefault(a["name"], "")
        elif tag == "option" and self._select and "selected" in a:
            self.fields[self._select] = a.get("value", "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._in_form = False
        elif tag == "textarea":
            self._textarea = None
        elif tag == "select":
            self._select = None

    def handle_data(self, data: str) -> None:
        if self._textarea:
            self.fields[self._textarea] += data


async def _revision_form(client: httpx.AsyncClient, code: str, secret: str) -> dict[str, str]:
    page = await client.get(f"/lacak/{code}/perbaiki")
    assert page.status_code == 200 and "Kirim perbaikan" in page.text, page.text
    parser = _FormFields()
    parser.feed(page.text)
    assert parser.fields["title"] == "Perbaikan saluran air"  # the content as it stands, left unchanged
    return {**parser.fields, "revision_secret": secret}


def _photos(*data: bytes) -> list[tuple[str, tuple[str, bytes, str]]]:
    return [("photos", (f"lokasi{n}.jpg", d, "image/jpeg")) for n, d in enumerate(data)]


async def test_by_the_api_a_photo_then_the_unchanged_content_sends_it_back_to_verification(
    client: httpx.AsyncClient,
    users: dict[str, str],  # noqa: F811
) -> None:
    code, secret = await _returned_for_a_photo(client, users)
    assert (await _upload(client, code, secret, jpeg_with_gps())).status_code == 201
    assert (await client.get(f"/api/v1/proposals/{code}")).json()["status"] == "dikembalikan"  # not by itself

    revised = await client.post(f"/api/v1/proposals/{code}/revision", json=_unchanged(secret))
    assert revised.status_code == 200, revised.text
    shown = revised.json()
    assert (shown["status"], shown["revision"], len(shown["photos"])) == ("diajukan", 1, 1)
    assert [s["kind"] for s in shown["timeline"]][-3:] == ["proposal.returned", "proposal.photo_attached",
                                                           "proposal.revised"]  # fmt: skip
    # Back in the facilitator's queue, and decided there as any proposal waiting for verification.
    async with httpx.AsyncClient(base_url=str(client.base_url), headers=client.headers, timeout=30) as staff:
        form = await staff.get("/masuk")
        await staff.post("/masuk", data={"_csrf_token": hidden(form.text, "_csrf_token"),
                                         "username": users["kelurahan"], "password": PASSWORD})  # fmt: skip
        queue = await staff.get("/petugas/verifikasi", params={"q": code})
        assert queue.status_code == 200 and code in queue.text
    accepted = await client.post(f"/api/v1/proposals/{code}/verification", json={"decision": "accept"},
                                 headers=await token(client, users["kelurahan"]))  # fmt: skip
    assert accepted.status_code == 200, accepted.text


async def test_by_the_api_nothing_changed_is_still_refused(
    client: httpx.AsyncClient,
    users: dict[str, str],  # noqa: F811
    app_pool: asyncpg.Pool,
) -> None:
    code, secret = await _returned_for_a_photo(client, users)
    before = await event_count(app_pool)
    refused = await client.post(f"/api/v1/proposals/{code}/revision", json=_unchanged(secret))
    assert refused.status_code == 409 and refused.json()["message"] == "tidak ada yang berubah", refused.text
    assert await event_count(app_pool) == before
    assert (await client.get(f"/api/v1/proposals/{code}")).json()["status"] == "dikembalikan"


async def test_the_revision_form_takes_the_photo_and_sends_the_proposal_back(
    client: httpx.AsyncClient,
    users: dict[str, str],  # noqa: F811
    app_pool: asyncpg.Pool,
) -> None:
    code, secret = await _returned_for_a_photo(client, users)
    page = (await client.get(f"/lacak/{code}/perbaiki")).text
    assert 'enctype="multipart/form-data"' in page and 'type="file" name="photos"' in page
    fields = await _revision_form(client, code, secret)

    sent = await client.post(f"/lacak/{code}/perbaiki", data=fields, files=_photos(jpeg_with_gps()))
    assert sent.status_code == 303 and sent.headers["location"] == f"/lacak/{code}", sent.text
    shown = (await client.get(f"/api/v1/proposals/{code}")).json()
    assert (shown["status"], shown["revision"], len(shown["photos"])) == ("diajukan", 1, 1)
    track = (await client.get(f"/lacak/{code}")).text
    assert "Diajukan, menunggu verifikasi" in track and "Foto ditambahkan" in track and "/photos/" in track

    before = await event_count(app_pool)  # the very same form again (a double tap): nothing more
    again = await client.post(f"/lacak/{code}/perbaiki", data=fields, files=_photos(jpeg_with_gps()))
    assert again.status_code == 303, again.text
    # Sent again after Back with another photo chosen: said as for any change typed after the form went.
    other = await client.post(f"/lacak/{code}/perbaiki", data=fields, files=_photos(png_with_alpha()))
    assert other.status_code == 409 and "Formulir perbaikan ini sudah terkirim sebelumnya" in other.text
    assert await event_count(app_pool) == before


async def test_the_revision_form_without_a_photo_or_a_change_is_refused(
    client: httpx.AsyncClient,
    users: dict[str, str],  # noqa: F811
    app_pool: asyncpg.Pool,
) -> None:
    code, secret = await _returned_for_a_photo(client, users)
    fields = await _revision_form(client, code, secret)
    before = await event_count(app_pool)
    refused = await client.post(f"/lacak/{code}/perbaiki", data=fields)
    assert refused.status_code == 422 and "tidak ada yang berubah" in refused.text
    assert await event_count(app_pool) == before


async def test_the_revision_forms_photos_are_held_to_the_limits_of_any_photo(
    client: httpx.AsyncClient,
    users: dict[str, str],  # noqa: F811
    app_pool: asyncpg.Pool,
) -> None:
    """The same messages as the new-proposal form and the API; nothing is written by a form refused."""
    code, secret = await _returned_for_a_photo(client, users)
    fields = await _revision_form(client, code, secret)
    before = await event_count(app_pool)
    cases = [
        (fields, _photos(b"bukan foto"), "berkas bukan foto JPEG, PNG atau WebP yang utuh"),
        (fields, _photos(jpeg_with_gps() + b"\0" * (5 * 1024 * 1024)), "foto terlalu besar: paling besar 5 MB"),
        (fields, _photos(*(jpeg_with_gps(color=c) for c in ("red", "green", "blue", "gray"))),
         "paling banyak 3 foto per usulan"),
        ({**fields, "revision_secret": "SALAH0000000000"}, _photos(jpeg_with_gps()),
         "kode rahasia tidak cocok dengan usulan ini"),
        ({**fields, "title": ""}, _photos(jpeg_with_gps()), "pilih foto lagi"),
    ]  # fmt: skip
    for data, files, message in cases:
        refused = await client.post(f"/lacak/{code}/perbaiki", data=data, files=files)
        assert refused.status_code == 422 and message in refused.text, (message, refused.text[-3000:])
        assert 'id="photos-error"' in refused.text
    assert await event_count(app_pool) == before

    # Two photos fit: with one attached already, three more do not, and the page says how many still do.
    assert (await _upload(client, code, secret, png_with_alpha())).status_code == 201
    page = await client.get(f"/lacak/{code}/perbaiki")
    assert "Tambah sampai 2 foto lagi" in page.text
    three = _photos(*(jpeg_with_gps(color=c) for c in ("red", "green", "blue")))
    too_many = await client.post(f"/lacak/{code}/perbaiki", data=fields, files=three)
    assert too_many.status_code == 422 and "paling banyak 3 foto per usulan" in too_many.text


async def test_a_form_that_filled_every_photo_place_sent_twice_is_answered_as_the_first_time(
    client: httpx.AsyncClient,
    users: dict[str, str],  # noqa: F811
    app_pool: asyncpg.Pool,
) -> None:
    """Its photos, attached by the first sending, take no room the second time: no «paling banyak 3 foto»."""
    code, secret = await _returned_for_a_photo(client, users)
    fields = await _revision_form(client, code, secret)
    three = [jpeg_with_gps(color=c) for c in ("red", "green", "blue")]
    assert (await client.post(f"/lacak/{code}/perbaiki", data=fields, files=_photos(*three))).status_code == 303
    before = await event_count(app_pool)
    again = await client.post(f"/lacak/{code}/perbaiki", data=fields, files=_photos(*three))
    assert again.status_code == 303, again.text
    assert await event_count(app_pool) == before
    assert len((await client.get(f"/api/v1/proposals/{code}")).json()["photos"]) == 3
