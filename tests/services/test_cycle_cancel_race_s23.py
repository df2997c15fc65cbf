"""A cycle's withdrawal racing what makes something in its year (review s23: a forum scheduled and a pokir
submitted 1-2 ms after a withdrawal both committed, left in a year with no cycle). Now each holds the year's
cycle lock (services/locks.py, CYCLE_LOCK) shared from its check that the cycle is there to its commit, and
the withdrawal holds it exclusively around its check that nothing was made: whichever waits sees the other.
Each test holds one side's lock in a transaction of its own, shows the other side waiting for it, then
commits that side's event."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable

import asyncpg
import pytest

from musrenbang.domain import cycle as cycle_rules
from musrenbang.domain import forum as f
from musrenbang.domain import proposal as p
from musrenbang.domain.errors import DomainError, NotFound
from musrenbang.eventlog.store import NEW_STREAM, Append, EventStore, Metadata
from musrenbang.projections import all_projections
from musrenbang.projections.runner import ProjectionRunner
from musrenbang.services import cycles
from musrenbang.services.forums import ForumService
from musrenbang.services.locks import CYCLE_LOCK
from musrenbang.services.proposals import ProposalService
from musrenbang.services.streams import load
from tests.cycles import FORUM_DAY, open_test_cycle
from tests.waiting import waiting_for_lock

YEAR = 2022
META = Metadata(actor="bappeda", role="admin")


def _forum(forum_id: str) -> f.ScheduleForum:
    return f.ScheduleForum(forum_id=forum_id, level="kelurahan", region="32.75.01.1001", year=YEAR,
                           title="Musrenbang dijadwalkan", held_on=FORUM_DAY, place="Aula", chair="Lurah",
                           ceiling=60_000_000)  # fmt: skip


async def services_and_content(store: EventStore, pool: asyncpg.Pool
                               ) -> tuple[ForumService, ProposalService, p.ProposalContent]:  # fmt: skip
    """The test cycle open, a forum and a proposal service, and a proposal's content checked for it."""
    await open_test_cycle(store)
    runner = ProjectionRunner(pool, all_projections())
    forums = ForumService(pool, store, runner)
    proposals = ProposalService(pool, store, b"k" * 32, runner)
    content = await proposals.validate(p.ProposalInput(
        kelurahan="32.75.01.1001", rw="6", rt="2", kind="fisik", bidang="infrastruktur", title="Saluran RW 06",
        problem="Saluran tersumbat setiap hujan", solution="Normalisasi saluran", beneficiaries="30", volume="5",
        unit="meter", estimated_cost="6 juta", address="Jl. Uji",
    ), year=YEAR)  # fmt: skip
    return forums, proposals, content


async def forum_and_proposal_held(
    pool: asyncpg.Pool, forums: ForumService, proposals: ProposalService, content: p.ProposalContent, tag: str,
    under_hold: Callable[[asyncpg.Connection], Awaitable[None]],
) -> tuple[asyncio.Task[object], asyncio.Task[object]]:
    """Holding the year's cycle lock exclusively, as a withdrawal does from its check to its commit
    (services/cycles.py): a forum scheduled and a proposal submitted, both shown waiting for it in pg_locks,
    then `under_hold` in the holder's transaction, committed. The two as tasks, to be awaited."""
    async with pool.acquire() as conn:
        holding = conn.transaction()
        await holding.start()
        await conn.execute("SELECT pg_advisory_xact_lock($1, $2)", CYCLE_LOCK, YEAR)
        scheduling = asyncio.create_task(forums.schedule(_forum(f"{tag}FORUM"), META))
        submitting = asyncio.create_task(proposals.submit(
            content, p.validate_proposer("Yanti Harahap", "0812-3300-4400"), idempotency_key=f"{tag}-held",
            request_fingerprint=tag, year=YEAR))  # fmt: skip
        assert await waiting_for_lock(pool, CYCLE_LOCK, YEAR, sessions=2), (
            "the forum and the proposal did not both pass their check and wait for the cycle's lock")  # fmt: skip
        await under_hold(conn)
        await holding.commit()
    return scheduling, submitting  # type: ignore[return-value]


async def test_a_withdrawal_waits_for_a_forum_being_scheduled_and_then_refuses(store: EventStore,
                                                                               pool: asyncpg.Pool) -> None:  # fmt: skip
    await open_test_cycle(store)
    runner = ProjectionRunner(pool, all_projections())
    await runner.catch_up_all()
    forum_id = f"RACE{uuid.uuid4().hex[:6].upper()}"
    async with pool.acquire() as conn:
        scheduling = conn.transaction()
        await scheduling.start()
        await cycles.hold_year(conn, store, YEAR)  # the forum's check passed; its commit is still to come
        cancelling = asyncio.create_task(cycles.cancel_cycle(store, runner, YEAR, "salah tahun", META))
        assert await waiting_for_lock(pool, CYCLE_LOCK, YEAR), "the withdrawal did not wait for the year's cycle lock"
        assert not cancelling.done()
        events = f.decide(f.Forum(), _forum(forum_id))
        await store.append(Append(f.stream_id(forum_id), NEW_STREAM, events), metadata=META, conn=conn)
        await scheduling.commit()
    with pytest.raises(DomainError, match="1 musyawarah"):
        await cancelling
    assert (await cycles.load_cycle(store, YEAR)).exists


async def test_a_forum_and_a_proposal_wait_for_a_withdrawal_and_are_refused(store: EventStore,
                                                                            pool: asyncpg.Pool) -> None:  # fmt: skip
    forums, proposals, content = await services_and_content(store, pool)
    async def withdraw(conn: asyncpg.Connection) -> None:
        state, head = await load(store, cycles.CYCLE, cycle_rules.stream_id(YEAR), conn)
        events = cycle_rules.decide(state, cycle_rules.CancelCycle(year=YEAR, reason="salah tahun"))
        await store.append(Append(cycle_rules.stream_id(YEAR), head, events), metadata=META, conn=conn)

    scheduling, submitting = await forum_and_proposal_held(pool, forums, proposals, content, "RACE", withdraw)
    for task in (scheduling, submitting):
        with pytest.raises(NotFound, match="belum dibuka"):
            await task
    written = await pool.fetchval("SELECT count(*) FROM events WHERE event_type IN ('forum.scheduled',"
                                  " 'proposal.submitted')")  # fmt: skip
    assert written == 0 and not await pool.fetchval("SELECT count(*) FROM proposer_contacts")


async def test_the_city_level_is_not_opened_in_a_year_with_no_cycle_or_a_withdrawn_one(
    store: EventStore, pool: asyncpg.Pool
) -> None:
    """Review s23: a receive (which opens the city level) was taken for a year never opened, or withdrawn,
    and the year could then never be withdrawn again (its city-level stream was no longer empty)."""
    from musrenbang.services.rkpd import RkpdService

    await open_test_cycle(store)
    runner = ProjectionRunner(pool, all_projections())
    rkpd = RkpdService(pool, store, runner)
    with pytest.raises(NotFound, match="siklus RKPD 2031 belum dibuka"):
        await rkpd.receive(2031, META)
    await cycles.cancel_cycle(store, runner, YEAR, "salah tahun", META)
    with pytest.raises(NotFound, match=f"siklus RKPD {YEAR} belum dibuka"):
        await rkpd.receive(YEAR, META)
    assert not await pool.fetchval("SELECT count(*) FROM events WHERE stream_id LIKE 'rkpd-%'")
