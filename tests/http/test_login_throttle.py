"""Guessing one username from many addresses (the /64s of one IPv6 /48, a botnet): the username's budget
over all addresses (services/login_throttle.py), through the real server, and its window moved by the
clock the service takes (`now`) instead of waiting for it."""

from __future__ import annotations

import asyncio
import datetime as dt
import re
import uuid
from collections.abc import AsyncIterator

import asyncpg
import httpx
import pytest

from musrenbang.http.ratelimit import limit_key
from musrenbang.services import accounts, login_throttle
from musrenbang.services.login_throttle import ACCOUNT_ATTEMPTS, ACCOUNT_WINDOW, AccountThrottled
from tests.http.test_pages import hidden
from tests.http.test_staff import PASSWORD, add_user
from tests.server import Server

WRONG = "bukan-kata-sandinya"
REFUSED = "terlalu banyak percobaan masuk untuk akun ini"


def spread(n: int) -> list[str]:
    """`n` client addresses as an attacker holding one IPv6 /48 has them: each in a /64 of its own."""
    block = f"2001:db8:{uuid.uuid4().int % 65000 + 1:x}"
    return [f"{block}:{k + 1:x}::{uuid.uuid4().int % 65000 + 1:x}" for k in range(n)]


@pytest.fixture
def account(app_database: str) -> str:
    username = f"sasaran-{uuid.uuid4().hex[:6]}"
    add_user(app_database, username, "auditor")
    return username


@pytest.fixture
async def api(app_server: Server) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=app_server.base_url, timeout=60) as client:
        yield client


async def guess(client: httpx.AsyncClient, username: str, address: str, password: str = WRONG) -> httpx.Response:
    return await client.post("/api/v1/auth/token", json={"username": username, "password": password},
                             headers={"X-Forwarded-For": address})  # fmt: skip


async def test_guesses_from_many_addresses_share_one_budget_per_username(
    api: httpx.AsyncClient, app_server: Server, account: str
) -> None:
    """One wrong guess from each of many /64s: once the username's budget is spent, every address is
    refused for that username (the right password too, before it is checked), in the API and the page."""
    attackers = spread(ACCOUNT_ATTEMPTS + 3)
    answers = [await guess(api, account, address) for address in attackers[:-1]]
    assert [r.status_code for r in answers] == [401] * ACCOUNT_ATTEMPTS + [429, 429]
    refused = answers[-1]
    assert refused.json()["error"] == "rate_limited" and REFUSED in refused.json()["message"]
    assert re.search(r"coba lagi dalam (1[0-5]|[1-9]) menit$", refused.json()["message"]), refused.json()
    assert 0 < int(refused.headers["retry-after"]) <= ACCOUNT_WINDOW.total_seconds()
    assert (await guess(api, account, attackers[-1], PASSWORD)).status_code == 429
    # The sign-in page says so, in Indonesian, with 429 and Retry-After.
    async with httpx.AsyncClient(base_url=app_server.base_url, timeout=30,
                                 headers={"X-Forwarded-For": spread(1)[0]}) as browser:  # fmt: skip
        form = await browser.get("/masuk")
        page = await browser.post("/masuk", data={"_csrf_token": hidden(form.text, "_csrf_token"),
                                                  "username": account, "password": PASSWORD})  # fmt: skip
    assert page.status_code == 429 and int(page.headers["retry-after"]) > 0
    assert REFUSED in page.text.lower() and "menit" in page.text


async def test_an_unknown_username_is_throttled_exactly_like_a_real_one(api: httpx.AsyncClient, account: str) -> None:
    """The budget is the username's as typed, whether or not an account has it: the answers do not tell."""

    async def attack(username: str) -> list[tuple[int, str]]:
        answers = [await guess(api, username, address) for address in spread(ACCOUNT_ATTEMPTS + 2)]
        return [(r.status_code, re.sub(r"\d+", "N", r.json()["message"])) for r in answers]  # N menit

    real, made_up = await attack(account), await attack(f"tak-ada-{uuid.uuid4().hex[:6]}")
    assert [status for status, _ in real] == [401] * ACCOUNT_ATTEMPTS + [429, 429]
    assert made_up == real


async def test_the_real_user_still_gets_in_from_where_they_signed_in_before(
    api: httpx.AsyncClient, account: str
) -> None:
    home, elsewhere, *attackers = spread(ACCOUNT_ATTEMPTS + 3)
    assert (await guess(api, account, home, PASSWORD)).status_code == 200
    assert [(await guess(api, account, a)).status_code for a in attackers] == [401] * ACCOUNT_ATTEMPTS + [429]
    assert (await guess(api, account, elsewhere, PASSWORD)).status_code == 429
    # Where the account signed in before, only the per-address throttle applies: a typo is a typo.
    assert (await guess(api, account, home)).status_code == 401
    assert (await guess(api, account, home, PASSWORD)).status_code == 200


async def test_a_right_password_and_a_refusal_per_address_give_their_place_back(
    api: httpx.AsyncClient, app_pool: asyncpg.Pool, account: str
) -> None:
    """Only attempts that tried a wrong password spend the budget."""
    slowed, *others = spread(ACCOUNT_ATTEMPTS + 3)
    await app_pool.execute("INSERT INTO login_throttle (key, failures, next_try, last_try)"
                           " VALUES ($1, 20, now() + interval '15 minutes', now())",
                           f"{account}|{limit_key(slowed)}")  # fmt: skip
    assert [(await guess(api, account, a)).status_code for a in others[: ACCOUNT_ATTEMPTS - 1]] == [401] * (
        ACCOUNT_ATTEMPTS - 1)  # fmt: skip
    assert (await guess(api, account, others[ACCOUNT_ATTEMPTS - 1], PASSWORD)).status_code == 200
    for _ in range(3):  # slowed down for this username at this address: no password tried
        r = await guess(api, account, slowed)
        assert r.status_code == 429 and REFUSED not in r.json()["message"], r.json()
    assert (await guess(api, account, others[ACCOUNT_ATTEMPTS])).status_code == 401  # the last place
    assert (await guess(api, account, others[ACCOUNT_ATTEMPTS + 1])).status_code == 429


async def test_concurrent_guesses_from_many_addresses_cannot_pass_the_budget(
    api: httpx.AsyncClient, account: str
) -> None:
    answers = await asyncio.gather(*(guess(api, account, address) for address in spread(40)))
    statuses = [r.status_code for r in answers]
    assert statuses.count(401) == ACCOUNT_ATTEMPTS and statuses.count(429) == 40 - ACCOUNT_ATTEMPTS, statuses


async def test_the_refusal_is_short_and_ends_with_the_window(app_pool: asyncpg.Pool, account: str) -> None:
    """Refused attempts neither count nor move the window on: at most ACCOUNT_WINDOW after its first
    attempt, the real user gets in from anywhere. The database's clock is stood in for by `now`."""
    start = await app_pool.fetchval("SELECT now() - interval '1 day'")  # clear of other tests' windows
    net = f"10.{uuid.uuid4().int % 200 + 20}.{uuid.uuid4().int % 250}"
    for n in range(ACCOUNT_ATTEMPTS):
        with pytest.raises(accounts.NotAuthenticated):
            await login_throttle.login(app_pool, account, WRONG, f"{net}.{n}", "api",
                                       now=start + dt.timedelta(minutes=n))  # fmt: skip
    for minutes in (ACCOUNT_ATTEMPTS, 14):
        with pytest.raises(AccountThrottled) as refused:
            await login_throttle.login(app_pool, account, PASSWORD, f"{net}.200", "api",
                                       now=start + dt.timedelta(minutes=minutes, seconds=30))  # fmt: skip
    assert refused.value.retry_after == 30 and refused.value.message.params == {"minutes": 1}  # type: ignore[attr-defined]
    token, _, actor = await login_throttle.login(app_pool, account, PASSWORD, f"{net}.200", "api",
                                                 now=start + ACCOUNT_WINDOW)  # fmt: skip
    assert token and actor.username == account


async def test_windows_that_are_over_and_old_known_addresses_are_forgotten(
    api: httpx.AsyncClient, app_pool: asyncpg.Pool, account: str
) -> None:
    """Guesses at made-up usernames create rows too; a wrong password deletes those whose window is over,
    and a sign-in the addresses no longer trusted, so neither table grows without end."""
    stale = f"lama-{uuid.uuid4().hex[:6]}"
    await app_pool.execute("INSERT INTO login_account_throttle VALUES ($1, now() - interval '16 minutes', 3)", stale)
    await app_pool.execute("INSERT INTO login_known_clients VALUES ($1, '10.9.9.9', now() - interval '31 days')", stale)
    first, second = spread(2)
    assert (await guess(api, f"tak-ada-{uuid.uuid4().hex[:6]}", first)).status_code == 401
    assert await app_pool.fetchval("SELECT count(*) FROM login_account_throttle WHERE username = $1", stale) == 0
    assert (await guess(api, account, second, PASSWORD)).status_code == 200
    assert await app_pool.fetchval("SELECT count(*) FROM login_known_clients WHERE username = $1", stale) == 0
    assert await app_pool.fetchval("SELECT client FROM login_known_clients WHERE username = $1", account) == (
        limit_key(second))  # fmt: skip


async def test_a_new_password_from_an_admin_lets_the_owner_in_at_once_and_forgets_where_it_signed_in(
    api: httpx.AsyncClient, app_pool: asyncpg.Pool, account: str
) -> None:
    """An attacker who signed in with a stolen password is spared the budget from that address; the admin's
    new password takes that away, and the owner, refused while the budget was spent, gets in at once."""
    thief, owner, *guesses = spread(ACCOUNT_ATTEMPTS + 3)
    assert (await guess(api, account, thief, PASSWORD)).status_code == 200  # the stolen password works
    assert [(await guess(api, account, a)).status_code for a in guesses] == [401] * ACCOUNT_ATTEMPTS + [429]
    async with app_pool.acquire() as conn:
        assert await accounts.set_password(conn, account, "kata-sandi-yang-baru")
    assert (await guess(api, account, owner, "kata-sandi-yang-baru")).status_code == 200
    assert (await guess(api, account, thief)).status_code == 401
    counted = "SELECT failures FROM login_account_throttle WHERE username = $1"
    assert await app_pool.fetchval(counted, account) == 1  # the thief's address counts again
