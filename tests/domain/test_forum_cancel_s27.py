"""Calling a forum off (session 27): a forum scheduled or opened and then never held stayed "dijadwalkan" or
"sedang berlangsung" for ever once its year moved on. The rules, without a database."""

from __future__ import annotations

import pytest

from musrenbang.domain import forum as f
from musrenbang.domain.errors import DomainError, ValidationFailed
from musrenbang.domain.events import AgendaItem, ForumCancelled
from tests.domain.test_forum import SCHEDULE, ballot, opened, run

CANCELLED = "musyawarah ini sudah dibatalkan"


def test_a_scheduled_forum_is_cancelled_with_its_reason_cleaned() -> None:
    [event] = f.decide(run(SCHEDULE), f.CancelForum(reason="  Tidak jadi diadakan\r\nkarena banjir  "))
    assert event == ForumCancelled(forum_id="F1", reason="Tidak jadi diadakan\nkarena banjir")
    forum = f.evolve(run(SCHEDULE), event)
    assert (forum.status, forum.cancel_reason) == (f.CANCELLED, "Tidak jadi diadakan\nkarena banjir")
    assert f.STATUS_LABELS[f.CANCELLED] == "dibatalkan"


@pytest.mark.parametrize(("reason", "said"), [
    ("", "tulis mengapa musyawarah ini dibatalkan"), ("   \n ", "tulis mengapa musyawarah ini dibatalkan"),
    ("x" * 1001, None), ("a\x00b", None),
])  # fmt: skip
def test_the_reason_is_required_and_bounded(reason: str, said: str | None) -> None:
    with pytest.raises(ValidationFailed) as caught:
        f.decide(opened(), f.CancelForum(reason=reason))
    assert list(caught.value.errors) == ["reason"]
    if said:
        assert caught.value.errors["reason"] == said


def test_after_the_cancellation_every_command_is_refused_and_the_ballots_count_for_nothing() -> None:
    forum = opened()
    cast = ballot(forum, "d1", "A")
    forum = run(SCHEDULE, f.RegisterDelegate(delegate_id="d1", name="Ani"), f.OpenForum(agenda=forum.agenda),
                f.CancelForum(reason="ketua berhalangan"))  # fmt: skip
    assert forum.status == f.CANCELLED and forum.result is None
    for command in (f.RegisterDelegate(delegate_id="d9", name="Baru"), f.OpenForum(agenda=forum.agenda),
                    f.AdjustItem(item_id="A", reason="harga", agreed_cost=10),
                    f.MandateDelegates(delegate_ids=("d1",)), f.CloseForum(ballots=(cast,)),
                    f.CancelForum(reason="sekali lagi")):  # fmt: skip
        with pytest.raises(DomainError, match=CANCELLED):
            f.decide(forum, command)
    with pytest.raises(DomainError, match=CANCELLED):
        f.decide_ballot(forum, f.CastBallot(delegate_id="d1", approvals=("A",)))
    criteria = run(f.ScheduleForum(**{**_fields(), "rule": "weighted-criteria", "ballot_kind": None}),
                   f.OpenForum(agenda=(AgendaItem(item_id="A", title="A", cost=1),)), f.CancelForum(reason="batal"))
    with pytest.raises(DomainError, match=CANCELLED):
        f.decide_scores(criteria, f.GiveScores(sheet="konsensus", marks={"A": {c.key: 3 for c in f.DEFAULT_CRITERIA}}))
    with pytest.raises(DomainError, match=CANCELLED):
        f.not_cancelled(forum)


def test_a_closed_forum_is_not_cancelled() -> None:
    # nothing to vote on: closes as it is
    closed = run(SCHEDULE, f.OpenForum(agenda=()), f.CloseForum(no_mandate_confirmed=True))
    with pytest.raises(DomainError, match="sudah ditutup"):
        f.decide(closed, f.CancelForum(reason="salah tutup"))


def _fields() -> dict[str, object]:
    import msgspec

    return msgspec.structs.asdict(SCHEDULE)
