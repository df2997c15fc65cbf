"""Checking the log: the per-stream hash chains, and the seals over the whole log.

`check_chains` is pure: it takes events from any source — the database or an exported file — in any
order that keeps each stream's events in version order (grouped by stream, or in global order as an
export holds them), recomputes every hash and reports the first place where the recomputed chain and the
stored one part ways. A chain cannot show that its own tail or its whole stream is gone; the seals can
(eventlog/seal.py): `verify_database` feeds both checkers in one pass in global order.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import AsyncIterator, Callable, Iterable
from typing import NamedTuple

import asyncpg

from musrenbang.domain.events import LogSealed
from musrenbang.eventlog import codec
from musrenbang.eventlog.seal import GENESIS, SEAL_STREAM, SealChecker, decode_seal


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
    event_type: str = ""

    def __str__(self) -> str:
        kind = f", event {self.event_type}" if self.event_type else ""
        return (
            f"stream {self.stream_id} version {self.stream_version}"
            f" (global position {self.global_position}){kind}: {self.reason}"
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
    """Feed events with each stream's events in version order (streams may interleave, so the global
    order of an export works as well as the database's stream order); read the report at the end.

    Per-stream state (last version and hash) is kept in a dict, one entry per stream seen."""

    def __init__(self) -> None:
        self.events = 0
        self.first_break: ChainBreak | None = None
        self.breaks: list[ChainBreak] = []
        """The first break of every broken stream, in the order they were found."""
        self._broken: set[str] = set()
        self._heads: dict[str, tuple[int, bytes]] = {}
        """Each stream's last version and hash that link up: what the next event must follow."""
        self._last: dict[str, tuple[int, bytes]] = {}
        """Each stream's last version and hash as stored, broken or not: what the seals are compared with."""

    @property
    def streams(self) -> int:
        return len(self._heads)

    def feed(self, e: StoredEvent) -> None:
        self.events += 1
        self._last[e.stream_id] = (e.stream_version, bytes(e.hash))
        version, previous = self._heads.setdefault(e.stream_id, (0, codec.GENESIS_HASH))
        if e.stream_id in self._broken:
            return
        if e.stream_version != version + 1:
            self._break(e, f"expected version {version + 1}, found {e.stream_version}")
            return
        problem = link_problem(previous, e)
        if problem is not None:
            self._break(e, problem)
            return
        self._heads[e.stream_id] = (e.stream_version, bytes(e.hash))

    def _break(self, e: StoredEvent, reason: str) -> None:
        self._broken.add(e.stream_id)
        found = ChainBreak(e.stream_id, e.stream_version, e.global_position, reason, e.event_type)
        self.breaks.append(found)
        if self.first_break is None:
            self.first_break = found

    def report(self) -> ChainReport:
        return ChainReport(self.events, self.streams, self.first_break, len(self._broken))

    def heads(self) -> dict[str, tuple[int, bytes]]:
        """Each stream's last version and hash as stored (for naming what a seal lost): of a stream whose
        chain breaks at an altered event, its events are all still there, and the break names the event."""
        return self._last


def link_problem(previous: bytes, e: StoredEvent) -> str | None:
    """Why `e`'s stored hash is not the hash of its contents chained to `previous` (its stream's hash
    before it); None when it is."""
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
        return f"unreadable event: {exc}"
    if codec.chain_hash(previous, canonical) != bytes(e.hash):
        return "hash does not match the event's contents and the previous hash"
    return None


def check_chains(events: Iterable[StoredEvent]) -> ChainReport:
    checker = ChainChecker()
    for e in events:
        checker.feed(e)
    return checker.report()


async def stored_events(
    conn: asyncpg.Connection, batch: int = 5000, stream: str | None = None, up_to: int | None = None
) -> AsyncIterator[StoredEvent]:
    """Every event of the log (or of one stream, up to its version `up_to`) in chain order, read in one
    consistent snapshot."""
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        async for r in conn.cursor(
            "SELECT global_position, stream_id, stream_version, event_id, event_type, recorded_at, data,"
            " metadata, hash FROM events WHERE ($1::text IS NULL OR stream_id = $1)"
            " AND ($2::int IS NULL OR stream_version <= $2) ORDER BY stream_id, stream_version",
            stream, up_to,
            prefetch=batch,
        ):  # fmt: skip
            yield StoredEvent(*r)


class LogReport(NamedTuple):
    chains: ChainReport
    breaks: list[ChainBreak]
    seals: int
    newest_seal: LogSealed | None
    """The newest LogSealed met (None: the log holds no seal yet)."""
    seal_problems: list[str]
    """Seals that no longer match the log, and the streams whose sealed events are missing."""

    @property
    def intact(self) -> bool:
        return self.chains.intact and not self.seal_problems


class LogChecker:
    """Both checks over one pass of the log in global-position order (the database or an export)."""

    def __init__(self) -> None:
        self.chains = ChainChecker()
        self.seals = SealChecker()

    def feed(self, e: StoredEvent, tx: int | None) -> None:
        """`tx`: the event's order key (None in exports made before seals: then only chains are checked)."""
        self.chains.feed(e)
        if tx is None:
            return
        seal = None
        if e.event_type == "log.sealed":
            try:
                seal = decode_seal(codec.recanonicalize(e.data))
            except ValueError as exc:  # msgspec's errors are ValueErrors
                self.seals.problems.append(f"the seal at global position {e.global_position} cannot be read: {exc}")
        self.seals.feed(tx, e.global_position, e.hash, seal)

    def report(self, head: str | None = None) -> LogReport:
        problems = [*self.seals.problems, *self.seals.missing_streams(self.chains.heads())]
        if head is not None:
            problems.extend(self.seals.head_problems(head))
        return LogReport(self.chains.report(), self.chains.breaks, self.seals.seals, self.seals.newest, problems)


async def verify_database(
    conn: asyncpg.Connection, on_progress: Callable[[int], None] | None = None, *, head: str | None = None
) -> LogReport:
    """Every chain and every seal, in one consistent snapshot; with `head` (a seal's hash someone
    noted), also whether the log still holds that seal."""
    checker = LogChecker()
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        async for r in conn.cursor(
            "SELECT global_position, stream_id, stream_version, event_id, event_type, recorded_at, data, metadata,"
            " hash, tx FROM events ORDER BY global_position",
            prefetch=5000,
        ):
            checker.feed(StoredEvent(*r[:9]), r["tx"])
            if on_progress is not None and checker.chains.events % 10_000 == 0:
                on_progress(checker.chains.events)
    return checker.report(head)


WHOLE_CHAIN_UP_TO = 1000
"""How far into its stream a pasted head is checked along the whole hash chain: the events up to it, read
no further. An event later in its stream (a city-wide election's forum holds an event per delegate: 60,000
and more; the chain of seals grows by about 1,440 a day) is checked by itself and its link to the one
before it: a public page anyone may ask again and again must cost at most this many rows."""


async def check_head(conn: asyncpg.Connection, digest: str) -> tuple[asyncpg.Record | None, bool]:
    """The event whose hash is `digest` (64 hex digits), and whether it is intact: what a printed log head
    (Berita Acara, adopted RKPD, a seal's own event) is checked against, on public pages anyone may call.

    The row's `whole_chain` says what "intact" covers. True: the event's stream's hash chain from its
    first event up to this one (an event at most WHOLE_CHAIN_UP_TO into its stream). False: only the event itself
    and its link to the event before it in its stream, two rows whatever the stream's length (for a seal,
    `seal_link_problem`; else `link_problem`); the events before those two are not checked here. The whole
    chain, and whether the events a seal covered are still in the log, is `musrenbang verify --head HASH`
    (`verify_database`)."""
    if not re.fullmatch(r"[0-9a-f]{64}", digest):
        return None, False
    row = await conn.fetchrow(
        "SELECT stream_id, stream_version, global_position, event_type, recorded_at,"
        " stream_id <> $2 AND stream_version <= $3 AS whole_chain FROM events WHERE hash = $1",
        bytes.fromhex(digest), SEAL_STREAM, WHOLE_CHAIN_UP_TO,
    )  # fmt: skip
    if row is None:
        return None, False
    if not row["whole_chain"]:
        return row, await check_link(conn, row["stream_id"], row["stream_version"])
    events = [e async for e in stored_events(conn, stream=row["stream_id"], up_to=row["stream_version"])]
    return row, check_chains(events).intact


async def check_link(conn: asyncpg.Connection, stream: str, version: int) -> bool:
    """Whether the event at `version` of `stream` is intact and linked to the one before it: reads those two
    events only (`seal_link_problem` on the chain of seals, which also follows the seals' own numbering)."""
    rows = await conn.fetch(
        "SELECT global_position, stream_id, stream_version, event_id, event_type, recorded_at, data, metadata, hash"
        " FROM events WHERE stream_id = $1 AND stream_version BETWEEN $2::int - 1 AND $2::int"
        " ORDER BY stream_version LIMIT 2",
        stream, version,
    )  # fmt: skip
    events = [StoredEvent(*r) for r in rows]
    if not events or events[-1].stream_version != version:
        return False
    before = events[0] if len(events) == 2 else None
    if stream == SEAL_STREAM:
        return seal_link_problem(before, events[-1]) is None
    return _event_link_problem(before, events[-1]) is None


def first_link_break(events: Iterable[tuple[StoredEvent, bytes | None]]) -> ChainBreak | None:
    """The first of `events` that is not intact or does not link to the event before it in its stream, each
    given with that event's stored hash (None: the stream holds no event before it). What the sealer checks
    of the events it is about to seal (eventlog/seal.py): each event and its link, not the whole chain
    behind it (`verify_database`)."""
    for e, previous in events:
        if e.stream_version > 1 and previous is None:
            problem: str | None = f"the event before version {e.stream_version} is missing from its stream"
        else:
            problem = link_problem(codec.GENESIS_HASH if previous is None else bytes(previous), e)
        if problem is not None:
            return ChainBreak(e.stream_id, e.stream_version, e.global_position, problem, e.event_type)
    return None


def _event_link_problem(before: StoredEvent | None, e: StoredEvent) -> str | None:
    """Why `e` is not intact or does not follow `before` (the event before it in its stream)."""
    if e.stream_version > 1 and (before is None or before.stream_version != e.stream_version - 1):
        return f"the event before version {e.stream_version} is missing from its stream"
    return link_problem(codec.GENESIS_HASH if before is None else bytes(before.hash), e)


def seal_link_problem(before: StoredEvent | None, e: StoredEvent) -> str | None:
    """Why the seal event `e` is not intact or does not follow from `before` (the event before it on the
    chain of seals; None when `e` is not the first); None when it is intact and does.

    Checked: `e`'s stored hash is its contents chained to `before`'s stored hash (so neither `e` nor the
    hash `before` left was changed, and `before` is where it was); `e` is the seal after `before` (its
    number) and chains to `before`'s seal hash (`previous`). Not checked: the seals before `before`, and
    whether the events `e` sealed are still in the log (`verify_database`)."""
    problem = _event_link_problem(before, e)
    if problem is not None:
        return problem
    if any(x.event_type != "log.sealed" for x in (e, before) if x is not None):
        return "the chain of seals holds an event that is not a seal"
    try:
        sealed = decode_seal(codec.recanonicalize(e.data))
        last = None if before is None else decode_seal(codec.recanonicalize(before.data))
    except ValueError as exc:  # msgspec's errors are ValueErrors
        return f"a seal cannot be read: {exc}"
    if sealed.seal != (1 if last is None else last.seal + 1):
        return f"seal {sealed.seal} does not follow seal {0 if last is None else last.seal}"
    if sealed.previous != (GENESIS.hex() if last is None else last.hash):
        return f"seal {sealed.seal} does not follow from the seal before it (previous hash differs)"
    return None
