"""Submitting, revising and verifying proposals, with the proposer's personal data kept apart.

A submission is one transaction: the proposer's contact goes into the personal-data table, and the
ProposalSubmitted event (with the photo attachments) into the log, carrying only a reference. Both or
neither. The tracking code is derived from the request's idempotency key, so a retried submission —
double tap, refresh, a flaky network — lands on the same proposal, never a second one.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import secrets
import uuid
from collections.abc import Sequence

import asyncpg
import msgspec

from musrenbang.domain import cycle as cycle_rules
from musrenbang.domain import proposal as rules
from musrenbang.domain import realisation as realisation_rules
from musrenbang.domain import rkpd as rkpd_rules
from musrenbang.domain import values
from musrenbang.domain.errors import N_, DomainError, Message, NotFound, ValidationFailed
from musrenbang.domain.events import Event
from musrenbang.eventlog import outbox
from musrenbang.eventlog.store import (
    CHANNEL,
    OUTBOX_NOTICE,
    Append,
    AppendResult,
    ConcurrencyError,
    EventStore,
    Metadata,
    Position,
    StreamHead,
)
from musrenbang.photos import ProcessedPhoto
from musrenbang.projections import proposals as proposal_views
from musrenbang.services import city as city_service
from musrenbang.services import cycles
from musrenbang.services.forums import fresh_under_lock, lock_forum_place, on_an_agenda
from musrenbang.services.freshness import ReadModels, require_fresh
from musrenbang.services.locks import RKPD_LOCK
from musrenbang.services.rkpd_streams import LINE, RKPD
from musrenbang.services.streams import Aggregate, execute, load

PROPOSAL = Aggregate(rules.Proposal(), rules.decide, rules.evolve)
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

    # --- what the rules need to know about the world ---------------------------------------------

    async def kelurahan_codes(self) -> frozenset[str]:
        """The city's kelurahan and desa: where residents propose."""
        if self._kelurahan is None:  # reference data: loaded once per process
            rows = await self._pool.fetch("SELECT kode FROM regions WHERE tingkat IN ('kelurahan', 'desa')")
            self._kelurahan = frozenset(r["kode"] for r in rows)
        return self._kelurahan

    async def open_year(self, year: int | None = None, on: dt.date | None = None) -> int:
        """The year a new proposal goes to: `year` if its submissions are open (on `on`, today), else the
        newest cycle whose are; a message saying why not (and when they open) otherwise. Read from the
        log: the year is frozen into the proposal."""
        state = await self.taking(year, on)
        assert state.year is not None  # an existing cycle has its year
        return state.year

    async def taking(self, year: int | None = None, on: dt.date | None = None) -> cycle_rules.Cycle:
        """The cycle `open_year` names, as just read from the log: a submission hands it on to `validate`
        and `submit`, so that the cycle is read once per request, not three times."""
        if year is None:
            return await cycles.taking_proposals(self._store, on)
        return await cycles.open_for(self._store, year, cycle_rules.SUBMISSIONS, on)

    async def validate(self, raw: rules.ProposalInput, *, year: int,
                       cycle: cycle_rules.Cycle | None = None) -> rules.ProposalContent:  # fmt: skip
        """`raw` checked for the cycle of `year` (its priority programs) in the city (its kelurahan and desa,
        its coordinate bounds). `cycle`: that cycle, if the caller has just read it from the log."""
        state = cycle if cycle is not None and cycle.year == year else await cycles.load_cycle(self._store, year)
        if not state.exists:
            raise NotFound(Message(N_("siklus RKPD %(year)d belum dibuka"), year=year))
        city = await city_service.required(self._store)
        return rules.validate_content(raw, kelurahan=await self.kelurahan_codes(),
                                      priority_programs=len(state.priority_programs), area=city.bounds,
                                      city_name=city.name)  # fmt: skip

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

    async def made_with_key(self, idempotency_key: str) -> Submitted | None:
        """The proposal the first request with this key made, whatever that request said (the same form
        sent again after it was changed: nothing new is recorded, and the person is shown what was) —
        without its revision secret: a key is no proof of being the proposer (every event's key is in the
        exported log, `musrenbang export events`), and the secret is shown once, to the request that made
        it or to the very same request sent again (`find_submitted` compares the whole request)."""
        earlier = await self._store.made_with_key(idempotency_key)
        if earlier is None or not any(s.startswith("proposal-") for s in earlier.heads):
            return None
        return msgspec.structs.replace(await self._submitted(earlier, replayed=True), revision_secret="")

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
        year: int,
        on: dt.date | None = None,
        carried_from: str | None = None,
        cycle: cycle_rules.Cycle | None = None,
    ) -> Submitted:
        """Record a new proposal for the cycle of `year`, or answer with the one an earlier request with
        this key created. Refused unless submissions for `year` are open on `on` (today).

        `carried_from`: an earlier year's proposal that was not accommodated, proposed again (the caller
        has checked who may: its proposer by the revision secret, or a facilitator of its kelurahan). The
        link is written on both streams in the same append, against the earlier one's head: two carries of
        one proposal racing, one wins and the other is told it was already carried.

        `replay_checked`: the caller has just asked `find_submitted` (a twin arriving in between is
        still caught by the log's unique event ids). `cycle`: the cycle of `year` as the caller has just
        read it from the log (`taking`); checked again here for `on`, without reading it again."""
        meta = msgspec.structs.replace(metadata or Metadata(), fingerprint=request_fingerprint)
        if not replay_checked:
            earlier = await self.find_submitted(idempotency_key, request_fingerprint)
            if earlier is not None:
                return earlier
        if len(photos) > rules.MAX_PHOTOS:
            raise DomainError(N_("paling banyak 3 foto per usulan"))
        await self._still_open(year, on, cycle)
        asked = _Submission(
            content=content, proposer=proposer, photos=photos, source=source, year=year, carried_from=carried_from,
            ref=str(uuid.uuid5(_NAMESPACE, f"proposer:{idempotency_key}")), idempotency_key=idempotency_key,
            request_fingerprint=request_fingerprint, meta=meta, on=on,
        )  # fmt: skip
        for attempt in range(5):
            submitted = await self._submit_as(code_for(idempotency_key, attempt), asked)
            if submitted is not None:
                return submitted
        raise DomainError(N_("kode pelacakan tidak dapat dibuat; coba lagi"))

    async def _still_open(self, year: int, on: dt.date | None, cycle: cycle_rules.Cycle | None) -> None:
        """Refused unless submissions for `year` are open on `on`: checked on the cycle the caller has just
        read, when it is that year's (no second read of the log on the hot path: its Forum Perangkat Daerah
        was read with it, and is read again under the locks), else on the log."""
        if cycle is not None and cycle.year == year:
            cycles.check_open(cycle, year, cycle_rules.SUBMISSIONS, on)
        else:
            await cycles.open_for(self._store, year, cycle_rules.SUBMISSIONS, on)

    async def _submit_as(self, code: str, asked: _Submission) -> Submitted | None:
        """One attempt to record the submission under `code`: its events, the carry-over link if any, then
        the personal data and the log in one transaction. None when another proposal already has the code
        (rare: 40-bit codes), so that the caller derives the next; a twin of this request that committed
        first is answered with what it made, as a retry would be."""
        appends = [Append(rules.stream_id(code), StreamHead(0, bytes(32)), _new_proposal_events(code, asked))]
        if asked.carried_from is not None:
            carry = await self._carry_over_or_twin(asked.carried_from, code, asked)
            if isinstance(carry, Submitted):
                return carry
            appends.append(carry)
        try:
            result = await self._append_with_private_data(code, asked, appends)
        except _Replayed as twin:
            return await self._submitted(twin.result, replayed=True)
        except ConcurrencyError:
            return None
        return Submitted(code=code, status=rules.DIAJUKAN, revision_secret=self.revision_secret(code),
                         replayed=False, last=result.last)  # fmt: skip

    async def _carry_over_or_twin(self, earlier: str, code: str, asked: _Submission) -> Append | Submitted:
        """The append linking `earlier` forward to `code`. When it is refused, a twin of this very request
        may have carried it on a moment ago (the link is appended against the earlier proposal's head: of
        two racing carries one wins): answered with that twin's proposal, else the refusal stands."""
        try:
            return await self._carry_over(earlier, code, asked.year, asked.content.kelurahan)
        except DomainError:
            twin = await self.find_submitted(asked.idempotency_key, asked.request_fingerprint)
            if twin is not None:
                return twin
            raise

    async def _append_with_private_data(self, code: str, asked: _Submission, appends: list[Append]) -> AppendResult:
        """The proposer's contact, their subscription, the photos and the events in one transaction: both
        the personal data and the log, or neither. The subscription goes in before the events, so that the
        outbox, filled in the same transaction, finds it. A twin of this request that committed first
        raises `_Replayed`, rolling back all of this attempt. The year's cycle and city intake are held
        (`cycles.hold_submissions`) to the commit, and submissions judged open again under them: a
        withdrawal of the cycle, a move of its window, the Forum Perangkat Daerah's close or the adoption does
        not land between the check and this proposal."""
        ref, proposer = asked.ref, asked.proposer
        async with self._store.transaction() as conn:
            await cycles.hold_submissions(conn, self._store, asked.year, asked.on)
            if asked.carried_from is not None:
                await self._in_no_line(conn, asked.carried_from)
            await conn.execute(
                "INSERT INTO proposer_contacts (ref, proposal_code, name, phone, email, notify)"
                " VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (ref) DO NOTHING",
                ref, code, proposer.name, proposer.phone, proposer.email, proposer.notify,
            )  # fmt: skip
            await subscribe_proposer(conn, code, ref, proposer)
            await _store_photos(conn, code, asked.photos)
            result = await self._store.append(appends, metadata=asked.meta, idempotency_key=asked.idempotency_key,
                                              conn=conn)  # fmt: skip
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
        """A retry with the same key answers as the first time did, even once the year is adopted: the replay
        is looked for before the year's lock and its adoption check (`_before_adoption`, `streams.execute`)."""
        self.check_secret(code, secret)
        meta = Metadata(actor="pengusul", role="warga", fingerprint=fingerprint(msgspec.to_builtins(content)))
        return await self._before_adoption(code, rules.ReviseProposal(code=code, content=content), meta,
                                           idempotency_key)  # fmt: skip

    async def _before_adoption(self, code: str, command: rules.Command, metadata: Metadata,
                               idempotency_key: str | None) -> AppendResult:  # fmt: skip
        """Decide `command` on the proposal and append it, holding its year's RKPD lock shared
        (`lock_year_open`): verifications and revisions of a year do not wait for each other, and an
        adoption is either wholly after this (and its read of the proposals sees it) or this is refused.
        A command retried with the same key answers with its first result, even once the year is adopted;
        one that lost a race (a twin of this very form, say) is decided again on what is there now."""

        async def year_open(conn: asyncpg.Connection, state: rules.Proposal) -> None:
            if state.exists:
                await lock_year_open(self._store, conn, state.year)

        return await execute(self._store, PROPOSAL, rules.stream_id(code), command, metadata=metadata,
                             idempotency_key=idempotency_key, guard=year_open, attempts=5)  # fmt: skip

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
        await self._cycle_not_adopted(code)
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
        """Merge duplicates into one proposal, atomically across all their streams; not in a year whose
        RKPD is adopted."""
        await self._cycle_not_adopted(command.into)
        await require_fresh(self._read_models, ["forums"])  # the long wait, if any, before the place is locked
        for _ in range(5):
            target, target_head = await load(self._store, PROPOSAL, rules.stream_id(command.into))
            sources, heads = {}, {rules.stream_id(command.into): target_head}
            for code in dict.fromkeys(command.codes):
                sources[code], heads[rules.stream_id(code)] = await load(self._store, PROPOSAL, rules.stream_id(code))
            decided = rules.decide_merge(target, sources, command)
            appends = [Append(rules.stream_id(code), heads[rules.stream_id(code)], events)
                       for code, events in decided.items()]  # fmt: skip
            try:
                async with self._store.transaction() as conn:
                    await self._before_its_forum(conn, target, command)
                    await lock_year_open(self._store, conn, target.year)
                    return await self._store.append(appends, metadata=metadata, conn=conn)
            except ConcurrencyError:
                continue  # one of them changed meanwhile: decide again on what is there now
        raise ConcurrencyError([rules.stream_id(c) for c in (command.into, *command.codes)])

    async def _before_its_forum(self, conn: asyncpg.Connection, target: rules.Proposal,
                                command: rules.MergeProposals) -> None:  # fmt: skip
        """Refused once one of them is on the agenda of an opened Musrenbang: the agenda froze it as it stood,
        and a duplicate merged after would still be decided there (and counted against the ceiling) beside
        the proposal it lives on in. Under the lock a kelurahan's forum takes to open (every proposal merged
        shares the target's kelurahan and year: `decide_merge`), so neither lands between the other's read
        and commit."""
        await lock_forum_place(conn, "kelurahan", target.submitted.kelurahan, target.year)
        await fresh_under_lock(self._read_models, ["forums"])
        found = await on_an_agenda(conn, [command.into, *command.codes])
        if found is not None:
            raise DomainError(Message(N_("usulan %(code)s sudah dibahas di musyawarah «%(title)s»: tidak dapat"
                                         " digabungkan lagi"), code=found["proposal"], title=found["title"]))

    async def carry_over_check(self, earlier: str, year: int, kelurahan: str) -> None:
        """Refused now, before anything is counted or written, when `earlier` cannot be proposed again for
        `year` from `kelurahan` (checked once more, against the log, when the new proposal is appended)."""
        await self._carry_over(earlier, "", year, kelurahan)

    async def _carry_over(self, earlier: str, new_code: str, year: int, kelurahan: str) -> Append:
        """The append that links `earlier` forward to `new_code`, decided on its state as the log has it
        and on its outcome as the read models say once they have caught up with the log (the forum and
        RKPD outcomes are not on the proposal's own stream)."""
        state, head = await load(self._store, PROPOSAL, rules.stream_id(earlier))
        if not state.exists:
            raise NotFound(Message(N_("usulan %(code)s tidak ditemukan"), code=earlier))
        if state.submitted.kelurahan != kelurahan:  # the same need, in the same place
            raise ValidationFailed({"kelurahan": N_("usulan lanjutan harus dari kelurahan/desa yang sama")})
        await require_fresh(self._read_models, ["proposals", "rkpd"])
        async with self._pool.acquire() as conn:
            outcome = await conn.fetchval("SELECT status FROM proposals WHERE code = $1", earlier)
            dropped = await proposal_views.line_dropped(conn, earlier)
        adopted = (await cycles.load_cycle(self._store, state.year)).adopted
        command = rules.CarryOver(code=earlier, to_code=new_code or earlier, to_year=year,
                                  outcome=outcome or rules.DIAJUKAN, adopted=adopted, line_dropped=dropped)  # fmt: skip
        return Append(rules.stream_id(earlier), head, rules.decide(state, command))

    async def _in_no_line(self, conn: asyncpg.Connection, earlier: str) -> None:
        """The proposal carried on is in no line of its own year's RKPD, as the log has it holding that
        year's lock shared (services/locks.py) to the commit: a line taking it in (which holds the lock
        exclusively and refuses a proposal carried on, services/rkpd.py) is wholly before this check or
        after the carry-over. The carry-over's own decision reads the read models (its outcome): a line
        withdrawn in an amendment leaves its proposals undecided, and so proposable again, until another
        line takes them."""
        state, _ = await load(self._store, PROPOSAL, rules.stream_id(earlier), conn)
        await conn.execute("SELECT pg_advisory_xact_lock_shared($1, $2)", RKPD_LOCK, state.year)
        city_level, _ = await load(self._store, RKPD, rkpd_rules.stream_id(state.year), conn)
        for line in (line for line in city_level.lines.values() if earlier in line.origins):
            progress, _ = await load(self._store, LINE, realisation_rules.stream_id(state.year, line.line_id), conn)
            if progress.stage != "batal":  # a line the budget year dropped leaves its need unmet
                raise DomainError(Message(N_("usulan %(code)s masuk baris RKPD %(line)s tahun %(year)d: tidak"
                                             " diusulkan lagi"), code=earlier, line=line.line_id, year=state.year))

    async def _cycle_not_adopted(self, code: str) -> None:
        """Refused once the RKPD of the proposal's year is adopted: nothing more is added to that cycle."""
        state, _ = await load(self._store, PROPOSAL, rules.stream_id(code))
        if state.exists:
            year = state.year
            if (await cycles.load_cycle(self._store, year)).adopted:
                raise DomainError(Message(N_("RKPD %(year)d sudah ditetapkan: usulan tahun itu tidak dapat diubah"
                                             " lagi"), year=year))  # fmt: skip

    async def year_of(self, code: str) -> int:
        """The RKPD year a proposal was made for (NotFound if there is no such proposal)."""
        state, _ = await load(self._store, PROPOSAL, rules.stream_id(code))
        if not state.exists:
            raise NotFound(N_("usulan tidak ditemukan"))
        return state.year

    async def kelurahan_of(self, code: str) -> str:
        state, _ = await load(self._store, PROPOSAL, rules.stream_id(code))
        return state.submitted.kelurahan

    async def verify(self, command: rules.VerifyProposal, metadata: Metadata,
                     idempotency_key: str | None = None) -> AppendResult:  # fmt: skip
        """Verified while the proposal's cycle is not adopted (a retry with the same key still answers)."""
        return await self._before_adoption(command.code, command, metadata, idempotency_key)

    async def decided_already(self, command: rules.VerifyProposal) -> bool:
        """Whether `command` is the decision the proposal already carries (`rules.repeats_decision`)."""
        state, _ = await load(self._store, PROPOSAL, rules.stream_id(command.code))
        return rules.repeats_decision(state, command)

    async def merged_already(self, command: rules.MergeProposals) -> bool:
        """Whether every proposal of `command` is already merged into its target (`rules.repeats_merge`)."""
        sources = {code: (await load(self._store, PROPOSAL, rules.stream_id(code)))[0] for code in command.codes}
        return rules.repeats_merge(sources, command)


async def lock_year_open(store: EventStore, conn: asyncpg.Connection, year: int) -> None:
    """Hold `year`'s RKPD lock shared (services/locks.py) to the end of `conn`'s transaction, then refuse if
    the year's RKPD is adopted, as the log has it under the lock. An adoption holds the lock exclusively from
    its read of the proposals read model (what it closes unprocessed, and tells their followers) to its
    commit: a verification, revision or merge is thus wholly before that read, or sees the adoption and is
    refused — never committed in between, reopening a proposal the adoption closed."""
    await conn.execute("SELECT pg_advisory_xact_lock_shared($1, $2)", RKPD_LOCK, year)
    if (await cycles.load_cycle(store, year, conn)).adopted:
        raise DomainError(Message(N_("RKPD %(year)d sudah ditetapkan: usulan tahun itu tidak dapat diubah lagi"),
                                  year=year))  # fmt: skip


async def subscribe_proposer(conn: asyncpg.Connection, code: str, ref: str, proposer: rules.Proposer) -> None:
    """The proposer's own subscription to their proposal, by the channel they chose, written before the
    submission's event so that the outbox (in the same transaction) already finds it: the first message
    confirms the code. Nothing when they chose not to be told."""
    if proposer.notify == "none":
        return
    address = proposer.email if proposer.notify == "email" else proposer.phone
    await conn.execute(
        "INSERT INTO subscriptions (id, subject, channel, address, link, kind, owner, token, confirmed)"
        " VALUES ($1, $2, $3, $4, $5, 'proposer', $6, $7, true) ON CONFLICT (subject, channel, address) DO NOTHING",
        uuid.uuid4(), code, proposer.notify, address, f"/lacak/{code}", uuid.UUID(ref), secrets.token_urlsafe(24),
    )  # fmt: skip


async def stop_proposer_news(conn: asyncpg.Connection, code: str, contact: str) -> None:
    """Stop every message to the proposer of `code` — their subscription and its copies on proposals it
    was merged into — and cancel what is still queued, if `contact` is the phone number or e-mail address
    they proposed with (knowing it is what shows it is them). The caller answers the same either way, so
    that the form tells nobody whether a number made a proposal; the proposer learns it worked from one
    last message, to the address that was stopped."""
    phone = email = ""
    try:
        phone = values.normalize_phone(contact)
    except ValueError:
        email = contact.strip().lower()
    owner = await conn.fetchval(
        "SELECT ref FROM proposer_contacts WHERE proposal_code = $1 AND (phone = $2 OR lower(email) = $3)",
        code, phone, email or None,
    )  # fmt: skip
    if owner is None:
        return
    async with conn.transaction():
        stopped = await conn.fetch(
            "UPDATE subscriptions SET stopped_at = now() WHERE owner = $1 AND stopped_at IS NULL"
            " RETURNING id, subject, channel, address",
            owner,
        )
        await outbox.cancel_queued(conn, [r["id"] for r in stopped])
        await conn.execute("UPDATE proposer_contacts SET notify = 'none' WHERE ref = $1", owner)
        own = next((r for r in stopped if r["subject"] == code), None)
        if own is not None:
            await conn.execute(
                "INSERT INTO outbox (id, subscription, dedupe, purpose, channel, address, title, body, link)"
                " VALUES ($1, NULL, $2, 'stopped', $3, $4, $5, $6, $7)",
                uuid.uuid4(), str(uuid.uuid4()), own["channel"], own["address"], f"Kabar usulan {code} dihentikan",
                f"Sesuai permintaan Anda, kabar tentang usulan {code} tidak dikirim lagi. Perkembangannya tetap"
                " dapat dilihat di halaman lacak.", f"/lacak/{code}",
            )  # fmt: skip
            await conn.execute("SELECT pg_notify($1, $2)", CHANNEL, OUTBOX_NOTICE)  # wake the senders at commit


class _Submission(msgspec.Struct, frozen=True):
    """What a submission asks for, the same for every attempt at a tracking code (`ProposalService.submit`)."""

    content: rules.ProposalContent
    proposer: rules.Proposer
    photos: Sequence[ProcessedPhoto]
    source: str
    year: int
    carried_from: str | None
    ref: str
    """The proposer's reference in the personal-data table: the only thing of them the log holds."""
    idempotency_key: str
    request_fingerprint: str
    meta: Metadata
    on: dt.date | None = None
    """The day the submission is judged on (None: the city's today)."""


def _new_proposal_events(code: str, asked: _Submission) -> list[Event]:
    """The events of a new proposal under `code`: the submission, then each photo attached, each decided
    on the state the ones before it made (pure: nothing read or written)."""
    state = rules.Proposal()
    events: list[Event] = []
    commands: list[rules.Command] = [
        rules.SubmitProposal(code=code, year=asked.year, source=asked.source, content=asked.content,
                             proposer_ref=asked.ref, carried_from=asked.carried_from),
        *(_attach(code, p) for p in asked.photos),
    ]  # fmt: skip
    for command in commands:
        new = rules.decide(state, command)
        for e in new:
            state = rules.evolve(state, e)
        events.extend(new)
    return events


class _Replayed(Exception):
    def __init__(self, result: AppendResult) -> None:
        self.result = result


_B32_TO_CROCKFORD = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", values.CROCKFORD)


def code_for(idempotency_key: str, attempt: int) -> str:
    """A new proposal's tracking code, from the request's idempotency key (a retry derives the same one)."""
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
