"""A proposal that passed verification is merged only into one that passed it too: merged into one still
waiting, the target could then be rejected or returned, and the accepted need living on in it ended with
nobody having decided against it (its proposer was told it "failed verification")."""

from __future__ import annotations

import pytest

from musrenbang.domain import proposal as rules
from musrenbang.domain.errors import DomainError
from musrenbang.domain.events import ProposalAccepted, ProposalReturned, ProposalSubmitted
from tests.domain.test_proposal import given, validate

TARGET, DUPLICATE = "AAAA0000", "BBBB0000"


def _submitted(code: str) -> ProposalSubmitted:
    return ProposalSubmitted(code=code, year=2022, source="warga", content=validate(), proposer_ref=code)


def _merge(into: str = TARGET, *codes: str) -> rules.MergeProposals:
    return rules.MergeProposals(into=into, codes=codes or (DUPLICATE,), reason="jalan yang sama")


ACCEPTED = ProposalAccepted(code=DUPLICATE)
WITH_CHANGES = ProposalAccepted(code=DUPLICATE, agreed_cost=20_000_000, reason="harga satuan")


@pytest.mark.parametrize("decision", [ACCEPTED, WITH_CHANGES], ids=["accepted", "accepted_with_changes"])
def test_an_accepted_proposal_is_not_merged_into_one_still_waiting_for_verification(
    decision: ProposalAccepted,
) -> None:
    waiting = given(_submitted(TARGET))
    accepted = given(_submitted(DUPLICATE), decision)
    with pytest.raises(DomainError) as refused:
        rules.decide_merge(waiting, {DUPLICATE: accepted}, _merge())
    assert refused.value.message == (f"usulan {DUPLICATE} sudah lolos verifikasi, tetapi usulan tujuan {TARGET}"
                                     " belum: verifikasi dulu usulan tujuan, lalu gabungkan")  # fmt: skip
    assert type(refused.value) is DomainError  # a conflict with the state (409), not a form mistake
    # Once the target passed verification too, it takes the accepted duplicate in.
    for verified in (ProposalAccepted(code=TARGET), ProposalAccepted(code=TARGET, agreed_cost=1_000_000, reason="x")):
        merged = rules.decide_merge(given(_submitted(TARGET), verified), {DUPLICATE: accepted}, _merge())
        assert [type(e).__name__ for e in merged[DUPLICATE]] == ["ProposalMerged"]
    # A duplicate still waiting, or returned, is merged into a target waiting or accepted, as before.
    for target in (given(_submitted(TARGET), ProposalAccepted(code=TARGET)), waiting):
        for source in (
            given(_submitted(DUPLICATE)),
            given(_submitted(DUPLICATE), ProposalReturned(code=DUPLICATE, reason="lengkapi")),
        ):
            merged = rules.decide_merge(target, {DUPLICATE: source}, _merge())
            assert [type(e).__name__ for e in merged[TARGET]] == ["ProposalsMergedIn"]


def test_one_accepted_among_several_refuses_the_whole_merge() -> None:
    third = "CCCC0000"
    sources = {DUPLICATE: given(_submitted(DUPLICATE), ACCEPTED), third: given(_submitted(third))}
    with pytest.raises(DomainError, match=f"usulan {DUPLICATE} sudah lolos verifikasi"):
        rules.decide_merge(given(_submitted(TARGET)), sources, _merge(TARGET, third, DUPLICATE))
