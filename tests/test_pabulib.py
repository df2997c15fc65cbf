"""Real participatory-budgeting elections through the platform: every file in shared/data/pabulib is
imported through the forum's commands and events, and must reproduce the official outcome."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from musrenbang import pabulib
from tests.conftest import REPO

PABULIB = REPO.parent / "shared" / "data" / "pabulib"
FILES = sorted(PABULIB.glob("*.pb"))


def musrenbang(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["musrenbang", *args], env=env, capture_output=True, text=True, timeout=600)


def test_the_shared_elections_are_there() -> None:
    assert len(FILES) == 9, f"expected the nine elections in {PABULIB}"


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_import_check_reproduces_the_official_outcome(path: Path, cli_env: dict[str, str]) -> None:
    done = musrenbang("pabulib", "import", str(path), "--check", env=cli_env)
    assert done.returncode == 0, done.stderr[-3000:]
    assert re.search(r"^forum: [0-9A-Z]{8}$", done.stdout, re.M)
    assert f"check: votes, scores and selection match {path.name}" in done.stdout


@pytest.mark.parametrize(
    "name", ["Netherlands_Assen_2024", "Poland_Krakow_2019_Bienczyce", "Poland_Czestochowa_2025_Podjasnogorska"]
)
def test_an_exported_forum_is_a_pabulib_file_that_checks_again(
    name: str, cli_env: dict[str, str], tmp_path: Path
) -> None:
    imported = musrenbang("pabulib", "import", str(PABULIB / f"{name}.pb"), env=cli_env)
    forum_id = re.search(r"forum: (\w+)", imported.stdout).group(1)
    out = tmp_path / "again.pb"
    exported = musrenbang("pabulib", "export", forum_id, "--out", str(out), env=cli_env)
    assert exported.returncode == 0, exported.stderr
    again = musrenbang("pabulib", "import", str(out), "--check", env=cli_env)
    assert again.returncode == 0, again.stderr[-3000:]
    assert selected(PABULIB / f"{name}.pb") == selected(out)


def selected(path: Path) -> set[str]:
    election = pabulib.read(path)
    election.votes.close()
    return {p["project_id"] for p in election.projects if p["selected"] == "1"}


def test_a_wrong_selection_in_the_file_is_reported_as_a_difference(cli_env: dict[str, str], tmp_path: Path) -> None:
    text = (PABULIB / "Poland_Warszawa_2019_Las.pb").read_text(encoding="utf-8")
    tampered = tmp_path / "tampered.pb"
    tampered.write_text(text.replace("1137;7000;103;Kosze na śmieci;public space;children,youth,adults;1",
                                     "1137;7000;103;Kosze na śmieci;public space;children,youth,adults;0"),
                        encoding="utf-8")  # fmt: skip
    done = musrenbang("pabulib", "import", str(tampered), "--check", env=cli_env)
    assert done.returncode == 1
    assert "project 1137: selected in file 0, computed 1" in done.stderr


def test_an_unsupported_rule_is_reported_as_such_and_nothing_is_written(
    cli_env: dict[str, str], tmp_path: Path
) -> None:
    text = (PABULIB / "Netherlands_Assen_2024.pb").read_text(encoding="utf-8")
    other = tmp_path / "phragmen.pb"
    other.write_text(text.replace("rule;equalshares/add1", "rule;phragmen"), encoding="utf-8")
    done = musrenbang("pabulib", "import", str(other), "--check", env=cli_env)
    assert done.returncode == 4
    assert "unsupported: rule 'phragmen' is not supported" in done.stderr
    verify = musrenbang("verify", env=cli_env)
    assert "intact: 0 events" in verify.stdout


def test_a_file_that_is_not_pabulib_is_explained(cli_env: dict[str, str], tmp_path: Path) -> None:
    bad = tmp_path / "bad.pb"
    bad.write_text("hello;world\n")
    done = musrenbang("pabulib", "import", str(bad), env=cli_env)
    assert done.returncode == 3 and "error:" in done.stderr and "Traceback" not in done.stderr


# --- the format's other rules and real files' irregularities, on small files built here ---------------


def pb(meta: dict[str, str], projects: list[str], votes: list[str], header: str = "project_id;cost;votes;selected",
       vote_header: str = "voter_id;vote", kind: str = "approval") -> str:  # fmt: skip
    """A Pabulib file: META from `meta` (with the obligatory fields this importer reads), then rows as given."""
    lines = ["META", "key;value", "description;test", "country;Poland", "unit;Test", "instance;2024",
             f"num_projects;{len(projects)}", f"num_votes;{len(votes)}", f"vote_type;{kind}"]  # fmt: skip
    lines += [f"{k};{v}" for k, v in meta.items()]
    return "\n".join([*lines, "PROJECTS", header, *projects, "VOTES", vote_header, *votes]) + "\n"


def write(tmp_path: Path, text: str, name: str = "election.pb") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def checked(path: Path, env: dict[str, str], *options: str) -> subprocess.CompletedProcess[str]:
    done = musrenbang("pabulib", "import", str(path), "--check", *options, env=env)
    assert "Traceback" not in done.stderr, done.stderr
    return done


def test_decimal_amounts_are_counted_exactly_and_exported_with_their_values(
    cli_env: dict[str, str], tmp_path: Path
) -> None:
    # Budget 1000.50. A (3 votes, 600.30) fits, leaving 400.20; B (2 votes, 400.30) does not, by ten
    # cents (rounded to whole units it would: 600 + 400 <= 1000); C (1 vote, 400.20) fits exactly.
    text = pb({"budget": "1000.50", "rule": "greedy"}, ["A;600.30;3;1", "B;400.30;2;0", "C;400.20;1;1"],
              ["1;A,B", "2;A,B", "3;A,C"])  # fmt: skip
    done = checked(write(tmp_path, text), cli_env)
    assert done.returncode == 0, done.stderr
    forum_id = re.search(r"forum: (\w+)", done.stdout).group(1)
    out = tmp_path / "again.pb"
    assert musrenbang("pabulib", "export", forum_id, "--out", str(out), env=cli_env).returncode == 0
    exported = out.read_text(encoding="utf-8")
    # in tenths, the finest unit the file needs (its trailing zeros say nothing), and back
    assert "budget;1000.5\n" in exported and "\nB;400.3;2;" in exported and "\nC;400.2;1;" in exported
    assert checked(out, cli_env).returncode == 0


def test_the_format_pages_own_example_with_spaces_after_the_semicolons(
    cli_env: dict[str, str], tmp_path: Path
) -> None:
    # Votes: 4 has 6, 5 has 5, 1 and 2 have 4 each, 7 has 3. Budget 2500: 4 (1400), 5 (1000); the rest
    # does not fit in the 100 left.
    projects = ["1; 600; 4; 0", "2; 800; 4; 0", "4; 1400; 6; 1", "5; 1000; 5; 1", "7; 1200; 3; 0"]
    votes = ["1; 1,2,4", "2; 1,2", "3; 2,4,5", "4; 5,7", "5; 1,4,7", "6; 1,7", "7; 5", "8; 4", "9; 2,4,5",
             "10; 4,5"]  # fmt: skip
    text = pb({"budget": " 2500", "rule": " greedy"}, projects, votes, "project_id; cost; votes; selected",
              "voter_id; vote")  # fmt: skip
    done = checked(write(tmp_path, text), cli_env)
    assert done.returncode == 0, done.stderr
    assert "check: votes, scores and selection match" in done.stdout


def test_a_project_twice_in_one_approval_vote_is_one_approval(cli_env: dict[str, str], tmp_path: Path) -> None:
    # Voter 1 lists A twice: A has 2 votes (voters 1 and 2), not 3; the file's own column says 2.
    text = pb({"budget": "100", "rule": "greedy"}, ["A;60;2;1", "B;60;1;0"], ["1;A,A", "2;A", "3;B"])
    assert checked(write(tmp_path, text), cli_env).returncode == 0
    counted_twice = text.replace("A;60;2;1", "A;60;3;1")
    done = checked(write(tmp_path, counted_twice, "twice.pb"), cli_env)
    assert done.returncode == 1 and "project A: votes in file 3, computed 2" in done.stderr


def test_an_empty_vote_is_a_voter_who_takes_a_share_and_spends_none(cli_env: dict[str, str], tmp_path: Path) -> None:
    # Equal Shares, budget 100, two voters: 50 each. Voter 1 alone approves A (60): unaffordable. Were
    # the empty vote dropped, voter 1 would hold 100 and A would be funded.
    text = pb({"budget": "100", "rule": "equalshares"}, ["A;60;1;0", "B;60;0;0"], ["1;A", "2;"])
    assert checked(write(tmp_path, text), cli_env).returncode == 0


def test_selected_2_is_a_project_funded_outside_the_rule(cli_env: dict[str, str], tmp_path: Path) -> None:
    # greedy-no-skip, budget 100: A (60) then B (50) does not fit and stops the count; the city funded
    # B with extra money, which the format marks as selected 2.
    text = pb({"budget": "100", "rule": "greedy-no-skip"}, ["A;60;2;1", "B;50;1;2"], ["1;A", "2;A,B"])
    assert checked(write(tmp_path, text), cli_env).returncode == 0


def test_greedy_exclusive_reads_the_conflicts_it_is_given(cli_env: dict[str, str], tmp_path: Path) -> None:
    # Budget 100; A (3 votes, 60), B (2, 50), C (1, 40). Plain greedy: A and C. A and C are two designs
    # for one place: C is excluded once A is selected, and B does not fit.
    text = pb({"budget": "100", "rule": "greedy-exclusive", "comment": "#1: Projects A and C exclude each other."},
              ["A;60;3;1", "B;50;2;0", "C;40;1;0"], ["1;A,B,C", "2;A,B", "3;A"])  # fmt: skip
    path = write(tmp_path, text)
    done = checked(path, cli_env, "--exclusive", "A,C")
    assert done.returncode == 0, done.stderr
    without = checked(path, cli_env)
    assert without.returncode == 1
    assert "note: greedy-exclusive without --exclusive" in without.stderr
    assert "project C: selected in file 0, computed 1" in without.stderr


def test_equal_shares_add1_comparison_takes_greedy_when_more_voters_prefer_it(
    cli_env: dict[str, str], tmp_path: Path
) -> None:
    # Three voters approve A and B, two approve C; each costs 1, budget 2. Equal Shares with add1 funds
    # A only (at shares of 1.4 it would fund all three, over the budget). Greedy funds A and B: voters
    # 1-3 prefer it (2 against 1), voters 4-5 have nothing either way: greedy's outcome is the result.
    projects = ["A;1;3;1", "B;1;3;1", "C;1;2;0"]
    votes = ["1;A,B", "2;A,B", "3;A,B", "4;C", "5;C"]
    text = pb({"budget": "2", "rule": "equalshares/add1-comparison"}, projects, votes)
    assert checked(write(tmp_path, text), cli_env).returncode == 0
    plain = text.replace("equalshares/add1-comparison", "equalshares/add1")
    done = checked(write(tmp_path, plain, "plain.pb"), cli_env)
    assert done.returncode == 1 and "project B: selected in file 1, computed 0" in done.stderr


@pytest.mark.parametrize(
    ("meta", "projects", "votes", "error"),
    [
        ({"budget": "1000,50"}, ["A;600;1;1"], ["1;A"], "budget: '1000,50' has a decimal comma"),
        ({}, ["A;600;1;1"], ["1;A,Z"], "voter 1: project Z is not in PROJECTS"),
        ({}, ["A;600;1;1", "A;700;0;0"], ["1;A"], "project A is listed twice in PROJECTS"),
        ({}, ["A;600;2;1"], ["1;A", "1;A"], "voter 1 is listed twice in VOTES"),
        ({"max_length": "1"}, ["A;600;1;1", "B;100;1;1"], ["1;A,B"], "voter 1: ballot: paling banyak 1 usulan"),
        ({"vote_type": "ordinal", "max_length": "2"}, ["A;600;1;1", "B;100;0;1"], ["1;A,A"],
         "voter 1: ranks a project twice"),
        ({}, ["A;six hundred;1;1"], ["1;A"], "cost: 'six hundred' is not a number"),
        ({"budget": "-5"}, ["A;6;1;1"], ["1;A"], "the forum refuses it: ceiling"),
        ({}, ["A;600;1;yes"], ["1;A"], "project A: selected 'yes' is not 0, 1, 2 or 3"),
    ],
    ids=["decimal-comma", "unknown-project", "project-twice", "voter-twice", "over-max-length",
         "ordinal-repeat", "cost-not-a-number", "negative-budget", "selected-not-a-flag"],  # fmt: skip
)
def test_an_irregular_file_is_refused_with_one_error_line_and_nothing_written(
    meta: dict[str, str], projects: list[str], votes: list[str], error: str, cli_env: dict[str, str], tmp_path: Path
) -> None:
    text = pb({"budget": "1000", "rule": "greedy", **meta}, projects, votes)
    if "vote_type" in meta:
        text = text.replace("vote_type;approval\n", "", 1)
    done = checked(write(tmp_path, text), cli_env)
    assert done.returncode == 3, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and error in lines[0], done.stderr
    assert "intact: 0 events" in musrenbang("verify", env=cli_env).stdout


@pytest.mark.parametrize("rule", ["unknown", "greedy-custom"])
def test_a_rule_the_file_does_not_define_is_unsupported(rule: str, cli_env: dict[str, str], tmp_path: Path) -> None:
    done = checked(write(tmp_path, pb({"budget": "100", "rule": rule}, ["A;60;1;1"], ["1;A"])), cli_env)
    assert done.returncode == 4 and f"unsupported: rule '{rule}' cannot be recomputed" in done.stderr


def test_verify_file_recomputes_forums_of_the_new_rules_and_decimal_amounts(
    cli_env: dict[str, str], tmp_path: Path
) -> None:
    """The schedule's new fields (money_scale, exclusive) travel in the log, and the offline check
    recomputes each result from them."""
    files = {
        "exclusive.pb": (pb({"budget": "100", "rule": "greedy-exclusive"}, ["A;60;3;1", "B;50;2;0", "C;40;1;0"],
                            ["1;A,B,C", "2;A,B", "3;A"]), ("--exclusive", "A,C")),  # fmt: skip
        "decimals.pb": (pb({"budget": "1000.50", "rule": "equalshares/add1"}, ["A;600.30;2;1", "B;400.30;1;0"],
                           ["1;A,B", "2;A"]), ()),  # fmt: skip
        "comparison.pb": (pb({"budget": "2", "rule": "equalshares-comparison"}, ["A;1;2;1", "B;1;1;1", "C;1;0;0"],
                             ["1;A", "2;A", "3;B"]), ()),  # fmt: skip
    }
    for name, (text, options) in files.items():
        done = checked(write(tmp_path, text, name), cli_env, *options)
        assert done.returncode == 0, f"{name}: {done.stderr}"
    log = tmp_path / "log.jsonl"
    assert musrenbang("export", "events", "--out", str(log), env=cli_env).returncode == 0
    verified = musrenbang("verify", "--file", str(log), env=cli_env)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert "forums recomputed: 3;" in verified.stdout and "all agree" in verified.stdout


def test_the_unit_is_the_smallest_one_the_files_amounts_use() -> None:
    assert pabulib.money_scale({"budget": "1500000.00"}, [{"project_id": "A", "cost": "7"}]) == 1
    assert pabulib.money_scale({"budget": "1500000.5"}, [{"project_id": "A", "cost": "7.25"}]) == 100
    assert pabulib.money_scale({"budget": "10", "max_sum_cost": "0.125"}, []) == 1000
    with pytest.raises(pabulib.BadFile, match=r"project A: cost: '1e5' is not a number"):
        pabulib.money_scale({"budget": "10"}, [{"project_id": "A", "cost": "1e5"}])
