"""One person registered twice under two ids would vote twice: the rules refuse a second delegate of the same
name for the same group unless the desk says it is another person (session 28; the second-year review found
one delegate registered under two ids, both voting)."""

from __future__ import annotations

from functools import reduce

import msgspec
import pytest

from musrenbang.domain import forum as f
from musrenbang.domain.errors import ValidationFailed
from musrenbang.domain.events import DelegateRegistered
from tests.domain.test_forum import SCHEDULE


def scheduled(**schedule: object) -> f.Forum:
    state = f.Forum(delegates={})
    return reduce(f.evolve, f.decide(state, msgspec.structs.replace(SCHEDULE, **schedule)), state)


def register(forum: f.Forum, command: f.RegisterDelegate) -> f.Forum:
    return reduce(f.evolve, f.decide(forum, command), forum)


SITI = f.RegisterDelegate(delegate_id="p1", name="Siti Aminah", role="Ketua RT", represents="RW 05", gender="P")


@pytest.mark.parametrize(("name", "represents"), [("Siti Aminah", "RW 05"), ("  siti   AMINAH ", "rw  05")])
def test_the_same_name_for_the_same_group_under_another_id_is_refused(name: str, represents: str) -> None:
    forum = register(scheduled(), SITI)
    with pytest.raises(ValidationFailed) as refused:
        f.decide(forum, f.RegisterDelegate(delegate_id="p2", name=name, represents=represents))
    assert set(refused.value.errors) == {"same_name_confirmed"}
    # Named as the desk knows them (name, group, number on the list), not by the internal id "p1" (s29h).
    said = refused.value.errors["same_name_confirmed"]
    assert "Siti Aminah yang mewakili RW 05 sudah terdaftar sebagai peserta nomor 1" in said and "p1" not in said


def test_another_person_of_that_name_is_registered_once_confirmed_and_the_event_does_not_keep_the_confirmation(
) -> None:  # fmt: skip
    forum = register(scheduled(), SITI)
    [event] = f.decide(forum, msgspec.structs.replace(SITI, delegate_id="p2", same_name_confirmed=True))
    assert isinstance(event, DelegateRegistered) and event.delegate_id == "p2"
    assert "same_name_confirmed" not in msgspec.json.decode(msgspec.json.encode(event))
    assert set(register(forum, msgspec.structs.replace(SITI, delegate_id="p2", same_name_confirmed=True)
                        ).delegates) == {"p1", "p2"}  # fmt: skip


def test_the_same_name_for_another_group_or_another_name_for_the_same_group_is_no_question() -> None:
    forum = register(scheduled(), SITI)
    forum = register(forum, msgspec.structs.replace(SITI, delegate_id="p2", represents="RW 06"))
    forum = register(forum, msgspec.structs.replace(SITI, delegate_id="p3", name="Siti Aminah Lubis"))
    assert set(forum.delegates) == {"p1", "p2", "p3"}


def test_a_name_without_a_group_is_compared_with_those_without_one() -> None:
    forum = register(scheduled(), f.RegisterDelegate(delegate_id="p1", name="Budi"))
    with pytest.raises(ValidationFailed) as refused:
        f.decide(forum, f.RegisterDelegate(delegate_id="p2", name="budi"))
    assert "Budi sudah terdaftar sebagai peserta nomor 1" in refused.value.errors["same_name_confirmed"]
    assert set(register(forum, f.RegisterDelegate(delegate_id="p3", name="Budi", represents="LPM")).delegates) == {
        "p1", "p3"}  # fmt: skip


def test_an_imported_election_keeps_its_voters_as_the_file_gives_them() -> None:
    """A Pabulib file's voters are told apart by their ids; names there are the ids or absent."""
    forum = register(scheduled(origin="pabulib", region="Śródmieście"), SITI)
    forum = register(forum, msgspec.structs.replace(SITI, delegate_id="p2"))
    assert set(forum.delegates) == {"p1", "p2"}
