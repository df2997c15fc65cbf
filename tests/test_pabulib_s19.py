"""`pabulib import`: the file is read once and written from what was checked; an import that stops after it
began writing says which forum it left half-imported; `--check` never claims a match it did not compare;
unreadable inputs, repeated META keys and over-long values get one short `error:` line."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import time
from pathlib import Path

import asyncpg
import pytest

from musrenbang import pabulib
from musrenbang.eventlog.store import EventStore
from musrenbang.services import pabulib_import
from musrenbang.services.forums import ForumService
from tests.conftest import REPO
from tests.test_pabulib import pb, write

PABULIB = REPO.parent / "shared" / "data" / "pabulib"
LARGE = PABULIB / "Poland_Warszawa_2026.pb"


def musrenbang(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["musrenbang", *args], env=env, capture_output=True, text=True, timeout=600)


def one_error_line(done: subprocess.CompletedProcess[str]) -> str:
    assert "Traceback" not in done.stderr, done.stderr
    lines = [line for line in done.stderr.strip().splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), done.stderr
    return lines[0]


def nothing_written(env: dict[str, str]) -> bool:
    return "intact: 0 events" in musrenbang("verify", env=env).stdout


SMALL = pb({"budget": "100", "rule": "greedy"}, ["A;60;3;1", "B;50;2;0", "C;40;1;1"],
           ["1;A,B,C", "2;A,B", "3;A"])  # fmt: skip


# --- 1. written from what was read and checked once; a stop after writing began is named -----------------


async def test_the_import_writes_what_was_checked_even_if_the_file_changes_meanwhile(
    pool: asyncpg.Pool, store: EventStore, tmp_path: Path
) -> None:
    path = write(tmp_path, SMALL)
    planned = pabulib_import.plan(path)
    path.write_text(SMALL.replace("3;A\n", "3;q\n"), encoding="utf-8")  # a late vote now names no project
    forum_id = await pabulib_import.write(pool, store, path, planned)
    forums = ForumService(pool, store, None)
    forum, _ = await forums.load(forum_id)
    assert forum.result is not None
    ballots, _ = await forums.ballots_and_sheets(forum_id)
    assert {b.delegate_id: b.approvals for b in ballots}["3"] == ("A",)


async def test_a_write_that_stops_halfway_names_the_forum_it_left(
    pool: asyncpg.Pool, store: EventStore, tmp_path: Path
) -> None:
    planned = pabulib_import.plan(write(tmp_path, SMALL))

    def stop(n: int) -> None:
        raise RuntimeError("the disk is full")

    with pytest.raises(pabulib_import.HalfImported) as stopped:
        await pabulib_import.write(pool, store, tmp_path / "election.pb", planned, stop)
    forum_id = planned.command.forum_id
    message = str(stopped.value)
    assert f"forum {forum_id} (stream forum-{forum_id})" in message and "half-imported" in message
    assert "3 delegates, 0 ballots" in message and "the disk is full" in message and "\n" not in message


@pytest.mark.parametrize(("sig", "status"), [(signal.SIGTERM, 128 + signal.SIGTERM), (signal.SIGINT, 130)],
                         ids=["SIGTERM", "Ctrl-C"])  # fmt: skip
async def test_a_signal_during_a_large_import_names_the_half_imported_forum(
    sig: signal.Signals, status: int, cli_env: dict[str, str], database_url: str
) -> None:
    # SIGINT as a terminal's Ctrl-C finds it: a pytest-xdist worker ignores SIGINT, its children inherit
    # that, and Python leaves an ignored SIGINT ignored (the import then ran to its end, exit 0).
    process = subprocess.Popen(["musrenbang", "pabulib", "import", str(LARGE)], env=cli_env, text=True,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))  # fmt: skip
    conn = await asyncpg.connect(database_url)
    try:
        deadline = time.monotonic() + 300
        # As soon as the first delegates are written: 61,668 delegates and their ballots are still to come,
        # so the signal lands in the writing however loaded the machine (sent after the first ballot, it
        # once came as the import was finishing, which then ended whole, as it should, with exit 0).
        while time.monotonic() < deadline and process.poll() is None:
            seen = "SELECT EXISTS (SELECT 1 FROM events WHERE event_type = 'forum.delegate_registered')"
            if await conn.fetchval(seen):
                break
            await asyncio.sleep(0.05)
        assert process.poll() is None, "the import ended before a delegate was seen"
        process.send_signal(sig)
        out, err = process.communicate(timeout=120)
        forum_id = await conn.fetchval("SELECT stream_id FROM events WHERE event_type = 'forum.scheduled'")
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
        await conn.close()
    assert process.returncode == status, err
    errors = [line for line in err.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and "Traceback" not in err, err
    assert f"(stream {forum_id})" in errors[0] and "half-imported" in errors[0], err
    assert "forum:" not in out


# --- 2. --check with nothing to compare --------------------------------------------------------------


def test_check_with_nothing_to_compare_says_so_and_writes_nothing(cli_env: dict[str, str], tmp_path: Path) -> None:
    text = pb({"budget": "100", "rule": "greedy"}, ["A;60;A", "B;50;B"], ["1;A", "2;A,B"],
              header="project_id;cost;name")  # fmt: skip
    done = musrenbang("pabulib", "import", str(write(tmp_path, text)), "--check", env=cli_env)
    assert done.returncode == 4, done.stdout + done.stderr
    assert "match" not in done.stdout
    assert "unsupported: --check has nothing to compare" in done.stderr
    assert "no votes, score or selected column" in done.stderr
    assert nothing_written(cli_env)


def test_check_names_what_it_could_not_compare(cli_env: dict[str, str], tmp_path: Path) -> None:
    text = pb({"budget": "100", "rule": "greedy"}, ["A;60;2", "B;50;1"], ["1;A", "2;A,B"],
              header="project_id;cost;votes")  # fmt: skip
    done = musrenbang("pabulib", "import", str(write(tmp_path, text)), "--check", env=cli_env)
    assert done.returncode == 0, done.stderr
    assert "check: votes and scores match election.pb (it has no selected column)" in done.stdout


def test_check_a_votes_cell_that_is_not_a_number_is_a_difference(cli_env: dict[str, str], tmp_path: Path) -> None:
    """The forum is written by then: not an `error:` (which says nothing was written)."""
    text = SMALL.replace("B;50;2;0", "B;50;two;0")
    done = musrenbang("pabulib", "import", str(write(tmp_path, text)), "--check", env=cli_env)
    assert done.returncode == 1, done.stderr
    assert "difference: project B: votes in file 'two' is not a number" in done.stderr
    assert "error:" not in done.stderr and "Traceback" not in done.stderr


# --- 3. unreadable inputs; a pipe ----------------------------------------------------------------------


@pytest.mark.parametrize("where", ["directory", "proc-mem"])
def test_an_unreadable_path_is_one_error_line_exit_3(where: str, cli_env: dict[str, str], tmp_path: Path) -> None:
    path = str(tmp_path) if where == "directory" else "/proc/self/mem"
    done = musrenbang("pabulib", "import", path, env=cli_env)
    assert done.returncode == 3, done.stderr
    line = one_error_line(done)
    assert line.startswith(f"error: {path}: ") and "cannot be read" in line, line
    assert nothing_written(cli_env)


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads every file")
def test_a_file_the_user_cannot_read_is_one_error_line_exit_3(cli_env: dict[str, str], tmp_path: Path) -> None:
    path = write(tmp_path, SMALL)
    path.chmod(0)
    done = musrenbang("pabulib", "import", str(path), env=cli_env)
    assert done.returncode == 3 and "cannot be read" in one_error_line(done)


def test_a_pipe_is_read_once_and_imported(cli_env: dict[str, str], tmp_path: Path) -> None:
    path = write(tmp_path, SMALL)
    done = subprocess.run(["bash", "-c", 'musrenbang pabulib import --check <(cat "$1")', "-", str(path)],
                          env=cli_env, capture_output=True, text=True, timeout=600)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert re.search(r"^forum: [0-9A-Z]{8}$", done.stdout, re.M) and "match" in done.stdout


# --- 4. a repeated META key; 5. over-long values --------------------------------------------------------


def test_a_repeated_meta_key_is_refused_by_name(cli_env: dict[str, str], tmp_path: Path) -> None:
    text = SMALL.replace("budget;100\n", "budget;100\nbudget;10\n")
    done = musrenbang("pabulib", "import", str(write(tmp_path, text)), env=cli_env)
    assert done.returncode == 3
    assert "META lists budget twice" in one_error_line(done)
    assert nothing_written(cli_env)


def test_no_official_file_repeats_a_meta_key() -> None:
    files = sorted(PABULIB.glob("*.pb"))
    assert len(files) == 9
    for path in files:
        election = pabulib.read(path)  # refuses a repeated key
        election.votes.close()


@pytest.mark.parametrize("where", ["voter", "project"])
def test_an_over_long_value_is_shortened_in_the_error_line(where: str, cli_env: dict[str, str], tmp_path: Path) -> None:
    long = "x" * 5000
    votes = [f"{long};Q", "2;A"] if where == "voter" else ["1;A", f"2;A,{long}"]
    text = pb({"budget": "100", "rule": "greedy"}, ["A;60;2;1"], votes)
    done = musrenbang("pabulib", "import", str(write(tmp_path, text)), env=cli_env)
    assert done.returncode == 3
    line = one_error_line(done)
    assert len(line) < 300 and "x" * 59 + "…" in line and "x" * 61 not in line, line
    assert ("delegate_id" if where == "voter" else "is not in PROJECTS") in line, line


def test_short_keeps_short_values_and_escapes_line_breaks() -> None:
    assert pabulib.short("abc") == "abc"
    assert pabulib.short("y" * 60) == "y" * 60
    assert pabulib.short("y" * 61) == "y" * 59 + "…"
    assert "\n" not in pabulib.short("a\nb")


def test_an_approval_file_s_score_column_is_held_to_its_votes(cli_env: dict[str, str], tmp_path: Path) -> None:
    """`--check` said "scores … match" for an approval file without looking at its score column."""
    text = pb({"budget": "100", "rule": "greedy"}, ["A;60;2;5;1;A", "B;50;1;1;0;B"], ["1;A", "2;A,B"],
              header="project_id;cost;votes;score;selected;name")  # fmt: skip
    done = musrenbang("pabulib", "import", str(write(tmp_path, text)), "--check", env=cli_env)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "project A: score in file 5, computed 2" in done.stderr
