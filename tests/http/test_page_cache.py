"""The per-process cache of rendered pages stays bounded, keeps what was used last, and renders a page once for
the requests that miss it together (http/page_cache.py)."""

from __future__ import annotations

import asyncio
import gzip

from musrenbang.http.page_cache import Body, PageCache, _render_once, etag_of


def body(n: int, size: int = 10) -> Body:
    return Body(etag_of(("page", n)), b"x" * size, "text/html")


def test_the_least_recently_used_goes_first_when_full_by_count() -> None:
    cache = PageCache(max_entries=3, max_bytes=1_000)
    for n in range(3):
        cache.put(body(n))
    assert cache.get(body(0).etag) is not None  # used: now the most recent
    cache.put(body(3))
    assert len(cache) == 3 and cache.get(body(1).etag) is None
    assert all(cache.get(body(n).etag) is not None for n in (0, 2, 3))


def test_bytes_are_bounded_too_and_a_body_too_big_is_not_kept() -> None:
    cache = PageCache(max_entries=10, max_bytes=100)
    for n in range(4):
        cache.put(body(n, size=30))
    assert len(cache) == 3 and cache.get(body(0).etag) is None  # 4 × 30 > 100: the oldest went
    cache.put(body(9, size=101))
    assert cache.get(body(9).etag) is None and len(cache) == 3
    cache.put(body(3, size=30))  # the same key again replaces, not adds
    assert len(cache) == 3


def test_keys_name_their_state_and_facts_are_bounded() -> None:
    assert etag_of(("rkpd.html", 2022, "id", 17)) != etag_of(("rkpd.html", 2022, "en", 17))
    assert etag_of(("rkpd.html", 2022, "id", 17)) == etag_of(("rkpd.html", 2022, "id", 17))
    cache = PageCache(max_entries=2)
    for n in range(3):
        cache.note(("pages", n), n + 1)
    assert cache.noted(("pages", 0)) is None and cache.noted(("pages", 2)) == 3


async def test_requests_that_miss_together_wait_for_one_render() -> None:
    cache, renders, release = PageCache(), [], asyncio.Event()

    async def render() -> tuple[tuple[object, ...], bytes]:
        renders.append(1)
        await release.wait()
        return ("page", 1), b"<p>isi</p>"

    waiting = [asyncio.ensure_future(_render_once(cache, body(1).etag, render, "text/html")) for _ in range(10)]
    await asyncio.sleep(0.01)
    assert len(renders) == 1 and not any(w.done() for w in waiting)  # all ten are waiting on one render
    waiting[0].cancel()  # a client that leaves cancels only its own wait
    release.set()
    bodies = await asyncio.gather(*waiting[1:])
    assert {gzip.decompress(b.gzipped) for b in bodies} == {b"<p>isi</p>"} and len(renders) == 1
    assert cache.get(body(1).etag) is not None and not cache.rendering


async def test_a_render_that_fails_fails_its_waiters_and_the_next_request_renders_again() -> None:
    cache, attempts = PageCache(), []

    async def render() -> tuple[tuple[object, ...], bytes]:
        attempts.append(1)
        await asyncio.sleep(0.01)
        if len(attempts) == 1:
            raise RuntimeError("database gone")
        return ("page", 2), b"ok"

    failed = await asyncio.gather(*(_render_once(cache, body(2).etag, render, "text/html") for _ in range(3)),
                                  return_exceptions=True)  # fmt: skip
    assert all(isinstance(f, RuntimeError) for f in failed) and len(attempts) == 1
    again = await _render_once(cache, body(2).etag, render, "text/html")
    assert gzip.decompress(again.gzipped) == b"ok" and len(attempts) == 2
