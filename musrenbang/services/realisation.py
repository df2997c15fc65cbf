"""Recording what happens to adopted RKPD lines: one milestone, or a whole agency's CSV at once.

Each line has its own stream (`realisasi-{year}-{line_id}`), so agencies updating different lines never
wait for each other, and the year's RKPD stream is only read (for the adopted list), never written. A bulk
file is decided row by row against the lines' states as they evolve through the file, and appended in one
transaction across every line it touches: all of it, or — if any row is wrong — nothing, with every wrong
row named by its number.
"""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import Sequence

import asyncpg

from musrenbang.domain import realisation as rules
from musrenbang.domain import rkpd as rkpd_rules
from musrenbang.domain.errors import N_, DomainError, Message, UnreadableFile, ValidationFailed
from musrenbang.domain.events import Event, MilestonePhoto, RkpdLine
from musrenbang.eventlog.store import Append, AppendResult, ConcurrencyError, EventStore, Metadata, StreamHead
from musrenbang.photos import ProcessedPhoto
from musrenbang.services import cycles
from musrenbang.services.locks import RKPD_LOCK
from musrenbang.services.rkpd_streams import LINE, RKPD
from musrenbang.services.streams import load

_NAMESPACE = uuid.UUID("7265616c-6973-6173-692d-70686f746f73")


class RowsInvalid(ValidationFailed):
    """Some rows of a bulk file are wrong: `errors` maps "row.field" (row 2 is the first after the header)
    to its message. Nothing of the file was recorded."""


class RealisationService:
    def __init__(self, pool: asyncpg.Pool, store: EventStore) -> None:
        self._pool, self._store = pool, store

    async def adopted_lines(self, year: int, conn: asyncpg.Connection | None = None, *,
                            withdrawn_too: bool = True) -> dict[str, RkpdLine]:  # fmt: skip
        """The lines of RKPD `year` as its latest adoption froze them, read from the log (a milestone is
        decided on what was adopted, not on a read model that may be behind). `withdrawn_too=False`: less
        those withdrawn since, which take no milestone or photo (until the RKPD is adopted again without
        them: then they are not adopted at all)."""
        state, _ = await load(self._store, RKPD, rkpd_rules.stream_id(year), conn)
        return _adopted(state, withdrawn_too=withdrawn_too)

    async def record(self, command: rules.RecordMilestone, metadata: Metadata,
                     idempotency_key: str | None = None) -> AppendResult:  # fmt: skip
        return await self.record_many([command], metadata, idempotency_key)

    async def record_many(self, commands: Sequence[rules.RecordMilestone], metadata: Metadata,
                          idempotency_key: str | None = None, numbers: Sequence[int] | None = None
                          ) -> AppendResult:  # fmt: skip
        """Decide every command in order (rows on the same line see the ones before them) and append them
        all in one transaction. `numbers`: each command's row in a file, to name it in errors."""
        if not commands:
            raise DomainError(N_("tidak ada yang dicatat"))
        year = commands[0].year
        if any(c.year != year for c in commands):
            raise DomainError(N_("satu berkas untuk satu tahun RKPD"))
        if idempotency_key is not None:
            earlier = await self._store.find_replay(idempotency_key, metadata.fingerprint)
            if earlier is not None:
                return earlier
        for _ in range(5):
            try:
                async with self._store.transaction() as conn:
                    # The year's city level held shared to the commit: a line's withdrawal (which refuses a
                    # line with milestones, services/rkpd.py) is wholly before this decision or after it.
                    await conn.execute("SELECT pg_advisory_xact_lock_shared($1, $2)", RKPD_LOCK, year)
                    appends = await self._decide(commands, year, numbers, conn)
                    return await self._store.append(appends, metadata=metadata, idempotency_key=idempotency_key,
                                                    conn=conn)  # fmt: skip
            except ConcurrencyError:
                continue  # a line moved on meanwhile: decide again on what is there now
        raise ConcurrencyError([a.stream_id for a in appends])

    async def replayed(self, idempotency_key: str | None, fingerprint: str | None) -> AppendResult | None:
        """What a command with this key recorded before (a form sent twice), or None; a different request
        under the same key is refused (IdempotencyKeyReused)."""
        if idempotency_key is None:
            return None
        return await self._store.find_replay(idempotency_key, fingerprint)

    async def check(self, command: rules.RecordMilestone, photos: int = 0) -> None:
        """Raise what `record` would for `command` with `photos` photos, recording nothing: a form's photos
        are kept only once the milestone they come with would be recorded."""
        errors = rules.photo_errors(command.stage, photos)
        if errors:
            raise ValidationFailed(errors)
        await self._decide([command], command.year, None)

    async def problems(self, commands: Sequence[rules.RecordMilestone], numbers: Sequence[int]
                       ) -> dict[str, str | Message]:  # fmt: skip
        """What is wrong with the rows of a file (row.field -> message), deciding without recording."""
        try:
            await self._decide(commands, commands[0].year, numbers)
        except RowsInvalid as exc:
            return dict(exc.errors)
        return {}

    async def _decide(self, commands: Sequence[rules.RecordMilestone], year: int, numbers: Sequence[int] | None,
                      conn: asyncpg.Connection | None = None) -> list[Append]:  # fmt: skip
        rkpd, _ = await load(self._store, RKPD, rkpd_rules.stream_id(year), conn)
        adopted = _adopted(rkpd, withdrawn_too=False)
        today = cycles.today()
        states: dict[str, tuple[rules.LineProgress, StreamHead]] = {}
        decided: dict[str, list[Event]] = {}
        errors: dict[str, str | Message] = {}
        for i, command in enumerate(commands):
            stream = rules.stream_id(year, command.line_id)
            if stream not in states:
                states[stream] = await load(self._store, LINE, stream, conn)
            state, head = states[stream]
            try:
                events = rules.decide(state, command, line=adopted.get(command.line_id), today=today,
                                      adopted_on=rkpd_rules.adopted_day(rkpd))  # fmt: skip
            except ValidationFailed as exc:
                if numbers is None:
                    raise
                errors.update({f"{numbers[i]}.{field}": message for field, message in exc.errors.items()})
                continue
            except DomainError as exc:
                if numbers is None:
                    raise
                errors[f"{numbers[i]}.line_id"] = exc.message
                continue
            for e in events:
                state = rules.evolve(state, e)
            states[stream] = (state, head)
            decided.setdefault(stream, []).extend(events)
        if errors:
            raise RowsInvalid(errors)
        # Each stream's head is the one it was loaded at: all its new events go on after it.
        return [Append(stream, states[stream][1], events) for stream, events in decided.items()]

    async def check_photo_line(self, year: int, line_id: str, by_agency: str | None) -> None:
        """The line a photo is for is adopted, `by_agency`'s, and not finished or dropped (no milestone could
        show the photo): asked before the photo is decoded, so that an upload nobody may make costs no
        decode (up to a second of a core) and no place in the limit."""
        rules.check_line((await self.adopted_lines(year, withdrawn_too=False)).get(line_id), by_agency)
        state, _ = await load(self._store, LINE, rules.stream_id(year, line_id))
        rules.check_photo_state(state)

    async def store_photo(self, year: int, line_id: str, photo: ProcessedPhoto, by_agency: str | None
                          ) -> MilestonePhoto:  # fmt: skip
        """Keep a photo of the work on a line of the adopted RKPD, before the milestone that shows it is
        recorded (the same upload twice is the same photo)."""
        await self.check_photo_line(year, line_id, by_agency)
        photo_id = photo_id_of(year, line_id, photo)
        await keep_photos(self._pool, year, line_id, [(photo_id, photo)])
        return photo_ref(photo_id, photo)

    async def photos_of(self, year: int, line_id: str, ids: Sequence[str]) -> tuple[MilestonePhoto, ...]:
        """The photos `ids` (uploaded for this line before) as a milestone records them."""
        rows = await self._pool.fetch(
            "SELECT id::text AS id, sha256, content_type, width, height, length(data) AS size FROM photos"
            " WHERE id = ANY($1::uuid[]) AND rkpd_line = $2",
            [_uuid_or_nil(i) for i in ids], f"{year}/{line_id}",
        )  # fmt: skip
        found = {r["id"]: r for r in rows}
        missing = [i for i in ids if i not in found]
        if missing:
            raise ValidationFailed({"photos": N_("foto tidak ditemukan untuk baris ini: unggah dulu fotonya")})
        return tuple(MilestonePhoto(photo_id=i, sha256=found[i]["sha256"], content_type=found[i]["content_type"],
                                    width=found[i]["width"], height=found[i]["height"], size=found[i]["size"])
                     for i in ids)  # fmt: skip


def _adopted(state: rkpd_rules.Rkpd, *, withdrawn_too: bool) -> dict[str, RkpdLine]:
    return {line.line_id: line for line in state.adopted if withdrawn_too or line.line_id in state.lines}


def photo_id_of(year: int, line_id: str, photo: ProcessedPhoto) -> str:
    """A line's photo's id: the same picture for the same line is the same photo, whenever it is sent."""
    return str(uuid.uuid5(_NAMESPACE, f"{year}/{line_id}:{photo.original_sha256}"))


def photo_ref(photo_id: str, photo: ProcessedPhoto) -> MilestonePhoto:
    """A kept photo as a milestone records it."""
    return MilestonePhoto(photo_id=photo_id, sha256=photo.sha256, content_type=photo.content_type,
                          width=photo.width, height=photo.height, size=len(photo.data))  # fmt: skip


async def keep_photos(db: asyncpg.Pool | asyncpg.Connection, year: int, line_id: str,
                      photos: Sequence[tuple[str, ProcessedPhoto]]) -> None:  # fmt: skip
    """The photos' bytes, beside residents' (a photo kept twice is kept once)."""
    await db.executemany(
        "INSERT INTO photos (id, rkpd_line, content_type, data, sha256, width, height)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (id) DO NOTHING",
        [(i, f"{year}/{line_id}", p.content_type, p.data, p.sha256, p.width, p.height) for i, p in photos],
    )


def _uuid_or_nil(text: str) -> uuid.UUID:
    try:
        return uuid.UUID(text)
    except ValueError:
        return uuid.UUID(int=0)


def parse_csv(data: bytes) -> list[list[str]]:
    """A bulk file's records: UTF-8 (with or without BOM) or, as older spreadsheets save, Windows-1252;
    comma- or semicolon-separated (Excel in Indonesian locale writes semicolons). Bytes neither encoding
    has refuse the file: replaced, they would be recorded as U+FFFD without a word."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        try:
            text = data.decode("cp1252")
        except UnicodeDecodeError:
            unreadable = N_("berkas CSV harus UTF-8 atau Windows-1252: simpan lagi sebagai CSV UTF-8")
            raise UnreadableFile(unreadable) from None
    if "\x00" in text:
        raise UnreadableFile(N_("berkas bukan CSV"))
    first = text.split("\n", 1)[0]
    delimiter = ";" if first.count(";") > first.count(",") else ","
    # Strict: an open quote read leniently runs to the end of the file, every later row becoming part of
    # one cell (and a stray one cuts what follows it) — rows gone without a word.
    reader = csv.reader(io.StringIO(text), delimiter=delimiter, strict=True)
    records: list[list[str]] = []
    starts = 1  # the line the record being read starts on (a quoted cell may hold line breaks)
    try:
        for record in reader:
            records.append(record)
            starts = reader.line_num + 1
    except csv.Error as exc:
        if "field larger" in str(exc):
            raise UnreadableFile(N_("berkas CSV tidak dapat dibaca")) from exc
        raise UnreadableFile(Message(N_("berkas CSV tidak dapat dibaca: tanda kutip tidak tertutup atau salah tempat"
                                     " sekitar baris %(line)d"), line=starts)) from exc
    return records
