"""The auditor's round trip on a real log: `musrenbang export events`, then `musrenbang verify --file`
(chains, every forum result and RKPD list recomputed), honest and tampered, and `--against` a server."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import time
import uuid
from pathlib import Path

import asyncpg
import httpx
import msgspec

from musrenbang.domain import values
from musrenbang.eventlog import codec
from musrenbang.eventlog.store import EventStore
from tests import history
from tests.server import Server


def run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["musrenbang", *args], env=env, capture_output=True, text=True, timeout=300)


def export(env: dict[str, str], out: Path) -> None:
    done = run(env, "export", "events", "--out", str(out))
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr


def read(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def write(path: Path, lines: list[dict]) -> None:
    path.write_text("".join(json.dumps(x, ensure_ascii=False) + "\n" for x in lines), encoding="utf-8")


def rehash(lines: list[dict], stream: str) -> None:
    """What a forger who knows the format would do: recompute the stream's chain so that it passes."""
    previous = codec.GENESIS_HASH
    for x in lines[1:]:
        if x["stream"] != stream:
            continue
        recorded_at = msgspec.json.decode(json.dumps(x["recorded_at"]), type=dt.datetime)
        canonical = codec.canonical(x["stream"], x["version"], uuid.UUID(x["event_id"]), x["type"], recorded_at,
                                    codec.encode(x["data"]), codec.encode(x["metadata"]))  # fmt: skip
        previous = codec.chain_hash(previous, canonical)
        x["hash"] = previous.hex()


async def test_an_honest_log_exports_without_personal_data_and_verifies(
    pool: asyncpg.Pool, store: EventStore, cli_env: dict[str, str], database_url: str, tmp_path: Path, free_port: int
) -> None:
    built = await history.build(pool, store)
    first, second = tmp_path / "log.jsonl", tmp_path / "again.jsonl"
    export(cli_env, first)
    export(cli_env, second)
    assert first.read_bytes() == second.read_bytes()  # the same log gives the same bytes

    text = first.read_text(encoding="utf-8")
    for name, phone in history.PROPOSERS:
        normalised = values.normalize_phone(phone)
        for secret in (name, phone, normalised, normalised[1:], "0" + normalised[3:]):
            assert secret not in text, secret
    lines = read(first)
    header, events = lines[0], lines[1:]
    assert header["format"] == "musrenbang-events" and header["events"] == len(events)
    assert header["last_position"] == events[-1]["position"]
    assert [e["position"] for e in events] == sorted(e["position"] for e in events)
    assert len(events) == await pool.fetchval("SELECT count(*) FROM events")
    submitted = [e for e in events if e["type"] == "proposal.submitted"]
    proposer = {e["data"]["code"]: e["proposer"] for e in submitted if e["data"]["source"] != "pokir"}
    assert all("proposer" not in e for e in submitted if e["data"]["source"] == "pokir")  # a member: no contact
    a0, a1, a2 = (proposer[c] for c in built.codes[:3])
    assert a0 == a1 != a2  # one person, typed two ways: matchable, not identifiable
    assert len(set(proposer.values())) == len(history.PROPOSERS) - 1
    assert all("proposer" not in e for e in events if e["type"] != "proposal.submitted")

    done = run(cli_env, "verify", "--file", str(first))
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"events: {len(events)} in " in done.stdout
    assert "forums recomputed: 3; RKPD years: 2022 (2 adoption(s)); pokir forwarded and checked: 1" in done.stdout
    assert "events/s" in done.stdout and "all agree" in done.stdout

    server = Server(free_port, database_url=database_url)
    try:
        server.wait_healthy()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:  # the server's read models follow the log within moments
            body = httpx.get(f"{server.base_url}/api/v1/rkpd/2022", timeout=10).json()
            if body.get("revision") == 2:
                break
            time.sleep(0.2)
        done = run(cli_env, "verify", "--file", str(first), "--against", server.base_url)
        assert done.returncode == 0, done.stdout + done.stderr
        assert "compared with" in done.stdout and "all agree" in done.stdout
    finally:
        server.stop()


async def test_tampering_shows_as_a_broken_chain_or_as_a_result_that_does_not_recompute(
    pool: asyncpg.Pool, store: EventStore, cli_env: dict[str, str], tmp_path: Path
) -> None:
    built = await history.build(pool, store)
    honest = tmp_path / "log.jsonl"
    export(cli_env, honest)
    forum_a = built.forums["kelurahan_a"]

    # A ballot changed in the file: its stream's chain breaks there.
    lines = read(honest)
    [ballot] = [x for x in lines[1:] if x["type"] == "forum.ballot_cast" and x["data"]["delegate_id"] == "d1"]
    ballot["data"]["approvals"] = []
    tampered = tmp_path / "ballot.jsonl"
    write(tampered, lines)
    done = run(cli_env, "verify", "--file", str(tampered))
    assert done.returncode == 1, done.stdout + done.stderr
    assert f"chain broken: stream {ballot['stream']} version 1 (global position {ballot['position']})," in done.stderr
    assert "event forum.ballot_cast" in done.stderr
    assert "Traceback" not in done.stderr

    # The forger re-hashes the ballot's stream: the chains pass, the forum's result no longer recomputes.
    rehash(lines, ballot["stream"])
    write(tampered, lines)
    done = run(cli_env, "verify", "--file", str(tampered))
    assert done.returncode == 1, done.stdout + done.stderr
    assert "chain broken" not in done.stderr
    assert f"difference: forum {forum_a} (stream forum-{forum_a}," in done.stderr
    assert f"item {built.codes[1]}: " in done.stderr and "no_support" in done.stderr

    # An adopted RKPD line's pagu changed, and the rkpd stream re-hashed.
    lines = read(honest)
    adopted = [x for x in lines[1:] if x["type"] == "rkpd.adopted"][-1]
    adopted["data"]["lines"][0]["pagu"] += 1_000_000
    adopted["data"]["total_pagu"] += 1_000_000
    rehash(lines, adopted["stream"])
    tampered = tmp_path / "rkpd.jsonl"
    write(tampered, lines)
    done = run(cli_env, "verify", "--file", str(tampered))
    assert done.returncode == 1, done.stdout + done.stderr
    assert "chain broken" not in done.stderr
    assert "difference: rkpd 2022 revision 2 (stream rkpd-2022 version" in done.stderr
    assert "line DBMSDA-002: pagu 51000000 in the adopted list, 50000000 from the line events" in done.stderr
    # The seal over the log (the history ends with one) sees the re-hashed events too, and names the stream.
    assert "the events it covers are no longer the events it sealed" in done.stderr
    assert "stream rkpd-2022: version" in done.stderr and "is not what seal 1 sealed" in done.stderr
    # The regulation that set it names the list by its hash, which the altered list no longer has.
    assert f"enactment {history.REGULATION!r}" in done.stderr and "is not the hash of the adopted list" in done.stderr
    assert done.stderr.count("difference:") == 4

    # Not an export at all: a plain error.
    garbage = tmp_path / "garbage.jsonl"
    garbage.write_text("hello\n")
    done = run(cli_env, "verify", "--file", str(garbage))
    assert done.returncode == 3 and done.stderr.startswith("error: ")
