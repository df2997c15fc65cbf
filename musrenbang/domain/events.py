"""Every event the system records, as frozen msgspec Structs with explicit, stable tags.

The tag is what the log stores as `event_type`: renaming a class must never change it. Evolve an event
only by adding fields with defaults; never change a stored field's type. Events carry no floats (a float
would not survive the round trip through jsonb byte for byte, and the hash chain depends on that).
"""

from __future__ import annotations

import datetime as dt
from typing import cast

import msgspec


class Event(msgspec.Struct, frozen=True, kw_only=True, tag_field="type"):
    """Base of all events: something that happened, in the past tense."""


# --- the city (kabupaten or kota) the platform serves -----------------------------------------------


class CityAgency(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """A perangkat daerah and the government affairs (urusan / bidang urusan, `U.BB` of a program code in
    the Permendagri 90/2019 nomenclature) it carries out. A kecamatan is one too (`kecamatan`: its region
    code): Dana Kelurahan and the activities the kecamatan runs are budgeted through it."""

    code: str
    name: str
    urusan: tuple[str, ...]
    kecamatan: str = ""


class CoordinateBounds(msgspec.Struct, frozen=True, kw_only=True):
    """Where a proposal's coordinates may lie: the city with a margin (decimal degrees as text)."""

    south: str
    north: str
    west: str
    east: str


class Dapil(msgspec.Struct, frozen=True, kw_only=True):
    """A daerah pemilihan of the DPRD (as the KPU sets it for the election): its name and its kecamatan."""

    name: str
    kecamatan: tuple[str, ...]


class CityConfigured(Event, frozen=True, tag="city.configured"):
    """The city's settings, whole, as they hold from now on: its region (a kabupaten or kota code of the
    Kemendagri table), its name, its planning agency, its perangkat daerah, which agency takes a proposal
    of each bidang first, and where coordinates may lie. The first one sets the city up; later ones change
    its settings (never its region)."""

    region: str
    name: str
    planning_agency: str
    planning_agency_short: str
    agencies: tuple[CityAgency, ...]
    bidang_agency: dict[str, str]
    bounds: CoordinateBounds
    timezone: str = "WIB"
    """WIB, WITA or WIT: the day the city's calendar counts in (settings from before it: WIB)."""
    dapil: tuple[Dapil, ...] = ()
    """The DPRD's electoral districts, for the pokir and their share of the RKPD (none: not configured)."""


# --- planning cycle -------------------------------------------------------------------------------


class StageWindow(msgspec.Struct, frozen=True, kw_only=True):
    """When a stage of a cycle is open: from `opens` to `closes`, both days included."""

    stage: str
    opens: dt.date
    closes: dt.date


class KecamatanCeiling(msgspec.Struct, frozen=True, kw_only=True):
    """The pagu indikatif of one kecamatan for the year: the ceiling of its Musrenbang Kecamatan."""

    kecamatan: str
    pagu: int


class CycleStarted(Event, frozen=True, tag="cycle.started"):
    """A planning cycle for the RKPD of `year` was opened (planned during year - 1), with its calendar:
    the window of each stage. Cycles opened before calendars existed have none (their stages moved only
    by `CycleStageAdvanced`). `priority_targets` are the sasaran daerah of the priority programs, in the
    same order (empty when not given)."""

    year: int
    region: str
    theme: str
    priority_programs: tuple[str, ...]
    kickoff_on: dt.date | None = None
    calendar: tuple[StageWindow, ...] = ()
    pagu_kecamatan: tuple[KecamatanCeiling, ...] = ()
    priority_targets: tuple[str, ...] = ()
    dana_kelurahan: int | None = None
    """Dana Kelurahan per kelurahan for the year (rupiah): what the kecamatan's Dana Kelurahan lines of
    one kelurahan may add up to (None: not set)."""


class CycleStageAdvanced(Event, frozen=True, tag="cycle.stage_advanced"):
    """The cycle moved to its next stage. With `on` in a cycle with a calendar (how advances were recorded
    before they listed their window moves): the stages before it closed the day before at the latest, and it
    opened that day at the latest. Without `on` it moves no window: the advance recorded the windows it moved
    as `CycleWindowChanged` events of its own just before it (domain/cycle.py `_advance`), or the log is
    from before calendars. `ditetapkan` is recorded with the RKPD's adoption."""

    year: int
    stage: str
    on: dt.date | None = None


class CycleWindowChanged(Event, frozen=True, tag="cycle.window_changed"):
    """Bappeda moved a stage's window (most often: extended its closing day), for the reason given."""

    year: int
    stage: str
    opens: dt.date
    closes: dt.date
    reason: str


class CycleCancelled(Event, frozen=True, tag="cycle.cancelled"):
    """Bappeda withdrew a cycle opened by mistake (a wrong year, theme or pagu) before anything was made in
    it, for the reason given: the year is as if never opened, and may be opened again (domain/cycle.py)."""

    year: int
    reason: str


# --- proposals (usulan) ----------------------------------------------------------------------------


class ProposalContent(msgspec.Struct, frozen=True, kw_only=True):
    """The public substance of a proposal, as submitted or revised (never the proposer's identity)."""

    kelurahan: str
    rw: int | None
    """None only in a desa, which may have no RW (domain/proposal.py, `rw_required`)."""
    rt: int | None
    """None in a desa without RT, or one whose RW gave none."""
    kind: str
    bidang: str
    title: str
    problem: str
    solution: str
    beneficiaries: int
    volume: str
    unit: str
    estimated_cost: int
    priority_program: int | None = None
    address: str
    latitude: str | None = None
    longitude: str | None = None


class PokirFrom(msgspec.Struct, frozen=True, kw_only=True):
    """Where a pokok pikiran DPRD comes from: the member who brings it (their account, name, faction and
    daerah pemilihan as they stood when it was submitted: public officials, public record) and the reses
    where it was heard."""

    member: str
    member_name: str
    faction: str
    dapil: str
    reses_on: dt.date
    reses_place: str


class ProposalSubmitted(Event, frozen=True, tag="proposal.submitted"):
    """A resident (or RW, pokir, agency: `source`) submitted a proposal for the cycle of `year`.

    `proposer_ref` points at the proposer's contact in the personal-data table; the log never holds it.
    """

    code: str
    year: int
    source: str
    content: ProposalContent
    proposer_ref: str
    carried_from: str | None = None
    """The proposal of an earlier year this one proposes again (it was not accommodated there)."""
    pokir: PokirFrom | None = None
    """For a pokir (`source` "pokir"): its member and reses."""


class ProposalCarriedOver(Event, frozen=True, tag="proposal.carried_over"):
    """This proposal, not accommodated in its own year, was proposed again for `to_year` as `to_code` (a
    proposal goes forward once: the chain of years stays a line)."""

    code: str
    to_code: str
    to_year: int


class ProposalRevised(Event, frozen=True, tag="proposal.revised"):
    """The proposer revised a proposal that was returned to them; `content` replaces the old one (and
    `pokir` a pokir's reses, when given)."""

    code: str
    content: ProposalContent
    pokir: PokirFrom | None = None


class PokirForwarded(Event, frozen=True, tag="proposal.pokir_forwarded"):
    """The DPRD secretariat found a pokir complete and forwarded it to the Forum Perangkat Daerah, where
    the agencies take it up with the kecamatan forums' proposals (not through kelurahan verification)."""

    code: str
    note: str = ""


class ProposalPhotoAttached(Event, frozen=True, tag="proposal.photo_attached"):
    """A photo (re-encoded, metadata stripped) was attached; the bytes live in the photo store."""

    code: str
    photo_id: str
    sha256: str
    content_type: str
    width: int
    height: int
    size: int


class ProposalAccepted(Event, frozen=True, tag="proposal.accepted"):
    """Verified and accepted, possibly with an agreed volume/cost beside the original one."""

    code: str
    agreed_volume: str | None = None
    agreed_cost: int | None = None
    reason: str = ""


class ProposalReturned(Event, frozen=True, tag="proposal.returned"):
    """Returned to the proposer for revision; `reason` says what to fix."""

    code: str
    reason: str


class ProposalRejected(Event, frozen=True, tag="proposal.rejected"):
    code: str
    reason: str


class ProposalMerged(Event, frozen=True, tag="proposal.merged"):
    """This proposal was a duplicate and now lives on in `into`; it stays, with its history."""

    code: str
    into: str
    reason: str


class ProposalsMergedIn(Event, frozen=True, tag="proposal.merged_in"):
    """Duplicates were merged into this proposal; their beneficiaries are added to its own."""

    code: str
    merged: tuple[str, ...]
    beneficiaries_added: int
    reason: str


# --- forums (musyawarah) ------------------------------------------------------------------------------


class Criterion(msgspec.Struct, frozen=True):
    key: str
    label: str
    weight: int


class AgendaItem(msgspec.Struct, frozen=True, kw_only=True):
    """A proposal on a forum's agenda, with the cost the forum starts from. `proposal` is the tracking
    code of a resident's proposal; an imported election's project has none."""

    item_id: str
    title: str
    cost: int
    proposal: str | None = None
    volume: str | None = None
    unit: str | None = None
    kelurahan: str | None = None


class ForumScheduled(Event, frozen=True, tag="forum.scheduled"):
    forum_id: str
    level: str
    region: str
    year: int
    title: str
    held_on: dt.date | None
    place: str
    chair: str
    ceiling: int
    rule: str
    ballot_kind: str | None = None
    rule_params: dict[str, int] = {}
    criteria: tuple[Criterion, ...] = ()
    quota: int | None = None
    origin: str = "musrenbang"
    money_scale: int = 1
    """Amounts (ceiling, costs, max_sum_cost) are in 1/money_scale of the currency: 1 for rupiah; an
    imported election whose file has decimals (Pabulib allows "1500000.50") is stored in its smallest
    unit, e.g. 100 for cents, so that every amount stays an exact integer."""
    exclusive: tuple[tuple[str, ...], ...] = ()
    """greedy-exclusive: groups of agenda items that rule each other out (see rules.greedy)."""
    starts_at: dt.time | None = None
    """When it begins on `held_on`, on the city's clock, for the public calendar (None: not given)."""


class DelegateRegistered(Event, frozen=True, tag="forum.delegate_registered"):
    forum_id: str
    delegate_id: str
    name: str
    role: str = ""
    represents: str = ""
    gender: str = ""


class DelegateCorrected(Event, frozen=True, tag="forum.delegate_corrected"):
    """A registered delegate's name, role, whom they represent or gender corrected by the registration desk
    (a misspelt name, a wrong gender), with the reason, while the forum is not closed: from here on every
    page, count and Berita Acara reads these values. The registration stays in the log as typed."""

    forum_id: str
    delegate_id: str
    name: str
    role: str
    represents: str
    gender: str
    reason: str


class DelegateWithdrawn(Event, frozen=True, tag="forum.delegate_withdrawn"):
    """A delegate registered by mistake taken off the forum, with the reason, while it is not closed and
    before they cast a ballot or gave a score sheet: from here on they are not counted, not on the ballot
    form and not in the attendance. Their id stays taken."""

    forum_id: str
    delegate_id: str
    reason: str


class ForumOpened(Event, frozen=True, tag="forum.opened"):
    """From here on rule, ceiling, criteria and agenda are frozen."""

    forum_id: str
    agenda: tuple[AgendaItem, ...]


class ItemAdjusted(Event, frozen=True, tag="forum.item_adjusted"):
    """The forum agreed another volume or cost for an item; the original stays in the agenda."""

    forum_id: str
    item_id: str
    reason: str
    agreed_volume: str | None = None
    agreed_cost: int | None = None


class DelegatesMandated(Event, frozen=True, tag="forum.delegates_mandated"):
    """The delegates the forum sends on to the next level (a later mandate replaces an earlier one)."""

    forum_id: str
    delegate_ids: tuple[str, ...]


class BallotCast(Event, frozen=True, tag="forum.ballot_cast"):
    """A delegate's ballot (one stream per delegate). A later ballot of the same delegate replaces the
    earlier one while the forum is open; both stay in the log."""

    forum_id: str
    delegate_id: str
    approvals: tuple[str, ...] = ()
    points: dict[str, int] = {}
    ranking: tuple[str, ...] = ()


class ScoresGiven(Event, frozen=True, tag="forum.scores_given"):
    """Marks 1-5 per criterion per item, by one delegate or by the forum in consensus (`sheet`)."""

    forum_id: str
    sheet: str
    marks: dict[str, dict[str, int]]


class RankedItem(msgspec.Struct, frozen=True, kw_only=True):
    item_id: str
    rank: int
    score: str
    """Exact: an integer, or a fraction written "n/d"."""
    cost: int
    selected: bool
    reason: str | None = None


class ForumResult(msgspec.Struct, frozen=True, kw_only=True):
    ranking: tuple[RankedItem, ...]
    spent: int
    ballots: int
    sheets: int


class ForumClosed(Event, frozen=True, tag="forum.closed"):
    """The result, computed from the forum's own events alone; `forward_to` names the next level."""

    forum_id: str
    result: ForumResult
    forward_to: str | None = None


class ForumCancelled(Event, frozen=True, tag="forum.cancelled"):
    """The forum is called off, scheduled or open, and never takes place (or never ends): ballots and score
    sheets already cast stay in the log, no result is recorded, and its agenda's proposals are free for
    another forum of its level."""

    forum_id: str
    reason: str


class ProposalDecidedAtForum(Event, frozen=True, tag="proposal.decided_at_forum"):
    """On a proposal's own stream: where it ranked at a forum, and whether it goes on (or why not)."""

    code: str
    forum_id: str
    level: str
    rank: int
    selected: bool
    reason: str | None = None


# --- city level: Forum Perangkat Daerah and Musrenbang Kota (one stream per RKPD year) --------------------


class CityItem(msgspec.Struct, frozen=True, kw_only=True):
    """A proposal a kecamatan forum selected, as it reaches the agencies: the cost and volume the forum
    agreed, and the agency that takes it first (by bidang; the agency can pass it on)."""

    code: str
    title: str
    kelurahan: str
    bidang: str
    cost: int
    volume: str | None = None
    unit: str | None = None
    agency: str
    forum_id: str
    """The kecamatan forum that forwarded it ("" for a pokir: the DPRD secretariat forwarded it)."""
    source: str = "musrenbang"
    """`musrenbang` (a resident's proposal through the forums) or `pokir` (a DPRD member's)."""


class RkpdProposalsReceived(Event, frozen=True, tag="rkpd.proposals_received"):
    """The Forum Perangkat Daerah took up what the kecamatan forums forwarded (frozen here, like an agenda).
    Received again later, only proposals not yet received are added."""

    year: int
    items: tuple[CityItem, ...]


class RkpdProposalPassed(Event, frozen=True, tag="rkpd.proposal_passed"):
    """An agency handed a proposal to another agency, with the reason."""

    year: int
    code: str
    from_agency: str
    to_agency: str
    reason: str


class RkpdProposalDeclined(Event, frozen=True, tag="rkpd.proposal_declined"):
    """The agency will not take the proposal into the RKPD; `reason` is what the resident reads."""

    year: int
    code: str
    agency: str
    reason: str


class RkpdLine(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """One line of the RKPD priority list: what an agency will deliver, where, for how much, and the
    residents' proposals (`origins`) it comes from — or, for an agency's own plan (Renja) with no resident
    origin, why it is there (`renja_reason`). Encoded without its defaults, so that lines recorded before
    Renja lines existed keep their bytes."""

    line_id: str
    agency: str
    origins: tuple[str, ...]
    locations: tuple[str, ...]
    """Kelurahan codes: the origins', or, for a Renja line, the ones the agency names (none: city-wide)."""
    priority_program: int
    """1-based index into the cycle's priority programs."""
    sub_kegiatan_code: str
    """U.BB.PP.K.KK.SSSS, in the nomenclature named by `nomenclature`."""
    nomenclature: str
    program: str
    kegiatan: str
    sub_kegiatan: str
    funding_source: str
    volume: str
    unit: str
    pagu: int
    output_indicator: str
    target: str
    target_unit: str
    renja_reason: str = ""
    """Set only on a line from the agency's own work plan (Renja): strategic plan, minimum service
    standard, continuation of an earlier year's work, … (then `origins` is empty)."""


class RkpdLineSet(Event, frozen=True, tag="rkpd.line_set"):
    """An agency set (or revised) a line; the whole line is restated. After adoption a reason is required."""

    year: int
    line: RkpdLine
    reason: str = ""


class RkpdLineWithdrawn(Event, frozen=True, tag="rkpd.line_withdrawn"):
    """A line was taken out; its proposals go back to the agency's list."""

    year: int
    line_id: str
    agency: str
    reason: str


class RkpdAdopted(Event, frozen=True, tag="rkpd.adopted"):
    """Musrenbang Kota adopted the RKPD: the list as it stood, frozen (`revision` 1, 2, ... when
    changes made after an adoption are adopted again)."""

    year: int
    revision: int
    lines: tuple[RkpdLine, ...]
    total_pagu: int
    note: str = ""
    adopted_on: dt.date | None = None
    """The day it was adopted (the Musrenbang Kota's; None in adoptions recorded before the day was kept):
    a regulation enacting it cannot be older."""


class RkpdEnacted(Event, frozen=True, tag="rkpd.enacted"):
    """The RKPD set in law: the Peraturan Wali Kota/Bupati `regulation` of `enacted_on` enacts the list as
    adopted in `revision`; `list_hash` is the SHA-256 of that list's canonical JSON (domain/rkpd.list_hash),
    so anyone can check that the regulation's list is the one published. A later enactment is an amendment
    (perubahan RKPD) with its own regulation."""

    year: int
    revision: int
    regulation: str
    enacted_on: dt.date
    list_hash: str
    amendment: bool = False


class ForumParticipant(msgspec.Struct, frozen=True, kw_only=True):
    """Someone taking part in a city-level forum: `kind` is `agency` (a perangkat daerah), `dprd` (a DPRD
    member), `kecamatan` (a delegate a Musrenbang Kecamatan mandated) or `other`; `represents` says for
    whom (the agency's code, the daerah pemilihan, the kecamatan)."""

    name: str
    kind: str
    represents: str = ""


class RkpdForumScheduled(Event, frozen=True, tag="rkpd.forum_scheduled"):
    """Bappeda scheduled a city-level forum of the year: `forum` is `forum_pd` (Forum Perangkat Daerah) or
    `musrenbang_kota` (Musrenbang Kota). A later schedule of the same forum, before it closes, replaces
    this one (a new date, place or list of participants); both stay in the log."""

    year: int
    forum: str
    held_on: dt.date
    place: str
    chair: str
    participants: tuple[ForumParticipant, ...]
    agenda: tuple[str, ...]
    starts_at: dt.time | None = None
    """When it begins on `held_on`, on the city's clock (None: not given)."""


class NotAgreedProposal(msgspec.Struct, frozen=True, kw_only=True):
    """A proposal the city level did not take into the RKPD, with the agency that declined it and why."""

    code: str
    title: str
    kelurahan: str
    agency: str
    reason: str


class RkpdForumClosed(Event, frozen=True, tag="rkpd.forum_closed"):
    """A city-level forum closed with its minutes, and its Berita Acara frozen here: the RKPD lines agreed
    at that moment (`agreed`, whole, in line-id order; grouped per agency when printed) and the proposals
    not agreed with their reasons. Closing Musrenbang Kota adopts the RKPD in the same append."""

    year: int
    forum: str
    minutes: str
    agreed: tuple[RkpdLine, ...]
    total_pagu: int
    not_agreed: tuple[NotAgreedProposal, ...]


class MilestonePhoto(msgspec.Struct, frozen=True, kw_only=True):
    """A photo of the work (re-encoded, metadata stripped); the bytes live in the photo store."""

    photo_id: str
    sha256: str
    content_type: str
    width: int
    height: int
    size: int


class RkpdMilestoneRecorded(Event, frozen=True, tag="rkpd.milestone_recorded"):
    """What happened to an adopted RKPD line after adoption (one stream per line, `realisasi-{year}-{id}`):
    KUA-PPAS (`amount` proposed), APBD (`amount` budgeted; `note` says why it differs from the pagu), DPA,
    contract (`amount`, `contractor`, `on` to `ends`), progress (`progress` %, `amount` spent so far),
    finished (`on` the handover), or dropped (`note`: why). `origins` repeats the line's proposals, so
    that whoever reads the event knows whom it concerns without the RKPD stream."""

    year: int
    line_id: str
    agency: str
    origins: tuple[str, ...]
    stage: str
    on: dt.date
    amount: int | None = None
    progress: int | None = None
    note: str = ""
    contractor: str | None = None
    ends: dt.date | None = None
    photos: tuple[MilestonePhoto, ...] = ()


# --- the log itself -----------------------------------------------------------------------------------


class LogSealed(Event, frozen=True, tag="log.sealed"):
    """A seal over the whole log, in the spirit of Certificate Transparency's signed tree heads: `hash`
    covers every event in the safe global order up to (`up_to_tx`, `position`) — `events` of them from the
    start — chained to the previous seal's hash (`previous`; 64 zeros before seal 1). `heads` gives, for
    each stream that moved since the previous seal, its version and hash there, so that a check can name
    a stream whose tail (or the whole of it) went missing. Written by the server itself
    (eventlog/seal.py), on the stream `log-seals`."""

    seal: int
    position: int
    up_to_tx: int
    events: int
    hash: str
    previous: str
    heads: dict[str, tuple[int, str]] = {}


ALL_EVENTS: tuple[type[Event], ...] = (
    CityConfigured,
    CycleStarted,
    CycleStageAdvanced,
    CycleWindowChanged,
    CycleCancelled,
    ProposalSubmitted,
    ProposalCarriedOver,
    ProposalRevised,
    PokirForwarded,
    ProposalPhotoAttached,
    ProposalAccepted,
    ProposalReturned,
    ProposalRejected,
    ProposalMerged,
    ProposalsMergedIn,
    ForumScheduled,
    DelegateRegistered,
    DelegateCorrected,
    DelegateWithdrawn,
    ForumOpened,
    ItemAdjusted,
    DelegatesMandated,
    BallotCast,
    ScoresGiven,
    ForumClosed,
    ForumCancelled,
    ProposalDecidedAtForum,
    RkpdProposalsReceived,
    RkpdProposalPassed,
    RkpdProposalDeclined,
    RkpdLineSet,
    RkpdLineWithdrawn,
    RkpdAdopted,
    RkpdEnacted,
    RkpdForumScheduled,
    RkpdForumClosed,
    RkpdMilestoneRecorded,
    LogSealed,
)


def event_tag(cls: type[Event]) -> str:
    return cast(str, cls.__struct_config__.tag)  # every Event subclass is declared with a text tag


EVENT_TYPES: dict[str, type[Event]] = {event_tag(cls): cls for cls in ALL_EVENTS}
