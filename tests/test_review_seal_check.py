"""The check of a pasted seal (`/periksa/{hash}`, `/audit`): it reads the seal and the one before it, not
the whole chain of seals (one a minute, for ever), and a tampered seal still reads as not intact."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, cast

import asyncpg

from musrenbang.domain.events import CycleStageAdvanced, LogSealed
from musrenbang.eventlog import codec, seal, verify
from musrenbang.eventlog.store import NEW_STREAM, Append, EventStore
from musrenbang.eventlog.verify import StoredEvent, check_head, verify_database
from musrenbang.http.log_head import PastedHead, check_pasted_head
from tests.eventlog.test_seal import sealing
from tests.eventlog.test_verify import behind_the_logs_back


class Counting:
    """A connection that counts the statements run on it and the rows they returned."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn, self.statements, self.rows = conn, 0, 0

    async def fetchrow(self, *args: Any, **kwargs: Any) -> Any:
        self.statements += 1
        row = await self.conn.fetchrow(*args, **kwargs)
        self.rows += row is not None
        return row

    async def fetch(self, *args: Any, **kwargs: Any) -> Any:
        self.statements += 1
        rows = await self.conn.fetch(*args, **kwargs)
        self.rows += len(rows)
        return rows

    async def fetchval(self, *args: Any, **kwargs: Any) -> Any:
        self.statements += 1
        self.rows += 1
        return await self.conn.fetchval(*args, **kwargs)

    def transaction(self, *args: Any, **kwargs: Any) -> Any:
        return self.conn.transaction(*args, **kwargs)

    async def cursor(self, *args: Any, **kwargs: Any) -> AsyncIterator[Any]:
        self.statements += 1
        async for r in self.conn.cursor(*args, **kwargs):
            self.rows += 1
            yield r


async def seals(store: EventStore, n: int) -> list[str]:
    """`n` seals, one new event under each; their hashes, seal 1 first."""
    for i in range(n):
        await store.append(Append(f"s-{i}", NEW_STREAM, [CycleStageAdvanced(year=2000 + i, stage="kelurahan")]))
        assert await sealing(store)
    rows = await store.pool.fetch("SELECT data->>'hash' AS h FROM events WHERE stream_id = $1"
                                  " ORDER BY stream_version", seal.SEAL_STREAM)  # fmt: skip
    assert len(rows) == n
    return [r["h"] for r in rows]


async def checked(pool: asyncpg.Pool, digest: str) -> tuple[PastedHead, Counting]:
    async with pool.acquire() as conn:
        counting = Counting(conn)
        return await check_pasted_head(cast(asyncpg.Connection, counting), digest), counting


async def test_checking_a_seal_reads_the_same_few_rows_however_long_the_chain_of_seals(
    store: EventStore, pool: asyncpg.Pool
) -> None:
    hashes = await seals(store, 40)
    costs = []
    for n in (1, 3, 20, 40):
        pasted, counting = await checked(pool, hashes[n - 1])
        assert pasted.sealed is not None and pasted.sealed.seal == n
        assert pasted.found is not None and pasted.intact
        assert pasted.found["whole_chain"] is False  # what was checked: the seal and its link, not the chain
        costs.append((counting.statements, counting.rows))
    # the seal by its hash, its event, and the event with the one before it: 4 rows, whatever its number
    assert costs[1] == costs[2] == costs[3] and costs[3][1] <= 4, costs
    # the full check, kept for `musrenbang verify --head`, still reads every seal
    async with pool.acquire() as conn:
        report = await verify_database(conn, head=hashes[-1])
    assert report.intact and report.seals == 40
    # an event of any other stream is still checked along its whole stream
    async with pool.acquire() as conn:
        other = await conn.fetchval("SELECT encode(hash, 'hex') FROM events WHERE stream_id = 's-7'")
        found, intact = await check_head(conn, other)
    assert found is not None and intact and found["whole_chain"] is True


async def test_a_tampered_seal_is_still_not_intact(store: EventStore, pool: asyncpg.Pool) -> None:
    hashes = await seals(store, 8)
    for h in hashes:
        assert (await checked(pool, h))[0].intact
    where = f"stream_id = '{seal.SEAL_STREAM}' AND stream_version"
    # seal 2 made to follow from no seal, and its event's hash recomputed to match: its own chain link holds
    # (the check of the seals' chain up to it, before, called this intact), the seal-level link does not
    await behind_the_logs_back(pool, f"UPDATE events SET data = jsonb_set(data, '{{previous}}', to_jsonb(repeat('0',"
                                     f" 64))) WHERE {where} = 2")  # fmt: skip
    rows = await pool.fetch(
        "SELECT global_position, stream_id, stream_version, event_id, event_type, recorded_at,"
        f" data, metadata, hash FROM events WHERE {where} IN (1, 2) ORDER BY stream_version"
    )
    before, second = (StoredEvent(*r) for r in rows)
    rehashed = codec.chain_hash(bytes(before.hash), codec.canonical(
        second.stream_id, second.stream_version, second.event_id, second.event_type, second.recorded_at,
        codec.recanonicalize(second.data), codec.recanonicalize(second.metadata)))  # fmt: skip
    await behind_the_logs_back(pool, f"UPDATE events SET hash = '\\x{rehashed.hex()}'::bytea WHERE {where} = 2")
    # seal 4's contents changed, its stored hash left as it was
    await behind_the_logs_back(pool, f"UPDATE events SET data = jsonb_set(data, '{{events}}', '1') WHERE {where} = 4")
    # the hash seal 5 left changed: seal 6's link to it breaks
    await behind_the_logs_back(pool, f"UPDATE events SET hash = sha256(hash) WHERE {where} = 5")
    # seal 7 deleted: seal 8 no longer has the seal it followed
    await behind_the_logs_back(pool, f"DELETE FROM events WHERE {where} = 7")

    for n in (2, 4, 5, 6, 8):
        pasted, counting = await checked(pool, hashes[n - 1])
        assert pasted.sealed is not None and pasted.found is not None, n
        assert not pasted.intact, n
        assert counting.rows <= 4, (n, counting.rows)
    assert (await checked(pool, hashes[0]))[0].intact  # seal 1 was not touched
    async with pool.acquire() as conn:
        assert not (await verify_database(conn, head=hashes[-1])).intact


async def test_an_event_of_a_long_stream_is_checked_by_its_link_at_the_same_cost(
    store: EventStore, pool: asyncpg.Pool
) -> None:
    """A city-wide election's forum holds an event per delegate (61,668 in Warsaw's): checking its close
    along the whole stream read them all, on a public page. Past WHOLE_CHAIN_UP_TO events, the event and
    its link are checked, and a change to either still shows."""
    long = verify.WHOLE_CHAIN_UP_TO + 5
    events = [CycleStageAdvanced(year=2000 + i % 100, stage="kelurahan") for i in range(long)]
    await store.append(Append("s-long", NEW_STREAM, events))
    rows = await pool.fetch("SELECT stream_version, encode(hash, 'hex') AS h FROM events WHERE stream_id = 's-long'"
                            " ORDER BY stream_version")  # fmt: skip
    digests = {r["stream_version"]: r["h"] for r in rows}
    costs = {}
    for version in (verify.WHOLE_CHAIN_UP_TO, verify.WHOLE_CHAIN_UP_TO + 1, long):
        pasted, counting = await checked(pool, digests[version])
        assert pasted.found is not None and pasted.intact, version
        assert pasted.found["whole_chain"] is (version <= verify.WHOLE_CHAIN_UP_TO)
        costs[version] = counting.rows
    assert costs[long] == costs[verify.WHOLE_CHAIN_UP_TO + 1] <= 3 < costs[verify.WHOLE_CHAIN_UP_TO], costs
    where = f"stream_id = 's-long' AND stream_version = {long - 1}"
    await behind_the_logs_back(pool, f"UPDATE events SET hash = sha256(hash) WHERE {where}")  # the link breaks
    assert not (await checked(pool, digests[long]))[0].intact
    where = f"stream_id = 's-long' AND stream_version = {long - 2}"
    await behind_the_logs_back(pool, f"UPDATE events SET data = jsonb_set(data, '{{year}}', '1999') WHERE {where}")
    assert not (await checked(pool, digests[long - 2]))[0].intact  # its contents changed


async def test_an_early_event_of_a_long_stream_is_checked_reading_no_further_than_it(
    store: EventStore, pool: asyncpg.Pool
) -> None:
    """The whole-chain check read the whole stream and kept what came before the event in Python: the first
    event of a 60,000-event stream cost 60,000 rows. It reads up to the event, and no more."""
    events = [CycleStageAdvanced(year=2000 + i % 100, stage="kelurahan") for i in range(3 * verify.WHOLE_CHAIN_UP_TO)]
    await store.append(Append("s-early", NEW_STREAM, events))
    first = await pool.fetchval("SELECT encode(hash, 'hex') FROM events WHERE stream_id = 's-early'"
                                " AND stream_version = 2")  # fmt: skip
    pasted, counting = await checked(pool, first)
    assert pasted.found is not None and pasted.intact and pasted.found["whole_chain"]
    assert counting.rows <= 4, counting.rows


async def test_an_event_shaped_as_a_seal_in_another_stream_is_no_seal(store: EventStore, pool: asyncpg.Pool) -> None:
    """A forged one-event stream whose event is typed `log.sealed` was taken for a seal by its `hash` field
    (and its stream's chain, which the forger made whole, called it intact, in the seal's wording)."""
    await seals(store, 1)
    made_up = "ab" * 32
    forged = LogSealed(seal=2, position=1, events=1, hash=made_up, previous=seal.GENESIS.hex(), up_to_tx=1)
    await store.append(Append("x-forged", NEW_STREAM, [forged]))
    pasted, _ = await checked(pool, made_up)
    assert pasted.sealed is None and pasted.found is None and not pasted.intact
