"""A lost tracking code (http/recovery.py) through the real server: the page answers a known and an
unknown number alike, and only the known one gets a message, with its codes, on the right channel."""

from __future__ import annotations

import html
import re
import uuid

import asyncpg
import httpx
import pytest

from musrenbang.http import recovery
from tests.http.conftest import payload
from tests.http.test_review_residents import revision_fields
from tests.http.test_staff import KELURAHAN, token, users  # noqa: F401  (a fixture)
from tests.waiting import eventually

pytestmark = pytest.mark.slow


def hidden(page: str, name: str) -> str:
    match = re.search(rf'name="{name}" value="([^"]*)"', page)
    assert match, f"no hidden field {name}"
    return html.unescape(match.group(1))


def new_phone() -> tuple[str, str]:
    """A number as a proposer types it, and as it is stored."""
    digits = f"{uuid.uuid4().int % 10**8:08d}"
    return f"0812-{digits[:4]}-{digits[4:]}", f"+62812{digits}"


async def propose(client: httpx.AsyncClient, phone: str, title: str, name: str = "Wulan Sekarsari Dewi",
                  **changes: object) -> str:  # fmt: skip
    body = payload(title=title, proposer={"name": name, "phone": phone}, **changes)
    r = await client.post("/api/v1/proposals", json=body, headers={"Idempotency-Key": str(uuid.uuid4())})
    assert r.status_code == 201, r.text
    return str(r.json()["code"])


async def ask(client: httpx.AsyncClient, contact: str) -> httpx.Response:
    form = await client.get("/lacak/lupa")
    assert form.status_code == 200
    return await client.post("/lacak/lupa", data={"_csrf_token": hidden(form.text, "_csrf_token"), "contact": contact})


async def sent_to(pool: asyncpg.Pool, address: str) -> list[asyncpg.Record]:
    return await pool.fetch("SELECT * FROM outbox WHERE address = $1 AND purpose = 'recovery'", address)


async def test_a_known_and_an_unknown_number_get_the_same_answer_and_only_the_known_a_message(
    client: httpx.AsyncClient, app_pool: asyncpg.Pool
) -> None:
    typed, stored = new_phone()
    codes = [await propose(client, typed, "Perbaikan saluran air"), await propose(client, typed, "Lampu jalan RW 03")]
    unknown_typed, unknown = new_phone()
    known = await ask(client, typed)
    stranger = await ask(client, unknown_typed)
    assert known.status_code == stranger.status_code == 200
    assert known.content == stranger.content  # same page, same CSRF token (the same cookie), byte for byte
    assert "kami mengirim kode pelacakannya ke sana" in known.text
    assert not await sent_to(app_pool, unknown)
    [message] = await sent_to(app_pool, stored)
    assert (message["channel"], message["subscription"], message["link"], message["status"]) == (
        "sms", None, "/lacak", "pending")  # fmt: skip
    body = message["body"]
    assert body.index(f"{codes[1][:4]}-{codes[1][4:]}") < body.index(f"{codes[0][:4]}-{codes[0][4:]}")  # newest first
    assert f"{codes[1][:4]}-{codes[1][4:]} (RKPD 2022): Lampu jalan RW 03" in body
    assert "http" not in body
    for page in (known.text, stranger.text):
        assert "Wulan" not in page and stored[3:] not in re.sub(r"\D", "", page)


async def test_a_number_gets_three_messages_an_hour_and_the_fourth_answer_is_the_same(
    client: httpx.AsyncClient, app_pool: asyncpg.Pool
) -> None:
    typed, stored = new_phone()
    await propose(client, typed, "Perbaikan saluran air")
    answers = [await ask(client, typed) for _ in range(recovery.SENDS_PER_HOUR + 1)]
    assert len({(r.status_code, r.content) for r in answers}) == 1
    assert len(await sent_to(app_pool, stored)) == recovery.SENDS_PER_HOUR


async def test_whatsapp_when_the_proposer_chose_it_and_email_for_an_email_address(
    client: httpx.AsyncClient, app_pool: asyncpg.Pool
) -> None:
    typed, stored = new_phone()
    code = await propose(client, typed, "Perbaikan saluran air")
    email = f"Wulan.{uuid.uuid4().hex[:8]}@Contoh.ID"
    await app_pool.execute("UPDATE proposer_contacts SET notify = 'whatsapp', email = $2 WHERE proposal_code = $1",
                           code, email)  # fmt: skip
    await ask(client, f"+62 {stored[3:]}")
    assert [m["channel"] for m in await sent_to(app_pool, stored)] == ["whatsapp"]
    r = await ask(client, email.upper())
    assert r.status_code == 200 and email.lower() not in r.text.lower()
    [by_email] = await sent_to(app_pool, email.lower())
    assert by_email["channel"] == "email" and f"{code[:4]}-{code[4:]}" in by_email["body"]


async def test_a_proposal_returned_for_revision_is_listed_with_its_secret_and_the_secret_works(
    client: httpx.AsyncClient, app_pool: asyncpg.Pool, users: dict[str, str]  # noqa: F811
) -> None:
    """The secret is shown once, at submission: a proposer who lost it could never revise a proposal
    returned to them. The message to their own contact now carries it, for a returned proposal only."""
    typed, stored = new_phone()
    _, returned = [await propose(client, typed, title, kelurahan=KELURAHAN) for title in ("Lampu", "Saluran")]
    auth = await token(client, users["kelurahan"])
    decided = await client.post(f"/api/v1/proposals/{returned}/verification", headers=auth,
                                json={"decision": "return", "reason": "Sebutkan RT yang dilalui"})  # fmt: skip
    assert decided.status_code == 200, decided.text
    await eventually(lambda: app_pool.fetchval("SELECT 1 FROM proposals WHERE code = $1 AND status = 'dikembalikan'",
                                               returned), "the return in the read model")  # fmt: skip
    await ask(client, typed)
    [message] = await sent_to(app_pool, stored)
    secrets = re.findall(r"kode rahasia: ([0-9A-Z-]+)", message["body"])
    assert len(secrets) == 1 and message["body"].index(secrets[0]) > message["body"].index(returned[:4])
    form = (await client.get(f"/lacak/{returned}/perbaiki")).text
    revised = await client.post(f"/lacak/{returned}/perbaiki", data=revision_fields(form, secrets[0]))
    assert revised.status_code == 303, revised.text


async def test_a_malformed_entry_is_answered_beside_the_field(client: httpx.AsyncClient) -> None:
    for typed, message in (("12345", "tulis nomor HP"), ("", "tulis nomor HP"),
                           ("wulan@contoh", "tulis alamat e-mail yang benar")):  # fmt: skip
        r = await ask(client, typed)
        assert r.status_code == 422 and 'id="contact-error">' + message in r.text, typed


async def test_one_client_address_may_ask_five_times_an_hour(client: httpx.AsyncClient) -> None:
    statuses = [(await ask(client, new_phone()[0])).status_code for _ in range(recovery.REQUESTS_PER_HOUR + 1)]
    assert statuses == [200] * recovery.REQUESTS_PER_HOUR + [429]


async def test_the_page_is_its_own_not_a_tracking_code(client: httpx.AsyncClient) -> None:
    r = await client.get("/lacak/lupa")
    assert r.status_code == 200 and 'action="/lacak/lupa"' in r.text and 'name="contact"' in r.text
    assert (await client.get("/lacak/LUPA")).status_code == 404  # any other spelling is a code, and no code


# --- the message, in a database of its own -----------------------------------------------------------


async def test_a_message_lists_the_newest_ten_codes(pool: asyncpg.Pool) -> None:
    phone = "+6281311112222"
    codes = [f"TEST{n:04d}" for n in range(12)]
    for n, code in enumerate(codes):
        await pool.execute(
            "INSERT INTO proposer_contacts (ref, proposal_code, name, phone, created_at)"
            " VALUES ($1, $2, 'Nama Uji', $3, now() - make_interval(mins => $4))",
            uuid.uuid4(), code, phone, 100 - n,
        )  # fmt: skip
    await recovery._send_codes(pool, phone, False, lambda code: "RAHASIA")
    [body] = [r["body"] for r in await pool.fetch("SELECT body FROM outbox WHERE address = $1", phone)]
    listed = re.findall(r"TEST-\d{4}", body)
    assert listed == [f"TEST-{n:04d}" for n in range(11, 1, -1)]
    await recovery._send_codes(pool, "+6281399998888", False, lambda code: "RAHASIA")  # nobody's number
    assert await pool.fetchval("SELECT count(*) FROM outbox") == 1
