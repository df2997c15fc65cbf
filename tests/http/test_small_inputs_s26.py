"""Review s26, at the HTTP edge:

- a volume sent as the string "1e5" (or "+5", "inf", "1_000") was recorded as 100000: the API documents its
  strings as ASCII digits with a dot or a comma; refused now, for a proposal's volume and coordinates and
  for a verifier's agreed volume (a JSON number 1e5 is still a number);
- the city forums' schedule form says "Jenis: opd … atau lainnya" and takes those words, but refused an
  unknown kind naming the API's words (agency, dprd, kecamatan atau other): it names its own now.
"""

from __future__ import annotations

import json
import uuid

import httpx
import pytest

from musrenbang.domain import city_forums as rules
from musrenbang.domain.values import WRITE_NUMBER
from musrenbang.http.city_forums import KIND_WORDS, schedule_from_form
from tests.http.conftest import payload
from tests.http.test_staff import new_proposal, token, users  # noqa: F401  (module fixture)

KIND_ERROR = "peserta ke-2: jenis peserta opd, dprd, kecamatan atau lainnya"


def key() -> dict[str, str]:
    return {"Idempotency-Key": str(uuid.uuid4())}


@pytest.mark.parametrize("typed", ["1e5", "1E+5", "+5", "inf", "NaN", "1_000"])
@pytest.mark.parametrize("field", ["volume", "latitude", "longitude"])
async def test_a_number_string_not_in_the_documented_form_is_refused(client: httpx.AsyncClient, field: str,
                                                                     typed: str) -> None:  # fmt: skip
    body = payload(latitude="-6.2383", longitude="106.9896")
    body[field] = typed
    r = await client.post("/api/v1/proposals", json=body, headers=key())
    assert r.status_code == 422, r.text
    assert r.json()["errors"] == {field: WRITE_NUMBER}


async def test_a_json_number_with_an_exponent_is_still_a_number(client: httpx.AsyncClient) -> None:
    raw = json.dumps(payload()).replace('"volume": 150', '"volume": 1.5e2')
    assert "1.5e2" in raw
    r = await client.post("/api/v1/proposals", content=raw.encode(),
                          headers={**key(), "Content-Type": "application/json"})  # fmt: skip
    assert r.status_code == 201, r.text
    shown = (await client.get(f"/api/v1/proposals/{r.json()['code']}")).json()
    assert shown["volume"] == "150"


async def test_an_agreed_volume_string_is_read_in_the_documented_form(client: httpx.AsyncClient,
                                                                      users: dict[str, str]) -> None:  # noqa: F811
    """Staff's agreed volume was read by Decimal() too ("1e5" agreed as 100000); a JSON number 1e40 is still
    told it is too large, not that it is no number (its text in Python is "1e+40")."""
    auth = await token(client, users["admin"])
    url = f"/api/v1/proposals/{await new_proposal(client)}/verification"
    for typed in ("1e5", "+5"):
        r = await client.post(url, headers=auth, json={"decision": "accept_with_changes", "reason": "ubah",
                                                       "agreed_volume": typed})  # fmt: skip
        assert r.status_code == 422 and r.json()["errors"] == {"agreed_volume": WRITE_NUMBER}, r.text
    r = await client.post(url, headers={**auth, "Content-Type": "application/json"},
                          content=b'{"decision": "accept_with_changes", "reason": "ubah", "agreed_volume": 1e40}')
    assert r.status_code == 422 and r.json()["errors"] == {"agreed_volume": "angka terlalu besar"}, r.text
    r = await client.post(url, headers=auth, json={"decision": "accept_with_changes", "reason": "ubah",
                                                   "agreed_volume": "120,5"})  # fmt: skip
    assert r.status_code in (200, 201), r.text
    assert (await client.get(url.removesuffix("/verification"))).json()["agreed_volume"] == "120.5"


def _form(participants: str) -> dict[str, str]:
    return {"held_on": "2021-03-01", "starts_at": "09:00", "place": "Aula Bappeda", "chair": "Kepala Bappeda",
            "participants": participants, "agenda": "Pembukaan", "minutes": ""}  # fmt: skip


def test_the_schedule_form_refuses_an_unknown_kind_in_its_own_words() -> None:
    _, unreadable = schedule_from_form(2022, rules.FORUM_PD, _form("Budi | opd | DBMSDA\nSiti | kadis | DBMSDA"))
    assert unreadable == {"participants": KIND_ERROR}
    _, unreadable = schedule_from_form(2022, rules.FORUM_PD, _form("Budi | opd | DBMSDA\nSiti"))
    assert unreadable == {"participants": KIND_ERROR}


def test_the_schedule_form_takes_the_words_its_help_text_names() -> None:
    typed = "A | opd | DBMSDA\nB | DPRD | Bekasi 1\nC | Kecamatan | Bekasi Timur\nD | lainnya | Akademisi"
    command, unreadable = schedule_from_form(2022, rules.FORUM_PD, _form(typed))
    assert unreadable == {}
    assert [p.kind for p in command.participants] == ["agency", "dprd", "kecamatan", "other"]  # type: ignore[attr-defined]
    assert sorted(KIND_WORDS.values()) == ["dprd", "kecamatan", "lainnya", "opd"]  # what the form shows back
