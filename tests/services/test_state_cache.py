"""The per-process cache of stream states (services/streams.py): a cached state is always the full fold
of the log, whatever the log did meanwhile (grew from another process, was a different database, rolled
back), it is never changed under a caller that holds it, and concurrency still conflicts on the log."""

from __future__ import annotations

import random

import asyncpg
import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from musrenbang.domain import forum as f
from musrenbang.domain import rkpd as r
from musrenbang.domain.errors import DomainError
from musrenbang.domain.events import CityItem, DelegateRegistered, Event
from musrenbang.eventlog.store import Append, ConcurrencyError, EventStore, Metadata, StreamHead
from musrenbang.projections import all_projections
from musrenbang.projections.runner import ProjectionRunner
from musrenbang.reference import city_settings
from musrenbang.services.forums import FORUM, ForumService
from musrenbang.services.rkpd import RKPD, RkpdService
from musrenbang.services.streams import Aggregate, load, thawed
from tests.cycles import open_test_cycle
from tests.services.test_forums import META, forum_with_delegates
from tests.services.test_rkpd_concurrency import line

AGENCIES = {a.code: a for a in city_settings().agencies}
ADMIN = Metadata(actor="bappeda", role="admin")
UNCACHED_FORUM = Aggregate(f.Forum(), f.decide, f.evolve)
UNCACHED_RKPD: Aggregate[r.Rkpd, r.Command] = Aggregate(r.Rkpd(), RKPD.decide, r.evolve)


def _items(n: int) -> tuple[CityItem, ...]:
    agencies = ("DBMSDA", "DINKES")
    return tuple(CityItem(code=f"C{i:04d}", title=f"Usulan {i}", kelurahan="32.75.01.1001", bidang="infrastruktur",
                          cost=1_000_000, agency=agencies[i % 2], forum_id="KEC") for i in range(n))  # fmt: skip


def _random_rkpd_commands(rng: random.Random, state: r.Rkpd, count: int) -> list[r.Command]:
    """Commands an agency might send (some refused by the rules, as real ones are)."""
    codes = sorted(state.items)
    out: list[r.Command] = []
    for _ in range(count):
        code = rng.choice(codes)
        match rng.randrange(4):
            case 0:
                out.append(r.PassProposal(code=code, to_agency=rng.choice(("DBMSDA", "DINKES")), reason="Bidangnya"))
            case 1:
                out.append(r.DeclineProposal(code=code, reason="Sudah dianggarkan tahun lalu"))
            case 2:
                out.append(r.SetLine(line=line(rng.choice(("DBMSDA", "DINKES")), code), priority_programs=6))
            case _:
                lines = sorted(state.lines) or ["DBMSDA-001"]
                out.append(r.WithdrawLine(line_id=rng.choice(lines), reason="Digabung dengan baris lain"))
    return out


def _events_of(seed: int, count: int) -> list[Event]:
    """A year's city-level events, decided by the rules on a random walk of commands."""
    rng = random.Random(seed)
    state = r.Rkpd()
    events: list[Event] = r.decide(state, r.ReceiveProposals(year=2022, items=_items(12)), agencies=AGENCIES)
    state = r.fold(events)
    for _ in range(count):
        try:
            new = r.decide(state, _random_rkpd_commands(rng, state, 1)[0], agencies=AGENCIES)
        except DomainError:
            continue
        events.extend(new)
        for e in new:
            state = r.evolve(state, e)
    return events


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000), split=st.floats(0, 1))
def test_a_thawed_state_folded_on_equals_the_full_fold_and_leaves_the_cached_one_as_it_was(
    seed: int, split: float
) -> None:
    events = _events_of(seed, 60)
    k = int(split * len(events))
    prefix = r.fold(events[:k])
    before = msgspec.json.encode(prefix)
    state = thawed(prefix)
    for e in events[k:]:
        state = r.evolve(state, e)
    assert state == r.fold(events)
    assert msgspec.json.encode(prefix) == before  # what a cache keeps (and others hold) did not move


async def test_the_cached_year_equals_the_full_fold_after_every_command(store: EventStore, pool: asyncpg.Pool) -> None:
    await open_test_cycle(store)
    rkpd = RkpdService(pool, store, ProjectionRunner(pool, all_projections()))
    await rkpd.execute(2022, r.ReceiveProposals(year=2022, items=_items(12)), ADMIN)
    rng = random.Random(15)
    accepted = 0
    for _ in range(40):
        state, _ = await load(store, RKPD, r.stream_id(2022))
        command = _random_rkpd_commands(rng, state, 1)[0]
        try:
            await rkpd.execute(2022, command, ADMIN)
            accepted += 1
        except DomainError:
            pass
        cached = await load(store, RKPD, r.stream_id(2022))
        assert cached == await load(store, UNCACHED_RKPD, r.stream_id(2022))
    assert accepted >= 10  # the walk did change the year, not only refuse


async def test_events_written_by_another_process_are_seen(store: EventStore, pool: asyncpg.Pool) -> None:
    """Another server process appends without touching this one's cache: a delegate it registers may vote
    here at once, and a close it records stops ballots here."""
    forums = ForumService(pool, store, ProjectionRunner(pool, all_projections()))
    forum_id = await forum_with_delegates(forums, 3)
    forum, head = await forums.load(forum_id)  # cached here
    registered = DelegateRegistered(forum_id=forum_id, delegate_id="late", name="Datang terlambat")
    result = await store.append(Append(f.stream_id(forum_id), head, [registered]), metadata=META)
    await forums.cast_ballot(forum_id, f.CastBallot(delegate_id="late", approvals=("P1",)), META)
    assert "late" not in forum.delegates  # the state handed out earlier did not change under its holder
    ballots, _ = await forums.ballots_and_sheets(forum_id)  # the late delegate's: a forum nobody voted in stays open
    closing = f.decide_close((await forums.load(forum_id))[0],
                             f.CloseForum(ballots=tuple(ballots), no_mandate_confirmed=True))
    await store.append(Append(f.stream_id(forum_id), result.heads[f.stream_id(forum_id)], [closing]), metadata=META)
    with pytest.raises(DomainError, match="sudah ditutup"):
        await forums.cast_ballot(forum_id, f.CastBallot(delegate_id="d0", approvals=("P1",)), META)


async def test_a_cached_state_the_log_does_not_hold_is_dropped_and_folded_again(
    store: EventStore, pool: asyncpg.Pool
) -> None:
    """A cached head whose hash the log does not have at that version (another database with the same stream
    id, a restored backup, a transaction that rolled back) is never used."""
    forums = ForumService(pool, store, ProjectionRunner(pool, all_projections()))
    forum_id = await forum_with_delegates(forums, 3)
    stream = f.stream_id(forum_id)
    truth, head = await load(store, UNCACHED_FORUM, stream)
    assert FORUM.cache is not None
    wrong = msgspec.structs.replace(truth, status=f.CLOSED, delegates={})
    for bogus in (StreamHead(head.version, bytes(32)), StreamHead(head.version + 7, head.hash)):
        FORUM.cache.forget(stream)
        FORUM.cache.put(stream, wrong, bogus)
        assert await forums.load(forum_id) == (truth, head)
        assert FORUM.cache.get(stream) == (truth, head)


async def test_a_state_loaded_in_a_transaction_that_rolls_back_is_not_kept(
    store: EventStore, pool: asyncpg.Pool
) -> None:
    forums = ForumService(pool, store, ProjectionRunner(pool, all_projections()))
    forum_id = await forum_with_delegates(forums, 2)
    stream = f.stream_id(forum_id)
    _, head = await forums.load(forum_id)
    registered = DelegateRegistered(forum_id=forum_id, delegate_id="ghost", name="Tidak pernah ada")
    async with pool.acquire() as conn:
        tx = conn.transaction()
        await tx.start()
        await store.append(Append(stream, head, [registered]), metadata=META, conn=conn)
        seen, _ = await load(store, FORUM, stream, conn)  # the uncommitted event is folded and cached
        assert "ghost" in seen.delegates
        await tx.rollback()
    forum, after = await forums.load(forum_id)
    assert "ghost" not in forum.delegates and after == head


async def test_a_refused_registration_leaves_the_cached_forum_as_the_log_has_it(
    store: EventStore, pool: asyncpg.Pool
) -> None:
    """register_delegates evolves the state as it decides each delegate: on a copy, or a refused batch would
    leave delegates in the cache that the log never got."""
    forums = ForumService(pool, store, ProjectionRunner(pool, all_projections()))
    forum_id = await forum_with_delegates(forums, 2)
    batch = [f.RegisterDelegate(delegate_id="new", name="Baru"), f.RegisterDelegate(delegate_id="d0", name="Lagi")]
    with pytest.raises(DomainError, match="sudah terdaftar"):
        await forums.register_delegates(forum_id, batch, META)
    forum, _ = await forums.load(forum_id)
    assert sorted(forum.delegates) == ["d0", "d1"]
    with pytest.raises(DomainError, match="tidak terdaftar"):
        await forums.cast_ballot(forum_id, f.CastBallot(delegate_id="new", approvals=("P1",)), META)


async def test_two_writers_on_the_same_cached_state_still_conflict(store: EventStore, pool: asyncpg.Pool) -> None:
    forums = ForumService(pool, store, ProjectionRunner(pool, all_projections()))
    forum_id = await forum_with_delegates(forums, 2)
    stream = f.stream_id(forum_id)
    first, head_1 = await forums.load(forum_id)
    second, head_2 = await forums.load(forum_id)
    assert first is second and head_1 == head_2  # nothing new: the very state kept, not folded again
    adjust = f.AdjustItem(item_id="P1", reason="Harga satuan baru", agreed_cost=5)
    await store.append(Append(stream, head_1, f.decide(first, adjust)), metadata=META)
    with pytest.raises(ConcurrencyError):
        await store.append(Append(stream, head_2, f.decide(second, adjust)), metadata=META)
    grown, head_3 = await forums.load(forum_id)
    assert grown is not first and head_3.version == head_1.version + 1
    assert grown.adjustments["P1"].agreed_cost == 5 and "P1" not in first.adjustments


def test_the_cache_keeps_the_latest_streams_within_its_budget() -> None:
    from musrenbang.services.streams import StateCache

    cache: StateCache[str] = StateCache(max_events=10)
    cache.put("a", "A", StreamHead(4, b"a"))
    cache.put("b", "B", StreamHead(4, b"b"))
    cache.get("a")  # a is now the more recently used
    cache.put("c", "C", StreamHead(4, b"c"))
    assert cache.get("b") is None and cache.get("a") is not None and cache.get("c") is not None
    cache.put("c", "older", StreamHead(3, b"x"))  # a slower load must not put an older state back
    assert cache.get("c") == ("C", StreamHead(4, b"c"))
    cache.put("huge", "H", StreamHead(50, b"h"))  # over the budget alone: still kept, the others go
    assert len(cache) == 1 and cache.get("huge") is not None
