"""Calling a forum off through the services on the real database (session 27): a Musrenbang Kecamatan opened
and then never held froze its kelurahan forums out and held its agenda's proposals for good; a forum still
open when the RKPD was adopted could never be tidied up. Replayed, the read models are the same."""

from __future__ import annotations

import asyncpg
import pytest

from musrenbang.db.connect import create_pool
from musrenbang.domain import forum as f
from musrenbang.domain import rkpd as rkpd_rules
from musrenbang.domain.errors import DomainError
from musrenbang.eventlog.store import EventStore, Metadata
from musrenbang.projections import all_projections
from musrenbang.projections.runner import ProjectionRunner
from musrenbang.services.forums import ForumService, new_forum_id
from tests.cycles import FORUM_DAY
from tests.domain.test_rkpd import line
from tests.http.city_setup import KECAMATAN, KELURAHAN, seed
from tests.projections.recording import table_checksum
from tests.services.test_city_level_cutoff import BAPPEDA, _late_kecamatan_forum, _services

FACILITATOR = Metadata(actor="fasilitator", role="facilitator")
CANCELLED = "musyawarah ini sudah dibatalkan"


async def _events(pool: asyncpg.Pool) -> int:
    return await pool.fetchval("SELECT count(*) FROM events")


def _kelurahan_forum(region: str = KELURAHAN) -> f.ScheduleForum:
    return f.ScheduleForum(forum_id=new_forum_id(), level="kelurahan", region=region, year=2022,
                           title="Musrenbang susulan", held_on=FORUM_DAY, place="Aula", chair="Lurah",
                           ceiling=10**8)  # fmt: skip


async def _kecamatan_forum(pool: asyncpg.Pool) -> str:
    return await pool.fetchval("SELECT forum_id FROM forums WHERE level = 'kecamatan' AND region = $1", KECAMATAN)


async def test_a_cancelled_musrenbang_kecamatan_frees_its_agenda_and_its_kelurahan(database_url: str) -> None:
    """Opened (its agenda frozen, scored), then called off: its kelurahan may hold a forum again, and another
    Musrenbang Kecamatan takes up every proposal its agenda held. Its score sheet stays in the log."""
    codes = await seed(database_url, close_kecamatan=False)
    pool = await create_pool(database_url, min_size=1, max_size=5)
    store = EventStore(pool)
    runner = ProjectionRunner(pool, all_projections())
    forums = ForumService(pool, store, runner)
    try:
        stuck = await _kecamatan_forum(pool)
        with pytest.raises(DomainError, match="sudah dibuka dan agendanya sudah tetap"):
            await forums.schedule(_kelurahan_forum(), FACILITATOR)
        sheets = await pool.fetchval("SELECT count(*) FROM events WHERE event_type = 'forum.scores_given'")
        await forums.cancel(stuck, f.CancelForum(reason="camat berhalangan; dijadwalkan ulang"), BAPPEDA)
        before = await _events(pool)
        with pytest.raises(DomainError, match=CANCELLED):
            await forums.close(stuck, BAPPEDA, no_mandate_confirmed=True)
        with pytest.raises(DomainError, match=CANCELLED):
            await forums.open(stuck, BAPPEDA)
        with pytest.raises(DomainError, match=CANCELLED):
            await forums.give_scores(stuck, f.GiveScores(sheet="konsensus", marks={}), BAPPEDA)
        assert await _events(pool) == before
        assert await pool.fetchval("SELECT count(*) FROM events WHERE event_type = 'forum.scores_given'") == sheets
        await runner.catch_up_all()
        assert await pool.fetchval("SELECT count(*) FROM forum_results WHERE forum_id = $1", stuck) == 0

        await forums.schedule(_kelurahan_forum(), FACILITATOR)  # the kecamatan takes its kelurahan's results again
        again = new_forum_id()
        await forums.schedule(f.ScheduleForum(forum_id=again, level="kecamatan", region=KECAMATAN, year=2022,
                                              title="Musrenbang Kecamatan ulang", held_on=FORUM_DAY, place="Aula",
                                              chair="Camat", ceiling=10**9), BAPPEDA)  # fmt: skip
        await forums.open(again, BAPPEDA)
        reopened, _ = await forums.load(again)
        assert sorted(a.proposal for a in reopened.agenda) == sorted(codes.values())
        await runner.catch_up_all()
        steps = await pool.fetch("SELECT subject, detail->>'reason' AS reason FROM lineage_steps"
                                 " WHERE event_type = 'forum.cancelled'")  # fmt: skip
        assert sorted(r["subject"] for r in steps) == sorted(codes.values())
        assert {r["reason"] for r in steps} == {"camat berhalangan; dijadwalkan ulang"}
        await _replay_gives_the_same(pool, runner)
    finally:
        await pool.close()


async def _replay_gives_the_same(pool: asyncpg.Pool, runner: ProjectionRunner) -> None:
    tables = [t for p in all_projections() for t in p.tables]
    async with pool.acquire() as conn:
        before = {t: await table_checksum(conn, t) for t in tables}
        for projection in all_projections():
            await runner.replay(projection)
        assert {t: await table_checksum(conn, t) for t in tables} == before


async def test_a_forum_left_open_is_cancelled_after_the_adoption(database_url: str) -> None:
    """Adopted with a kecamatan forum still open: it can no longer close, and stayed "sedang berlangsung" for
    ever. Now it is called off, and then refuses everything else, saying so."""
    codes = await seed(database_url)
    pool, forums, rkpd = await _services(database_url)
    try:
        await rkpd.receive(2022, BAPPEDA)
        runner = ProjectionRunner(pool, all_projections())
        await runner.catch_up_all()
        roads = await pool.fetchval("SELECT code FROM rkpd_items WHERE year = 2022 AND agency = 'DBMSDA' LIMIT 1")
        programs = await rkpd.priority_programs(2022)
        await rkpd.execute(2022, rkpd_rules.SetLine(line=line(roads), priority_programs=programs), BAPPEDA)
        for code in set(codes.values()) - {roads}:
            await rkpd.execute(2022, rkpd_rules.DeclineProposal(code=code, reason="sudah dianggarkan"), BAPPEDA)
        late = await _late_kecamatan_forum(forums, proposal=None, close=False)
        await rkpd.execute(2022, rkpd_rules.Adopt(year=2022, note="ditetapkan"), BAPPEDA)
        with pytest.raises(DomainError, match="RKPD 2022 sudah ditetapkan"):
            await forums.close(late, BAPPEDA, no_mandate_confirmed=True)
        await forums.cancel(late, f.CancelForum(reason="tidak selesai sebelum RKPD ditetapkan"), BAPPEDA)
        await runner.catch_up_all()
        row = await pool.fetchrow("SELECT status, cancel_reason, cancelled_at FROM forums WHERE forum_id = $1", late)
        assert (row["status"], row["cancel_reason"]) == ("cancelled", "tidak selesai sebelum RKPD ditetapkan")
        assert row["cancelled_at"] is not None
        before = await _events(pool)
        with pytest.raises(DomainError, match=CANCELLED):  # said first: not "RKPD 2022 sudah ditetapkan"
            await forums.close(late, BAPPEDA, no_mandate_confirmed=True)
        with pytest.raises(DomainError, match=CANCELLED):
            await forums.cancel(late, f.CancelForum(reason="sekali lagi"), BAPPEDA)
        with pytest.raises(DomainError, match=CANCELLED):
            await forums.register_delegates(late, [f.RegisterDelegate(delegate_id="d1", name="A")], BAPPEDA)
        assert await _events(pool) == before
    finally:
        await pool.close()


async def test_a_cancellation_sent_again_with_its_key_is_recorded_once(database_url: str) -> None:
    await seed(database_url)
    pool, forums, _ = await _services(database_url)
    try:
        scheduled = _kelurahan_forum("32.75.02.1001")  # Bintara: its kecamatan holds no Musrenbang yet
        await forums.schedule(scheduled, FACILITATOR)
        command = f.CancelForum(reason="tempat tidak tersedia")
        meta = Metadata(actor="fasilitator", role="facilitator", fingerprint="sidik")
        first = await forums.cancel(scheduled.forum_id, command, meta, "staff:fasilitator:k1")
        again = await forums.cancel(scheduled.forum_id, command, meta, "staff:fasilitator:k1")
        assert again.replayed and again.event_ids == first.event_ids
        assert await pool.fetchval("SELECT count(*) FROM events WHERE event_type = 'forum.cancelled'") == 1
    finally:
        await pool.close()
