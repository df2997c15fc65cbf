"""Which database a public read uses, when read replicas are configured (db/replicas.py).

Handlers whose `pool` may lag behind the primary by a moment say so with `dependencies=FROM_REPLICA`: public
GET pages and API reads that write nothing and take no account from the database. Every other handler
(every unsafe method, every staff screen) keeps the primary's pool.

Read-your-writes: the response to every unsafe request carries the primary's WAL position after its
write in the `baca_setelah` cookie; a read with the cookie uses a standby only once that standby has
replayed that far. The cookie only chooses a database and grants nothing: a forged value can at worst
send its own sender to the primary. (It tells a client how much WAL the primary has written, nothing about
what.) A client that keeps no cookie (an API client) still finds a proposal it was just answered with when
it asks for it by its code: a standby that lacks it sends the read to the primary
(`found_on_standby_or_primary`); its lists may lag by the replay delay.

The pool is chosen once per request (Litestar resolves a dependency once per request), so every read of
one page comes from the same database: a page never mixes a standby's older view with the primary's newer
one. Without replicas none of this runs: `pool` is the primary's, and no statement or cookie is added to
any request.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

import asyncpg
from litestar import Request
from litestar.datastructures import State
from litestar.di import Provide
from litestar.exceptions import NotFoundException
from litestar.types import Message, Scope

from musrenbang.config import Settings
from musrenbang.db.replicas import CHECK_TIMEOUT, MAX_LAG, ReadPools, format_lsn, parse_lsn

log = logging.getLogger(__name__)

COOKIE = "baca_setelah"
COOKIE_SECONDS = int(2 * MAX_LAG)
"""Longer than MAX_LAG: when the cookie expires, every standby still read from holds the write."""
_SAFE = frozenset({"GET", "HEAD", "OPTIONS"})


def read_pool(request: Request, state: State) -> asyncpg.Pool:
    reads: ReadPools | None = state.get("reads")
    if reads is None:
        return state["pool"]
    return reads.pool_for(parse_lsn(request.cookies.get(COOKIE)))


FROM_REPLICA = {"pool": Provide(read_pool, sync_to_thread=False)}

T = TypeVar("T")


async def found_on_standby_or_primary(request: Request, pool: asyncpg.Pool,
                                      read: Callable[[asyncpg.Connection], Awaitable[T]]) -> T:  # fmt: skip
    """`read` (of one thing, by its code) on the database chosen for the request; when that was a standby and
    it found nothing (NotFoundException), on the primary. A client that keeps no cookie (an API client, an
    app) asking for the proposal it was just answered would otherwise get 404 from a standby that has not
    replayed it yet. Only a miss costs the second read, and only with replicas."""
    try:
        async with pool.acquire() as conn:
            return await read(conn)
    except NotFoundException:
        primary: asyncpg.Pool = request.app.state.pool
        if pool is primary:
            raise
    async with primary.acquire() as conn:
        return await read(conn)


PRIMARY_ONLY = (1 << 64) - 1
"""A position no standby reaches: the reader is sent to the primary."""


def remember_writes(settings: Settings) -> list[Callable[[Message, Scope], Awaitable[None]]]:
    """The `before_send` hook (none without replicas) that gives the response to an unsafe request the
    primary's WAL position, taken after the handler (and its wait for the projections) finished."""
    if not settings.replica_urls:
        return []
    attributes = f"; Max-Age={COOKIE_SECONDS}; Path=/; HttpOnly; SameSite=Lax" + ("; Secure" if settings.over_https
                                                                               else "")  # fmt: skip

    async def hook(message: Message, scope: Scope) -> None:
        if message["type"] != "http.response.start" or scope.get("method", "GET") in _SAFE or message["status"] >= 500:
            return
        reads: ReadPools | None = scope["app"].state.get("reads")
        if reads is None:
            return
        try:
            lsn = await reads.primary_lsn(timeout=CHECK_TIMEOUT)  # a write already done is not held up long
        except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            # Not known (the primary too busy to say in time): this client reads from the primary for the
            # cookie's life, rather than from a standby that may lack its write. A write that has
            # happened is not failed for it.
            log.warning("read-your-writes position not read for %s (%s): reading from the primary",
                        scope.get("path"), exc)  # fmt: skip
            lsn = PRIMARY_ONLY
        # What the request's own cookie held is not kept: the primary's position now is past every commit
        # this client saw answered, and a value above it (forged, or PRIMARY_ONLY after a position that
        # could not be read) would otherwise be handed back with every write, for good.
        headers = list(message.get("headers", []))
        headers.append((b"set-cookie", f"{COOKIE}={format_lsn(lsn)}{attributes}".encode()))
        message["headers"] = headers

    return [hook]
