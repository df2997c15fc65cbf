"""What telling residents adds to a submission (issue 13).

    python -m bench.notify_cost [--proposals 1500] [--writers 16] [--rounds 3]

A proposer who chooses SMS, WhatsApp or e-mail makes the submission write a subscription and, in the
event's own transaction, the outbox message that confirms the code (eventlog/outbox.py). Measured through
the service (`ProposalService.submit`: validation done, the rate limit and HTTP left out, so that the
difference is the outbox's), `writers` submissions at a time, alternating rounds of proposers who chose
nothing and proposers who chose SMS on the same database, so that both see the same log size. Prints
proposals/s for each and the ratio (aim ≥ 0.8: telling residents must not halve what a city can take in).
"""

from __future__ import annotations

import argparse
import asyncio
import time
import uuid

from bench._common import fresh_database, print_table, server_url
from musrenbang.db.connect import create_pool
from musrenbang.domain import proposal as rules
from musrenbang.eventlog.store import EventStore
from musrenbang.projections import all_projections
from musrenbang.projections.runner import ProjectionRunner
from musrenbang.services import cycles
from musrenbang.services.proposals import ProposalService


async def _round(proposals: ProposalService, content: rules.ProposalContent, year: int, count: int, writers: int,
                 notify: str) -> float:  # fmt: skip
    """Proposals per second for `count` submissions, `writers` at a time."""
    queue = list(range(count))
    run = uuid.uuid4().hex

    async def writer() -> None:
        while queue:
            n = queue.pop()
            proposer = rules.Proposer(name="Warga Uji", phone=f"+62812{n:08d}", notify=notify)
            key = f"{run}-{n}"
            await proposals.submit(content, proposer, idempotency_key=key, request_fingerprint=key, year=year,
                                   replay_checked=True)  # fmt: skip

    start = time.perf_counter()
    await asyncio.gather(*(writer() for _ in range(writers)))
    return count / (time.perf_counter() - start)


async def main(count: int, writers: int, rounds: int) -> None:
    with server_url() as url:
        async with fresh_database(url) as db:
            pool = await create_pool(db, min_size=writers, max_size=writers + 2)
            try:
                store = EventStore(pool)
                runner = ProjectionRunner(pool, all_projections())
                await runner.catch_up_all()
                proposals = ProposalService(pool, store, b"b" * 32, runner)
                year = await cycles.taking_proposals(store)
                content = await proposals.validate(rules.ProposalInput(
                    kelurahan="32.75.01.1001", rw="5", rt="3", kind="fisik", bidang="infrastruktur",
                    title="Perbaikan saluran air", problem="Saluran tersumbat sehingga banjir setiap hujan",
                    solution="Normalisasi saluran sepanjang 150 meter", beneficiaries="300", volume="150",
                    unit="meter", estimated_cost="25 juta", address="Jl. Melati RW 05"), year=year)  # fmt: skip
                await _round(proposals, content, year, 200, writers, "none")  # warm-up
                rates: dict[str, list[float]] = {"none": [], "sms": []}
                for _ in range(rounds):
                    for notify in ("none", "sms"):
                        rates[notify].append(await _round(proposals, content, year, count, writers, notify))
                queued = await pool.fetchval("SELECT count(*) FROM outbox")
            finally:
                await pool.close()
    best = {k: max(v) for k, v in rates.items()}
    print(f"{count} submissions a round, {writers} at a time, {rounds} rounds each (best round shown);"
          f" {queued:,} messages queued")  # fmt: skip
    print_table(["proposer chose", "proposals/s", "ratio"],
                [["nothing (baseline)", best["none"], 1.0], ["SMS (+ subscription, outbox)", best["sms"],
                                                              best["sms"] / best["none"]]])  # fmt: skip


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--proposals", type=int, default=1500)
    parser.add_argument("--writers", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    asyncio.run(main(args.proposals, args.writers, args.rounds))
