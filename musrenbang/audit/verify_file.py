"""`musrenbang verify --file`: check an exported log from the file alone.

One pass over the file, line by line: every event goes through the hash-chain check (kept per stream),
and the forum and city-level events through the recomputation (musrenbang/recompute.py). Nothing but
the open forums' ballots and the per-stream chain heads is kept in memory.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO

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
    checked = _Pass()
    with path.open("rb") as f:
        header = _header(path, f.readline())
        for number, raw in _numbered(f, on_progress):
            checked.line(number, raw)
    checked.against_header(header)
    return checked.report(head, started)


def _numbered(f: BinaryIO, on_progress: Callable[[int], None] | None) -> Iterator[tuple[int, bytes]]:
    """The file's lines after the header, numbered as an editor shows them (the header is line 1), telling
    `on_progress` every MiB or so rather than every line (a progress bar redrawn per event would cost more
    than the checks)."""
    unreported = 0
    for number, raw in enumerate(f, start=2):
        unreported += len(raw)
        if on_progress is not None and unreported >= 1 << 20:
            on_progress(unreported)
            unreported = 0
        yield number, raw


@dataclasses.dataclass
class _Pass:
    """What the one pass keeps: the chain heads (`checker`), the open forums' ballots (`recomputer`), and
    the problems found in the order the file shows them."""

    checker: LogChecker = dataclasses.field(default_factory=LogChecker)
    recomputer: Recomputer = dataclasses.field(default_factory=Recomputer)
    problems: list[str] = dataclasses.field(default_factory=list)
    lines: int = 0
    last_position: int = 0

    def line(self, number: int, raw: bytes) -> None:
        """One line of the file: an unreadable one is reported and skipped; a readable one is counted (the
        header's total is of events read), its order checked, then chained and, if it counts, recomputed."""
        if not raw.strip():
            return
        try:
            line = _line_decoder.decode(raw)
            digest = bytes.fromhex(line.hash)
        except (msgspec.DecodeError, msgspec.ValidationError, ValueError) as exc:
            self.problems.append(f"file line {number}: unreadable: {exc}")
            return
        self.lines += 1
        self._in_order(number, line.position)
        data = bytes(line.data)
        self._chain(line, data, digest)
        if relevant(line.type):
            self._recompute(line, data, digest)

    def _in_order(self, number: int, position: int) -> None:
        """An export is written in global-position order; a line out of it is reported, and the highest
        position seen stays the one later lines are compared with (one stray line, one problem)."""
        if position <= self.last_position:
            self.problems.append(f"file line {number}: global position {position} is not after {self.last_position}")
        self.last_position = max(self.last_position, position)

    def _chain(self, line: Line, data: bytes, digest: bytes) -> None:
        """Every event, relevant to the recomputation or not, goes through its stream's hash chain, and
        through the seals by its order key (exports made before seals have none: chains only)."""
        self.checker.feed(
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

    def _recompute(self, line: Line, data: bytes, digest: bytes) -> None:
        """A forum or city-level event, fed to the recomputation with where it stands and who recorded it;
        one this program cannot decode is reported, not fed (the rest is still recomputed)."""
        who = _who(bytes(line.metadata))
        where = Where(line.position, line.stream, line.version, digest, who.actor or "", who.role or "")
        try:
            event = codec.decode_event(line.type, data)
        except (codec.UnknownEventType, msgspec.DecodeError, msgspec.ValidationError) as exc:
            self.problems.append(f"stream {line.stream} version {line.version} (global position {line.position}),"
                                 f" event {line.type}: unreadable: {exc}")  # fmt: skip
        else:
            self.recomputer.feed(where, event)

    def against_header(self, header: Header) -> None:
        """The header's totals, compared once the whole file is read: a file cut short (or added to) shows
        here even when every line in it chains."""
        if self.lines != header.events:
            self.problems.append(f"the header announces {header.events} events, the file holds {self.lines}")
        if self.last_position != header.last_position:
            self.problems.append(f"the header announces last global position {header.last_position}, the file"
                                 f" ends at {self.last_position}")  # fmt: skip

    def report(self, head: str | None, started: float) -> FileReport:
        """The findings, chain breaks and seal problems first, then the file's own, then the recomputation's."""
        report = self.checker.report(head)
        differences = [f"chain broken: {b}" for b in report.breaks] + report.seal_problems + self.problems
        differences += self.recomputer.differences
        return FileReport(
            events=report.chains.events,
            streams=report.chains.streams,
            seals=report.seals,
            forums=len(self.recomputer.closed),
            years=self.recomputer.years,
            adoptions=self.recomputer.adoption_count,
            seconds=time.perf_counter() - started,
            differences=differences,
            recomputer=self.recomputer,
        )
