"""Decisions never freeze stale data: with the projection workers held back, opening a forum and the city
intake wait for the read models to reach the log's head, and refuse cleanly (writing nothing) when they
cannot; once the read models catch up, they decide on what the log says."""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
from collections.abc import AsyncIterator, Sequence

import asyncpg
import pytest

from musrenbang.domain import forum as f
from musrenbang.domain import proposal as p
from musrenbang.domain.events import AgendaItem
from musrenbang.eventlog.store import EventStore, Metadata
from musrenbang.projections import all_projections
from musrenbang.projections.runner import ProjectionRunner
from musrenbang.services.forums import ForumService, new_forum_id
from musrenbang.services.freshness import ReadModelBehind
from musrenbang.services.proposals import ProposalService
from musrenbang.services.rkpd import RkpdService
from tests.conftest import with_database
from tests.cycles import FORUM_DAY, open_test_cycle

META = Metadata(actor="uji", role="admin")
KELURAHAN = "32.75.01.1001"


class Impatient:
    """The runner, waiting at most `timeout` seconds for the read models (the services' default is longer)."""

    def __init__(self, runner: ProjectionRunner, timeout: float) -> None:
        self.runner, self.timeout = runner, timeout

    async def wait_for_head(self, names: Sequence[str], timeout: float = 0) -> bool:
        return await self.runner.wait_for_head(names, self.timeout)


@contextlib.asynccontextmanager
async def held_back(pool: asyncpg.Pool, name: str) -> AsyncIterator[None]:
    """Another worker is in the middle of a batch of projection `name` and does not finish it."""
    await pool.execute("INSERT INTO projection_checkpoints (name) VALUES ($1) ON CONFLICT DO NOTHING", name)
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute("SELECT 1 FROM projection_checkpoints WHERE name = $1 FOR UPDATE", name)
        yield


async def accepted_proposal(proposals: ProposalService, n: int) -> str:
    content = await proposals.validate(p.ProposalInput(
        kelurahan=KELURAHAN, rw=1, rt=1, kind="fisik", bidang="infrastruktur", title=f"Usulan nomor {n}",
        problem="Masalah yang cukup panjang", solution="Penyelesaian yang jelas", beneficiaries=50, volume=10,
        unit="meter", estimated_cost=10_000_000, address="Jl. Uji"), year=2022)  # fmt: skip
    done = await proposals.submit(content, p.Proposer(name="Siti", phone="+6281234567890"),
                                  idempotency_key=f"fresh-{n}", request_fingerprint=str(n), year=2022)  # fmt: skip
    await proposals.verify(p.VerifyProposal(code=done.code, decision="accept"), META)
    return done.code


async def test_opening_a_forum_waits_for_the_accepted_proposals_or_refuses(
    pool: asyncpg.Pool, store: EventStore
) -> None:
    runner = ProjectionRunner(pool, all_projections())
    await open_test_cycle(store)
    proposals = ProposalService(pool, store, b"s" * 32, runner)
    first = await accepted_proposal(proposals, 1)
    await runner.catch_up_all()
    forums = ForumService(pool, store, Impatient(runner, 1.0))
    forum_id = new_forum_id()
    await forums.schedule(f.ScheduleForum(forum_id=forum_id, level="kelurahan", region=KELURAHAN, year=2022,
                                          title="Musrenbang uji", held_on=FORUM_DAY, place="Aula", chair="Lurah",
                                          ceiling=50_000_000), META)  # fmt: skip
    second = await accepted_proposal(proposals, 2)  # accepted in the log; the read model has not seen it
    events = await pool.fetchval("SELECT count(*) FROM events")

    async with held_back(pool, "proposals"):
        with pytest.raises(ReadModelBehind):
            await forums.open(forum_id, META)
    assert await pool.fetchval("SELECT count(*) FROM events") == events  # refused: nothing written

    # Held back for a moment only: the open waits, then freezes what the log says.
    patient = ForumService(pool, store, Impatient(runner, 10.0))
    async with held_back(pool, "proposals"):
        opening = asyncio.create_task(patient.open(forum_id, META))
        await asyncio.sleep(0.5)
        assert not opening.done()  # the race: it is waiting for the read model
    await opening
    forum, _ = await forums.load(forum_id)
    assert [a.proposal for a in forum.agenda] == sorted([first, second])


async def test_the_city_intake_waits_for_what_the_kecamatan_forwarded_or_refuses(
    pool: asyncpg.Pool, store: EventStore
) -> None:
    runner = ProjectionRunner(pool, all_projections())
    await open_test_cycle(store)
    proposals = ProposalService(pool, store, b"s" * 32, runner)
    code = await accepted_proposal(proposals, 3)
    await runner.catch_up_all()
    # A kecamatan forum selects it and forwards it to the city; the forums read model has not applied it.
    forums = ForumService(pool, store, runner)
    forum_id = new_forum_id()
    await forums.schedule(f.ScheduleForum(forum_id=forum_id, level="kecamatan", region="32.75.01", year=2022,
                                          title="Musrenbang Kecamatan uji", held_on=FORUM_DAY, place="Aula",
                                          chair="Camat", ceiling=50_000_000), META)  # fmt: skip
    await forums.open(forum_id, META, agenda=(AgendaItem(item_id=code, proposal=code, title="Saluran",
                                                         cost=10_000_000, kelurahan=KELURAHAN),))  # fmt: skip
    marks = {code: {c.key: 4 for c in f.DEFAULT_CRITERIA}}
    await forums.give_scores(forum_id, f.GiveScores(sheet="konsensus", marks=marks), META)
    await forums.close(forum_id, META, no_mandate_confirmed=True)
    events = await pool.fetchval("SELECT count(*) FROM events")
    async with held_back(pool, "forums"):
        with pytest.raises(ReadModelBehind):
            await RkpdService(pool, store, Impatient(runner, 1.0)).receive(2022, META)
    assert await pool.fetchval("SELECT count(*) FROM events") == events

    patient = RkpdService(pool, store, Impatient(runner, 10.0))
    async with held_back(pool, "forums"):
        intake = asyncio.create_task(patient.receive(2022, META))
        await asyncio.sleep(0.5)
        assert not intake.done()  # waiting for the read model
    await intake
    assert set((await patient.load(2022)).items) == {code}


def test_the_demo_succeeds_while_another_database_is_busy(cli_env: dict[str, str], server_url: str) -> None:
    """Another database's open write transaction once stalled every projection, and the demo decided
    from read models that had not caught up (5 of 9 runs failed)."""

    async def busy() -> asyncpg.Connection:
        conn = await asyncpg.connect(with_database(server_url, "postgres"))
        await conn.execute("BEGIN")
        await conn.execute("CREATE TEMP TABLE busy_elsewhere (x int)")  # holds a transaction id
        return conn

    loop = asyncio.new_event_loop()
    try:
        other = loop.run_until_complete(busy())
        done = subprocess.run(["musrenbang", "demo"], env={**os.environ, **cli_env}, capture_output=True, text=True,
                              timeout=600)  # fmt: skip
        loop.run_until_complete(other.close())
    finally:
        loop.close()
    assert done.returncode == 0, done.stderr[-3000:]
    assert "Traceback" not in done.stderr and "RKPD lines adopted" in done.stdout
