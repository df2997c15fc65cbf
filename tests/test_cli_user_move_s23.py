"""`musrenbang user move` as an operator meets it after a reorganisation: an account acts for its new agency,
region or dapil, its sessions and tokens end, and a wrong or missing option is one `error:` line with
nothing changed."""

from __future__ import annotations

import os
import subprocess
import uuid

import asyncpg
import httpx

from tests.http.test_staff import PASSWORD, add_user
from tests.server import Server


def move(database: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "MUSRENBANG_DATABASE_URL": database}
    return subprocess.run(["musrenbang", "user", "move", *args], env=env, capture_output=True, text=True,
                          timeout=60)  # fmt: skip


async def scope_of(database: str, username: str) -> tuple[str | None, str | None, str | None]:
    conn = await asyncpg.connect(database)
    try:
        row = await conn.fetchrow("SELECT region, opd, dapil FROM users WHERE username = $1", username)
    finally:
        await conn.close()
    return row["region"], row["opd"], row["dapil"]


async def test_an_opd_account_moves_to_another_agency_and_its_tokens_end(
    app_server: Server, app_database: str
) -> None:
    username = f"pindah-{uuid.uuid4().hex[:6]}"
    add_user(app_database, username, "opd", "--opd", "DISDIK")
    async with httpx.AsyncClient(base_url=app_server.base_url, headers={"X-Forwarded-For": "10.251.3.9"}) as client:
        token = (await client.post("/api/v1/auth/token", json={"username": username, "password": PASSWORD})).json()
        api = {"Authorization": "Bearer " + token["token"]}
        assert (await client.get("/api/v1/me", headers=api)).json()["opd"] == "DISDIK"

        wrong = move(app_database, username, "--dapil", "Bekasi 1")  # not what an opd account is moved by
        assert wrong.returncode == 3 and wrong.stdout == ""
        assert wrong.stderr == "error: opd: akun opd dipindahkan dengan --opd saja\n"
        unknown = move(app_database, username, "--opd", "TIDAKADA")
        assert unknown.returncode == 3 and unknown.stderr.startswith(
            "error: opd: akun OPD memerlukan kode perangkat daerah yang dikenal: DISDIK, DINKES")
        assert await scope_of(app_database, username) == (None, "DISDIK", None)  # refused: nothing changed
        assert (await client.get("/api/v1/me", headers=api)).status_code == 200

        moved = move(app_database, username, "--opd", "DINKES")
        assert moved.returncode == 0, moved.stderr
        assert moved.stdout == f"moved {username} (opd) to DINKES; its sessions and tokens are ended\n"
        assert await scope_of(app_database, username) == (None, "DINKES", None)
        assert (await client.get("/api/v1/me", headers=api)).status_code == 401
        again = (await client.post("/api/v1/auth/token", json={"username": username, "password": PASSWORD})).json()
        me = await client.get("/api/v1/me", headers={"Authorization": "Bearer " + again["token"]})
        assert me.json()["opd"] == "DINKES"


async def test_a_facilitator_moves_region_and_an_account_with_no_scope_is_refused(app_database: str) -> None:
    facilitator, admin = f"fas-{uuid.uuid4().hex[:6]}", f"adm-{uuid.uuid4().hex[:6]}"
    add_user(app_database, facilitator, "facilitator", "--region", "32.75.01.1001")
    add_user(app_database, admin, "admin")
    nowhere = move(app_database, facilitator, "--region", "32.75.99.9999")
    assert nowhere.returncode == 3 and nowhere.stderr == "error: region: kode wilayah tidak dikenal\n"
    moved = move(app_database, facilitator, "--region", "32.75.01")
    assert moved.returncode == 0, moved.stderr
    assert await scope_of(app_database, facilitator) == ("32.75.01", None, None)
    no_scope = move(app_database, admin, "--opd", "DINKES")
    assert no_scope.returncode == 3 and "tidak terikat" in no_scope.stderr
    assert await scope_of(app_database, admin) == (None, None, None)
    missing = move(app_database, "tidak-ada-orangnya", "--opd", "DINKES")
    assert missing.returncode == 3 and missing.stderr == "error: no account 'tidak-ada-orangnya'\n"
