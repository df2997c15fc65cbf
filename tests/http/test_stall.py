"""A worker's event loop that stands still says so, with every thread's stack (http/stall.py).

Each case runs in a process of its own: faulthandler's timer is one per process, and a blocked loop is
what is being shown.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

SCRIPT = textwrap.dedent("""
    import asyncio, logging, sys, time
    from musrenbang.http.stall import watch_loop

    logging.basicConfig(stream=sys.stdout, format="%(levelname)s %(message)s")

    def computing_for_a_while(seconds):
        time.sleep(seconds)  # what a synchronous call in a handler would do to the loop

    async def main(stall):
        watch = asyncio.create_task(watch_loop(period=0.1, stalled_after=0.6))
        await asyncio.sleep(0.3)
        computing_for_a_while(stall)
        await asyncio.sleep(0.3)
        watch.cancel()
        await asyncio.gather(watch, return_exceptions=True)
        time.sleep(1.0)  # the watch cancelled: a quiet moment must stay quiet

    asyncio.run(main(float(sys.argv[1])))
""")


def _run(stall: float) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", SCRIPT, str(stall)], capture_output=True, text=True, timeout=60)


def test_a_stalled_loop_writes_where_it_stands_and_warns_once_it_runs_again() -> None:
    done = _run(1.5)
    assert done.returncode == 0, done.stderr
    assert "Timeout (0:00:00.600000)!" in done.stderr, done.stderr
    assert "in computing_for_a_while" in done.stderr, done.stderr  # the stuck main thread's stack
    assert done.stderr.count("Timeout (") == 1, done.stderr  # once, and never after the watch ended
    assert "event loop stood still for at least" in done.stdout, done.stdout


def test_a_loop_that_keeps_running_writes_nothing() -> None:
    done = _run(0.1)
    assert done.returncode == 0, done.stderr
    assert "Timeout (" not in done.stderr and "stood still" not in done.stdout, (done.stdout, done.stderr)
