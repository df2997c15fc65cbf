"""MUSRENBANG_VERIFY_INTERVAL: seconds between the server's own checks of the whole log, validated as
MUSRENBANG_SEAL_INTERVAL is."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

from musrenbang.config import ConfigError, Settings
from tests.test_cli_review import musrenbang, one_error


def test_the_default_is_six_hours_and_0_turns_it_off(tmp_path: Path) -> None:
    base = {"MUSRENBANG_DATA_DIR": str(tmp_path)}
    assert Settings.from_env(base).verify_interval == 21600
    assert Settings.from_env({**base, "MUSRENBANG_VERIFY_INTERVAL": "0"}).verify_interval == 0
    assert Settings.from_env({**base, "MUSRENBANG_VERIFY_INTERVAL": "90.5"}).verify_interval == 90.5


@pytest.mark.parametrize(("raw", "message"), [
    ("-1", "MUSRENBANG_VERIFY_INTERVAL must be 0 (off) or more seconds"),
    ("abc", "MUSRENBANG_VERIFY_INTERVAL must be a number written with the digits 0-9, got 'abc'"),
    ("nan", "MUSRENBANG_VERIFY_INTERVAL must be a number written with the digits 0-9, got 'nan'"),
])  # fmt: skip
def test_a_bad_interval_is_one_clear_error(tmp_path: Path, raw: str, message: str) -> None:
    with pytest.raises(ConfigError) as refused:
        Settings.from_env({"MUSRENBANG_DATA_DIR": str(tmp_path), "MUSRENBANG_VERIFY_INTERVAL": raw})
    assert str(refused.value) == message

    env = {k: v for k, v in os.environ.items() if not k.startswith("MUSRENBANG_")}
    env.update({"MUSRENBANG_DATA_DIR": str(tmp_path / "data"), "MUSRENBANG_VERIFY_INTERVAL": raw})
    with socket.socket() as busy:  # a setting let through stops at the busy port: nothing is started
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        done = musrenbang(env, "serve", "--port", str(busy.getsockname()[1]))
    assert one_error(done) == f"error: {message}"
