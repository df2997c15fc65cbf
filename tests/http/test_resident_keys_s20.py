"""Review s20 (security), through the real server: a proposal's revision secret was shown to anyone who sent
the proposal form with the idempotency key the proposal was made with — and every event's key is in the
log anyone may be given (`musrenbang export events`). Residents' keys could also take a staff account's
keys before it (`staff:{username}:{key}`), making its next command answer 409."""

from __future__ import annotations

import uuid

import asyncpg
import httpx

from tests.http.conftest import payload
from tests.http.test_pages import FORM_FIELDS, code_on, open_form, send_form
from tests.http.test_staff import KELURAHAN, token, users  # noqa: F401  (a fixture)


async def test_a_key_from_the_log_shows_the_proposal_but_never_its_secret(
    client: httpx.AsyncClient, app_pool: asyncpg.Pool
) -> None:
    key = str(uuid.uuid4())
    r = await client.post("/api/v1/proposals", json=payload(kelurahan=KELURAHAN), headers={"Idempotency-Key": key})
    assert r.status_code == 201, r.text
    code, secret = r.json()["code"], r.json()["revision_secret"]
    logged = await app_pool.fetchval(
        "SELECT metadata->>'idempotency_key' FROM events WHERE stream_id = $1 ORDER BY stream_version LIMIT 1",
        f"proposal-{code}",
    )
    assert logged.endswith(key)  # what an export of the log shows of it
    async with httpx.AsyncClient(base_url=str(client.base_url), timeout=30) as stranger:
        tokens = {**await open_form(stranger), "idempotency_key": key}
        r = await send_form(stranger, tokens, {**FORM_FIELDS, "title": "x"})
        assert r.status_code == 409, r.text  # the proposal the key made: its code (public), not its secret
        assert code_on(r.text) == code and secret not in r.text and 'id="revision-secret-once"' in r.text
        # The key as the log writes it is another key again: a form of its own, nothing of that proposal.
        tokens = {**await open_form(stranger), "idempotency_key": logged}
        r = await send_form(stranger, tokens, {**FORM_FIELDS, "title": "x"})
        assert r.status_code == 422 and code not in r.text and secret not in r.text
    # The same request sent again by the proposer (the same body, as a lost answer's retry) still gets it.
    again = await client.post("/api/v1/proposals", json=payload(kelurahan=KELURAHAN), headers={"Idempotency-Key": key})
    assert again.status_code == 200 and again.json()["revision_secret"] == secret


async def test_the_first_form_answer_still_shows_the_secret_once(client: httpx.AsyncClient) -> None:
    tokens = await open_form(client)
    r = await send_form(client, tokens, FORM_FIELDS)
    assert r.status_code == 200 and 'id="revision-secret">' in r.text, r.text
    changed = await send_form(client, tokens, {**FORM_FIELDS, "title": "Judul yang diubah sesudah terkirim"})
    assert changed.status_code == 409 and code_on(changed.text) == code_on(r.text)
    assert 'id="revision-secret">' not in changed.text


async def test_a_resident_cannot_take_a_staff_accounts_key_first(
    client: httpx.AsyncClient, users: dict[str, str]  # noqa: F811
) -> None:
    admin = users["admin"]
    r = await client.post("/api/v1/proposals", json=payload(kelurahan=KELURAHAN),
                          headers={"Idempotency-Key": f"staff:{admin}:K1-{admin}"})  # fmt: skip
    assert r.status_code == 201, r.text
    code = r.json()["code"]
    auth = {**await token(client, admin), "Idempotency-Key": f"K1-{admin}"}
    decided = await client.post(f"/api/v1/proposals/{code}/verification", json={"decision": "accept"}, headers=auth)
    assert decided.status_code == 200, decided.text


async def test_the_proposal_form_is_never_kept_by_a_cache(client: httpx.AsyncClient) -> None:
    """A shared cache that kept it would hand every visitor the same idempotency key."""
    first = await client.get("/usulan/baru")
    again = await client.get("/usulan/baru")  # with the cookie the first set: no Set-Cookie this time
    assert "set-cookie" not in again.headers
    assert "no-store" in again.headers["cache-control"] and "no-store" in first.headers["cache-control"]
