"""The city level on the event log: the Forum Perangkat Daerah (agencies take up, pass on, decline and map
proposals into RKPD lines) and Musrenbang Kota (Bappeda adopts the list), each also held as a forum with a
Berita Acara (domain/city_forums.py; closing the Musrenbang Kota adopts).

All of a year's city-level events are on one stream (`rkpd-{year}`): the rules that span it (a proposal in
at most one line, nothing pending at adoption) need one consistent state. Commands on it take turns: each
holds a per-year advisory lock from loading the state to committing its events, so agencies acting in
the same second queue (fairly, in PostgreSQL's lock queue) instead of failing on a stale state, and
nobody has to retype anything.
"""

from __future__ import annotations

import datetime as dt

import asyncpg
import msgspec

from musrenbang.domain import agency as funding
from musrenbang.domain import city_forums, notices, values
from musrenbang.domain import cycle as cycle_rules
from musrenbang.domain import pokir as pokir_rules
from musrenbang.domain import proposal as proposal_rules
from musrenbang.domain import realisation as realisation_rules
from musrenbang.domain import rkpd as rules
from musrenbang.domain.access import Actor, Forbidden, require_role
from musrenbang.domain.agency import DANA_DESA, DANA_KELURAHAN
from musrenbang.domain.cycle import STAGES, WINDOW_LABELS
from musrenbang.domain.errors import N_, DomainError, Message, NotFound, Term, ValidationFailed
from musrenbang.domain.events import CityItem, Event, RkpdAdopted
from musrenbang.domain.notices import Notice
from musrenbang.eventlog import outbox
from musrenbang.eventlog.store import CHANNEL, OUTBOX_NOTICE, Append, AppendResult, EventStore, Metadata
from musrenbang.projections import cycles as cycle_views
from musrenbang.projections import rkpd as rkpd_views
from musrenbang.services import city as city_service
from musrenbang.services import cycles
from musrenbang.services.forums import fresh_under_lock
from musrenbang.services.freshness import ReadModels, require_fresh
from musrenbang.services.locks import INTAKE_LOCK, RKPD_LOCK
from musrenbang.services.proposals import PROPOSAL
from musrenbang.services.rkpd_streams import LINE, RKPD
from musrenbang.services.streams import load


def acting_agency(actor: Actor) -> str | None:
    """The agency an account acts for: its own for `opd`, any (None) for Bappeda (`admin`). That it is
    one of the city's is checked with the command (`RkpdService.execute`)."""
    require_role(actor, "admin", "opd")
    if actor.role == "opd":
        if not actor.opd:
            raise Forbidden(N_("akun ini tidak terhubung ke perangkat daerah yang dikenal"))
        return actor.opd
    return None


async def _places_exist(command: rules.Command, conn: asyncpg.Connection) -> None:
    """The kelurahan and desa a Renja line names are the city's (reference data, loaded at setup)."""
    if not isinstance(command, rules.SetLine) or not command.line.locations:
        return
    known = await conn.fetch("SELECT kode FROM regions WHERE kode = ANY($1::text[]) AND tingkat IN"
                             " ('kelurahan', 'desa')", list(command.line.locations))  # fmt: skip
    if len(known) != len(set(command.line.locations)):
        raise ValidationFailed({"locations": N_("lokasi berupa kode kelurahan atau desa kota ini")})


async def city_has_desa(conn: asyncpg.Connection, region: str) -> bool:
    """Whether any village of the city (`region`, its code) is a desa, by the reference data loaded at setup:
    only then is Dana Desa a source its lines may choose (agency.funding_sources)."""
    return await cycles.city_has_village(conn, region, "desa")


async def offered_funding_sources(conn: asyncpg.Connection, region: str) -> dict[str, str]:
    """The sources a new line of the city (`region`) is offered: Dana Desa only where it has desa, Dana
    Kelurahan only where it has kelurahan (agency.funding_sources)."""
    return funding.funding_sources(await city_has_desa(conn, region),
                                   await cycles.city_has_village(conn, region, "kelurahan"))  # fmt: skip


async def _has_village(command: rules.Command, region: str, conn: asyncpg.Connection, source: str) -> bool:
    """Whether the city has the villages `source` goes to (desa for Dana Desa, kelurahan for Dana Kelurahan),
    asked only of a line that chooses it (True otherwise: nothing depends on it)."""
    if not isinstance(command, rules.SetLine) or command.line.funding_source != source:
        return True
    return await cycles.city_has_village(conn, region, "desa" if source == DANA_DESA else "kelurahan")


async def _ceilings(may_adopt: bool, year: int, cycle: cycle_rules.Cycle, conn: asyncpg.Connection
                    ) -> dict[str, int] | None:  # fmt: skip
    """The pagu indikatif per kecamatan a command that may adopt is held to (None for any other): as the staff
    page shows them (rkpd_views.ceilings: the kecamatan forums' ceilings, read once the forums read model has
    reached the log), with those Bappeda set in the cycle read from the log itself."""
    if not may_adopt:
        return None
    return {**await rkpd_views.ceilings(conn, year), **cycle.pagu_kecamatan}


async def _not_ended(store: EventStore, command: rules.Command, year: int, conn: asyncpg.Connection) -> None:
    """A line whose work has ended (finished, or dropped) is neither withdrawn nor changed: its proposals (or
    one dropped from its origins) would be undecided again, free to go into another line while the work
    stands recorded, or while, dropped, they were already proposed again for a later year. A line under
    way may still be changed or withdrawn in an amendment. Milestones are recorded holding the year's lock
    shared (services/realisation.py), and refused for a line withdrawn since the adoption: neither lands
    between this check and the other."""
    if isinstance(command, rules.WithdrawLine):
        line_id: str | None = command.line_id
    elif isinstance(command, rules.SetLine):
        line_id = command.line.line_id
    else:
        return
    if line_id is None:  # a new line
        return
    progress, _ = await load(store, LINE, realisation_rules.stream_id(year, line_id), conn)
    if progress.stage in realisation_rules.FINAL:
        raise DomainError(Message(N_("pekerjaan baris %(line)s sudah tercatat «%(stage)s»: baris ini tidak dapat"
                                     " diubah atau ditarik lagi dari RKPD"), line=line_id,
                                  stage=Term(realisation_rules.LABELS[progress.stage])))  # fmt: skip


async def _origins_not_carried(store: EventStore, command: rules.Command, conn: asyncpg.Connection) -> None:
    """A proposal proposed again for a later year lives on there (domain/proposal.py, `_not_carried`): it
    goes into no line of its old year. Read from the proposals' streams under the year's lock, which a
    carry-over holds shared while it checks that its proposal is in no line (services/proposals.py)."""
    if not isinstance(command, rules.SetLine):
        return
    for code in command.line.origins:
        state, _ = await load(store, PROPOSAL, proposal_rules.stream_id(code), conn)
        if state.carried_to is not None:
            raise ValidationFailed({"origins": Message(
                N_("usulan %(code)s sudah diusulkan lagi sebagai %(to)s untuk tahun berikutnya: tidak dapat masuk"
                   " baris RKPD tahun ini"), code=code, to=state.carried_to)})  # fmt: skip


def _all_forwarded_taken_up(state: rules.Rkpd, forwarded: set[str]) -> None:
    """The Forum Perangkat Daerah closes, or the RKPD is first adopted without one, only once Bappeda has
    taken up everything the kecamatan forums forwarded (`forwarded`): after either, nothing more is taken
    up, and a proposal left behind stayed "forwarded" for good, with no answer in the RKPD. Not asked of a
    later adoption (the intake has ended: a year adopted before this check with one left behind could
    otherwise never be amended)."""
    if state.revision or city_forums.FORUM_PD in state.forums_closed:
        return
    waiting = forwarded - set(state.items)
    if waiting:
        raise DomainError(Message(N_("masih ada %(n)d usulan yang diteruskan musyawarah kecamatan dan belum"
                                     " diterima: terima dulu hasil musyawarah kecamatan"), n=len(waiting)))


async def _pokir_answered(store: EventStore, year: int, state: rules.Rkpd, conn: asyncpg.Connection) -> None:
    """Every pokir of the year answered (domain/pokir.check_answered), as the log has them: read on the
    connection holding the year's lock, which the secretariat's check takes too (services/pokir.py), so no
    pokir is forwarded between this check and the close it guards."""
    streams = await conn.fetch("SELECT stream_id FROM events WHERE event_type = 'proposal.submitted'"
                               " AND data->>'source' = 'pokir' AND (data->>'year')::int = $1", year)  # fmt: skip
    pokir = {}
    for row in streams:
        proposal, _ = await load(store, PROPOSAL, row["stream_id"], conn)
        if proposal.code is not None:
            pokir[proposal.code] = proposal
    pokir_rules.check_answered(pokir, state.items)


def _stage_allows(command: rules.Command, year: int, state: cycle_rules.Cycle, on: dt.date | None) -> None:
    """Taking up proposals needs the year's cycle (a withdrawn one is none), the Forum Perangkat Daerah's
    window to have opened, and the RKPD not to be adopted yet. Everything else follows the RKPD's own rules
    (a change after adoption needs a reason and a new adoption: the amendment path). A city forum is dated
    inside its stage's window (it may be recorded after the window closed: a Berita Acara is often typed up
    later)."""
    if isinstance(command, city_forums.ScheduleCityForum) and command.forum in city_forums.STAGE:
        cycle_rules.check_held_in_window(state, city_forums.STAGE[command.forum], command.held_on)
        return
    if not isinstance(command, rules.ReceiveProposals):
        return  # every other command needs the city level opened by a receive (domain/rkpd.py)
    if not state.exists:  # never opened, or withdrawn (read under RKPD_LOCK, which a withdrawal holds)
        raise NotFound(Message(N_("siklus RKPD %(year)d belum dibuka"), year=year))
    day = on or cycles.today()
    if state.adopted:
        raise DomainError(Message(N_("RKPD %(year)d sudah ditetapkan: tidak ada lagi yang dapat ditambahkan"
                                     " ke siklus ini"), year=year))  # fmt: skip
    if state.calendar and STAGES.index(state.stage_on(day)) < STAGES.index("perangkat_daerah"):
        raise DomainError(Message(N_("tahap %(stage)s RKPD %(year)d belum dibuka: dibuka %(day)s"),
                                  stage=Term(WINDOW_LABELS["perangkat_daerah"]), year=year,
                                  day=values.long_date(state.calendar["perangkat_daerah"].opens)))  # fmt: skip


class RkpdService:
    def __init__(self, pool: asyncpg.Pool, store: EventStore, read_models: ReadModels) -> None:
        self._pool, self._store, self._read_models = pool, store, read_models

    async def load(self, year: int) -> rules.Rkpd:
        state, _ = await load(self._store, RKPD, rules.stream_id(year))
        return state

    async def forwarded(self, year: int) -> list[CityItem]:
        """What the kecamatan forums selected and forwarded to the city, and the pokir the DPRD secretariat
        forwarded, with the agency that takes each first (by its bidang). Read once the read models have
        caught up with the log: what is received is frozen into the year's stream."""
        await require_fresh(self._read_models, ["forums", "proposals"])
        city = await city_service.required(self._store)
        rows = await self._pool.fetch(
            "SELECT f.proposal, f.title, f.kelurahan, f.cost, f.volume, f.unit, f.from_forum, p.bidang"
            " FROM forum_forwarded f JOIN proposals p ON p.code = f.proposal"
            " WHERE f.to_level = 'kota' AND f.year = $1 ORDER BY f.proposal",
            year,
        )
        items = [
            CityItem(
                code=r["proposal"],
                title=r["title"],
                kelurahan=r["kelurahan"],
                bidang=r["bidang"],
                cost=r["cost"],
                volume=r["volume"],
                unit=r["unit"],
                forum_id=r["from_forum"],
                agency=city.agency_for(r["bidang"]),
            )  # fmt: skip
            for r in rows
        ]
        pokir = await self._pool.fetch(
            "SELECT p.code, p.title, p.kelurahan, p.bidang, p.estimated_cost, p.volume::text AS volume, p.unit"
            " FROM pokir k JOIN proposals p USING (code) WHERE k.year = $1 AND k.forwarded_at IS NOT NULL"
            " ORDER BY p.code", year,
        )  # fmt: skip
        items.extend(
            CityItem(code=r["code"], title=r["title"], kelurahan=r["kelurahan"], bidang=r["bidang"],
                     cost=r["estimated_cost"], volume=r["volume"], unit=r["unit"], forum_id="", source="pokir",
                     agency=city.agency_for(r["bidang"]))  # fmt: skip
            for r in pokir
        )
        return items

    async def receive(self, year: int, metadata: Metadata, idempotency_key: str | None = None,
                      on: dt.date | None = None) -> AppendResult:  # fmt: skip
        """Take up everything forwarded to the city not yet received (Bappeda opens the forum)."""
        items = tuple(await self.forwarded(year))
        return await self.execute(year, rules.ReceiveProposals(year=year, items=items), metadata, idempotency_key,
                                  on)  # fmt: skip

    async def priority_programs(self, year: int) -> int:
        """How many priority programs the cycle of `year` has (a cycle not in the read model yet may only
        be behind: that is checked before refusing)."""
        for attempt in range(2):
            async with self._pool.acquire() as conn:
                count = len(await cycle_views.priority_programs(conn, year))
            if count:
                return count
            if attempt == 0:
                await require_fresh(self._read_models, ["cycles"])
        raise DomainError(Message(N_("siklus RKPD %(year)d belum dibuka"), year=year))

    async def execute(self, year: int, command: rules.Command, metadata: Metadata,
                      idempotency_key: str | None = None, on: dt.date | None = None) -> AppendResult:  # fmt: skip
        """Decide on the year's current state and append, holding the year's lock (module docstring).
        A command retried with the same key answers with its first result. Everything runs on the one
        connection that holds the lock: waiting for a second one from the pool while holding it could
        deadlock when every pooled connection is queued on the same lock."""
        stream = rules.stream_id(year)
        if isinstance(command, rules.Adopt) and command.on is None:
            command = msgspec.structs.replace(command, on=on or cycles.today())
        closing = isinstance(command, rules.Adopt | city_forums.CloseCityForum)
        ends_intake = isinstance(command, rules.Adopt) or getattr(command, "forum", None) == city_forums.FORUM_PD
        may_adopt = isinstance(command, rules.Adopt) or getattr(command, "forum", None) == city_forums.MUSRENBANG_KOTA
        if may_adopt:
            # `_unprocessed` reads the proposals read model, `_ceilings` the forums'. The long wait, if any,
            # before a connection is held and the year locked; under the lock only a short one (`fresh_under_lock`).
            await require_fresh(self._read_models, ["proposals", "forums"])
        async with self._store.transaction() as conn:
            forwarded = await self._forwarded_under_intake_lock(year, conn) if ends_intake else set()
            await conn.execute("SELECT pg_advisory_xact_lock($1, $2)", RKPD_LOCK, year)
            if idempotency_key is not None:
                earlier = await self._store.find_replay(idempotency_key, metadata.fingerprint, conn)
                if earlier is not None:
                    return earlier
            state, head = await load(self._store, RKPD, stream, conn)
            city = await city_service.required(self._store, conn)
            by_agency = getattr(command, "by_agency", None)
            if by_agency is not None and by_agency not in city.agencies_by_code:
                raise Forbidden(N_("akun ini tidak terhubung ke perangkat daerah yang dikenal"))
            cycle = await cycles.load_cycle(self._store, year, conn)
            _stage_allows(command, year, cycle, on)
            if closing:
                await _pokir_answered(self._store, year, state, conn)
            _all_forwarded_taken_up(state, forwarded)
            await _places_exist(command, conn)
            events = rules.decide(state, command, agencies=city.agencies_by_code, dana_kelurahan=cycle.dana_kelurahan,
                                  has_desa=await _has_village(command, city.region, conn, DANA_DESA),
                                  has_kelurahan=await _has_village(command, city.region, conn, DANA_KELURAHAN),
                                  ceilings=await _ceilings(may_adopt, year, cycle, conn))  # fmt: skip
            await _not_ended(self._store, command, year, conn)  # after the domain's own refusals (whose line)
            await _origins_not_carried(self._store, command, conn)
            appends = [Append(stream, head, events)]
            if any(isinstance(e, RkpdAdopted) for e in events):  # the cycle is ditetapkan with it, atomically
                appends.extend(await self._cycle_adopted(year, conn, on))
            closing_unprocessed = await self._unprocessed(year, events, conn)
            result = await self._store.append(appends, metadata=metadata, idempotency_key=idempotency_key,
                                              conn=conn)  # fmt: skip
            if closing_unprocessed and not result.replayed:
                adoption = result.event_ids[next(i for i, e in enumerate(events) if isinstance(e, RkpdAdopted))]
                await outbox.enqueue_notices(conn, [(adoption, n) for n in closing_unprocessed])
                await conn.execute("SELECT pg_notify($1, $2)", CHANNEL, OUTBOX_NOTICE)  # wake the senders at commit
            return result

    async def _unprocessed(self, year: int, events: list[Event], conn: asyncpg.Connection) -> list[Notice]:
        """What the followers of the year's proposals closed unprocessed by its first adoption are told
        (domain/proposal.CLOSED_AT_ADOPTION; the proposals read model closes them when it applies the
        adoption, and no event of their own says so). Read from that read model once it has reached the log,
        under the year's lock, which verifications, revisions and merges hold shared
        (services/proposals.lock_year_open): none commits between this read and the adoption's commit."""
        if not any(isinstance(e, RkpdAdopted) and e.revision == 1 for e in events):
            return []
        await fresh_under_lock(self._read_models, ["proposals"])
        rows = await conn.fetch("SELECT code, status FROM proposals WHERE year = $1 AND status = ANY($2::text[])"
                                " ORDER BY code", year, list(proposal_rules.CLOSED_AT_ADOPTION))  # fmt: skip
        return [notices.closed_unprocessed(r["code"], year, proposal_rules.CLOSED_AT_ADOPTION[r["status"]])
                for r in rows]  # fmt: skip

    async def _forwarded_under_intake_lock(self, year: int, conn: asyncpg.Connection) -> set[str]:
        """What the kecamatan forums forwarded to the city, read on `conn` once the forums read model has
        reached the log, holding the city intake's lock (services/locks.py): no kecamatan forum closes
        meanwhile, and one that closed before is in what is read."""
        await conn.execute("SELECT pg_advisory_xact_lock($1, $2)", INTAKE_LOCK, year)
        await require_fresh(self._read_models, ["forums"])
        rows = await conn.fetch("SELECT proposal FROM forum_forwarded WHERE to_level = 'kota' AND year = $1", year)
        return {r["proposal"] for r in rows}

    async def _cycle_adopted(self, year: int, conn: asyncpg.Connection, on: dt.date | None) -> list[Append]:
        state, head = await load(self._store, cycles.CYCLE, cycle_rules.stream_id(year), conn)
        if not state.exists:
            return []
        events = cycle_rules.decide(state, cycle_rules.RecordAdoption(year=year, today=on or cycles.today()))
        return [Append(cycle_rules.stream_id(year), head, events)] if events else []

    async def line_id_at(self, result: AppendResult) -> str:
        """The id of the line an `RkpdLineSet` just appended (ids are given when the line is decided)."""
        return await self._pool.fetchval(
            "SELECT data->'line'->>'line_id' FROM events WHERE global_position = $1", result.positions[-1]
        )
