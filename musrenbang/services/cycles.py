"""Planning cycles on the event log: Bappeda opens one per RKPD year with its calendar, moves a window
(with a reason) or closes the current stage early; adoption of the RKPD closes the cycle for good.

Every command that a stage allows (a proposal, a forum, the city's intake) asks `open_for` here first:
the cycle is read from the log itself, and the day is the city's today (or the day a caller states: the
demo plays a past year on its own days).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence

import asyncpg
import msgspec

from musrenbang.domain import city as city_rules
from musrenbang.domain import city_forums, cycle, rkpd, values
from musrenbang.domain.errors import N_, DomainError, Message, NotFound, Term
from musrenbang.domain.events import CycleCancelled, CycleStarted, KecamatanCeiling, StageWindow, event_tag
from musrenbang.eventlog.store import AppendResult, EventStore, Metadata, read_stream_prefix
from musrenbang.projections import cycles as cycle_views
from musrenbang.services import city as city_service
from musrenbang.services.freshness import UNDER_LOCK_FRESH, ReadModels, require_fresh
from musrenbang.services.locks import CYCLE_LOCK, INTAKE_LOCK, RKPD_LOCK
from musrenbang.services.rkpd_streams import RKPD
from musrenbang.services.streams import Aggregate, execute, load

CYCLE = Aggregate(cycle.Cycle(), cycle.decide, cycle.evolve)
_zone = ["WIB"]
"""The time zone of the city this process serves (one city per database): set from its settings when
the database is prepared and whenever a server reads them again (`use_timezone`)."""


def use_timezone(zone: str) -> None:
    _zone[0] = zone


def today() -> dt.date:
    """The day it is for the city (in its time zone: WIB, WITA or WIT)."""
    return city_rules.local_date(_zone[0], dt.datetime.now(dt.UTC))


async def load_cycle(store: EventStore, year: int, conn: asyncpg.Connection | None = None) -> cycle.Cycle:
    state, _ = await load(store, CYCLE, cycle.stream_id(year), conn)
    return state


async def all_cycles(store: EventStore) -> list[cycle.Cycle]:
    """Every cycle as the log has it now, oldest year first (a few events each)."""
    states: dict[str, cycle.Cycle] = {}
    for recorded in await read_stream_prefix(store.pool, "cycle-"):
        states[recorded.stream_id] = cycle.evolve(states.get(recorded.stream_id, cycle.Cycle()), recorded.event)
    return sorted((s for s in states.values() if s.exists), key=lambda s: s.year or 0)


async def open_cycle(
    store: EventStore, command: cycle.StartCycle, metadata: Metadata, *, conn: asyncpg.Connection | None = None,
    idempotency_key: str | None = None,
) -> AppendResult:
    """Open the cycle of `command.year` for the city that is set up (its region is the cycle's region);
    every pagu indikatif must name one of its kecamatan, and the year comes after the newest RKPD adopted
    (`domain.cycle.check_after_adopted`). The rules judge the calendar on the city's today unless the
    command states a day."""
    city = await city_service.required(store, conn)
    if command.today is None:
        command = msgspec.structs.replace(command, today=today())
    cycle.check_after_adopted(command.year, await all_cycles(store))
    if command.region != city.region:
        raise DomainError(Message(N_("siklus ini untuk wilayah %(region)s, bukan wilayah platform ini"),
                                  region=command.region))  # fmt: skip
    if command.pagu_kecamatan:
        fetch = conn.fetch if conn is not None else store.pool.fetch
        kecamatan = {r["kode"] for r in await fetch("SELECT kode FROM regions WHERE tingkat = 'kecamatan'")}
        cycle.check_kecamatan(command.pagu_kecamatan, kecamatan)
    if command.dana_kelurahan is not None:  # set only where kelurahan are (domain.cycle._dana_kelurahan)
        has_kelurahan = await city_has_village(conn or store.pool, city.region, "kelurahan")
        command = msgspec.structs.replace(command, has_kelurahan=has_kelurahan)
    result = await execute(store, CYCLE, cycle.stream_id(command.year), command, metadata=metadata,
                           idempotency_key=idempotency_key)  # fmt: skip
    return await _replay_still_holds(store, result, command.year, opened=True)


async def city_has_village(conn: asyncpg.Connection | asyncpg.Pool, region: str, level: str) -> bool:
    """Whether any village of the city (`region`, its code) is of `level` ("kelurahan" or "desa"), by the
    reference data loaded at setup (Kota Bekasi: kelurahan only; Aceh Selatan: desa only; most kabupaten
    both): the village funds go only where their villages are (Dana Kelurahan, Dana Desa)."""
    return bool(await conn.fetchval("SELECT EXISTS (SELECT 1 FROM regions WHERE tingkat = $2"
                                    " AND kode LIKE $1 || '.%')", region, level))  # fmt: skip


async def _replay_still_holds(store: EventStore, result: AppendResult, year: int, *, opened: bool) -> AppendResult:
    """A retried request answers with its first result (services/streams.execute). An opening retried after
    the cycle was withdrawn, or a withdrawal retried after the year was opened again, would answer as if
    that were still so: 409 saying what happened instead (a new request, with a new key, does it again).
    Still so: the year's newest opening or withdrawal is the one this request wrote (not another request's
    re-opening, which would answer with a cycle this one did not open)."""
    if not result.replayed:
        return result
    newest = await store.pool.fetchval(
        "SELECT event_id FROM events WHERE stream_id = $1 AND event_type = ANY($2::text[])"
        " ORDER BY stream_version DESC LIMIT 1",
        cycle.stream_id(year), [event_tag(CycleStarted), event_tag(CycleCancelled)],
    )  # fmt: skip
    if newest in result.event_ids:
        return result
    if opened:
        raise DomainError(Message(N_("permintaan ini sudah membuka siklus RKPD %(year)d, yang kemudian dibatalkan;"
                                     " untuk membukanya lagi kirim permintaan baru (kunci idempotensi lain)"),
                                  year=year))  # fmt: skip
    raise DomainError(Message(N_("permintaan ini sudah membatalkan siklus RKPD %(year)d, yang kemudian dibuka lagi;"
                                 " untuk membatalkannya lagi kirim permintaan baru (kunci idempotensi lain)"),
                              year=year))  # fmt: skip


async def advance_stage(store: EventStore, year: int, metadata: Metadata, idempotency_key: str | None = None,
                        on: dt.date | None = None) -> AppendResult:  # fmt: skip
    """Open the next stage of `year` today, the current one ending at the end of today, each window moved
    recorded as a window change (domain/cycle.py `_advance`; refused for the last stage: adoption is)."""
    command = cycle.AdvanceStage(year=year, today=on or today())
    return await execute(store, CYCLE, cycle.stream_id(year), command, metadata=metadata,
                         idempotency_key=idempotency_key)  # fmt: skip


async def change_window(store: EventStore, command: cycle.ChangeWindow, metadata: Metadata,
                        idempotency_key: str | None = None) -> AppendResult:  # fmt: skip
    """Move a window, judged on the city's today unless the command states a day."""
    if command.today is None:
        command = msgspec.structs.replace(command, today=today())
    return await execute(store, CYCLE, cycle.stream_id(command.year), command, metadata=metadata,
                         idempotency_key=idempotency_key)  # fmt: skip


async def cancel_cycle(store: EventStore, read_models: ReadModels, year: int, reason: str, metadata: Metadata,
                       idempotency_key: str | None = None) -> AppendResult:  # fmt: skip
    """Withdraw a cycle opened by mistake while nothing was made in its year (domain/cycle.py): no proposal
    or pokir, no forum (one may be scheduled before its stage opens), nothing at the city level. Checked
    holding the year's cycle lock exclusively (services/locks.py), which everything that makes something
    in a year holds shared from its own check that the cycle is there (`hold_year`) to its commit, and the
    city level's lock: what committed before is seen (the read models are caught up once the locks are
    held), and what comes after finds the cycle gone."""
    command = cycle.CancelCycle(year=year, reason=reason)

    async def nothing_made(conn: asyncpg.Connection, state: cycle.Cycle) -> None:
        cycle.decide(state, command)  # its own refusals (no such cycle, adopted, no reason) before any wait
        await conn.execute("SELECT pg_advisory_xact_lock($1, $2)", CYCLE_LOCK, year)
        await conn.execute("SELECT pg_advisory_xact_lock($1, $2)", RKPD_LOCK, year)
        await require_fresh(read_models, ["proposals", "forums"], timeout=UNDER_LOCK_FRESH)
        made = await cycle_views.made_in(conn, year)
        city = await conn.fetchval("SELECT count(*) FROM events WHERE stream_id = $1", rkpd.stream_id(year))
        if made or city:
            raise DomainError(Message(
                N_("siklus RKPD %(year)d tidak dapat dibatalkan: sudah ada %(proposals)d usulan, %(forums)d"
                   " musyawarah dan %(city)d catatan tingkat kota di dalamnya"),
                year=year, proposals=made.get("proposals", 0), forums=made.get("forums", 0), city=city,
            ))  # fmt: skip

    await require_fresh(read_models, ["proposals", "forums"])  # the long wait, if any, before the locks
    result = await execute(store, CYCLE, cycle.stream_id(year), command, metadata=metadata,
                           idempotency_key=idempotency_key, guard=nothing_made)  # fmt: skip
    return await _replay_still_holds(store, result, year, opened=False)


async def hold_year(conn: asyncpg.Connection, store: EventStore, year: int,
                    judge: Callable[[cycle.Cycle], object] | None = None, *,
                    intake: bool = False) -> cycle.Cycle:  # fmt: skip
    """Hold `year`'s cycle lock shared to the end of `conn`'s transaction (services/locks.py), then read the
    cycle again and refuse if it is not there any more (a withdrawal committed since the caller read it),
    or if `judge` (the caller's own check of the cycle: a window open, a day inside it) refuses the cycle
    as it is now: withdrawn and opened again with another calendar, or a window moved, since the caller
    judged it. What makes something in a year calls it in the transaction that writes it; the cycle is read
    after the lock is granted (a statement of its own: one statement's snapshot is taken before any lock
    it waits for), a few events. Returns it, for a caller judging more than the cycle. `intake`: the year's
    city intake lock is held shared too, after the cycle's (`hold_submissions`)."""
    await conn.execute("SELECT pg_advisory_xact_lock_shared($1, $2)", CYCLE_LOCK, year)
    if intake:
        await conn.execute("SELECT pg_advisory_xact_lock_shared($1, $2)", INTAKE_LOCK, year)
    state = await load_cycle(store, year, conn)
    if not state.exists:
        raise NotFound(Message(N_("siklus RKPD %(year)d belum dibuka"), year=year))
    if judge is not None:
        judge(state)
    return state


async def hold_submissions(conn: asyncpg.Connection, store: EventStore, year: int,
                           on: dt.date | None = None) -> cycle.Cycle:  # fmt: skip
    """`hold_year` for a proposal of `year`, and the year's city intake lock shared too (services/locks.py,
    after the cycle's, the order every caller takes them in): the Forum Perangkat Daerah's close and the
    adoption hold it exclusively, so neither commits between this check and the proposal's commit. Then the
    year judged as `open_for` judges it, on the cycle and the city level read after both locks."""
    state = await hold_year(conn, store, year, intake=True)
    return check_open(state, year, cycle.SUBMISSIONS, on, forum_pd_closed=await forum_pd_closed(store, year, conn))


async def forum_pd_closed(store: EventStore, year: int, conn: asyncpg.Connection | None = None) -> bool:
    """Whether the Forum Perangkat Daerah of `year` has closed, as the year's city-level stream says now (kept
    by each process and read on from where it was, services/streams.py)."""
    state, _ = await load(store, RKPD, rkpd.stream_id(year), conn)
    return city_forums.FORUM_PD in state.forums_closed


async def open_for(store: EventStore, year: int, stage: str, on: dt.date | None = None,
                   conn: asyncpg.Connection | None = None) -> cycle.Cycle:  # fmt: skip
    """The cycle of `year`, if `stage` is open on `on` (today); otherwise a message saying why not, with
    the day it opens when that is still to come. For the proposals the Forum Perangkat Daerah is read too."""
    closed = stage == cycle.SUBMISSIONS and await forum_pd_closed(store, year, conn)
    return check_open(await load_cycle(store, year, conn), year, stage, on, forum_pd_closed=closed)


def check_open(state: cycle.Cycle, year: int, stage: str, on: dt.date | None = None, *,
               forum_pd_closed: bool = False) -> cycle.Cycle:  # fmt: skip
    """`state` (the cycle of `year` as just read from the log) if `stage` is open on `on` (today); else
    why not. Apart from `open_for` so that a command that already holds the state does not read it again.
    For the proposals, also why a year whose window is open takes none (`cycle.check_takes_proposals`):
    `forum_pd_closed` as the caller read it, False when it did not (its commit checks it under the lock)."""
    day = on or today()
    if not state.exists:
        raise NotFound(Message(N_("siklus RKPD %(year)d belum dibuka"), year=year))
    if state.adopted:
        raise DomainError(Message(N_("RKPD %(year)d sudah ditetapkan: tidak ada lagi yang dapat ditambahkan"
                                     " ke siklus ini"), year=year))  # fmt: skip
    if stage == cycle.SUBMISSIONS:
        cycle.check_takes_proposals(state, day, forum_pd_closed=forum_pd_closed)
    if not state.is_open(stage, day):
        label = Term(cycle.WINDOW_LABELS[stage])
        opening = state.next_opening(stage, day)
        if opening is not None:
            raise DomainError(Message(N_("tahap %(stage)s RKPD %(year)d belum dibuka: dibuka %(day)s"),
                                      stage=label, year=year, day=values.long_date(opening)))  # fmt: skip
        raise DomainError(Message(N_("tahap %(stage)s RKPD %(year)d sudah ditutup"), stage=label, year=year))
    return state


async def taking_proposals(store: EventStore, on: dt.date | None = None) -> cycle.Cycle:
    """The cycle a new proposal goes to when none is named: the newest that takes proposals
    (`Cycle.takes_proposals`: its window open, its kelurahan stage not over, its Forum Perangkat Daerah not
    closed), as the log says now. Refused when none is, saying when the next one opens."""
    states = await all_cycles(store)
    if not states:
        raise DomainError(N_("belum ada siklus perencanaan yang dibuka"))
    day = on or today()
    cut_short: DomainError | None = None
    for state in reversed(states):
        if state.year is None or state.adopted:
            continue
        closed = state.is_open(cycle.SUBMISSIONS, day) and await forum_pd_closed(store, state.year)
        if state.takes_proposals(day, forum_pd_closed=closed):
            return state
        try:
            cycle.check_takes_proposals(state, day, forum_pd_closed=closed)
        except DomainError as exc:  # its window open, cut short: said when no year opens later
            cut_short = cut_short or exc
    upcoming = sorted((opening, state.year or 0) for state in states
                      if (opening := state.next_opening(cycle.SUBMISSIONS, day)) is not None)  # fmt: skip
    if upcoming:
        opening, year = upcoming[0]
        raise DomainError(Message(N_("pengajuan usulan sedang tutup; untuk RKPD %(year)d dibuka %(day)s"),
                                  year=year, day=values.long_date(opening)))  # fmt: skip
    raise cut_short or DomainError(N_("pengajuan usulan sedang tutup"))


async def planned_year(store: EventStore) -> int:
    """The cycle being planned, as the log says now (what a form offers when the user names no year):
    the first of `domain.cycle.planned_first` that is not adopted."""
    states = [s for s in await all_cycles(store) if not s.adopted]
    opens = {s.year: (s.calendar[cycle.SUBMISSIONS].opens if cycle.SUBMISSIONS in s.calendar else None)
             for s in states}  # fmt: skip
    ordered = cycle.planned_first([(y, False, o) for y, o in opens.items() if y is not None], today())
    if not ordered:
        raise DomainError(N_("belum ada siklus perencanaan yang sedang berjalan"))
    return ordered[0]


async def open_planned(
    store: EventStore, *, year: int, theme: str, programs: Sequence[tuple[str, str]], metadata: Metadata,
    calendar: tuple[StageWindow, ...] = (), pagu_kecamatan: tuple[KecamatanCeiling, ...] = (),
    kickoff_on: dt.date | None = None, idempotency_key: str | None = None, dana_kelurahan: int | None = None,
) -> AppendResult:
    """Open the cycle of `year` for the city set up, as Bappeda gives it (API, staff page, CLI): programs
    as (title, sasaran) pairs, and the common chain's calendar when none is given."""
    city = await city_service.required(store)
    targets = tuple(target for _, target in programs)
    command = cycle.StartCycle(
        year=year, region=city.region, theme=theme, priority_programs=tuple(title for title, _ in programs),
        priority_targets=targets if any(targets) else (), kickoff_on=kickoff_on,
        calendar=calendar or cycle.default_calendar_for(year), pagu_kecamatan=pagu_kecamatan,
        dana_kelurahan=dana_kelurahan,
    )  # fmt: skip
    return await open_cycle(store, command, metadata, idempotency_key=idempotency_key)


async def record_earlier_adoptions(store: EventStore, metadata: Metadata) -> list[int]:
    """Close, through the log, every cycle whose RKPD was adopted before adoption closed cycles by itself
    (before issue 12 it took a separate stage advance, which a city may never have made): such a cycle
    would otherwise stay open for proposals for good. Idempotent (one key per year), run at every start;
    reads only the cycles' streams and, for a cycle still open, its year's adoption by stream."""
    closed = []
    for state in await all_cycles(store):
        if state.adopted or state.year is None:
            continue
        adopted_at = await store.pool.fetchval(
            "SELECT min(recorded_at) FROM events WHERE stream_id = $1 AND event_type = 'rkpd.adopted'",
            rkpd.stream_id(state.year),
        )
        if adopted_at is not None:
            command = cycle.RecordAdoption(year=state.year, today=city_rules.local_date(_zone[0], adopted_at))
            await execute(store, CYCLE, cycle.stream_id(state.year), command, metadata=metadata,
                          idempotency_key=f"upgrade:cycle-adopted:{state.year}")  # fmt: skip
            closed.append(state.year)
    return closed
