"""A forum is opened and closed on its day (`held_on`) or later: the rules judge the day they are given
(review, session 28: a Musrenbang Desa of 10 January 2027 was opened, voted and closed on 5 December 2026)."""

from __future__ import annotations

import datetime as dt

import msgspec
import pytest

from musrenbang.domain import forum as f
from musrenbang.domain.errors import DomainError
from musrenbang.domain.events import ForumClosed, ForumOpened
from tests.domain.test_forum import AGENDA, SCHEDULE, ballot, run

HELD_ON = dt.date(2027, 1, 10)


def scheduled() -> f.Forum:
    return run(msgspec.structs.replace(SCHEDULE, held_on=HELD_ON),
               f.RegisterDelegate(delegate_id="d1", name="Ani"))  # fmt: skip


def test_a_forum_is_not_opened_before_its_day_and_opens_on_it() -> None:
    forum = scheduled()
    with pytest.raises(DomainError, match="dijadwalkan 10 Januari 2027: belum dapat dibuka sebelum hari itu"):
        f.decide(forum, f.OpenForum(agenda=AGENDA, on=dt.date(2026, 12, 5)))
    for day in (HELD_ON, HELD_ON + dt.timedelta(days=1)):
        [opened] = f.decide(forum, f.OpenForum(agenda=AGENDA, on=day))
        assert isinstance(opened, ForumOpened)


def test_a_forum_is_not_closed_before_its_day() -> None:
    """One opened on its day (a history replayed: the demo's) and closed on a day before it is refused; on
    its day it closes."""
    forum = scheduled()
    forum = f.evolve(forum, f.decide(forum, f.OpenForum(agenda=AGENDA, on=HELD_ON))[0])
    ballots = (ballot(forum, "d1", "A"),)
    with pytest.raises(DomainError, match="dijadwalkan 10 Januari 2027: belum dapat ditutup sebelum hari itu"):
        f.decide(forum, f.CloseForum(ballots=ballots, on=HELD_ON - dt.timedelta(days=1), no_mandate_confirmed=True))
    [closed] = f.decide(forum, f.CloseForum(ballots=ballots, on=HELD_ON, no_mandate_confirmed=True))
    assert isinstance(closed, ForumClosed)


def test_an_imported_election_without_a_day_opens_and_closes_on_any() -> None:
    forum = run(msgspec.structs.replace(SCHEDULE, held_on=None, origin="pabulib", region="Warszawa"),
                f.RegisterDelegate(delegate_id="d1", name="Ani"),
                f.OpenForum(agenda=AGENDA, on=dt.date(2000, 1, 1)))  # fmt: skip
    assert forum.status == f.OPEN
    [closed] = f.decide(forum, f.CloseForum(ballots=(ballot(forum, "d1", "A"),), on=dt.date(2000, 1, 1),
                                                 no_mandate_confirmed=True))
    assert isinstance(closed, ForumClosed)
