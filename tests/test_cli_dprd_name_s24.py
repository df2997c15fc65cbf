"""A DPRD member's account is made with the member's name: their pokir are published under it, and the log
keeps what a pokir was published with (review s24: an account made without one published pokir under its
username, with no way to give the name later). `user rename` corrects a name later."""

from __future__ import annotations

import os
import subprocess
import uuid

import asyncpg

from tests.http.test_staff import add_user
from tests.test_cli_review import musrenbang, one_error


def test_a_dprd_account_without_a_name_is_refused_and_not_added(cli_env: dict[str, str]) -> None:
    done = musrenbang(cli_env, "user", "add", "--username", "dpr.tanpanama", "--role", "dprd", "--dapil", "Bekasi 1",
                      stdin=b"kata-sandi-panjang-sekali\n")  # fmt: skip
    assert one_error(done) == "error: name: anggota DPRD memerlukan nama, yang tercantum pada pokok pikirannya"
    blank = musrenbang(cli_env, "user", "add", "--username", "dpr.kosong", "--role", "dprd", "--dapil", "Bekasi 1",
                       "--name", "   ", stdin=b"kata-sandi-panjang-sekali\n")  # fmt: skip
    assert "name:" in one_error(blank)
    listed = musrenbang(cli_env, "user", "list").stdout
    assert "dpr.tanpanama" not in listed and "dpr.kosong" not in listed
    named = musrenbang(cli_env, "user", "add", "--username", "dpr.bernama", "--role", "dprd", "--dapil", "Bekasi 1",
                       "--name", "Hj. Nur Aini", stdin=b"kata-sandi-panjang-sekali\n")  # fmt: skip
    assert named.returncode == 0 and "added dpr.bernama (dprd dapil Bekasi 1)" in named.stdout, named.stderr


async def test_a_members_name_and_faction_are_corrected_later(app_database: str) -> None:
    """`user rename`: a typo in a member's name is corrected; a member keeps a name; a faction is a member's."""
    username = f"dpr-{uuid.uuid4().hex[:6]}"
    add_user(app_database, username, "dprd", "--dapil", "Bekasi 1", "--name", "H. Ahmad Fauzi, S.E")
    env = {**os.environ, "MUSRENBANG_DATABASE_URL": app_database}

    def rename(*args: str) -> subprocess.CompletedProcess[str]:
        return musrenbang(env, "user", "rename", *args)

    done = rename(username, "--name", "H. Ahmad Fauzi, S.E.", "--faction", "Fraksi Contoh")
    assert done.returncode == 0 and done.stdout.strip() == f"renamed {username} (dprd)", done.stderr
    assert one_error(rename(username, "--name", "  ")).startswith("error: name: anggota DPRD memerlukan nama")
    assert one_error(rename("tidak-ada", "--name", "X")) == "error: no account 'tidak-ada'"
    other = f"aud-{uuid.uuid4().hex[:6]}"
    add_user(app_database, other, "auditor")
    assert one_error(rename(other, "--name", "Auditor", "--faction", "F")) == (
        "error: faction: fraksi hanya untuk akun anggota DPRD")  # fmt: skip
    conn = await asyncpg.connect(app_database)
    try:
        row = await conn.fetchrow("SELECT name, faction FROM users WHERE username = $1", username)
        auditor = await conn.fetchrow("SELECT name FROM users WHERE username = $1", other)
    finally:
        await conn.close()
    assert (row["name"], row["faction"]) == ("H. Ahmad Fauzi, S.E.", "Fraksi Contoh") and auditor["name"] is None
