"""Equal Shares' add1 completion skips, in one go, the shares at which no round could fund anything, and
selects exactly what raising the shares one step at a time selects (review s24: two delegates, one
approving a Rp 9 juta proposal, a Rp 10 juta ceiling: four million rounds, ~50 s on the event loop)."""

from __future__ import annotations

import random
from collections import Counter
from fractions import Fraction

import pytest

from musrenbang.domain import rules
from musrenbang.domain.rules import Item, equal_shares


def _one_step_at_a_time(items: list[Item], ballots: list[frozenset[str]], ceiling: int, utility: str,
                        step: int = 1) -> tuple[tuple[str, ...], dict[str, str]]:  # fmt: skip
    """add1 as it was written before the skip: the reference the skip must agree with."""
    by_id = {i.id: i for i in items}
    voters = [frozenset(b & by_id.keys()) for b in ballots]
    share = Fraction(ceiling, len(voters))
    chosen, _ = rules._mes_round(by_id, voters, share, utility)
    supported = {i for b in voters for i in b if utility == "approval" or by_id[i].cost > 0}
    while rules._fits_more({i: by_id[i] for i in supported}, chosen, ceiling):
        share += step
        more, _ = rules._mes_round(by_id, voters, share, utility)
        if sum(by_id[i].cost for i in more) > ceiling:
            break
        chosen = more
    return tuple(chosen), {}


@pytest.mark.parametrize("seed", range(300))
def test_the_skip_selects_what_one_step_at_a_time_selects(seed: int) -> None:
    rng = random.Random(seed)
    items = [Item(f"P{k}", rng.choice([0, rng.randint(1, 400)])) for k in range(rng.randint(1, 6))]
    ballots = [frozenset(i.id for i in items if rng.random() < 0.4) for _ in range(rng.randint(1, 5))]
    ceiling = rng.randint(1, 600)
    for utility in ("cost", "approval"):
        expected, _ = _one_step_at_a_time(items, ballots, ceiling, utility)
        assert equal_shares(items, ballots, ceiling, utility=utility).selected == expected, (seed, utility)


def test_a_forum_with_few_delegates_and_a_large_ceiling_takes_a_few_rounds(monkeypatch: pytest.MonkeyPatch) -> None:
    rounds: Counter[str] = Counter()
    real = rules._mes_round

    def counted(*args: object) -> object:
        rounds["made"] += 1
        return real(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(rules, "_mes_round", counted)
    items = [Item("A", 9_000_000), Item("B", 9_000_000)]
    chosen = equal_shares(items, [frozenset({"A"}), frozenset()], 10_000_000, utility="cost")
    assert chosen.selected == ("A",)  # d1's share raised to Rp 9 juta: A funded, B unsupported
    assert rounds["made"] <= 3, rounds
