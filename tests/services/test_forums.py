"""Forums on the real database: concurrent ballots, the close, forwarding to the next level."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest

from musrenbang.domain import forum as f
from musrenbang.domain import proposal as proposal_rules
from musrenbang.domain.errors import DomainError
from musrenbang.domain.events import AgendaItem
from musrenbang.eventlog.store import NEW_STREAM, Append, EventStore, Metadata
from musrenbang.projections import all_projections
from musrenbang.projections.runner import ProjectionRunner
from musrenbang.services.forums import ForumService, hold_open, new_forum_id
from musrenbang.services.proposals import ProposalService
from tests.cycles import FORUM_DAY, open_test_cycle

META = Metadata(actor="fasilitator", role="facilitator")
AGENDA = tuple(AgendaItem(item_id=f"P{i}", title=f"Usulan {i}", cost=10 * (i + 1)) for i in range(5))


async def forum_with_delegates(forums: ForumService, delegates: int, **schedule: object) -> str:
    """A forum of the test cycle (opened here when it is not yet) with `delegates` registered, open."""
    await open_test_cycle(EventStore(forums._pool))
    forum_id = new_forum_id()
    command = f.ScheduleForum(
        forum_id=forum_id, level="kelurahan", region="32.75.01.1001", year=2022, title="Musrenbang uji",
        held_on=FORUM_DAY, place="Aula", chair="Lurah", ceiling=60, rule="greedy",
        ballot_kind="approval",
    )  # fmt: skip
    import msgspec

    await forums.schedule(msgspec.structs.replace(command, **schedule), META)
    await forums.register_delegates(
        forum_id, [f.RegisterDelegate(delegate_id=f"d{i}", name=f"Delegasi {i}") for i in range(delegates)], META
    )
    await forums.open(forum_id, META, agenda=AGENDA)
    return forum_id


async def test_two_hundred_delegates_vote_at_once_and_every_ballot_counts(
    store: EventStore, pool: asyncpg.Pool
) -> None:
    forums = ForumService(pool, store, ProjectionRunner(pool, all_projections()))
    forum_id = await forum_with_delegates(forums, 200)
    await asyncio.gather(*(
        forums.cast_ballot(forum_id, f.CastBallot(delegate_id=f"d{i}", approvals=(f"P{i % 5}",)), META)
        for i in range(200)
    ))  # fmt: skip
    await forums.close(forum_id, META, no_mandate_confirmed=True)
    forum, recomputed = await forums.recompute(forum_id)
    assert forum.result.ballots == 200
    assert {r.item_id: r.score for r in forum.result.ranking} == {f"P{i}": "40" for i in range(5)}
    assert recomputed == forum.result  # the stored result follows from the forum's events alone
    streams = await pool.fetchval("SELECT count(DISTINCT stream_id) FROM events WHERE event_type = 'forum.ballot_cast'")
    assert streams == 200  # one stream per delegate: no hot stream


async def test_a_ballot_after_close_is_refused_and_writes_nothing(store: EventStore, pool: asyncpg.Pool) -> None:
    forums = ForumService(pool, store, ProjectionRunner(pool, all_projections()))
    forum_id = await forum_with_delegates(forums, 2)
    await forums.cast_ballot(forum_id, f.CastBallot(delegate_id="d0", approvals=("P1",)), META)
    await forums.close(forum_id, META, no_mandate_confirmed=True)
    before = await pool.fetchval("SELECT count(*) FROM events")
    with pytest.raises(DomainError, match="sudah ditutup"):
        await forums.cast_ballot(forum_id, f.CastBallot(delegate_id="d1", approvals=("P2",)), META)
    with pytest.raises(DomainError, match="sudah ditutup"):
        await forums.close(forum_id, META, no_mandate_confirmed=True)
    assert await pool.fetchval("SELECT count(*) FROM events") == before


async def test_no_ballot_lands_after_a_close_racing_with_them(store: EventStore, pool: asyncpg.Pool) -> None:
    forums = ForumService(pool, store, ProjectionRunner(pool, all_projections()))
    forum_id = await forum_with_delegates(forums, 120)
    counted = 0

    async def vote(i: int) -> bool:
        nonlocal counted
        await asyncio.sleep(0.002 * i)
        try:
            await forums.cast_ballot(forum_id, f.CastBallot(delegate_id=f"d{i}", approvals=("P0",)), META)
        except DomainError:
            return False
        counted += 1
        return True

    async def close_midway() -> None:
        while counted < 30:
            await asyncio.sleep(0.001)
        await forums.close(forum_id, META, no_mandate_confirmed=True)

    outcomes = await asyncio.gather(*(vote(i) for i in range(120)), close_midway())
    accepted = sum(1 for o in outcomes[:-1] if o)
    forum, recomputed = await forums.recompute(forum_id)
    assert forum.result.ballots == accepted  # every accepted ballot counted, none after
    assert recomputed == forum.result
    closed_at = await pool.fetchval("SELECT global_position FROM events WHERE event_type = 'forum.closed'")
    late = await pool.fetchval(
        "SELECT count(*) FROM events WHERE event_type = 'forum.ballot_cast' AND global_position > $1", closed_at
    )
    assert late == 0


async def test_the_close_waits_for_a_ballot_in_flight_and_refuses_the_next(
    store: EventStore, pool: asyncpg.Pool
) -> None:
    forums = ForumService(pool, store, ProjectionRunner(pool, all_projections()))
    forum_id = await forum_with_delegates(forums, 3)
    await forums.cast_ballot(forum_id, f.CastBallot(delegate_id="d0", approvals=("P0",)), META)
    forum, head = await forums.load(forum_id)
    [in_flight] = f.decide_ballot(forum, f.CastBallot(delegate_id="d1", approvals=("P1",)))
    async with pool.acquire() as conn:
        txn = conn.transaction()
        await txn.start()
        await hold_open(conn, forum_id, head)  # a ballot decided and being written...
        await store.append(Append(f.ballot_stream(forum_id, "d1"), NEW_STREAM, [in_flight]), conn=conn)
        closing = asyncio.create_task(forums.close(forum_id, META, no_mandate_confirmed=True))
        await asyncio.sleep(0.5)
        assert not closing.done()  # ...the close waits for it
        await txn.commit()
    await closing
    forum, _ = await forums.load(forum_id)
    assert forum.result.ballots == 2  # the ballot in flight counted
    with pytest.raises(DomainError, match="sudah ditutup"):  # the next one is refused
        await forums.cast_ballot(forum_id, f.CastBallot(delegate_id="d2", approvals=("P2",)), META)


async def test_two_score_saves_at_once_each_keep_the_other_s_rows(store: EventStore, pool: asyncpg.Pool) -> None:
    """A consensus form sends only the rows it changed, and a sheet replaces the one before it. Merged into
    the sheet as read before the write, the second of two saves at once wrote a sheet without the first's
    row; merged inside the append's transaction, against the sheet's head, it waits, reads and merges again."""
    forums = ForumService(pool, store, ProjectionRunner(pool, all_projections()))
    forum_id = await forum_with_delegates(forums, 1, rule="weighted-criteria", ballot_kind=None)
    row = {m: dict.fromkeys((c.key for c in f.DEFAULT_CRITERIA), m) for m in range(1, 6)}
    stream = f.scores_stream(forum_id, "konsensus")
    await forums.amend_scores(forum_id, "konsensus", {"P0": row[3]}, META)
    forum, head = await forums.load(forum_id)
    [in_flight] = f.decide_scores(forum, f.GiveScores(sheet="konsensus", marks={"P0": row[3], "P1": row[4]}))
    async with pool.acquire() as conn:
        txn = conn.transaction()
        await txn.start()
        await hold_open(conn, forum_id, head)  # another tab's save, written and not yet committed...
        await store.append(Append(stream, await store.head(stream, conn), [in_flight]), conn=conn)
        saving = asyncio.create_task(forums.amend_scores(forum_id, "konsensus", {"P2": row[5]}, META))
        await asyncio.sleep(0.5)
        assert not saving.done()  # ...this save wrote against the same sheet: it waits for the other's commit
        await txn.commit()
    await saving
    await forums.amend_scores(forum_id, "konsensus", {"P0": None}, META)  # a row emptied: no longer scored
    sheets = [e.event.marks for e in await store.read_stream(stream)]
    assert sheets[-2] == {"P0": row[3], "P1": row[4], "P2": row[5]}
    assert sheets[-1] == {"P1": row[4], "P2": row[5]} and len(sheets) == 4


async def test_a_kelurahan_forum_forwards_to_its_kecamatan_forum(store: EventStore, pool: asyncpg.Pool) -> None:
    await open_test_cycle(store)
    runner = ProjectionRunner(pool, all_projections())
    await runner.catch_up_all()
    proposals = ProposalService(pool, store, b"k" * 32, runner)
    codes = []
    for n, cost in enumerate((30_000_000, 50_000_000, 40_000_000)):
        raw = proposal_rules.ProposalInput(
            kelurahan="32.75.01.1001", rw=str(n + 1), rt="1", kind="fisik", bidang="infrastruktur",
            title=f"Perbaikan jalan RW {n + 1}", problem="Jalan rusak parah sejak lama", solution="Pengaspalan ulang",
            beneficiaries="100", volume="100", unit="meter", estimated_cost=str(cost), address="Jl. Mawar",
        )  # fmt: skip
        content = await proposals.validate(raw, year=2022)
        submitted = await proposals.submit(
            content, proposal_rules.Proposer(name="Warga", phone="+6281234567"), idempotency_key=f"fwd-{n}",
            request_fingerprint=str(n), year=2022
        )  # fmt: skip
        await proposals.verify(proposal_rules.VerifyProposal(code=submitted.code, decision="accept"), META)
        codes.append(submitted.code)
    await runner.catch_up_all()

    forums = ForumService(pool, store, ProjectionRunner(pool, all_projections()))
    kelurahan = new_forum_id()
    await forums.schedule(f.ScheduleForum(
        forum_id=kelurahan, level="kelurahan", region="32.75.01.1001", year=2022, title="Musrenbang Kelurahan",
        held_on=FORUM_DAY, place="Aula", chair="Lurah", ceiling=80_000_000,
    ), META)  # fmt: skip
    await forums.open(kelurahan, META)  # agenda: the verified proposals of the kelurahan
    forum, _ = await forums.load(kelurahan)
    assert sorted(a.item_id for a in forum.agenda) == sorted(codes)
    keys = [c.key for c in f.DEFAULT_CRITERIA]
    marks = {code: dict.fromkeys(keys, 5 - n) for n, code in enumerate(codes)}
    await forums.give_scores(kelurahan, f.GiveScores(sheet="konsensus", marks=marks), META)
    await forums.close(kelurahan, META, no_mandate_confirmed=True)
    await runner.catch_up_all()

    kecamatan = new_forum_id()
    await forums.schedule(f.ScheduleForum(
        forum_id=kecamatan, level="kecamatan", region="32.75.01", year=2022, title="Musrenbang Kecamatan",
        held_on=FORUM_DAY, place="Aula", chair="Camat", ceiling=500_000_000,
    ), META)  # fmt: skip
    await forums.open(kecamatan, META)
    forwarded, _ = await forums.load(kecamatan)
    # 30 + 50 fit in 80 million; the third (40) did not.
    assert sorted(a.item_id for a in forwarded.agenda) == sorted(codes[:2])
    timeline = await pool.fetch(
        "SELECT data->>'selected' AS selected, data->>'reason' AS reason FROM events"
        " WHERE stream_id = $1 AND event_type = 'proposal.decided_at_forum'",
        proposal_rules.stream_id(codes[2]),
    )
    assert [(r["selected"], r["reason"]) for r in timeline] == [("false", "over_ceiling")]
    assert (
        await pool.fetchval("SELECT kind FROM proposal_timeline WHERE code = $1 ORDER BY seq DESC LIMIT 1", codes[2])
        == "proposal.decided_at_forum"
    )
