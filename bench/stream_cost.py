"""Cost per command against the length of its stream (issue 15, part 3).

    python -m bench.stream_cost [--ballots 300] [--commands 200] [--late 10000]

1. A ballot (`ForumService.cast_ballot`, one at a time) on a forum of 1,000 delegates and on one of
   60,000 (the size of the Warsaw 2026 election), rounds alternating between the two forums: p50 and
   p99 of each and the ratio (aim ≤ 1.5).
2. A city-level command (`RkpdService.execute`, an agency passing a proposal to another, under the year's
   lock) early in a year (1,000 proposals received, a few hundred events on `rkpd-{year}`) and late (the
   same and `--late` more events), on two years side by side, rounds alternating: p50, p99, ratio (aim
   ≤ 1.5).

Beside each, the same command with the state cache switched off (every command folds its whole stream,
as before this issue), on fewer commands since each is slow, and the cost of the first command of a
process on the long stream (the cache is cold: one full fold).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import statistics
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

from bench._common import fresh_database, print_table, server_url
from musrenbang.db.connect import create_pool
from musrenbang.domain import forum as f
from musrenbang.domain import rkpd as r
from musrenbang.domain.events import AgendaItem, CityItem, RkpdProposalPassed
from musrenbang.eventlog.store import Append, EventStore, Metadata
from musrenbang.projections import all_projections
from musrenbang.projections.runner import ProjectionRunner
from musrenbang.services import cycles
from musrenbang.services.forums import FORUM, ForumService, new_forum_id
from musrenbang.services.rkpd import RKPD, RkpdService
from musrenbang.services.streams import Aggregate

META = Metadata(actor="bench", role="admin")
AGENDA = tuple(AgendaItem(item_id=f"P{i:02d}", title=f"Usulan {i}", cost=1_000_000 * (i + 1)) for i in range(20))
AGENCIES = ("DBMSDA", "DINKES")


def _ms(samples: list[float]) -> tuple[float, float]:
    """(p50, p99) in milliseconds."""
    ordered = sorted(samples)
    return statistics.median(ordered) * 1000, ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000


async def _timed(command: Callable[[], Awaitable[Any]]) -> float:
    start = time.perf_counter()
    await command()
    return time.perf_counter() - start


@contextlib.contextmanager
def _uncached(aggregate: Aggregate[Any, Any]) -> Iterator[None]:
    """Every load folds the whole stream, as before this issue."""
    cache, aggregate.cache = aggregate.cache, None
    try:
        yield
    finally:
        aggregate.cache = cache


async def _forum(forums: ForumService, delegates: int) -> str:
    forum_id = new_forum_id()
    await forums.schedule(f.ScheduleForum(
        forum_id=forum_id, level="kelurahan", region="32.75.01.1001", year=cycles.today().year + 1,
        title=f"Musrenbang {delegates} peserta", held_on=cycles.today(), place="Aula", chair="Lurah",
        ceiling=50_000_000, rule="greedy", ballot_kind="approval"), META)  # fmt: skip
    await forums.register_delegates(
        forum_id, [f.RegisterDelegate(delegate_id=f"V{i:06d}", name=f"Pemilih {i}") for i in range(delegates)], META
    )
    await forums.open(forum_id, META, agenda=AGENDA)
    return forum_id


async def ballots(forums: ForumService, count: int) -> list[list[object]]:
    small, large = await _forum(forums, 1_000), await _forum(forums, 60_000)
    assert FORUM.cache is not None
    FORUM.cache.forget(f.stream_id(large))
    cold = await _timed(lambda: forums.load(large))
    voter = iter(range(1_000_000))

    def cast(forum_id: str, delegates: int) -> Callable[[], Awaitable[Any]]:
        n = next(voter) % delegates
        ballot = f.CastBallot(delegate_id=f"V{n:06d}", approvals=(f"P{n % 20:02d}", f"P{(n + 7) % 20:02d}"))
        return lambda: forums.cast_ballot(forum_id, ballot, META)

    times: dict[str, list[float]] = {"small": [], "large": []}
    for _ in range(5):  # warm-up: connections, prepared statements
        await _timed(cast(small, 1_000))
        await _timed(cast(large, 60_000))
    for _ in range(10):  # alternating rounds: both forums see the same machine
        times["small"] += [await _timed(cast(small, 1_000)) for _ in range(count // 10)]
        times["large"] += [await _timed(cast(large, 60_000)) for _ in range(count // 10)]
    with _uncached(FORUM):
        before = {"small": [await _timed(cast(small, 1_000)) for _ in range(10)],
                  "large": [await _timed(cast(large, 60_000)) for _ in range(10)]}  # fmt: skip
    return _rows("ballot", "1,000 delegates", "60,000 delegates", times, before, cold)


async def city_commands(store: EventStore, rkpd: RkpdService, count: int, late: int) -> list[list[object]]:
    """Two years side by side, one early (its 1,000 proposals received, a few hundred passes) and one late
    (the same and `late` more events), commands alternating between them in rounds."""
    early, later = cycles.today().year + 1, cycles.today().year + 2
    items = tuple(CityItem(code=f"C{i:05d}", title=f"Usulan {i}", kelurahan="32.75.01.1001", bidang="infrastruktur",
                           cost=5_000_000, agency=AGENCIES[i % 2], forum_id="KEC") for i in range(1_000))  # fmt: skip
    at: dict[int, dict[str, str]] = {}
    for year in (early, later):
        await rkpd.execute(year, r.ReceiveProposals(year=year, items=items), META)
        at[year] = {i.code: i.agency for i in items}
    await _grow(store, later, late, at[later])
    turn = iter(range(10_000_000))

    def pass_one(year: int) -> Callable[[], Awaitable[Any]]:
        """The next proposal handed to the other agency (so it is never refused)."""
        code = f"C{next(turn) % 1_000:05d}"
        at[year][code] = AGENCIES[1 - AGENCIES.index(at[year][code])]
        command = r.PassProposal(code=code, to_agency=at[year][code], reason="Lebih sesuai dengan bidangnya")
        return lambda: rkpd.execute(year, command, META)

    assert RKPD.cache is not None
    RKPD.cache.forget(r.stream_id(later))
    cold = await _timed(pass_one(later))
    times: dict[str, list[float]] = {"early": [], "late": []}
    for _ in range(5):  # warm-up
        await _timed(pass_one(early))
        await _timed(pass_one(later))
    for _ in range(10):
        times["early"] += [await _timed(pass_one(early)) for _ in range(count // 10)]
        times["late"] += [await _timed(pass_one(later)) for _ in range(count // 10)]
    with _uncached(RKPD):
        before = {"early": [await _timed(pass_one(early)) for _ in range(10)],
                  "late": [await _timed(pass_one(later)) for _ in range(10)]}  # fmt: skip
    versions = [(await store.head(r.stream_id(y))).version for y in (early, later)]
    return _rows("city command", f"early ({versions[0]:,} events)", f"late ({versions[1]:,} events)", times, before,
                 cold)  # fmt: skip


async def _grow(store: EventStore, year: int, events: int, at: dict[str, str]) -> None:
    """`events` more passes on the year's stream, appended a thousand at a time (as other agencies'
    commands over the months would have: what a later command pays for is the state, not how the
    events came)."""
    stream = r.stream_id(year)
    head = await store.head(stream)
    for start in range(0, events, 1_000):
        batch = []
        for n in range(start, min(events, start + 1_000)):
            code = f"C{n % 1_000:05d}"
            to = AGENCIES[1 - AGENCIES.index(at[code])]
            batch.append(RkpdProposalPassed(year=year, code=code, from_agency=at[code], to_agency=to,
                                            reason="Lebih sesuai dengan bidangnya"))  # fmt: skip
            at[code] = to
        head = (await store.append(Append(stream, head, batch), metadata=META)).heads[stream]


def _rows(what: str, short: str, long: str, times: dict[str, list[float]], before: dict[str, list[float]],
          cold: float) -> list[list[object]]:  # fmt: skip
    a, b = list(times.values())
    (a50, a99), (b50, b99) = _ms(a), _ms(b)
    (u50, _), (v50, _) = _ms(list(before.values())[0]), _ms(list(before.values())[1])
    return [
        [f"{what}, {short}", len(a), a50, a99, 1.0, 1.0, u50, "—"],
        [f"{what}, {long}", len(b), b50, b99, b50 / a50, b99 / a99, v50, f"{cold * 1000:,.0f} ms"],
    ]


async def main(count: int, commands: int, late: int) -> None:
    with server_url() as url:
        async with fresh_database(url) as db:
            pool = await create_pool(db, min_size=2, max_size=4)
            try:
                store = EventStore(pool)
                runner = ProjectionRunner(pool, all_projections())
                rows = await ballots(ForumService(pool, store, runner), count)
                rows += await city_commands(store, RkpdService(pool, store, runner), commands, late)
            finally:
                await pool.close()
    print_table(["command, stream", "n", "p50 ms", "p99 ms", "ratio p50", "ratio p99", "uncached p50 ms",
                 "cold first"], rows)  # fmt: skip


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ballots", type=int, default=300)
    parser.add_argument("--commands", type=int, default=200)
    parser.add_argument("--late", type=int, default=10_000)
    args = parser.parse_args()
    asyncio.run(main(args.ballots, args.commands, args.late))
