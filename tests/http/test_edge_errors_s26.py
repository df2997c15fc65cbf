"""A body field that breaks the edge's msgspec constraints (a length, a range, a type, a date or a time
that is none) answers as the domain's own checks do: 422, `errors` naming the field with an Indonesian
message (English with ?lang=en), never msgspec's English as the message (review s26: a title of 5001
characters got 400 "Expected `str` of length <= 5000", one of 5000 the domain's 422). A body that is not
an object, a field no body has and a wrong parameter stay 400, told in the reader's language."""

from __future__ import annotations

import doctest
import uuid

import asyncpg
import httpx

from musrenbang.http import conversion_errors
from tests.http.conftest import event_count, payload
from tests.http.test_staff import KELURAHAN, token, users  # noqa: F401  (module fixture)

INVALID = "ada isian yang perlu diperbaiki"


def key() -> dict[str, str]:
    return {"Idempotency-Key": str(uuid.uuid4())}


def invalid(r: httpx.Response) -> dict[str, str]:
    """The 422's per-field messages, after checking it has the domain's shape."""
    assert r.status_code == 422, r.text
    body = r.json()
    assert body["error"] == "invalid" and isinstance(body["errors"], dict), body
    assert "Expected" not in body["message"] and not any("Expected" in m for m in body["errors"].values()), body
    return body["errors"]


async def test_a_title_over_the_edges_limit_answers_as_one_over_the_domains(
    client: httpx.AsyncClient, app_pool: asyncpg.Pool
) -> None:
    before = await event_count(app_pool)
    domain = await client.post("/api/v1/proposals", json=payload(kelurahan=KELURAHAN, title="a" * 5000),
                               headers=key())  # fmt: skip
    edge = await client.post("/api/v1/proposals", json=payload(kelurahan=KELURAHAN, title="a" * 5001), headers=key())
    assert domain.status_code == 422 and domain.json()["errors"] == {"title": "terlalu panjang: paling banyak 150"
                                                                     " huruf"}, domain.text  # fmt: skip
    assert invalid(edge) == {"title": "terlalu panjang: paling banyak 5000 huruf"}
    assert edge.json()["message"] == domain.json()["message"] == INVALID
    assert edge.json()["details"][0]["message"].startswith("Expected `str`")  # msgspec's, for developers
    english = await client.post("/api/v1/proposals?lang=en", json=payload(kelurahan=KELURAHAN, title="a" * 5001),
                                headers=key())  # fmt: skip
    assert invalid(english) == {"title": "too long: at most 5000 characters"}
    assert english.json()["message"] != INVALID
    assert await event_count(app_pool) == before


async def test_nested_wrong_kind_and_missing_fields_of_a_proposal(client: httpx.AsyncClient) -> None:
    long_name = payload(kelurahan=KELURAHAN, proposer={"name": "a" * 201, "phone": "0813-9876-5432"})
    assert invalid(await client.post("/api/v1/proposals", json=long_name, headers=key())) == {
        "proposer.name": "terlalu panjang: paling banyak 200 huruf"
    }
    words = payload(kelurahan=KELURAHAN, estimated_cost="lima juta")
    assert invalid(await client.post("/api/v1/proposals", json=words, headers=key())) == {
        "estimated_cost": "isi dengan bilangan bulat (angka tanpa tanda kutip)"
    }
    text_wanted = payload(kelurahan=KELURAHAN, unit=150)
    assert invalid(await client.post("/api/v1/proposals", json=text_wanted, headers=key())) == {
        "unit": "isi dengan teks (dalam tanda kutip)"
    }
    # A missing field says what the domain says of an empty one.
    blank = await client.post("/api/v1/proposals", json=payload(kelurahan=KELURAHAN, title=" "), headers=key())
    assert blank.status_code == 422 and blank.json()["errors"]["title"] == "wajib diisi", blank.text
    missing = {k: v for k, v in payload(kelurahan=KELURAHAN).items() if k != "title"}
    assert invalid(await client.post("/api/v1/proposals", json=missing, headers=key())) == {"title": "wajib diisi"}
    no_phone = payload(kelurahan=KELURAHAN, proposer={"name": "Siti"})
    assert invalid(await client.post("/api/v1/proposals?lang=en", json=no_phone, headers=key())) == {
        "proposer.phone": "required"
    }


async def test_staff_bodies_ranges_dates_times_and_lists(
    client: httpx.AsyncClient,
    app_pool: asyncpg.Pool,
    users: dict[str, str],  # noqa: F811
) -> None:
    before = await event_count(app_pool)
    admin = await token(client, users["admin"])
    cycle = {"year": 2077, "theme": "Tema", "priority_programs": [{"title": "Program satu"}]}
    for changes, expected in (
        ({"year": 2101}, {"year": "paling besar 2100"}),
        ({"year": 1999}, {"year": "paling kecil 2000"}),
        ({"pagu_kecamatan": [{"kecamatan": "32.75.01", "pagu": -1}]}, {"pagu_kecamatan.0.pagu": "paling kecil 0"}),
        ({"pagu_kecamatan": [{"kecamatan": "32.75.01", "pagu": 10**15 + 1}]},
         {"pagu_kecamatan.0.pagu": "paling besar 1.000.000.000.000.000"}),
        ({"kickoff_on": "2077-13-01"}, {"kickoff_on": "bukan tanggal yang sah: tulis seperti 2025-01-31"}),
        ({"calendar": [{"stage": "musrenbang_kelurahan", "opens": "kemarin", "closes": "2077-01-31"}]},
         {"calendar.0.opens": "bukan tanggal yang sah: tulis seperti 2025-01-31"}),
        ({"calendar": {"musrenbang_kelurahan": "2077-01-01"}}, {"calendar": "isi dengan daftar (array JSON)"}),
        ({"priority_programs": [{"title": "Program"}] * 21}, {"priority_programs": "paling banyak 20 butir"}),
        ({"priority_programs": [{"target": "x"}]}, {"priority_programs.0.title": "wajib diisi"}),
    ):  # fmt: skip
        r = await client.post("/api/v1/cycles", json={**cycle, **changes}, headers=admin)
        assert invalid(r) == expected, changes
    schedule = {"held_on": "2077-03-01", "starts_at": "25:00:00", "place": "Aula", "chair": "Kepala Bappeda",
                "participants": [], "agenda": ["Pembukaan"]}  # fmt: skip
    r = await client.post("/api/v1/rkpd/2077/forums/forum_pd", json=schedule, headers=admin)
    assert invalid(r) == {"starts_at": "bukan jam yang sah: tulis seperti 09:00"}
    facilitator = await token(client, users["kelurahan"])
    r = await client.post("/api/v1/proposals/ZZZZZZZZ/verification", json={"decision": "reject", "reason": "a" * 1001},
                          headers=facilitator)  # fmt: skip
    assert invalid(r) == {"reason": "terlalu panjang: paling banyak 1000 huruf"}
    # A body that is a list (ballots): its items by their index, as the realisation import's rows.
    r = await client.post("/api/v1/forums/ZZZZ/ballots", json=[{"delegate_id": "d1"}, {"approvals": []}],
                          headers=admin)  # fmt: skip
    assert invalid(r) == {"1.delegate_id": "wajib diisi"}
    r = await client.post("/api/v1/forums/ZZZZ/ballots", json=[{"delegate_id": "d" * 101}], headers=admin)
    assert invalid(r) == {"0.delegate_id": "terlalu panjang: paling banyak 100 huruf"}
    assert await event_count(app_pool) == before


async def test_what_is_no_field_to_correct_stays_400_in_the_readers_language(
    client: httpx.AsyncClient,
    users: dict[str, str],  # noqa: F811
) -> None:
    admin = await token(client, users["admin"])
    for body in (b"[1, 2]", b'"judul"', b"null"):
        r = await client.post("/api/v1/proposals", content=body, headers={**key(), "Content-Type": "application/json"})
        assert r.status_code == 400 and r.json()["message"] == "permintaan tidak dapat dibaca", (body, r.text)
    r = await client.post("/api/v1/proposals", content=b"{bukan json", headers={**key(), "Content-Type":
                          "application/json"})  # fmt: skip
    assert r.status_code == 400 and r.json()["message"] == "permintaan tidak dapat dibaca", r.text
    r = await client.post("/api/v1/forums/ZZZZ/ballots", json={"delegate_id": "d1"}, headers=admin)
    assert r.status_code == 400 and r.json()["message"] == "permintaan tidak dapat dibaca", r.text
    r = await client.post("/api/v1/proposals", json={**payload(kelurahan=KELURAHAN), "extra": 1}, headers=key())
    assert r.status_code == 400 and r.json()["message"] == "isian tidak dikenal: extra", r.text
    nested = payload(kelurahan=KELURAHAN, proposer={"name": "Siti", "phone": "0813-9876-5432", "nik": "1"})
    r = await client.post("/api/v1/proposals", json=nested, headers=key())
    assert r.status_code == 400 and r.json()["message"] == "isian tidak dikenal: proposer.nik", r.text
    # Parameters: named as the client writes them, with what is wrong.
    r = await client.get(f"/api/v1/kelurahan/{KELURAHAN}/proposals", params={"per_page": 0})
    assert r.status_code == 400 and r.json()["message"] == "parameter «per_page» tidak sah: paling kecil 1", r.text
    r = await client.get(f"/api/v1/kelurahan/{KELURAHAN}/proposals", params={"per_page": "x"})
    assert r.status_code == 400 and r.json()["message"] == ("parameter «per_page» tidak sah: isi dengan bilangan"
                                                            " bulat (angka tanpa tanda kutip)"), r.text  # fmt: skip
    r = await client.get("/api/v1/rkpd/100000000000000")
    assert r.status_code == 400 and r.json()["message"] == "parameter «year» tidak sah: paling besar 2100", r.text
    r = await client.post("/api/v1/proposals", json=payload(kelurahan=KELURAHAN), headers={"Idempotency-Key": "k"})
    assert r.status_code == 400 and r.json()["message"] == ("parameter «Idempotency-Key» tidak sah: terlalu pendek:"
                                                            " paling sedikit 8 huruf"), r.text  # fmt: skip
    r = await client.post("/api/v1/proposals", json=payload(kelurahan=KELURAHAN))
    assert r.status_code == 400 and r.json()["message"] == "parameter «Idempotency-Key» wajib diisi", r.text
    r = await client.post("/api/v1/proposals?lang=en", json=payload(kelurahan=KELURAHAN),
                          headers={"Idempotency-Key": "k"})  # fmt: skip
    assert r.status_code == 400 and "Expected" not in r.json()["message"] and "detail" in r.json(), r.text


def test_the_examples_in_the_docstrings_hold() -> None:
    assert doctest.testmod(conversion_errors).attempted >= 5
    assert doctest.testmod(conversion_errors).failed == 0
