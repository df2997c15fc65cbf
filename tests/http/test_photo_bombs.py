"""Decompression bombs through the real server (issue 11, point 3): an image over 25 megapixels is refused
before it is decoded, and nothing is decoded for a request that the revision secret or the per-address
limit refuses anyway. The order of the checks is what these tests assert (403 or 429 where decoding
would have answered 422); how fast it stays is bench.photo_bombs' business."""

from __future__ import annotations

import uuid

import asyncpg
import httpx
import pytest

from tests.http.conftest import SUBMISSIONS_PER_HOUR, event_count, payload
from tests.http.test_pages import FORM_FIELDS, hidden, open_form, send_form
from tests.images import jpeg_with_gps, png_at_the_limit, png_bomb, png_header_only

pytestmark = pytest.mark.edge  # the HTTP edge: the same on every PostgreSQL (.ci/run)


async def submit(client: httpx.AsyncClient) -> dict:
    r = await client.post("/api/v1/proposals", json=payload(), headers={"Idempotency-Key": str(uuid.uuid4())})
    assert r.status_code == 201, r.text
    return r.json()


async def upload(client: httpx.AsyncClient, code: str, secret: str, data: bytes, lang: str = "id") -> httpx.Response:
    return await client.post(
        f"/api/v1/proposals/{code}/photos",
        params={"lang": lang},
        files={"photo": ("foto.png", data, "image/png")},
        data={"revision_secret": secret},
    )


async def photo_rows(pool: asyncpg.Pool) -> int:
    return await pool.fetchval("SELECT count(*) FROM photos")


async def test_a_bomb_is_refused_with_the_limit_stated_and_writes_nothing(
    client: httpx.AsyncClient, app_pool: asyncpg.Pool
) -> None:
    created = await submit(client)
    code, secret = created["code"], created["revision_secret"]
    before = (await event_count(app_pool), await photo_rows(app_pool))
    r = await upload(client, code, secret, png_bomb())
    assert r.status_code == 422, r.text
    assert r.json()["error"] == "too_many_pixels"
    assert "paling banyak 25 megapiksel" in r.json()["message"]
    english = await upload(client, code, secret, png_bomb(), lang="en")
    assert "at most 25 megapixels" in english.json()["message"]
    assert (await event_count(app_pool), await photo_rows(app_pool)) == before
    assert (await client.get(f"/api/v1/proposals/{code}")).json()["photos"] == []
    # A photo within the limit is still taken, with the same secret.
    assert (await upload(client, code, secret, jpeg_with_gps(size=(4000, 3000)))).status_code == 201


async def test_a_bomb_on_the_form_is_explained_next_to_the_photos(
    client: httpx.AsyncClient, app_pool: asyncpg.Pool
) -> None:
    tokens = await open_form(client)
    before = (await event_count(app_pool), await photo_rows(app_pool))
    r = await send_form(client, tokens, FORM_FIELDS, photos=[jpeg_with_gps(), png_bomb()])
    assert r.status_code == 422
    assert 'id="photos-error">ukuran gambar terlalu besar: paling banyak 25 megapiksel' in r.text
    assert 'value="Pembangunan jalan setapak"' in r.text  # what was typed is kept
    # With other errors too, each shows beside its own field.
    r = await send_form(client, tokens, {**FORM_FIELDS, "rw": "0"}, photos=[png_bomb()])
    assert r.status_code == 422
    assert 'id="rw-error">nomor RW antara 1 dan 99<' in r.text and "25 megapiksel" in r.text
    assert (await event_count(app_pool), await photo_rows(app_pool)) == before


async def test_a_wrong_secret_is_refused_before_the_photo_is_looked_at(
    client: httpx.AsyncClient, app_pool: asyncpg.Pool
) -> None:
    """Decoding first would answer 422 to both uploads; the secret first answers 403."""
    created = await submit(client)
    before = await event_count(app_pool)
    for data in (png_bomb(), b"\xff\xd8\xff\xe0 not really a jpeg"):
        r = await upload(client, created["code"], "WRONGSECRET00000", data)
        assert r.status_code == 403, r.text
        assert r.json()["error"] == "forbidden"
    # Another proposal's secret is just as wrong; a proposal that does not exist has no secret to match.
    other = await submit(client)
    assert (await upload(client, created["code"], other["revision_secret"], png_bomb())).status_code == 403
    assert (await upload(client, "ZZZZZZZZ", created["revision_secret"], png_bomb())).status_code == 403
    assert await event_count(app_pool) == before + 1  # the second proposal only


async def photo_decodes_counted(pool: asyncpg.Pool, address: str) -> int:
    return await pool.fetchval("SELECT count(*) FROM rate_limits WHERE bucket = $1", f"photos:{address}")


async def test_a_form_with_other_errors_decodes_nothing_and_still_explains_the_photo(
    client: httpx.AsyncClient, app_pool: asyncpg.Pool, address: str
) -> None:
    """A form whose other fields are wrong is shown again without its photos: decoding them would be work
    thrown away, so only what needs no decoding is judged (the reviewer's attack sent one form 35 times
    with an empty title and a photo at the limit, and every one was decoded)."""
    tokens = await open_form(client)
    for _ in range(SUBMISSIONS_PER_HOUR * 8):  # far more than any hourly limit
        r = await send_form(client, tokens, {**FORM_FIELDS, "title": ""}, photos=[png_at_the_limit()])
        assert r.status_code == 422 and 'id="title-error"' in r.text
    r = await send_form(client, tokens, {**FORM_FIELDS, "title": ""}, photos=[png_bomb()])
    assert "25 megapiksel" in r.text  # a photo's own error needs no decoding: it shows beside the others
    assert await photo_decodes_counted(app_pool, address) == 0
    r = await send_form(client, tokens, FORM_FIELDS, photos=[jpeg_with_gps()])
    assert r.status_code == 200, r.text
    assert await photo_decodes_counted(app_pool, address) == 1


async def test_a_full_proposal_refuses_another_photo_before_decoding_it(
    client: httpx.AsyncClient, app_pool: asyncpg.Pool, address: str
) -> None:
    """Three photos attached: a fourth is refused for want of room (409), even one that decoding would
    refuse (422), and nothing is decoded; the same photo sent again is still that photo (200)."""
    created = await submit(client)
    code, secret = created["code"], created["revision_secret"]
    first = jpeg_with_gps(color="red")
    for photo in (first, jpeg_with_gps(color="green"), jpeg_with_gps(color="blue")):
        assert (await upload(client, code, secret, photo)).status_code == 201
    counted = await photo_decodes_counted(app_pool, address)
    for photo in (jpeg_with_gps(color="white"), b"\xff\xd8\xff\xe0 not really a jpeg"):
        r = await upload(client, code, secret, photo)
        assert r.status_code == 409 and "paling banyak 3 foto" in r.json()["message"], r.text
    again = await upload(client, code, secret, first)
    assert again.status_code == 200
    assert again.json()["url"] in (await client.get(f"/api/v1/proposals/{code}")).json()["photos"]
    assert await photo_decodes_counted(app_pool, address) == counted  # none of the last three was decoded


async def test_every_decode_counts_against_the_address(client: httpx.AsyncClient, app_pool: asyncpg.Pool) -> None:
    """A photo that passes every check short of decoding and then fails (cut off after its header) costs
    the server the decode each time it is sent: the address's hourly count of decodes (four times the
    submissions allowed) stops it, although it never takes a photo's place."""
    created = await submit(client)
    cut = png_header_only((2000, 1500))
    answers = [(await upload(client, created["code"], created["revision_secret"], cut)).status_code
               for _ in range(4 * SUBMISSIONS_PER_HOUR + 2)]  # fmt: skip
    assert answers == [422] * (4 * SUBMISSIONS_PER_HOUR) + [429, 429], answers
    r = await upload(client, created["code"], created["revision_secret"], jpeg_with_gps())
    assert r.status_code == 429 and "terlalu banyak foto" in r.json()["message"]


async def test_the_rate_limit_is_counted_before_photos_are_decoded(
    client: httpx.AsyncClient, app_pool: asyncpg.Pool, address: str
) -> None:
    """At the limit a new, correct form with a photo answers 429 and its photo is not decoded; a form that
    was counted once, its photo refused after decoding, keeps its place however often it comes back."""
    tokens = await open_form(client)  # one form, one idempotency key
    for _ in range(2):
        r = await send_form(client, tokens, FORM_FIELDS, photos=[png_header_only((640, 480))])
        assert r.status_code == 422 and "foto JPEG, PNG atau WebP yang utuh" in r.text
    for _ in range(SUBMISSIONS_PER_HOUR - 1):  # the form above took one place, however often it came
        await submit(client)
    before = (await event_count(app_pool), await photo_decodes_counted(app_pool, address))
    at_limit = await open_form(client)
    r = await send_form(client, at_limit, FORM_FIELDS, photos=[jpeg_with_gps()])
    assert r.status_code == 429, r.status_code
    assert "terlalu banyak usulan" in r.text and r.headers["retry-after"] == "3600"
    # The form comes back as typed, with its key, to be sent later (it was a page that lost it all: a
    # kelurahan office's residents share one address).
    assert 'id="belum-diterima"' in r.text and 'value="Pembangunan jalan setapak"' in r.text
    assert hidden(r.text, "idempotency_key") == at_limit["idempotency_key"]
    assert "Jalan setapak rusak dan licin saat hujan</textarea>" in r.text
    new_key = {"Idempotency-Key": str(uuid.uuid4())}
    assert (await client.post("/api/v1/proposals", json=payload(), headers=new_key)).status_code == 429
    assert (await event_count(app_pool), await photo_decodes_counted(app_pool, address)) == before
    # The counted form, corrected (another photo), is still welcome at the limit: its key has its place.
    r = await send_form(client, tokens, FORM_FIELDS, photos=[jpeg_with_gps()])
    assert r.status_code == 200, r.text
    assert await event_count(app_pool) > before[0]
