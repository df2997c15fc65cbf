"""A DPRD member's account is made with the member's name: their pokir are published under it, and the log
keeps what a pokir was published with (review s24: an account made without one published pokir under its
username, with no way to give the name later)."""

from __future__ import annotations

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
