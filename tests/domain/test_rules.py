"""Decision rules on worked examples (the same ones their docstrings give)."""

from __future__ import annotations

from fractions import Fraction

from musrenbang.domain import rules
from musrenbang.domain.rules import Item

A, B, C = Item("A", 60), Item("B", 50), Item("C", 40)
SCORES = {"A": 9, "B": 7, "C": 5}


def test_greedy_skips_what_does_not_fit() -> None:
    s = rules.greedy([A, B, C], SCORES, 100)
    assert s.selected == ("A", "C")
    assert s.reasons == {"B": rules.OVER_CEILING}
    assert rules.cost_of(s, [A, B, C]) == 100


def test_greedy_no_skip_stops_at_the_first_that_does_not_fit() -> None:
    s = rules.greedy([A, B, C], SCORES, 100, skip=False)
    assert s.selected == ("A",)
    assert s.reasons == {"B": rules.OVER_CEILING, "C": rules.STOPPED}


def test_greedy_threshold_leaves_out_low_scores() -> None:
    s = rules.greedy([A, B, C], SCORES, 1000, threshold=6)
    assert s.selected == ("A", "B")
    assert s.reasons == {"C": rules.BELOW_THRESHOLD}


def test_items_nobody_supported_are_never_selected_and_say_why() -> None:
    s = rules.greedy([A, Item("D", 1)], {"A": 1}, 1000)
    assert s.selected == ("A",) and s.reasons == {"D": rules.NO_SUPPORT}


def test_quota_limits_how_many_go_forward() -> None:
    s = rules.greedy([A, B, C], SCORES, 1000, quota=2)
    assert s.selected == ("A", "B") and s.reasons == {"C": rules.QUOTA}


def test_ties_go_to_the_cheaper_then_the_smaller_id() -> None:
    items = [Item("b", 10), Item("a", 10), Item("c", 5)]
    assert rules.greedy(items, {"a": 1, "b": 1, "c": 1}, 100).ranking == ("c", "a", "b")


def test_weighted_criteria_average_the_sheets() -> None:
    sheets = [{"X": {"urgency": 5, "reach": 3}}, {"X": {"urgency": 3, "reach": 3}}]
    assert rules.weighted_criteria_scores(sheets, {"urgency": 2, "reach": 1}) == {"X": Fraction(11)}


def test_ordinal_ballots_score_positionally() -> None:
    assert rules.ordinal_scores([["B", "A", "C"], ["A"]], 3) == {"B": 3, "A": 5, "C": 1}


def test_equal_shares_worked_example() -> None:
    items = [Item("X", 200), Item("Y", 150), Item("Z", 100)]
    ballots = [frozenset({"X", "Y"}), frozenset({"X", "Y"}), frozenset({"Y", "Z"})]
    s = rules.equal_shares(items, ballots, 300, completion=None)
    assert s.selected == ("Y",)
    assert s.reasons == {"X": rules.UNAFFORDABLE, "Z": rules.UNAFFORDABLE}


def test_equal_shares_add1_raises_shares_while_something_still_fits() -> None:
    items = [Item("Y", 150), Item("Z", 100)]
    ballots = [frozenset({"Y"}), frozenset({"Y"}), frozenset({"Y", "Z"})]
    # 100 each: Y costs 50 each; voter 3 then has 50, not enough for Z.
    assert rules.equal_shares(items, ballots, 300, completion=None).selected == ("Y",)
    # Raising the shares one rupiah at a time, at 150 each voter 3 can pay Z: 250 fits in 300.
    assert rules.equal_shares(items, ballots, 300, completion="add1").selected == ("Y", "Z")


def test_equal_shares_add1_keeps_the_last_result_that_fits() -> None:
    items = [Item("X", 200), Item("Y", 150), Item("Z", 100)]
    ballots = [frozenset({"X", "Y"}), frozenset({"X", "Y"}), frozenset({"Y", "Z"})]
    # At 150 each X and Z would both become affordable (450 > 300): the last fitting result stays.
    assert rules.equal_shares(items, ballots, 300, completion="add1").selected == ("Y",)


def test_equal_shares_prices_a_proposal_its_supporters_can_only_just_afford_correctly() -> None:
    """Found by the property test against pabutools: with shares of 11 5/9, p3's supporters can pay its
    60 only with everything they have; the floating-point estimate must not make it look cheap."""
    items = [Item("p0", 9), Item("p1", 6), Item("p2", 24), Item("p3", 60), Item("p4", 14), Item("p5", 4)]
    ballots = [frozenset(b) for b in (
        {"p4", "p0", "p2"}, {"p1", "p3"}, {"p4", "p3", "p2"}, {"p3", "p2", "p1", "p4", "p5", "p0"},
        {"p3", "p1", "p4", "p0"}, {"p1", "p3", "p2"}, {"p2"}, {"p3", "p2", "p1", "p4", "p0"}, {"p4"},
    )]  # fmt: skip
    assert set(rules.equal_shares(items, ballots, 77, completion="add1").selected) == {"p0", "p1", "p2", "p4", "p5"}


def test_greedy_exclusive_leaves_out_what_conflicts_with_a_selected_proposal() -> None:
    s = rules.greedy([A, B, C], SCORES, 100, exclusive=[("A", "C")])
    assert s.selected == ("A",)
    assert s.reasons == {"B": rules.OVER_CEILING, "C": rules.EXCLUDED}


def test_greedy_exclusive_a_proposal_that_did_not_fit_excludes_nothing() -> None:
    # A (60) does not fit in 55; B (50), its rival, is then selected; C (40) no longer fits.
    s = rules.greedy([A, B, C], SCORES, 55, exclusive=[("A", "B")])
    assert s.selected == ("B",)
    assert s.reasons == {"A": rules.OVER_CEILING, "C": rules.OVER_CEILING}


def test_add1_raises_shares_by_one_unit_of_the_currency_whatever_the_unit_of_the_amounts() -> None:
    # A costs 7, B 3, ceiling 3; voter 1 approves A and B, voter 2 only A. Shares of 1.5, then 2.5 fund
    # nothing; at 3.5 both pay A (7 > 3): add1 stops at nothing. In tenths, raising by one tenth reaches a
    # share of 3.0, where voter 1 alone pays B: a different outcome, so the step must be one whole unit.
    ballots = [frozenset("AB"), frozenset("A")]
    whole = rules.equal_shares([Item("A", 7), Item("B", 3)], ballots, 3)
    tenths = [Item("A", 70), Item("B", 30)]
    assert whole.selected == ()
    assert rules.equal_shares(tenths, ballots, 30, step=10).selected == ()
    assert rules.equal_shares(tenths, ballots, 30, step=1).selected == ("B",)


def test_comparison_takes_greedy_when_more_voters_prefer_it() -> None:
    # The docstring's example: Equal Shares funds A only; voter 3 prefers greedy's A and B, nobody
    # prefers Equal Shares.
    items = [Item("A", 1), Item("B", 1), Item("C", 1)]
    ballots = [frozenset("A"), frozenset("A"), frozenset("B")]
    mes = rules.equal_shares(items, ballots, 2, completion=None)
    assert mes.selected == ("A",)
    s = rules.compare_with_greedy(mes, items, ballots, 2)
    assert s.selected == ("A", "B") and s.reasons == {"C": rules.NO_SUPPORT}


def test_comparison_keeps_equal_shares_on_a_tie_between_the_camps() -> None:
    # Two voters approve A and B, two approve C; all cost 1, ceiling 2. Greedy: A, B (ties: cheaper,
    # then smaller id). Equal Shares (1/2 each): A, then C. Voters 1-2 prefer greedy (2 against 1),
    # voters 3-4 Equal Shares (1 against 0): 2 against 2 keeps Equal Shares.
    items = [Item("A", 1), Item("B", 1), Item("C", 1)]
    ballots = [frozenset("AB"), frozenset("AB"), frozenset("C"), frozenset("C")]
    mes = rules.equal_shares(items, ballots, 2, completion=None)
    assert mes.selected == ("A", "C")
    assert rules.compare_with_greedy(mes, items, ballots, 2) is mes
