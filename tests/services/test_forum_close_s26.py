"""Review s26 of the forums, through the services on the real database (each test a fresh one, the RKPD 2022
test cycle of tests/cycles.py):

1. A forum with proposals on its agenda closed with no ballot and no score sheet at all recorded every
   proposal as not selected ("tidak ada yang mendukung"), told its residents so, and can never be reopened.
   It is refused now while nobody has voted or scored; a forum with an empty agenda still closes.
2. A kelurahan forum scheduled, opened or closed after its kecamatan's Musrenbang Kecamatan opened forwarded
   proposals nothing would take up ("diteruskan" for good); and once the year's Forum Perangkat Daerah has
   closed, kelurahan and kecamatan forums of the year were still scheduled and opened, though none could
   ever close and forward. Both are refused now, saying why."""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import msgspec
import pytest

from musrenbang.db.connect import create_pool
from musrenbang.domain import forum as f
from musrenbang.domain.errors import DomainError
from musrenbang.domain.events import AgendaItem
from musrenbang.eventlog.store import EventStore, Metadata
from musrenbang.projections import all_projections
from musrenbang.projections.runner import ProjectionRunner
from musrenbang.services.forums import ForumService, new_forum_id
from musrenbang.services.rkpd import RkpdService
from tests.cycles import FORUM_DAY, open_test_cycle
from tests.http.city_setup import KECAMATAN, seed
from tests.services.test_city_level_cutoff import CLOSE_PD, _first_kecamatan_answered

META = Metadata(actor="fasilitator", role="admin")
ITEM = AgendaItem(item_id="X1", title="Perbaikan saluran RW 01", cost=10**6)
MARKS = {c.key: 4 for c in f.DEFAULT_CRITERIA}


@pytest.fixture
async def services(database_url: str) -> AsyncIterator[tuple[asyncpg.Pool, ForumService, RkpdService]]:
    pool = await create_pool(database_url, min_size=1, max_size=5)
    store, runner = EventStore(pool), ProjectionRunner(pool, all_projections())
    try:
        yield pool, ForumService(pool, store, runner), RkpdService(pool, store, runner)
    finally:
        await pool.close()


async def _scheduled(forums: ForumService, level: str, region: str, *, rule: str = "greedy") -> str:
    forum_id = new_forum_id()
    kind = {"ballot_kind": "approval"} if rule != "weighted-criteria" else {}
    await forums.schedule(f.ScheduleForum(forum_id=forum_id, level=level, region=region, year=2022,
                                          title=f"Musrenbang {region}", held_on=FORUM_DAY, place="Aula", chair="Ketua",
                                          ceiling=10**8, rule=rule, **kind), META)  # fmt: skip
    await ProjectionRunner(forums.pool, all_projections()).catch_up_all()
    return forum_id


async def _opened(forums: ForumService, level: str, region: str, *, rule: str = "greedy",
                  agenda: tuple[AgendaItem, ...] = (ITEM,), delegates: int = 3) -> str:  # fmt: skip
    forum_id = await _scheduled(forums, level, region, rule=rule)
    if delegates:
        await forums.register_delegates(forum_id, [f.RegisterDelegate(delegate_id=f"d{i}", name=f"Peserta {i}")
                                                   for i in range(1, delegates + 1)], META)  # fmt: skip
    await forums.open(forum_id, META, agenda=agenda)
    return forum_id


async def _events(pool: asyncpg.Pool) -> int:
    return await pool.fetchval("SELECT count(*) FROM events")


async def _kecamatan_forum(pool: asyncpg.Pool) -> str:
    return await pool.fetchval("SELECT forum_id FROM forums WHERE level = 'kecamatan' AND region = $1", KECAMATAN)


# --- 1. nobody voted ----------------------------------------------------------------------------------


async def test_a_forum_with_proposals_does_not_close_before_anyone_voted(services, database_url: str) -> None:  # noqa: ANN001
    pool, forums, _ = services
    await open_test_cycle(EventStore(pool))
    forum_id = await _opened(forums, "kelurahan", "32.75.02.1001")
    before = await _events(pool)
    with pytest.raises(DomainError, match="3 peserta terdaftar, tetapi belum satu pun memberikan suara") as refused:
        await forums.close(forum_id, META, no_mandate_confirmed=True)
    assert "Catat dan simpan surat suara peserta dulu" in refused.value.message
    assert await _events(pool) == before
    assert (await forums.load(forum_id))[0].status == f.OPEN
    # One delegate's ballot (even one for nothing) is a vote: the forum closes.
    await forums.cast_ballot(forum_id, f.CastBallot(delegate_id="d2", approvals=()), META)
    await forums.close(forum_id, META, no_mandate_confirmed=True)
    assert (await forums.load(forum_id))[0].status == f.CLOSED


async def test_a_scored_forum_does_not_close_before_anything_is_scored(services) -> None:  # noqa: ANN001
    pool, forums, _ = services
    await open_test_cycle(EventStore(pool))
    forum_id = await _opened(forums, "kelurahan", "32.75.02.1001", rule="weighted-criteria")
    # A sheet whose rows were all cleared scores nothing.
    await forums.give_scores(forum_id, f.GiveScores(sheet="konsensus", marks={}), META)
    with pytest.raises(DomainError, match="3 peserta terdaftar, tetapi belum ada nilai sama sekali"):
        await forums.close(forum_id, META, no_mandate_confirmed=True)
    turnout = f.turnout((await forums.load(forum_id))[0], *await forums.ballots_and_sheets(forum_id))
    assert (turnout.scored, turnout.registered, turnout.voted, turnout.consensus, turnout.items) == (True, 3, 0, 0, 1)
    await forums.give_scores(forum_id, f.GiveScores(sheet="konsensus", marks={"X1": MARKS}), META)
    await forums.close(forum_id, META, no_mandate_confirmed=True)
    assert (await forums.load(forum_id))[0].status == f.CLOSED


async def test_a_forum_with_an_empty_agenda_still_closes(services) -> None:  # noqa: ANN001
    pool, forums, _ = services
    await open_test_cycle(EventStore(pool))
    forum_id = await _opened(forums, "kelurahan", "32.75.02.1001", agenda=())
    await forums.close(forum_id, META, no_mandate_confirmed=True)
    assert (await forums.load(forum_id))[0].status == f.CLOSED


def test_the_rule_is_the_domain_s() -> None:
    """Pure: the forum and what was cast decide it; an imported election closes as its file says."""
    command = f.ScheduleForum(forum_id="F1", level="kelurahan", region="32.75.02.1001", year=2022, title="M",
                              held_on=FORUM_DAY, place="", chair="", ceiling=10**8, rule="greedy",
                              ballot_kind="approval")  # fmt: skip
    scheduled = f.decide(f.Forum(), command)[0]
    forum = f.evolve(f.Forum(), scheduled)
    forum = f.evolve(forum, f.decide(forum, f.RegisterDelegate(delegate_id="d1", name="A"))[0])
    forum = f.evolve(forum, f.decide(forum, f.OpenForum(agenda=(ITEM,)))[0])
    with pytest.raises(DomainError, match="1 peserta terdaftar, tetapi belum satu pun memberikan suara"):
        f.decide(forum, f.CloseForum(no_mandate_confirmed=True))
    ballot = f.decide_ballot(forum, f.CastBallot(delegate_id="d1", approvals=("X1",)))[0]
    assert f.decide(forum, f.CloseForum(ballots=(ballot,), no_mandate_confirmed=True))
    imported = msgspec.structs.replace(forum, schedule=msgspec.structs.replace(forum.scheduled, origin="pabulib"))
    f.check_someone_voted(imported, (), ())


# --- 2. a forum whose results could no longer go on ---------------------------------------------------


async def test_a_kelurahan_forum_does_not_go_on_once_its_kecamatan_s_musrenbang_opened(services, database_url: str
                                                                                       ) -> None:  # noqa: ANN001  # fmt: skip
    """In session (its agenda fixed when it opened) and then closed, the Musrenbang Kecamatan takes nothing
    more from its kelurahan: a kelurahan forum goes on only once a second one is scheduled for the late."""
    pool, forums, _ = services
    await open_test_cycle(EventStore(pool))
    late = await _opened(forums, "kelurahan", "32.75.01.1002")  # before the kecamatan's Musrenbang opens
    await forums.cast_ballot(late, f.CastBallot(delegate_id="d1", approvals=("X1",)), META)
    waiting = await _scheduled(forums, "kelurahan", "32.75.01.1003")
    await seed(database_url, close_kecamatan=False)  # Kecamatan Bekasi Timur's Musrenbang open, scored
    before = await _events(pool)
    in_session = "Musrenbang Kecamatan Bekasi Timur RKPD 2022 sudah dibuka dan agendanya sudah tetap: hasil"
    with pytest.raises(DomainError, match=in_session):
        await forums.close(late, META, no_mandate_confirmed=True)
    with pytest.raises(DomainError, match=in_session):
        await forums.open(waiting, META, agenda=(ITEM,))
    await forums.close(await _kecamatan_forum(pool), META, no_mandate_confirmed=True)
    before = await _events(pool)
    closed = "Musrenbang Kecamatan Bekasi Timur RKPD 2022 sudah ditutup: hasil musyawarah kelurahan/desa"
    with pytest.raises(DomainError, match=closed):
        await forums.close(late, META, no_mandate_confirmed=True)
    with pytest.raises(DomainError, match=closed):
        await forums.open(waiting, META, agenda=(ITEM,))
    with pytest.raises(DomainError, match=closed):
        await _scheduled(forums, "kelurahan", "32.75.01.1004")
    assert await _events(pool) == before
    # A kelurahan of another kecamatan is not held back.
    await _scheduled(forums, "kelurahan", "32.75.02.1001")
    # A second Musrenbang Kecamatan scheduled for the late ones takes them up: they may go on again.
    await _scheduled(forums, "kecamatan", KECAMATAN, rule="weighted-criteria")
    await forums.close(late, META, no_mandate_confirmed=True)
    await forums.open(waiting, META, agenda=(ITEM,))


async def test_no_kelurahan_or_kecamatan_forum_starts_once_the_forum_perangkat_daerah_closed(
    services, database_url: str  # noqa: ANN001
) -> None:
    pool, forums, rkpd = services
    await _first_kecamatan_answered(database_url, rkpd)
    kecamatan = await _scheduled(forums, "kecamatan", "32.75.02", rule="weighted-criteria")  # Bekasi Barat
    kelurahan = await _opened(forums, "kelurahan", "32.75.02.1001")
    await forums.cast_ballot(kelurahan, f.CastBallot(delegate_id="d1", approvals=("X1",)), META)
    await rkpd.execute(2022, CLOSE_PD, META)
    before = await _events(pool)
    message = ("Forum Perangkat Daerah RKPD 2022 sudah ditutup: musyawarah kelurahan/desa dan kecamatan RKPD 2022"
               " tidak dapat lagi dijadwalkan, dibuka atau ditutup")  # fmt: skip
    with pytest.raises(DomainError, match=message):
        await forums.open(kecamatan, META, agenda=(ITEM,))
    with pytest.raises(DomainError, match=message):
        await _scheduled(forums, "kecamatan", "32.75.03")
    with pytest.raises(DomainError, match=message):
        await _scheduled(forums, "kelurahan", "32.75.03.1001")
    with pytest.raises(DomainError, match=message):
        # it would forward to a kecamatan forum that can never close
        await forums.close(kelurahan, META, no_mandate_confirmed=True)
    assert await _events(pool) == before
