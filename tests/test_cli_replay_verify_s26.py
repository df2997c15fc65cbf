"""`replay` verifies the log before it rebuilds from it: read models rebuilt from an event changed behind
the program's back would publish the change as if it had been recorded."""

from __future__ import annotations

import os

import asyncpg

from musrenbang.db.connect import create_pool
from musrenbang.domain.events import CycleStageAdvanced
from musrenbang.eventlog.store import NEW_STREAM, Append, EventStore
from tests.test_cli_review import musrenbang


async def _append(url: str, stream: str) -> None:
    pool = await create_pool(url, min_size=1, max_size=1)
    try:
        await EventStore(pool).append(Append(stream, NEW_STREAM, [CycleStageAdvanced(year=2031, stage="kelurahan")]))
    finally:
        await pool.close()


async def _tamper(url: str, stream: str) -> None:
    """What someone with the database's password could do: change an event, the log's guard switched off."""
    conn = await asyncpg.connect(url)
    try:
        await conn.execute("ALTER TABLE events DISABLE TRIGGER USER")
        await conn.execute("""UPDATE events SET data = jsonb_set(data, '{stage}', '"kecamatan"')"""
                           " WHERE stream_id = $1", stream)  # fmt: skip
        await conn.execute("ALTER TABLE events ENABLE TRIGGER USER")
    finally:
        await conn.close()


async def _generations(url: str) -> dict[str, int]:
    """Each read model's generation: a rebuild's switch draws a new one (projections/rebuild.py)."""
    conn = await asyncpg.connect(url)
    try:
        return dict(await conn.fetch("SELECT name, generation FROM projection_checkpoints"))
    finally:
        await conn.close()


async def test_a_replay_of_a_tampered_log_rebuilds_nothing_and_names_the_break(database_url: str) -> None:
    env = {**os.environ, "MUSRENBANG_DATABASE_URL": database_url}
    await _append(database_url, "cycle-s26-kept")
    await _append(database_url, "cycle-s26-changed")
    assert musrenbang(env, "replay").returncode == 0  # every read model has its generation
    await _tamper(database_url, "cycle-s26-changed")
    before = await _generations(database_url)
    assert before

    refused = musrenbang(env, "replay")
    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert "Traceback" not in refused.stderr
    assert "BROKEN: chain broken: stream cycle-s26-changed version 1" in refused.stderr, refused.stderr
    assert "the log does not verify (1 of 2 streams broken" in refused.stderr, refused.stderr
    assert "nothing was rebuilt" in refused.stderr and "replay --no-verify" in refused.stderr
    assert "events applied" not in refused.stdout
    assert await _generations(database_url) == before

    one = musrenbang(env, "replay", "--projection", "cycles")  # one read model is not rebuilt either
    assert one.returncode == 1 and "the log does not verify" in one.stderr, one.stderr
    assert await _generations(database_url) == before

    forced = musrenbang(env, "replay", "--no-verify")  # the operator's own choice: built on as it is
    assert forced.returncode == 0, forced.stderr
    assert "cycles: 2 events applied" in forced.stdout and "verif" not in forced.stderr
    after = await _generations(database_url)
    assert after.keys() == before.keys() and all(after[n] != before[n] for n in before)


async def test_a_replay_of_an_intact_log_says_it_was_verified_then_rebuilds(database_url: str) -> None:
    env = {**os.environ, "MUSRENBANG_DATABASE_URL": database_url}
    await _append(database_url, "cycle-s26-intact")
    done = musrenbang(env, "replay")
    assert done.returncode == 0, done.stderr
    assert "verified: 1 events in 1 streams, every chain intact; 0 seal(s) checked" in done.stderr, done.stderr
    assert "cycles: 1 events applied" in done.stdout
