"""Public pages cached as the bytes sent: rendered once, gzip-compressed once, served by key with an ETag.

A city's RKPD list changes only when the log says so (an agency sets a line, Bappeda adopts), yet
rendering it is most of what a request for it costs. So a handler names its body by a key made of the
read model's own state (`rkpd_views.list_version`: the position of the last event applied for the year,
the settings, the newest seal) and of everything else the bytes depend on (language, page number); the
first request for a key renders and compresses, the next ones send the same bytes, and a client that
already has them gets 304 from the key alone. A new event moves the key: the next request misses and
renders the new state, so a page is never older than the read model it was keyed by, in any process.

Only bodies that are the same for every reader may be cached here: nothing personal, nothing for staff
(the public pages cached have no signed-in chrome). A page that says the data may be behind is the same
for every reader shown that notice, and is cached under a key of its own. The cache is per process and
bounded (an LRU by count and bytes).
"""

from __future__ import annotations

import asyncio
import gzip
import hashlib
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from typing import NamedTuple

import asyncpg
from litestar import Request, Response
from litestar.utils.scope.state import ScopeState

MAX_ENTRIES = 64
SEARCH_ENTRIES = 32
SEARCH_BYTES = 2 * 1024 * 1024
"""The searches' own cache (`searches_of`): a popular search is sent as it is, and a flood of new ones
pushes out only other searches, never the pages everyone reads."""
ITEM_ENTRIES = 256
ITEM_BYTES = 4 * 1024 * 1024
"""The per-item pages' own cache (`items_of`)."""
MAX_LISTS = 4
"""Read-model states kept whole (a year's RKPD list, parsed, for the views the cache does not keep)."""
MAX_BYTES = 16 * 1024 * 1024
CACHE_CONTROL = "no-cache"
"""Browsers and proxies may keep the bytes, and ask again each time (If-None-Match → 304)."""


class Body(NamedTuple):
    etag: str
    gzipped: bytes
    media_type: str


class PageCache:
    """Least recently used bodies, at most MAX_ENTRIES and MAX_BYTES of compressed bytes."""

    def __init__(self, max_entries: int = MAX_ENTRIES, max_bytes: int = MAX_BYTES) -> None:
        self._entries: OrderedDict[str, Body] = OrderedDict()
        self._facts: dict[tuple[object, ...], int] = {}
        self._lists: OrderedDict[tuple[object, ...], object] = OrderedDict()
        self.rendering: dict[str, asyncio.Task[Body]] = {}
        """Renders in progress by ETag: the requests that miss together wait for one render (`cached`)."""
        self._bytes = 0
        self.max_entries, self.max_bytes = max_entries, max_bytes

    def get(self, etag: str) -> Body | None:
        body = self._entries.get(etag)
        if body is not None:
            self._entries.move_to_end(etag)
        return body

    def put(self, body: Body) -> None:
        if len(body.gzipped) > self.max_bytes:
            return  # sent, not kept: it would push out everything else
        old = self._entries.pop(body.etag, None)
        if old is not None:
            self._bytes -= len(old.gzipped)
        self._entries[body.etag] = body
        self._bytes += len(body.gzipped)
        while self._entries and (len(self._entries) > self.max_entries or self._bytes > self.max_bytes):
            _, dropped = self._entries.popitem(last=False)
            self._bytes -= len(dropped.gzipped)

    def __len__(self) -> int:
        return len(self._entries)

    def note(self, key: tuple[object, ...], value: int) -> None:
        """A small fact about a state (how many pages a list has), so that asking for what the state does
        not have (page 99) is answered without rendering it again."""
        self._facts[key] = value
        while len(self._facts) > self.max_entries:
            self._facts.pop(next(iter(self._facts)))

    def noted(self, key: tuple[object, ...]) -> int | None:
        return self._facts.get(key)

    def keep(self, key: tuple[object, ...], value: object) -> None:
        """A state read whole, by the key of what it was read at (at most MAX_LISTS, least recent out):
        views made from it per request (searches) then read it from here, not from the database."""
        self._lists[key] = value
        self._lists.move_to_end(key)
        while len(self._lists) > MAX_LISTS:
            self._lists.popitem(last=False)

    def kept(self, key: tuple[object, ...]) -> object | None:
        value = self._lists.get(key)
        if value is not None:
            self._lists.move_to_end(key)
        return value


def etag_of(key: tuple[object, ...]) -> str:
    """A weak validator (the gzip and plain forms are the same page) naming the key, not the bytes: a
    304 needs no rendering."""
    return 'W/"' + hashlib.sha256(repr(key).encode()).hexdigest()[:32] + '"'


def _kept_in_state(request: Request, name: str, max_entries: int, max_bytes: int) -> PageCache:
    """The cache `name` of this process (made with the application's state on first use)."""
    cache: PageCache | None = request.app.state.get(name)
    if cache is None:
        cache = PageCache(max_entries, max_bytes)
        request.app.state[name] = cache
    return cache


def cache_of(request: Request) -> PageCache:
    """This process's cache of the pages everyone reads."""
    return _kept_in_state(request, "page_cache", MAX_ENTRIES, MAX_BYTES)


def searches_of(request: Request) -> PageCache:
    """This process's cache for pages named by what a reader typed (unbounded in kind, so kept apart)."""
    return _kept_in_state(request, "search_cache", SEARCH_ENTRIES, SEARCH_BYTES)


def items_of(request: Request) -> PageCache:
    """This process's cache for pages of one proposal or line each (lineage pages): there are as many as
    proposals, so they are kept apart, where they push out only each other, never the city-wide pages."""
    return _kept_in_state(request, "item_cache", ITEM_ENTRIES, ITEM_BYTES)


Render = Callable[[], Awaitable[tuple[tuple[object, ...], bytes]]]


async def cached(request: Request, key: tuple[object, ...], render: Render, media_type: str, *,
                 vary_language: bool = False, cache: PageCache | None = None) -> Response:  # fmt: skip
    """304 if the client has `key`'s bytes, else them from the cache, else `render()` them: it returns the
    key its bytes were read at (the state may have moved since `key` was read) and the bytes, cached under
    it. `vary_language`: the bytes depend on the language cookie. `cache`: the process's page cache by
    default."""
    vary = "Accept-Encoding, Cookie" if vary_language else "Accept-Encoding"
    etag = etag_of(key)
    asked = _asked(request)
    if etag in asked:
        return Response(content=b"", status_code=304, headers=_headers(etag, vary))
    cache = cache or cache_of(request)
    body = cache.get(etag) or await _render_once(cache, etag, render, media_type)
    if "*" in asked:  # true only for what exists: known once it is rendered (a missing page raised 404 there)
        return Response(content=b"", status_code=304, headers=_headers(body.etag, vary))
    return _send(request, body, vary)


async def _render_once(cache: PageCache, etag: str, render: Render, media_type: str) -> Body:
    """`render()` once for every request of this process that misses `etag` meanwhile: when a new event
    moves a busy page's key, its readers all miss at once, and each rendering it on its own made a
    0.3 s page take seconds for all of them (measured on a 917k-event log: 6 requests/s instead of
    2,000). The render runs as a task of its own, so a client that leaves cancels no one else's wait; a
    render that fails fails the requests that waited for it, and the next request tries again."""
    task = cache.rendering.get(etag)
    if task is None:
        task = cache.rendering[etag] = asyncio.ensure_future(_render_and_keep(cache, render, media_type))

        def done(finished: asyncio.Task[Body]) -> None:
            cache.rendering.pop(etag, None)
            if not finished.cancelled():
                finished.exception()  # retrieved, even when every waiter has gone

        task.add_done_callback(done)
    return await asyncio.shield(task)


async def _render_and_keep(cache: PageCache, render: Render, media_type: str) -> Body:
    read_at, plain = await render()
    body = Body(etag_of(read_at), gzip.compress(plain, compresslevel=6, mtime=0), media_type)
    cache.put(body)
    return body


def _send(request: Request, body: Body, vary: str) -> Response:
    """The gzip bytes to a client that takes them, decompressed to one that does not. Either way the
    response is marked as cached, so that the compression middleware passes it through as it is (it
    would otherwise compress it a second time)."""
    ScopeState.from_scope(request.scope).is_cached = True
    headers = _headers(body.etag, vary)
    if takes_gzip(request.headers.get("accept-encoding", "")):
        headers["Content-Encoding"] = "gzip"
        return Response(content=body.gzipped, media_type=body.media_type, headers=headers)
    return Response(content=gzip.decompress(body.gzipped), media_type=body.media_type, headers=headers)


def _headers(etag: str, vary: str) -> dict[str, str]:
    return {"ETag": etag, "Cache-Control": CACHE_CONTROL, "Vary": vary}


def takes_gzip(accept_encoding: str) -> bool:
    """Whether an Accept-Encoding header (RFC 9110, 12.5.3) accepts gzip: named (or `x-gzip`, or `*` when
    gzip is not named) with a q-value above 0. `gzip;q=0` refuses it, though the word is there."""
    named: float | None = None
    anything: float | None = None
    for part in accept_encoding.split(","):
        coding, *params = (p.strip() for p in part.split(";"))
        q = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    q = float(value.strip())
                except ValueError:
                    q = 0.0
                if not 0 <= q <= 1:  # also nan: not a weight
                    q = 0.0
        coding = coding.lower()
        if coding in ("gzip", "x-gzip"):
            named = q if named is None else max(named, q)
        elif coding == "*":
            anything = q
    if named is not None:
        return named > 0
    return anything is not None and anything > 0


def not_modified(request: Request, etag: str) -> Response | None:
    """304 when the client already has the body named `etag` (a body not kept here, such as a download
    rendered for each request that needs it)."""
    if has_it(request, etag):
        return Response(content=b"", status_code=304, headers={"ETag": etag, "Cache-Control": CACHE_CONTROL})
    return None


def has_it(request: Request, etag: str) -> bool:
    """Whether If-None-Match names `etag` (weak or strong: compared weakly) or is `*` (any)."""
    asked = _asked(request)
    return "*" in asked or ("W/" + etag.removeprefix("W/")) in asked


def _asked(request: Request) -> set[str]:
    """The entity tags of If-None-Match, compared weakly (RFC 9110, 13.1.2): `W/"x"` and `"x"` are one tag,
    given here in the weak form our ETags take; `*` stays `*`."""
    asked = request.headers.get("if-none-match")
    if asked is None:
        return set()
    tags = {t.strip() for t in asked.split(",")}
    return {t if t == "*" or t.startswith("W/") else "W/" + t for t in tags if t}


async def by_checkpoints(request: Request, pool: asyncpg.Pool, name: str, models: Sequence[str],
                         render_on: Callable[[asyncpg.Connection], Awaitable[bytes]], *,
                         cache: PageCache | None = None) -> Response:  # fmt: skip
    """An HTML page read from the read models `models`, cached by their checkpoints: rendered again after
    any event of a kind they handle (`status.checkpoints`), sent as it is between."""
    from musrenbang.projections import status as status_views

    async def versions(conn: asyncpg.Connection) -> tuple[object, ...]:
        return await status_views.checkpoints(conn, models)

    return await by_versions(request, pool, name, versions, render_on, cache=cache)


async def by_versions(request: Request, pool: asyncpg.Pool, name: str,
                      versions: Callable[[asyncpg.Connection], Awaitable[tuple[object, ...]]],
                      render_on: Callable[[asyncpg.Connection], Awaitable[bytes]], *,
                      cache: PageCache | None = None) -> Response:  # fmt: skip
    """An HTML page cached by `versions`: what the page is a function of, read (by key or small index) in
    the same snapshot as `render_on` reads and renders, so that the bytes kept under a key are those of
    that key's state. The "may be behind" notice is in the key: its readers share their own cached page
    (the notice's cookie is the client's to send, so it must not buy a render). `cache`: the process's page
    cache by default."""
    from musrenbang.http.i18n import language
    from musrenbang.http.render import remember_language
    from musrenbang.http.staleness import behind

    def key(read_at: tuple[object, ...]) -> tuple[object, ...]:
        return (name, request.url.path, language(request), behind(request), read_at)

    async def render() -> tuple[tuple[object, ...], bytes]:
        async with pool.acquire() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
            read_at = await versions(conn)
            return key(read_at), await render_on(conn)

    async with pool.acquire() as conn:
        now = await versions(conn)
    response = await cached(request, key(now), render, "text/html", vary_language=True, cache=cache)
    remember_language(request, response)
    return response
