"""`musrenbang serve` as a new user meets it: real processes, real PostgreSQL, real HTTP."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from musrenbang.db.connect import create_pool
from musrenbang.domain.events import CycleStageAdvanced
from musrenbang.eventlog.store import NEW_STREAM, Append, EventStore
from tests.http.conftest import payload
from tests.server import Server

pytestmark = pytest.mark.slow


def run(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["musrenbang", *args], env=env, capture_output=True, text=True, timeout=120)


def bundled_env(data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MUSRENBANG_")}
    env["MUSRENBANG_DATA_DIR"] = str(data_dir)
    return env


@pytest.mark.bundled
def test_serve_on_an_empty_data_dir_comes_up_and_a_second_serve_reuses_the_data(tmp_path: Path, free_port: int) -> None:
    data_dir = tmp_path / "fresh" / "data"
    server = Server(free_port, data_dir=data_dir)
    try:
        health = server.wait_healthy()
        assert health["status"] == "ok" and health["database"]["status"] == "ok"
        assert "cycles" in health["projections"]
        home = httpx.get(server.base_url + "/")
        assert home.status_code == 200
        # Set up for Kota Bekasi, and no cycle opened behind Bappeda's back.
        assert "Belum ada siklus perencanaan yang dibuka" in home.text and "Bekasijaya" in home.text
        assert "Musrenbang Kota Bekasi" in home.text
        assert httpx.get(server.base_url + "/schema/openapi.json").json()["paths"]["/health"]
        assert "note: a new database, set up for Kota Bekasi (32.75)" in server.output()  # and what comes next
    finally:
        assert server.stop() == 0, server.output()
    # Ctrl-C stopped the bundled database cleanly.
    assert not (data_dir / "pgdata" / "postmaster.pid").exists()

    again = Server(free_port, data_dir=data_dir)
    try:
        again.wait_healthy()
        assert "a new database" not in again.output()
    finally:
        again.stop()
    done = run("verify", env=bundled_env(data_dir))
    assert done.returncode == 0, done.stderr
    assert "intact: 1 events in 1 streams" in done.stdout  # reused, and the city not set up twice


def test_serve_uses_the_external_database_and_starts_none(database_url: str, tmp_path: Path, free_port: int) -> None:
    server = Server(free_port, database_url=database_url, data_dir=tmp_path / "unused")
    try:
        server.wait_healthy()
        assert "Siklus RKPD 2022" in httpx.get(server.base_url + "/").text
    finally:
        server.stop()
    assert not (tmp_path / "unused").exists()


def test_a_passphrase_as_secret_key_serves_as_a_hex_one_does(database_url: str, free_port: int) -> None:
    """MUSRENBANG_SECRET_KEY is any 32 characters or more (README): one that is not hex once stopped every
    server process as it started (read as hex)."""
    passphrase = "kunci rahasia kota bekasi - bukan heksadesimal!"
    server = Server(free_port, database_url=database_url, extra_env={"MUSRENBANG_SECRET_KEY": passphrase})
    try:
        server.wait_healthy()
        key = {"Idempotency-Key": "frasa-kunci-1"}
        r = httpx.post(server.base_url + "/api/v1/proposals", json=payload(), headers=key)
        assert r.status_code == 201 and len(r.json()["revision_secret"]) == 16, r.text
    finally:
        server.stop()


def test_health_reports_projection_lag_reaching_zero(database_url: str, free_port: int) -> None:
    server = Server(free_port, database_url=database_url, workers=2)
    try:
        server.wait_healthy()
        for _ in range(100):
            lag = httpx.get(server.base_url + "/health").json()["projections"]["cycles"]["lag"]
            if lag == 0:
                break
        assert lag == 0
    finally:
        server.stop()


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("not-a-url", "not a usable PostgreSQL URL"),
        (
            "postgresql://postgres@127.0.0.1:1/x",
            "no PostgreSQL server answers at postgresql://postgres@127.0.0.1:1/x",
        ),
        ("postgresql://postgres@no-such-host.invalid/x", "cannot be found"),
        ("postgresql://postgres:secret@127.0.0.1:1/x", "postgres:***@127.0.0.1:1"),
    ],
)
@pytest.mark.parametrize("command", [["migrate"], ["verify"], ["replay"], ["db", "url"], ["serve", "--port"]])
def test_commands_explain_an_unusable_database_without_a_traceback(
    command: list[str], url: str, message: str, free_port: int
) -> None:
    env = {**os.environ, "MUSRENBANG_DATABASE_URL": url}
    done = run(*command, *([str(free_port)] if command[-1] == "--port" else []), env=env)
    assert done.returncode == 3
    assert message in done.stderr
    assert "Traceback" not in done.stderr
    assert "secret" not in done.stderr


@pytest.mark.bundled
def test_a_data_dir_that_cannot_be_written_is_explained(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    done = run("migrate", env=bundled_env(blocker / "data"))
    assert done.returncode == 3
    assert f"data directory {blocker / 'data'} cannot be created" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.bundled
def test_a_port_in_use_is_explained(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = run("serve", "--port", str(port), env=bundled_env(tmp_path / "d"))
    assert done.returncode == 3
    assert f"port {port} on 127.0.0.1 is already in use" in done.stderr


@pytest.mark.bundled
def test_a_port_is_held_while_a_server_prepares(tmp_path: Path, free_port: int) -> None:
    """The port was checked only at the start: a second `serve` on it during the first one's preparation (its
    bundled database starting, migrations, a minute of demo) found it free, and the two servers then shared
    it (granian listens with SO_REUSEPORT), each answering half the requests from its own database."""
    first = Server(free_port, data_dir=tmp_path / "first", args=("--demo",))
    try:
        pid_file = tmp_path / "first" / "pgdata" / "postmaster.pid"
        for _ in range(600):  # its database is up: the first server is preparing, not yet serving
            if pid_file.exists() or first.process.poll() is not None:
                break
            time.sleep(0.1)
        assert first.process.poll() is None and pid_file.exists(), first.output()
        second = run("serve", "--port", str(free_port), env=bundled_env(tmp_path / "second"))
        assert second.returncode == 3, second.stderr
        assert f"port {free_port} on 127.0.0.1 is already in use" in second.stderr
        assert not (tmp_path / "second").exists()  # refused before anything was started
    finally:
        first.stop()


def test_db_url_prints_the_database_in_use(database_url: str) -> None:
    done = run("db", "url", env={**os.environ, "MUSRENBANG_DATABASE_URL": database_url})
    assert done.returncode == 0
    assert done.stdout.strip() == database_url


def test_replay_rebuilds_every_projection_with_a_progress_report(cli_env: dict[str, str]) -> None:
    assert run("migrate", env=cli_env).returncode == 0
    done = run("replay", env=cli_env)
    assert done.returncode == 0, done.stderr
    assert "cycles: 1 events applied" in done.stdout
    unknown = run("replay", "--projection", "nope", env=cli_env)
    assert unknown.returncode == 3 and "no projection named 'nope'" in unknown.stderr


def test_a_replay_meeting_an_event_a_read_model_cannot_apply_names_it_in_one_line(
    cli_env: dict[str, str], database_url: str
) -> None:
    """The year is beyond what the cycles table holds (an event that reached the log before its bounds
    were checked): one `error:` line naming the projection and the event, exit 3, no traceback."""
    asyncio.run(_append_poison(database_url))
    done = run("replay", "--projection", "cycles", env=cli_env)
    assert done.returncode == 3, done.stderr
    assert "Traceback" not in done.stderr
    last = done.stderr.strip().splitlines()[-1]  # after the progress bar's label
    assert last.startswith("error: projection cycles failed on event cycle.stage_advanced at global position"), last


async def _append_poison(url: str) -> None:
    pool = await create_pool(url, min_size=1, max_size=1)
    try:
        poison = CycleStageAdvanced(year=3_000_000_000, stage="kelurahan")
        await EventStore(pool).append(Append("cycle-poison", NEW_STREAM, [poison]))
    finally:
        await pool.close()


def test_serve_demo_plays_a_whole_cycle_once_and_a_newcomer_can_follow_a_line_back(
    database_url: str, free_port: int
) -> None:
    server = Server(free_port, database_url=database_url, args=("--demo",), cycle=False)
    try:
        server.wait_healthy(timeout=240)
        printed = server.output()
        assert "open first:" in printed and "admin.bappeda" in printed
        page = httpx.get(server.base_url + "/rkpd/2022", timeout=30)
        assert page.status_code == 200 and "/telusur/rkpd/2022/" in page.text
        line = page.text.split('href="/telusur/rkpd/2022/', 1)[1].split('"', 1)[0]
        trace = httpx.get(f"{server.base_url}/telusur/rkpd/2022/{line}", timeout=30)
        assert trace.status_code == 200 and "/telusur/usulan/" in trace.text
        sample = printed.split("/telusur/usulan/", 1)[1].split()[0].rstrip(";")
        assert httpx.get(f"{server.base_url}/telusur/usulan/{sample}", timeout=30).status_code == 200
        carried = printed.split("/lacak/", 1)[1].split()[0]  # a 2023 proposal carrying a 2022 need on
        assert "Diusulkan sejak 2022, 2 kali" in httpx.get(f"{server.base_url}/lacak/{carried}", timeout=30).text
        finished = printed.split("finished work, with photos: ", 1)[1].split("/lacak/", 1)[1].split()[0]
        track = httpx.get(f"{server.base_url}/lacak/{finished}", timeout=30).text  # from the words to the road
        assert "Selesai" in track and 'src="/photos/' in track and "Kontrak ditandatangani" in track
        home = httpx.get(server.base_url + "/", timeout=30).text
        assert "Ajukan usulan untuk RKPD 2023" in home and "/rkpd/2022" in home
    finally:
        assert server.stop() == 0, server.output()
    again = Server(free_port, database_url=database_url, args=("--demo",), cycle=False)
    try:
        again.wait_healthy()
        assert "no demo played" in again.output()
    finally:
        assert again.stop() == 0, again.output()
