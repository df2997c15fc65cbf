"""A cancellation is never swallowed by a wait with a time limit.

On Python 3.11, `asyncio.wait_for` returns normally when the task waiting in it is cancelled in the same
step as what it waits for completes: the task goes on as if never cancelled. A Ctrl-C (asyncio.run
cancels the main task) or a SIGTERM (cli/common.py cancels it) was then lost while a wait happened to
finish — `musrenbang demo` once played on to its end after Ctrl-C in CI, its read-model waits finishing
all the time. The waits use `asyncio.timeout`, which keeps the cancellation (and ruff's TID251 bans
`asyncio.wait_for` in musrenbang/). Each case below makes the two happen in one step, as a signal
arriving at that moment does.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable

import pytest

from musrenbang.http.stopping import Stopping
from musrenbang.projections.supervisor import Wake


async def _cancelled_as_it_ends(wait: Awaitable[object], end: Callable[[], None]) -> bool:
    """Whether a task in `wait` ends cancelled when `end` (what it waits for) and its cancellation come in
    the same step."""
    task = asyncio.ensure_future(wait)
    await asyncio.sleep(0.05)  # the task is waiting
    end()
    task.cancel()
    try:
        await task
    except asyncio.CancelledError:
        return True
    return False


async def test_a_projector_stream_pausing_is_cancelled_even_as_the_stop_comes() -> None:
    stopping = Stopping()
    assert await _cancelled_as_it_ends(stopping.pause(5), stopping.request)


async def test_a_projection_worker_waiting_for_its_wake_up_is_cancelled_even_as_it_rings() -> None:
    wake = Wake()
    assert await _cancelled_as_it_ends(wake.wait(5), lambda: wake.ring(None))


@pytest.mark.parametrize("wait", ["asyncio.wait_for", "asyncio.timeout"])
async def test_the_premise_on_this_python(wait: str) -> None:
    """What the waits above rely on: `asyncio.timeout` keeps the cancellation. (`asyncio.wait_for` lost it
    on 3.11; 3.12 reimplemented it on `asyncio.timeout`.)"""
    event = asyncio.Event()

    async def waiting() -> None:
        if wait == "asyncio.timeout":
            async with asyncio.timeout(5):
                await event.wait()
        else:
            await asyncio.wait_for(event.wait(), 5)

    cancelled = await _cancelled_as_it_ends(waiting(), event.set)
    if wait == "asyncio.timeout" or sys.version_info >= (3, 12):
        assert cancelled
    else:
        assert not cancelled  # the defect the ban in pyproject.toml keeps out of musrenbang/
