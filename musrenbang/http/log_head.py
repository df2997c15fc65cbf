"""The published head of the whole log: `GET /api/v1/log/head`, and the latest seal the pages print.

Anyone can note the head (its hash) now and check later, with `musrenbang verify --head HASH`, that the
log still holds every event it sealed (eventlog/seal.py)."""

from __future__ import annotations

import datetime as dt
import re
from typing import NamedTuple

import asyncpg
import msgspec
from litestar import Controller, get
from litestar.openapi.datastructures import ResponseSpec

from musrenbang.domain.errors import N_, Message, NotFound
from musrenbang.eventlog import seal
from musrenbang.eventlog.store import Position
from musrenbang.eventlog.verify import check_head
from musrenbang.http.api import ErrorOut
from musrenbang.http.deps import PoolDep
from musrenbang.http.reads import FROM_REPLICA


class LogHeadOut(msgspec.Struct, frozen=True):
    seal: int
    """The seal's number (1, 2, ...)."""
    position: int
    """Global position of the last event it covers."""
    events: int
    """How many events it covers, from the first."""
    hash: str
    """64 hex digits: SHA-256 over every covered event's hash, chained to the previous seal."""
    sealed_at: dt.datetime


class LogHeadApi(Controller):
    """Public: anyone may note the head and check the log against it later, so no guard."""

    path = "/api/v1/log"
    tags = ["audit"]

    @get("/head", summary="The newest seal over the whole log (note its hash; verify it later)",
         dependencies=FROM_REPLICA, responses={404: ResponseSpec(
             data_container=ErrorOut, generate_examples=False,
             description="The log has not been sealed yet")})  # fmt: skip
    async def log_head(self, pool: PoolDep) -> LogHeadOut:
        async with pool.acquire() as conn:
            newest = await seal.latest(conn)
        if newest is None:
            # Said as it is (a generic "not found at this address" read as a wrong address): the server seals
            # the log within MUSRENBANG_SEAL_INTERVAL of its first event.
            raise NotFound(N_("log belum pernah disegel; server menyegelnya tak lama setelah peristiwa pertama"
                              " dicatat, coba lagi sebentar lagi"))  # fmt: skip
        return LogHeadOut(newest.seal, newest.position, newest.events, newest.hash, newest.sealed_at)


class SealShown(NamedTuple):
    """The newest seal as a page prints it, and whether it already covers the page's own head."""

    seal: seal.Seal
    covers: bool | None
    """None when the page has no head of its own (/audit)."""


async def latest_seal(pool: asyncpg.Pool, head_position: int | None = None) -> SealShown | None:
    """The newest seal; with the global position of the event a page was computed from (a forum's close,
    an adoption), whether that event is already under the seal."""
    async with pool.acquire() as conn:
        return await latest_seal_on(conn, head_position)


async def latest_seal_on(conn: asyncpg.Connection, head_position: int | None = None) -> SealShown | None:
    """`latest_seal` on `conn` (in the transaction the page's other data is read in)."""
    newest = await seal.latest(conn)
    if newest is None:
        return None
    if head_position is None:
        return SealShown(newest, None)
    tx = await conn.fetchval("SELECT tx FROM events WHERE global_position = $1", head_position)
    return SealShown(newest, tx is not None and newest.covers(Position(tx, head_position)))


class PastedHead(NamedTuple):
    """What a head someone noted (a Berita Acara's, an RKPD's, a seal's) is in the log."""

    sealed: seal.Seal | None
    """The seal whose hash it is; None for an event's hash."""
    found: asyncpg.Record | None
    """The event it names (for a seal: the seal's own event, on the chain of seals)."""
    intact: bool


HEX = frozenset("0123456789abcdef")


def pasted_hash(typed: str) -> str:
    """A hash as a person pastes it: spaces and line breaks anywhere are dropped (one copied from a printed
    Berita Acara breaks across lines) and case is ignored."""
    return "".join(typed.split()).lower()


def hash_problem(digest: str) -> Message | None:
    """Why `digest` cannot be a hash at all, in words a person can act on; None when it can be one. A typo
    must not read "the log does not hold this hash": to an auditor that says the log was changed."""
    wrong = next((c for c in digest if c not in HEX), None)
    if wrong is not None:
        shown = wrong if wrong.isprintable() else f"U+{ord(wrong):04X}"
        return Message(N_("Ini bukan hash: hash hanya memuat angka 0–9 dan huruf a–f, sedangkan yang diperiksa"
                          " memuat %(char)s."), char=f"«{shown}»")  # fmt: skip
    if len(digest) != 64:
        return Message(N_("Ini bukan hash yang lengkap: hash terdiri dari 64 karakter, sedangkan yang diperiksa"
                          " %(n)s karakter. Periksa apakah ada yang terpotong atau berlebih."), n=len(digest))
    return None


async def check_pasted_head(conn: asyncpg.Connection, digest: str) -> PastedHead:
    """Both kinds of head a page prints: `_seal.html` asks readers to note the seal's hash, so a check
    that knew only events' hashes would call a sound seal missing."""
    sealed = await seal.find(conn, digest) if re.fullmatch(r"[0-9a-f]{64}", digest) else None
    found, intact = await check_head(conn, sealed.event_hash if sealed else digest)
    return PastedHead(sealed, found, intact)
