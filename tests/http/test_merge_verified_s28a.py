"""Review s28a through the real server: an accepted proposal merged into one not yet verified was lost when
that one was then rejected (its tracking page said its need "ended", and its proposer was mailed that the
other proposal failed verification, though nobody decided against theirs). Now such a merge is refused,
by the API and the staff's merge form, saying to verify the target first, and nothing is written; once the
target passed verification too, the same merge goes through. And the page after submitting says the
proposal is recorded, not "diterima" (the status word of one accepted at verification)."""

from __future__ import annotations

import re

import asyncpg
import httpx

from tests.http.conftest import event_count
from tests.http.test_forum_entry import _signed_in
from tests.http.test_pages import FORM_FIELDS, code_on, open_form, send_form
from tests.http.test_staff import new_proposal, token, users  # noqa: F401  (a fixture)

REFUSED = "sudah lolos verifikasi, tetapi usulan tujuan"


def _errors(page: str) -> list[str]:
    return re.findall(r'<p class="error"[^>]*>([^<]*)', page)


async def _verify(client: httpx.AsyncClient, auth: dict[str, str], code: str) -> None:
    r = await client.post(f"/api/v1/proposals/{code}/verification", headers=auth, json={"decision": "accept"})
    assert r.status_code == 200, r.text


async def _status(client: httpx.AsyncClient, code: str) -> str:
    return (await client.get(f"/api/v1/proposals/{code}")).json()["status"]


async def test_an_accepted_proposal_is_merged_by_the_api_only_into_one_that_passed_verification(
    client: httpx.AsyncClient,
    users: dict[str, str],  # noqa: F811
    app_pool: asyncpg.Pool,
) -> None:
    auth = await token(client, users["kelurahan"])
    q1, q2 = await new_proposal(client), await new_proposal(client)
    await _verify(client, auth, q1)
    before = await event_count(app_pool)
    merge = {"into": q2, "codes": [q1], "reason": "jalan yang sama"}
    refused = await client.post("/api/v1/proposals/merge", headers=auth, json=merge)
    assert refused.status_code == 409, refused.text
    assert refused.json()["message"] == (f"usulan {q1} sudah lolos verifikasi, tetapi usulan tujuan {q2} belum:"
                                         " verifikasi dulu usulan tujuan, lalu gabungkan")  # fmt: skip
    assert await event_count(app_pool) == before
    assert (await _status(client, q1), await _status(client, q2)) == ("diterima", "diajukan")
    # Verified first, the target takes the accepted duplicate in.
    await _verify(client, auth, q2)
    merged = await client.post("/api/v1/proposals/merge", headers=auth, json=merge)
    assert merged.status_code == 200, merged.text
    assert await _status(client, q1) == "digabungkan"


async def test_the_merge_form_refuses_it_too_and_writes_nothing(
    client: httpx.AsyncClient,
    users: dict[str, str],  # noqa: F811
    app_pool: asyncpg.Pool,
) -> None:
    csrf = await _signed_in(client, users["kelurahan"])
    auth = await token(client, users["kelurahan"])
    q1, q2 = await new_proposal(client), await new_proposal(client)
    await _verify(client, auth, q1)
    before = await event_count(app_pool)
    form = {"_csrf_token": csrf, "into": q2, "codes": [q1, q2], "reason": "jalan yang sama"}
    refused = await client.post("/petugas/gabung", data=form)
    assert refused.status_code == 422
    assert any(REFUSED in e and "verifikasi dulu usulan tujuan" in e for e in _errors(refused.text)), refused.text
    assert await event_count(app_pool) == before
    assert (await _status(client, q1), await _status(client, q2)) == ("diterima", "diajukan")


async def test_the_page_after_submitting_says_recorded_not_accepted(client: httpx.AsyncClient) -> None:
    for lang, said, unsaid in (
        ("id", "Usulan Anda sudah tercatat", "Usulan Anda sudah diterima"),
        ("en", "Your proposal has been recorded", "Your proposal has been received"),
    ):
        client.cookies.set("lang", lang)
        r = await send_form(client, await open_form(client), FORM_FIELDS)
        assert r.status_code == 200, r.text
        code_on(r.text)
        if lang == "id":  # the English text comes with the catalog (updated from this session's report)
            assert f"<h1>{said}</h1>" in r.text
        assert unsaid not in r.text
    client.cookies.delete("lang")
