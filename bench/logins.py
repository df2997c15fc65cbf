"""Logins (issue 11): a wrong password for a known username and any password for an unknown one take the
same time, so the answer's timing does not tell whether a username exists.

    python -m bench.logins [--rounds 40]

Both go through `accounts.login` against a fresh database (each attempt from its own client address, so
that the throttle never delays one); the known user's wrong password is the baseline.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import statistics
import time

from bench._common import fresh_database, print_table, server_url
from musrenbang.db.connect import create_pool
from musrenbang.domain.errors import DomainError
from musrenbang.reference import load_regions
from musrenbang.services import accounts


async def attempt(pool, username: str, n: int) -> float:  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    with contextlib.suppress(DomainError):
        await accounts.login(pool, username, "bukan-kata-sandinya", f"10.0.{n // 250}.{n % 250}", "api")
    return time.perf_counter() - start


async def main(rounds: int) -> None:
    with server_url() as url:
        async with fresh_database(url) as db:
            pool = await create_pool(db, min_size=1, max_size=4)
            async with pool.acquire() as conn:
                await load_regions(conn)
                await accounts.add_user(conn, "auditor.bench", "kata-sandi-yang-panjang", "auditor", None, None)
            await attempt(pool, "auditor.bench", 0)  # warm up (the unknown-user hash is made once)
            await attempt(pool, "tidak.ada", 1)
            known, unknown = [], []
            for n in range(rounds):  # interleaved, so that the machine's load falls on both alike
                known.append(await attempt(pool, "auditor.bench", 2 * n + 2))
                unknown.append(await attempt(pool, "tidak.ada", 2 * n + 3))
            await pool.close()
    k, u = statistics.median(known) * 1000, statistics.median(unknown) * 1000
    print_table(["login attempt", "p50 ms", "ratio to baseline"], [
        ["known username, wrong password (baseline)", k, 1.0],
        ["unknown username", u, u / k],
    ])  # fmt: skip


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=40)
    asyncio.run(main(parser.parse_args().rounds))
