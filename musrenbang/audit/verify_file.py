"""`musrenbang verify --file`: check an exported log from the file alone.

One pass over the file, line by line: every event goes through the hash-chain check (kept per stream),
and the forum and city-level events through the recomputation (musrenbang/recompute.py). Nothing but
the open forums' ballots and the per-stream chain heads is kept in memory.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from pathlib import Path

import msgspec

from musrenbang.audit.export import FORMAT, READABLE_VERSIONS, Header, Line
from musrenbang.eventlog import codec
from musrenbang.eventlog.verify import LogChecker, StoredEvent
from musrenbang.recompute import Recomputer, Where, relevant


class BadFile(Exception):
    """Not an export this program can read (wrong format or version, no header)."""


@dataclasses.dataclass
class FileReport:
    events: int
    streams: int
    seals: int
    forums: int
    years: list[int]
    adoptions: int
    seconds: float
    differences: list[str]
    recomputer: Recomputer

    @property
    def rate(self) -> float:
        return self.events / self.seconds if self.seconds > 0 else float(self.events)


_header_decoder = msgspec.json.Decoder(Header)
_line_decoder = msgspec.json.Decoder(Line)


class _Who(msgspec.Struct):
    actor: str | None = None
    role: str | None = None


_who_decoder = msgspec.json.Decoder(_Who)


def _who(metadata: bytes) -> _Who:
    """Who recorded an event, from its metadata (nobody known when it cannot be read: the chain check
    reports a damaged event)."""
    try:
        return _who_decoder.decode(metadata)
    except (msgspec.DecodeError, msgspec.ValidationError):
        return _Who()


def read_header(path: Path) -> None:
    """Raise BadFile unless `path` starts like an export this program reads."""
    with path.open("rb") as f:
        _header(path, f.readline())


def _header(path: Path, first: bytes) -> Header:
    try:
        header = _header_decoder.decode(first)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise BadFile(f"{path}: the first line is not a {FORMAT} header ({exc})") from None
    if header.format != FORMAT or header.version not in READABLE_VERSIONS:
        expected = " or ".join(str(v) for v in READABLE_VERSIONS)
        raise BadFile(f"{path}: format {header.format} version {header.version}; expected {FORMAT} {expected}")
    return header


def verify_file(path: Path, on_progress: Callable[[int], None] | None = None, *, head: str | None = None
                ) -> FileReport:  # fmt: skip
    """Check the export at `path` (and, with `head`, that it still holds that seal); `on_progress` is told
    how many more bytes were read."""
    started = time.perf_counter()
    checker = LogChecker()
    recomputer = Recomputer()
    problems: list[str] = []
    lines = 0
    last_position = 0
    unreported = 0
    with path.open("rb") as f:
        header = _header(path, f.readline())
        for number, raw in enumerate(f, start=2):
            unreported += len(raw)
            if on_progress is not None and unreported >= 1 << 20:
                on_progress(unreported)
                unreported = 0
            if not raw.strip():
                continue
            try:
                line = _line_decoder.decode(raw)
                digest = bytes.fromhex(line.hash)
            except (msgspec.DecodeError, msgspec.ValidationError, ValueError) as exc:
                problems.append(f"file line {number}: unreadable: {exc}")
                continue
            lines += 1
            if line.position <= last_position:
                problems.append(f"file line {number}: global position {line.position} is not after {last_position}")
            last_position = max(last_position, line.position)
            data = bytes(line.data)
            checker.feed(
                StoredEvent(
                    line.position,
                    line.stream,
                    line.version,
                    line.event_id,
                    line.type,
                    line.recorded_at,
                    data,
                    bytes(line.metadata),
                    digest,
                ),  # fmt: skip
                line.order,
            )
            if relevant(line.type):
                who = _who(bytes(line.metadata))
                where = Where(line.position, line.stream, line.version, digest, who.actor or "", who.role or "")
                try:
                    event = codec.decode_event(line.type, data)
                except (codec.UnknownEventType, msgspec.DecodeError, msgspec.ValidationError) as exc:
                    problems.append(f"stream {line.stream} version {line.version} (global position {line.position}),"
                                    f" event {line.type}: unreadable: {exc}")  # fmt: skip
                else:
                    recomputer.feed(where, event)
    if lines != header.events:
        problems.append(f"the header announces {header.events} events, the file holds {lines}")
    if last_position != header.last_position:
        problems.append(f"the header announces last global position {header.last_position}, the file ends at"
                        f" {last_position}")  # fmt: skip
    report = checker.report(head)
    differences = [f"chain broken: {b}" for b in report.breaks] + report.seal_problems + problems
    differences += recomputer.differences
    return FileReport(
        events=report.chains.events,
        streams=report.chains.streams,
        seals=report.seals,
        forums=len(recomputer.closed),
        years=recomputer.years,
        adoptions=recomputer.adoption_count,
        seconds=time.perf_counter() - started,
        differences=differences,
        recomputer=recomputer,
    )
