"""Pokok-pikiran DPRD on the event log: a member enters and revises their own pokir until the deadline,
the DPRD secretariat returns or forwards each, and Bappeda's "receive" at the Forum Perangkat Daerah takes
up the forwarded ones beside the kecamatan forums' proposals (services/rkpd.py, `forwarded`).

A pokir is a proposal stream (`proposal-{code}`, source "pokir"): it has a tracking code and a public
page like a resident's, and the same lineage. No personal data is kept for it: its member is a public
official, named in the event.
"""

from __future__ import annotations

import datetime as dt
import uuid

import asyncpg
import msgspec

from musrenbang.domain import city_forums, proposal
from musrenbang.domain import pokir as rules
from musrenbang.domain import rkpd as rkpd_rules
from musrenbang.domain.access import Actor, Forbidden, require_role
from musrenbang.domain.cycle import Cycle
from musrenbang.domain.errors import N_, DomainError, NotFound, ValidationFailed
from musrenbang.eventlog.store import Append, AppendResult, ConcurrencyError, EventStore, Metadata
from musrenbang.services import accounts, cycles
from musrenbang.services import city as city_service
from musrenbang.services.locks import RKPD_LOCK
from musrenbang.services.proposals import _NAMESPACE, PROPOSAL, ProposalService, code_for
from musrenbang.services.rkpd_streams import RKPD
from musrenbang.services.streams import execute, load


class Reses(msgspec.Struct, frozen=True, kw_only=True):
    held_on: dt.date | None
    place: str


class PokirService:
    def __init__(self, pool: asyncpg.Pool, store: EventStore, proposals: ProposalService) -> None:
        self._pool, self._store, self._proposals = pool, store, proposals

    async def _member(self, actor: Actor) -> rules.Member:
        require_role(actor, "dprd")
        async with self._pool.acquire() as conn:
            row = await accounts.member(conn, actor.username)
        if row is None:
            raise Forbidden(N_("akun ini bukan akun anggota DPRD"))
        return rules.Member(username=row["username"], name=row["name"], faction=row["faction"], dapil=row["dapil"])

    async def check_open(self, year: int, day: dt.date, *, revising: bool = False,
                         conn: asyncpg.Connection | None = None, cycle: Cycle | None = None) -> None:  # fmt: skip
        """Whether pokir for `year` are taken on `day` (domain/pokir.check_open), as the log says now
        (`cycle`: the year's cycle, when the caller has just read it on `conn`)."""
        city_level, _ = await load(self._store, RKPD, rkpd_rules.stream_id(year), conn)
        rules.check_open(cycle if cycle is not None else await cycles.load_cycle(self._store, year, conn), day,
                         year=year, revising=revising,
                         forum_pd_closed=city_forums.FORUM_PD in city_level.forums_closed)  # fmt: skip

    async def _still_taken(self, conn: asyncpg.Connection, year: int, day: dt.date, *, revising: bool) -> None:
        """`check_open` again in the transaction that writes the pokir, holding the year's cycle lock and its
        city level's lock shared (services/locks.py, in that order) to the commit. The Forum Perangkat
        Daerah's close holds the city level's lock exclusively around its check that every pokir is
        answered, and a withdrawal of the cycle the cycle's lock: neither lands between this check and the
        pokir, which would leave a pokir no forum can take up (or one in a year with no cycle)."""
        cycle = await cycles.hold_year(conn, self._store, year)
        await conn.execute("SELECT pg_advisory_xact_lock_shared($1, $2)", RKPD_LOCK, year)
        await self.check_open(year, day, revising=revising, conn=conn, cycle=cycle)

    async def _checked(self, actor: Actor, year: int, raw: proposal.ProposalInput, reses: Reses,
                       on: dt.date | None, *, revising: bool = False, dapil: str | None = None,
                       ) -> tuple[proposal.ProposalContent, proposal.PokirFrom]:  # fmt: skip
        """The content and origin of a member's pokir for `year`, every field checked (all at once where
        they can be), the deadline, and the Forum Perangkat Daerah still to close. `dapil`: the one a pokir
        being revised was submitted in, which it keeps (an account moved to another dapil since,
        `musrenbang user move`, still corrects what it brought from the old one)."""
        member = await self._member(actor)
        if dapil is not None:
            member = msgspec.structs.replace(member, dapil=dapil)
        day = on or cycles.today()
        await self.check_open(year, day, revising=revising)
        errors: dict[str, str] = {}
        content = origin = None
        try:
            content = await self._proposals.validate(raw, year=year)
        except ValidationFailed as exc:
            errors |= exc.errors
        try:  # the reses too, so that the form shows every mistake at once, not in two rounds
            origin = rules.pokir_from(member, reses.held_on, reses.place, year=year, today=day)
        except ValidationFailed as exc:
            errors |= exc.errors
        if content is not None:
            try:
                rules.check_place(await city_service.required(self._store), member.dapil, content.kelurahan)
            except ValidationFailed as exc:
                errors |= exc.errors
        if errors or content is None or origin is None:
            raise ValidationFailed(errors)
        return content, origin

    async def submit(self, actor: Actor, year: int, raw: proposal.ProposalInput, reses: Reses, *,
                     idempotency_key: str, fingerprint: str,
                     on: dt.date | None = None) -> tuple[str, AppendResult]:  # fmt: skip
        """A new pokir of the member `actor`; the same key again answers with the same pokir."""
        meta = Metadata(actor=actor.username, role=actor.role, fingerprint=fingerprint)
        earlier = await self._store.find_replay(idempotency_key, fingerprint)
        if earlier is not None:
            return code_of(earlier), earlier
        content, origin = await self._checked(actor, year, raw, reses, on)
        day = on or cycles.today()
        for attempt in range(5):
            code = code_for(f"pokir:{actor.username}:{idempotency_key}", attempt)
            command = proposal.SubmitProposal(code=code, year=year, source="pokir", content=content,
                                              proposer_ref=member_ref(actor.username), pokir=origin)  # fmt: skip
            if (await load(self._store, PROPOSAL, proposal.stream_id(code)))[0].exists:
                earlier = await self._store.find_replay(idempotency_key, fingerprint)
                if earlier is not None:  # a twin of this request made it a moment ago
                    return code_of(earlier), earlier
                continue  # another pokir has this code (rare: 40-bit codes): derive the next
            try:
                result = await execute(self._store, PROPOSAL, proposal.stream_id(code), command, metadata=meta,
                                       idempotency_key=idempotency_key,
                                       guard=lambda conn, _: self._still_taken(conn, year, day, revising=False))
            except ConcurrencyError:
                continue  # taken in between
            return code_of(result), result
        raise DomainError(N_("kode pelacakan tidak dapat dibuat; coba lagi"))

    async def revise(self, actor: Actor, code: str, raw: proposal.ProposalInput, reses: Reses, *,
                     idempotency_key: str | None = None, fingerprint: str | None = None,
                     on: dt.date | None = None) -> AppendResult:  # fmt: skip
        """The member's own pokir, returned by the secretariat, corrected and submitted again (after the
        deadline too, while the Forum Perangkat Daerah is open: the return was part of the check). A retry
        with the same key answers with its first result, whatever changed since."""
        if idempotency_key is not None:
            earlier = await self._store.find_replay(idempotency_key, fingerprint)
            if earlier is not None:
                return earlier
        state, _ = await load(self._store, PROPOSAL, proposal.stream_id(code))
        if not state.exists or state.pokir is None:
            raise NotFound(N_("pokok pikiran tidak ditemukan"))
        if state.pokir.member != actor.username:
            raise Forbidden(N_("pokok pikiran ini milik anggota DPRD lain"))
        content, origin = await self._checked(actor, state.year, raw, reses, on, revising=True, dapil=state.pokir.dapil)
        meta = Metadata(actor=actor.username, role=actor.role, fingerprint=fingerprint)
        day, year = on or cycles.today(), state.year
        return await execute(self._store, PROPOSAL, proposal.stream_id(code),
                             proposal.ReviseProposal(code=code, content=content, pokir=origin), metadata=meta,
                             idempotency_key=idempotency_key,
                             guard=lambda conn, _: self._still_taken(conn, year, day, revising=True))  # fmt: skip

    async def check(self, actor: Actor, command: proposal.ForwardPokir | proposal.ReturnPokir,
                    idempotency_key: str | None = None, fingerprint: str | None = None) -> AppendResult:  # fmt: skip
        """The secretariat's completeness check (`setwan`; Bappeda may stand in): forward or return; not
        once the year's RKPD is adopted, and nothing forwarded once the Forum Perangkat Daerah closed. Holds
        the year's city-level lock (services/rkpd.py), so that no pokir is forwarded while a forum closes
        or the RKPD is adopted on the check that every pokir is answered. A retry with the same key answers
        with its first result; the key sent again with another reason or note (`fingerprint`: of the
        request) is IdempotencyKeyReused, not silently the first result."""
        require_role(actor, "setwan", "admin")
        meta = Metadata(actor=actor.username, role=actor.role, fingerprint=fingerprint)
        stream = proposal.stream_id(command.code)
        async with self._store.transaction() as conn:
            if idempotency_key is not None:
                earlier = await self._store.find_replay(idempotency_key, fingerprint, conn)
                if earlier is not None:
                    return earlier
            state, head = await load(self._store, PROPOSAL, stream, conn)
            if not state.exists:
                raise NotFound(N_("pokok pikiran tidak ditemukan"))
            await conn.execute("SELECT pg_advisory_xact_lock($1, $2)", RKPD_LOCK, state.year)
            state, head = await load(self._store, PROPOSAL, stream, conn)  # as it stands under the lock
            if (await cycles.load_cycle(self._store, state.year, conn)).adopted:
                raise DomainError(N_("RKPD tahun ini sudah ditetapkan"))
            city_level, _ = await load(self._store, RKPD, rkpd_rules.stream_id(state.year), conn)
            if isinstance(command, proposal.ForwardPokir) and city_forums.FORUM_PD in city_level.forums_closed:
                raise DomainError(N_("Forum Perangkat Daerah sudah ditutup: pokok pikiran tidak dapat diteruskan lagi"))
            events = proposal.decide(state, command)
            return await self._store.append(Append(stream, head, events), metadata=meta,
                                            idempotency_key=idempotency_key, conn=conn)  # fmt: skip


def member_ref(username: str) -> str:
    """A pokir's `proposer_ref`: a reference like a resident's (a UUID), to no personal data (there is none:
    the member is named in the event)."""
    return str(uuid.uuid5(_NAMESPACE, f"dprd:{username}"))


def code_of(result: AppendResult) -> str:
    """The code of the pokir a submission recorded (its one `proposal-` stream)."""
    [stream] = [s for s in result.heads if s.startswith("proposal-")]
    return stream.removeprefix("proposal-")
