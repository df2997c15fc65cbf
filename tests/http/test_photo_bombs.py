"""Decompression bombs through the real server (issue 11, point 3): an image over 25 megapixels is refused
before it is decoded, and nothing is decoded for a request that the revision secret or the per-address
limit refuses anyway. The order of the checks is what these tests assert (403 or 429 where decoding
would have answered 422); how fast it stays is bench.photo_bombs' business."""

from __future__ import annotations

import uuid

import asyncpg
import httpx

from tests.http.conftest import SUBMISSIONS_PER_HOUR, event_count, payload
from tests.http.test_pages import FORM_FIELDS, open_form, send_form
from tests.images import jpeg_with_gps, png_bomb


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


async def test_the_rate_limit_is_counted_before_photos_are_decoded(
    client: httpx.AsyncClient, app_pool: asyncpg.Pool
) -> None:
    """At the limit a new form with a bomb answers 429 (decoding first would answer 422); a form that was
    counted once, its photo refused, is counted once however often it comes back."""
    tokens = await open_form(client)  # one form, one idempotency key
    for _ in range(2):
        r = await send_form(client, tokens, FORM_FIELDS, photos=[png_bomb()])
        assert r.status_code == 422 and "25 megapiksel" in r.text
    for _ in range(SUBMISSIONS_PER_HOUR - 1):  # the form above took one place, however often it came
        await submit(client)
    before = await event_count(app_pool)
    for fields in (FORM_FIELDS, {**FORM_FIELDS, "rw": "0"}):  # with other errors as well
        r = await send_form(client, await open_form(client), fields, photos=[png_bomb()])
        assert r.status_code == 429, r.status_code
        assert "terlalu banyak usulan" in r.text
    new_key = {"Idempotency-Key": str(uuid.uuid4())}
    assert (await client.post("/api/v1/proposals", json=payload(), headers=new_key)).status_code == 429
    assert await event_count(app_pool) == before
    # The counted form, corrected (another photo), is still welcome at the limit: its key has its place.
    r = await send_form(client, tokens, FORM_FIELDS, photos=[jpeg_with_gps()])
    assert r.status_code == 200, r.text
    assert await event_count(app_pool) > before
