"""Checking the per-stream hash chains.

`check_chains` is pure: it takes events in (stream_id, stream_version) order from any source — the
database or an exported file — recomputes every hash and reports the first place where the recomputed
chain and the stored one part ways.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import AsyncIterator, Callable, Iterable
from typing import NamedTuple

import asyncpg

from musrenbang.eventlog import codec


class StoredEvent(NamedTuple):
    """The fields the hash covers, as stored, plus the stored hash and where the event sits."""

    global_position: int
    stream_id: str
    stream_version: int
    event_id: uuid.UUID
    event_type: str
    recorded_at: dt.datetime
    data: bytes | str
    metadata: bytes | str
    hash: bytes


class ChainBreak(NamedTuple):
    stream_id: str
    stream_version: int
    global_position: int
    reason: str

    def __str__(self) -> str:
        return (
            f"stream {self.stream_id} version {self.stream_version}"
            f" (global position {self.global_position}): {self.reason}"
        )


class ChainReport(NamedTuple):
    events: int
    streams: int
    first_break: ChainBreak | None
    broken_streams: int

    @property
    def intact(self) -> bool:
        return self.first_break is None


class ChainChecker:
    """Feed events in (stream_id, stream_version) order; read the report at the end."""

    def __init__(self) -> None:
        self.events = 0
        self.streams = 0
        self.first_break: ChainBreak | None = None
        self._broken: set[str] = set()
        self._stream: str | None = None
        self._version = 0
        self._previous = codec.GENESIS_HASH

    def feed(self, e: StoredEvent) -> None:
        self.events += 1
        if e.stream_id != self._stream:
            self._stream, self._version, self._previous = e.stream_id, 0, codec.GENESIS_HASH
            self.streams += 1
        if e.stream_id in self._broken:
            return
        if e.stream_version != self._version + 1:
            self._break(e, f"expected version {self._version + 1}, found {e.stream_version}")
            return
        try:
            canonical = codec.canonical(
                e.stream_id,
                e.stream_version,
                e.event_id,
                e.event_type,
                e.recorded_at,
                codec.recanonicalize(e.data),
                codec.recanonicalize(e.metadata),
            )
        except ValueError as exc:
            self._break(e, f"unreadable event: {exc}")
            return
        expected = codec.chain_hash(self._previous, canonical)
        if expected != bytes(e.hash):
            self._break(e, "hash does not match the event's contents and the previous hash")
            return
        self._version, self._previous = e.stream_version, expected

    def _break(self, e: StoredEvent, reason: str) -> None:
        self._broken.add(e.stream_id)
        if self.first_break is None:
            self.first_break = ChainBreak(e.stream_id, e.stream_version, e.global_position, reason)

    def report(self) -> ChainReport:
        return ChainReport(self.events, self.streams, self.first_break, len(self._broken))


def check_chains(events: Iterable[StoredEvent]) -> ChainReport:
    checker = ChainChecker()
    for e in events:
        checker.feed(e)
    return checker.report()


async def stored_events(
    conn: asyncpg.Connection, batch: int = 5000, stream: str | None = None
) -> AsyncIterator[StoredEvent]:
    """Every event of the log (or of one stream) in chain order, read in one consistent snapshot."""
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        async for r in conn.cursor(
            "SELECT global_position, stream_id, stream_version, event_id, event_type, recorded_at, data,"
            " metadata, hash FROM events WHERE $1::text IS NULL OR stream_id = $1 ORDER BY stream_id, stream_version",
            stream,
            prefetch=batch,
        ):
            yield StoredEvent(*r)


async def verify_database(conn: asyncpg.Connection, on_progress: Callable[[int], None] | None = None) -> ChainReport:
    checker = ChainChecker()
    async for e in stored_events(conn):
        checker.feed(e)
        if on_progress is not None and checker.events % 10_000 == 0:
            on_progress(checker.events)
    return checker.report()
