"""A review of staff accounts and signing in through the real server: a username typed on a phone (a
capital letter, a trailing space) signs in, and every spelling of it shares the username's budget;
another person signing in at the same browser ends the session it held; the sign-in page ties its error
to the fields; a facilitator's own forums stay on the staff home however many the city schedules; and no
cache keeps a token or the staff home."""

from __future__ import annotations

import asyncio
import re
import uuid

import asyncpg
import httpx
import pytest

from musrenbang.services.login_throttle import ACCOUNT_ATTEMPTS
from tests.http.test_pages import hidden
from tests.http.test_staff import KELURAHAN, OTHER_KELURAHAN, PASSWORD, add_user, token, users  # noqa: F401
from tests.server import Server

WRONG = "bukan-kata-sandinya"


@pytest.fixture
def someone(app_database: str) -> str:
    username = f"akun-{uuid.uuid4().hex[:6]}"
    add_user(app_database, username, "auditor")
    return username


async def _sign_in(client: httpx.AsyncClient, username: str, password: str = PASSWORD) -> httpx.Response:
    form = await client.get("/masuk")
    return await client.post("/masuk", data={"_csrf_token": hidden(form.text, "_csrf_token"), "username": username,
                                             "password": password})  # fmt: skip


def _address() -> str:
    n = uuid.uuid4().int
    return f"10.{200 + n % 50}.{n // 50 % 256}.{n // 12800 % 256}"


async def test_a_username_typed_on_a_phone_signs_in(client: httpx.AsyncClient, someone: str) -> None:
    """A phone capitalises the first letter and its keyboard adds a space after a word: the staff member
    was told "nama pengguna atau kata sandi salah" with the right password, and the page did not ask the
    phone not to capitalise."""
    form = await client.get("/masuk")
    field = re.search(r'<input id="username"[^>]*>', form.text)
    assert field and 'autocapitalize="none"' in field.group(0) and 'spellcheck="false"' in field.group(0)
    signed_in = await _sign_in(client, " " + someone.capitalize() + " ")
    assert signed_in.status_code == 303, signed_in.text
    home = await client.get("/petugas")
    assert home.status_code == 200 and f"Halo, {someone}" in home.text
    api = await client.post("/api/v1/auth/token", json={"username": someone.upper(), "password": PASSWORD})
    assert api.status_code == 200 and (await client.get("/api/v1/me", headers={
        "Authorization": f"Bearer {api.json()['token']}"})).json()["username"] == someone  # fmt: skip


async def test_every_spelling_of_a_username_shares_its_budget(app_server: Server, someone: str) -> None:
    """Once `Admin` and `admin ` sign in as `admin`, they must not each get a budget of guesses of their own."""
    spellings = [
        someone.upper(),
        " " + someone,
        someone + " ",
        someone.capitalize(),
        "".join(chr(ord(c) + 0xFEE0) if c.isalnum() else c for c in someone),
    ]  # full-width letters
    async with httpx.AsyncClient(base_url=app_server.base_url, timeout=60) as api:
        for n in range(ACCOUNT_ATTEMPTS):
            guessed = await api.post("/api/v1/auth/token", json={"username": spellings[n % len(spellings)],
                                     "password": WRONG}, headers={"X-Forwarded-For": _address()})  # fmt: skip
            assert guessed.status_code == 401
        refused = await api.post("/api/v1/auth/token", json={"username": someone, "password": PASSWORD},
                                 headers={"X-Forwarded-For": _address()})  # fmt: skip
    assert refused.status_code == 429 and "untuk akun ini" in refused.json()["message"]


async def test_signing_in_again_ends_the_session_the_browser_held(
    app_server: Server, someone: str, app_database: str
) -> None:
    """On a shared computer (a kelurahan office) the next person signs in over the last one's session: the
    cookie was replaced, but the old session stayed valid for its 12 hours, out of reach of any sign-out."""
    other = f"akun-{uuid.uuid4().hex[:6]}"
    add_user(app_database, other, "auditor")
    async with httpx.AsyncClient(base_url=app_server.base_url, headers={"X-Forwarded-For": _address()}) as browser:
        assert (await _sign_in(browser, someone)).status_code == 303
        first = browser.cookies["sesi"]
        assert (await _sign_in(browser, other)).status_code == 303
        assert browser.cookies["sesi"] != first
        assert f"Halo, {other}" in (await browser.get("/petugas")).text
    async with httpx.AsyncClient(base_url=app_server.base_url, cookies={"sesi": first}) as stolen:
        assert (await stolen.get("/petugas")).status_code == 303  # to the sign-in page


async def test_a_failed_sign_in_is_tied_to_the_fields(client: httpx.AsyncClient, someone: str) -> None:
    """A screen reader reaching the fields after "nama pengguna atau kata sandi salah" heard nothing of it."""
    refused = await _sign_in(client, someone, WRONG)
    assert refused.status_code == 401
    assert re.search(r'<p class="error" role="alert" id="login-error">nama pengguna atau kata sandi salah</p>',
                     refused.text)  # fmt: skip
    for name in ("username", "password"):
        field = re.search(rf'<input id="{name}"[^>]*>', refused.text)
        assert field and 'aria-invalid="true"' in field.group(0) and 'aria-describedby="login-error"' in field.group(0)
    fresh = await client.get("/masuk")
    assert "aria-invalid" not in fresh.text and "aria-describedby" not in fresh.text


async def test_a_facilitators_own_forums_stay_on_the_staff_home(
    client: httpx.AsyncClient,
    users: dict[str, str],  # noqa: F811
    app_pool: asyncpg.Pool,
) -> None:
    """The home took the city's 200 latest forums and kept the facilitator's among them: once 200 had been
    scheduled elsewhere after theirs (a large city, or past years), a kelurahan's own forum was gone and
    the page said "Belum ada musyawarah."."""
    auth = await token(client, users["admin"])
    forum = {"level": "kelurahan", "year": 2022, "held_on": "2021-01-20", "ceiling": 10_000_000, "rule": "greedy",
             "ballot_kind": "approval"}  # fmt: skip
    own = f"Forum sendiri {uuid.uuid4().hex[:6]}"
    made = await client.post("/api/v1/forums", headers=auth, json={**forum, "region": KELURAHAN, "title": own})
    assert made.status_code == 201, made.text

    async def elsewhere(n: int) -> None:
        r = await client.post("/api/v1/forums", headers=auth,
                              json={**forum, "region": OTHER_KELURAHAN, "title": f"Forum lain {n}"})  # fmt: skip
        assert r.status_code == 201, r.text

    for batch in range(0, 200, 20):
        await asyncio.gather(*(elsewhere(n) for n in range(batch, batch + 20)))
    later = await app_pool.fetchval("SELECT count(*) FROM forums WHERE origin = 'musrenbang' AND scheduled_at >"
                                    " (SELECT scheduled_at FROM forums WHERE title = $1)", own)  # fmt: skip
    assert later >= 200
    async with httpx.AsyncClient(base_url=str(client.base_url), headers={"X-Forwarded-For": _address()}) as browser:
        assert (await _sign_in(browser, users["kelurahan"])).status_code == 303
        home = await browser.get("/petugas")
    assert home.status_code == 200 and own in home.text


async def test_a_token_and_the_staff_home_are_kept_by_no_cache(client: httpx.AsyncClient, someone: str) -> None:
    """The token answer and the staff home carried no Cache-Control: a proxy could keep a bearer token, and
    on a shared computer Back after "Keluar" showed the last person's page from the browser's cache."""
    issued = await client.post("/api/v1/auth/token", json={"username": someone, "password": PASSWORD})
    assert issued.status_code == 200 and "no-store" in issued.headers["cache-control"]
    assert (await _sign_in(client, someone)).status_code == 303
    await client.get("/petugas")  # the CSRF cookie is set on the first page after signing in
    home = await client.get("/petugas")
    assert home.status_code == 200 and "set-cookie" not in home.headers
    assert "no-store" in home.headers["cache-control"]


async def test_staff_change_their_own_password_and_every_other_session_ends(
    client: httpx.AsyncClient, someone: str
) -> None:
    """Only an admin could set a password (`musrenbang user password`): staff kept the one sent to them,
    over WhatsApp perhaps. Now they change it themselves; a mistake changes nothing; the change ends every
    other session and token of the account, and this browser stays signed in with the new one."""
    assert (await _sign_in(client, someone)).status_code == 303
    other = await token(client, someone)
    page = await client.get("/petugas/sandi")
    assert page.status_code == 200 and 'autocomplete="new-password"' in page.text
    csrf = hidden(page.text, "_csrf_token")
    new = "kata-sandi-baru-2027"
    for typed, field, message in (
        ({"current": WRONG, "new": new, "again": new}, "current", "kata sandi sekarang salah"),
        ({"current": PASSWORD, "new": new, "again": new + "x"}, "again", "tidak sama dengan kata sandi baru"),
        ({"current": PASSWORD, "new": "pendek", "again": "pendek"}, "new", "kata sandi paling sedikit 10 karakter"),
        ({"current": PASSWORD, "new": PASSWORD, "again": PASSWORD}, "new", "kata sandi baru harus berbeda"),
    ):
        refused = await client.post("/petugas/sandi", data={"_csrf_token": csrf, **typed})
        assert refused.status_code == 422 and re.search(rf'id="{field}-error">{message}', refused.text), typed
        assert (await client.get("/api/v1/me", headers=other)).status_code == 200  # nothing changed
    changed = await client.post("/petugas/sandi", data={"_csrf_token": csrf, "current": PASSWORD, "new": new,
                                                        "again": new})  # fmt: skip
    assert changed.status_code == 303 and changed.headers["location"] == "/petugas"
    home = await client.get("/petugas")
    assert home.status_code == 200 and "Kata sandi diganti" in home.text  # this browser: signed in again
    assert (await client.get("/api/v1/me", headers=other)).status_code == 401  # the other session: ended
    async with httpx.AsyncClient(base_url=str(client.base_url), headers=dict(client.headers), timeout=30) as fresh:
        assert (await _sign_in(fresh, someone)).status_code == 401
        assert (await _sign_in(fresh, someone, new)).status_code == 303
