"""Ending long-lived responses as soon as the server is asked to stop.

granian stops a worker gracefully: it stops accepting, waits until every open connection's response has
ended, and only then runs the application's lifespan shutdown. A response that never ends by itself —
the projector screen's Server-Sent Events stream stays open for as long as its forum is — held the worker,
and so the whole stop and the bundled database behind it, for as long as a screen was open (issue 15:
Ctrl-C under load left workers hung). granian tells the application nothing of the stop (no
`http.disconnect`), so a worker learns of it from the signal itself: SIGINT (Ctrl-C in a terminal
reaches the whole process group) or SIGTERM (granian's main process terminates its workers with it).

`install` chains a handler in front of the one already there. In a granian worker that is the event
loop's, which only records the signal; the loop then reacts through its wakeup fd, which stays as it
was, so granian's own shutdown still starts. Signals nobody handles in Python (the default action) are
left alone: the process ends on them anyway.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import threading
from collections.abc import Callable
from types import FrameType

SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Stopping:
    """Whether this process was asked to stop; long-lived responses wait on it instead of sleeping."""

    def __init__(self) -> None:
        self._event = asyncio.Event()

    @property
    def requested(self) -> bool:
        return self._event.is_set()

    def request(self) -> None:
        self._event.set()

    async def pause(self, seconds: float) -> bool:
        """Sleep `seconds`; True (at once) when a stop is or was requested meanwhile."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await self._event.wait()
        return self._event.is_set()

    def install(self) -> Callable[[], None]:
        """From the running loop's thread: request a stop on SIGINT and SIGTERM, then hand the signal on to
        the handler that was there. Returns the function that puts those handlers back."""
        if threading.current_thread() is not threading.main_thread():
            return lambda: None  # only the main thread can set handlers; a test's app runs elsewhere
        loop = asyncio.get_running_loop()
        before: dict[int, Callable[[int, FrameType | None], object]] = {}
        for sig in SIGNALS:
            previous = signal.getsignal(sig)
            if not callable(previous):
                continue

            def handler(signum: int, frame: FrameType | None, previous: Callable = previous) -> None:
                # A signal handler runs between two bytecodes of whatever the loop was doing: only
                # schedule, never touch the event directly.
                loop.call_soon_threadsafe(self.request)
                previous(signum, frame)

            before[sig] = previous
            signal.signal(sig, handler)

        def uninstall() -> None:
            for sig, previous in before.items():
                signal.signal(sig, previous)

        return uninstall
