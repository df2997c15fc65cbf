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
