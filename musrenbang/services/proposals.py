"""Submitting, revising and verifying proposals, with the proposer's personal data kept apart.

A submission is one transaction: the proposer's contact goes into the personal-data table, and the
ProposalSubmitted event (with the photo attachments) into the log, carrying only a reference. Both or
neither. The tracking code is derived from the request's idempotency key, so a retried submission —
double tap, refresh, a flaky network — lands on the same proposal, never a second one.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
import uuid
from collections.abc import Sequence

import asyncpg
import msgspec

from musrenbang.domain import proposal as rules
from musrenbang.domain import values
from musrenbang.domain.errors import N_, DomainError, NotFound
from musrenbang.domain.events import Event
from musrenbang.eventlog.store import (
    Append,
    AppendResult,
    ConcurrencyError,
    EventStore,
    Metadata,
    Position,
    StreamHead,
)
from musrenbang.photos import ProcessedPhoto
from musrenbang.projections import cycles
from musrenbang.services.freshness import ReadModels, require_fresh
from musrenbang.services.streams import Aggregate, execute, load

PROPOSAL = Aggregate(rules.Proposal(), rules.decide, rules.evolve)
_CYCLE_TTL = 10.0
_NAMESPACE = uuid.UUID("70686f74-6f2d-6d75-7372-656e62616e67")


class Submitted(msgspec.Struct, frozen=True):
    code: str
    status: str
    revision_secret: str
    replayed: bool
    last: Position


class WrongSecret(DomainError):
    code = "forbidden"


def fingerprint(*parts: object) -> str:
    """A stable digest of a command's inputs, to tell an honest retry from a reused idempotency key.
    Only for inputs without personal data: see `ProposalService.fingerprint`."""
    return hashlib.sha256(msgspec.json.encode(parts, order="sorted")).hexdigest()


class ProposalService:
    def __init__(self, pool: asyncpg.Pool, store: EventStore, secret: bytes, read_models: ReadModels) -> None:
        self._pool, self._store, self._secret, self._read_models = pool, store, secret, read_models
        self._kelurahan: frozenset[str] | None = None
        self._cycle: tuple[float, int, int] | None = None

    # --- what the rules need to know about the world ---------------------------------------------

    async def kelurahan_codes(self) -> frozenset[str]:
        if self._kelurahan is None:  # reference data: loaded once per process
            rows = await self._pool.fetch("SELECT kode FROM regions WHERE tingkat = 'kelurahan'")
            self._kelurahan = frozenset(r["kode"] for r in rows)
        return self._kelurahan

    async def current_cycle(self) -> tuple[int, int]:
        """(year, number of priority programs) of the cycle being planned, as the log says it now: the year
        is frozen into every proposal and forum. Read again at most every few seconds (a new cycle opens
        once a year), each time once the cycles read model has caught up with the log."""
        now = time.monotonic()
        if self._cycle is None or now - self._cycle[0] > _CYCLE_TTL:
            await require_fresh(self._read_models, ["cycles"])
            async with self._pool.acquire() as conn:
                cycle = await cycles.current_cycle(conn)
                if cycle is None:
                    raise DomainError(N_("belum ada siklus perencanaan yang dibuka"))
                programs = len(await cycles.priority_programs(conn, cycle["year"]))
            self._cycle = (now, cycle["year"], programs)
        return self._cycle[1], self._cycle[2]

    async def validate(self, raw: rules.ProposalInput) -> rules.ProposalContent:
        _, programs = await self.current_cycle()
        return rules.validate_content(raw, kelurahan=await self.kelurahan_codes(), priority_programs=programs)

    # --- secrets ---------------------------------------------------------------------------------

    def revision_secret(self, code: str) -> str:
        """The proposer's secret for revising `code`: derived, never stored, so a retried submission can
        show it again; 16 characters of Crockford base32 (80 bits)."""
        digest = hmac.new(self._secret, f"revision:{code}".encode(), hashlib.sha256).digest()
        return base64.b32encode(digest[:10]).decode().translate(_B32_TO_CROCKFORD)

    def check_secret(self, code: str, given: str) -> None:
        normalized = "".join(given.split()).replace("-", "").upper()
        # Bytes: compare_digest refuses str with non-ASCII characters, and a secret typed wrong may have them.
        if not hmac.compare_digest(self.revision_secret(code).encode(), normalized.encode()):
            raise WrongSecret(N_("kode rahasia tidak cocok dengan usulan ini"))

    # --- commands --------------------------------------------------------------------------------

    def fingerprint(self, *parts: object) -> str:
        """`fingerprint` keyed with the server secret: a submission's inputs include the proposer's name
        and phone, and the digest is stored in the event's metadata (and so in exports). Unkeyed, anyone
        holding the public fields could test guesses of a phone number against it."""
        return hmac.new(self._secret, msgspec.json.encode(parts, order="sorted"), hashlib.sha256).hexdigest()

    async def find_submitted(self, idempotency_key: str, request_fingerprint: str) -> Submitted | None:
        """The proposal an earlier request with this key created, if any (IdempotencyKeyReused when
        that request was a different one)."""
        earlier = await self._store.find_replay(idempotency_key, request_fingerprint)
        return None if earlier is None else await self._submitted(earlier, replayed=True)

    async def submit(
        self,
        content: rules.ProposalContent,
        proposer: rules.Proposer,
        *,
        idempotency_key: str,
        request_fingerprint: str,
        photos: Sequence[ProcessedPhoto] = (),
        source: str = "warga",
        metadata: Metadata | None = None,
        replay_checked: bool = False,
    ) -> Submitted:
        """Record a new proposal, or answer with the one an earlier request with this key created.

        `replay_checked`: the caller has just asked `find_submitted` (a twin arriving in between is
        still caught by the log's unique event ids)."""
        meta = msgspec.structs.replace(metadata or Metadata(), fingerprint=request_fingerprint)
        if not replay_checked:
            earlier = await self.find_submitted(idempotency_key, request_fingerprint)
            if earlier is not None:
                return earlier
        if len(photos) > rules.MAX_PHOTOS:
            raise DomainError(N_("paling banyak 3 foto per usulan"))
        year, _ = await self.current_cycle()
        for attempt in range(5):
            code = _code_for(idempotency_key, attempt)
            ref = str(uuid.uuid5(_NAMESPACE, f"proposer:{idempotency_key}"))
            state = rules.Proposal()
            events: list[Event] = []
            commands: list[rules.Command] = [
                rules.SubmitProposal(code=code, year=year, source=source, content=content, proposer_ref=ref),
                *(_attach(code, p) for p in photos),
            ]
            for command in commands:
                new = rules.decide(state, command)
                for e in new:
                    state = rules.evolve(state, e)
                events.extend(new)
            try:
                result = await self._append_with_private_data(code, ref, proposer, photos, events, meta,
                                                              idempotency_key)  # fmt: skip
            except _Replayed as twin:
                return await self._submitted(twin.result, replayed=True)
            except ConcurrencyError:
                continue  # another proposal already has this code (rare: 40-bit codes): derive the next
            return Submitted(code=code, status=rules.DIAJUKAN, revision_secret=self.revision_secret(code),
                             replayed=False, last=result.last)  # fmt: skip
        raise DomainError(N_("kode pelacakan tidak dapat dibuat; coba lagi"))

    async def _append_with_private_data(
        self,
        code: str,
        ref: str,
        proposer: rules.Proposer,
        photos: Sequence[ProcessedPhoto],
        events: list[Event],
        meta: Metadata,
        idempotency_key: str,
    ) -> AppendResult:
        async with self._store.transaction() as conn:
            await conn.execute(
                "INSERT INTO proposer_contacts (ref, proposal_code, name, phone) VALUES ($1, $2, $3, $4)"
                " ON CONFLICT (ref) DO NOTHING",
                ref, code, proposer.name, proposer.phone,
            )  # fmt: skip
            await _store_photos(conn, code, photos)
            result = await self._store.append(
                Append(rules.stream_id(code), StreamHead(0, bytes(32)), events),
                metadata=meta,
                idempotency_key=idempotency_key,
                conn=conn,
            )
            if result.replayed:
                # A twin of this request committed first; keep nothing of this attempt.
                raise _Replayed(result)
            return result

    async def _submitted(self, result: AppendResult, *, replayed: bool) -> Submitted:
        [stream] = [s for s in result.heads if s.startswith("proposal-")]
        code = stream.removeprefix("proposal-")
        state, _ = await load(self._store, PROPOSAL, stream)
        return Submitted(code=code, status=state.status or rules.DIAJUKAN,
                         revision_secret=self.revision_secret(code), replayed=replayed,
                         last=result.last)  # fmt: skip

    async def revise(
        self, code: str, secret: str, content: rules.ProposalContent, *, idempotency_key: str | None = None
    ) -> AppendResult:
        self.check_secret(code, secret)
        return await execute(
            self._store, PROPOSAL, rules.stream_id(code), rules.ReviseProposal(code=code, content=content),
            metadata=Metadata(actor="pengusul", role="warga",
                              fingerprint=fingerprint(msgspec.to_builtins(content))),
            idempotency_key=idempotency_key,
        )  # fmt: skip

    async def photo_already_attached(self, code: str, secret: str, original_sha256: str) -> str | None:
        """What the HTTP handler asks before it decodes an uploaded photo, so that nobody makes the server
        decode a photo it would refuse anyway: a wrong secret (WrongSecret), a proposal that does not
        exist (NotFound) or has no room for another photo (DomainError). Returns the photo's id when this
        very photo is already attached (nothing to decode: the answer is that photo). `attach_photo`
        checks everything again."""
        state, _ = await self._photo_target(code, secret)
        photo_id = _photo_id_of(code, original_sha256)
        if photo_id in state.photos:
            return photo_id
        rules.check_room_for_photo(state)
        return None

    async def _photo_target(self, code: str, secret: str) -> tuple[rules.Proposal, StreamHead]:
        self.check_secret(code, secret)
        state, head = await load(self._store, PROPOSAL, rules.stream_id(code))
        if not state.exists:
            raise NotFound(N_("usulan tidak ditemukan"))
        return state, head

    async def attach_photo(self, code: str, secret: str, photo: ProcessedPhoto) -> tuple[str, Position | None]:
        """Attach a photo; returns its id and where its event was written (None when the same photo
        was already attached: nothing is written again)."""
        state, head = await self._photo_target(code, secret)
        photo_id = _photo_id(code, photo)
        if photo_id in state.photos:
            return photo_id, None
        events = rules.decide(state, _attach(code, photo))
        async with self._store.transaction() as conn:
            await _store_photos(conn, code, [photo])
            result = await self._store.append(
                Append(rules.stream_id(code), head, events),
                metadata=Metadata(actor="pengusul", role="warga"),
                idempotency_key=f"photo:{photo_id}",
                conn=conn,
            )
        return photo_id, None if result.replayed else result.last

    async def merge(self, command: rules.MergeProposals, metadata: Metadata) -> AppendResult:
        """Merge duplicates into one proposal, atomically across all their streams."""
        for _ in range(5):
            target, target_head = await load(self._store, PROPOSAL, rules.stream_id(command.into))
            sources, heads = {}, {rules.stream_id(command.into): target_head}
            for code in dict.fromkeys(command.codes):
                sources[code], heads[rules.stream_id(code)] = await load(self._store, PROPOSAL, rules.stream_id(code))
            decided = rules.decide_merge(target, sources, command)
            appends = [Append(rules.stream_id(code), heads[rules.stream_id(code)], events)
                       for code, events in decided.items()]  # fmt: skip
            try:
                return await self._store.append(appends, metadata=metadata)
            except ConcurrencyError:
                continue  # one of them changed meanwhile: decide again on what is there now
        raise ConcurrencyError([rules.stream_id(c) for c in (command.into, *command.codes)])

    async def kelurahan_of(self, code: str) -> str:
        state, _ = await load(self._store, PROPOSAL, rules.stream_id(code))
        return state.submitted.kelurahan

    async def verify(self, command: rules.VerifyProposal, metadata: Metadata,
                     idempotency_key: str | None = None) -> AppendResult:  # fmt: skip
        return await execute(self._store, PROPOSAL, rules.stream_id(command.code), command,
                             metadata=metadata, idempotency_key=idempotency_key)  # fmt: skip


class _Replayed(Exception):
    def __init__(self, result: AppendResult) -> None:
        self.result = result


_B32_TO_CROCKFORD = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", values.CROCKFORD)


def _code_for(idempotency_key: str, attempt: int) -> str:
    salt = "" if attempt == 0 else f"#{attempt}"
    return values.code_from_bytes(hashlib.sha256(f"proposal:{idempotency_key}{salt}".encode()).digest())


def _photo_id(code: str, photo: ProcessedPhoto) -> str:
    return _photo_id_of(code, photo.original_sha256)


def _photo_id_of(code: str, original_sha256: str) -> str:
    """A photo's id: the same upload to the same proposal is the same photo, whenever it is sent."""
    return str(uuid.uuid5(_NAMESPACE, f"{code}:{original_sha256}"))


def _attach(code: str, photo: ProcessedPhoto) -> rules.AttachPhoto:
    return rules.AttachPhoto(
        code=code, photo_id=_photo_id(code, photo), sha256=photo.sha256, content_type=photo.content_type,
        width=photo.width, height=photo.height, size=len(photo.data),
    )  # fmt: skip


async def _store_photos(conn: asyncpg.Connection, code: str, photos: Sequence[ProcessedPhoto]) -> None:
    if photos:
        await conn.executemany(
            "INSERT INTO photos (id, proposal_code, content_type, data, sha256, width, height)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (id) DO NOTHING",
            [(_photo_id(code, p), code, p.content_type, p.data, p.sha256, p.width, p.height) for p in photos],
        )
