"""Real elections through the platform (issue 4 figures), on Poland_Warszawa_2026.pb (61,668 ballots,
83 projects).

    python -m bench.pabulib [FILE]

1. Ballots per second through the event log: `musrenbang pabulib import` (every voter registered as a
   delegate, every vote cast as a ballot on its own stream while the forum is held open, then the close).
2. Tally time of our greedy and Equal Shares against pabutools on the same election, both from ballots
   already in memory, with the selections compared.
"""

from __future__ import annotations

import asyncio
import sys
import time
import warnings
from pathlib import Path

from bench._common import fresh_database, print_table, server_url
from musrenbang import pabulib
from musrenbang.db.connect import create_pool
from musrenbang.domain import rules
from musrenbang.eventlog.store import EventStore
from musrenbang.services.pabulib_import import plan, write

DEFAULT = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "pabulib" / "Poland_Warszawa_2026.pb"


async def through_the_log(path: Path) -> tuple[int, float, float, float]:
    """(ballots, seconds for the ballot phase, seconds for the whole import, seconds of it spent checking
    the file in memory before writing: `plan`)."""
    marks: list[float] = []
    counted = [0]

    def progress(n: int) -> None:
        marks.append(time.perf_counter())
        counted[0] += n

    with server_url() as url:
        async with fresh_database(url, migrated_only=True) as db:
            pool = await create_pool(db, min_size=2, max_size=4)
            start = time.perf_counter()
            planned = plan(path)
            checking = time.perf_counter() - start
            await write(pool, EventStore(pool), path, planned, progress)
            total = time.perf_counter() - start
            ballots = await pool.fetchval("SELECT count(*) FROM events WHERE event_type = 'forum.ballot_cast'")
            await pool.close()
    return ballots, marks[-1] - marks[0], total, checking


def tallies(path: Path) -> list[list[object]]:
    election = pabulib.read(path)
    meta, projects = election.meta, election.projects
    ballots = [frozenset(x for x in v["vote"].split(",") if x) for v in election.votes]
    items = [rules.Item(p["project_id"], int(p["cost"])) for p in projects]
    budget = int(meta["budget"])
    threshold = int(meta.get("min_project_score_threshold", 0)) or None

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from pabutools.election import Cost_Sat, parse_pabulib
        from pabutools.rules import greedy_utilitarian_welfare, method_of_equal_shares
        from pabutools.tiebreaking import TieBreakingRule

        instance, profile = parse_pabulib(str(path))
    same_ties = TieBreakingRule(lambda inst, prof, project: (project.cost, project.name))
    rows = []

    start = time.perf_counter()
    ours = rules.greedy(items, rules.approval_scores(ballots), budget)
    t_ours = time.perf_counter() - start
    start = time.perf_counter()
    theirs = greedy_utilitarian_welfare(instance, profile, sat_class=Cost_Sat, tie_breaking=same_ties)
    t_theirs = time.perf_counter() - start
    same = set(ours.selected) == {p.name for p in theirs}
    rows.append(["greedy", t_ours, t_theirs, t_theirs / t_ours, "yes" if same else "NO"])
    if threshold:
        official = {p["project_id"] for p in projects if p["selected"] == "1"}
        start = time.perf_counter()
        ours_t = rules.greedy(items, rules.approval_scores(ballots), budget, threshold=threshold)
        t = time.perf_counter() - start
        rows.append(
            [
                "greedy-threshold (the official rule)",
                t,
                "",
                "",
                "official: yes" if set(ours_t.selected) == official else "official: NO",
            ]
        )

    start = time.perf_counter()
    ours = rules.equal_shares(items, ballots, budget, completion=None)
    t_ours = time.perf_counter() - start
    start = time.perf_counter()
    theirs = method_of_equal_shares(instance, profile, sat_class=Cost_Sat, tie_breaking=same_ties)
    t_theirs = time.perf_counter() - start
    same = set(ours.selected) == {p.name for p in theirs}
    rows.append(["Equal Shares (no completion)", t_ours, t_theirs, t_theirs / t_ours, "yes" if same else "NO"])
    return rows


def main() -> None:
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT
    ballots, ballot_seconds, total, checking = asyncio.run(through_the_log(path))
    print(f"{path.name}: {ballots:,} ballots")
    print(f"through the event log: {ballots / ballot_seconds:,.0f} ballots/s in the ballot phase"
          f" (aim ≥ 10,000/s); whole import with delegates and close: {total:.1f} s, of which"
          f" {checking:.1f} s ({checking / total:.0%}) check the whole file in memory before writing")  # fmt: skip
    print_table(["tally", "ours s", "pabutools s", "speed-up", "same selection"], tallies(path))


if __name__ == "__main__":
    main()
