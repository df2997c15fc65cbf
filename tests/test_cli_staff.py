"""`musrenbang user password` as an operator meets it: the new password on standard input, the account's
sessions and tokens ended, one `error:` line with exit 3 for what a person can fix."""

from __future__ import annotations

import os
import subprocess
import uuid

import httpx

from tests.http.test_pages import hidden
from tests.http.test_staff import PASSWORD, add_user
from tests.server import Server

NEW_PASSWORD = "kata-sandi-baru-yang-panjang"


def set_password(database: str, username: str, typed: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "MUSRENBANG_DATABASE_URL": database}
    return subprocess.run(["musrenbang", "user", "password", username], input=typed, env=env, capture_output=True,
                          text=True, timeout=60)  # fmt: skip


async def test_a_new_password_ends_every_session_and_token_of_the_account(
    app_server: Server, app_database: str
) -> None:
    username = f"sandi-{uuid.uuid4().hex[:6]}"
    add_user(app_database, username, "auditor")
    async with httpx.AsyncClient(base_url=app_server.base_url, headers={"X-Forwarded-For": "10.251.0.9"}) as client:
        api = {"Authorization": "Bearer " + (await client.post("/api/v1/auth/token", json={
            "username": username, "password": PASSWORD})).json()["token"]}  # fmt: skip
        form = await client.get("/masuk")
        await client.post("/masuk", data={"_csrf_token": hidden(form.text, "_csrf_token"), "username": username,
                                          "password": PASSWORD})  # fmt: skip
        assert (await client.get("/petugas")).status_code == 200  # the browser session

        short = set_password(app_database, username, "pendek\n")
        assert short.returncode == 3 and short.stderr == "error: password: kata sandi paling sedikit 10 karakter\n"
        assert (await client.get("/api/v1/me", headers=api)).status_code == 200  # refused: nothing changed

        changed = set_password(app_database, username, NEW_PASSWORD + "\n")
        assert changed.returncode == 0, changed.stderr
        assert (await client.get("/api/v1/me", headers=api)).status_code == 401
        assert (await client.get("/petugas")).status_code == 303  # back to the sign-in page
        old = await client.post("/api/v1/auth/token", json={"username": username, "password": PASSWORD})
        assert old.status_code == 401
        new = await client.post("/api/v1/auth/token", json={"username": username, "password": NEW_PASSWORD})
        assert new.status_code == 200


def test_an_unknown_account_is_one_error_line(app_database: str) -> None:
    done = set_password(app_database, "tidak-ada-orangnya", NEW_PASSWORD + "\n")
    assert done.returncode == 3 and done.stdout == ""
    assert done.stderr == "error: no account 'tidak-ada-orangnya'\n"


async def test_a_disabled_account_is_enabled_again_and_a_new_password_says_it_stays_disabled(
    app_server: Server, app_database: str
) -> None:
    """`user disable` had no way back: `user add` refused the name, and `user password` said "password
    changed" of an account still unable to sign in."""
    username = f"kembali-{uuid.uuid4().hex[:6]}"
    add_user(app_database, username, "auditor")
    env = {**os.environ, "MUSRENBANG_DATABASE_URL": app_database}

    def user(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["musrenbang", "user", *args], env=env, capture_output=True, text=True, timeout=60)

    async def signs_in(password: str) -> int:
        async with httpx.AsyncClient(base_url=app_server.base_url, headers={"X-Forwarded-For": "10.251.0.10"}) as c:
            r = await c.post("/api/v1/auth/token", json={"username": username, "password": password})
            return r.status_code

    assert user("enable", username).stderr == f"error: no disabled account {username!r}\n"
    assert user("disable", username).returncode == 0
    assert await signs_in(PASSWORD) == 401
    changed = set_password(app_database, username, NEW_PASSWORD + "\n")
    assert changed.returncode == 0 and "stays disabled" in changed.stdout, changed.stdout
    assert await signs_in(NEW_PASSWORD) == 401
    enabled = user("enable", username)
    assert enabled.returncode == 0 and enabled.stdout.startswith(f"enabled {username}"), enabled.stderr
    assert await signs_in(NEW_PASSWORD) == 200
    assert user("enable", username).returncode == 3  # enabled already
