"""A server worker's event loop, watched for stalls.

Everything a worker does runs on one event loop: a callback that computes for seconds, or a call that
blocks, holds every request of that process, and a stop too (granian learns of a signal through the
loop: a worker whose loop is stuck is killed after WORKERS_KILL_TIMEOUT instead of stopping, its
projector screens cut off). Nothing else would say so. `watch_loop` re-arms faulthandler's timer from
the loop every PERIOD seconds; when the loop has not come back to it for STALLED_AFTER seconds,
faulthandler's own thread writes every thread's stack to the worker's standard error. That thread is C
and needs no GIL, so a deadlock is caught as well as a long computation. Once the loop runs again, a
warning says for how long it stood still.
"""

from __future__ import annotations

import asyncio
import faulthandler
import logging
import sys
from typing import TextIO

log = logging.getLogger(__name__)

PERIOD = 1.0
"""Seconds between two re-armings: one call into faulthandler, nothing else."""
STALLED_AFTER = 5.0
"""Seconds. Below granian's WORKERS_KILL_TIMEOUT (6 s), so that a worker stuck during a stop shows where
before it is killed; far above anything a request should hold the loop for."""


async def watch_loop(*, period: float = PERIOD, stalled_after: float = STALLED_AFTER,
                     out: TextIO | None = None) -> None:  # fmt: skip
    """Until cancelled: the stacks of every thread on `out` (standard error) whenever this loop stands
    still for `stalled_after` seconds, and a warning once it runs again. One watch per process:
    faulthandler has a single timer."""
    loop = asyncio.get_running_loop()
    try:
        while True:
            faulthandler.dump_traceback_later(stalled_after, file=out or sys.stderr)
            before = loop.time()
            await asyncio.sleep(period)
            late = loop.time() - before - period
            if late >= stalled_after - period:
                log.warning("this worker's event loop stood still for at least %.1f s (every thread's stack was written"
                            " to standard error above)", late)  # fmt: skip
    finally:
        faulthandler.cancel_dump_traceback_later()
