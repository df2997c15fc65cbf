"""`proposals.tracked` (session 25): a merged duplicate's tracking page reads on along the proposal it was
merged into, and on again when that one was merged in turn, each step once."""

from __future__ import annotations

import asyncpg

from musrenbang.domain import proposal as rules
from musrenbang.eventlog.store import EventStore
from musrenbang.projections import all_projections
from musrenbang.projections import proposals as proposal_views
from musrenbang.projections.runner import ProjectionRunner
from musrenbang.services.proposals import ProposalService
from tests import history
from tests.cycles import open_test_cycle


async def test_a_chain_of_merges_is_read_hop_by_hop(store: EventStore, pool: asyncpg.Pool) -> None:
    """c merged into b, then b into a, then a accepted: c's page shows its merge, then b's path after it
    (b's own merge into a), then a's (its acceptance); the notes that c and b were merged in, which the
    merge steps say already, are left out. a, merged into nothing, has no path of another."""
    await open_test_cycle(store)
    runner = ProjectionRunner(pool, all_projections())
    await runner.catch_up_all()
    proposals = ProposalService(pool, store, b"s" * 32, runner)
    a, b, c = [await history._submit(proposals, n, history.KELURAHAN_A, n) for n in (1, 2, 3)]  # n 0: a photo
    meta = history.META
    await proposals.merge(rules.MergeProposals(into=b, codes=(c,), reason="sama"), meta)
    await proposals.merge(rules.MergeProposals(into=a, codes=(b,), reason="sama juga"), meta)
    await proposals.verify(rules.VerifyProposal(code=a, decision="accept"), meta)
    await runner.catch_up_all()
    async with pool.acquire() as conn:
        tracked = await proposal_views.tracked(conn, c)
        target = await proposal_views.tracked(conn, a)
    assert [s["kind"] for s in tracked.steps] == ["proposal.submitted", "proposal.merged"]
    assert [(p.code, p.status) for p in tracked.merged] == [(b, rules.DIGABUNGKAN), (a, rules.DITERIMA)]
    assert [s["kind"] for s in tracked.merged[0].steps] == ["proposal.merged"]
    assert [s["kind"] for s in tracked.merged[1].steps] == ["proposal.accepted"]
    assert target.merged == [] and [s["kind"] for s in target.steps] == ["proposal.submitted", "proposal.merged_in",
                                                                          "proposal.accepted"]  # fmt: skip
