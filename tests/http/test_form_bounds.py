"""Staff and resident forms sent by a client without `maxlength` (curl, a script), through the real server:
a text one letter over its bound is refused with the form again, the field's message naming its limit, and
nothing is written; exactly at its bound it is kept whole. Nothing is cut short without a word. A NUL or
control character in any field of a staff form gives the form back with that field's message, never the
generic error page."""

from __future__ import annotations

import json
import uuid

import asyncpg
import httpx
import pytest

from tests.http.conftest import event_count
from tests.http.test_forum_entry import FORUM, _open_forum, _signed_in
from tests.http.test_pages import FORM_FIELDS, open_form
from tests.http.test_staff import KELURAHAN, new_proposal, token, users  # noqa: F401  (module fixture)

pytestmark = pytest.mark.edge  # the HTTP edge: the same on every PostgreSQL (.ci/run)


async def _refused(pool: asyncpg.Pool, send: object, *texts: str) -> httpx.Response:
    """`send()` answered with the form again (422) saying each of `texts`, and the log did not grow."""
    before = await event_count(pool)
    r = await send()  # type: ignore[operator]
    assert r.status_code == 422, (r.status_code, r.text[:800])
    assert all(text in r.text for text in texts), [t for t in texts if t not in r.text]
    assert await event_count(pool) == before
    return r


async def _event_data(pool: asyncpg.Pool, stream: str, event_type: str) -> dict:
    data = await pool.fetchval("SELECT data FROM events WHERE stream_id = $1 AND event_type = $2"
                               " ORDER BY global_position DESC LIMIT 1", stream, event_type)  # fmt: skip
    assert data is not None, (stream, event_type)
    return data if isinstance(data, dict) else json.loads(data)


async def test_a_verification_reason_over_1000_letters_is_refused_and_at_1000_kept_whole(
    client: httpx.AsyncClient, app_pool: asyncpg.Pool, users: dict[str, str]  # noqa: F811
) -> None:
    csrf = await _signed_in(client, users["kelurahan"])
    code = await new_proposal(client)
    url = f"/petugas/verifikasi/{code}"
    r = await _refused(app_pool, lambda: client.post(url, data={"_csrf_token": csrf, "decision": "reject",
                                                                "reason": "a" * 1001}),
                       "terlalu panjang: paling banyak 1000 huruf")  # fmt: skip
    assert f'id="reason-{code}-error"' in r.text  # beside the reason
    assert (await client.get(f"/api/v1/proposals/{code}")).json()["status"] == "diajukan"
    done = await client.post(url, data={"_csrf_token": csrf, "decision": "reject", "reason": "b" * 1000})
    assert done.status_code == 303, done.text[:500]
    assert (await _event_data(app_pool, f"proposal-{code}", "proposal.rejected"))["reason"] == "b" * 1000


async def test_a_merge_reason_over_its_bound_or_more_than_fifty_codes_are_refused(
    client: httpx.AsyncClient, app_pool: asyncpg.Pool, users: dict[str, str]  # noqa: F811
) -> None:
    csrf = await _signed_in(client, users["kelurahan"])
    codes = [await new_proposal(client, title=f"Gabung {uuid.uuid4().hex[:6]}") for _ in range(2)]
    form = {"_csrf_token": csrf, "into": codes[0], "codes": codes}
    r = await _refused(app_pool, lambda: client.post("/petugas/gabung", data={**form, "reason": "a" * 1001}),
                       "terlalu panjang: paling banyak 1000 huruf")  # fmt: skip
    assert 'id="merge-reason-error"' in r.text
    # Fifty-one codes (made up, but codes in form): once cut to fifty and merged without a word.
    many = [f"{n:04d}ABCD" for n in range(51)]
    await _refused(app_pool, lambda: client.post("/petugas/gabung", data={**form, "codes": [codes[0], *many],
                                                                          "reason": "sama"}),
                   "paling banyak 50 usulan sekaligus")  # fmt: skip
    done = await client.post("/petugas/gabung", data={**form, "reason": "c" * 1000})
    assert done.status_code == 303, done.text[:500]
    assert (await _event_data(app_pool, f"proposal-{codes[1]}", "proposal.merged"))["reason"] == "c" * 1000


async def test_a_delegates_name_role_and_place_are_kept_whole_or_refused(
    client: httpx.AsyncClient, app_pool: asyncpg.Pool, users: dict[str, str]  # noqa: F811
) -> None:
    """The name was cut at 200 letters, the role at 100 (its bound is 200): a 150-letter role was kept
    shortened."""
    auth = await token(client, users["kelurahan"])
    csrf = await _signed_in(client, users["kelurahan"])
    made = await client.post("/api/v1/forums", headers=auth, json={**FORUM, "title": "Forum peserta", "rule": "greedy",
                                                                   "ballot_kind": "approval"})  # fmt: skip
    forum_id = made.json()["forum_id"]
    url = f"/forum/{forum_id}/peserta"
    for field, label in (("name", "delegate_name"), ("role", "delegate_role"), ("represents", "delegate_represents")):
        typed = {"name": "Ibu Sari", field: "x" * 201}
        r = await _refused(app_pool, lambda typed=typed: client.post(url, data={"_csrf_token": csrf, **typed}),
                           "terlalu panjang: paling banyak 200 huruf")  # fmt: skip
        assert f'id="{label}-error"' in r.text, field
    await _refused(app_pool, lambda: client.post(url, data={"_csrf_token": csrf, "name": "Ibu Sari", "gender": "X"}),
                   "jenis kelamin: P, L, atau kosong")  # fmt: skip
    done = await client.post(url, data={"_csrf_token": csrf, "name": "n" * 200, "role": "r" * 150,
                                        "represents": "w" * 200, "gender": "P"})  # fmt: skip
    assert done.status_code == 303, done.text[:500]
    data = await _event_data(app_pool, f"forum-{forum_id}", "forum.delegate_registered")
    assert (data["name"], data["role"], data["represents"]) == ("n" * 200, "r" * 150, "w" * 200)


async def test_an_agreed_change_at_a_forum_with_a_reason_over_its_bound_is_refused(
    client: httpx.AsyncClient, app_pool: asyncpg.Pool, users: dict[str, str]  # noqa: F811
) -> None:
    csrf = await _signed_in(client, users["kelurahan"])
    forum_id, _ = await _open_forum(client, await token(client, users["kelurahan"]))
    item = (await client.get(f"/api/v1/forums/{forum_id}")).json()["agenda"][0]["item_id"]
    typed = {"_csrf_token": csrf, "item_id": item, "agreed_cost": "2 juta"}
    await _refused(app_pool, lambda: client.post(f"/forum/{forum_id}/ubah", data={**typed, "reason": "a" * 1001}),
                   "terlalu panjang: paling banyak 1000 huruf")  # fmt: skip
    done = await client.post(f"/forum/{forum_id}/ubah", data={**typed, "reason": "d" * 1000})
    assert done.status_code == 303, done.text[:500]
    assert (await _event_data(app_pool, f"forum-{forum_id}", "forum.item_adjusted"))["reason"] == "d" * 1000


SCHEDULE = {"level": "kelurahan", "region": "margahayu", "year": "2022", "held_on": "2021-01-20", "starts_at": "09:00",
            "title": "Musrenbang batas", "place": "Aula", "chair": "Lurah", "ceiling": "50000000",
            "rule": "greedy"}  # fmt: skip


@pytest.mark.parametrize("bad", ["ada\x00nul", "ada\x01kontrol", "ada\x1fkontrol"])
async def test_a_nul_or_control_character_in_any_field_of_a_staff_form_is_marked_on_that_field(
    client: httpx.AsyncClient, app_pool: asyncpg.Pool, users: dict[str, str], bad: str  # noqa: F811
) -> None:
    """A NUL in the schedule form's region (%00, from a script) got the generic 400 page: PostgreSQL cannot
    even be asked about it. Every field of it, and of the forum's and the verification's forms, now comes
    back marked, with what was typed, and nothing is written."""
    csrf = await _signed_in(client, users["kecamatan"])
    for field in SCHEDULE:
        r = await _refused(app_pool, lambda field=field: client.post("/petugas/musyawarah/baru", data={
            "_csrf_token": csrf, **SCHEDULE, field: bad}))  # fmt: skip
        assert f'id="{field}-error"' in r.text and "permintaan tidak dapat dibaca" not in r.text, field
        assert 'aria-invalid="true"' in r.text, field
    region = await _refused(app_pool, lambda: client.post("/petugas/musyawarah/baru", data={
        "_csrf_token": csrf, **SCHEDULE, "region": bad}), "berisi karakter yang tidak diizinkan")  # fmt: skip
    assert 'id="region-error"' in region.text and 'value="Musrenbang batas"' in region.text
    long = await _refused(app_pool, lambda: client.post("/petugas/musyawarah/baru", data={
        "_csrf_token": csrf, **SCHEDULE, "title": "t" * 301}), "terlalu panjang: paling banyak 300 huruf")  # fmt: skip
    assert 'id="title-error"' in long.text

    code = await new_proposal(client)
    forum_id, _ = await _open_forum(client, await token(client, users["kecamatan"]))
    item = (await client.get(f"/api/v1/forums/{forum_id}")).json()["agenda"][0]["item_id"]
    forms = {
        f"/petugas/verifikasi/{code}": {"decision": "accept_with_changes", "reason": "r", "agreed_cost": "2 juta",
                                        "agreed_volume": ""},
        f"/forum/{forum_id}/peserta": {"name": "Ibu Sari", "role": "", "represents": "", "gender": ""},
        f"/forum/{forum_id}/ubah": {"item_id": item, "reason": "harga baru", "agreed_cost": "2 juta",
                                    "agreed_volume": ""},
        f"/forum/{forum_id}/suara": {"b_d1": "1"},
    }  # fmt: skip
    for url, fields in forms.items():
        for field in fields:
            await _refused(app_pool, lambda url=url, fields=fields, field=field: client.post(
                url, data={"_csrf_token": csrf, **fields, field: bad}))  # fmt: skip


async def test_a_proposal_text_padded_past_the_old_cut_is_refused_not_shortened(
    client: httpx.AsyncClient, app_pool: asyncpg.Pool
) -> None:
    """The form cut every field at 4,000 characters before checking it: a problem of 1,990 letters, 2,100
    spaces and a last word was kept as its first 1,990 letters."""
    fields = {**await open_form(client), **FORM_FIELDS}
    padded = "x" * 1990 + " " * 2100 + "akhir"
    await _refused(app_pool, lambda: client.post("/usulan/baru", data={**fields, "problem": padded}),
                   "terlalu panjang: paling banyak 2000 huruf")  # fmt: skip
    await _refused(app_pool, lambda: client.post("/usulan/baru", data={**fields, "title": "j" * 151}),
                   "terlalu panjang: paling banyak 150 huruf")  # fmt: skip
    await _refused(app_pool, lambda: client.post("/usulan/baru", data={**fields, "proposer_name": "n" * 101}),
                   "terlalu panjang: paling banyak 100 huruf")  # fmt: skip
    made = await client.post("/usulan/baru", data={**fields, "problem": "p" * 2000, "title": "j" * 150})
    assert made.status_code == 200 and "terlalu panjang" not in made.text, made.text[:500]
