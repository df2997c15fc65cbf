"""A proposal or project that costs nothing, under Equal Shares with cost utility (satisfaction = cost):
it satisfies no one, so the rounds never fund it (as equalshares.net's reference code leaves zero-cost
projects out), and the count neither divides by zero nor raises the shares for it forever. Review s24: a
Pabulib file with such a project was imported half-way (the count failed after writing began) and its
forum's close answered 500. The import now makes the count in memory before writing anything."""

from __future__ import annotations

from pathlib import Path

import pytest

from musrenbang import pabulib
from musrenbang.domain.rules import NO_SATISFACTION, REASON_LABELS, Item, equal_shares
from musrenbang.services import pabulib_import
from tests.test_pabulib import pb, write
from tests.test_pabulib_s19 import musrenbang

ITEMS = [Item("free", 0), Item("road", 100), Item("drain", 50)]
BALLOTS = [frozenset({"free", "road"}), frozenset({"free", "drain"}), frozenset({"road"})]


@pytest.mark.parametrize("completion", ["add1", None])
def test_cost_utility_leaves_a_zero_cost_proposal_unfunded_with_its_reason(completion: str | None) -> None:
    result = equal_shares(ITEMS, BALLOTS, 200, utility="cost", completion=completion)
    assert result.selected == ("road", "drain")
    assert result.reasons == {"free": NO_SATISFACTION} and NO_SATISFACTION in REASON_LABELS


def test_approval_utility_still_funds_a_zero_cost_proposal_first() -> None:
    result = equal_shares(ITEMS, BALLOTS, 200, utility="approval")
    assert result.selected[0] == "free" and set(result.selected) == {"free", "road", "drain"}


def test_a_file_with_a_zero_cost_project_is_imported_and_closed_whole(cli_env: dict[str, str],
                                                                      tmp_path: Path) -> None:  # fmt: skip
    text = pb({"budget": "150", "rule": "equalshares/add1"}, ["A;0;2;0", "B;100;2;1", "C;50;1;1"],
              ["1;A,B", "2;A,C", "3;B"])  # fmt: skip
    done = musrenbang("pabulib", "import", str(write(tmp_path, text)), "--check", env=cli_env)
    assert "Traceback" not in done.stderr and "half-imported" not in done.stderr, done.stderr
    assert done.returncode == 0 and "selection match" in done.stdout, (done.stdout, done.stderr)  # B, C: as the file


def test_a_count_that_cannot_be_made_is_refused_before_writing(monkeypatch: pytest.MonkeyPatch,
                                                               tmp_path: Path) -> None:  # fmt: skip
    """Whatever makes the count fail, the rehearsal (which writes nothing) meets it first and says so."""
    path = write(tmp_path, pb({"budget": "150", "rule": "greedy"}, ["A;10;2;1"], ["1;A", "2;A"]))
    assert pabulib_import.plan(path)  # the file as it is: planned

    def failing(*_: object) -> None:
        raise ZeroDivisionError("float division by zero")

    monkeypatch.setattr(pabulib.forum_rules, "compute_result", failing)
    with pytest.raises(pabulib.BadFile, match=r"count cannot be made for it \(ZeroDivisionError: float division"):
        pabulib_import.plan(path)
