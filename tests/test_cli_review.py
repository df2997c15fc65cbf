"""The `musrenbang` commands met the way an operator meets them on a bad day: a typo in a URL, a password
piped in the wrong encoding, digits of another script, an --out that is no file, a backup of another
database, a cut-short file. Each is one `error:` line with its exit status, nothing written, no secret
printed."""

from __future__ import annotations

import os
import socket
import stat
import subprocess
from pathlib import Path

import asyncpg

from musrenbang.db.backup import _without_password, dump
from musrenbang.db.connect import redact
from tests.conftest import _throwaway_database
from tests.test_pabulib import pb, write

SECRET = "rahasia-sekali-123"


def musrenbang(env: dict[str, str], *args: str, stdin: bytes = b"") -> subprocess.CompletedProcess[str]:
    done = subprocess.run(["musrenbang", *args], env=env, input=stdin, capture_output=True, timeout=180)
    return subprocess.CompletedProcess(done.args, done.returncode, done.stdout.decode(errors="replace"),
                                       done.stderr.decode(errors="replace"))  # fmt: skip


def one_error(done: subprocess.CompletedProcess[str], status: int = 3) -> str:
    """The one `error:` line a refused command prints (and its status)."""
    lines = done.stderr.strip().splitlines()
    assert done.returncode == status and len(lines) == 1 and lines[0].startswith("error: "), done.stderr
    return lines[0]


async def events_in(url: str) -> int:
    conn = await asyncpg.connect(url)
    try:
        return await conn.fetchval("SELECT count(*) FROM events")
    finally:
        await conn.close()


# --- the database URL ------------------------------------------------------------------------------------


def test_a_port_beyond_65535_in_the_url_is_one_error_line() -> None:
    env = {**os.environ, "MUSRENBANG_DATABASE_URL": f"postgresql://postgres:{SECRET}@127.0.0.1:99999/x"}
    line = one_error(musrenbang(env, "status"))
    assert "port" in line and SECRET not in line


def test_a_password_given_in_the_urls_query_is_never_printed_nor_put_on_a_command_line() -> None:
    url = f"postgresql://postgres@127.0.0.1:1/x?password={SECRET}&sslmode=disable"
    assert SECRET not in redact(url) and "password=***" in redact(url)
    address, env = _without_password(url)
    assert SECRET not in address and env["PGPASSWORD"] == SECRET and "sslmode=disable" in address
    done = musrenbang({**os.environ, "MUSRENBANG_DATABASE_URL": url}, "status")
    assert done.returncode == 3 and SECRET not in done.stderr + done.stdout, done.stderr


def test_status_of_a_database_not_migrated_says_so(empty_database_url: str) -> None:
    done = musrenbang({**os.environ, "MUSRENBANG_DATABASE_URL": empty_database_url}, "status")
    assert done.returncode == 1 and "database: not migrated" in done.stdout, done.stdout + done.stderr
    assert "unreachable" not in done.stdout


# --- staff accounts: the password on standard input ------------------------------------------------------


def test_a_password_that_is_not_utf8_is_one_error_line(cli_env: dict[str, str]) -> None:
    latin1 = "kata-sandi-ñandú".encode("latin-1") + b"\n"
    added = musrenbang(cli_env, "user", "add", "--username", "petugas.latin", "--role", "auditor", stdin=latin1)
    assert one_error(added) == "error: password: standard input is not UTF-8 text"
    changed = musrenbang(cli_env, "user", "password", "petugas.latin", stdin=latin1)
    assert one_error(changed) == "error: password: standard input is not UTF-8 text"


def test_a_password_no_one_could_sign_in_with_is_refused(cli_env: dict[str, str]) -> None:
    for typed, message in [
        (b" " * 12, "wajib diisi"),
        (b"a" * 201, "terlalu panjang: paling banyak 200 huruf"),  # the sign-in page takes 200 at most
        (b"kata\x00sandi-panjang", "berisi karakter yang tidak diizinkan"),
        (b"kata\tsandi-panjang", "berisi karakter yang tidak diizinkan"),
    ]:
        done = musrenbang(cli_env, "user", "add", "--username", "petugas.sandi", "--role", "auditor",
                          stdin=typed + b"\n")  # fmt: skip
        assert one_error(done) == f"error: password: {message}", typed
    done = musrenbang(cli_env, "user", "add", "--username", "petugas.sandi", "--role", "auditor",
                      stdin=b"a" * 200 + b"\n")  # fmt: skip
    assert done.returncode == 0, done.stderr


def test_an_option_the_role_does_not_use_is_refused_not_dropped(cli_env: dict[str, str]) -> None:
    done = musrenbang(cli_env, "user", "add", "--username", "admin.wilayah", "--role", "admin", "--region",
                      "32.75.01", stdin=b"kata-sandi-panjang\n")  # fmt: skip
    assert one_error(done) == "error: --region is for facilitator accounts, not admin"
    done = musrenbang(cli_env, "user", "add", "--username", "auditor.dapil", "--role", "auditor", "--dapil",
                      "Bekasi 1", stdin=b"kata-sandi-panjang\n")  # fmt: skip
    assert one_error(done) == "error: --dapil is for dprd accounts, not auditor"
    assert "admin.wilayah" not in musrenbang(cli_env, "user", "list").stdout


# --- numbers ---------------------------------------------------------------------------------------------


def test_digits_of_other_scripts_are_not_read_as_a_year_or_a_port(cli_env: dict[str, str]) -> None:
    for args in (["cycle", "advance", "--year", "٢٠٢٨"], ["cycle", "advance", "--year", "２０２８"],
                 ["serve", "--port", "٨٠٨٠"], ["demo", "--scale", "٢"]):  # fmt: skip
        done = musrenbang(cli_env, *args)
        assert done.returncode == 2 and "digits 0-9" in done.stderr, (args, done.stderr)


def test_workers_are_a_whole_number_of_digits_0_9_within_bounds(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MUSRENBANG_")}
    env["MUSRENBANG_DATA_DIR"] = str(tmp_path / "data")
    with socket.socket() as busy:  # a count let through stops at the busy port: nothing is started
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = str(busy.getsockname()[1])
        for workers in ("0", "65", "100000", "٢", "２", "1.5"):
            done = musrenbang(env, "serve", "--port", port, "--workers", workers)
            assert done.returncode == 2 and "'--workers'" in done.stderr, (workers, done.stderr)
        for workers, message in [
            ("٢", "must be a whole number written with the digits 0-9, got '٢'"),
            ("1.5", "must be a whole number written with the digits 0-9, got '1.5'"),
            ("0", "must be between 1 and 64 (server processes), got 0"),
            ("100000", "must be between 1 and 64 (server processes), got 100000"),
        ]:
            done = musrenbang({**env, "MUSRENBANG_WORKERS": workers}, "serve", "--port", port)
            assert one_error(done) == f"error: MUSRENBANG_WORKERS {message}", workers
        done = musrenbang({**env, "MUSRENBANG_POLL_INTERVAL": "٥"}, "serve", "--port", port)
        assert (
            one_error(done) == "error: MUSRENBANG_POLL_INTERVAL must be a number written with the digits 0-9, got '٥'"
        )
        done = musrenbang({**env, "MUSRENBANG_PORT": "٨٠٨٠"}, "serve")
        assert (
            one_error(done) == "error: MUSRENBANG_PORT must be a whole number written with the digits 0-9, got '٨٠٨٠'"
        )
        for ok in (["--workers", "64"], ["--workers", "1"]):
            assert "already in use" in one_error(musrenbang(env, "serve", "--port", port, *ok)), ok
        assert "already in use" in one_error(musrenbang({**env, "MUSRENBANG_WORKERS": "64"}, "serve", "--port", port))


# --- files written -----------------------------------------------------------------------------------------


def test_an_out_that_is_no_file_name_is_one_error_line(cli_env: dict[str, str]) -> None:
    for args in (["backup", "--out", ""], ["export", "events", "--out", ""], ["pabulib", "export", "X", "--out", ""]):
        assert one_error(musrenbang(cli_env, *args)) == "error: --out needs the name of a file to write", args


def test_a_backup_never_replaces_a_pipe_or_device_it_is_pointed_at(cli_env: dict[str, str], tmp_path: Path) -> None:
    fifo = tmp_path / "pipa"
    os.mkfifo(fifo)
    for args in (["backup", "--out", str(fifo)], ["export", "events", "--out", str(fifo)]):
        assert "is not a regular file" in one_error(musrenbang(cli_env, *args)), args
        assert stat.S_ISFIFO(fifo.stat().st_mode)


def test_an_out_that_names_a_directory_is_refused_not_written_as_a_file(
    cli_env: dict[str, str], tmp_path: Path
) -> None:
    existing = tmp_path / "arsip"
    existing.mkdir()
    missing = tmp_path / "cadangan"
    for out in (f"{missing}/", str(existing), f"{existing}/"):  # `missing/` was written as a file
        for args in (
            ["backup", "--out", out],
            ["export", "events", "--out", out],
            ["pabulib", "export", "X", "--out", out],
        ):
            line = one_error(musrenbang(cli_env, *args))
            assert line == f"error: --out {out} names a directory: name the file to write", (args, line)
    assert list(existing.iterdir()) == [] and not missing.exists()


def test_pabulib_export_into_a_missing_directory_is_one_error_line(cli_env: dict[str, str], tmp_path: Path) -> None:
    election = write(tmp_path, pb({"budget": "1000", "rule": "greedy"}, ["A;600;1;1"], ["1;A"]))
    imported = musrenbang(cli_env, "pabulib", "import", str(election))
    assert imported.returncode == 0, imported.stderr
    forum_id = imported.stdout.split("forum: ")[1].split()[0]
    done = musrenbang(cli_env, "pabulib", "export", forum_id, "--out", str(tmp_path / "tidak-ada" / "x.pb"))
    assert one_error(done).startswith("error: cannot write ")


def test_data_dir_is_refused_when_the_database_url_names_another(cli_env: dict[str, str], tmp_path: Path) -> None:
    out = tmp_path / "cadangan.dump"
    done = musrenbang(cli_env, "backup", "--out", str(out), "--data-dir", str(tmp_path / "data"))
    assert "--data-dir" in one_error(done) and not out.exists()
    junk = tmp_path / "bukan.dump"
    junk.write_bytes(b"PGDMP")
    done = musrenbang(cli_env, "restore", str(junk), "--data-dir", str(tmp_path / "data"))
    assert "--data-dir" in one_error(done)


async def test_outbox_retry_since_a_day_out_of_range_is_refused_and_changes_nothing(database_url: str) -> None:
    from tests.delivery.test_worker import PHONE, queue

    conn = await asyncpg.connect(database_url)
    try:
        failed = await queue(conn, "sms", PHONE, status="failed", last_error="HTTP 404: not found")
        env = {**os.environ, "MUSRENBANG_DATABASE_URL": database_url}
        for day in ("0001-01-01", "1998-12-31", "2101-01-01", "9999-12-31"):
            done = musrenbang(env, "outbox", "retry", "--since", day)
            assert done.returncode == 2, (day, done.stderr)
            assert f"Invalid value for '--since': {day} is not a day between 1999-01-01 and 2100-12-31" in done.stderr
            assert "database" not in done.stderr and "Traceback" not in done.stderr, done.stderr
        assert await conn.fetchval("SELECT status FROM outbox WHERE id = $1", failed) == "failed"
        done = musrenbang(env, "outbox", "retry", "--since", "1999-01-01")
        assert (done.returncode, done.stdout) == (0, "re-queued 1 failed message(s)\n"), done.stderr
    finally:
        await conn.close()


# --- the database ------------------------------------------------------------------------------------------


FOREIGN = (
    "error: the database holds tables of another application ({}) and no Musrenbang migrations: nothing"
    " was changed; use an empty database of its own"
)


async def test_migrate_refuses_another_applications_database(empty_database_url: str) -> None:
    env = {**os.environ, "MUSRENBANG_DATABASE_URL": empty_database_url}
    conn = await asyncpg.connect(empty_database_url)

    async def tables() -> set[str]:
        rows = await conn.fetch("SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")
        return {r["tablename"] for r in rows}

    try:
        await conn.execute("CREATE TABLE gaji (nama text, jumlah int)")
        for args in (["migrate"], ["outbox", "retry"], ["status"]):  # status advised `migrate`, which refuses
            line = one_error(musrenbang(env, *args))
            assert line == FOREIGN.format("gaji"), (args, line)
        assert await tables() == {"gaji"}
        # Another program's migrations table of the same name (Rails, golang-migrate) is not ours either.
        await conn.execute("CREATE TABLE schema_migrations (version varchar PRIMARY KEY)")
        assert "(gaji, schema_migrations)" in one_error(musrenbang(env, "migrate"))
        assert await tables() == {"gaji", "schema_migrations"}
        await conn.execute("DROP TABLE gaji, schema_migrations")
        done = musrenbang(env, "migrate")  # empty: ours from now on
        assert done.returncode == 0 and done.stdout.startswith("applied: 0001_"), done.stderr
        done = musrenbang(env, "migrate")
        assert (done.returncode, done.stdout) == (0, "database is up to date\n"), done.stderr
    finally:
        await conn.close()


# --- files read --------------------------------------------------------------------------------------------


async def test_a_backup_of_another_database_is_not_restored(
    empty_database_url: str, server_url: str, tmp_path: Path
) -> None:
    conn = await asyncpg.connect(empty_database_url)
    try:
        await conn.execute("CREATE TABLE gaji (nama text, jumlah int); INSERT INTO gaji VALUES ('x', 1)")
    finally:
        await conn.close()
    other = tmp_path / "lain.dump"
    dump(empty_database_url, other)
    async with _throwaway_database(server_url, None) as target:
        done = musrenbang({**os.environ, "MUSRENBANG_DATABASE_URL": target}, "restore", str(other))
        assert "not of a Musrenbang database" in one_error(done)
        conn = await asyncpg.connect(target)
        try:
            assert await conn.fetchval("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'") == 0
        finally:
            await conn.close()


async def test_a_pabulib_file_cut_short_is_refused(cli_env: dict[str, str], database_url: str, tmp_path: Path) -> None:
    whole = pb({"budget": "1000", "rule": "greedy"}, ["A;600;2;1", "B;300;1;1"], ["1;A", "2;A,B", "3;B"])
    cut = write(tmp_path, whole[: whole.index("2;A,B") + 3])  # the file stops inside voter 2's vote
    assert "cut short" in one_error(musrenbang(cli_env, "pabulib", "import", str(cut)))
    assert await events_in(database_url) == 0


async def test_verify_against_a_server_never_prints_its_password(cli_env: dict[str, str], tmp_path: Path) -> None:
    election = write(tmp_path, pb({"budget": "1000", "rule": "greedy"}, ["A;600;1;1"], ["1;A"]))
    assert musrenbang(cli_env, "pabulib", "import", str(election)).returncode == 0
    exported = tmp_path / "log.jsonl"
    assert musrenbang(cli_env, "export", "events", "--out", str(exported)).returncode == 0
    done = musrenbang(cli_env, "verify", "--file", str(exported), "--against", f"http://auditor:{SECRET}@127.0.0.1:1")
    assert done.returncode == 3 and SECRET not in done.stdout + done.stderr, done.stderr
    assert "auditor:***@127.0.0.1:1" in done.stderr


# --- the demo ----------------------------------------------------------------------------------------------


async def test_the_demo_refuses_a_database_it_would_leave_half_played(empty_database_url: str) -> None:
    env = {**os.environ, "MUSRENBANG_DATABASE_URL": empty_database_url}
    assert musrenbang(env, "setup", "--region", "51.71").returncode == 0  # Kota Denpasar
    line = one_error(musrenbang(env, "demo"))
    assert "Kota Denpasar" in line and "--data-dir" not in line
    assert await events_in(empty_database_url) == 1


async def test_the_demo_refuses_a_cycle_it_did_not_open(cli_env: dict[str, str], database_url: str) -> None:
    from tests.test_cli_planning import EXAMPLE

    opened = musrenbang(cli_env, "cycle", "open", "--year", "2023", "--theme", "Tema", "--programs", str(EXAMPLE))
    assert opened.returncode == 0, opened.stderr
    before = await events_in(database_url)
    assert "RKPD 2023" in one_error(musrenbang(cli_env, "demo"))
    assert await events_in(database_url) == before


def test_every_commands_help_reads_as_written() -> None:
    """`--help` of each command, as an operator first meets it: click printed an unbounded whole number's
    range as "[x<=None]"."""
    import click
    from click.testing import CliRunner

    from musrenbang.cli import main

    def commands(group: click.Group, path: list[str]) -> list[list[str]]:
        found = [path]
        for name, command in group.commands.items():
            found += commands(command, [*path, name]) if isinstance(command, click.Group) else [[*path, name]]
        return found

    every = commands(main, [])
    assert ["serve"] in every and ["cycle", "open"] in every
    for path in every:
        done = CliRunner().invoke(main, [*path, "--help"])
        assert done.exit_code == 0, (path, done.output)
        assert "None" not in done.output, (path, done.output)


async def test_a_database_not_there_yet_is_created_on_the_operators_server(server_url: str) -> None:
    """The README says so of MUSRENBANG_DATABASE_URL; every command answered "database does not exist"."""
    import uuid
    from urllib.parse import urlsplit, urlunsplit

    name = f"made_{uuid.uuid4().hex[:10]}"
    url = urlunsplit(urlsplit(server_url)._replace(path=f"/{name}"))
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("MUSRENBANG_")}, "MUSRENBANG_DATABASE_URL": url}
    admin = await asyncpg.connect(urlunsplit(urlsplit(server_url)._replace(path="/postgres")))
    try:
        done = musrenbang(env, "cycle", "list")
        assert done.returncode == 0, done.stderr
        assert await admin.fetchval("SELECT count(*) FROM pg_database WHERE datname = $1", name) == 1
        assert musrenbang(env, "cycle", "list").returncode == 0  # and found the second time
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


def test_commands_started_at_once_on_a_new_data_directory_all_work(tmp_path: Path) -> None:
    """Each found no database and created it: two of three met PostgreSQL's unique index on database names."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MUSRENBANG_")}
    env["MUSRENBANG_DATA_DIR"] = str(tmp_path / "data")
    started = [subprocess.Popen(["musrenbang", "migrate"], env=env, stderr=subprocess.PIPE, text=True)
               for _ in range(3)]  # fmt: skip
    outcomes = [(p.wait(timeout=180), p.stderr.read() if p.stderr else "") for p in started]
    musrenbang(env, "db", "stop")
    assert all(code == 0 for code, _ in outcomes), outcomes


def test_an_empty_database_url_is_refused_not_taken_for_the_bundled_database(tmp_path: Path) -> None:
    """`MUSRENBANG_DATABASE_URL=$DB_URL` with DB_URL unset ran on a new bundled database beside the real one."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MUSRENBANG_")}
    env |= {"MUSRENBANG_DATA_DIR": str(tmp_path / "data"), "MUSRENBANG_DATABASE_URL": " "}
    done = musrenbang(env, "cycle", "list")
    assert one_error(done) == ("error: MUSRENBANG_DATABASE_URL is set but empty: give the database's URL, or unset"
                               " it to use the bundled database")  # fmt: skip
    assert not (tmp_path / "data").exists()  # nothing started


def test_a_backup_of_a_mistyped_data_directory_makes_nothing_there(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MUSRENBANG_")}
    typo = tmp_path / "dta"
    done = musrenbang(env, "backup", "--out", str(tmp_path / "b.dump"), "--data-dir", str(typo))
    assert one_error(done) == f"error: {typo} holds no bundled database: nothing to back up (is the directory right?)"
    assert not typo.exists() and not (tmp_path / "b.dump").exists()
    a_file = tmp_path / "berkas"
    a_file.write_text("")
    done = musrenbang({**env, "MUSRENBANG_DATA_DIR": str(a_file)}, "cycle", "list")
    assert one_error(done) == f"error: data directory {a_file} is a file, not a directory"
