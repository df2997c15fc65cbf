"""A server worker whose `musrenbang serve` process is gone stops by itself.

granian's main process forks the workers, and restarts, signals and stops them. Killed outright (SIGKILL:
`kill -9`, the OOM killer) it can do none of that: the workers went on serving with init as their parent,
held the port (a new `serve` was refused, "already in use") and the bundled database, which `db stop`
then stopped under them, so they answered 503 from then on (review s25). A worker looks at its parent
once a second and, once it is no longer the process that started it, stops as it does on SIGTERM.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal

log = logging.getLogger(__name__)

SERVE_PID = "MUSRENBANG_SERVE_PID"
"""Set by `musrenbang serve` (cli/server.py) before granian forks its workers: the process they belong to."""


def serving_parent() -> int | None:
    """The `serve` process this process is a worker of; None for an app run any other way (a test's, or one
    whose parent is already gone at its start, which the watch could not tell from a restart)."""
    raw = os.environ.get(SERVE_PID, "")
    return int(raw) if raw.isdigit() and int(raw) == os.getppid() else None


async def stop_when_orphaned(parent: int, *, period: float = 1.0) -> None:
    """Until cancelled, or until `parent` is no longer this process's parent: then SIGTERM to itself, so
    that granian's own graceful stop runs (responses end, the lifespan closes the pool)."""
    while os.getppid() == parent:
        await asyncio.sleep(period)
    log.error("the server's main process (%d) is gone: this worker stops", parent)
    os.kill(os.getpid(), signal.SIGTERM)
