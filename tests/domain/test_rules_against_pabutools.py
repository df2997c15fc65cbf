"""Property tests: our greedy and Equal Shares agree with pabutools (an independent implementation by
the Pabulib authors) on random small approval elections, ties broken the same way."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from pabutools.election import ApprovalBallot, ApprovalProfile, Cost_Sat, Instance, Project
from pabutools.rules import greedy_utilitarian_welfare, method_of_equal_shares
from pabutools.tiebreaking import TieBreakingRule

from musrenbang.domain import rules

# Ours: cheaper first, then the smaller id.
SAME_TIE_BREAK = TieBreakingRule(lambda instance, profile, project: (project.cost, project.name))


@st.composite
def elections(draw: st.DrawFn) -> tuple[list[rules.Item], list[frozenset[str]], int]:
    n = draw(st.integers(1, 7))
    items = [rules.Item(f"p{i}", draw(st.integers(1, 60))) for i in range(n)]
    ids = [i.id for i in items]
    ballots = draw(st.lists(st.frozensets(st.sampled_from(ids), min_size=1), min_size=1, max_size=9))
    budget = draw(st.integers(1, 200))
    return items, ballots, budget


def pabutools_election(items, ballots, budget):  # noqa: ANN001, ANN201
    projects = {i.id: Project(i.id, i.cost) for i in items}
    instance = Instance(projects.values(), budget_limit=budget)
    profile = ApprovalProfile([ApprovalBallot(projects[p] for p in b) for b in ballots])
    return instance, profile


@settings(max_examples=300, deadline=None)
@given(elections())
def test_greedy_selects_what_pabutools_selects(election) -> None:  # noqa: ANN001
    items, ballots, budget = election
    instance, profile = pabutools_election(items, ballots, budget)
    theirs = greedy_utilitarian_welfare(instance, profile, sat_class=Cost_Sat, tie_breaking=SAME_TIE_BREAK)
    votes = rules.approval_scores(ballots)
    ours = rules.greedy(items, votes, budget)
    # pabutools also spends what is left on projects nobody voted for; a forum never funds those.
    assert set(ours.selected) == {p.name for p in theirs if votes[p.name] > 0}


@settings(max_examples=300, deadline=None)
@given(elections())
def test_equal_shares_selects_what_pabutools_selects(election) -> None:  # noqa: ANN001
    items, ballots, budget = election
    instance, profile = pabutools_election(items, ballots, budget)
    theirs = method_of_equal_shares(instance, profile, sat_class=Cost_Sat, tie_breaking=SAME_TIE_BREAK)
    ours = rules.equal_shares(items, ballots, budget, completion=None)
    assert set(ours.selected) == {p.name for p in theirs}


@settings(max_examples=150, deadline=None)
@given(elections())
def test_equal_shares_add1_selects_what_pabutools_selects(election) -> None:  # noqa: ANN001
    items, ballots, budget = election
    instance, profile = pabutools_election(items, ballots, budget)
    theirs = method_of_equal_shares(
        instance, profile, sat_class=Cost_Sat, tie_breaking=SAME_TIE_BREAK, voter_budget_increment=1
    )
    ours = rules.equal_shares(items, ballots, budget, completion="add1")
    assert set(ours.selected) == {p.name for p in theirs}
