"""Session 22's review of "Lupa kode?" (http/recovery.py) through the real server: a proposal returned for
revision is listed with its secret however many newer ones the number made, and the message says how
many older ones it left out."""

from __future__ import annotations

import re
import secrets
import uuid

import asyncpg
import httpx
import pytest

from musrenbang.http import recovery
from tests.http.conftest import SUBMISSIONS_PER_HOUR, payload
from tests.http.test_recovery import ask, new_phone, sent_to
from tests.http.test_staff import KELURAHAN, token, users  # noqa: F401  (a fixture)
from tests.waiting import eventually

pytestmark = pytest.mark.slow


def dashed(code: str) -> str:
    return f"{code[:4]}-{code[4:]}"


async def test_an_old_returned_proposal_is_listed_with_its_secret_past_ten_newer_ones(
    client: httpx.AsyncClient, app_pool: asyncpg.Pool, users: dict[str, str]  # noqa: F811
) -> None:
    """The message listed the ten newest proposals only: a number with eleven left out the oldest, which
    was the one returned for revision, the one whose secret the proposer had come for."""
    typed, stored = new_phone()
    net = secrets.randbelow(200) + 20  # addresses of this test's own: five proposals an hour each
    codes = []
    for n in range(recovery.CODES + 1):
        body = payload(title=f"Usulan lama nomor {n}", proposer={"name": "Wulan Sekarsari Dewi", "phone": typed},
                       kelurahan=KELURAHAN)  # fmt: skip
        address = f"10.122.{net}.{n // SUBMISSIONS_PER_HOUR + 1}"
        r = await client.post("/api/v1/proposals", json=body,
                              headers={"Idempotency-Key": str(uuid.uuid4()), "X-Forwarded-For": address})  # fmt: skip
        assert r.status_code == 201, r.text
        codes.append(str(r.json()["code"]))
    oldest = codes[0]
    auth = await token(client, users["kelurahan"])
    decided = await client.post(f"/api/v1/proposals/{oldest}/verification", headers=auth,
                                json={"decision": "return", "reason": "Sebutkan RT yang dilalui"})  # fmt: skip
    assert decided.status_code == 200, decided.text
    await eventually(lambda: app_pool.fetchval("SELECT 1 FROM proposals WHERE code = $1 AND status = 'dikembalikan'",
                                               oldest), "the return in the read model")  # fmt: skip
    await ask(client, typed)
    [message] = await sent_to(app_pool, stored)
    body = message["body"]
    listed = [code.replace("-", "") for code in re.findall(r"^([0-9A-Z]{4}-[0-9A-Z]{4})", body, re.MULTILINE)]
    assert listed == [*reversed(codes[2:]), oldest], body  # newest first; the second oldest left out
    assert re.search(rf"{dashed(oldest)} \(RKPD \d+\): Usulan lama nomor 0\n  dikembalikan untuk diperbaiki;"
                     r" kode rahasia: [0-9A-Z-]+\n", body), body  # fmt: skip
    assert "1 usulan lain yang lebih lama tidak dicantumkan." in body
    assert message["channel"] == "sms"


async def test_a_message_with_everything_listed_says_nothing_was_left_out(pool: asyncpg.Pool) -> None:
    phone = "+6281322223333"
    for n in range(3):
        await pool.execute(
            "INSERT INTO proposer_contacts (ref, proposal_code, name, phone, created_at)"
            " VALUES ($1, $2, 'Nama Uji', $3, now() - make_interval(mins => $4))",
            uuid.uuid4(), f"TEST{n:04d}", phone, 100 - n,
        )  # fmt: skip
    await recovery._send_codes(pool, phone, False, lambda code: "RAHASIA")
    body = await pool.fetchval("SELECT body FROM outbox WHERE address = $1", phone)
    assert re.findall(r"TEST-\d{4}", body) == ["TEST-0002", "TEST-0001", "TEST-0000"]
    assert "tidak dicantumkan" not in body
