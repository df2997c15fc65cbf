"""Running forums on the event log: schedule, delegates, open, ballots and scores, adjust, close.

The one tricky spot is the close. Ballots live on their own streams (one per delegate) so that many
can be appended at once; what keeps a ballot from landing after the close is a per-forum lock held to
the end of each transaction. A ballot takes it shared and then checks that the forum stream's head is
still the one it decided against; the close takes it exclusively, so it waits for ballots in flight to
commit, and every ballot arriving later waits for the close, then sees the newer head and is refused.
The close reads the ballots only once it holds the lock, so the result counts exactly the ballots that
committed before it.

Why an advisory lock and not a row lock on the head event: new FOR SHARE row locks are granted past a
waiting FOR UPDATE, so a steady flow of ballots could keep a close waiting indefinitely (seen in the
racing test). PostgreSQL queues advisory lock requests fairly: once the close waits, later ballots
wait behind it.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import secrets
from collections.abc import Awaitable, Callable, Mapping, Sequence

import asyncpg
import msgspec

from musrenbang.domain import city_forums, values
from musrenbang.domain import cycle as cycle_rules
from musrenbang.domain import forum as rules
from musrenbang.domain import proposal as proposal_rules
from musrenbang.domain import rkpd as rkpd_rules
from musrenbang.domain.errors import N_, DomainError, Message, NotFound, ValidationFailed
from musrenbang.domain.events import (
    AgendaItem,
    BallotCast,
    Event,
    ForumCancelled,
    ForumClosed,
    ForumOpened,
    ForumResult,
    ForumScheduled,
    ProposalDecidedAtForum,
    RkpdAdopted,
    RkpdForumClosed,
    ScoresGiven,
    event_tag,
)
from musrenbang.eventlog.store import (
    NEW_STREAM,
    Append,
    AppendResult,
    ConcurrencyError,
    EventStore,
    Metadata,
    StreamHead,
    like_prefix,
    read_stream_on,
    read_stream_prefix,
)
from musrenbang.services import cycles
from musrenbang.services.freshness import UNDER_LOCK_FRESH, ReadModels, require_fresh
from musrenbang.services.locks import INTAKE_LOCK
from musrenbang.services.streams import Aggregate, load, thawed

FORUM = Aggregate(rules.Forum(), rules.decide, rules.evolve, cached=250_000)
_STANDINGS_KEPT = 64
"""Open forums whose provisional count a process keeps (`ForumService.standing`)."""
"""Forums' states are kept between commands (services/streams.py): a ballot checks the forum as it stands
without folding its delegates again, so it costs the same with 60,000 delegates as with 100. 250,000
events are some 60 MB of delegates per server process at most."""
DELEGATE_BATCH = 5000
_FORUM_LOCK = 0x666F  # advisory lock space for forums: (class, hashtext(forum id))

InTransaction = Callable[[asyncpg.Connection, Sequence[StreamHead]], Awaitable[list[Event]]]
"""The part of a decision that reads the streams it appends to: on the appending transaction's connection,
against their heads read there (a score sheet's changed rows, merged into the sheet as stored)."""
Decide = Callable[[rules.Forum], "list[Event] | InTransaction"]
"""How a command held open decides from the forum as loaded: its events (one per stream), decided before any
statement (a delegate id the rules refuse never reaches the database as a stream name), or what to finish
inside the transaction (a score sheet amended: its stream names only the forum's own sheet)."""


_PLACE_LOCK = 0x706C  # advisory lock space for a Musrenbang's place and year: (class, hashtext("level region year"))


_ON_ANOTHER_AGENDA = (
    "SELECT 1 FROM forum_agenda a JOIN forums f USING (forum_id) WHERE f.level = $4 AND f.forum_id <> $5"
    " AND f.origin = 'musrenbang' AND f.status IN ('open', 'closed')"
)
"""A proposal already on the agenda of another opened forum of level $4 (the forum opening: $5). A cancelled
forum's status is `cancelled`: its agenda is free again."""


def new_forum_id() -> str:
    return values.code_from_bytes(secrets.token_bytes(8))


async def lock_forum_place(conn: asyncpg.Connection, level: str, region: str, year: int) -> None:
    """Serialise, to the end of `conn`'s transaction, what decides which proposals a place's Musrenbang of a
    year takes up: opening one (its agenda is read from the read models, then frozen) and merging proposals
    of that kelurahan or desa (which would change that agenda). Without it a merge committed while a forum
    opened left both the duplicate and its target on the agenda, counted twice against the ceiling."""
    await conn.execute("SELECT pg_advisory_xact_lock($1, hashtext($2))", _PLACE_LOCK, f"{level} {region} {year}")




async def fresh_under_lock(read_models: ReadModels | None, names: Sequence[str]) -> None:
    """`require_fresh` of `names` for a decision that holds `lock_forum_place`: briefly (UNDER_LOCK_FRESH),
    as it holds a connection and makes others of its place wait meanwhile."""
    if read_models is None:
        raise RuntimeError("without read models, what they hold cannot be known")
    await require_fresh(read_models, names, timeout=UNDER_LOCK_FRESH)


async def on_an_agenda(conn: asyncpg.Connection, codes: Sequence[str]) -> asyncpg.Record | None:
    """The first of the proposals `codes` on the agenda of a Musrenbang already opened (or closed), with that
    forum, read on `conn` under `lock_forum_place` once the forums read model is fresh. One that was cancelled
    holds no agenda any more."""
    return await conn.fetchrow(
        "SELECT a.proposal, f.forum_id, f.title FROM forum_agenda a JOIN forums f USING (forum_id)"
        " WHERE a.proposal = ANY($1::text[]) AND f.origin = 'musrenbang' AND f.status IN ('open', 'closed')"
        " ORDER BY a.proposal, f.forum_id LIMIT 1",
        list(codes),
    )  # fmt: skip


class ForumService:
    def __init__(self, pool: asyncpg.Pool, store: EventStore, read_models: ReadModels | None) -> None:
        """`read_models` None: this service is always given the agendas it opens with (the Pabulib
        import), and refuses to read one from the read models."""
        self._pool, self._store, self._read_models = pool, store, read_models
        self._standings: dict[str, tuple[int | None, ForumResult]] = {}

    @property
    def pool(self) -> asyncpg.Pool:
        return self._pool

    async def load(self, forum_id: str) -> tuple[rules.Forum, StreamHead]:
        forum, head = await load(self._store, FORUM, rules.stream_id(forum_id))
        if not forum.exists:
            raise NotFound(N_("musyawarah tidak ditemukan"))
        return forum, head

    async def has_recorded(self, forum_id: str, event: type[Event]) -> bool:
        """Whether the forum's stream holds an `event`, read from the log as committed now. A double tap's
        twin asks it when its own try lost to the first: the state it loads (kept per process, read up to the
        safe order's horizon) may not show that commit yet."""
        return bool(await self._pool.fetchval(
            "SELECT EXISTS (SELECT 1 FROM events WHERE stream_id = $1 AND event_type = $2)",
            rules.stream_id(forum_id), event_tag(event),
        ))  # fmt: skip

    async def schedule(self, command: rules.ScheduleForum, metadata: Metadata, on: dt.date | None = None
                       ) -> AppendResult:  # fmt: skip
        """Schedule a forum; one of the Musrenbang (not an imported election) is dated inside its level's
        window of the year's calendar, on `on` (today) at the latest while that window is open."""
        events = rules.decide(rules.Forum(), command)
        if command.origin == "musrenbang":
            kind = await self._pool.fetchval("SELECT tingkat FROM regions WHERE kode = $1", command.region)
            rules.check_region_kind(command.level, kind)
        dated = command.origin == "musrenbang" and command.held_on is not None  # an import has no cycle of ours
        day = on or cycles.today()

        def judge(state: cycle_rules.Cycle) -> None:
            assert command.held_on is not None
            cycle_rules.check_forum_day(state, command.level, command.held_on, day)

        if dated:
            state = await cycles.load_cycle(self._store, command.year)
            if not state.exists:
                raise NotFound(Message(N_("siklus RKPD %(year)d belum dibuka"), year=command.year))
            judge(state)  # refused here without waiting for any lock
        async with self._store.transaction() as conn:
            if dated:
                await cycles.hold_year(conn, self._store, command.year, judge)  # judged again, held to the commit
            if isinstance(scheduled := events[0], ForumScheduled) and scheduled.origin == "musrenbang":
                await _its_results_still_go_on(conn, scheduled, starting=True)  # one that could never close
            return await self._store.append(Append(rules.stream_id(command.forum_id), NEW_STREAM, events),
                                            metadata=metadata, conn=conn)  # fmt: skip

    async def register_delegates(
        self, forum_id: str, delegates: Sequence[rules.RegisterDelegate], metadata: Metadata
    ) -> AppendResult:
        """Register many delegates, in commands of up to DELEGATE_BATCH events."""
        if not delegates:
            raise ValidationFailed({"delegates": N_("tambahkan paling sedikit satu peserta")})
        forum, head = await self.load(forum_id)
        forum = thawed(forum)  # evolved below with each delegate: a copy, not the shared cached state
        result: AppendResult | None = None
        for start in range(0, len(delegates), DELEGATE_BATCH):
            events: list[Event] = []
            for command in delegates[start : start + DELEGATE_BATCH]:
                new = rules.decide(forum, command)
                forum = rules.evolve(forum, new[0])
                events.extend(new)
            result = await self._store.append(Append(rules.stream_id(forum_id), head, events), metadata=metadata)
            head = result.heads[rules.stream_id(forum_id)]
        assert result is not None  # at least one batch: delegates is not empty
        return result

    async def correct_delegate(self, forum_id: str, command: rules.CorrectDelegate, metadata: Metadata
                               ) -> AppendResult:  # fmt: skip
        """Correct a delegate's name, whom they represent, gender (and role), with the reason, while the forum is
        not closed. Appended against the forum's head: a ballot in flight decides again against the new head."""
        forum, head = await self.load(forum_id)
        events = rules.decide(forum, command)
        return await self._store.append(Append(rules.stream_id(forum_id), head, events), metadata=metadata)

    async def withdraw_delegate(self, forum_id: str, command: rules.WithdrawDelegate, metadata: Metadata
                                ) -> AppendResult:  # fmt: skip
        """Take off a delegate registered by mistake, with the reason, unless their ballot or score sheet is in
        the log. Whether it is, is read under the forum's lock taken exclusively, as the close takes it: a
        ballot in flight commits first and is seen (and the withdrawal refused); one arriving later sees the
        forum's new head and decides again, finding the delegate gone."""
        forum, head = await self.load(forum_id)
        rules.decide(forum, msgspec.structs.replace(command, cast=False))  # refused before any lock
        delegate = command.delegate_id
        async with self._store.transaction() as conn:
            await conn.execute("SELECT pg_advisory_xact_lock($1, hashtext($2))", _FORUM_LOCK, forum_id)
            if await _newest_version(conn, forum_id) != head.version:
                raise ConcurrencyError([rules.stream_id(forum_id)])
            cast = await conn.fetchval(
                "SELECT EXISTS (SELECT 1 FROM events WHERE stream_id = $1 OR stream_id = $2)",
                rules.ballot_stream(forum_id, delegate), rules.scores_stream(forum_id, delegate),
            )  # fmt: skip
            events = rules.decide(forum, msgspec.structs.replace(command, cast=bool(cast)))
            return await self._store.append(Append(rules.stream_id(forum_id), head, events), metadata=metadata,
                                            conn=conn)  # fmt: skip

    async def open(
        self,
        forum_id: str,
        metadata: Metadata,
        agenda: tuple[AgendaItem, ...] | None = None,
        on: dt.date | None = None,
    ) -> AppendResult:
        """Open with `agenda`, or with the forum's own agenda: the verified proposals of its kelurahan,
        or what the forums below forwarded to it; on `on` (the city's today), which is not before the forum's
        day (`rules.check_held_day`: a history replayed, as the demo's, states the day it was held)."""
        forum, head = await self.load(forum_id)
        s = forum.scheduled
        day = on or cycles.today()
        rules.not_cancelled(forum)  # said first: no window or later stage is why it does not open
        if forum.status == rules.SCHEDULED:  # its day before its stage's window: the day is what to wait for
            rules.check_held_day(s, day)
        if s.origin == "musrenbang" and s.level in cycle_rules.LEVEL_STAGE:  # held inside its stage's window
            await cycles.open_for(self._store, s.year, cycle_rules.LEVEL_STAGE[s.level], day)
        if agenda is None:  # the long wait, if any, before a connection is held and the place locked
            await require_fresh(self._needed_read_models(), AGENDA_MODELS)
        async with self._store.transaction() as conn:
            if s.origin == "musrenbang":
                await lock_forum_place(conn, s.level, s.region, s.year)
                await _its_results_still_go_on(conn, s, starting=True)  # a forum that could never close
            if agenda is None:
                await fresh_under_lock(self._read_models, AGENDA_MODELS)
                agenda = await _agenda_for(conn, forum_id, s)
            events = rules.decide(forum, rules.OpenForum(agenda=agenda, on=day))
            return await self._store.append(Append(rules.stream_id(forum_id), head, events), metadata=metadata,
                                            conn=conn)  # fmt: skip

    async def agenda_preview(self, forum: rules.Forum) -> tuple[AgendaItem, ...]:
        """What a scheduled forum would open with if it opened now, for its facilitator to print and prepare
        with: read from the read models as they stand (no wait, no lock: nothing is decided on it; opening
        reads it again, fresh and under the place's lock, and freezes that)."""
        s = forum.scheduled
        if forum.status != rules.SCHEDULED or s.origin != "musrenbang":
            return ()
        async with self._store.pool.acquire() as conn:
            return await _agenda_for(conn, s.forum_id, s)

    def _needed_read_models(self) -> ReadModels:
        if self._read_models is None:
            raise RuntimeError("this ForumService was made without read models: give the agenda")
        return self._read_models

    async def mandate(self, forum_id: str, command: rules.MandateDelegates, metadata: Metadata) -> AppendResult:
        forum, head = await self.load(forum_id)
        events = rules.decide(forum, command)
        return await self._store.append(Append(rules.stream_id(forum_id), head, events), metadata=metadata)

    async def adjust(self, forum_id: str, command: rules.AdjustItem, metadata: Metadata) -> AppendResult:
        forum, head = await self.load(forum_id)
        events = rules.decide(forum, command)
        return await self._store.append(Append(rules.stream_id(forum_id), head, events), metadata=metadata)

    async def cast_ballot(
        self, forum_id: str, command: rules.CastBallot, metadata: Metadata, idempotency_key: str | None = None
    ) -> AppendResult:
        return await self.cast_ballots(forum_id, [command], metadata, idempotency_key)

    async def cast_ballots(
        self,
        forum_id: str,
        commands: Sequence[rules.CastBallot],
        metadata: Metadata,
        idempotency_key: str | None = None,
    ) -> AppendResult:
        """Append ballots (at most one per delegate in one call) in one command, while the forum is open."""
        if not commands:
            raise ValidationFailed({"ballot": N_("kirim paling sedikit satu surat suara")})
        if len({c.delegate_id for c in commands}) != len(commands):
            raise DomainError(N_("satu peserta hanya satu surat suara per kiriman"))

        def decide(forum: rules.Forum) -> list[Event]:
            return [rules.decide_ballot(forum, c)[0] for c in commands]

        streams = [rules.ballot_stream(forum_id, c.delegate_id) for c in commands]
        return await self._append_while_open(forum_id, streams, decide, metadata, idempotency_key)

    async def give_scores(
        self, forum_id: str, command: rules.GiveScores, metadata: Metadata, idempotency_key: str | None = None
    ) -> AppendResult:
        streams = [rules.scores_stream(forum_id, command.sheet)]
        return await self._append_while_open(
            forum_id, streams, lambda forum: rules.decide_scores(forum, command), metadata, idempotency_key
        )

    async def amend_scores(
        self, forum_id: str, sheet: str, changes: Mapping[str, Mapping[str, int] | None], metadata: Metadata
    ) -> AppendResult:
        """Change some rows of a score sheet and keep its other rows as saved. The rows are merged into the
        sheet read inside the transaction that appends the new one, against that sheet's head: of two saves
        at once, the second to commit fails on the head, reads the first's sheet and merges again, so
        neither loses the other's rows (merged before the write, one did)."""
        stream = rules.scores_stream(forum_id, sheet)

        def merged(forum: rules.Forum) -> InTransaction:
            async def on(conn: asyncpg.Connection, heads: Sequence[StreamHead]) -> list[Event]:
                [sheet_head] = heads
                saved = await read_stream_on(conn, stream, sheet_head.version) if sheet_head.version else []
                marks = saved[-1].event.marks if saved and isinstance(saved[-1].event, ScoresGiven) else {}
                command = rules.GiveScores(sheet=sheet, marks=rules.amended_sheet(marks, changes))
                return rules.decide_scores(forum, command)

            return on

        return await self._append_while_open(forum_id, [stream], merged, metadata, None)

    async def _append_while_open(
        self,
        forum_id: str,
        streams: Sequence[str],
        decide: Decide,
        metadata: Metadata,
        idempotency_key: str | None,
    ) -> AppendResult:
        """Decide against the forum as it is (what reads the streams themselves, inside the transaction),
        then append one event per stream while holding the forum's head (see the module docstring). If the
        forum or a stream moved on meanwhile (a late delegate registered, the close, a replacement ballot or
        another save of the same sheet racing), load and decide again: a closed forum then refuses."""
        if idempotency_key is not None:
            earlier = await self._store.find_replay(idempotency_key, metadata.fingerprint)
            if earlier is not None:
                return earlier
        for _ in range(20):
            forum, head = await self.load(forum_id)
            decided = decide(forum)
            finish = decided if callable(decided) else _given(decided)
            try:
                return await _hold_open_deciding(self._store, forum_id, head, streams, finish, metadata,
                                                 idempotency_key)  # fmt: skip
            except ConcurrencyError:
                continue  # the forum, or one of the streams, moved on: decide again
        raise ConcurrencyError(list(streams))

    async def close(self, forum_id: str, metadata: Metadata, on: dt.date | None = None, *,
                    no_mandate_confirmed: bool = False) -> AppendResult:  # fmt: skip
        """Compute and record the result; tell each proposal where it stands. Closed on `on` (the city's
        today), not before the forum's day (`rules.check_held_day`); a kelurahan or kecamatan Musrenbang that
        mandated nobody only when `no_mandate_confirmed` (`rules.check_mandated`)."""
        day = on or cycles.today()
        async with self._store.transaction() as conn:
            forum, head = await load(self._store, FORUM, rules.stream_id(forum_id))
            if not forum.exists:
                raise NotFound(N_("musyawarah tidak ditemukan"))
            rules.not_cancelled(forum)  # said first: no later stage is why it does not close
            if forum.status == rules.OPEN:  # before any lock or later stage (one not open: the rules say so)
                rules.check_held_day(forum.scheduled, day, closing=True)
            await conn.execute("SELECT pg_advisory_xact_lock($1, hashtext($2))", _FORUM_LOCK, forum_id)
            if await _newest_version(conn, forum_id) != head.version:
                raise ConcurrencyError([rules.stream_id(forum_id)])
            await _its_results_still_go_on(conn, forum.scheduled, starting=False)
            ballots, sheets = await self.ballots_and_sheets(forum_id, conn)
            # The count on a worker thread (it can take seconds: `standing`); the forum's lock is held meanwhile.
            command = rules.CloseForum(ballots=tuple(ballots), sheets=tuple(sheets), on=day,
                                       no_mandate_confirmed=no_mandate_confirmed)  # fmt: skip
            closed = await asyncio.to_thread(rules.decide_close, forum, command)
            appends = [Append(rules.stream_id(forum_id), head, [closed])]
            appends.extend(await self._decisions_on_proposals(conn, forum, closed))
            return await self._store.append(appends, metadata=metadata, conn=conn)

    async def cancel(self, forum_id: str, command: rules.CancelForum, metadata: Metadata,
                     idempotency_key: str | None = None) -> AppendResult:  # fmt: skip
        """Call off a forum that is scheduled or open, at any time (after the RKPD was adopted too: what never
        took place is tidied up; nothing is forwarded, so where its results would go is not asked).

        Locks as the close takes them, forum first: the forum's lock exclusively, so ballots in flight commit
        before it and later ones see the new head and are refused; then its place's (`lock_forum_place`),
        which a forum of that place opening holds while it reads which proposals other forums hold on their
        agendas, and which a kelurahan forum of a kecamatan holds shared while it asks whether a Musrenbang
        Kecamatan is still to open: neither decides on this forum as it was."""
        if idempotency_key is not None:
            earlier = await self._store.find_replay(idempotency_key, metadata.fingerprint)
            if earlier is not None:
                return earlier
        forum, head = await self.load(forum_id)
        events = rules.decide(forum, command)  # refused (no reason, closed, cancelled) before any lock
        s = forum.scheduled
        async with self._store.transaction() as conn:
            await conn.execute("SELECT pg_advisory_xact_lock($1, hashtext($2))", _FORUM_LOCK, forum_id)
            if s.origin == "musrenbang":
                await lock_forum_place(conn, s.level, s.region, s.year)
            if await _newest_version(conn, forum_id) != head.version:
                raise ConcurrencyError([rules.stream_id(forum_id)])
            return await self._store.append(Append(rules.stream_id(forum_id), head, events), metadata=metadata,
                                            idempotency_key=idempotency_key, conn=conn)  # fmt: skip

    async def _decisions_on_proposals(
        self, conn: asyncpg.Connection, forum: rules.Forum, closed: ForumClosed
    ) -> list[Append]:
        codes = {a.item_id: a.proposal for a in forum.agenda if a.proposal}
        if not codes:
            return []
        streams = [proposal_rules.stream_id(c) for c in codes.values()]
        heads = dict(zip(streams, await _heads(conn, streams), strict=True))
        out = []
        for ranked in closed.result.ranking:
            code = codes.get(ranked.item_id)
            if code is None or heads[proposal_rules.stream_id(code)].version == 0:
                continue
            event = ProposalDecidedAtForum(
                code=code,
                forum_id=closed.forum_id,
                level=forum.scheduled.level,
                rank=ranked.rank,
                selected=ranked.selected,
                reason=ranked.reason,
            )
            stream = proposal_rules.stream_id(code)
            out.append(Append(stream, heads[stream], [event]))
        return out

    async def ballots_and_sheets(
        self, forum_id: str, conn: asyncpg.Connection | None = None
    ) -> tuple[list[BallotCast], list[ScoresGiven]]:
        """Every ballot and score sheet of the forum, in the order they were cast."""
        events = await read_stream_prefix(self._pool, f"forum-{forum_id}-", conn)
        ballots = [e.event for e in events if isinstance(e.event, BallotCast)]
        sheets = [e.event for e in events if isinstance(e.event, ScoresGiven)]
        return ballots, sheets

    async def standing(self, forum: rules.Forum) -> ForumResult | None:
        """The closed result, or the provisional one from the ballots and scores so far (None before the
        forum opens).

        A count can take seconds (Equal Shares with many voters, or add1 completion with few voters and a
        large ceiling): it runs on a worker thread, not on the event loop every other request waits on, and
        is kept per forum until its streams change, so that every screen and page showing the same forum
        shares one count. Keyed by the forum's newest position read before the forum and its ballots are:
        what is counted is at least as new as its key."""
        if forum.result is not None:
            return forum.result
        if forum.status != rules.OPEN:
            return None
        forum_id = forum.scheduled.forum_id
        newest = await self.newest_position(forum_id)
        kept = self._standings.get(forum_id)
        if kept is not None and kept[0] == newest:
            return kept[1]
        forum, _ = await self.load(forum_id)
        if forum.result is not None or forum.status != rules.OPEN:  # closed meanwhile
            return forum.result
        ballots, sheets = await self.ballots_and_sheets(forum_id)
        result = await asyncio.to_thread(rules.compute_result, forum, ballots, sheets)
        if len(self._standings) >= _STANDINGS_KEPT:
            self._standings.pop(next(iter(self._standings)))  # the longest kept: forums open at once are few
        self._standings[forum_id] = (newest, result)
        return result

    async def newest_position(self, forum_id: str) -> int | None:
        """The newest position among the forum's streams (its own, its ballots' and sheets'): whether a
        screen showing it has something new to show."""
        return await self._pool.fetchval(
            "SELECT max(global_position) FROM events WHERE stream_id = $1 OR stream_id LIKE $2",
            rules.stream_id(forum_id), like_prefix(f"forum-{forum_id}-"),
        )  # fmt: skip

    async def recompute(self, forum_id: str) -> tuple[rules.Forum, msgspec.Struct]:
        """The result recomputed from the forum's events alone, beside the stored one."""
        forum, _ = await self.load(forum_id)
        events = await self._store.read_stream(rules.stream_id(forum_id))
        before_close = rules.Forum()
        for e in events:
            if isinstance(e.event, ForumClosed):
                break
            before_close = rules.evolve(before_close, e.event)
        ballots, sheets = await self.ballots_and_sheets(forum_id)
        return forum, rules.compute_result(before_close, ballots, sheets)


async def hold_open_append(
    store: EventStore,
    forum_id: str,
    forum_head: StreamHead,
    streams: Sequence[str],
    events: Sequence[Event],
    metadata: Metadata,
    idempotency_key: str | None = None,
) -> AppendResult:
    """Append one event to each stream while the forum's head is still `forum_head` (module docstring)."""
    return await _hold_open_deciding(store, forum_id, forum_head, streams, _given(events), metadata,
                                     idempotency_key)  # fmt: skip


def _given(events: Sequence[Event]) -> InTransaction:
    """Events decided before the transaction, as the step that finishes a decision inside it."""

    async def given(conn: asyncpg.Connection, heads: Sequence[StreamHead]) -> list[Event]:
        return list(events)

    return given


async def _hold_open_deciding(
    store: EventStore,
    forum_id: str,
    forum_head: StreamHead,
    streams: Sequence[str],
    decide: InTransaction,
    metadata: Metadata,
    idempotency_key: str | None,
) -> AppendResult:
    """Hold the forum open (`hold_open`), then decide against the streams' heads read under that hold and
    append one event to each against them: what `decide` reads of those streams cannot change before the
    commit without the append failing on a head (ConcurrencyError: the caller decides again)."""
    async with store.transaction() as conn:
        await hold_open(conn, forum_id, forum_head)
        heads = await _heads(conn, streams)
        events = await decide(conn, heads)
        return await store.append(
            [Append(s, h, [e]) for s, h, e in zip(streams, heads, events, strict=True)],
            metadata=metadata, idempotency_key=idempotency_key, conn=conn,
        )  # fmt: skip


async def hold_open(conn: asyncpg.Connection, forum_id: str, head: StreamHead) -> None:
    """Take the forum's lock shared and check its head is unchanged; ConcurrencyError if it moved."""
    await conn.execute("SELECT pg_advisory_xact_lock_shared($1, hashtext($2))", _FORUM_LOCK, forum_id)
    if await _newest_version(conn, forum_id) != head.version:
        raise ConcurrencyError([rules.stream_id(forum_id)])


async def _newest_version(conn: asyncpg.Connection, forum_id: str) -> int:
    return await conn.fetchval(
        "SELECT coalesce(max(stream_version), 0) FROM events WHERE stream_id = $1", rules.stream_id(forum_id)
    )


async def _heads(conn: asyncpg.Connection, streams: Sequence[str]) -> list[StreamHead]:
    rows = await conn.fetch(
        "SELECT DISTINCT ON (stream_id) stream_id, stream_version, hash FROM events"
        " WHERE stream_id = ANY($1::text[]) ORDER BY stream_id, stream_version DESC",
        list(streams),
    )
    found = {r["stream_id"]: StreamHead(r["stream_version"], r["hash"]) for r in rows}
    return [found.get(s, NEW_STREAM) for s in streams]


AGENDA_MODELS = ("proposals", "forums")
"""What a forum's own agenda is read from."""


async def _agenda_for(conn: asyncpg.Connection, forum_id: str, s: ForumScheduled) -> tuple[AgendaItem, ...]:
    """The agenda a forum opens with, read on `conn` from the read models (fresh: see `open`), then frozen:
    the verified proposals of its kelurahan, or what the forums below forwarded to it. A proposal already on
    the agenda of another forum of this level (opened, or closed) is left out: a second forum scheduled for
    the same place and year must not decide it again, with another result. (The caller holds
    `lock_forum_place`: no forum of this place opens meanwhile.)"""
    if s.level == "kelurahan":
        rows = await conn.fetch(
            "SELECT code, title, coalesce(agreed_cost, estimated_cost) AS cost,"
            " coalesce(agreed_volume, volume)::text AS volume, unit, kelurahan FROM proposals p"
            " WHERE kelurahan = $1 AND year = $2 AND status = ANY($3::text[])"
            f" AND NOT EXISTS ({_ON_ANOTHER_AGENDA} AND a.proposal = p.code) ORDER BY code",
            s.region, s.year, [proposal_rules.DITERIMA, proposal_rules.DITERIMA_DENGAN_PERUBAHAN], s.level,
            forum_id,
        )  # fmt: skip
    else:
        rows = await conn.fetch(
            "SELECT proposal AS code, title, cost, volume, unit, kelurahan FROM forum_forwarded w"
            " WHERE to_region = $1 AND year = $2 AND to_level = $3"
            f" AND NOT EXISTS ({_ON_ANOTHER_AGENDA} AND a.proposal = w.proposal) ORDER BY proposal",
            s.region, s.year, s.level, s.level, forum_id,
        )  # fmt: skip
    return tuple(
        AgendaItem(item_id=r["code"], proposal=r["code"], title=r["title"], cost=r["cost"], volume=r["volume"],
                   unit=r["unit"], kelurahan=r["kelurahan"])  # fmt: skip
        for r in rows
    )


async def _its_results_still_go_on(conn: asyncpg.Connection, s: ForumScheduled, *, starting: bool) -> None:
    """Whether what a Musrenbang of `s` would forward can still be taken up where it goes, checked when it is
    scheduled and opened (`starting`) and when it closes: a kelurahan or desa's goes to its kecamatan's
    Musrenbang (`_kecamatan_still_takes_it`), a kecamatan's to the city level (`_city_level_still_takes_it`),
    and the city level is where both end. A forum that could never close, or whose close would leave its
    proposals "forwarded" for good, is refused before it starts.

    Locks are taken in one order by every caller: the kecamatan's place (`lock_forum_place`: shared by its
    kelurahan forums, exclusive by its own Musrenbang's opening and close), then the city intake's."""
    if s.origin != "musrenbang" or s.level not in ("kelurahan", "kecamatan"):
        return
    if s.level == "kelurahan":
        await _kecamatan_still_takes_it(conn, s)
    elif not starting:  # the kecamatan's close: no kelurahan forum of it closes meanwhile, unseen
        await lock_forum_place(conn, s.level, s.region, s.year)
    await _city_level_still_takes_it(conn, s, starting=starting)


async def _kecamatan_still_takes_it(conn: asyncpg.Connection, s: ForumScheduled) -> None:
    """A kelurahan or desa's Musrenbang forwards what it selected to its kecamatan's Musrenbang of the year,
    which takes it up on its agenda when it opens (then the agenda is fixed). Once that Musrenbang Kecamatan
    has opened (in session, or closed), and no other of the kecamatan and year is still to open, what a
    kelurahan forum closing later forwards is never taken up: stuck "forwarded" for good, with no answer. So
    it is neither scheduled, opened nor closed then (a second Musrenbang Kecamatan scheduled for the late
    ones makes room again). A cancelled one counts as none: it is not still to open, and takes nothing up.

    The kecamatan's forums are found in the forums read model (one that opened is there: its opening waited
    for that read model to reach the log) and whether each opened or closed is read from its own stream
    (the log itself), under the kecamatan's place lock shared: its Musrenbang's opening, close and cancellation
    hold it exclusively, so none commits between this check and the caller's commit."""
    kecamatan = await conn.fetchrow(
        "SELECT k.kode, k.nama FROM regions r JOIN regions k ON k.kode = r.kode_induk WHERE r.kode = $1", s.region
    )
    if kecamatan is None:
        return
    await conn.execute("SELECT pg_advisory_xact_lock_shared($1, hashtext($2))", _PLACE_LOCK,
                       f"kecamatan {kecamatan['kode']} {s.year}")  # fmt: skip
    rows = await conn.fetch(
        "SELECT EXISTS (SELECT 1 FROM events e WHERE e.stream_id = 'forum-' || f.forum_id AND e.event_type = $3)"
        " AS opened, EXISTS (SELECT 1 FROM events e WHERE e.stream_id = 'forum-' || f.forum_id"
        " AND e.event_type = $4) AS closed FROM forums f"
        " WHERE f.level = 'kecamatan' AND f.region = $1 AND f.year = $2 AND f.origin = 'musrenbang'"
        " AND NOT EXISTS (SELECT 1 FROM events e WHERE e.stream_id = 'forum-' || f.forum_id AND e.event_type = $5)",
        kecamatan["kode"], s.year, event_tag(ForumOpened), event_tag(ForumClosed), event_tag(ForumCancelled),
    )  # fmt: skip
    if rows and all(r["opened"] for r in rows) and not any(r["closed"] for r in rows):
        raise DomainError(Message(  # in session: its agenda was fixed when it opened
            N_("Musrenbang Kecamatan %(kecamatan)s RKPD %(year)d sudah dibuka dan agendanya sudah tetap: hasil"
               " musyawarah kelurahan/desa di kecamatan itu tidak dapat masuk lagi, jadi musyawarah ini tidak dapat"
               " dijadwalkan, dibuka atau ditutup. Bila usulannya masih perlu dibahas, jadwalkan dulu Musrenbang"
               " Kecamatan susulan."),
            kecamatan=kecamatan["nama"], year=s.year))  # fmt: skip
    if any(r["closed"] for r in rows) and all(r["opened"] for r in rows):
        raise DomainError(Message(
            N_("Musrenbang Kecamatan %(kecamatan)s RKPD %(year)d sudah ditutup: hasil musyawarah kelurahan/desa"
               " di kecamatan itu tidak dapat diteruskan lagi, jadi musyawarah ini tidak dapat dijadwalkan, dibuka"
               " atau ditutup. Bila usulannya masih perlu dibahas, jadwalkan dulu Musrenbang Kecamatan susulan."),
            kecamatan=kecamatan["nama"], year=s.year))  # fmt: skip


async def _city_level_still_takes_it(conn: asyncpg.Connection, s: ForumScheduled, *, starting: bool) -> None:
    """A kecamatan's Musrenbang forwards to the city level, which takes proposals up only until its Forum
    Perangkat Daerah closes or the RKPD is adopted: closed after that, what it selected was stuck
    "forwarded" for good, with no answer in the RKPD, and every later adoption refused. A kelurahan's forwards
    to a kecamatan's, which could then no longer close: neither is scheduled, opened or closed after that
    (`starting`: scheduled or opened). Read from the year's stream (the log itself), under the city intake's
    lock shared (services/locks.py)."""
    await conn.execute("SELECT pg_advisory_xact_lock_shared($1, $2)", INTAKE_LOCK, s.year)
    ended = await conn.fetchval(
        "SELECT event_type FROM events WHERE stream_id = $1 AND (event_type = $2"
        " OR (event_type = $3 AND data->>'forum' = $4)) ORDER BY global_position LIMIT 1",
        rkpd_rules.stream_id(s.year), event_tag(RkpdAdopted), event_tag(RkpdForumClosed), city_forums.FORUM_PD,
    )  # fmt: skip
    if ended is None:
        return
    if starting or s.level != "kecamatan":
        if ended == event_tag(RkpdAdopted):
            raise DomainError(Message(N_("RKPD %(year)d sudah ditetapkan: musyawarah kelurahan/desa dan kecamatan"
                                         " RKPD %(year)d tidak dapat lagi dijadwalkan, dibuka atau ditutup, karena"
                                         " hasilnya tidak dapat diteruskan lagi"), year=s.year))  # fmt: skip
        raise DomainError(Message(N_("Forum Perangkat Daerah RKPD %(year)d sudah ditutup: musyawarah kelurahan/desa"
                                     " dan kecamatan RKPD %(year)d tidak dapat lagi dijadwalkan, dibuka atau"
                                     " ditutup, karena hasilnya tidak dapat diteruskan lagi"),
                                  year=s.year))  # fmt: skip
    if ended == event_tag(RkpdAdopted):
        raise DomainError(Message(N_("RKPD %(year)d sudah ditetapkan: hasil musyawarah kecamatan tidak dapat"
                                     " diteruskan lagi"), year=s.year))  # fmt: skip
    raise DomainError(Message(N_("Forum Perangkat Daerah RKPD %(year)d sudah ditutup: hasil musyawarah"
                                 " kecamatan tidak dapat diteruskan lagi"), year=s.year))  # fmt: skip
