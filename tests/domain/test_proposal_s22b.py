"""A proposal returned for a missing photo is corrected by the photo: a revision with its content unchanged
is accepted once a photo was attached since the return, and still refused when nothing changed at all."""

from __future__ import annotations

from functools import reduce

import msgspec
import pytest

from musrenbang.domain import proposal as rules
from musrenbang.domain.errors import DomainError
from musrenbang.domain.events import ProposalPhotoAttached, ProposalReturned, ProposalRevised
from tests.domain.test_proposal import SUBMITTED, photo, validate

RETURNED = ProposalReturned(code="AAAA0000", reason="Lampirkan foto lokasi")
UNCHANGED = rules.ReviseProposal(code="AAAA0000", content=validate())


def given(*events: object) -> rules.Proposal:
    return reduce(rules.evolve, events, rules.Proposal())


def attached(n: int) -> ProposalPhotoAttached:
    return ProposalPhotoAttached(**msgspec.structs.asdict(photo(n)))


def test_a_photo_attached_since_the_return_is_the_revision() -> None:
    state = given(SUBMITTED, RETURNED, attached(1))
    [event] = rules.decide(state, UNCHANGED)
    assert event == ProposalRevised(code="AAAA0000", content=validate())
    revised = rules.evolve(state, event)
    assert (revised.status, revised.revision, revised.photos) == (rules.DIAJUKAN, 1, ("p1",))


def test_nothing_changed_is_still_refused_without_a_new_photo() -> None:
    with pytest.raises(DomainError, match="tidak ada yang berubah"):
        rules.decide(given(SUBMITTED, RETURNED), UNCHANGED)


def test_a_photo_attached_before_the_return_is_no_change() -> None:
    with pytest.raises(DomainError, match="tidak ada yang berubah"):
        rules.decide(given(SUBMITTED, attached(1), RETURNED), UNCHANGED)


def test_only_photos_since_the_latest_return_count() -> None:
    first = given(SUBMITTED, RETURNED, attached(1))
    again = given(SUBMITTED, RETURNED, attached(1), *rules.decide(first, UNCHANGED), RETURNED)
    with pytest.raises(DomainError, match="tidak ada yang berubah"):
        rules.decide(again, UNCHANGED)
    [event] = rules.decide(rules.evolve(again, attached(2)), UNCHANGED)
    assert isinstance(event, ProposalRevised)


def test_a_changed_content_needs_no_photo_as_before() -> None:
    changed = rules.ReviseProposal(code="AAAA0000", content=validate(title="Saluran RW 05"))
    [event] = rules.decide(given(SUBMITTED, RETURNED), changed)
    assert isinstance(event, ProposalRevised)


def test_old_logs_fold_as_before() -> None:
    """The count is state, not event: the same events give the same proposal in every field they did."""
    state = given(SUBMITTED, attached(1), RETURNED, attached(2))
    assert state == rules.Proposal(code="AAAA0000", year=2022, status=rules.DIKEMBALIKAN, content=validate(),
                                   photos=("p1", "p2"), beneficiaries=300, decision=RETURNED,
                                   photos_when_returned=1)  # fmt: skip
