"""A published head of the whole log: seals.

Each stream is hash-chained, but a chain cannot show that its own tail, or the whole stream, was deleted
(a superuser can disable the triggers). So the server seals the log periodically, in the spirit of
Certificate Transparency's signed tree heads: seal n covers every event in the safe global order after
seal n-1, up to the horizon, and its hash is

    H(n) = SHA-256("musrenbang seal v1\\n" || H(n-1) || hash(e1) || hash(e2) || ... )

over the events' own chain hashes in the safe order (tx, global position), with H(0) = 32 zero bytes. A
seal is itself an event (`log.sealed` on the stream `log-seals`), so it is exported, chained and sealed by
the next seal. Anyone who noted a seal's hash (printed on a Berita Acara, the adopted RKPD, /audit, or
fetched from /api/v1/log/head) can later check that the log still holds every event that seal covered:
`musrenbang verify --head HASH`, or the same on an exported file.

Why the safe order: a seal must cover a prefix of an order that never changes afterwards. In the safe
order nothing can ever commit before the horizon (eventlog/order.py), so what a seal covered is fixed.
Checking in global-position order works too (exports are in that order): every event a seal covers was
inserted before the seal, so it comes before the seal in position order; the checker collects events
until a seal comes, then takes those with keys up to the seal's, in key order.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

import asyncpg
import msgspec

from musrenbang.domain.events import LogSealed
from musrenbang.eventlog.store import START, Append, EventStore, Metadata, Position, StreamHead

SEAL_STREAM = "log-seals"
GENESIS = bytes(32)
MAX_EVENTS_PER_SEAL = 10_000
"""A backlog is sealed in several seals, so that one seal's `heads` stays a reasonable size."""
_SEAL_LOCK = 0x7365  # advisory lock: one sealer at a time across processes
_PREFIX = b"musrenbang seal v1\n"
_decoder = msgspec.json.Decoder(LogSealed)


def seal_hash(previous: bytes, event_hashes: Iterable[bytes]) -> bytes:
    digest = hashlib.sha256(_PREFIX)
    digest.update(previous)
    for h in event_hashes:
        digest.update(h)
    return digest.digest()


class Seal(NamedTuple):
    """A seal as published (GET /api/v1/log/head), with where its own event sits."""

    seal: int
    position: int
    events: int
    hash: str
    sealed_at: dt.datetime
    up_to: Position
    event_position: int
    event_hash: str

    def covers(self, at: Position) -> bool:
        """Whether the event at `at` (in the safe order) is among those this seal covers."""
        return at <= self.up_to


async def latest(conn: asyncpg.Connection) -> Seal | None:
    row = await conn.fetchrow(
        "SELECT data, recorded_at, global_position, hash FROM events WHERE stream_id = $1"
        " ORDER BY stream_version DESC LIMIT 1",
        SEAL_STREAM,
    )
    return None if row is None else _seal(row)


async def find(conn: asyncpg.Connection, digest: str) -> Seal | None:
    """The seal whose hash is `digest` (64 hex digits), if the chain of seals holds it (index of migration
    0019): an event of another stream typed and shaped as a seal is not one."""
    row = await conn.fetchrow(
        "SELECT data, recorded_at, global_position, hash FROM events"
        " WHERE event_type = 'log.sealed' AND data->>'hash' = $1 AND stream_id = $2",
        digest, SEAL_STREAM,
    )  # fmt: skip
    return None if row is None else _seal(row)


def _seal(row: asyncpg.Record) -> Seal:
    e = _decoder.decode(row["data"])
    return Seal(e.seal, e.position, e.events, e.hash, row["recorded_at"], Position(e.up_to_tx, e.position),
                row["global_position"], bytes(row["hash"]).hex())  # fmt: skip


class BrokenLog(Exception):
    """The log is not sealed: what a seal would cover does not verify, or the server's last check of the
    whole log found it broken (eventlog/verifications.py). A seal over it would publish the change as if
    it had been recorded."""


async def seal(store: EventStore) -> int:
    """Seal what the log holds below the horizon since the last seal; returns how many events the new seal
    covers (0: nothing new but the previous seal itself, or another process is sealing right now).

    Raises BrokenLog, writing no seal, when the server's last check of the whole log found it broken, or
    when an event the seal would cover is not intact or does not link to the event before it in its stream
    (`verify.first_link_break`: each event and one link, so a seal costs about as many rows as it covers)."""
    async with store.transaction() as conn:
        if not await conn.fetchval("SELECT pg_try_advisory_xact_lock($1)", _SEAL_LOCK):
            return 0
        verified = await conn.fetchrow("SELECT intact, finished_at, problem FROM log_verifications"
                                       " ORDER BY id DESC LIMIT 1")  # fmt: skip
        if verified is not None and not verified["intact"]:
            raise BrokenLog(f"the log did not verify at {verified['finished_at']:%Y-%m-%d %H:%M:%S %Z}:"
                            f" {verified['problem']}")  # fmt: skip
        row = await conn.fetchrow(
            "SELECT data, stream_version, hash FROM events WHERE stream_id = $1 ORDER BY stream_version DESC LIMIT 1",
            SEAL_STREAM,
        )
        last = None if row is None else _decoder.decode(row["data"])
        head = StreamHead(0, GENESIS) if row is None else StreamHead(row["stream_version"], row["hash"])
        after = START if last is None else Position(last.up_to_tx, last.position)
        events = await conn.fetch(
            "SELECT e.tx, e.global_position, e.stream_id, e.stream_version, e.event_id, e.event_type,"
            " e.recorded_at, e.data, e.metadata, e.hash, p.hash AS previous FROM events e"
            " LEFT JOIN events p ON p.stream_id = e.stream_id AND p.stream_version = e.stream_version - 1"
            " WHERE (e.tx, e.global_position) > ($1::bigint, $2::bigint) AND e.tx < (SELECT event_horizon())"
            " ORDER BY e.tx, e.global_position LIMIT $3",
            after.tx, after.position, MAX_EVENTS_PER_SEAL,
        )  # fmt: skip
        if all(e["stream_id"] == SEAL_STREAM for e in events):
            return 0  # nothing but the previous seal: nothing new to seal
        from musrenbang.eventlog.verify import StoredEvent, first_link_break  # verify imports this module

        broken = first_link_break((StoredEvent(*e[1:10]), e["previous"]) for e in events)
        if broken is not None:
            raise BrokenLog(f"an event the seal would cover does not verify: chain broken: {broken}")
        event = next_seal(last, events)
        await store.append(Append(SEAL_STREAM, head, [event]), metadata=Metadata(actor="system", role="system"),
                           conn=conn)  # fmt: skip
        return len(events)


def next_seal(last: LogSealed | None, events: Sequence[asyncpg.Record]) -> LogSealed:
    """The seal after `last` covering `events` (rows with tx, global_position, stream_id, stream_version and
    hash, in the safe order)."""
    previous = GENESIS if last is None else bytes.fromhex(last.hash)
    heads: dict[str, tuple[int, str]] = {}
    for e in events:
        heads[e["stream_id"]] = (e["stream_version"], bytes(e["hash"]).hex())
    end = events[-1]
    return LogSealed(
        seal=1 if last is None else last.seal + 1,
        position=end["global_position"],
        up_to_tx=end["tx"],
        events=(0 if last is None else last.events) + len(events),
        hash=seal_hash(previous, (bytes(e["hash"]) for e in events)).hex(),
        previous=previous.hex(),
        heads=heads,
    )


@dataclass
class SealChecker:
    """Feed every event of the log in global-position order (or the safe order); it recomputes each
    seal when it comes and reports where the log no longer matches what was sealed."""

    problems: list[str] = field(default_factory=list)
    seals: int = 0
    newest: LogSealed | None = None
    sealed_heads: dict[str, tuple[int, str, int]] = field(default_factory=dict)
    """stream -> (version, hash, seal) as the newest seal that covered the stream saw it."""
    seen: dict[str, LogSealed] = field(default_factory=dict)
    """Every seal met, by hash."""
    _pending: list[tuple[int, int, bytes]] = field(default_factory=list)
    _previous: str = GENESIS.hex()
    _count: int = 0

    def feed(self, tx: int, position: int, event_hash: bytes, seal: LogSealed | None = None) -> None:
        if seal is not None:
            self._check(seal)
        self._pending.append((tx, position, bytes(event_hash)))

    def _check(self, s: LogSealed) -> None:
        boundary = (s.up_to_tx, s.position)
        covered = sorted(p for p in self._pending if (p[0], p[1]) <= boundary)
        self._pending = [p for p in self._pending if (p[0], p[1]) > boundary]
        where = f"seal {s.seal} (up to global position {s.position}, {s.events} events, hash {s.hash})"
        if s.seal != self.seals + 1:
            missing = f"seal {self.seals + 1}" if s.seal == self.seals + 2 else f"seals {self.seals + 1}-{s.seal - 1}"
            self.problems.append(f"{where} follows seal {self.seals}: {missing} missing from the log")
        elif s.previous != self._previous:
            self.problems.append(f"{where} does not follow from the seal before it (previous hash differs)")
        held = self._count + len(covered)
        if held != s.events:
            self.problems.append(f"{where}: the log holds {held} events up to it; {s.events - held} sealed event(s)"
                                 " missing" if held < s.events else f"{where}: the log holds {held} events up to"
                                 f" it, {held - s.events} more than were sealed")  # fmt: skip
        elif seal_hash(bytes.fromhex(s.previous), (p[2] for p in covered)).hex() != s.hash:
            self.problems.append(f"{where}: the events it covers are no longer the events it sealed")
        self.seals, self._previous, self._count, self.newest = s.seal, s.hash, s.events, s
        self.seen[s.hash] = s
        for stream, (version, digest) in s.heads.items():
            self.sealed_heads[stream] = (version, digest, s.seal)

    def missing_streams(self, heads: dict[str, tuple[int, bytes]]) -> list[str]:
        """What the log lost of what was sealed, named by stream, given each stream's last (version, hash)
        in the log as it is now."""
        out = []
        for stream, (version, digest, n) in sorted(self.sealed_heads.items()):
            now = heads.get(stream)
            if now is None:
                out.append(f"stream {stream}: sealed at version {version} by seal {n}, missing from the log")
            elif now[0] < version:
                out.append(f"stream {stream}: sealed at version {version} by seal {n}, the log ends at version"
                           f" {now[0]} (version {now[0] + 1}{'' if now[0] + 1 == version else f'-{version}'}"
                           " missing)")  # fmt: skip
            elif now[0] == version and bytes(now[1]).hex() != digest:
                out.append(f"stream {stream}: version {version} is not what seal {n} sealed")
        return out

    def head_problems(self, head: str) -> list[str]:
        """Whether the log still holds the seal `head` (64 hex digits) that someone noted."""
        if head in self.seen:
            return []
        newest = f"the newest seal in the log is seal {self.newest.seal} ({self.newest.hash})" if self.newest else (
            "the log holds no seal at all")  # fmt: skip
        return [f"the log holds no seal with the hash {head} (mistyped, a seal of another site's log, or its"
                f" events were removed); {newest}"]


def decode_seal(data: bytes) -> LogSealed:
    return _decoder.decode(data)
