"""The proposals API as a reviewer found it on a real server: a 422 that named one group of mistakes at a
time, in the web form's names rather than the body's; digits of other scripts (and `1_000`) read as numbers
the domain refuses; and bodies of any content type read as JSON. Every refusal writes nothing."""

from __future__ import annotations

import json
import uuid

import asyncpg
import httpx
import pytest

from tests.http.conftest import event_count, payload

WRITE_NUMBER = "tulis angka, misalnya 150 atau 2,5"


def key() -> dict[str, str]:
    return {"Idempotency-Key": str(uuid.uuid4())}


async def refused(client: httpx.AsyncClient, pool: asyncpg.Pool, status: int, path: str = "/api/v1/proposals",
                  **request: object) -> dict:  # fmt: skip
    """The JSON body of `POST path` answered `status`, once it is known that nothing was recorded."""
    before = await event_count(pool)
    r = await client.post(path, **request)  # type: ignore[arg-type]
    assert r.status_code == status, r.text
    assert await event_count(pool) == before
    return r.json()


# --- one 422 with every error, keyed by the body's paths ---------------------------------------------------


async def test_the_content_and_the_proposer_are_refused_together_by_their_paths(
    client: httpx.AsyncClient, app_pool: asyncpg.Pool
) -> None:
    """A body with `rw: 0` and a bad proposer was told of the RW only; sent again, of the proposer, named
    `proposer_name` and `proposer_phone` (the web form's field names) where the body says `proposer.name`."""
    body = payload(rw=0, proposer={"name": "B", "phone": "123"})
    errors = (await refused(client, app_pool, 422, json=body, headers=key()))["errors"]
    assert set(errors) == {"rw", "proposer.name", "proposer.phone"}
    assert errors["proposer.name"] == "tulis nama pengusul"


async def test_the_proposers_email_and_channel_are_named_by_their_paths(
    client: httpx.AsyncClient, app_pool: asyncpg.Pool
) -> None:
    proposer = {"name": "Budi Santoso", "phone": "0812-7000-5555", "email": "bukan-email", "notify": "merpati"}
    errors = (await refused(client, app_pool, 422, json=payload(proposer=proposer), headers=key()))["errors"]
    assert set(errors) == {"proposer.email", "proposer.notify"}


# --- numbers in other scripts ------------------------------------------------------------------------------


@pytest.mark.parametrize("changes", [
    {"volume": "١٥٠"}, {"volume": "१५०"}, {"volume": "１５０"}, {"volume": "1_000"},
    {"latitude": "-٦.٢٤", "longitude": "106.99"}, {"latitude": "-6.24", "longitude": "１０６.９９"},
])  # fmt: skip
async def test_digits_of_other_scripts_are_no_number(
    client: httpx.AsyncClient, app_pool: asyncpg.Pool, changes: dict[str, str]
) -> None:
    """Answered 201 and stored as 150, 1000 or -6.24: msgspec's Decimal read them before the domain could."""
    [(field, _)] = [(f, v) for f, v in changes.items() if not v.isascii() or "_" in v]
    errors = (await refused(client, app_pool, 422, json=payload(**changes), headers=key()))["errors"]
    assert errors == {field: WRITE_NUMBER}


async def test_an_unreadable_volume_is_told_with_the_other_errors(
    client: httpx.AsyncClient, app_pool: asyncpg.Pool
) -> None:
    body = payload(volume="١٥٠", rw=0, proposer={"name": "Budi Santoso", "phone": "12"})
    errors = (await refused(client, app_pool, 422, json=body, headers=key()))["errors"]
    assert errors == {"volume": WRITE_NUMBER, "rw": "nomor RW antara 1 dan 99",
                      "proposer.phone": errors["proposer.phone"]}  # fmt: skip


async def test_a_revision_with_digits_of_other_scripts_is_refused(
    client: httpx.AsyncClient, app_pool: asyncpg.Pool
) -> None:
    created = await client.post("/api/v1/proposals", json=payload(), headers=key())
    assert created.status_code == 201, created.text
    code, secret = created.json()["code"], created.json()["revision_secret"]
    revision = {k: v for k, v in payload(volume="１５０").items() if k != "proposer"}
    body = await refused(client, app_pool, 422, f"/api/v1/proposals/{code}/revision",
                         json={**revision, "revision_secret": secret})  # fmt: skip
    assert body["errors"] == {"volume": WRITE_NUMBER}


async def test_numbers_are_taken_as_the_hint_writes_them(client: httpx.AsyncClient) -> None:
    """"2,5" got a 400 in English ("Invalid decimal string") while the 422 hint says "misalnya 150 atau 2,5":
    a string is read as programs write numbers (values.parse_decimal), a comma or a dot the decimal mark.
    A retry is the request it was: its fingerprint reads 150 and "150" alike, as when the field was a Decimal
    (a retry sent across the upgrade is not taken for a key reused)."""
    for volume, stored in (("2,5", "2.5"), ("2.5", "2.5"), (2.5, "2.5")):
        r = await client.post("/api/v1/proposals", json=payload(volume=volume, latitude="-6,2383", longitude=106.9896),
                              headers=key())  # fmt: skip
        assert r.status_code == 201, (volume, r.text)
        shown = (await client.get(f"/api/v1/proposals/{r.json()['code']}")).json()
        assert (shown["volume"], shown["latitude"], shown["longitude"]) == (stored, "-6.2383", "106.9896")
    headers = key()
    first = await client.post("/api/v1/proposals", json=payload(volume=150), headers=headers)
    again = await client.post("/api/v1/proposals", json=payload(volume="150"), headers=headers)
    assert (first.status_code, again.status_code) == (201, 200), again.text
    assert again.json()["code"] == first.json()["code"]


# --- the content type ----------------------------------------------------------------------------------------


async def test_a_body_is_taken_as_json_only_when_it_is_declared_so(
    client: httpx.AsyncClient, app_pool: asyncpg.Pool
) -> None:
    """`text/plain` with a JSON body got 201; a form got 400 "JSON is malformed: invalid character". JSON is
    taken whatever its parameters, as `application/…+json`, and sent with no type at all (RFC 9110 8.3: the
    recipient may take it as the endpoint's own)."""
    raw = json.dumps(payload()).encode()
    for content_type in ("text/plain", "text/plain; charset=utf-8", "application/x-www-form-urlencoded",
                         "multipart/form-data; boundary=x", "application/xml", "application/jsonp"):  # fmt: skip
        body = await refused(client, app_pool, 415, content=raw, headers={**key(), "Content-Type": content_type})
        assert body == {"error": "unsupported_media_type", "message": "jenis isi kiriman tidak didukung: kirim"
                        " datanya dalam JSON, dengan header Content-Type: application/json"}  # which header, to what
    for taken in ("application/json; charset=utf-8", "APPLICATION/JSON", "application/vnd.musrenbang+json", None):
        headers = key() if taken is None else {**key(), "Content-Type": taken}
        r = await client.post("/api/v1/proposals", content=raw, headers=headers)
        assert r.status_code == 201, (taken, r.text)


@pytest.mark.parametrize("path", ["/api/v1/auth/token", "/api/v1/forums", "/api/v1/rkpd/2022/lines",
                                  "/api/v1/proposals/ZZZZZZZZ/revision"])  # fmt: skip
async def test_every_json_endpoint_refuses_what_is_not_json(
    client: httpx.AsyncClient, app_pool: asyncpg.Pool, path: str
) -> None:
    """Before the token is checked, as the body is read: other modules' endpoints too."""
    body = await refused(client, app_pool, 415, path, content=b'{"username": "x"}',
                         headers={"Content-Type": "text/plain"})  # fmt: skip
    assert body["error"] == "unsupported_media_type"


@pytest.mark.parametrize("content_type", ["application/json", "text/plain", None])
async def test_an_empty_body_is_told_so(
    client: httpx.AsyncClient, app_pool: asyncpg.Pool, content_type: str | None
) -> None:
    """Answered 400 whose detail was only `'data'`."""
    headers = key() if content_type is None else {**key(), "Content-Type": content_type}
    body = await refused(client, app_pool, 400, content=b"", headers=headers)
    assert body["error"] == "bad_request" and body["message"] == "isi kiriman kosong: kirim datanya dalam JSON"
    assert body["detail"] == "the body is empty: this address takes JSON"
