"""Run the slow Tally projection until killed: `python crash_projector.py DATABASE_URL`."""

import asyncio
import sys

from musrenbang.db.connect import create_pool
from musrenbang.projections.runner import ProjectionRunner
from tests.projections.recording import Tally


async def main(url: str) -> None:
    pool = await create_pool(url, min_size=1, max_size=2)
    tally = Tally(delay=0.003)  # the instance applied is the slow one (a `Tally()` here was not: no delay)
    await ProjectionRunner(pool, [tally], batch_size=50).catch_up(tally)


asyncio.run(main(sys.argv[1]))
