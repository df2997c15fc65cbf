"""Every projection, fed every kind of event, is rebuilt byte for byte by a replay."""

from __future__ import annotations

import asyncpg

from musrenbang.domain import forum as f
from musrenbang.domain import proposal as rules
from musrenbang.domain.events import AgendaItem
from musrenbang.eventlog.store import EventStore, Metadata
from musrenbang.photos import process
from musrenbang.projections import all_projections
from musrenbang.projections.runner import ProjectionRunner
from musrenbang.services.bootstrap import start_first_cycle
from musrenbang.services.forums import ForumService, new_forum_id
from musrenbang.services.proposals import ProposalService
from tests.images import jpeg_with_gps
from tests.projections.recording import table_checksum

META = Metadata(actor="uji", role="admin")


async def submit(proposals: ProposalService, n: int, **changes: str) -> str:
    raw = rules.ProposalInput(
        kelurahan="32.75.01.1001", rw=str(n + 1), rt="1", kind="fisik", bidang="infrastruktur",
        title=f"Usulan nomor {n}", problem="Masalah yang cukup panjang", solution="Penyelesaian yang jelas",
        beneficiaries="50", volume="10", unit="meter", estimated_cost="10 juta", address="Jl. Uji",
    )  # fmt: skip
    content = await proposals.validate(
        rules.ProposalInput(**{**{k: getattr(raw, k) for k in raw.__struct_fields__}, **changes})
    )
    submitted = await proposals.submit(content, rules.Proposer(name="Warga", phone="+6281234567"),
                                       idempotency_key=f"replay-{n}", request_fingerprint=str(n),
                                       photos=[process(jpeg_with_gps())] if n == 0 else [])  # fmt: skip
    return submitted.code


async def test_replaying_every_projection_gives_the_same_tables(store: EventStore, pool: asyncpg.Pool) -> None:
    await start_first_cycle(store)
    runner = ProjectionRunner(pool, all_projections())
    await runner.catch_up_all()
    proposals = ProposalService(pool, store, b"s" * 32)
    codes = [await submit(proposals, n) for n in range(5)]
    await proposals.verify(rules.VerifyProposal(code=codes[0], decision="return", reason="lengkapi"), META)
    content = await proposals.validate(rules.ProposalInput(
        kelurahan="32.75.01.1001", rw="1", rt="2", kind="fisik", bidang="infrastruktur", title="Usulan nomor 0 revisi",
        problem="Masalah yang cukup panjang", solution="Penyelesaian yang jelas", beneficiaries="60", volume="10",
        unit="meter", estimated_cost="10 juta", address="Jl. Uji"))  # fmt: skip
    await proposals.revise(codes[0], proposals.revision_secret(codes[0]), content)
    await proposals.merge(rules.MergeProposals(into=codes[0], codes=(codes[4],), reason="sama"), META)
    await proposals.verify(rules.VerifyProposal(code=codes[0], decision="accept"), META)
    await proposals.verify(rules.VerifyProposal(code=codes[1], decision="accept_with_changes", agreed_cost=8_000_000,
                                                reason="harga"), META)  # fmt: skip
    await proposals.verify(rules.VerifyProposal(code=codes[2], decision="reject", reason="bukan kewenangan"), META)
    await proposals.verify(rules.VerifyProposal(code=codes[3], decision="accept"), META)
    await runner.catch_up_all()

    forums = ForumService(pool, store)
    forum_id = new_forum_id()
    await forums.schedule(f.ScheduleForum(forum_id=forum_id, level="kelurahan", region="32.75.01.1001", year=2022,
                                          title="Forum", held_on=None, place="Aula", chair="Lurah", ceiling=15_000_000,
                                          rule="greedy", ballot_kind="approval"), META)  # fmt: skip
    delegates = [f.RegisterDelegate(delegate_id="d1", name="A", gender="P"),
                 f.RegisterDelegate(delegate_id="d2", name="B", gender="L")]  # fmt: skip
    await forums.register_delegates(forum_id, delegates, META)
    await forums.open(forum_id, META)
    forum, _ = await forums.load(forum_id)
    items = [a.item_id for a in forum.agenda]
    await forums.adjust(forum_id, f.AdjustItem(item_id=items[0], reason="harga", agreed_cost=7_000_000), META)
    await forums.cast_ballot(forum_id, f.CastBallot(delegate_id="d1", approvals=tuple(items)), META)
    await forums.cast_ballot(forum_id, f.CastBallot(delegate_id="d2", approvals=(items[-1],)), META)
    await forums.cast_ballot(forum_id, f.CastBallot(delegate_id="d2", approvals=(items[0],)), META)  # replaces
    await forums.mandate(forum_id, f.MandateDelegates(delegate_ids=("d1",)), META)
    await forums.close(forum_id, META)
    criteria_forum = new_forum_id()
    await forums.schedule(f.ScheduleForum(forum_id=criteria_forum, level="kecamatan", region="32.75.01", year=2022,
                                          title="Forum kecamatan", held_on=None, place="Aula", chair="Camat",
                                          ceiling=100_000_000), META)  # fmt: skip
    await runner.catch_up_all()
    await forums.open(criteria_forum, META, agenda=(AgendaItem(item_id="X", title="X", cost=1),))
    marks = {"X": {c.key: 4 for c in f.DEFAULT_CRITERIA}}
    await forums.give_scores(criteria_forum, f.GiveScores(sheet="konsensus", marks=marks), META)
    await forums.close(criteria_forum, META)
    await runner.catch_up_all()

    types = {r[0] for r in await pool.fetch("SELECT DISTINCT event_type FROM events")}
    from musrenbang.domain.events import EVENT_TYPES

    assert types == set(EVENT_TYPES) - {"cycle.stage_advanced"}  # every kind but one is in this history
    tables = [t for p in all_projections() for t in p.tables]
    async with pool.acquire() as conn:
        before = {t: await table_checksum(conn, t) for t in tables}
        for projection in all_projections():
            await runner.replay(projection)
        after = {t: await table_checksum(conn, t) for t in tables}
    assert after == before
    assert await pool.fetchval("SELECT count(*) FROM proposals") == 5
