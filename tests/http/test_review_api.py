"""The auditor's page and the proposals API as a hostile but realistic client sees them, through the real
server: a seal's hash pasted where the page asks for a head, JSON nested deeper than the decoder goes, numbers
whose exponent overflows Decimal arithmetic, and an OpenAPI document that must describe what is really sent
and accepted."""

from __future__ import annotations

import json
import re
import uuid

import httpx
import pytest

from tests.http.conftest import payload
from tests.http.test_audit_page import accounts, bearer  # noqa: F401  (the module's accounts fixture)
from tests.server import Server


def key() -> dict[str, str]:
    return {"Idempotency-Key": str(uuid.uuid4())}


# --- /audit ---------------------------------------------------------------------------------------------


async def test_the_audit_form_checks_the_seal_the_page_asks_to_note(
    city_server: Server,
    accounts: dict[str, str],  # noqa: F811
) -> None:
    """The page prints the newest seal and says "note this hash"; pasting that very hash into the page's
    own form must find it (as /periksa/{hash} does), not answer that the log does not hold it."""
    async with httpx.AsyncClient(base_url=city_server.base_url, timeout=30) as client:
        auditor = await bearer(client, accounts["auditor"])
        page = await client.get("/audit", headers=auditor)
        noted = re.search(r'id="seal".*?href="/periksa/([0-9a-f]{64})"', page.text, re.S)
        assert noted is not None
        pasted = await client.get("/audit", params={"hash": " " + noted[1].upper() + "\n"}, headers=auditor)
    assert pasted.status_code == 200
    assert "Segel ada dan utuh" in pasted.text and "Log tidak memuat" not in pasted.text
    assert f"musrenbang verify --head {noted[1]}" in pasted.text


# --- bodies the decoder cannot read -----------------------------------------------------------------------


def nested(depth: int) -> bytes:
    return json.dumps(payload()).replace('"rw": 5', '"rw": ' + "[" * depth + "]" * depth).encode()


@pytest.mark.parametrize("path", ["/api/v1/proposals", "/api/v1/proposals/ZZZZZZZZ/revision"])
@pytest.mark.parametrize("depth", [1_000, 10_000])
async def test_deeply_nested_json_is_an_unreadable_body_not_a_server_error(
    client: httpx.AsyncClient, path: str, depth: int
) -> None:
    """A 2 KB body of `[[[…` made msgspec raise RecursionError, answered 500 and logged as a server bug."""
    headers = {**key(), "Content-Type": "application/json"}
    r = await client.post(path, content=nested(depth), headers=headers)
    assert r.status_code == 400, r.text
    assert r.json()["error"] == "bad_request" and r.json()["message"] == "permintaan tidak dapat dibaca"


@pytest.mark.parametrize("path", ["/api/v1/auth/token", "/api/v1/forums", "/api/v1/rkpd/2022/lines"])
async def test_every_json_endpoint_takes_nested_json_as_unreadable(client: httpx.AsyncClient, path: str) -> None:
    """The same on every JSON endpoint (http/errors.too_deep), not only the proposals': staff ones too, whose
    body is read before the token is checked."""
    r = await client.post(path, content=nested(1_000), headers={"Content-Type": "application/json"})
    assert r.status_code == 400 and r.json()["message"] == "permintaan tidak dapat dibaca", r.text


@pytest.mark.parametrize("field", ["volume", "latitude", "longitude"])
async def test_a_number_with_a_huge_exponent_is_refused_by_its_field(client: httpx.AsyncClient, field: str) -> None:
    """A string "1e999999999" decodes exactly as a Decimal; the domain's size check (abs()) then raised
    decimal.Overflow: a 500. Since review s26 a string with an exponent is no number at all (the API's
    strings are digits with a dot or a comma: tests/http/test_small_inputs_s26.py)."""
    body = payload(latitude="-6.2383", longitude="106.9896")
    body[field] = "1e999999999"
    r = await client.post("/api/v1/proposals", json=body, headers=key())
    assert r.status_code == 422, r.text
    assert r.json()["errors"] == {field: "tulis angka, misalnya 150 atau 2,5"}


# --- the OpenAPI document ---------------------------------------------------------------------------------


@pytest.fixture
async def schema(client: httpx.AsyncClient) -> dict:
    r = await client.get("/schema/openapi.json")
    assert r.status_code == 200
    return r.json()


def resolve(schema: dict, node: dict) -> dict:
    while "$ref" in node:
        node = schema["components"]["schemas"][node["$ref"].rsplit("/", 1)[1]]
    return node


def documented(schema: dict, path: str, method: str, status: int) -> dict:
    responses = schema["paths"][path][method]["responses"]
    assert str(status) in responses, (path, method, status, sorted(responses))
    return resolve(schema, responses[str(status)]["content"]["application/json"]["schema"])


def conforms(shape: dict, body: dict) -> None:
    """What a client generated from the document needs: every field it requires sent, nothing unknown."""
    assert set(shape.get("required", [])) <= set(body), (shape.get("required"), body)
    assert set(body) <= set(shape["properties"]), (sorted(shape["properties"]), body)


async def test_the_errors_the_api_sends_are_the_errors_its_schema_documents(
    client: httpx.AsyncClient, schema: dict
) -> None:
    """The document promised Litestar's `{"status_code", "detail", "extra"}` for a 400 (and nothing for
    409 or 422); the server sends `{"error", "message", ...}`."""
    submit = "/api/v1/proposals"
    unreadable = await client.post(submit, json=payload(unexpected=1), headers=key())
    invalid = await client.post(submit, json=payload(rw=500), headers=key())
    wrong_kind = await client.post(submit, json=payload(rw="lima"), headers=key())  # the edge's 422 (s26)
    same = key()
    first = await client.post(submit, json=payload(), headers=same)
    reused = await client.post(submit, json=payload(title="Judul yang lain sama sekali"), headers=same)
    retried = await client.post(submit, json=payload(), headers=same)
    missing = await client.get("/api/v1/proposals/ZZZZZZZZ")
    answers = [(submit, "post", unreadable, 400), (submit, "post", invalid, 422), (submit, "post", wrong_kind, 422),
               (submit, "post", reused, 409),
               (submit, "post", first, 201), (submit, "post", retried, 200),
               ("/api/v1/proposals/{code}", "get", missing, 404)]  # fmt: skip
    for path, method, r, status in answers:
        assert r.status_code == status, r.text
        conforms(documented(schema, path, method, status), r.json())
    for path, method in (("/api/v1/proposals/{code}/photos", "post"), ("/api/v1/proposals/{code}/revision", "post")):
        for status in (400, 403, 404, 409, 413, 422):
            assert documented(schema, path, method, status)["required"] == ["error", "message"]


async def test_decimal_fields_are_documented_as_the_numbers_they_accept(
    client: httpx.AsyncClient, schema: dict
) -> None:
    """The README and every example send `"volume": 150`; the document said a string only."""
    body = resolve(schema, {"$ref": "#/components/schemas/ProposalIn"})["properties"]
    assert "number" in body["volume"]["type"]
    for coordinate in ("latitude", "longitude"):
        assert {"number", "string", "null"} == {arm["type"] for arm in body[coordinate]["oneOf"]}
    r = await client.post("/api/v1/proposals", json=payload(volume=2.5, latitude=-6.2383, longitude=106.9896),
                          headers=key())  # fmt: skip
    assert r.status_code == 201, r.text
