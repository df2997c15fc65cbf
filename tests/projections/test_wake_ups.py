"""Wake-ups: a worker wakes for the types of event its projection handles, not for events its process has
applied already, and only later for another process's (projections/supervisor.py); what it ignores is
neither lag nor lost."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence

import asyncpg
import pytest

from musrenbang.domain.events import CycleStageAdvanced, ProposalAccepted
from musrenbang.eventlog.store import (
    CHANNEL,
    NEW_STREAM,
    OUTBOX_NOTICE,
    Announced,
    Append,
    EventStore,
    Position,
    RecordedEvent,
    _Appended,
    announced,
    announcement,
)
from musrenbang.projections import Projection, status, supervisor
from musrenbang.projections.runner import ProjectionRunner, lag
from musrenbang.projections.supervisor import Wake, _next_wake, ring_for


class Stages(Projection, register=False):
    """Handles cycle stage changes only."""

    name = "test_stages"
    tables = ()
    handles = (CycleStageAdvanced,)

    def __init__(self) -> None:
        self.seen: list[int] = []

    async def apply(self, conn: asyncpg.Connection, events: Sequence[RecordedEvent]) -> None:
        self.seen.extend(r.global_position for r in events if isinstance(r.event, CycleStageAdvanced))


class Verdicts(Stages, register=False):
    """Handles accepted proposals only."""

    name = "test_verdicts"
    handles = (ProposalAccepted,)

    async def apply(self, conn: asyncpg.Connection, events: Sequence[RecordedEvent]) -> None:
        self.seen.extend(r.global_position for r in events if isinstance(r.event, ProposalAccepted))


def stage(year: int) -> CycleStageAdvanced:
    return CycleStageAdvanced(year=year, stage="kelurahan")


def accepted(code: str) -> ProposalAccepted:
    return ProposalAccepted(code=code, reason="sesuai")


async def checkpoint(pool: asyncpg.Pool, name: str) -> int:
    return await pool.fetchval("SELECT coalesce(max(position), 0) FROM projection_checkpoints WHERE name = $1", name)


async def until(condition, seconds: float = 10.0) -> None:  # type: ignore[no-untyped-def]
    for _ in range(int(seconds / 0.02)):
        if await condition():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("not within the time given")


@pytest.fixture
async def running(pool: asyncpg.Pool, database_url: str) -> AsyncIterator[tuple[ProjectionRunner, Stages, Verdicts]]:
    """Both projections under a supervisor that never polls: only notifications wake them."""
    stages, verdicts = Stages(), Verdicts()
    runner = ProjectionRunner(pool, [stages, verdicts], poll_interval=3600)
    task = asyncio.create_task(runner.run_forever(database_url))
    await until(lambda: _listening(runner))
    await asyncio.sleep(0.5)  # the look every worker takes once the listener is up is over
    assert await _both_rows(pool)
    yield runner, stages, verdicts
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def _listening(runner: ProjectionRunner) -> bool:
    return runner.listening


async def _both_rows(pool: asyncpg.Pool) -> bool:
    return await pool.fetchval("SELECT count(*) FROM projection_checkpoints WHERE name LIKE 'test_%'") == 2


def test_an_announcement_says_where_the_last_event_stands_whose_they_are_and_their_types() -> None:
    appended = _Appended(Position(7, 40), {"proposal.submitted"})
    appended.add(_Appended(Position(9, 41), {"forum.ballot_cast", "proposal.submitted"}))
    appended.add(_Appended(Position(8, 45), {"city.configured"}))  # later position, earlier in the safe order
    payload = announcement(appended, "abc123")
    assert payload == "events 9 41 abc123 city.configured forum.ballot_cast proposal.submitted"
    assert announced(payload) == Announced(Position(9, 41), "abc123", frozenset(
        {"city.configured", "forum.ballot_cast", "proposal.submitted"}))  # fmt: skip
    assert announced(announcement(appended, None)) == Announced(Position(9, 41), None, announced(payload).types)
    for says_nothing in ("", OUTBOX_NOTICE, "events", "events x 1 - a", "something else entirely"):
        assert announced(says_nothing) is None


async def test_a_notification_rings_only_the_workers_whose_projection_handles_its_types() -> None:
    stages, verdicts = Stages(), Verdicts()
    runner = ProjectionRunner(None, [stages, verdicts])  # type: ignore[arg-type]  # no database needed
    wakes = {"test_stages": Wake(), "test_verdicts": Wake()}
    ring_for(runner, wakes, f"events 5 10 {runner.origin} cycle.stage_advanced city.configured")
    assert wakes["test_stages"].needed == Position(5, 10) and wakes["test_stages"].rung
    assert not wakes["test_verdicts"].rung

    ring_for(runner, wakes, OUTBOX_NOTICE)  # the outbox's: no projection's business
    assert not wakes["test_verdicts"].rung
    ring_for(runner, wakes, "")  # an older version's, saying nothing: everyone looks
    assert wakes["test_verdicts"].rung and wakes["test_verdicts"].blind


async def test_another_process_s_events_ring_later_and_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(supervisor, "FOREIGN_DELAY", 0.3)
    runner = ProjectionRunner(None, [Stages()])  # type: ignore[arg-type]
    wakes = {"test_stages": Wake()}
    ring_for(runner, wakes, "events 5 10 elsewhere cycle.stage_advanced")
    ring_for(runner, wakes, "events 5 12 elsewhere cycle.stage_advanced")
    assert not wakes["test_stages"].rung  # left to that process's own workers for a moment
    assert await wakes["test_stages"].wait(5)
    assert wakes["test_stages"].needed == Position(5, 12)  # one ring for both

    wakes["test_stages"].clear()  # a look at the log covers what was announced: the pending ring goes
    ring_for(runner, wakes, "events 5 14 elsewhere cycle.stage_advanced")
    wakes["test_stages"].clear()
    assert not await wakes["test_stages"].wait(0.6)


async def test_a_ring_for_events_this_process_applied_already_costs_no_look() -> None:
    runner = ProjectionRunner(None, [Stages()], poll_interval=3600)  # type: ignore[arg-type]
    runner._note_applied("test_stages", Position(5, 12))  # a request applied them, waiting for its write
    wake = Wake()
    waiting = asyncio.create_task(_next_wake(runner, "test_stages", wake))
    wake.ring(Position(5, 12))
    await asyncio.sleep(0.3)
    assert not waiting.done()  # nothing to look for: the worker sleeps on
    wake.ring(Position(6, 13))
    await asyncio.wait_for(waiting, 5)  # something it has not applied: it looks


async def test_a_worker_sleeps_through_events_it_ignores_and_passes_over_them_at_its_next_look(
    running: tuple[ProjectionRunner, Stages, Verdicts], store: EventStore, pool: asyncpg.Pool
) -> None:
    runner, stages, verdicts = running
    before = await checkpoint(pool, "test_verdicts")
    first = await store.append(Append("cycle-2023", NEW_STREAM, [stage(2023)]))
    await until(lambda: _checkpoint_at(pool, "test_stages", first.positions[0]))  # applied and committed
    await asyncio.sleep(0.3)
    assert await checkpoint(pool, "test_verdicts") == before  # not woken: it ignores stage changes
    async with pool.acquire() as conn:  # and nothing it handles waits: no lag
        assert await lag(conn, [verdicts]) == {"test_verdicts": 0}
        assert await lag(conn, [stages]) == {"test_stages": 0}

    verdict = await store.append(Append("proposal-X1", NEW_STREAM, [accepted("X1")]))
    # Seen inside the worker's transaction comes before its checkpoint commits: wait for the commit.
    await until(lambda: _checkpoint_at(pool, "test_verdicts", verdict.positions[0]))  # passed over the stage change
    assert verdicts.seen == [verdict.positions[0]] and stages.seen == [first.positions[0]]


async def test_a_lag_counts_only_the_events_a_projection_handles(
    store: EventStore, pool: asyncpg.Pool, monkeypatch: pytest.MonkeyPatch
) -> None:
    stages, verdicts = Stages(), Verdicts()
    await store.append(Append("cycle-2023", NEW_STREAM, [stage(2023), stage(2024)]))
    await store.append(Append("proposal-X1", NEW_STREAM, [accepted("X1")]))
    async with pool.acquire() as conn:
        assert await lag(conn, [stages, verdicts]) == {"test_stages": 2, "test_verdicts": 1}
        # Counted among the next so many events: when those are all of other types, more may lie beyond.
        monkeypatch.setattr(status, "LAG_COUNTED_UP_TO", 2)
        assert await lag(conn, [stages, verdicts]) == {"test_stages": 2, "test_verdicts": 1}


async def test_events_of_a_process_whose_workers_are_gone_are_applied_by_the_others(
    running: tuple[ProjectionRunner, Stages, Verdicts], pool: asyncpg.Pool
) -> None:
    _, stages, _ = running
    gone = EventStore(pool, origin="a-process-that-died")  # its notifications say its workers apply them
    appended = await gone.append(Append("cycle-2023", NEW_STREAM, [stage(2023)]))
    await until(lambda: _seen(stages, appended.positions[0]))


async def _seen(projection: Stages, position: int) -> bool:
    return position in projection.seen


async def _checkpoint_at(pool: asyncpg.Pool, name: str, position: int) -> bool:
    return await checkpoint(pool, name) == position


async def test_an_event_held_back_by_an_older_transaction_is_applied_when_that_one_commits(
    running: tuple[ProjectionRunner, Stages, Verdicts], store: EventStore
) -> None:
    """The older transaction announces only types the projection ignores: the worker still comes back for
    the event it was rung for and could not read yet."""
    _, _, verdicts = running
    async with store.transaction() as older:
        await store.append(Append("cycle-2023", NEW_STREAM, [stage(2023)]), conn=older)  # takes its id first
        verdict = await store.append(Append("proposal-X1", NEW_STREAM, [accepted("X1")]))
        await asyncio.sleep(0.3)
        assert verdicts.seen == []  # rung and looked, but the safe order holds it back (the race happened)
    await until(lambda: _seen(verdicts, verdict.positions[0]), seconds=3)  # the poll is an hour away


async def test_a_late_ring_for_another_process_s_events_reads_where_the_projection_stands_first(
    pool: asyncpg.Pool, store: EventStore
) -> None:
    stages = Stages()
    elsewhere, here = ProjectionRunner(pool, [stages]), ProjectionRunner(pool, [stages])
    appended = await store.append(Append("cycle-2023", NEW_STREAM, [stage(2023)]))
    await elsewhere.catch_up(stages)  # that process's workers applied them
    late, at_once = Wake(), Wake()
    late.ring_later(appended.last, 0.01)
    at_once.ring(appended.last)
    assert not await at_once.pointless(here, "test_stages")  # rung at once: a look, no read first
    assert await late.pointless(here, "test_stages")  # read, and found applied: no look
    assert not await Wake().pointless(here, "test_stages")  # not rung for anything known: a look


async def test_rings_for_applied_events_do_not_put_off_the_poll() -> None:
    runner = ProjectionRunner(None, [Stages()], poll_interval=0.5)  # type: ignore[arg-type]
    runner._note_applied("test_stages", Position(5, 12))
    wake = Wake()
    waiting = asyncio.create_task(_next_wake(runner, "test_stages", wake))
    for _ in range(100):  # every 50 ms, for 5 s: each would restart a wait of its own
        if waiting.done():
            break
        wake.ring(Position(5, 12))
        await asyncio.sleep(0.05)
    assert waiting.done()  # the poll came all the same


async def test_a_blind_ring_during_the_read_of_a_late_one_still_brings_a_look(
    pool: asyncpg.Pool, store: EventStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The listener reconnects (notifications were missed) while a late ring reads where the projection
    stands: the read finds the late ring's events applied, but the blind ring must not be forgotten."""
    stages = Stages()
    elsewhere, here = ProjectionRunner(pool, [stages]), ProjectionRunner(pool, [stages])
    appended = await store.append(Append("cycle-2023", NEW_STREAM, [stage(2023)]))
    await elsewhere.catch_up(stages)
    late = Wake()
    late.ring_later(appended.last, 0.01)
    read = here.applied

    async def read_while_the_listener_reconnects(name: str) -> Position:
        late.ring(None)  # what the listener does once it is back
        return await read(name)

    monkeypatch.setattr(here, "applied", read_while_the_listener_reconnects)
    assert not await late.pointless(here, "test_stages")
    assert here.has_applied("test_stages", appended.last)  # the read did find the late ring's events applied


async def test_an_event_held_back_when_rung_blind_is_applied_when_the_older_transaction_commits(
    running: tuple[ProjectionRunner, Stages, Verdicts], store: EventStore, pool: asyncpg.Pool
) -> None:
    """A blind ring (an older version's empty notification in a rolling upgrade, a reconnection) looks
    for everything up to the log's head, and comes back like an announced one for what it could not read."""
    _, _, verdicts = running
    older_version = EventStore(pool)
    older_version._notifier.poke = lambda appended: None  # type: ignore[method-assign]  # says nothing itself
    async with store.transaction() as older:
        await store.append(Append("cycle-2023", NEW_STREAM, [stage(2023)]), conn=older)  # takes its id first
        verdict = await older_version.append(Append("proposal-X1", NEW_STREAM, [accepted("X1")]))
        await pool.execute("SELECT pg_notify($1, '')", CHANNEL)  # as the older version notified
        await asyncio.sleep(0.3)
        assert verdicts.seen == []  # rung blind and looked, but the safe order holds it back (the race)
    # `older` commits announcing cycle.stage_advanced only, which test_verdicts ignores.
    await until(lambda: _seen(verdicts, verdict.positions[0]), seconds=5)  # the poll is an hour away
