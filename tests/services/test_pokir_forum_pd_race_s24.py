"""A pokir racing the Forum Perangkat Daerah's close. The close checks, holding the city level's lock, that
every pokir is answered; a pokir checked that the forum was still to close without that lock, so one
submitted (or corrected) in the same moment committed just after the close, never to be taken up (no pokir
is forwarded once the forum closed). Now the pokir's check is made again holding that lock shared: the test
holds the close's side of the lock, shows the submission waiting for it, closes the forum and sees the
pokir refused."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid

import asyncpg
import pytest

from musrenbang.demo import RKPD_2022_PROGRAMS, RKPD_2022_THEME
from musrenbang.domain import city_forums as cf
from musrenbang.domain import cycle as cycle_rules
from musrenbang.domain import proposal as p
from musrenbang.domain import rkpd as rkpd_rules
from musrenbang.domain.access import Actor
from musrenbang.domain.errors import DomainError
from musrenbang.domain.events import RkpdForumClosed
from musrenbang.eventlog.store import NEW_STREAM, Append, EventStore, Metadata
from musrenbang.projections import all_projections
from musrenbang.projections.runner import ProjectionRunner
from musrenbang.services import accounts, cycles
from musrenbang.services.locks import RKPD_LOCK
from musrenbang.services.pokir import PokirService, Reses
from musrenbang.services.proposals import ProposalService
from tests.cycles import open_test_cycle
from tests.http.test_pokir import IN_DAPIL, _calendar
from tests.waiting import waiting_for_lock

YEAR = 2027
META = Metadata(actor="bappeda", role="admin")


async def test_a_pokir_checked_before_the_forum_perangkat_daerah_closed_is_refused_after(
    store: EventStore, pool: asyncpg.Pool
) -> None:
    await open_test_cycle(store)  # the city set up
    await cycles.open_cycle(store, cycle_rules.StartCycle(
        year=YEAR, region="32.75", theme=RKPD_2022_THEME, priority_programs=RKPD_2022_PROGRAMS,
        calendar=_calendar(30, YEAR)), META)  # fmt: skip
    member = f"dprd-{uuid.uuid4().hex[:6]}"
    async with pool.acquire() as conn:
        await accounts.add_user(conn, member, "rahasia-panjang-sekali", "dprd", None, None, dapil="Bekasi 1",
                                name="H. Ahmad Fauzi")  # fmt: skip
    runner = ProjectionRunner(pool, all_projections())
    pokir = PokirService(pool, store, ProposalService(pool, store, b"k" * 32, runner))
    raw = p.ProposalInput(kelurahan=IN_DAPIL, rw="3", rt="2", kind="fisik", bidang="infrastruktur",
                          title="Normalisasi saluran Jl. Melati", problem="Saluran tersumbat setiap hujan",
                          solution="Normalisasi saluran", beneficiaries="800", volume="400", unit="meter",
                          estimated_cost="300000000", address="Jl. Melati RW 03")  # fmt: skip
    reses = Reses(held_on=cycles.today() - dt.timedelta(days=3), place="Aula RW 03")
    async with pool.acquire() as conn:
        closing = conn.transaction()
        await closing.start()
        await conn.execute("SELECT pg_advisory_xact_lock($1, $2)", RKPD_LOCK, YEAR)  # the close's hold
        submitting = asyncio.create_task(pokir.submit(Actor(username=member, role="dprd"), YEAR, raw, reses,
                                                      idempotency_key="pokir-race-s24", fingerprint="race"))
        assert await waiting_for_lock(pool, RKPD_LOCK, YEAR), "the pokir did not wait for the city level's lock"
        closed = RkpdForumClosed(year=YEAR, forum=cf.FORUM_PD, minutes="Disepakati.", agreed=(), total_pagu=0,
                                 not_agreed=())  # fmt: skip
        await store.append(Append(rkpd_rules.stream_id(YEAR), NEW_STREAM, [closed]), metadata=META, conn=conn)
        await closing.commit()
    with pytest.raises(DomainError, match="Forum Perangkat Daerah RKPD 2027 sudah ditutup"):
        await submitting
    assert not await pool.fetchval("SELECT count(*) FROM events WHERE event_type = 'proposal.submitted'")
