"""Following by e-mail through the real server (http/follow.py): the request, its confirmation mail in
the outbox, the confirm and stop buttons, the limits, and no address on any page."""

from __future__ import annotations

import html
import re
import uuid
from collections.abc import AsyncIterator

import asyncpg
import httpx
import pytest

from musrenbang.db.connect import create_pool
from musrenbang.domain.events import ProposalMerged
from musrenbang.eventlog import outbox
from musrenbang.http import follow
from tests import history
from tests.http.conftest import payload

pytestmark = pytest.mark.slow


def hidden(page: str, name: str) -> str:
    match = re.search(rf'name="{name}" value="([^"]*)"', page)
    assert match, f"no hidden field {name}"
    return html.unescape(match.group(1))


async def new_proposal(client: httpx.AsyncClient, title: str = "Perbaikan saluran air") -> str:
    key = {"Idempotency-Key": str(uuid.uuid4())}
    r = await client.post("/api/v1/proposals", json=payload(title=title), headers=key)
    assert r.status_code == 201, r.text
    return str(r.json()["code"])


async def csrf(client: httpx.AsyncClient, url: str = "/ikuti") -> str:
    r = await client.get(url)
    assert r.status_code == 200, r.text
    return hidden(r.text, "_csrf_token")


async def ask(client: httpx.AsyncClient, subject: str, email: str) -> httpx.Response:
    return await client.post("/ikuti", data={"_csrf_token": await csrf(client), "subject": subject, "email": email})


def new_email() -> str:
    return f"Warga.{uuid.uuid4().hex[:10]}@Contoh.ID"


async def subscriptions(pool: asyncpg.Pool, email: str) -> list[asyncpg.Record]:
    return await pool.fetch("SELECT * FROM subscriptions WHERE address = $1 ORDER BY created_at", email.lower())


async def mails(pool: asyncpg.Pool, email: str) -> list[asyncpg.Record]:
    return await pool.fetch("SELECT * FROM outbox WHERE address = $1 ORDER BY created_at", email.lower())


async def a_follower(client: httpx.AsyncClient, pool: asyncpg.Pool) -> tuple[str, str, asyncpg.Record]:
    """A new proposal, the address that asked to follow it, and its subscription (not confirmed yet)."""
    code = await new_proposal(client)
    email = new_email()
    await ask(client, code, email)
    [sub] = await subscriptions(pool, email)
    return code, email, sub


async def test_following_asks_for_a_confirmation_that_only_a_button_gives(
    client: httpx.AsyncClient, app_pool: asyncpg.Pool
) -> None:
    code = await new_proposal(client)
    email = new_email()
    form = await client.get(f"/ikuti?subjek={code[:4]}-{code[4:].lower()}")
    assert form.status_code == 200 and "Perbaikan saluran air" in form.text
    assert hidden(form.text, "subject") == code
    r = await ask(client, code, email)
    assert r.status_code == 200 and "Jika alamat itu benar, kami mengirim tautan konfirmasi" in r.text
    [sub] = await subscriptions(app_pool, email)
    assert (sub["subject"], sub["channel"], sub["kind"], sub["link"], sub["confirmed"], sub["stopped_at"]) == (
        code, "email", "follower", f"/lacak/{code}", False, None)  # fmt: skip
    token = sub["token"]
    [mail] = await mails(app_pool, email)
    assert (mail["purpose"], mail["channel"], mail["subscription"], mail["link"], mail["status"]) == (
        "confirm", "email", None, f"/ikuti/{token}", "pending")  # fmt: skip
    assert mail["body"].startswith("Klik tautan ini untuk mulai mengikuti") and "Perbaikan saluran air" in mail["body"]
    assert "http" not in mail["body"]  # the worker adds the link
    page = await client.get(f"/ikuti/{token}")
    assert page.status_code == 200 and f'action="/ikuti/{token}"' in page.text
    assert not (await subscriptions(app_pool, email))[0]["confirmed"]  # opening the link confirms nothing
    done = await client.post(f"/ikuti/{token}", data={"_csrf_token": hidden(page.text, "_csrf_token")})
    assert done.status_code == 200 and "Anda sekarang mengikuti" in done.text
    assert (await subscriptions(app_pool, email))[0]["confirmed"]
    for body in (form.text, r.text, page.text, done.text, (await client.get(f"/ikuti/{token}")).text):
        assert email.lower() not in body.lower()


async def test_asking_again_sends_no_second_mail_and_the_answer_is_the_same(
    client: httpx.AsyncClient, app_pool: asyncpg.Pool
) -> None:
    code = await new_proposal(client)
    email = new_email()
    first = await ask(client, code, email)
    again = await ask(client, code, email.upper())
    assert (first.status_code, first.content) == (again.status_code, again.content)
    assert len(await mails(app_pool, email)) == 1 and len(await subscriptions(app_pool, email)) == 1
    token = (await subscriptions(app_pool, email))[0]["token"]
    await client.post(f"/ikuti/{token}", data={"_csrf_token": await csrf(client)})
    followed = await ask(client, code, email)  # following already: nothing to confirm
    assert (followed.status_code, followed.content) == (first.status_code, first.content)
    assert len(await mails(app_pool, email)) == 1


async def test_a_confirmation_link_confirms_for_a_week_and_asking_again_renews_it(
    client: httpx.AsyncClient, app_pool: asyncpg.Pool
) -> None:
    code, email, sub = await a_follower(client, app_pool)
    token = sub["token"]
    days = follow.CONFIRM_DAYS
    # Queued long ago and still waiting (no channel set up yet, say), or delivered only today: it confirms.
    queued_long_ago = "UPDATE outbox SET created_at = now() - make_interval(days => $2) WHERE address = $1"
    await app_pool.execute(queued_long_ago, email.lower(), days + 1)
    assert f'action="/ikuti/{token}"' in (await client.get(f"/ikuti/{token}")).text
    delivered = ("UPDATE outbox SET status = 'delivered', delivered_at = now() - make_interval(days => $2)"
                 " WHERE address = $1")
    await app_pool.execute(delivered, email.lower(), 0)
    assert f'action="/ikuti/{token}"' in (await client.get(f"/ikuti/{token}")).text
    await app_pool.execute(delivered, email.lower(), days + 1)  # delivered a day longer ago than a link confirms
    page = await client.get(f"/ikuti/{token}")
    assert page.status_code == 200 and "sudah kedaluwarsa" in page.text and f"berlaku {days} hari" in page.text
    assert f'action="/ikuti/{token}"' not in page.text and f"/ikuti?subjek={code}" in page.text
    old = await client.post(f"/ikuti/{token}", data={"_csrf_token": await csrf(client)})
    assert old.status_code == 410 and "sudah kedaluwarsa" in old.text
    assert not (await subscriptions(app_pool, email))[0]["confirmed"]
    await ask(client, code, email)  # a new mail with the same link: it confirms again
    assert len(await mails(app_pool, email)) == 2
    done = await client.post(f"/ikuti/{token}", data={"_csrf_token": await csrf(client)})
    assert done.status_code == 200 and "Anda sekarang mengikuti" in done.text
    assert (await subscriptions(app_pool, email))[0]["confirmed"]


async def test_one_address_gets_at_most_three_confirmations_an_hour(
    client: httpx.AsyncClient, app_pool: asyncpg.Pool
) -> None:
    codes = [await new_proposal(client, f"Usulan ke-{n}") for n in range(follow.CONFIRMATIONS_PER_HOUR + 1)]
    email = new_email()
    answers = [await ask(client, code, email) for code in codes]
    assert len(await mails(app_pool, email)) == follow.CONFIRMATIONS_PER_HOUR
    unlimited = await ask(client, codes[-1], new_email())  # the same page as for an address under its limit
    assert (answers[-1].status_code, answers[-1].content) == (unlimited.status_code, unlimited.content)


async def test_a_wrong_address_or_subject_is_answered_beside_its_field(
    client: httpx.AsyncClient, app_pool: asyncpg.Pool
) -> None:
    code = await new_proposal(client)
    for subject, email, field, message in (
        (code, "bukan-email", "email", "tulis alamat e-mail yang benar"),
        (code, "a@b", "email", "tulis alamat e-mail yang benar"),
        (code, "nama@contoh..id", "email", "tulis alamat e-mail yang benar"),
        (code, "x" * 250 + "@contoh.id", "email", "tulis alamat e-mail yang benar"),
        ("ZZZZ-ZZZZ", "warga@contoh.id", "subject", "tidak ada usulan atau baris RKPD dengan kode ini"),
        ("rkpd/2022/TIDAK-ADA", "warga@contoh.id", "subject", "tidak ada usulan atau baris RKPD dengan kode ini"),
    ):  # fmt: skip
        r = await ask(client, subject, email)
        assert r.status_code == 422, (subject, email)
        assert f'id="{field}-error">{message}' in r.text, r.text
    assert not await app_pool.fetchval("SELECT count(*) FROM subscriptions WHERE subject = $1", code)


async def test_the_stop_button_stops_and_cancels_what_was_still_to_be_sent(
    client: httpx.AsyncClient, app_pool: asyncpg.Pool
) -> None:
    code, email, sub = await a_follower(client, app_pool)
    await client.post(f"/ikuti/{sub['token']}", data={"_csrf_token": await csrf(client)})
    news = await _queue_news(app_pool, sub)
    page = await client.get(f"/berhenti/{sub['token']}")
    assert page.status_code == 200 and f'action="/berhenti/{sub["token"]}"' in page.text
    assert (await subscriptions(app_pool, email))[0]["stopped_at"] is None  # opening the link stops nothing
    r = await client.post(f"/berhenti/{sub['token']}", data={"_csrf_token": hidden(page.text, "_csrf_token")})
    assert r.status_code == 200 and "Anda tidak akan menerima kabar lagi" in r.text
    assert (await subscriptions(app_pool, email))[0]["stopped_at"] is not None
    assert await app_pool.fetchval("SELECT status FROM outbox WHERE id = $1", news) == "cancelled"
    assert email.lower() not in (page.text + r.text).lower()
    # following again needs a new confirmation, with a new token (the old links are dead)
    await ask(client, code, email)
    [again] = await subscriptions(app_pool, email)
    assert not again["confirmed"] and again["stopped_at"] is None and again["token"] != sub["token"]
    assert (await client.get(f"/berhenti/{sub['token']}")).status_code == 404


async def test_a_mail_providers_one_click_post_stops_without_a_session(
    client: httpx.AsyncClient, app_pool: asyncpg.Pool
) -> None:
    """RFC 8058: the e-mail's List-Unsubscribe-Post makes the provider POST the stop link with no cookie and
    no form token; the link's own token is what authorises it."""
    code, email, sub = await a_follower(client, app_pool)
    async with httpx.AsyncClient(base_url=str(client.base_url), timeout=30) as provider:
        r = await provider.post(f"/berhenti/{sub['token']}", content=b"List-Unsubscribe=One-Click",
                                headers={"Content-Type": "application/x-www-form-urlencoded"})  # fmt: skip
    assert r.status_code == 200
    assert (await subscriptions(app_pool, email))[0]["stopped_at"] is not None


async def test_a_follower_of_a_duplicate_confirms_and_stops_the_copy_a_merge_made_too(
    client: httpx.AsyncClient, app_pool: asyncpg.Pool
) -> None:
    """Someone follows D; D is merged into P before they confirm (the merge's event carries followers on:
    eventlog/outbox.py). Their one confirmation link confirms both, their one stop link stops both."""
    duplicate, survivor = await new_proposal(client), await new_proposal(client)
    email = new_email()
    await ask(client, duplicate, email)
    [sub] = await subscriptions(app_pool, email)
    async with app_pool.acquire() as conn, conn.transaction():
        await outbox.enqueue(conn, [(uuid.uuid4(), ProposalMerged(code=duplicate, into=survivor, reason="sama"))])
    assert [s["subject"] for s in await subscriptions(app_pool, email)] == [duplicate, survivor]
    await client.post(f"/ikuti/{sub['token']}", data={"_csrf_token": await csrf(client)})
    assert all(s["confirmed"] for s in await subscriptions(app_pool, email))
    page = await client.get(f"/berhenti/{sub['token']}")
    await client.post(f"/berhenti/{sub['token']}", data={"_csrf_token": hidden(page.text, "_csrf_token")})
    assert all(s["stopped_at"] is not None for s in await subscriptions(app_pool, email))


async def test_a_proposers_stop_stops_every_subscription_made_with_their_proposal(
    client: httpx.AsyncClient, app_pool: asyncpg.Pool
) -> None:
    code, other = await new_proposal(client), await new_proposal(client)
    owner, phone = uuid.uuid4(), f"+62813{uuid.uuid4().int % 10**8:08d}"
    mine = [await _subscription(app_pool, code, phone, "proposer", owner),
            await _subscription(app_pool, other, phone, "proposer", owner)]  # a copy on the merge survivor
    stranger = await _subscription(app_pool, code, f"+62814{uuid.uuid4().int % 10**8:08d}", "proposer", uuid.uuid4())
    queued = [await _queue_news(app_pool, s) for s in (*mine, stranger)]
    page = await client.get(f"/berhenti/{mine[0]['token']}")
    assert "Hentikan semua kabar tentang usulan Anda?" in page.text
    r = await client.post(f"/berhenti/{mine[0]['token']}", data={"_csrf_token": hidden(page.text, "_csrf_token")})
    assert r.status_code == 200
    stopped = {row["id"]: row["stopped_at"] for row in await app_pool.fetch(
        "SELECT id, stopped_at FROM subscriptions WHERE id = ANY($1::uuid[])", [s["id"] for s in (*mine, stranger)])}
    assert all(stopped[s["id"]] is not None for s in mine) and stopped[stranger["id"]] is None
    statuses = [await app_pool.fetchval("SELECT status FROM outbox WHERE id = $1", q) for q in queued]
    assert statuses == ["cancelled", "cancelled", "pending"]
    assert phone[3:] not in page.text + r.text


async def test_an_unknown_token_is_not_found(client: httpx.AsyncClient) -> None:
    token = await csrf(client)
    for path in ("/ikuti/", "/berhenti/"):
        for name in ("x" * 32, "pendek", "<script>"):
            assert (await client.get(path + name)).status_code == 404
            assert (await client.post(path + name, data={"_csrf_token": token})).status_code == 404


async def test_a_form_without_its_csrf_token_is_refused(client: httpx.AsyncClient, app_pool: asyncpg.Pool) -> None:
    code = await new_proposal(client)
    email = new_email()
    r = await client.post("/ikuti", data={"subject": code, "email": email})
    assert r.status_code == 403 and not await subscriptions(app_pool, email)


async def test_one_client_address_may_ask_twenty_times_an_hour(client: httpx.AsyncClient) -> None:
    code = await new_proposal(client)
    token = await csrf(client)
    statuses = [(await client.post("/ikuti", data={"_csrf_token": token, "subject": code, "email": new_email()}))
                .status_code for _ in range(follow.FOLLOWS_PER_HOUR + 1)]  # fmt: skip
    assert statuses == [200] * follow.FOLLOWS_PER_HOUR + [429]


# --- an RKPD line, in the database of the history's adopted RKPD (read only) ------------------------


@pytest.fixture
async def city(city_database: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await create_pool(city_database, min_size=1, max_size=2)
    yield pool
    await pool.close()


async def test_an_adopted_rkpd_line_can_be_followed_by_its_subject(city: asyncpg.Pool) -> None:
    async with city.acquire() as conn:
        line = await follow.followed(conn, f"rkpd/{history.YEAR}/DBMSDA-002")
        assert line == follow.Followed(f"rkpd/{history.YEAR}/DBMSDA-002", f"/telusur/rkpd/{history.YEAR}/DBMSDA-002",
                                       "Rehabilitasi Jalan", True)  # fmt: skip
        assert await follow.followed(conn, f"rkpd/{history.YEAR}/DBMSDA-404") is None
        assert await follow.followed(conn, f"rkpd/{history.YEAR}/DBMSDA-002/../x") is None
        code = await conn.fetchval("SELECT min(code) FROM proposals")
        proposal = await follow.followed(conn, f" {code[:4].lower()}-{code[4:]} ")
        assert proposal is not None and proposal.subject == code and proposal.link == f"/lacak/{code}"


def test_email_addresses_are_checked_and_kept_in_lower_case() -> None:
    assert follow.valid_email(" Siti.R+musren@Contoh.co.ID ") == "siti.r+musren@contoh.co.id"
    for wrong in ("", "siti", "siti@", "@contoh.id", "siti@contoh", "si ti@contoh.id", "siti@-contoh.id",
                  ".siti@contoh.id", "siti..r@contoh.id", "siti@contoh.id\nBcc: x@y.id", "x" * 65 + "@contoh.id",
                  "siti@" + "a" * 250 + ".id"):  # fmt: skip
        with pytest.raises(ValueError):
            follow.valid_email(wrong)


async def _subscription(pool: asyncpg.Pool, subject: str, address: str, kind: str, owner: uuid.UUID | None
                        ) -> asyncpg.Record:  # fmt: skip
    return await pool.fetchrow(
        "INSERT INTO subscriptions (id, subject, channel, address, link, kind, owner, token, confirmed)"
        " VALUES ($1, $2, 'sms', $3, $4, $5, $6, $7, true) RETURNING *",
        uuid.uuid4(), subject, address, f"/lacak/{subject}", kind, owner, uuid.uuid4().hex + uuid.uuid4().hex,
    )  # fmt: skip


async def _queue_news(pool: asyncpg.Pool, sub: asyncpg.Record) -> uuid.UUID:
    """A message of news waiting for the worker, as the outbox writes one for an event."""
    return await pool.fetchval(
        "INSERT INTO outbox (id, subscription, dedupe, purpose, channel, address, title, body, link)"
        " VALUES ($1, $2, $3, 'status', $4, $5, 'Kabar', 'Ada kabar', $6) RETURNING id",
        uuid.uuid4(), sub["id"], str(uuid.uuid4()), sub["channel"], sub["address"], sub["link"],
    )  # fmt: skip
