"""What a new operator met following the README on a fresh clone (session 26's review): a log level the
server does not know was a traceback, the commands other than `serve`, `backup` and `restore` had no
`--data-dir` (the first admin went into the default directory's database), a second region was refused
without saying what to do, and `serve` on every address without MUSRENBANG_PUBLIC_URL linked to localhost
without a word."""

from __future__ import annotations

import os
from pathlib import Path

import click
import pytest

from musrenbang.cli import main
from musrenbang.cli.server import _warn_without_public_url
from musrenbang.config import Settings
from tests.test_cli_review import musrenbang, one_error


def _clean_env(**extra: str) -> dict[str, str]:
    return {**{k: v for k, v in os.environ.items() if not k.startswith("MUSRENBANG_")}, **extra}


def test_a_log_level_the_server_does_not_know_is_one_error_line(tmp_path: Path) -> None:
    env = _clean_env(MUSRENBANG_DATA_DIR=str(tmp_path / "data"), MUSRENBANG_LOG_LEVEL="verbose")
    line = one_error(musrenbang(env, "serve"))
    assert line == ("error: MUSRENBANG_LOG_LEVEL must be one of debug, info, warning, error, critical, got"
                    " 'verbose'"), line  # fmt: skip
    assert not (tmp_path / "data").exists()  # refused before anything was started


def test_a_log_level_is_read_in_any_case() -> None:
    env = {"MUSRENBANG_DATA_DIR": "/tmp/unused", "MUSRENBANG_LOG_LEVEL": " DEBUG "}
    assert Settings.from_env(env).log_level == "debug"


def _leaves(group: click.Group, prefix: str = "") -> list[tuple[str, click.Command]]:
    found = []
    for name, command in sorted(group.commands.items()):
        if isinstance(command, click.Group):
            found.extend(_leaves(command, f"{prefix}{name} "))
        else:
            found.append((prefix + name, command))
    return found


def test_every_command_takes_a_data_dir() -> None:
    leaves = _leaves(main)
    assert len(leaves) > 20
    missing = [name for name, command in leaves if not any("--data-dir" in p.opts for p in command.params)]
    assert not missing, missing


def test_a_data_dir_beside_a_database_url_is_refused(cli_env: dict[str, str], tmp_path: Path) -> None:
    line = one_error(musrenbang(cli_env, "user", "list", "--data-dir", str(tmp_path / "d")))
    assert "names the bundled database, but MUSRENBANG_DATABASE_URL is set" in line, line
    assert not (tmp_path / "d").exists()


@pytest.mark.bundled
def test_the_first_admin_goes_into_the_data_directory_named(tmp_path: Path) -> None:
    data, default = tmp_path / "kota", tmp_path / "default"
    env = _clean_env(MUSRENBANG_DATA_DIR=str(default))
    try:
        assert musrenbang(env, "migrate", "--data-dir", str(data)).returncode == 0
        added = musrenbang(env, "user", "add", "--username", "admin.kota", "--role", "admin", "--data-dir", str(data),
                           stdin=b"kata-sandi-panjang\n")  # fmt: skip
        assert added.returncode == 0, added.stderr
        listed = musrenbang(env, "user", "list", "--data-dir", str(data))
        assert listed.returncode == 0 and "admin.kota" in listed.stdout, listed.stdout + listed.stderr
        assert not default.exists()  # the default data directory was never used, nor made
    finally:
        musrenbang(env, "db", "stop", "--data-dir", str(data))


def test_setup_for_another_region_says_how_to_start_one(cli_env: dict[str, str]) -> None:
    assert musrenbang(cli_env, "migrate").returncode == 0
    assert musrenbang(cli_env, "setup").returncode == 0  # Kota Bekasi's, the default
    line = one_error(musrenbang(cli_env, "setup", "--region", "32.01"))
    assert "32.75" in line and "a database is set up for one region for good" in line, line
    assert "musrenbang setup --region 32.01` on a new data directory" in line, line


def test_serving_every_address_without_a_public_url_warns(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("MUSRENBANG_PUBLIC_URL", raising=False)
    _warn_without_public_url(Settings.from_env({"MUSRENBANG_DATA_DIR": "/tmp/unused"}, host="0.0.0.0", port=8123))
    assert "MUSRENBANG_PUBLIC_URL is not set: links in feeds, e-mails and QR codes point to http://localhost:8123" in (
        capsys.readouterr().err)  # fmt: skip
    _warn_without_public_url(Settings.from_env({"MUSRENBANG_DATA_DIR": "/tmp/unused"}, host="127.0.0.1"))
    monkeypatch.setenv("MUSRENBANG_PUBLIC_URL", "https://musrenbang.bekasikota.go.id")
    _warn_without_public_url(Settings.from_env({"MUSRENBANG_DATA_DIR": "/tmp/unused"}, host="0.0.0.0"))
    assert capsys.readouterr().err == ""
