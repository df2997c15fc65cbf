"""What the kecamatan forums forward reaches the city level before its Forum Perangkat Daerah closes, or not
at all: a kecamatan forum closed after it left its proposals "forwarded" for good, and the RKPD was adopted
with no answer for them. Through the services on the real database (tests/http/city_setup.py: a kecamatan
forum scored and about to forward six proposals)."""

from __future__ import annotations

import asyncpg
import pytest

from musrenbang.db.connect import create_pool
from musrenbang.domain import city_forums as cf
from musrenbang.domain import forum as f
from musrenbang.domain import rkpd as rkpd_rules
from musrenbang.domain.errors import DomainError
from musrenbang.domain.events import AgendaItem
from musrenbang.eventlog.store import EventStore, Metadata
from musrenbang.projections import all_projections
from musrenbang.projections.runner import ProjectionRunner
from musrenbang.services import cycles
from musrenbang.services.forums import ForumService, new_forum_id
from musrenbang.services.proposals import ProposalService
from musrenbang.services.rkpd import RkpdService
from tests.cycles import FORUM_DAY
from tests.domain.test_rkpd import line
from tests.http.city_setup import _submit, seed

BAPPEDA = Metadata(actor="bappeda", role="admin")
FORUM_PD = cf.ScheduleCityForum(
    year=2022, forum=cf.FORUM_PD, held_on=FORUM_DAY, place="Aula", chair="Sekda", agenda=("Pembahasan",),
    participants=(cf.ParticipantInput(name="Perwakilan DBMSDA", kind="agency", represents="DBMSDA"),),
)  # fmt: skip
CLOSE_PD = cf.CloseCityForum(year=2022, forum=cf.FORUM_PD, minutes="Disepakati.", today=cycles.today())


async def _services(url: str) -> tuple[asyncpg.Pool, ForumService, RkpdService]:
    pool = await create_pool(url, min_size=1, max_size=5)
    store, runner = EventStore(pool), ProjectionRunner(pool, all_projections())
    return pool, ForumService(pool, store, runner), RkpdService(pool, store, runner)


async def _late_kecamatan_forum(forums: ForumService, *, proposal: str | None, close: bool) -> str:
    """Kecamatan Bekasi Barat's forum, scored, its one item selected (`proposal` forwarded, if given), and
    closed if `close`."""
    late = new_forum_id()
    await forums.schedule(f.ScheduleForum(forum_id=late, level="kecamatan", region="32.75.02", year=2022,
                                          title="Musrenbang Kecamatan Bekasi Barat", held_on=FORUM_DAY, place="Aula",
                                          chair="Camat", ceiling=10**8), BAPPEDA)  # fmt: skip
    item = AgendaItem(item_id=proposal or "X1", proposal=proposal, title="Perbaikan saluran", cost=10**6,
                      kelurahan="32.75.01.1001" if proposal else None)  # fmt: skip
    await forums.open(late, BAPPEDA, agenda=(item,))
    marks = {item.item_id: {c.key: 4 for c in f.DEFAULT_CRITERIA}}
    await forums.give_scores(late, f.GiveScores(sheet="konsensus", marks=marks), BAPPEDA)
    if close:
        await forums.close(late, BAPPEDA, no_mandate_confirmed=True)
        await ProjectionRunner(forums.pool, all_projections()).catch_up_all()
    return late


async def _first_kecamatan_answered(database_url: str, rkpd: RkpdService) -> None:
    """The seeded kecamatan's results taken up, the Forum Perangkat Daerah scheduled, each proposal declined."""
    codes = await seed(database_url)
    await rkpd.receive(2022, BAPPEDA)
    await rkpd.execute(2022, FORUM_PD, BAPPEDA)
    for code in codes.values():
        await rkpd.execute(2022, rkpd_rules.DeclineProposal(code=code, reason="sudah dianggarkan"), BAPPEDA)


async def _events(pool: asyncpg.Pool) -> int:
    return await pool.fetchval("SELECT count(*) FROM events")


async def test_a_kecamatan_forum_does_not_close_after_the_forum_perangkat_daerah(database_url: str) -> None:
    """One kecamatan's results taken up and answered, the Forum Perangkat Daerah closed; another kecamatan's
    forum, still open then, may not close and forward any more."""
    pool, forums, rkpd = await _services(database_url)
    try:
        await _first_kecamatan_answered(database_url, rkpd)
        late = await _late_kecamatan_forum(forums, proposal=None, close=False)
        await rkpd.execute(2022, CLOSE_PD, BAPPEDA)
        before = await _events(pool)
        with pytest.raises(DomainError, match="Forum Perangkat Daerah RKPD 2022 sudah ditutup"):
            await forums.close(late, BAPPEDA, no_mandate_confirmed=True)
        assert await _events(pool) == before
    finally:
        await pool.close()


async def test_the_forum_perangkat_daerah_waits_for_what_was_forwarded_to_be_taken_up(database_url: str) -> None:
    """A second kecamatan forwards after the first was taken up: the Forum Perangkat Daerah does not close
    until Bappeda has taken that up too."""
    pool, forums, rkpd = await _services(database_url)
    try:
        await _first_kecamatan_answered(database_url, rkpd)
        proposals = ProposalService(pool, EventStore(pool), b"c" * 32, ProjectionRunner(pool, all_projections()))
        late_one = await _submit(proposals, 9, "Perbaikan saluran RW 10", "infrastruktur")
        await _late_kecamatan_forum(forums, proposal=late_one, close=True)
        before = await _events(pool)
        with pytest.raises(DomainError, match="masih ada 1 usulan yang diteruskan"):
            await rkpd.execute(2022, CLOSE_PD, BAPPEDA)
        assert await _events(pool) == before
        await rkpd.receive(2022, BAPPEDA)
        await rkpd.execute(2022, rkpd_rules.DeclineProposal(code=late_one, reason="sudah dianggarkan"), BAPPEDA)
        await rkpd.execute(2022, CLOSE_PD, BAPPEDA)
    finally:
        await pool.close()


async def test_a_kecamatan_forum_does_not_close_after_an_adoption_without_city_forums(database_url: str) -> None:
    """Adopted with no Forum Perangkat Daerah recorded, a kecamatan forum still open could close and forward,
    and every later amendment was then refused for what could no longer be taken up."""
    codes = await seed(database_url)
    pool, forums, rkpd = await _services(database_url)
    try:
        await rkpd.receive(2022, BAPPEDA)
        await ProjectionRunner(pool, all_projections()).catch_up_all()
        roads = await pool.fetchval("SELECT code FROM rkpd_items WHERE year = 2022 AND agency = 'DBMSDA' LIMIT 1")
        programs = await rkpd.priority_programs(2022)
        await rkpd.execute(2022, rkpd_rules.SetLine(line=line(roads), priority_programs=programs), BAPPEDA)
        for code in set(codes.values()) - {roads}:
            await rkpd.execute(2022, rkpd_rules.DeclineProposal(code=code, reason="sudah dianggarkan"), BAPPEDA)
        late = await _late_kecamatan_forum(forums, proposal=None, close=False)
        await rkpd.execute(2022, rkpd_rules.Adopt(year=2022, note="ditetapkan"), BAPPEDA)
        before = await _events(pool)
        with pytest.raises(DomainError, match="RKPD 2022 sudah ditetapkan: hasil musyawarah kecamatan"):
            await forums.close(late, BAPPEDA, no_mandate_confirmed=True)
        assert await _events(pool) == before
    finally:
        await pool.close()
