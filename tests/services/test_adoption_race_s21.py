"""A verification racing the year's adoption (review s21): it checked the year open, the adoption read the
proposals read model (what it closes unprocessed and tells their followers) and committed, then the
verification committed — reopening a proposal the adoption had closed, "Diterima" for ever in an adopted
year. Now a verification holds the year's RKPD lock shared while it decides and appends, and the adoption
holds it exclusively: the verification waits, then sees the adoption and is refused."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest

from musrenbang.domain import cycle as cycle_rules
from musrenbang.domain import proposal as p
from musrenbang.domain.errors import DomainError
from musrenbang.eventlog.store import Append, EventStore, Metadata
from musrenbang.projections import all_projections
from musrenbang.projections.runner import ProjectionRunner
from musrenbang.services import cycles
from musrenbang.services.locks import RKPD_LOCK
from musrenbang.services.proposals import ProposalService
from musrenbang.services.streams import load
from tests.cycles import open_test_cycle
from tests.waiting import waiting_for_lock

YEAR = 2022
META = Metadata(actor="fasilitator", role="facilitator")


async def _submitted(proposals: ProposalService) -> str:
    content = await proposals.validate(p.ProposalInput(
        kelurahan="32.75.01.1001", rw="6", rt="2", kind="fisik", bidang="infrastruktur", title="Saluran RW 06",
        problem="Saluran tersumbat setiap hujan", solution="Normalisasi saluran", beneficiaries="30", volume="5",
        unit="meter", estimated_cost="6 juta", address="Jl. Uji",
    ), year=YEAR)  # fmt: skip
    done = await proposals.submit(content, p.validate_proposer("Yanti Harahap", "0812-3300-4400"),
                                  idempotency_key="race-s21", request_fingerprint="race", year=YEAR)  # fmt: skip
    return done.code


async def test_a_verification_racing_the_adoption_waits_and_is_refused(store: EventStore,
                                                                         pool: asyncpg.Pool) -> None:  # fmt: skip
    await open_test_cycle(store)
    runner = ProjectionRunner(pool, all_projections())
    proposals = ProposalService(pool, store, b"k" * 32, runner)
    code = await _submitted(proposals)
    async with pool.acquire() as conn:
        adoption = conn.transaction()
        await adoption.start()
        # The adoption's hold, from its read of the proposals to its commit (services/rkpd.py).
        await conn.execute("SELECT pg_advisory_xact_lock($1, $2)", RKPD_LOCK, YEAR)
        verifying = asyncio.create_task(proposals.verify(p.VerifyProposal(code=code, decision="accept"), META))
        assert await waiting_for_lock(pool, RKPD_LOCK, YEAR), "the verification did not wait for the year's lock"
        assert not verifying.done()
        state, head = await load(store, cycles.CYCLE, cycle_rules.stream_id(YEAR), conn)
        events = cycle_rules.decide(state, cycle_rules.RecordAdoption(year=YEAR, today=cycles.today()))
        await store.append(Append(cycle_rules.stream_id(YEAR), head, events), metadata=META, conn=conn)
        await adoption.commit()
    with pytest.raises(DomainError, match="sudah ditetapkan"):
        await verifying
    assert await pool.fetchval("SELECT count(*) FROM events WHERE event_type = 'proposal.accepted'") == 0
