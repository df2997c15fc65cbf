"""An administrator's review (session 29): a command that adds to a city does not make a new, empty bundled
database where none is; an unreadable data directory is one line, not a traceback; a backup of a newer
version is refused before anything is loaded; a restore whose log did not verify is not served; an adopted
year is not "already opened"."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import asyncpg
import pytest

from musrenbang.db.connect import create_pool
from musrenbang.domain import cycle
from musrenbang.domain.errors import AlreadyExists
from musrenbang.domain.events import CycleStageAdvanced
from musrenbang.eventlog.store import NEW_STREAM, Append, EventStore
from tests.test_cli_review import musrenbang, one_error
from tests.test_cli_s19 import clean_env

ADDING = [["user", "add", "--username", "admin.baru", "--role", "admin"], ["cycle", "list"],
          ["cycle", "cancel", "--year", "2031", "--reason", "salah"]]  # fmt: skip


@pytest.mark.parametrize("command", ADDING, ids=lambda c: " ".join(c[:2]))
def test_a_command_adding_to_a_city_makes_no_new_bundled_database(command: list[str], tmp_path: Path) -> None:
    """`user add` from a shell without the server's MUSRENBANG_DATA_DIR made a new, empty database in the
    default directory and said "added": the account could never sign in where the server looks."""
    elsewhere = tmp_path / "default"
    done = musrenbang(clean_env(MUSRENBANG_DATA_DIR=str(elsewhere)), *command, stdin=b"kata-sandi-panjang\n")
    line = one_error(done)
    assert str(elsewhere) in line and "holds no bundled database" in line and "Nothing was created" in line, line
    assert "added" not in done.stdout
    assert not (elsewhere / "pgdata").exists()


def _as_another_user() -> None:
    os.setgid(65534)
    os.setuid(65534)


def test_an_unreadable_data_directory_is_one_line(tmp_path: Path) -> None:
    data = tmp_path / "data"
    (data / "pgdata").mkdir(parents=True)
    (data / "pgdata" / "PG_VERSION").write_text("18\n")
    if os.geteuid() == 0:  # root reads every directory: the command runs as nobody, on a directory of root's
        data.chmod(0o700)
        tmp_path.chmod(0o755)
        preexec = _as_another_user
    else:
        data.chmod(0)
        preexec = None
    try:
        env = clean_env(MUSRENBANG_DATA_DIR=str(data), HOME=str(tmp_path))
        done = subprocess.run([sys.executable, "-m", "musrenbang", "status"], env=env, capture_output=True,
                              text=True, timeout=60, preexec_fn=preexec, cwd="/")  # fmt: skip
    finally:
        data.chmod(0o700)
    assert done.returncode == 3, done.stdout + done.stderr
    assert "Traceback" not in done.stderr, done.stderr
    [line] = done.stderr.strip().splitlines()
    assert line.startswith("error: the data directory") and "not readable by this user" in line, line


async def _count_tables(url: str) -> int:
    conn = await asyncpg.connect(url)
    try:
        return int(await conn.fetchval("SELECT count(*) FROM pg_tables WHERE schemaname = current_schema()"))
    finally:
        await conn.close()


async def test_a_backup_of_a_newer_version_is_refused_before_anything_is_loaded(
    database_url: str, empty_database_url: str, tmp_path: Path
) -> None:
    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute("INSERT INTO schema_migrations (version, name, checksum)"
                           " VALUES (9999, '9999_future.sql', 'abc')")  # fmt: skip
    finally:
        await conn.close()
    backup = tmp_path / "baru.dump"
    made = musrenbang({**os.environ, "MUSRENBANG_DATABASE_URL": database_url}, "backup", "--out", str(backup))
    assert made.returncode == 0, made.stderr
    assert await _count_tables(empty_database_url) == 0

    line = one_error(musrenbang({**os.environ, "MUSRENBANG_DATABASE_URL": empty_database_url}, "restore", str(backup)))
    assert "newer version" in line and "9999_future.sql" in line and "nothing was restored" in line, line
    assert await _count_tables(empty_database_url) == 0  # loaded, it had left a half-restored database


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_a_restore_whose_log_did_not_verify_is_not_served(
    database_url: str, empty_database_url: str, tmp_path: Path
) -> None:
    pool = await create_pool(database_url, min_size=1, max_size=1)
    try:
        advanced = CycleStageAdvanced(year=2031, stage="kelurahan")
        await EventStore(pool).append(Append("cycle-s29", NEW_STREAM, [advanced]))
        async with pool.acquire() as conn:
            await conn.execute("ALTER TABLE events DISABLE TRIGGER USER")
            await conn.execute("""UPDATE events SET data = jsonb_set(data, '{stage}', '"kota"')"""
                               " WHERE stream_id = 'cycle-s29'")  # fmt: skip
            await conn.execute("ALTER TABLE events ENABLE TRIGGER USER")
    finally:
        await pool.close()
    backup = tmp_path / "rusak.dump"
    assert musrenbang({**os.environ, "MUSRENBANG_DATABASE_URL": database_url}, "backup", "--out",
                      str(backup)).returncode == 0  # fmt: skip
    target = {**os.environ, "MUSRENBANG_DATABASE_URL": empty_database_url}
    assert musrenbang(target, "restore", str(backup)).returncode == 1

    status = musrenbang(target, "status")
    assert status.returncode == 1
    assert "was refused: the restored log does not verify" in status.stdout, status.stdout
    assert "replay` finishes it" not in status.stdout  # it cannot: replay refuses a broken log

    served = musrenbang(target, "serve", "--port", str(_free_port()))
    line = one_error(served)
    assert served.returncode == 3 and "not serving the database" in line and "was refused" in line, line
    assert "serving on" not in served.stderr


def test_opening_an_adopted_year_says_it_was_adopted() -> None:
    started = cycle.decide(cycle.Cycle(), cycle.StartCycle(year=2030, region="32.75", theme="Tema",
                                                           priority_programs=("A", "B"), require_calendar=False))
    state = cycle.Cycle()
    for event in [*started, CycleStageAdvanced(year=2030, stage=cycle.ADOPTED)]:
        state = cycle.evolve(state, event)
    assert state.adopted
    with pytest.raises(AlreadyExists) as refused:
        cycle.decide(state, cycle.StartCycle(year=2030, region="32.75", theme="Tema", priority_programs=("A", "B"),
                                             require_calendar=False))  # fmt: skip
    assert "sudah ditetapkan" in str(getattr(refused.value.message, "template", refused.value.message))
