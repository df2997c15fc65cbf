"""Recomputing every published decision from the event log alone: no I/O, no clock, no database.

Feed a `Recomputer` the log's events in global order (an export file read line by line, or the
database's log); it keeps only what later events need and reports, one line each, every place where a
recorded decision differs from the decision its own events give:

- every closed forum: the result is recomputed from the forum's frozen schedule and agenda (with its
  adjustments) and the ballots and score sheets committed before the close (the latest per delegate or
  sheet: everything with a smaller global position, since no ballot can commit after the close — see
  services/forums.py) and compared with the result `forum.closed` published;
- every `forum.delegate_withdrawn` took off a delegate with no ballot or score sheet, and none came after it
  (a withdrawn delegate is not counted); `forum.delegate_corrected` changes who a delegate is on paper (name,
  group, gender), never the count;
- every `proposal.decided_at_forum`: the rank and selection it tells the proposal agree with the
  recomputed result;
- every `rkpd.proposals_received` item was selected by its forum's recomputed result, or is a pokir the
  DPRD secretariat forwarded before (`proposal.pokir_forwarded`), received as it then stood (title,
  kelurahan, bidang, cost);
- every pokir was entered and corrected by its own member (in their daerah pemilihan), checked by the
  DPRD secretariat (or Bappeda) only while it waited, and revised only after it was returned;
- every RKPD line comes from proposals the forums sent up or forwarded pokir, or from the agency's own
  work plan with its reason (Renja): not both, not neither;
- every `rkpd.adopted` list equals the fold of that year's `rkpd.*` line events up to that point, with
  the right revision number and total;
- every `rkpd.forum_closed` (Forum Perangkat Daerah, Musrenbang Kota) froze a Berita Acara equal to that
  state: the lines agreed are the lines then, and the proposals not agreed are those declined, with
  their agency and reason.

The server could run the same code; `musrenbang verify --file` does (musrenbang/audit/).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import NamedTuple

import msgspec

from musrenbang.domain import forum as forums
from musrenbang.domain import rkpd as rkpd_rules
from musrenbang.domain import values
from musrenbang.domain.events import (
    BallotCast,
    CityConfigured,
    CityItem,
    DelegateCorrected,
    DelegateRegistered,
    DelegatesMandated,
    DelegateWithdrawn,
    Event,
    ForumCancelled,
    ForumClosed,
    ForumOpened,
    ForumResult,
    ForumScheduled,
    ItemAdjusted,
    PokirForwarded,
    PokirFrom,
    ProposalContent,
    ProposalDecidedAtForum,
    ProposalReturned,
    ProposalRevised,
    ProposalSubmitted,
    RankedItem,
    RkpdAdopted,
    RkpdEnacted,
    RkpdForumClosed,
    RkpdForumScheduled,
    RkpdLine,
    RkpdLineSet,
    RkpdLineWithdrawn,
    RkpdProposalDeclined,
    RkpdProposalPassed,
    RkpdProposalsReceived,
    ScoresGiven,
)

RELEVANT_PREFIXES = ("forum.", "rkpd.")
RELEVANT_TYPES = frozenset({"proposal.decided_at_forum", "proposal.submitted", "proposal.revised",
                            "proposal.returned", "proposal.pokir_forwarded", "city.configured"})  # fmt: skip
_ForumStreamEvent = (
    ForumScheduled | DelegateRegistered | DelegateCorrected | DelegateWithdrawn | ForumOpened | ItemAdjusted
    | DelegatesMandated | ForumCancelled
)
"""The events on a forum's own stream that only move its state (the close is handled apart; a ballot, score
sheet or close after a cancellation finds it not open, and is reported)."""
_RkpdStreamEvent = (
    RkpdProposalsReceived | RkpdProposalPassed | RkpdProposalDeclined | RkpdLineSet | RkpdLineWithdrawn | RkpdAdopted
    | RkpdEnacted | RkpdForumScheduled | RkpdForumClosed
)


def relevant(event_type: str) -> bool:
    """Whether the recomputation needs this event decoded (the others only go through the chain check)."""
    return event_type.startswith(RELEVANT_PREFIXES) or event_type in RELEVANT_TYPES


class Where(NamedTuple):
    """Where an event sits in the log."""

    position: int
    stream_id: str
    stream_version: int
    hash: bytes = b""
    actor: str = ""
    role: str = ""
    """Who recorded it, as its metadata says (empty: not known here)."""


class ClosedForum(NamedTuple):
    forum_id: str
    level: str
    year: int
    closed_at: Where
    stored: ForumResult
    recomputed: ForumResult | None
    """None when the result could not be recomputed at all (a difference says why)."""
    proposals: dict[str, str]
    """item id -> proposal code, for the agenda items that are residents' proposals."""
    recomputed_by_code: dict[str, RankedItem]
    """proposal code -> its place in the recomputed result (what `proposal.decided_at_forum` must say)."""
    delegates: int = 0
    """Delegates at the close, as corrected and without those withdrawn (the attendance its Berita Acara prints)."""
    women: int = 0
    """Of them, women (gender P)."""


class Adoption(NamedTuple):
    year: int
    revision: int
    at: Where
    lines: tuple[RkpdLine, ...]
    """The list as recomputed from the line events (what the adopted list should be)."""


class _Pokir:
    __slots__ = ("content", "origin", "status")

    def __init__(self, content: ProposalContent, origin: PokirFrom | None, status: str) -> None:
        self.content, self.origin, self.status = content, origin, status


class _OpenForum:
    __slots__ = ("state", "ballots", "sheets")

    def __init__(self) -> None:
        self.state = forums.Forum()
        self.ballots: dict[str, BallotCast] = {}
        self.sheets: dict[str, ScoresGiven] = {}


class Recomputer:
    """Feed events in global order with `feed`; read `differences`, `closed`, `adoptions` at the end."""

    def __init__(self) -> None:
        self.differences: list[str] = []
        self.closed: dict[str, ClosedForum] = {}
        self.adoptions: dict[int, Adoption] = {}
        """The latest adoption of each RKPD year."""
        self.adoption_count = 0
        self._forums: dict[str, _OpenForum] = {}
        self._rkpd: dict[int, rkpd_rules.Rkpd] = {}
        self._pokir: dict[str, _Pokir] = {}
        """Every pokir as last submitted or revised, and where it stands (residents' proposals are not kept)."""
        self.forwarded_pokir: set[str] = set()
        self._dapil: dict[str, tuple[str, ...]] = {}
        """The city's daerah pemilihan and their kecamatan, as its settings last said."""

    def differ(self, message: str) -> None:
        self.differences.append(message)

    @property
    def years(self) -> list[int]:
        return sorted(self._rkpd)

    def feed(self, where: Where, event: Event) -> None:
        try:
            self._feed(where, event)
        except Exception as exc:  # a tampered event can break any assumption; say where, keep going
            self.differ(f"stream {where.stream_id} version {where.stream_version} (global position"
                        f" {where.position}): cannot apply this event: {type(exc).__name__}: {exc}")  # fmt: skip

    def _feed(self, where: Where, event: Event) -> None:
        match event:
            case BallotCast() | ScoresGiven():
                self._ballot_or_sheet(where, event)
            case ForumClosed():
                self._close(where, event)
            case (ForumScheduled() | DelegateRegistered() | DelegateCorrected() | DelegateWithdrawn() | ForumOpened()
                  | ItemAdjusted() | DelegatesMandated() | ForumCancelled()):
                self._forum_event(where, event)
            case ProposalDecidedAtForum():
                self._decided(where, event)
            case ProposalSubmitted() | ProposalRevised() | ProposalReturned() | PokirForwarded():
                self._pokir_event(where, event)
            case CityConfigured():
                self._dapil = {d.name: d.kecamatan for d in event.dapil}
            case RkpdProposalsReceived():
                self._received(where, event)
                self._rkpd_event(where, event)
            case RkpdAdopted():
                self._adopted(where, event)
            case RkpdEnacted():
                self._enacted(where, event)
            case RkpdProposalPassed() | RkpdProposalDeclined() | RkpdLineSet() | RkpdLineWithdrawn():
                self._rkpd_event(where, event)
            case RkpdForumClosed():
                self._forum_closed(where, event)
            case RkpdForumScheduled():
                self._rkpd_event(where, event)

    # --- forums ----------------------------------------------------------------------------------------

    def _forum(self, where: Where, forum_id: str, expected_stream: str) -> _OpenForum | None:
        if where.stream_id != expected_stream:
            self.differ(f"forum {forum_id}: event at global position {where.position} is on stream"
                        f" {where.stream_id}, not on {expected_stream}")  # fmt: skip
        if forum_id in self.closed:
            self.differ(f"forum {forum_id}: stream {where.stream_id} version {where.stream_version} (global position"
                        f" {where.position}) comes after the forum was closed")  # fmt: skip
            return None
        return self._forums.get(forum_id)

    def _forum_event(self, where: Where, event: _ForumStreamEvent) -> None:
        forum_id = event.forum_id
        if isinstance(event, ForumScheduled):
            if forum_id in self._forums or forum_id in self.closed:
                self.differ(f"forum {forum_id}: scheduled twice (global position {where.position})")
                return
            self._forums[forum_id] = _OpenForum()
        f = self._forum(where, forum_id, forums.stream_id(forum_id))
        if f is None:
            if forum_id not in self.closed:
                self.differ(f"forum {forum_id}: event at global position {where.position} before it was scheduled")
            return
        if isinstance(event, DelegateWithdrawn) and (event.delegate_id in f.ballots or event.delegate_id in f.sheets):
            self.differ(f"forum {forum_id}: delegate {event.delegate_id} withdrawn (global position {where.position})"
                        f" after their ballot or score sheet was cast")  # fmt: skip
        f.state = forums.evolve(f.state, event)

    def _ballot_or_sheet(self, where: Where, event: BallotCast | ScoresGiven) -> None:
        if isinstance(event, BallotCast):
            stream = forums.ballot_stream(event.forum_id, event.delegate_id)
        else:
            stream = forums.scores_stream(event.forum_id, event.sheet)
        f = self._forum(where, event.forum_id, stream)
        if f is None:
            if event.forum_id not in self.closed:
                self.differ(f"forum {event.forum_id}: ballot or score sheet on stream {where.stream_id} (global"
                            f" position {where.position}) for a forum that was never scheduled")  # fmt: skip
            return
        if f.state.status != forums.OPEN:
            self.differ(f"forum {event.forum_id}: ballot or score sheet on stream {where.stream_id} (global position"
                        f" {where.position}) while the forum was not open")  # fmt: skip
        who = event.delegate_id if isinstance(event, BallotCast) else event.sheet
        if who in f.state.withdrawn:
            self.differ(f"forum {event.forum_id}: ballot or score sheet on stream {where.stream_id} (global position"
                        f" {where.position}) of a delegate who was withdrawn")  # fmt: skip
        # Only the latest ballot of a delegate (sheet) counts: a later one replaces the earlier.
        if isinstance(event, BallotCast):
            f.ballots[event.delegate_id] = event
        else:
            f.sheets[event.sheet] = event

    def _close(self, where: Where, event: ForumClosed) -> None:
        forum_id = event.forum_id
        f = self._forum(where, forum_id, forums.stream_id(forum_id))
        if f is None:
            if forum_id not in self.closed:
                self.differ(f"forum {forum_id}: closed (global position {where.position}) but never scheduled")
            return
        del self._forums[forum_id]
        before = f.state
        recomputed: ForumResult | None = None
        if before.status != forums.OPEN:
            self.differ(f"forum {forum_id}: closed at global position {where.position} without having been opened")
        else:
            try:
                recomputed = forums.compute_result(before, list(f.ballots.values()), list(f.sheets.values()))
            except Exception as exc:
                self.differ(f"forum {forum_id}: the result cannot be recomputed: {type(exc).__name__}: {exc}")
        s = before.schedule
        proposals = {a.item_id: a.proposal for a in before.agenda if a.proposal}
        closed = ClosedForum(
            forum_id=forum_id,
            level=s.level if s else "",
            year=s.year if s else 0,
            closed_at=where,
            stored=event.result,
            recomputed=recomputed,
            proposals=proposals,
            recomputed_by_code={proposals[r.item_id]: r for r in recomputed.ranking if r.item_id in proposals}
            if recomputed is not None
            else {},
            delegates=len(before.delegates),
            women=sum(1 for d in before.delegates.values() if d.gender == "P"),
        )
        self.closed[forum_id] = closed
        if recomputed is not None:
            for line in result_differences(event.result, recomputed, "in the log", "recomputed"):
                self.differ(f"forum {forum_id} (stream {where.stream_id}, global position {where.position}): {line}")

    def _decided(self, where: Where, event: ProposalDecidedAtForum) -> None:
        closed = self.closed.get(event.forum_id)
        if closed is None:
            self.differ(f"proposal {event.code} (stream {where.stream_id} version {where.stream_version}): decided at"
                        f" forum {event.forum_id}, which was not closed before")  # fmt: skip
            return
        if closed.recomputed is None:
            return
        r = closed.recomputed_by_code.get(event.code)
        if r is None:
            self.differ(f"proposal {event.code} (stream {where.stream_id} version {where.stream_version}): not on"
                        f" the agenda of forum {event.forum_id}")  # fmt: skip
        elif (r.rank, r.selected, r.reason) != (event.rank, event.selected, event.reason):
            self.differ(f"proposal {event.code} (stream {where.stream_id} version {where.stream_version}): forum"
                        f" {event.forum_id} told it rank {event.rank}, {_selected(event.selected)}; recomputed: rank"
                        f" {r.rank}, {_selected(r.selected)}")  # fmt: skip

    # --- city level ------------------------------------------------------------------------------------

    def _rkpd_event(self, where: Where, event: _RkpdStreamEvent) -> None:
        year = event.year
        if where.stream_id != rkpd_rules.stream_id(year):
            self.differ(f"rkpd {year}: event at global position {where.position} is on stream {where.stream_id}")
        state = self._rkpd.get(year, rkpd_rules.Rkpd())
        if isinstance(event, RkpdLineSet):
            if bool(event.line.origins) == bool(event.line.renja_reason.strip()):  # lineage completeness
                self.differ(f"rkpd {year} line {event.line.line_id} (stream {where.stream_id} version"
                            f" {where.stream_version}): a line comes from residents' proposals or, with its"
                            " reason, from the agency's own work plan (Renja): not both, not neither")  # fmt: skip
            for code in event.line.origins:  # a line may only come from proposals the forums sent up
                if code not in state.items:
                    self.differ(f"rkpd {year} line {event.line.line_id} (stream {where.stream_id} version"
                                f" {where.stream_version}): origin {code} was never received from a forum")  # fmt: skip
                elif state.agency_of[code] != event.line.agency or code in state.declined:
                    self.differ(f"rkpd {year} line {event.line.line_id} (stream {where.stream_id} version"
                                f" {where.stream_version}): origin {code} is not"
                                f" {event.line.agency}'s to map")  # fmt: skip
        self._rkpd[year] = rkpd_rules.evolve(state, event)

    def _received(self, where: Where, event: RkpdProposalsReceived) -> None:
        for item in event.items:
            if item.source == "pokir":
                self._received_pokir(where, event.year, item)
                continue
            closed = self.closed.get(item.forum_id)
            if closed is None:
                self.differ(f"rkpd {event.year} (stream {where.stream_id} version {where.stream_version}): received"
                            f" proposal {item.code} from forum {item.forum_id}, not closed before")  # fmt: skip
            elif not getattr(closed.recomputed_by_code.get(item.code), "selected", False):
                self.differ(f"rkpd {event.year} (stream {where.stream_id} version {where.stream_version}): received"
                            f" proposal {item.code}, which forum {item.forum_id} did not select when its result is"
                            " recomputed")  # fmt: skip

    def _pokir_event(self, where: Where, event: ProposalSubmitted | ProposalRevised | ProposalReturned | PokirForwarded
                     ) -> None:  # fmt: skip
        """A pokir's own stream: entered and corrected by its member (in their daerah pemilihan, when the
        settings name them), checked by the secretariat (or Bappeda) while it waits, forwarded once."""
        head = f"pokir {event.code} (stream {where.stream_id} version {where.stream_version})"
        if isinstance(event, ProposalSubmitted):
            if event.source != "pokir":
                return
            self._pokir[event.code] = _Pokir(content=event.content, origin=event.pokir, status="diajukan")
        pokir = self._pokir.get(event.code)
        if pokir is None:
            if isinstance(event, PokirForwarded):
                self.differ(f"{head}: forwarded as a pokir, but it was not submitted as one")
            return  # a resident's proposal
        if isinstance(event, ProposalSubmitted | ProposalRevised):
            if isinstance(event, ProposalRevised):
                if pokir.status != "dikembalikan":
                    self.differ(f"{head}: revised while it was not returned")
                pokir.content, pokir.origin = event.content, event.pokir or pokir.origin
                pokir.status = "diajukan"
            self._pokir_place(head, pokir)
            if where.role and (where.role, where.actor) != ("dprd", pokir.origin.member if pokir.origin else None):
                self.differ(f"{head}: entered by {where.actor or '?'} ({where.role}), not by its member")
            return
        if pokir.status != "diajukan":
            self.differ(f"{head}: checked by the secretariat while it was not waiting for it ({pokir.status})")
        if where.role and where.role not in ("setwan", "admin"):
            self.differ(f"{head}: checked by {where.actor or '?'} ({where.role}), not by the DPRD secretariat")
        pokir.status = "diteruskan" if isinstance(event, PokirForwarded) else "dikembalikan"
        if isinstance(event, PokirForwarded):
            self.forwarded_pokir.add(event.code)

    def _pokir_place(self, head: str, pokir: _Pokir) -> None:
        kecamatan = self._dapil.get(pokir.origin.dapil) if pokir.origin else None
        if kecamatan is not None and values.kecamatan_of(pokir.content.kelurahan) not in kecamatan:
            self.differ(f"{head}: kelurahan {pokir.content.kelurahan} is outside daerah pemilihan"
                        f" {pokir.origin.dapil if pokir.origin else '?'}")  # fmt: skip

    def _received_pokir(self, where: Where, year: int, item: CityItem) -> None:
        head = f"rkpd {year} (stream {where.stream_id} version {where.stream_version}): received pokir {item.code}"
        pokir = self._pokir.get(item.code)
        content = pokir.content if pokir else None
        if item.code not in self.forwarded_pokir or content is None:
            self.differ(f"{head}, which the DPRD secretariat had not forwarded")
        elif (item.title, item.kelurahan, item.bidang, item.cost) != (content.title, content.kelurahan, content.bidang,
                                                                      content.estimated_cost):  # fmt: skip
            self.differ(f"{head}: its title, kelurahan, bidang or cost is not the pokir's as forwarded")

    def _enacted(self, where: Where, event: RkpdEnacted) -> None:
        """The regulation enacts the latest adopted list, and its hash is that list's."""
        state = self._rkpd.get(event.year, rkpd_rules.Rkpd())
        head = (f"rkpd {event.year} enactment {event.regulation!r} (stream {where.stream_id} version"
                f" {where.stream_version})")  # fmt: skip
        if event.revision != state.revision:
            self.differ(f"{head}: enacts revision {event.revision}, the latest adopted is {state.revision}")
        elif event.list_hash != rkpd_rules.list_hash(state.adopted):
            self.differ(f"{head}: list hash {event.list_hash} is not the hash of the adopted list"
                        f" ({rkpd_rules.list_hash(state.adopted)})")  # fmt: skip
        elif event.enacted_on < state.adopted_on.get(event.revision, event.enacted_on):
            self.differ(f"{head}: dated {event.enacted_on}, before the list it enacts was adopted"
                        f" ({state.adopted_on[event.revision]})")  # fmt: skip
        self._rkpd_event(where, event)

    def _forum_closed(self, where: Where, event: RkpdForumClosed) -> None:
        """The Berita Acara a city forum froze is the year's state at its close."""
        state = self._rkpd.get(event.year, rkpd_rules.Rkpd())
        head = f"rkpd {event.year} {event.forum} berita acara (stream {where.stream_id} version {where.stream_version})"
        expected = tuple(state.lines[k] for k in sorted(state.lines))
        for line in line_differences(event.agreed, expected, "in the berita acara", "from the line events"):
            self.differ(f"{head}: {line}")
        if event.total_pagu != sum(x.pagu for x in event.agreed):
            self.differ(f"{head}: total pagu {event.total_pagu} is not the sum of the agreed lines' pagu")
        declined = {code: (state.agency_of[code], reason) for code, reason in state.declined.items()}
        recorded = {x.code: (x.agency, x.reason) for x in event.not_agreed}
        if recorded != declined:
            missing, extra = sorted(set(declined) - set(recorded)), sorted(set(recorded) - set(declined))
            changed = sorted(c for c in set(declined) & set(recorded) if declined[c] != recorded[c])
            self.differ(f"{head}: not agreed differs from the declined proposals (missing {missing}, not declined"
                        f" {extra}, other agency or reason {changed})")  # fmt: skip
        self._rkpd_event(where, event)

    def _adopted(self, where: Where, event: RkpdAdopted) -> None:
        year = event.year
        state = self._rkpd.get(year, rkpd_rules.Rkpd())
        expected = tuple(state.lines[k] for k in sorted(state.lines))
        head = f"rkpd {year} revision {event.revision} (stream {where.stream_id} version {where.stream_version})"
        if event.revision != state.revision + 1:
            self.differ(f"{head}: revision should be {state.revision + 1}")
        for line in line_differences(event.lines, expected, "in the adopted list", "from the line events"):
            self.differ(f"{head}: {line}")
        if event.total_pagu != sum(x.pagu for x in event.lines):
            self.differ(f"{head}: total pagu {event.total_pagu} is not the sum of the adopted lines'"
                        f" pagu ({sum(x.pagu for x in event.lines)})")  # fmt: skip
        self._rkpd_event(where, event)
        self.adoption_count += 1
        self.adoptions[year] = Adoption(year=year, revision=event.revision, at=where, lines=expected)


def _selected(flag: bool) -> str:
    return "selected" if flag else "not selected"


_RANKED_FIELDS = ("rank", "score", "cost", "selected", "reason")


def result_differences(a: ForumResult, b: ForumResult, a_name: str, b_name: str) -> Iterator[str]:
    """One line per item (and per total) where two results of a forum differ."""
    yield from ranking_differences(a.ranking, b.ranking, a_name, b_name)
    for field in ("spent", "ballots", "sheets"):
        x, y = getattr(a, field), getattr(b, field)
        if x != y:
            yield f"{field}: {x} {a_name}, {y} {b_name}"


def ranking_differences(a: Sequence[RankedItem], b: Sequence[RankedItem], a_name: str, b_name: str) -> Iterator[str]:
    by_a = {r.item_id: r for r in a}
    by_b = {r.item_id: r for r in b}
    for item_id in sorted(by_a.keys() | by_b.keys(), key=lambda i: (_rank(by_b.get(i)), _rank(by_a.get(i)), i)):
        x, y = by_a.get(item_id), by_b.get(item_id)
        if x is None or y is None:
            yield f"item {item_id}: {_presence(x)} {a_name}, {_presence(y)} {b_name}"
            continue
        changed = [f"{k} {getattr(x, k)!r} {a_name}, {getattr(y, k)!r} {b_name}"
                   for k in _RANKED_FIELDS if getattr(x, k) != getattr(y, k)]  # fmt: skip
        if changed:
            yield f"item {item_id}: " + "; ".join(changed)


def _presence(x: object) -> str:
    return "missing" if x is None else "present"


def _rank(r: RankedItem | None) -> int:
    return r.rank if r is not None else 1 << 30


def line_differences(a: Sequence[RkpdLine], b: Sequence[RkpdLine], a_name: str, b_name: str) -> Iterator[str]:
    """One line per RKPD line where two lists differ, naming the fields."""
    by_a = {x.line_id: x for x in a}
    by_b = {x.line_id: x for x in b}
    for line_id in sorted(by_a.keys() | by_b.keys()):
        x, y = by_a.get(line_id), by_b.get(line_id)
        if x is None or y is None:
            yield f"line {line_id}: {_presence(x)} {a_name}, {_presence(y)} {b_name}"
            continue
        if x != y:
            dx, dy = msgspec.structs.asdict(x), msgspec.structs.asdict(y)
            changed = [f"{k} {dx[k]!r} {a_name}, {dy[k]!r} {b_name}" for k in dx if dx[k] != dy[k]]
            yield f"line {line_id}: " + "; ".join(changed)
