"""A JSON body's values are read as written (http/json_body.py): Litestar's lax conversion read `"80"` as 80
for every handler (session 19 refused it only in the milestone API). Through the real server."""

from __future__ import annotations

import json
import uuid

import asyncpg
import httpx

from tests.http.conftest import payload
from tests.http.test_staff import KELURAHAN


async def _proposals(pool: asyncpg.Pool) -> int:
    return await pool.fetchval("SELECT count(*) FROM proposer_contacts")


async def test_a_number_sent_as_text_is_refused_naming_its_field_and_nothing_is_written(
    client: httpx.AsyncClient, app_pool: asyncpg.Pool
) -> None:
    before = await _proposals(app_pool)
    for changes, field, said in (
        ({"estimated_cost": "5000000"}, "estimated_cost", "isi dengan bilangan bulat (angka tanpa tanda kutip)"),
        ({"rw": "3"}, "rw", "isi dengan bilangan bulat (angka tanpa tanda kutip)"),
    ):
        r = await client.post("/api/v1/proposals", json=payload(kelurahan=KELURAHAN, **changes),
                              headers={"Idempotency-Key": str(uuid.uuid4())})  # fmt: skip
        assert r.status_code == 422, r.text
        assert r.json()["errors"] == {field: said}, r.text
    # A whole number written as a fraction is named too (it was refused as "data", review s20).
    r = await client.post("/api/v1/proposals", json=payload(kelurahan=KELURAHAN, estimated_cost=5_000_000.0),
                          headers={"Idempotency-Key": str(uuid.uuid4())})  # fmt: skip
    assert r.status_code == 422 and r.json()["errors"] == {"estimated_cost": "isi dengan bilangan bulat"}, r.text
    # The same text under another Content-Type (`curl -d` sends a form's) never reaches a lenient reading:
    # the edge answers 415 before (http/edge.py).
    for content_type in ("text/plain", "application/x-www-form-urlencoded"):
        r = await client.post("/api/v1/proposals", content=json.dumps(payload(kelurahan=KELURAHAN, rw="3")),
                              headers={"Idempotency-Key": str(uuid.uuid4()), "Content-Type": content_type})  # fmt: skip
        assert r.status_code == 415, (content_type, r.text)
    assert await _proposals(app_pool) == before
    # Written as numbers, the same body is taken; text where the API asks for text stays text.
    r = await client.post("/api/v1/proposals", json=payload(kelurahan=KELURAHAN, estimated_cost=5_000_000),
                          headers={"Idempotency-Key": str(uuid.uuid4())})  # fmt: skip
    assert r.status_code == 201, r.text
    assert await _proposals(app_pool) == before + 1


async def test_a_value_no_reading_makes_right_is_a_field_to_correct(client: httpx.AsyncClient) -> None:
    """Wrong in both modes, it is refused by Litestar's conversion, answered as the domain's 422 (s26,
    http/conversion_errors.py; it was a 400 with msgspec's English); a body that is not JSON stays 400."""
    r = await client.post("/api/v1/proposals", json=payload(kelurahan=KELURAHAN, estimated_cost="lima juta"),
                          headers={"Idempotency-Key": str(uuid.uuid4())})  # fmt: skip
    assert r.status_code == 422 and r.json()["errors"] == {
        "estimated_cost": "isi dengan bilangan bulat (angka tanpa tanda kutip)"}, r.text  # fmt: skip
    r = await client.post("/api/v1/proposals", content=b"{not json", headers={
        "Idempotency-Key": str(uuid.uuid4()), "Content-Type": "application/json"})  # fmt: skip
    assert r.status_code == 400, r.text

