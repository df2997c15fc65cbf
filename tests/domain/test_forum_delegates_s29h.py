"""Session 29h: a delegate registered by mistake could never be corrected or removed (a misspelt name, a wrong
gender stood in the Berita Acara's attendance and gender counts for good), and a kelurahan or kecamatan
Musrenbang closed without any delegate mandated, silently. The rules: correct (`forum.delegate_corrected`) and
withdraw (`forum.delegate_withdrawn`) with a reason while the forum is not closed, never withdraw one who
voted or scored; a close that mandates nobody is confirmed or refused."""

from __future__ import annotations

from functools import reduce

import msgspec
import pytest

from musrenbang.domain import forum as f
from musrenbang.domain.errors import DomainError, NotFound, ValidationFailed
from musrenbang.domain.events import AgendaItem, DelegateCorrected, DelegateWithdrawn, Event
from tests.domain.test_forum import SCHEDULE

BUDI = f.RegisterDelegate(delegate_id="p1", name="Budi Santosa", role="Ketua RW", represents="RW 03", gender="P")
SITI = f.RegisterDelegate(delegate_id="p2", name="Siti Aminah", represents="RW 05", gender="P")
AGENDA = (AgendaItem(item_id="A", title="Jalan", cost=10), AgendaItem(item_id="B", title="Drainase", cost=20))


def run(*commands: f.Command, forum: f.Forum | None = None) -> f.Forum:
    state = forum or f.Forum(delegates={})
    for command in commands:
        state = reduce(f.evolve, f.decide(state, command), state)
    return state


def registered(**schedule: object) -> f.Forum:
    return run(msgspec.structs.replace(SCHEDULE, **schedule), BUDI, SITI)


def fix(**changes: object) -> f.CorrectDelegate:
    base = {"delegate_id": "p1", "name": "Budi Santoso", "represents": "RW 03", "gender": "L",
            "reason": "salah ketik nama dan jenis kelamin"}  # fmt: skip
    return f.CorrectDelegate(**(base | changes))  # type: ignore[arg-type]


def test_a_correction_changes_name_gender_and_group_in_place_and_keeps_the_role() -> None:
    forum = registered()
    [event] = f.decide(forum, fix(represents="RW 04"))
    assert event == DelegateCorrected(forum_id="F1", delegate_id="p1", name="Budi Santoso", role="Ketua RW",
                                      represents="RW 04", gender="L", reason="salah ketik nama dan jenis kelamin")
    after = f.evolve(forum, event)
    assert list(after.delegates) == ["p1", "p2"]  # its place on the list kept
    assert (after.delegates["p1"].name, after.delegates["p1"].gender) == ("Budi Santoso", "L")
    assert after.people[f.person_key("Budi Santoso", "RW 04")] == "p1"
    assert f.person_key("Budi Santosa", "RW 03") not in after.people  # the old spelling names nobody now
    assert forum.delegates["p1"].name == "Budi Santosa"  # the state it was decided on is unchanged


def test_a_correction_needs_a_reason_a_change_and_clean_bounded_text() -> None:
    forum = registered()
    with pytest.raises(ValidationFailed) as refused:
        f.decide(forum, fix(reason="  "))
    assert set(refused.value.errors) == {"reason"}
    with pytest.raises(ValidationFailed) as refused:
        f.decide(forum, fix(name="Budi Santosa", gender="P"))
    assert "tidak ada yang diubah" in refused.value.errors["name"]
    with pytest.raises(ValidationFailed) as refused:
        f.decide(forum, fix(name="x" * 201, gender="X", reason="r" * 1001))
    assert set(refused.value.errors) == {"name", "gender", "reason"}
    with pytest.raises(NotFound):
        f.decide(forum, fix(delegate_id="p9"))


def test_a_correction_into_another_delegate_s_name_and_group_is_asked_about_naming_them() -> None:
    forum = registered()
    with pytest.raises(ValidationFailed) as refused:
        f.decide(forum, fix(name="siti  aminah", represents="rw 05", gender="P"))
    said = refused.value.errors["same_name_confirmed"]
    assert "Siti Aminah yang mewakili RW 05 sudah terdaftar sebagai peserta nomor 2" in said and "p2" not in said
    assert f.decide(forum, fix(name="Siti Aminah", represents="RW 05", gender="P", same_name_confirmed=True))


def test_a_withdrawn_delegate_is_off_every_list_cannot_vote_and_keeps_the_id_taken() -> None:
    forum = registered()
    [event] = f.decide(forum, f.WithdrawDelegate(delegate_id="p1", reason="terdaftar dua kali"))
    assert event == DelegateWithdrawn(forum_id="F1", delegate_id="p1", reason="terdaftar dua kali")
    forum = run(f.OpenForum(agenda=AGENDA), forum=f.evolve(forum, event))
    assert list(forum.delegates) == ["p2"] and "p1" in forum.withdrawn
    assert f.turnout(forum, (), ()).registered == 1
    with pytest.raises(DomainError, match="tidak terdaftar"):
        f.decide_ballot(forum, f.CastBallot(delegate_id="p1", approvals=("A",)))
    with pytest.raises(ValidationFailed) as not_there:
        f.decide(forum, f.MandateDelegates(delegate_ids=("p1",)))
    assert "tidak terdaftar" in not_there.value.errors["delegate_ids"]
    with pytest.raises(ValidationFailed) as refused:  # the id stays taken: a ballot stream may bear it
        f.decide(forum, msgspec.structs.replace(BUDI, same_name_confirmed=True))
    assert "sudah dipakai peserta yang ditarik" in refused.value.errors["delegate_id"]
    # The same person registered again under a new id is no longer "already registered".
    assert f.decide(forum, msgspec.structs.replace(BUDI, delegate_id="p3"))
    with pytest.raises(DomainError, match="sudah ditarik"):
        f.decide(forum, f.WithdrawDelegate(delegate_id="p1", reason="lagi"))


def test_one_who_voted_or_is_mandated_is_not_withdrawn_and_a_reason_is_needed() -> None:
    forum = run(f.OpenForum(agenda=AGENDA), forum=registered())
    with pytest.raises(DomainError) as refused:
        f.decide(forum, f.WithdrawDelegate(delegate_id="p1", reason="keliru", cast=True))
    assert "Budi Santosa sudah memberikan suara atau nilai" in refused.value.message
    assert "perbaiki datanya" in refused.value.message
    with pytest.raises(ValidationFailed) as missing:
        f.decide(forum, f.WithdrawDelegate(delegate_id="p1", reason=""))
    assert set(missing.value.errors) == {"reason"}
    mandated = run(f.MandateDelegates(delegate_ids=("p1",)), forum=forum)
    with pytest.raises(DomainError, match="diutus ke tingkat berikutnya"):
        f.decide(mandated, f.WithdrawDelegate(delegate_id="p1", reason="keliru"))


def test_nothing_is_corrected_or_withdrawn_once_closed() -> None:
    forum = run(f.OpenForum(agenda=()), f.CloseForum(no_mandate_confirmed=True), forum=registered())
    for command in (fix(), f.WithdrawDelegate(delegate_id="p2", reason="keliru")):
        with pytest.raises(DomainError, match="sudah ditutup"):
            f.decide(forum, command)


def test_a_log_without_these_events_folds_as_before() -> None:
    events: list[Event] = [*f.decide(f.Forum(delegates={}), SCHEDULE)]
    state = reduce(f.evolve, events, f.Forum(delegates={}))
    for command in (BUDI, SITI):
        [e] = f.decide(state, command)
        state = f.evolve(state, e)
    assert state.withdrawn == {} and [d.name for d in state.delegates.values()] == ["Budi Santosa", "Siti Aminah"]


@pytest.mark.parametrize("level", ["kelurahan", "kecamatan"])
def test_a_forwarding_musrenbang_closing_with_nobody_mandated_is_refused_unless_confirmed(level: str) -> None:
    forum = run(f.OpenForum(agenda=()), forum=registered(level=level))
    with pytest.raises(DomainError) as refused:
        f.decide(forum, f.CloseForum())
    assert refused.value.message.startswith("Musyawarah belum dapat ditutup: belum ada delegasi yang diutus ke")
    assert f.decide(forum, f.CloseForum(no_mandate_confirmed=True))
    assert f.decide(run(f.MandateDelegates(delegate_ids=("p2",)), forum=forum), f.CloseForum())


def test_an_imported_election_closes_without_a_mandate() -> None:
    forum = run(msgspec.structs.replace(SCHEDULE, level="kota", origin="pabulib", region="Warszawa", held_on=None),
                f.OpenForum(agenda=()))  # fmt: skip
    assert not f.must_mandate(forum)
    assert f.decide(forum, f.CloseForum())
