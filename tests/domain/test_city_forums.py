"""The Forum Perangkat Daerah and Musrenbang Kota as forums: schedule, close with a Berita Acara, adopt."""

from __future__ import annotations

import datetime as dt

import pytest

from musrenbang.domain import city_forums as cf
from musrenbang.domain import rkpd as r
from musrenbang.domain.errors import DomainError, ValidationFailed
from musrenbang.domain.events import RkpdAdopted, RkpdForumClosed, RkpdForumScheduled
from tests.domain.test_rkpd import item, line, received, run, set_line

DAY = dt.date(2021, 3, 10)
PEOPLE = (cf.ParticipantInput(name="Kepala DBMSDA", kind="agency", represents="DBMSDA"),
          cf.ParticipantInput(name="H. Ahmad", kind="dprd", represents="Dapil 1"),
          cf.ParticipantInput(name="Ibu Sari", kind="kecamatan", represents="32.75.01"))  # fmt: skip


def schedule(forum: str = cf.FORUM_PD, **changes: object) -> cf.ScheduleCityForum:
    fields: dict[str, object] = dict(year=2022, forum=forum, held_on=DAY, place=" Aula  Bappeda ", chair="Sekda",
                                     participants=PEOPLE, agenda=("Pembukaan", "Pembahasan"))  # fmt: skip
    fields.update(changes)
    return cf.ScheduleCityForum(**fields)  # type: ignore[arg-type]


def close(forum: str = cf.FORUM_PD, today: dt.date = DAY) -> cf.CloseCityForum:
    return cf.CloseCityForum(year=2022, forum=forum, minutes="Disepakati bersama.", today=today)


def decided() -> r.Rkpd:
    """A in line DBMSDA-001, B declined: nothing pending."""
    state, _ = set_line(received(item("A"), item("B")), line("A"))
    state, _ = run(state, r.DeclineProposal(code="B", reason="sudah dianggarkan"))
    return state


def test_a_schedule_is_bounded_and_a_later_one_replaces_it() -> None:
    state, [event] = run(decided(), schedule())
    assert isinstance(event, RkpdForumScheduled) and event.place == "Aula Bappeda"
    state, _ = run(state, schedule(place="Gedung Juang"))
    assert state.forums[cf.FORUM_PD].place == "Gedung Juang"
    for wrong, field in (({"place": "x\x00"}, "place"), ({"chair": ""}, "chair"),
                         ({"participants": ()}, "participants"),
                         ({"participants": (cf.ParticipantInput(name="A", kind="raja"),)}, "participants"),
                         ({"participants": (cf.ParticipantInput(name="A", kind="agency", represents="NOPE"),)},
                          "participants"), ({"agenda": ()}, "agenda"), ({"forum": "pesta"}, "forum")):  # fmt: skip
        with pytest.raises(ValidationFailed) as caught:
            run(state, schedule(**wrong))
        assert field in caught.value.errors, wrong


def test_forum_pd_closes_only_when_held_and_nothing_is_pending() -> None:
    pending, _ = run(received(item("A")), schedule())
    with pytest.raises(DomainError, match="belum diputuskan"):
        run(pending, close())
    state, _ = run(decided(), schedule())
    with pytest.raises(DomainError, match="belum dapat ditutup"):
        run(state, close(today=DAY - dt.timedelta(days=1)))
    state, [event] = run(state, close())
    assert isinstance(event, RkpdForumClosed)
    assert [x.line_id for x in event.agreed] == ["DBMSDA-001"] and event.total_pagu == 1_000
    assert [(x.code, x.agency, x.reason) for x in event.not_agreed] == [("B", "DBMSDA", "sudah dianggarkan")]
    with pytest.raises(DomainError, match="sudah ditutup"):
        run(state, schedule())


def test_musrenbang_kota_follows_forum_pd_and_its_close_adopts() -> None:
    state, _ = run(decided(), schedule(cf.MUSRENBANG_KOTA, held_on=DAY + dt.timedelta(days=20)))
    with pytest.raises(ValidationFailed):
        run(state, schedule(held_on=DAY + dt.timedelta(days=30)))  # Forum PD after Musrenbang Kota
    with pytest.raises(DomainError, match="tutup dulu Forum Perangkat Daerah"):
        run(state, close(cf.MUSRENBANG_KOTA, today=DAY + dt.timedelta(days=20)))
    state, _ = run(state, schedule())
    state, _ = run(state, close())
    state, events = run(state, close(cf.MUSRENBANG_KOTA, today=DAY + dt.timedelta(days=20)))
    assert [type(e) for e in events] == [RkpdForumClosed, RkpdAdopted]
    assert events[1].lines == events[0].agreed and state.revision == 1  # type: ignore[attr-defined]


def test_closing_musrenbang_kota_after_an_adoption_without_changes_adopts_nothing_more() -> None:
    state, _ = run(decided(), r.Adopt(year=2022))
    for command in (schedule(), close(), schedule(cf.MUSRENBANG_KOTA)):
        state, _ = run(state, command)
    state, events = run(state, close(cf.MUSRENBANG_KOTA))
    assert [type(e) for e in events] == [RkpdForumClosed] and state.revision == 1


def test_a_forum_needs_the_kecamatan_results_first() -> None:
    with pytest.raises(DomainError, match="terima dulu"):
        r.decide(r.Rkpd(), schedule(), agencies={})
