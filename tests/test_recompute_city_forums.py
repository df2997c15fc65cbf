"""`verify --file` recomputes a city forum's Berita Acara: what the close froze must be the year's state then."""

from __future__ import annotations

import msgspec

from musrenbang.domain import rkpd as r
from musrenbang.domain.events import Event, NotAgreedProposal, RkpdForumClosed, RkpdProposalsReceived
from musrenbang.recompute import Recomputer, Where
from tests.domain.test_city_forums import close, schedule
from tests.domain.test_rkpd import AGENCIES, item, line


def _events() -> list[Event]:
    """A and B received (forum "KEC" is not in the log: the recomputer reports that apart), A in a line,
    B declined, the Forum PD scheduled and closed."""
    commands: list[r.Command] = [
        r.ReceiveProposals(year=2022, items=(item("A"), item("B"))),
        r.SetLine(line=line("A"), priority_programs=6),
        r.DeclineProposal(code="B", reason="sudah dianggarkan"),
        schedule(), close(),
    ]  # fmt: skip
    state, events = r.Rkpd(), []
    for command in commands:
        for e in r.decide(state, command, agencies=AGENCIES):
            state = r.evolve(state, e)
            events.append(e)
    return events


def _differences(events: list[Event]) -> list[str]:
    recomputer = Recomputer()
    for n, e in enumerate(events, start=1):
        recomputer.feed(Where(n, "rkpd-2022", n), e)
    return [d for d in recomputer.differences if "berita acara" in d]


def test_an_honest_berita_acara_recomputes() -> None:
    events = _events()
    assert isinstance(events[0], RkpdProposalsReceived) and isinstance(events[-1], RkpdForumClosed)
    assert _differences(events) == []


def test_a_berita_acara_that_drops_a_line_or_changes_a_reason_does_not() -> None:
    events = _events()
    closed = events[-1]
    assert isinstance(closed, RkpdForumClosed)
    dropped = msgspec.structs.replace(closed, agreed=())
    assert any("in the berita acara" in d or "from the line events" in d for d in _differences([*events[:-1], dropped]))
    other = NotAgreedProposal(code="B", title="Usulan B", kelurahan="32.75.01.1001", agency="DBMSDA", reason="lain")
    reworded = msgspec.structs.replace(closed, not_agreed=(other,))
    assert any("other agency or reason ['B']" in d for d in _differences([*events[:-1], reworded]))
