"""The per-process cache of rendered pages stays bounded and keeps what was used last (http/page_cache.py)."""

from __future__ import annotations

from musrenbang.http.page_cache import Body, PageCache, etag_of


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
