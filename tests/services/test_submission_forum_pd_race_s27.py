"""A resident's proposal racing the Forum Perangkat Daerah's close (review s27): after the close no kelurahan
forum may open, so a proposal that commits after it can never be decided. The submission judges its year again
holding the city intake's lock shared, which the close holds exclusively: the test holds the close's side of
the lock, shows the submission waiting for it, closes the forum and sees the proposal refused, nothing
written."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest

from musrenbang.domain import city_forums as cf
from musrenbang.domain import proposal as p
from musrenbang.domain import rkpd as rkpd_rules
from musrenbang.domain.errors import DomainError
from musrenbang.domain.events import RkpdForumClosed
from musrenbang.eventlog.store import NEW_STREAM, Append, EventStore, Metadata
from musrenbang.projections import all_projections
from musrenbang.projections.runner import ProjectionRunner
from musrenbang.services.locks import INTAKE_LOCK
from musrenbang.services.proposals import ProposalService
from tests.cycles import open_test_cycle
from tests.waiting import waiting_for_lock

YEAR = 2022
META = Metadata(actor="bappeda", role="admin")


async def test_a_proposal_checked_before_the_forum_perangkat_daerah_closed_is_refused_after(
    store: EventStore, pool: asyncpg.Pool
) -> None:
    await open_test_cycle(store)
    proposals = ProposalService(pool, store, b"k" * 32, ProjectionRunner(pool, all_projections()))
    content = await proposals.validate(p.ProposalInput(
        kelurahan="32.75.01.1001", rw="5", rt="3", kind="fisik", bidang="infrastruktur", title="Saluran air",
        problem="Saluran tersumbat setiap hujan", solution="Normalisasi saluran", beneficiaries="300",
        volume="150", unit="meter", estimated_cost="25 juta", address="Jl. Melati",
    ), year=YEAR)  # fmt: skip
    cycle = await proposals.taking(YEAR)  # judged open: the form was filled in before the close
    events = await pool.fetchval("SELECT count(*) FROM events")
    async with pool.acquire() as conn:
        closing = conn.transaction()
        await closing.start()
        await conn.execute("SELECT pg_advisory_xact_lock($1, $2)", INTAKE_LOCK, YEAR)  # the close's hold
        submitting = asyncio.create_task(proposals.submit(
            content, p.validate_proposer("Siti Rahmawati", "0813-9876-5432"), idempotency_key="s27-race",
            request_fingerprint="race", year=YEAR, cycle=cycle))  # fmt: skip
        assert await waiting_for_lock(pool, INTAKE_LOCK, YEAR), "the proposal did not wait for the intake's lock"
        closed = RkpdForumClosed(year=YEAR, forum=cf.FORUM_PD, minutes="Disepakati.", agreed=(), total_pagu=0,
                                 not_agreed=())  # fmt: skip
        await store.append(Append(rkpd_rules.stream_id(YEAR), NEW_STREAM, [closed]), metadata=META, conn=conn)
        await closing.commit()
    with pytest.raises(DomainError, match="Forum Perangkat Daerah RKPD 2022 sudah ditutup"):
        await submitting
    assert await pool.fetchval("SELECT count(*) FROM events") == events + 1  # the close only
    assert not await pool.fetchval("SELECT count(*) FROM proposer_contacts")  # nor the personal data
