"""What the notification after a commit says (eventlog/store.py, CHANNEL), heard on a real LISTEN
connection, and who wakes for it."""

from __future__ import annotations

import asyncio
from pathlib import Path

import asyncpg
import pytest

from musrenbang.config import Settings
from musrenbang.delivery.worker import DeliveryWorker
from musrenbang.domain.events import CycleStageAdvanced, ProposalAccepted
from musrenbang.eventlog.store import CHANNEL, NEW_STREAM, OUTBOX_NOTICE, Append, EventStore, announced


@pytest.fixture
async def heard(database_url: str):  # type: ignore[no-untyped-def]
    """The payloads of the notifications sent from now on."""
    payloads: list[str] = []
    conn = await asyncpg.connect(database_url)
    await conn.add_listener(CHANNEL, lambda *args: payloads.append(args[3]))
    yield payloads
    await conn.close()


async def _settled(payloads: list[str], count: int) -> list[str]:
    for _ in range(250):
        if len(payloads) >= count:
            break
        await asyncio.sleep(0.02)
    await asyncio.sleep(0.1)  # and no more
    return payloads


async def test_an_append_announces_where_its_last_event_stands_its_types_and_its_messages(
    pool: asyncpg.Pool, heard: list[str]
) -> None:
    store = EventStore(pool, origin="p1")
    stages = await store.append(Append("cycle-2023", NEW_STREAM, [CycleStageAdvanced(year=2023, stage="kelurahan")]))
    [payload] = await _settled(heard, 1)
    assert announced(payload) == (stages.last, "p1", frozenset({"cycle.stage_advanced"}))

    verdict = await store.append(Append("proposal-X1", NEW_STREAM, [ProposalAccepted(code="X1")]))
    [_, payload] = await _settled(heard, 2)
    # A verification sends the proposer news: the senders are told.
    assert announced(payload) == (verdict.last, "p1", frozenset({"proposal.accepted", OUTBOX_NOTICE}))


async def test_a_transaction_announces_what_it_appended_once_committed_and_nothing_if_rolled_back(
    pool: asyncpg.Pool, heard: list[str]
) -> None:
    store = EventStore(pool)

    class Abandoned(Exception):
        pass

    with pytest.raises(Abandoned):
        async with store.transaction() as conn:
            await store.append(Append("cycle-2023", NEW_STREAM, [CycleStageAdvanced(year=2023, stage="kelurahan")]),
                               conn=conn)  # fmt: skip
            raise Abandoned
    async with store.transaction() as conn:  # a transaction that appends nothing (a seal finding nothing)
        await conn.fetchval("SELECT 1")
    await asyncio.sleep(0.3)  # the notifier sends within milliseconds of a commit
    assert heard == []  # nothing to say: no notification (an empty one would wake every worker)

    async with store.transaction() as conn:
        first = await store.append(Append("cycle-2024", NEW_STREAM, [CycleStageAdvanced(year=2024, stage="kelurahan")]),
                                   conn=conn)  # fmt: skip
        second = await store.append(Append("proposal-X1", NEW_STREAM, [ProposalAccepted(code="X1")]), conn=conn)
        await asyncio.sleep(0.3)
        assert heard == []  # not before the commit
    [payload] = await _settled(heard, 1)
    assert first.last < second.last
    assert announced(payload) == (second.last, None, frozenset({"cycle.stage_advanced", "proposal.accepted",
                                                                OUTBOX_NOTICE}))  # fmt: skip


def test_the_outbox_senders_wake_for_messages_queued_not_for_every_event(tmp_path: Path) -> None:
    worker = DeliveryWorker("postgresql://unused", Settings(data_dir=tmp_path))
    worker._notified(None, 0, CHANNEL, "events 5 10 p1 forum.ballot_cast forum.scores_given")
    assert not worker._bell._rung  # a forum's ballots queue no message
    worker._notified(None, 0, CHANNEL, f"events 5 11 p1 {OUTBOX_NOTICE} proposal.accepted")
    assert worker._bell._rung
    worker._bell._rung = False
    worker._notified(None, 0, CHANNEL, OUTBOX_NOTICE)  # wake_senders: messages queued without an event
    assert worker._bell._rung
    worker._bell._rung = False
    worker._notified(None, 0, CHANNEL, "")  # an older version's, saying nothing
    assert worker._bell._rung
