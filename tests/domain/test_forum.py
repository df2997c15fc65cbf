"""The forum aggregate: given events / when command / then events."""

from __future__ import annotations

import datetime as dt
from functools import reduce

import pytest

from musrenbang.domain import forum as f
from musrenbang.domain.errors import DomainError, ValidationFailed
from musrenbang.domain.events import AgendaItem, BallotCast, ForumClosed, ScoresGiven

SCHEDULE = f.ScheduleForum(
    forum_id="F1", level="kelurahan", region="32.75.01.1001", year=2022, title="Musrenbang Kelurahan Bekasijaya",
    held_on=dt.date(2021, 1, 20), place="Aula kelurahan", chair="Lurah", ceiling=100, rule="greedy",
    ballot_kind="approval",
)  # fmt: skip
AGENDA = (AgendaItem(item_id="A", title="A", cost=60), AgendaItem(item_id="B", title="B", cost=50),
          AgendaItem(item_id="C", title="C", cost=40))  # fmt: skip


def run(*commands: object) -> f.Forum:
    state = f.Forum(delegates={})
    for c in commands:
        state = reduce(f.evolve, f.decide(state, c), state)
    return state


def opened(**schedule: object) -> f.Forum:
    import msgspec

    return run(
        msgspec.structs.replace(SCHEDULE, **schedule),
        f.RegisterDelegate(delegate_id="d1", name="Ani", gender="P"),
        f.RegisterDelegate(delegate_id="d2", name="Budi", gender="L"),
        f.OpenForum(agenda=AGENDA),
    )


def ballot(forum: f.Forum, delegate: str, *approvals: str) -> BallotCast:
    [event] = f.decide_ballot(forum, f.CastBallot(delegate_id=delegate, approvals=approvals))
    return event


def test_the_result_follows_the_frozen_rule_and_explains_what_was_left_out() -> None:
    forum = opened()
    ballots = (ballot(forum, "d1", "A", "B"), ballot(forum, "d2", "A", "B", "C"))
    [closed] = f.decide(forum, f.CloseForum(ballots=ballots, no_mandate_confirmed=True))
    assert isinstance(closed, ForumClosed) and closed.forward_to == "kecamatan"
    ranking = {r.item_id: r for r in closed.result.ranking}
    # A and B have two votes each: the cheaper B comes first; A no longer fits; C does.
    assert [r.item_id for r in closed.result.ranking] == ["B", "A", "C"]
    assert ranking["B"].selected and not ranking["A"].selected and ranking["C"].selected
    assert ranking["A"].reason == "over_ceiling"
    assert closed.result.spent == 90 and closed.result.ballots == 2


def test_a_second_ballot_of_a_delegate_replaces_the_first() -> None:
    forum = opened()
    ballots = (ballot(forum, "d1", "B"), ballot(forum, "d1", "C"))
    result = f.compute_result(forum, ballots, ())
    assert result.ballots == 1
    assert {r.item_id: r.score for r in result.ranking} == {"C": "1", "A": "0", "B": "0"}


def test_nothing_is_accepted_after_close() -> None:
    forum = opened()
    close = f.CloseForum(ballots=(ballot(forum, "d1", "A"),), no_mandate_confirmed=True)
    closed = reduce(f.evolve, f.decide(forum, close), forum)
    with pytest.raises(DomainError, match="sudah ditutup"):
        f.decide_ballot(closed, f.CastBallot(delegate_id="d1", approvals=("A",)))
    late = (f.RegisterDelegate(delegate_id="d3", name="C"), f.AdjustItem(item_id="A", reason="x", agreed_cost=1))
    for command in (*late, f.CloseForum(no_mandate_confirmed=True)):
        with pytest.raises(DomainError, match="sudah ditutup"):
            f.decide(closed, command)


def test_ballots_are_checked_against_the_agenda_and_the_rule() -> None:
    forum = opened(ballot_kind="cumulative", rule_params={"max_sum_points": 10, "max_length": 2})
    with pytest.raises(ValidationFailed):
        f.decide_ballot(forum, f.CastBallot(delegate_id="d1", points={"Z": 1}))
    with pytest.raises(ValidationFailed):
        f.decide_ballot(forum, f.CastBallot(delegate_id="d1", points={"A": 6, "B": 5}))
    with pytest.raises(ValidationFailed):
        f.decide_ballot(forum, f.CastBallot(delegate_id="d1", points={"A": 1, "B": 1, "C": 1}))
    with pytest.raises(DomainError, match="tidak terdaftar"):
        f.decide_ballot(forum, f.CastBallot(delegate_id="stranger", points={"A": 1}))
    assert f.decide_ballot(forum, f.CastBallot(delegate_id="d1", points={"A": 7, "B": 3}))


def test_nothing_is_cast_before_the_forum_opens() -> None:
    scheduled = run(SCHEDULE, f.RegisterDelegate(delegate_id="d1", name="Ani"))
    with pytest.raises(DomainError, match="belum dibuka"):
        f.decide_ballot(scheduled, f.CastBallot(delegate_id="d1", approvals=("A",)))


def test_adjusted_costs_count_and_the_original_stays() -> None:
    forum = opened()
    forum = reduce(f.evolve, f.decide(forum, f.AdjustItem(item_id="B", reason="harga satuan", agreed_cost=40)), forum)
    assert [a.cost for a in forum.agenda if a.item_id == "B"] == [50]
    result = f.compute_result(forum, (ballot(forum, "d1", "A", "B"), ballot(forum, "d2", "A", "B")), ())
    assert {r.item_id for r in result.ranking if r.selected} == {"A", "B"} and result.spent == 100


def test_weighted_criteria_forum_ranks_by_average_weighted_marks() -> None:
    forum = opened(rule="weighted-criteria", ballot_kind=None)
    keys = [c.key for c in f.DEFAULT_CRITERIA]
    high, low = dict.fromkeys(keys, 5), dict.fromkeys(keys, 2)
    sheets = [ScoresGiven(forum_id="F1", sheet="d1", marks={"A": low, "B": high, "C": high}),
              ScoresGiven(forum_id="F1", sheet="d2", marks={"A": low, "B": high, "C": low})]  # fmt: skip
    result = f.compute_result(forum, (), sheets)
    assert [r.item_id for r in result.ranking] == ["B", "C", "A"]
    assert [r.item_id for r in result.ranking if r.selected] == ["B", "C"]
    with pytest.raises(ValidationFailed):
        f.decide_scores(forum, f.GiveScores(sheet="d1", marks={"A": {"manfaat": 6}}))


@pytest.mark.parametrize(
    "bad",
    [{"level": "provinsi"}, {"ceiling": 0}, {"rule": "dictator"}, {"ballot_kind": "scoring"},
     {"rule": "greedy-threshold"}, {"rule": "equalshares/add1", "ballot_kind": "cumulative"}],
)  # fmt: skip
def test_a_forum_cannot_be_scheduled_with_an_unknown_rule_or_nonsense(bad: dict) -> None:
    import msgspec

    with pytest.raises(ValidationFailed):
        f.decide(f.Forum(delegates={}), msgspec.structs.replace(SCHEDULE, **bad))


def test_mandated_delegates_must_be_registered_and_few() -> None:
    forum = opened()
    [event] = f.decide(forum, f.MandateDelegates(delegate_ids=("d1",)))
    assert reduce(f.evolve, [event], forum).mandated == ("d1",)
    with pytest.raises(DomainError):
        f.decide(forum, f.MandateDelegates(delegate_ids=("stranger",)))
    with pytest.raises(ValidationFailed):
        f.decide(forum, f.MandateDelegates(delegate_ids=()))


def test_a_delegate_id_differing_only_in_case_is_refused_by_the_rules_not_one_endpoint() -> None:
    """ "D1" beside "d1" is one person typed twice (counted twice in the attendance), whichever way the list
    was entered: the JSON API alone refused it before. An imported election keeps its file's ids as given."""
    with pytest.raises(ValidationFailed) as refused:
        f.decide(opened(), f.RegisterDelegate(delegate_id="D1", name="Ani"))
    assert set(refused.value.errors) == {"delegate_id"}
    imported = opened(origin="pabulib", region="Śródmieście")
    [event] = f.decide(imported, f.RegisterDelegate(delegate_id="D1", name="Ani"))
    assert set(reduce(f.evolve, [event], imported).delegates) == {"d1", "d2", "D1"}
