"""Session 29h: a forum whose delegates were corrected (`forum.delegate_corrected`) and withdrawn
(`forum.delegate_withdrawn`) still recomputes from the exported log alone, and `musrenbang verify --file
--against` agrees with what the server publishes — the result and the attendance (delegates and women, as
corrected, those withdrawn left out), which is now compared too."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import asyncpg
import httpx

from musrenbang.audit.against import compare_with_server
from musrenbang.audit.verify_file import verify_file
from musrenbang.domain import forum as f
from musrenbang.domain import proposal as rules
from musrenbang.eventlog.store import EventStore
from musrenbang.projections import all_projections
from musrenbang.projections.runner import ProjectionRunner
from musrenbang.services.forums import ForumService, new_forum_id
from musrenbang.services.proposals import ProposalService
from tests.cycles import FORUM_DAY, open_test_cycle
from tests.history import KELURAHAN_A, META, YEAR, _submit
from tests.server import Server


def run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["musrenbang", *args], env=env, capture_output=True, text=True, timeout=300)


async def _forum_with_corrections(pool: asyncpg.Pool, store: EventStore) -> str:
    """A kelurahan forum: four registered, Budi's name and gender corrected before it opens, d4 (registered
    by mistake) withdrawn, d3's group corrected while it is open; three vote, Budi is mandated, closed."""
    await open_test_cycle(store)
    runner = ProjectionRunner(pool, all_projections())
    await runner.catch_up_all()
    proposals = ProposalService(pool, store, b"s" * 32, runner)
    codes = [await _submit(proposals, n, KELURAHAN_A, n + 1) for n in range(2)]
    for code in codes:
        await proposals.verify(rules.VerifyProposal(code=code, decision="accept"), META)
    await runner.catch_up_all()
    forums = ForumService(pool, store, runner)
    forum_id = new_forum_id()
    await forums.schedule(f.ScheduleForum(forum_id=forum_id, level="kelurahan", region=KELURAHAN_A, year=YEAR,
                                          title="Musrenbang Kelurahan Bekasijaya", held_on=FORUM_DAY, place="Aula",
                                          chair="Lurah", ceiling=15_000_000, rule="greedy",
                                          ballot_kind="approval"), META)  # fmt: skip
    await forums.register_delegates(forum_id, [
        f.RegisterDelegate(delegate_id="d1", name="Ani", gender="P"),
        f.RegisterDelegate(delegate_id="d2", name="Budi Santosa", represents="RW 03", gender="P"),
        f.RegisterDelegate(delegate_id="d3", name="Cahya", represents="RW 1", gender="L"),
        f.RegisterDelegate(delegate_id="d4", name="Ani", represents="LPM", gender="P", same_name_confirmed=True),
    ], META)  # fmt: skip
    await forums.correct_delegate(forum_id, f.CorrectDelegate(delegate_id="d2", name="Budi Santoso",
                                                              represents="RW 03", gender="L", reason="salah ketik"),
                                  META)  # fmt: skip
    await forums.withdraw_delegate(forum_id, f.WithdrawDelegate(delegate_id="d4", reason="terdaftar dua kali"), META)
    await forums.open(forum_id, META)
    await forums.correct_delegate(forum_id, f.CorrectDelegate(delegate_id="d3", name="Cahya", represents="RW 01",
                                                              gender="L", reason="nomor RW"), META)  # fmt: skip
    for delegate, chosen in (("d1", codes), ("d2", codes[:1]), ("d3", codes[1:])):
        await forums.cast_ballot(forum_id, f.CastBallot(delegate_id=delegate, approvals=tuple(chosen)), META)
    await forums.mandate(forum_id, f.MandateDelegates(delegate_ids=("d2",)), META)
    await forums.close(forum_id, META)
    return forum_id


async def test_corrected_and_withdrawn_delegates_recompute_and_agree_with_the_server(
    pool: asyncpg.Pool, store: EventStore, cli_env: dict[str, str], database_url: str, tmp_path: Path, free_port: int
) -> None:
    forum_id = await _forum_with_corrections(pool, store)
    exported = tmp_path / "log.jsonl"
    done = run(cli_env, "export", "events", "--out", str(exported))
    assert done.returncode == 0, done.stderr
    types = [json.loads(line)["type"] for line in exported.read_text(encoding="utf-8").splitlines()[1:]]
    assert types.count("forum.delegate_corrected") == 2 and types.count("forum.delegate_withdrawn") == 1

    report = verify_file(exported)
    closed = report.recomputer.closed[forum_id]
    assert report.recomputer.differences == []
    assert (closed.delegates, closed.women) == (3, 1)  # d4 withdrawn; Budi a man, as corrected
    assert closed.recomputed is not None and closed.recomputed == closed.stored

    done = run(cli_env, "verify", "--file", str(exported))
    assert done.returncode == 0 and "all agree" in done.stdout, done.stdout + done.stderr

    server = Server(free_port, database_url=database_url)
    try:
        server.wait_healthy()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:  # the server's read models follow the log within moments
            body = httpx.get(f"{server.base_url}/api/v1/forums/{forum_id}", timeout=10).json()
            if body.get("status") == "closed":
                break
            time.sleep(0.2)
        assert (body["delegates"], body["women_delegates"]) == (3, 1)
        done = run(cli_env, "verify", "--file", str(exported), "--against", server.base_url)
        assert done.returncode == 0, done.stdout + done.stderr
        assert "all agree" in done.stdout
        # The attendance is compared: a recomputation that still counted the withdrawn delegate, or Budi as a
        # woman, differs from what the server publishes.
        report.recomputer.closed[forum_id] = closed._replace(delegates=4, women=2)
        differences = compare_with_server(server.base_url, report.recomputer)
        assert f"forum {forum_id} (/api/v1/forums/{forum_id}): delegates 3 published, 4 recomputed" in differences
        assert any("women delegates 1 published, 2 recomputed" in d for d in differences)
    finally:
        server.stop()


async def test_a_ballot_of_a_withdrawn_delegate_in_a_log_is_reported(pool: asyncpg.Pool, store: EventStore) -> None:
    """A log no desk could write (the rules refuse it): a withdrawal after the delegate's ballot."""
    from musrenbang.domain.events import BallotCast, DelegateWithdrawn
    from musrenbang.recompute import Recomputer, Where

    rec = Recomputer()
    schedule = f.decide(f.Forum(), f.ScheduleForum(
        forum_id="F1", level="kelurahan", region=KELURAHAN_A, year=YEAR, title="T", held_on=FORUM_DAY, place="",
        chair="", ceiling=10, rule="greedy", ballot_kind="approval"))[0]  # fmt: skip
    stream = f.stream_id("F1")
    rec.feed(Where(1, stream, 1), schedule)
    rec.feed(Where(2, stream, 2), f.decide(f.Forum(schedule=schedule, status=f.SCHEDULED),
                                           f.RegisterDelegate(delegate_id="d1", name="Ani"))[0])  # fmt: skip
    rec.feed(Where(3, stream, 3), f.decide(f.Forum(schedule=schedule, status=f.SCHEDULED), f.OpenForum(agenda=()))[0])
    rec.feed(Where(4, f.ballot_stream("F1", "d1"), 1), BallotCast(forum_id="F1", delegate_id="d1"))
    rec.feed(Where(5, stream, 4), DelegateWithdrawn(forum_id="F1", delegate_id="d1", reason="keliru"))
    rec.feed(Where(6, f.ballot_stream("F1", "d1"), 2), BallotCast(forum_id="F1", delegate_id="d1"))
    assert any("delegate d1 withdrawn (global position 5) after their ballot" in d for d in rec.differences)
    assert any("global position 6) of a delegate who was withdrawn" in d for d in rec.differences)
