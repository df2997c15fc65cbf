"""Decision rules: how a forum's scores or ballots become the list that fits its ceiling (pagu).

Pure functions over exact numbers (integers and fractions, never floats), so that anyone recomputing a
result from the log gets the same list. Every rule returns a `Selection`: the order in which proposals
were considered, the ones selected, and for each one left out the reason.

Tie-breaks are deterministic and the same for every rule: when two proposals are equal on the rule's
criterion, the cheaper one comes first, and between equally cheap ones the smaller id (as text) wins.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from fractions import Fraction
from typing import NamedTuple

from musrenbang.domain.errors import N_

# Why a proposal was left out.
NO_SUPPORT = "no_support"  # nobody scored, approved or gave it points
BELOW_THRESHOLD = "below_threshold"  # its score is under the forum's minimum
OVER_CEILING = "over_ceiling"  # it did not fit in what was left of the ceiling
STOPPED = "stopped"  # greedy-no-skip stopped at an earlier proposal that did not fit
UNAFFORDABLE = "unaffordable_by_supporters"  # Equal Shares: its supporters' shares could not pay for it
QUOTA = "over_quota"  # the forum forwards at most `quota` proposals
EXCLUDED = "excluded_by_conflict"  # greedy-exclusive: it conflicts with a proposal selected before it
NO_SATISFACTION = "zero_cost_no_satisfaction"  # Equal Shares, cost utility: costing nothing, it satisfies no one
REASON_LABELS = {
    NO_SUPPORT: N_("tidak ada yang mendukung"),
    BELOW_THRESHOLD: N_("nilainya di bawah ambang minimum"),
    OVER_CEILING: N_("tidak muat dalam sisa pagu"),
    STOPPED: N_("pengisian pagu berhenti di usulan sebelumnya yang tidak muat"),
    UNAFFORDABLE: N_("bagian pendukungnya tidak cukup untuk membiayainya (Equal Shares)"),
    QUOTA: N_("melebihi kuota usulan yang diteruskan"),
    EXCLUDED: N_("saling meniadakan dengan usulan terpilih yang peringkatnya lebih tinggi"),
    NO_SATISFACTION: N_("tanpa biaya: dalam Equal Shares yang mengukur kepuasan dengan biaya, usulan ini tidak"
                        " memberi kepuasan sehingga tidak didanai"),
}


class Item(NamedTuple):
    """A proposal on the agenda: its id and the cost the forum works with (rupiah)."""

    id: str
    cost: int


class Selection(NamedTuple):
    ranking: tuple[str, ...]
    """Every item in the order the rule considered it."""
    selected: tuple[str, ...]
    """The items that go forward, in ranking order."""
    reasons: dict[str, str]
    """For each item not selected, why."""
    scores: dict[str, Fraction]
    """The criterion each item was ranked by (votes, points or weighted score; approvals for Equal Shares)."""


def cost_of(selection: Selection, items: Iterable[Item]) -> int:
    costs = {i.id: i.cost for i in items}
    return sum(costs[i] for i in selection.selected)


def ranked(items: Iterable[Item], scores: Mapping[str, Fraction | int]) -> list[Item]:
    """Highest score first; ties: cheaper first, then smaller id."""
    return sorted(items, key=lambda i: (-scores.get(i.id, 0), i.cost, i.id))


def greedy(
    items: Sequence[Item],
    scores: Mapping[str, Fraction | int],
    ceiling: int,
    *,
    skip: bool = True,
    threshold: Fraction | int | None = None,
    quota: int | None = None,
    exclusive: Sequence[Sequence[str]] = (),
) -> Selection:
    """Fill the ceiling in order of score.

    `skip=True` ("greedy"): a proposal that does not fit is passed over and the next ones still get
    their chance. `skip=False` ("greedy-no-skip"): filling stops at the first proposal that does not fit.
    `threshold` ("greedy-threshold"): proposals scoring below it never qualify. `quota`: at most that
    many are selected. `exclusive` ("greedy-exclusive", Pabulib's name for greedy where some proposals
    rule each other out, e.g. two designs for the same square): groups of mutually exclusive proposals;
    once one of a group is selected, the others lower in the ranking are excluded. One that did not fit
    excludes nothing: only a selected proposal has a claim on the place.

    Example: ceiling 100; A scores 9 and costs 60, B scores 7 and costs 50, C scores 5 and costs 40.
    greedy selects A, skips B (60 + 50 > 100) and selects C: [A, C], B over the ceiling. greedy-no-skip
    selects A and stops at B: [A], B over the ceiling, C stopped. With threshold 6, C never qualifies.
    With A and C exclusive, C is excluded by A: [A].
    """
    order = ranked(items, scores)
    selected: list[str] = []
    reasons: dict[str, str] = {}
    rivals: dict[str, set[str]] = defaultdict(set)
    for group in exclusive:
        for member in group:
            rivals[member].update(other for other in group if other != member)
    taken: set[str] = set()
    left = ceiling
    stopped = False
    for item in order:
        score = scores.get(item.id, 0)
        if score <= 0:
            reasons[item.id] = NO_SUPPORT
        elif threshold is not None and score < threshold:
            reasons[item.id] = BELOW_THRESHOLD
        elif rivals[item.id] & taken:
            reasons[item.id] = EXCLUDED
        elif stopped:
            reasons[item.id] = STOPPED
        elif quota is not None and len(selected) >= quota:
            reasons[item.id] = QUOTA
        elif item.cost <= left:
            selected.append(item.id)
            taken.add(item.id)
            left -= item.cost
        else:
            reasons[item.id] = OVER_CEILING
            stopped = not skip
    return Selection(
        tuple(i.id for i in order), tuple(selected), reasons, {i.id: Fraction(scores.get(i.id, 0)) for i in order}
    )


# --- scores from ballots ----------------------------------------------------------------------------


def approval_scores(ballots: Iterable[Iterable[str]]) -> Counter[str]:
    """Approval and choose-1 ballots: one vote per proposal named."""
    votes: Counter[str] = Counter()
    for ballot in ballots:
        votes.update(set(ballot))
    return votes


def cumulative_scores(ballots: Iterable[Mapping[str, int]]) -> Counter[str]:
    """Cumulative ballots: the points each proposal received, added up."""
    points: Counter[str] = Counter()
    for ballot in ballots:
        points.update(ballot)
    return points


def ordinal_scores(ballots: Iterable[Sequence[str]], length: int) -> Counter[str]:
    """Ordinal ballots scored positionally: with lists of at most `length`, the first choice gets
    `length` points, the second `length - 1`, and so on (Borda over the ballot length).

    Example: length 3, ballot [B, A, C] gives B 3, A 2, C 1.
    """
    points: Counter[str] = Counter()
    for ballot in ballots:
        for position, item in enumerate(ballot):
            points[item] += length - position
    return points


def weighted_criteria_scores(
    sheets: Sequence[Mapping[str, Mapping[str, int]]], weights: Mapping[str, int]
) -> dict[str, Fraction]:
    """Each sheet (one delegate's, or the forum's consensus) scores proposals per criterion 1-5; a
    proposal's score is the average over the sheets that scored it of Σ weight × score.

    Example: weights {urgency: 2, reach: 1}; two sheets give X urgency 5, reach 3 and urgency 3, reach 3:
    (2·5 + 3 + 2·3 + 3) / 2 = 11.
    """
    totals: dict[str, Fraction] = defaultdict(Fraction)
    counts: Counter[str] = Counter()
    for sheet in sheets:
        for item, marks in sheet.items():
            totals[item] += sum(weights[c] * m for c, m in marks.items())
            counts[item] += 1
    return {item: totals[item] / counts[item] for item in totals}


# --- the Method of Equal Shares -----------------------------------------------------------------------


def equal_shares(
    items: Sequence[Item],
    ballots: Sequence[frozenset[str]],
    ceiling: int,
    *,
    utility: str = "cost",
    completion: str | None = "add1",
    step: int = 1,
) -> Selection:
    """The Method of Equal Shares (Peters & Skowron) for approval ballots.

    The ceiling is split equally among the voters. Repeatedly, the proposal that its supporters can
    pay for at the lowest price per unit of satisfaction is funded, each supporter paying an equal
    share, or everything they have left if that is less. It stops when no remaining proposal can be
    paid for by its supporters. Satisfaction (`utility`) is the proposal's cost ("cost", as on
    equalshares.net and in Pabulib's equalshares rule) or 1 per approved proposal ("approval").

    `completion="add1"`: while some proposal still fits in the unspent ceiling, run again with every
    voter's share raised by `step` (one rupiah, or one unit of the election's currency: `step` is that
    unit in the amounts given, 100 when they are cents) and keep that result if it still fits in the
    ceiling; stop at the first that does not, or once nothing more fits. Nothing else depends on the
    unit: every price scales with the amounts, so the same election in cents selects the same.

    Example: ceiling 300, three voters (100 each); X costs 200 and is approved by voters 1 and 2; Y
    costs 150 and is approved by all three; Z costs 100 and is approved by voter 3. With cost utility,
    X costs its supporters 100 per voter for 200 of satisfaction (0.5 per unit), Y 50 per voter for 150
    (0.33 per unit): Y first (each pays 50); X then needs 100 from voters with 50 left: unaffordable;
    Z needs 100 from voter 3, who has 50: unaffordable. Result: [Y].
    """
    if utility not in ("cost", "approval"):
        raise ValueError(f"unknown utility {utility!r}")
    by_id = {i.id: i for i in items}
    voters = [frozenset(b & by_id.keys()) for b in ballots]
    n = len(voters)
    if n == 0:
        return _mes_selection(items, [], {}, Counter())
    share = Fraction(ceiling, n)
    chosen, prices = _mes_round(by_id, voters, share, utility)
    # what the rounds may fund: under cost utility a zero-cost proposal satisfies no one (_MesRound), and
    # raising the shares for it would never end
    supported = {i for b in voters for i in b if utility == "approval" or by_id[i].cost > 0}
    if completion == "add1":
        backers = Counter(i for b in voters for i in b if i in supported)
        while _fits_more({i: by_id[i] for i in supported}, chosen, ceiling):
            share += _add1_step(share, step, chosen, backers, by_id)
            more, more_prices = _mes_round(by_id, voters, share, utility)
            if sum(by_id[i].cost for i in more) > ceiling:
                break
            chosen, prices = more, more_prices
    elif completion is not None:
        raise ValueError(f"unknown completion {completion!r}")
    unsatisfying = frozenset() if utility == "approval" else frozenset(i.id for i in items if i.cost == 0)
    return _mes_selection(items, chosen, prices, approval_scores(voters), unsatisfying)


def _add1_step(share: Fraction, step: int, chosen: Sequence[str], backers: Counter[str],
               by_id: Mapping[str, Item]) -> Fraction | int:
    """How far add1 raises the shares next: one `step`, or, while the rounds fund nothing at all, as many
    steps at once as no round could fund anything in. A round funds nothing exactly when no proposal is
    affordable at its start, when every voter holds `share`: proposal p needs backers(p) x share >= its
    cost. Every share below the least such threshold is a round with the same empty outcome, so skipping
    them selects what one step at a time would (two delegates and a Rp 10 juta ceiling took ~50 s)."""
    if chosen or not backers:
        return step
    threshold = min(Fraction(by_id[i].cost, n) for i, n in backers.items())
    return max(1, math.ceil((threshold - share) / step)) * step


def _fits_more(by_id: Mapping[str, Item], chosen: Sequence[str], ceiling: int) -> bool:
    """Is there a supported item not chosen that fits in what is left? (Unsupported ones never will.)"""
    left = ceiling - sum(by_id[i].cost for i in chosen)
    taken = set(chosen)
    return any(item.cost <= left for item in by_id.values() if item.id not in taken)


def _mes_round(
    by_id: Mapping[str, Item], voters: Sequence[frozenset[str]], share: Fraction, utility: str
) -> tuple[list[str], dict[str, Fraction]]:
    """One run of Equal Shares with `share` per voter; returns funded ids in order and their prices.

    Why it is fast with tens of thousands of voters, yet exact:
    - voters with the same ballot always pay the same, so they are one group with a count;
    - a group's remaining budget is one of few distinct values (everyone starts equal, and a funded
      proposal takes the same price from every supporter who can pay it), so groups carry a small
      integer naming their value, and each proposal keeps a count of its supporters per value; voters
      with nothing left are dropped from the counts, as they can pay nothing;
    - each round, prices are first estimated in floating point to find the few proposals that could be
      cheapest, and only those are priced exactly with fractions (the estimate only narrows the search;
      every decision is made on exact numbers).
    """
    run = _MesRound(by_id, voters, share, utility)
    while (best := run.cheapest()) is not None:
        run.fund(*best)
    return run.funded, run.prices


class _MesRound:
    """The state of one `_mes_round` between its steps. Its loops over proposals and over groups bind what
    they use to locals first and call nothing per group: with 60,000 voters those loops are the tally."""

    __slots__ = ("by_id", "ballots", "sizes", "values", "floats", "ids", "state", "supporters", "wallets",
                 "weights", "open_items", "estimated", "funded", "prices")  # fmt: skip

    def __init__(
        self, by_id: Mapping[str, Item], voters: Sequence[frozenset[str]], share: Fraction, utility: str
    ) -> None:
        """Everyone starts with `share`, value id 0; each proposal's wallet counts its supporters per value
        id. `weights`: satisfaction per proposal, what a price is divided by to compare proposals."""
        groups = Counter(voters)
        self.by_id = by_id
        self.ballots = list(groups)
        self.sizes = [groups[b] for b in self.ballots]
        self.values: list[Fraction] = [share]  # value id -> remaining budget
        self.floats: list[float] = [float(share)]
        self.ids: dict[Fraction, int] = {share: 0}
        self.state = [0] * len(self.ballots)  # group -> value id (-1: nothing left)
        supporters: dict[str, list[int]] = defaultdict(list)
        for g, ballot in enumerate(self.ballots):
            for item in ballot:
                supporters[item].append(g)
        self.supporters = supporters
        self.wallets: dict[str, Counter[int]] = {
            p: Counter({0: sum(self.sizes[g] for g in gs)}) for p, gs in supporters.items()
        }
        self.weights = {p: 1 if utility == "approval" else by_id[p].cost for p in supporters}
        # A proposal that satisfies no one (cost utility, cost 0) has no price per unit of satisfaction:
        # the rounds never fund it (equalshares.net's reference code leaves zero-cost projects out of them).
        self.open_items = {p for p in supporters if self.weights[p] > 0}
        self.estimated: dict[str, float | None] = {}  # per proposal, kept until its supporters' wallets change
        self.funded: list[str] = []
        self.prices: dict[str, Fraction] = {}

    def cheapest(self) -> tuple[str, Fraction] | None:
        """The next proposal to fund and its price per supporter; None once nothing left is affordable.
        Only proposals whose float estimate is within a hair of the lowest are priced exactly; should none
        of them be affordable after all, every one with an estimate is, so floats never decide."""
        estimates = self._estimates()
        if not estimates:
            return None
        lowest = min(e for e, _ in estimates)
        best = self._best_priced(estimates, lowest * (1 + 1e-9) + 1e-12)
        if best is None:  # the estimates were all a hair too hopeful: price everything exactly
            best = self._best_priced(estimates, math.inf)
        return best

    def _estimates(self) -> list[tuple[float, str]]:
        """(float price per unit of satisfaction, id) of every open proposal its supporters could pay for;
        an estimate is reused until a payment changes one of the proposal's supporters' wallets."""
        estimated, wallets, floats, by_id, weights = self.estimated, self.wallets, self.floats, self.by_id, self.weights
        estimates: list[tuple[float, str]] = []
        for p in self.open_items:
            if p not in estimated:
                approx = _float_price(wallets[p], floats, by_id[p].cost)
                estimated[p] = None if approx is None else approx / weights[p]
            per_unit = estimated[p]
            if per_unit is not None:
                estimates.append((per_unit, p))
        return estimates

    def _best_priced(self, estimates: Sequence[tuple[float, str]], limit: float) -> tuple[str, Fraction] | None:
        """Of the proposals estimated at most `limit` (math.inf: all), the one with the lowest exact price
        per unit of satisfaction; ties to the cheaper proposal, then the smaller id. (id, price) or None."""
        wallets, values, by_id, weights = self.wallets, self.values, self.by_id, self.weights
        best: tuple[Fraction, int, str] | None = None
        best_price = Fraction(0)
        for estimate, p in estimates:
            if estimate > limit:
                continue
            price = _equal_price(wallets[p], values, by_id[p].cost)
            if price is None:
                continue
            key = (price / weights[p], by_id[p].cost, p)
            if best is None or key < best:
                best, best_price = key, price
        return None if best is None else (best[2], best_price)

    def fund(self, p: str, price: Fraction) -> None:
        """Fund `p`: each supporter pays `price`, or all they have if less."""
        self.funded.append(p)
        self.prices[p] = price
        self.open_items.discard(p)
        self._move_groups(p, self._moves(self.wallets[p], price))

    def _moves(self, wallet: Counter[int], price: Fraction) -> dict[int, int | None]:
        """Old value id -> new value id (None: nothing left) for each budget the supporters hold: every
        supporter with the same budget ends with the same one, so a whole count moves at once. A value not
        seen before gets the next id; a budget the price leaves as it was (a free proposal) does not move."""
        values, floats, ids = self.values, self.floats, self.ids
        moved: dict[int, int | None] = {}
        for old in wallet:
            value = values[old]
            new_value = value - min(value, price)
            if new_value == 0:
                moved[old] = None
            elif new_value != value:
                if new_value not in ids:
                    ids[new_value] = len(values)
                    values.append(new_value)
                    floats.append(float(new_value))
                moved[old] = ids[new_value]
        return moved

    def _move_groups(self, p: str, moved: Mapping[int, int | None]) -> None:
        """Move `p`'s supporting groups to their new values, in the wallets of every open proposal they
        support too (whose estimates are then dropped); groups left with nothing leave the wallets."""
        state, sizes, ballots = self.state, self.sizes, self.ballots
        open_items, estimated, wallets = self.open_items, self.estimated, self.wallets
        for g in self.supporters[p]:
            old = state[g]
            if old not in moved:
                continue
            new = moved[old]
            state[g] = -1 if new is None else new
            size = sizes[g]
            for q in ballots[g]:
                if q in open_items:
                    estimated.pop(q, None)
                    wallet = wallets[q]
                    left = wallet[old] - size
                    if left:
                        wallet[old] = left
                    else:
                        del wallet[old]
                    if new is not None:
                        wallet[new] += size


def _float_price(wallet: Counter[int], floats: Sequence[float], cost: int) -> float | None:
    """`_equal_price` in floating point: only to narrow down which proposals to price exactly."""
    held = sorted((floats[v], count) for v, count in wallet.items())
    total = sum(value * count for value, count in held)
    if total < cost * (1 - 1e-9):
        return None
    remaining, payers = float(cost), sum(count for _, count in held)
    for value, count in held:
        if value * payers >= remaining:
            return remaining / payers
        remaining -= value * count
        payers -= count
    # Rounding at the exact boundary (everyone pays all they have): the price is the largest budget.
    return held[-1][0]


def _equal_price(wallet: Counter[int], values: Sequence[Fraction], cost: int) -> Fraction | None:
    """The equal share π each supporter pays (or all they have, if less) so that together they pay
    `cost`; None if all their money together is not enough. `wallet`: supporters per value id."""
    held = sorted((values[v], count) for v, count in wallet.items())
    if sum(value * count for value, count in held) < cost:
        return None
    remaining, payers = Fraction(cost), sum(count for _, count in held)
    for value, count in held:
        if value * payers >= remaining:
            return remaining / payers
        remaining -= value * count
        payers -= count
    return None  # unreachable: the total was enough


def _mes_selection(
    items: Sequence[Item], chosen: Sequence[str], prices: Mapping[str, Fraction], supported: Counter[str],
    unsatisfying: frozenset[str] = frozenset(),
) -> Selection:
    taken = set(chosen)
    rest = [i for i in ranked(items, supported) if i.id not in taken]
    reasons = {i.id: (NO_SUPPORT if supported.get(i.id, 0) == 0 else NO_SATISFACTION if i.id in unsatisfying
                      else UNAFFORDABLE) for i in rest}  # fmt: skip
    scores = {i.id: Fraction(supported.get(i.id, 0)) for i in items}
    return Selection((*chosen, *(i.id for i in rest)), tuple(chosen), reasons, scores)


def compare_with_greedy(
    proportional: Selection, items: Sequence[Item], ballots: Sequence[frozenset[str]], ceiling: int
) -> Selection:
    """The comparison step of Pabulib's `equalshares-comparison` and `equalshares/add1-comparison` (as
    Wieliczka and Wrocław ran Equal Shares): the Equal Shares outcome stands unless more voters prefer
    the greedy outcome (approval votes, skipping what does not fit, no threshold) than prefer it. A
    voter prefers the outcome that funds more of the proposals they approved; equal counts are no
    preference. A tie between the two camps keeps Equal Shares.

    Example: ceiling 2, three voters: two approve A, one approves B; A and B cost 1 each. Equal Shares
    (shares 2/3) funds A only (B's one supporter has 2/3 < 1). Greedy funds A and B. Voters 1 and 2 are
    equally happy with both; voter 3 prefers greedy: 1 against 0, so the result is greedy's [A, B].
    """
    by_id = {i.id: i for i in items}
    voters = Counter(frozenset(b & by_id.keys()) for b in ballots)
    votes: Counter[str] = Counter()
    for ballot, count in voters.items():  # voters with the same ballot are counted once, as a group
        for item in ballot:
            votes[item] += count
    utilitarian = greedy(items, votes, ceiling)
    ours, theirs = set(proportional.selected), set(utilitarian.selected)
    prefer_ours = prefer_theirs = 0
    for ballot, count in voters.items():
        mine, other = len(ballot & ours), len(ballot & theirs)
        if mine > other:
            prefer_ours += count
        elif other > mine:
            prefer_theirs += count
    return utilitarian if prefer_theirs > prefer_ours else proportional


def check_rule(name: str) -> None:
    if name not in RULES:
        raise ValueError(f"unknown decision rule {name!r}; known: {', '.join(RULES)}")


RULES = (
    "weighted-criteria",
    "greedy",
    "greedy-no-skip",
    "greedy-threshold",
    "greedy-exclusive",
    "equalshares/add1",
    "equalshares",
    "equalshares/add1-comparison",
    "equalshares-comparison",
)
BALLOT_KINDS = ("approval", "cumulative", "choose-1", "ordinal")
