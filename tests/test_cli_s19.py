"""Reviewed defects of the operator's commands: a mistyped database is refused by the commands that only read
or check it (and nothing is created), `status` of a database a newer version migrated, a restore whose log
does not verify, passwords typed at a terminal, and the temporary files `export` and `backup` write beside
their output."""

from __future__ import annotations

import os
import pty
import select
import signal
import subprocess
import time
import uuid
from pathlib import Path

import asyncpg
import pytest

from musrenbang.db.connect import create_pool
from musrenbang.domain.events import CycleStageAdvanced
from musrenbang.eventlog.store import NEW_STREAM, Append, EventStore
from tests.conftest import _admin, with_database
from tests.test_cli_review import musrenbang, one_error

READING = [["verify"], ["export", "events", "--out", "{tmp}/log.jsonl"], ["status"],
           ["backup", "--out", "{tmp}/x.dump"], ["user", "list"], ["replay"], ["user", "password", "siapa"],
           ["user", "disable", "siapa"], ["user", "enable", "siapa"], ["pabulib", "export", "ABCD1234"],
           ["outbox", "retry"]]  # fmt: skip


def clean_env(**extra: str) -> dict[str, str]:
    return {**{k: v for k, v in os.environ.items() if not k.startswith("MUSRENBANG_")}, **extra}


def _args(command: list[str], tmp_path: Path) -> list[str]:
    return [a.replace("{tmp}", str(tmp_path)) for a in command]


# --- 1. a mistyped database is refused, and nothing is created ------------------------------------------------


@pytest.mark.parametrize("command", READING, ids=lambda c: " ".join(c[:2]))
def test_a_mistyped_data_directory_is_refused_and_nothing_is_made(command: list[str], tmp_path: Path) -> None:
    typo = tmp_path / "typo"
    done = musrenbang(clean_env(MUSRENBANG_DATA_DIR=str(typo)), *_args(command, tmp_path), stdin=b"x" * 12 + b"\n")
    line = one_error(done)
    assert str(typo) in line and "intact" not in done.stdout, line
    assert not typo.exists()
    assert not list(tmp_path.glob("log.jsonl*")) and not list(tmp_path.glob("x.dump*"))


async def _exists(server_url: str, name: str) -> bool:
    conn = await _admin(server_url)
    try:
        return bool(await conn.fetchval("SELECT true FROM pg_database WHERE datname = $1", name))
    finally:
        await conn.close()


@pytest.mark.parametrize("command", READING, ids=lambda c: " ".join(c[:2]))
async def test_a_mistyped_database_url_is_refused_and_no_database_is_made(
    command: list[str], server_url: str, tmp_path: Path
) -> None:
    name = f"musrenbang_typo_{uuid.uuid4().hex[:8]}"
    env = {**os.environ, "MUSRENBANG_DATABASE_URL": with_database(server_url, name)}
    line = one_error(musrenbang(env, *_args(command, tmp_path), stdin=b"x" * 12 + b"\n"))
    assert name in line and "does not exist" in line, line
    assert not await _exists(server_url, name)


@pytest.mark.parametrize("command", [["verify"], ["export", "events", "--out", "{tmp}/log.jsonl"], ["user", "list"],
                                     ["replay"]], ids=lambda c: " ".join(c[:2]))  # fmt: skip
async def test_an_empty_database_is_not_given_a_log_to_check(
    command: list[str], empty_database_url: str, tmp_path: Path
) -> None:
    """`verify` never says "intact" about a log it has just made."""
    line = one_error(musrenbang({**os.environ, "MUSRENBANG_DATABASE_URL": empty_database_url},
                                *_args(command, tmp_path)))  # fmt: skip
    assert "no Musrenbang database" in line, line
    conn = await asyncpg.connect(empty_database_url)
    try:
        assert await conn.fetchval("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'") == 0
    finally:
        await conn.close()


async def test_the_commands_that_set_up_still_make_a_database_that_is_not_there(server_url: str) -> None:
    name = f"musrenbang_new_{uuid.uuid4().hex[:8]}"
    env = {**os.environ, "MUSRENBANG_DATABASE_URL": with_database(server_url, name)}
    try:
        done = musrenbang(env, "migrate")
        assert done.returncode == 0, done.stderr
        assert await _exists(server_url, name)
        verified = musrenbang(env, "verify")
        assert verified.returncode == 0 and "intact" in verified.stdout, verified.stderr
    finally:
        conn = await _admin(server_url)
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.close()


# --- 4. status of a database a newer version migrated ------------------------------------------------------


async def test_status_says_a_newer_version_migrated_the_database(database_url: str) -> None:
    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute("INSERT INTO schema_migrations (version, name, checksum)"
                           " VALUES (9999, '9999_future', 'abc')")  # fmt: skip
    finally:
        await conn.close()
    env = {**os.environ, "MUSRENBANG_DATABASE_URL": database_url}
    line = one_error(musrenbang(env, "status"))
    assert "9999_future" in line and "newer version" in line, line
    assert one_error(musrenbang(env, "migrate")) == line.replace("error: ", "error: ")  # the same words


# --- 3. a restore whose log does not verify ------------------------------------------------------------------


async def test_a_restore_whose_log_does_not_verify_says_so_exits_1_and_says_what_to_do(
    database_url: str, empty_database_url: str, tmp_path: Path
) -> None:
    pool = await create_pool(database_url, min_size=1, max_size=1)
    try:
        store = EventStore(pool)
        await store.append(Append("cycle-s19", NEW_STREAM, [CycleStageAdvanced(year=2031, stage="kelurahan")]))
        async with pool.acquire() as conn:
            await conn.execute("ALTER TABLE events DISABLE TRIGGER USER")
            await conn.execute("""UPDATE events SET data = jsonb_set(data, '{year}', '"dua ribu"')"""
                               " WHERE stream_id = 'cycle-s19'")  # fmt: skip
            await conn.execute("ALTER TABLE events ENABLE TRIGGER USER")
    finally:
        await pool.close()
    backup = tmp_path / "rusak.dump"
    made = musrenbang({**os.environ, "MUSRENBANG_DATABASE_URL": database_url}, "backup", "--out", str(backup))
    assert made.returncode == 0, made.stderr

    target = {**os.environ, "MUSRENBANG_DATABASE_URL": empty_database_url}
    done = musrenbang(target, "restore", str(backup))
    assert done.returncode == 1, done.stdout + done.stderr
    assert "BROKEN: chain broken" in done.stderr and "cycle-s19" in done.stderr, done.stderr
    assert "Traceback" not in done.stderr and "verified" not in done.stdout
    assert "does not verify" in done.stderr and "not rebuilt" in done.stderr, done.stderr


# --- 6. temporary files beside the output -----------------------------------------------------------------------


def test_backup_leaves_a_partial_file_it_did_not_make(database_url: str, tmp_path: Path) -> None:
    someone_elses = tmp_path / "y.dump.partial"
    someone_elses.write_text("not mine")
    done = musrenbang({**os.environ, "MUSRENBANG_DATABASE_URL": database_url}, "backup", "--out",
                      str(tmp_path / "y.dump"))  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert someone_elses.read_text() == "not mine"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["y.dump", "y.dump.partial"]


def test_export_leaves_a_partial_file_it_did_not_make(database_url: str, tmp_path: Path) -> None:
    someone_elses = tmp_path / "log.jsonl.partial"
    someone_elses.write_text("not mine")
    done = musrenbang({**os.environ, "MUSRENBANG_DATABASE_URL": database_url}, "export", "events", "--out",
                      str(tmp_path / "log.jsonl"))  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert someone_elses.read_text() == "not mine"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["log.jsonl", "log.jsonl.partial"]


async def test_export_stopped_by_sigterm_removes_its_partial_file(database_url: str, tmp_path: Path) -> None:
    pool = await create_pool(database_url, min_size=1, max_size=1)
    try:  # a log long enough for the export to be stopped in the middle: one event, copied 300,000 times
        one = CycleStageAdvanced(year=2031, stage="kelurahan")
        await EventStore(pool).append(Append("cycle-satu", NEW_STREAM, [one]))
        async with pool.acquire() as conn:
            await conn.execute(
                "INSERT INTO events"
                " (stream_id, stream_version, event_id, event_type, data, metadata, recorded_at, hash)"
                " SELECT 'cycle-banyak', n, gen_random_uuid(), event_type, data, metadata, recorded_at, hash"
                " FROM events, generate_series(1, 300000) AS n WHERE stream_id = 'cycle-satu'"
            )
    finally:
        await pool.close()
    out = tmp_path / "log.jsonl"
    process = subprocess.Popen(["musrenbang", "export", "events", "--out", str(out)],
                               env={**os.environ, "MUSRENBANG_DATABASE_URL": database_url},
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while not [p for p in tmp_path.iterdir() if p.name.endswith(".partial")]:
            assert process.poll() is None and time.monotonic() < deadline, "no partial file seen"
            time.sleep(0.005)
        time.sleep(0.2)
        assert process.poll() is None and not out.exists(), "the export ended before it could be stopped"
        process.send_signal(signal.SIGTERM)
        assert process.wait(60) == 128 + signal.SIGTERM
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert list(tmp_path.iterdir()) == []


# --- 5. passwords typed at a terminal ---------------------------------------------------------------------------


def _at_terminal(env: dict[str, str], args: list[str], answers: list[str]) -> tuple[int, str]:
    """Run `musrenbang args` with a terminal as its standard input and controlling terminal, typing each of
    `answers` after the prompt before it; the exit status and all the terminal showed."""
    main, child = pty.openpty()

    def own_terminal() -> None:
        os.setsid()
        import fcntl
        import termios

        fcntl.ioctl(0, termios.TIOCSCTTY, 0)

    process = subprocess.Popen(["musrenbang", *args], env=env, stdin=child, stdout=child, stderr=child,
                               preexec_fn=own_terminal, close_fds=True)  # fmt: skip
    os.close(child)
    shown = b""
    pending = list(answers)
    deadline = time.monotonic() + 120
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([main], [], [], 0.1)
            if ready:
                try:
                    chunk = os.read(main, 4096)
                except OSError:
                    break
                if not chunk:
                    break
                shown += chunk
                if pending and shown.endswith(b": "):  # a prompt, echo off already (getpass flushes before it)
                    os.write(main, pending.pop(0).encode() + b"\n")
            elif process.poll() is not None:
                break
        return process.wait(30), shown.decode(errors="replace")
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        os.close(main)


def test_user_add_at_a_terminal_asks_twice_and_does_not_echo(database_url: str) -> None:
    env = {**os.environ, "MUSRENBANG_DATABASE_URL": database_url}
    secret = "rahasia-terminal-" + uuid.uuid4().hex[:6]
    status, shown = _at_terminal(env, ["user", "add", "--username", "tty-user", "--role", "auditor"], [secret, secret])
    assert status == 0, shown
    assert "Password:" in shown and "Repeat" in shown and secret not in shown, shown
    assert "added tty-user" in shown
    listed = musrenbang(env, "user", "list")
    assert "tty-user" in listed.stdout


def test_two_different_passwords_at_a_terminal_change_nothing(database_url: str) -> None:
    env = {**os.environ, "MUSRENBANG_DATABASE_URL": database_url}
    status, shown = _at_terminal(env, ["user", "add", "--username", "tty-beda", "--role", "auditor"],
                                 ["rahasia-satu-123", "rahasia-dua-4567"])  # fmt: skip
    assert status == 3 and "error: the two passwords differ" in shown, shown
    assert "rahasia" not in shown
    assert "tty-beda" not in musrenbang(env, "user", "list").stdout


def test_a_password_from_a_pipe_is_read_as_before(database_url: str) -> None:
    env = {**os.environ, "MUSRENBANG_DATABASE_URL": database_url}
    done = musrenbang(env, "user", "add", "--username", "pipa", "--role", "auditor", stdin=b"rahasia-pipa-123\n")
    assert done.returncode == 0 and "Password" not in done.stdout + done.stderr, done.stderr
