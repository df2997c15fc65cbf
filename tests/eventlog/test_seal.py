"""Seals over the whole log: deleting any sealed event, a stream's tail or a whole stream is detected and
named, in the database and in an exported file, and a noted head that is gone fails `verify --head`."""

from __future__ import annotations

import asyncio
import json
import subprocess
from pathlib import Path

import asyncpg

from musrenbang.domain.events import CycleStageAdvanced
from musrenbang.eventlog import seal
from musrenbang.eventlog.store import NEW_STREAM, Append, EventStore
from tests.eventlog.test_verify import behind_the_logs_back


def ev(i: int) -> CycleStageAdvanced:
    return CycleStageAdvanced(year=2000 + i, stage="kelurahan")


def musrenbang(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["musrenbang", *args], env=env, capture_output=True, text=True, timeout=120)


async def sealing(store: EventStore) -> int:
    """`seal.seal`, again while it finds nothing below the horizon. The horizon holds back for any running
    transaction it cannot place in another database (eventlog/order.py), such as one of another test's
    database that began between its snapshot and its read of pg_stat_activity, or autovacuum's in this
    one: for a moment, events just committed lie above it. On a loaded machine a first seal found nothing
    once; and while another test's database took transactions back to back (a large Pabulib import), a
    seal covered only the first streams. So it first waits, up to ten seconds, for the horizon to pass
    every event the log holds."""
    for _ in range(200):
        if await store.pool.fetchval("SELECT NOT EXISTS (SELECT 1 FROM events WHERE tx >= (SELECT event_horizon()))"):
            break
        await asyncio.sleep(0.05)
    for _ in range(100):
        if covered := await seal.seal(store):
            return covered
        await asyncio.sleep(0.05)
    return 0


async def sealed_log(store: EventStore) -> tuple[seal.Seal, seal.Seal]:
    """Three streams under seal 1, more events and a fourth stream under seal 2."""
    for s in range(3):
        await store.append(Append(f"s-{s}", NEW_STREAM, [ev(i) for i in range(4)]))
    assert await sealing(store) == 12
    assert await seal.seal(store) == 0  # nothing new but the seal itself
    await store.append(Append("s-3", NEW_STREAM, [ev(1), ev(2)]))
    assert await sealing(store) == 3  # the two new events and seal 1
    async with store.pool.acquire() as conn:
        first = await seal.find(conn, (await conn.fetchval(
            "SELECT data->>'hash' FROM events WHERE stream_id = 'log-seals' AND stream_version = 1")))  # fmt: skip
        newest = await seal.latest(conn)
    assert first is not None and newest is not None and newest.seal == 2 and newest.events == 15
    return first, newest


async def test_seals_chain_and_verify(store: EventStore, cli_env: dict[str, str]) -> None:
    first, newest = await sealed_log(store)
    done = musrenbang(cli_env, "verify", "--head", first.hash)
    assert done.returncode == 0, done.stderr
    assert "intact: 16 events in 5 streams; 2 seal(s)" in done.stdout
    assert f"the newest: seal 2 at global position {newest.position} (15 events), hash {newest.hash}" in done.stdout


async def test_deleting_a_streams_tail_or_a_whole_stream_is_named(
    store: EventStore, pool: asyncpg.Pool, cli_env: dict[str, str]
) -> None:
    await sealed_log(store)
    # The chains alone cannot see either: what is left of each stream is intact.
    await behind_the_logs_back(pool, "DELETE FROM events WHERE stream_id = 's-1' AND stream_version >= 3")
    await behind_the_logs_back(pool, "DELETE FROM events WHERE stream_id = 's-3'")
    done = musrenbang(cli_env, "verify")
    assert done.returncode == 1
    assert "stream s-1: sealed at version 4 by seal 1, the log ends at version 2 (version 3-4 missing)" in done.stderr
    assert "stream s-3: sealed at version 2 by seal 2, missing from the log" in done.stderr
    assert "seal 1 (up to global position" in done.stderr and "2 sealed event(s) missing" in done.stderr
    assert "chain broken" not in done.stderr


async def test_an_event_changed_in_place_is_named_as_changed_not_as_missing(
    store: EventStore, pool: asyncpg.Pool, cli_env: dict[str, str]
) -> None:
    """The chain breaks at the changed event, and the seal check took the stream's last good version for
    its end: "the log ends at version 1 (version 2-4 missing)" of a stream whose four events are all there."""
    await sealed_log(store)
    await behind_the_logs_back(pool, "UPDATE events SET data = jsonb_set(data, '{year}', '1999')"
                                     " WHERE stream_id = 's-0' AND stream_version = 2")  # fmt: skip
    done = musrenbang(cli_env, "verify")
    assert done.returncode == 1
    assert "s-0" in done.stderr and "chain broken" in done.stderr, done.stderr
    assert "missing" not in done.stderr, done.stderr


async def test_a_changed_sealed_event_rehashed_consistently_is_still_caught(
    store: EventStore, pool: asyncpg.Pool, cli_env: dict[str, str]
) -> None:
    """A forger who rewrites an event and recomputes its stream's chain passes the chain check; the seal
    over the old hashes does not match any more."""
    await sealed_log(store)
    await behind_the_logs_back(pool, "DELETE FROM events WHERE stream_id = 's-2'")
    await store.append(Append("s-2", NEW_STREAM, [ev(9) for _ in range(4)]))  # a fresh, valid chain
    done = musrenbang(cli_env, "verify")
    assert done.returncode == 1
    assert "stream s-2: version 4 is not what seal 1 sealed" in done.stderr
    assert "seal 1" in done.stderr and "sealed event(s) missing" in done.stderr


async def test_a_noted_head_that_was_deleted_fails_verify_head(
    store: EventStore, pool: asyncpg.Pool, cli_env: dict[str, str]
) -> None:
    _, newest = await sealed_log(store)
    # Delete the newest seal and everything after seal 1: what remains is consistent with itself.
    await behind_the_logs_back(pool, "DELETE FROM events WHERE stream_id IN ('s-3') OR"
                                     " (stream_id = 'log-seals' AND stream_version = 2)")  # fmt: skip
    plain = musrenbang(cli_env, "verify")
    assert plain.returncode == 0, plain.stderr  # without the noted head, nothing shows
    done = musrenbang(cli_env, "verify", "--head", newest.hash)
    assert done.returncode == 1
    assert (f"the log holds no seal with the hash {newest.hash} (mistyped, a seal of another site's log, or its events"
            " were removed); the newest seal in the log is seal 1" in done.stderr)  # fmt: skip
    bad = musrenbang(cli_env, "verify", "--head", "not-a-hash")
    assert bad.returncode == 3 and "64 hexadecimal digits" in bad.stderr


async def test_an_exported_file_checks_its_seals_and_a_noted_head(
    store: EventStore, cli_env: dict[str, str], tmp_path: Path
) -> None:
    first, newest = await sealed_log(store)
    out = tmp_path / "log.jsonl"
    assert musrenbang(cli_env, "export", "events", "--out", str(out)).returncode == 0
    done = musrenbang(cli_env, "verify", "--file", str(out), "--head", newest.hash)
    assert done.returncode == 0, done.stderr
    assert "seals checked: 2" in done.stdout

    lines = [json.loads(x) for x in out.read_text().splitlines()]
    kept = [dict(x) for x in lines if not (x.get("stream") == "s-0" and x["version"] == 4)]
    kept[0]["events"] -= 1
    cut = tmp_path / "cut.jsonl"
    cut.write_text("".join(json.dumps(x) + "\n" for x in kept))
    done = musrenbang(cli_env, "verify", "--file", str(cut), "--head", newest.hash)
    assert done.returncode == 1
    assert "stream s-0: sealed at version 4 by seal 1, the log ends at version 3 (version 4 missing)" in done.stderr
    assert "1 sealed event(s) missing" in done.stderr

    without_seal_2 = [dict(x) for x in lines if not (x.get("stream") == "log-seals" and x["version"] == 2)]
    without_seal_2[0]["events"] -= 1
    without_seal_2[0]["last_position"] = without_seal_2[-1]["position"]
    gone = tmp_path / "gone.jsonl"
    gone.write_text("".join(json.dumps(x) + "\n" for x in without_seal_2))
    done = musrenbang(cli_env, "verify", "--file", str(gone), "--head", newest.hash)
    assert done.returncode == 1 and f"holds no seal with the hash {newest.hash}" in done.stderr
    assert musrenbang(cli_env, "verify", "--file", str(gone), "--head", first.hash).returncode == 0


async def test_a_slow_transaction_is_sealed_in_its_place_in_the_safe_order(
    store: EventStore, pool: asyncpg.Pool, cli_env: dict[str, str], tmp_path: Path
) -> None:
    """A transaction that started first commits last: its event has the lower order key but the higher
    position. No seal covers anything past it until it ends, and the checkers, reading in position order,
    put it back in key order."""
    async with pool.acquire() as slow, slow.transaction():
        await slow.execute("CREATE TEMP TABLE takes_an_id (x int)")  # the older transaction id
        fast = await store.append(Append("fast", NEW_STREAM, [ev(1)]))
        assert await seal.seal(store) == 0  # the horizon stops below the slow transaction
        late = await store.append(Append("slow", NEW_STREAM, [ev(2)]), conn=slow)
    assert late.last.tx < fast.last.tx and late.positions[0] > fast.positions[0]  # the race happened
    assert await sealing(store) == 2
    done = musrenbang(cli_env, "verify")
    assert done.returncode == 0, done.stderr
    out = tmp_path / "log.jsonl"
    assert musrenbang(cli_env, "export", "events", "--out", str(out)).returncode == 0
    done = musrenbang(cli_env, "verify", "--file", str(out))
    assert done.returncode == 0, done.stderr
