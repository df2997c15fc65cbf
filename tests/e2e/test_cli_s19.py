"""`musrenbang db url` leaves the bundled server running until `musrenbang db stop`, whatever other commands
run meanwhile: a session opened on its URL is not ended by the next command's exit."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import asyncpg
import pytest

pytestmark = [pytest.mark.slow, pytest.mark.bundled]


def musrenbang(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MUSRENBANG_")}
    return subprocess.run(["musrenbang", *args], env={**env, "MUSRENBANG_DATA_DIR": str(data_dir)},
                          capture_output=True, text=True, timeout=180)  # fmt: skip


async def test_a_server_db_url_left_running_outlives_the_next_commands_until_db_stop(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    assert musrenbang(data_dir, "migrate").returncode == 0
    assert not (data_dir / "pgdata" / "postmaster.pid").exists()  # migrate stopped the server it started

    url = musrenbang(data_dir, "db", "url")
    assert url.returncode == 0, url.stderr
    session = await asyncpg.connect(url.stdout.strip())
    try:
        for command in (["user", "list"], ["verify"], ["status"]):
            done = musrenbang(data_dir, *command)
            assert done.returncode == 0, done.stderr
            assert await session.fetchval("SELECT 1") == 1, command  # the session goes on
        stopped = musrenbang(data_dir, "db", "stop")
        assert stopped.returncode == 0 and stopped.stdout.strip() == "stopped", stopped.stderr
        with pytest.raises((asyncpg.PostgresError, ConnectionError, OSError)):
            await session.fetchval("SELECT 1")
    finally:
        await session.close(timeout=5)
        musrenbang(data_dir, "db", "stop")

    # Once stopped by `db stop`, the next command starts and stops it as before.
    assert musrenbang(data_dir, "user", "list").returncode == 0
    assert not (data_dir / "pgdata" / "postmaster.pid").exists()
    assert not (data_dir / "pgdata" / ".kept_running").exists()
