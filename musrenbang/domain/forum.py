"""A forum (musyawarah): scheduled, delegates registered, opened (rule, ceiling, criteria and agenda
frozen), scored or voted, closed with a result that is a pure function of its events.

Streams are sized for concurrency: the forum's lifecycle is one stream (`forum-{id}`), each delegate's
ballot another (`forum-{id}-ballot-{delegate}`), each score sheet another
(`forum-{id}-scores-{sheet}`), so 200 delegates voting at once do not queue on one stream. Whether the
forum is still open is checked against the forum stream's head when a ballot is appended (see
services/forums.py), so no ballot lands after the close.

Ballots: one per delegate; a second ballot from the same delegate *replaces* the first while the forum
is open (paper ballots are typed by a facilitator, and typing errors must be correctable); both stay in
the log, the latest counts.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from fractions import Fraction

import msgspec

from musrenbang.domain import bounds, rules, values
from musrenbang.domain.errors import N_, DomainError, Message, NotFound, ValidationFailed
from musrenbang.domain.events import (
    AgendaItem,
    BallotCast,
    Criterion,
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
    RankedItem,
    ScoresGiven,
)

LEVELS = ("kelurahan", "kecamatan", "kota")
LEVEL_REGIONS = {"kelurahan": ("kelurahan", "desa"), "kecamatan": ("kecamatan",), "kota": ("kota", "kabupaten")}
"""The kinds of region (`regions.tingkat`) a Musrenbang of each level is held for."""
LEVEL_REGION_HINTS = {"kelurahan": N_("pilih kelurahan atau desa untuk musyawarah tingkat kelurahan/desa"),
                      "kecamatan": N_("pilih kecamatan untuk musyawarah tingkat kecamatan")}  # fmt: skip


LEVEL_UNKNOWN = N_("tingkat musyawarah tidak dikenal: pilih kelurahan (juga untuk musyawarah desa, dengan wilayah"
                   " desanya) atau kecamatan")  # fmt: skip
"""A level not among LEVELS. A Musrenbang Desa is of level kelurahan, held for a region of kind desa; the city
level's meetings are scheduled on the RKPD page (`check_region_kind`)."""
BALLOT_KIND_UNKNOWN = N_("jenis surat suara tidak dikenal: pilih approval, cumulative, choose-1 atau ordinal")


def check_region_kind(level: str, kind: str | None) -> None:
    """A Musrenbang of `level` is held for a region of a kind that level covers (`kind`: the region's
    `tingkat`, None when no such region exists): a kelurahan's account cannot publish a "Musrenbang
    Kota" for its kelurahan.

    The city level's meetings are not forums of this kind: the Forum Perangkat Daerah and the Musrenbang
    Kota live on the year's RKPD stream (domain/city_forums.py). A forum of level `kota` scheduled here
    reached no page, no calendar and no RKPD; only an imported Pabulib election (not checked here) is one."""
    if level == "kota":
        raise ValidationFailed({"level": N_("musyawarah tingkat kota adalah Forum Perangkat Daerah dan Musrenbang"
                                            " Kota: jadwalkan di halaman RKPD tahun itu")})
    if kind is None:
        raise ValidationFailed({"region": N_("wilayah tidak dikenal")})
    if level in LEVEL_REGIONS and kind not in LEVEL_REGIONS[level]:
        raise ValidationFailed({"region": LEVEL_REGION_HINTS[level]})


NEXT_LEVEL = {"kelurahan": "kecamatan", "kecamatan": "kota", "kota": None}
SCHEDULED, OPEN, CLOSED, CANCELLED = "scheduled", "open", "closed", "cancelled"
STATUS_LABELS = {SCHEDULED: N_("dijadwalkan"), OPEN: N_("sedang berlangsung"), CLOSED: N_("ditutup"),
                 CANCELLED: N_("dibatalkan")}  # fmt: skip
"""A forum's status as people read it (the JSON API keeps the codes)."""

# The common 1-5 criteria (DOMAIN.md, "Prioritisation as practised"), equally weighted by default.
DEFAULT_CRITERIA = (
    Criterion("manfaat", N_("Jumlah warga yang merasakan manfaat"), 1),
    Criterion("urgensi", N_("Tingkat kemendesakan"), 1),
    Criterion("ekonomi", N_("Dampak ekonomi"), 1),
    Criterion("frekuensi", N_("Seberapa sering masalah terjadi"), 1),
    Criterion("kelayakan", N_("Kelayakan dan kemampuan setempat"), 1),
    Criterion("keselarasan", N_("Keselarasan dengan tema dan program prioritas RKPD"), 1),
)


def stream_id(forum_id: str) -> str:
    return f"forum-{forum_id}"


def ballot_stream(forum_id: str, delegate_id: str) -> str:
    return f"forum-{forum_id}-ballot-{delegate_id}"


def scores_stream(forum_id: str, sheet: str) -> str:
    return f"forum-{forum_id}-scores-{sheet}"


class Forum(msgspec.Struct, frozen=True, kw_only=True):
    schedule: ForumScheduled | None = None
    status: str | None = None
    delegates: dict[str, DelegateRegistered] = {}
    folded: dict[str, str] = {}
    """Delegate ids by their casefold, in a forum whose delegates people type (origin musrenbang): "D1"
    beside "d1" is the same person typed twice. An imported election keeps its file's ids as they are."""
    people: dict[tuple[str, str], str] = {}
    """The first delegate id by (name, represents) as `person_key` compares them, in a forum whose delegates
    people type (origin musrenbang): the same person under a second id is refused unless confirmed."""
    withdrawn: dict[str, DelegateWithdrawn] = {}
    """Delegates registered by mistake and withdrawn (`forum.delegate_withdrawn`), by id: no longer in
    `delegates` (not counted, not on the ballot form nor in the attendance); their ids stay taken."""
    agenda: tuple[AgendaItem, ...] = ()
    adjustments: dict[str, ItemAdjusted] = {}
    mandated: tuple[str, ...] = ()
    result: ForumResult | None = None
    cancel_reason: str | None = None
    """Why it was called off (status CANCELLED)."""

    @property
    def exists(self) -> bool:
        return self.schedule is not None

    @property
    def scheduled(self) -> ForumScheduled:
        """The schedule of a forum that exists (its level, region, rule, ceiling, criteria); NotFound if none."""
        if self.schedule is None:
            raise NotFound(N_("musyawarah tidak ditemukan"))
        return self.schedule

    def items(self) -> list[rules.Item]:
        """The agenda with the costs the forum decides on (agreed cost where adjusted)."""
        out = []
        for a in self.agenda:
            adjusted = self.adjustments.get(a.item_id)
            cost = adjusted.agreed_cost if adjusted and adjusted.agreed_cost is not None else a.cost
            out.append(rules.Item(a.item_id, cost))
        return out


class ScheduleForum(msgspec.Struct, frozen=True, kw_only=True):
    forum_id: str
    level: str
    region: str
    year: int
    title: str
    held_on: dt.date | None
    place: str
    chair: str
    ceiling: int
    rule: str = "weighted-criteria"
    ballot_kind: str | None = None
    rule_params: dict[str, int] = {}
    criteria: tuple[Criterion, ...] = DEFAULT_CRITERIA
    quota: int | None = None
    origin: str = "musrenbang"
    money_scale: int = 1
    exclusive: tuple[tuple[str, ...], ...] = ()
    starts_at: dt.time | None = None


class RegisterDelegate(msgspec.Struct, frozen=True, kw_only=True):
    delegate_id: str
    name: str
    role: str = ""
    represents: str = ""
    gender: str = ""
    same_name_confirmed: bool = False
    """Register although a delegate of the same name representing the same is registered already: two
    people of one name from one RW happen; one person entered twice at the desk, under two ids, would vote
    twice (`decide` refuses that unless this says it is meant). Not recorded in the event."""


class CorrectDelegate(msgspec.Struct, frozen=True, kw_only=True):
    """Correct a registered delegate's name, whom they represent and gender (and role, when given), with the
    reason, while the forum is not closed: a misspelt name or a wrong gender would otherwise stand in the
    Berita Acara's attendance and gender counts for good."""

    delegate_id: str
    name: str
    represents: str = ""
    gender: str = ""
    role: str | None = None
    """None: unchanged."""
    reason: str
    same_name_confirmed: bool = False
    """As RegisterDelegate's: corrected into the name of another delegate representing the same."""


class WithdrawDelegate(msgspec.Struct, frozen=True, kw_only=True):
    """Take off the forum a delegate registered by mistake, with the reason, while the forum is not closed."""

    delegate_id: str
    reason: str
    cast: bool = False
    """Whether the delegate has a ballot or a score sheet in the log (the service reads it under the forum's
    lock): then they are part of the count and are not withdrawn (correct them instead)."""


class OpenForum(msgspec.Struct, frozen=True, kw_only=True):
    agenda: tuple[AgendaItem, ...]
    on: dt.date | None = None
    """The day it is opened (the city's today; a replayed history's day): not before the forum's `held_on`
    (`check_held_day`). None: not judged (a rehearsal of an imported election, which has no day)."""


class AdjustItem(msgspec.Struct, frozen=True, kw_only=True):
    item_id: str
    reason: str
    agreed_volume: str | None = None
    agreed_cost: int | None = None


class MandateDelegates(msgspec.Struct, frozen=True, kw_only=True):
    delegate_ids: tuple[str, ...]


MAX_MANDATED = 5


class CloseForum(msgspec.Struct, frozen=True, kw_only=True):
    """Close with the ballots and score sheets the forum's streams hold (latest per delegate/sheet)."""

    ballots: tuple[BallotCast, ...] = ()
    sheets: tuple[ScoresGiven, ...] = ()
    on: dt.date | None = None
    """The day it is closed, as `OpenForum.on`: not before the forum's `held_on`."""
    no_mandate_confirmed: bool = False
    """Close a Musrenbang that forwards (kelurahan, kecamatan) although it mandated no delegate to the next
    level (`check_mandated`): the close says it is meant."""


class CancelForum(msgspec.Struct, frozen=True, kw_only=True):
    """Call off a forum that is scheduled or open, with the reason (shown on its pages)."""

    reason: str


class CastBallot(msgspec.Struct, frozen=True, kw_only=True):
    delegate_id: str
    approvals: tuple[str, ...] = ()
    points: dict[str, int] = {}
    ranking: tuple[str, ...] = ()


class GiveScores(msgspec.Struct, frozen=True, kw_only=True):
    sheet: str
    marks: dict[str, dict[str, int]]


Command = (
    ScheduleForum | RegisterDelegate | CorrectDelegate | WithdrawDelegate | OpenForum | AdjustItem | MandateDelegates
    | CloseForum | CancelForum
)


def decide(state: Forum, command: Command) -> list[Event]:
    if isinstance(command, ScheduleForum):
        return [_schedule(state, command)]
    if isinstance(command, CloseForum):
        return [decide_close(state, command)]
    forum_id = _changeable(state).forum_id
    if isinstance(command, CancelForum):
        return [_cancel(forum_id, command)]
    match command:
        case RegisterDelegate():
            if command.delegate_id in state.delegates:
                raise DomainError(N_("peserta ini sudah terdaftar"))
            if (other := state.folded.get(command.delegate_id.casefold())) in state.withdrawn:
                raise ValidationFailed({"delegate_id": Message(
                    N_("kode peserta %(id)s sudah dipakai peserta yang ditarik: pakai kode lain"),
                    id=command.delegate_id)})  # fmt: skip
            if other is not None:
                raise ValidationFailed({"delegate_id": Message(
                    N_("kode peserta %(id)s sama dengan %(other)s: huruf besar dan kecil tidak dibedakan"),
                    id=command.delegate_id, other=other)})  # fmt: skip
            return [_register(state, forum_id, _delegate(command))]
        case CorrectDelegate():
            return [_correct(state, forum_id, command)]
        case WithdrawDelegate():
            return [_withdraw(state, forum_id, command)]
        case OpenForum():
            if state.status == OPEN:
                raise DomainError(N_("musyawarah sudah dibuka"))
            if command.on is not None:
                check_held_day(state.scheduled, command.on)
            ids = [a.item_id for a in command.agenda]
            if len(set(ids)) != len(ids):
                raise DomainError(N_("agenda memuat usulan yang sama dua kali"))
            if any(a.cost < 0 for a in command.agenda):
                raise DomainError(N_("biaya usulan tidak boleh negatif"))
            _check_agenda(command.agenda)
            if any(i not in ids for group in state.scheduled.exclusive for i in group):
                raise DomainError(N_("usulan yang saling meniadakan harus ada dalam agenda"))
            return [ForumOpened(forum_id=forum_id, agenda=command.agenda)]
        case AdjustItem():
            _must_be_open(state)
            if command.item_id not in {a.item_id for a in state.agenda}:
                raise NotFound(N_("usulan ini tidak ada dalam agenda"))
            checks = bounds.Checks()
            reason = checks.text("reason", command.reason, bounds.REASON, multiline=True)
            if command.agreed_cost is not None:
                checks.check("agreed_cost", bounds.rupiah, command.agreed_cost)
            if command.agreed_volume is not None:
                checks.check("agreed_volume", bounds.quantity, command.agreed_volume)
            checks.done()
            if not reason:
                raise ValidationFailed({"reason": N_("tulis alasan perubahan")})
            if command.agreed_cost is None and command.agreed_volume is None:
                raise ValidationFailed({"agreed_cost": N_("isi volume atau biaya yang disepakati")})
            return [ItemAdjusted(forum_id=forum_id, item_id=command.item_id, reason=reason,
                                 agreed_volume=command.agreed_volume, agreed_cost=command.agreed_cost)]  # fmt: skip
        case MandateDelegates():
            _must_be_open(state)
            mandated = command.delegate_ids
            if len(set(mandated)) != len(mandated):
                raise ValidationFailed({"delegate_ids": N_("setiap delegasi dipilih satu kali saja")})
            if not mandated or len(mandated) > MAX_MANDATED:
                raise ValidationFailed(
                    {"delegate_ids": Message(N_("pilih 1 sampai %(max)d delegasi"), max=MAX_MANDATED)}
                )
            if any(d not in state.delegates for d in mandated):  # a tab shown before the list changed
                raise ValidationFailed({"delegate_ids": N_("peserta tidak terdaftar di musyawarah ini")})
            return [DelegatesMandated(forum_id=forum_id, delegate_ids=mandated)]
    raise TypeError(f"unknown command {command!r}")


def decide_close(state: Forum, command: CloseForum) -> ForumClosed:
    """`decide` for the close, typed for the service that records the result's consequences."""
    s = _changeable(state)
    _must_be_open(state)
    if command.on is not None:
        check_held_day(s, command.on, closing=True)
    check_someone_voted(state, command.ballots, command.sheets)
    check_mandated(state, command.no_mandate_confirmed)
    result = compute_result(state, command.ballots, command.sheets)
    return ForumClosed(forum_id=s.forum_id, result=result, forward_to=NEXT_LEVEL[s.level])


class Turnout(msgspec.Struct, frozen=True, kw_only=True):
    """Who has voted or scored in an open forum so far: what its close section shows before the button,
    and what `check_someone_voted` judges."""

    scored: bool
    """The forum's rule reads score sheets (weighted criteria), not ballots."""
    registered: int
    """Delegates registered."""
    voted: int
    """Delegates whose ballot is in (a blank ballot too: that delegate voted for nothing), or whose own score
    sheet marks at least one item."""
    consensus: int
    """Agenda items the consensus sheet marks (weighted criteria)."""
    items: int
    """Items on the agenda."""

    @property
    def nobody(self) -> bool:
        """Nothing the rule reads is in: closing now would count an empty room."""
        return self.voted == 0 and self.consensus == 0


def turnout(forum: Forum, ballots: Sequence[BallotCast], sheets: Sequence[ScoresGiven]) -> Turnout:
    """The forum's turnout from its ballots and score sheets (all cast so far; the latest per delegate or sheet
    counts, as in the result). A sheet whose rows were all cleared marks nothing and counts as none."""
    latest_sheets: dict[str, ScoresGiven] = {}
    for sheet in sheets:
        latest_sheets[sheet.sheet] = sheet
    consensus = latest_sheets.pop("konsensus", None)
    scored = forum.scheduled.rule == "weighted-criteria"
    if scored:
        voted = sum(1 for k, sheet in latest_sheets.items() if sheet.marks and k in forum.delegates)
    else:
        voted = len({b.delegate_id for b in ballots if b.delegate_id in forum.delegates})
    return Turnout(scored=scored, registered=len(forum.delegates), voted=voted, items=len(forum.agenda),
                   consensus=len(consensus.marks) if consensus is not None and scored else 0)  # fmt: skip


def check_someone_voted(forum: Forum, ballots: Sequence[BallotCast], sheets: Sequence[ScoresGiven]) -> None:
    """A Musrenbang with proposals on its agenda closes only once somebody has voted or scored. Closed with
    no ballot and no score sheet at all, every proposal was recorded as not selected ("tidak ada yang
    mendukung"), its residents were told so, and a closed forum is never reopened: the mistake of a
    facilitator who closed before typing the paper ballots was final. A forum with nothing on its agenda
    still closes (there is nothing to vote on). An imported election (Pabulib) closes as its file records
    it: its votes are history, not a session in progress."""
    s = forum.scheduled
    if s.origin != "musrenbang" or not forum.agenda:
        return
    counted = turnout(forum, ballots, sheets)
    if not counted.nobody:
        return
    if counted.scored:
        raise DomainError(Message(
            N_("Musyawarah belum dapat ditutup: %(registered)d peserta terdaftar, tetapi belum ada nilai sama"
               " sekali (nilai konsensus maupun lembar nilai peserta). Isi dan simpan nilai konsensus dulu, lalu"
               " tutup musyawarah; ditutup sekarang, semua usulan akan tercatat tidak terpilih."),
            registered=counted.registered))  # fmt: skip
    raise DomainError(Message(
        N_("Musyawarah belum dapat ditutup: %(registered)d peserta terdaftar, tetapi belum satu pun memberikan"
           " suara. Catat dan simpan surat suara peserta dulu, lalu tutup musyawarah; ditutup sekarang, semua"
           " usulan akan tercatat tidak terpilih."),
        registered=counted.registered))  # fmt: skip


MANDATING_LEVELS = ("kelurahan", "kecamatan")
"""The Musrenbang levels that send delegates on to the next level (Permendagri 86/2017: the Berita Acara names
them); an imported election (Pabulib) mandates nobody."""


def must_mandate(forum: Forum) -> bool:
    """Whether closing `forum` now would leave it without the delegates its level mandates."""
    s = forum.scheduled
    return s.origin == "musrenbang" and s.level in MANDATING_LEVELS and not forum.mandated


def check_mandated(forum: Forum, confirmed: bool) -> None:
    """A kelurahan or kecamatan Musrenbang mandates delegates to the next level, and its Berita Acara names
    them (section IV). Closed without any, it printed blank lines there, silently; a closed forum is never
    reopened. So such a close is refused unless it says it is meant (`CloseForum.no_mandate_confirmed`)."""
    if confirmed or not must_mandate(forum):
        return
    raise DomainError(NO_MANDATE[forum.scheduled.level])


NO_MANDATE = {
    "kelurahan": N_("Musyawarah belum dapat ditutup: belum ada delegasi yang diutus ke Musrenbang Kecamatan. Berita"
                    " Acara mencantumkan delegasi yang diutus: tetapkan dulu di bagian «Delegasi ke tingkat"
                    " berikutnya», atau nyatakan bahwa musyawarah ini memang ditutup tanpa delegasi."),
    "kecamatan": N_("Musyawarah belum dapat ditutup: belum ada delegasi yang diutus ke Forum Perangkat Daerah dan"
                    " Musrenbang Kota. Berita Acara mencantumkan delegasi yang diutus: tetapkan dulu di bagian"
                    " «Delegasi ke tingkat berikutnya», atau nyatakan bahwa musyawarah ini memang ditutup tanpa"
                    " delegasi."),
}  # fmt: skip


def check_held_day(s: ForumScheduled, day: dt.date, *, closing: bool = False) -> None:
    """A Musrenbang is opened, and closed, on its day (`held_on`) or later: `day` is the day it is done (the
    city's today). Opened before it, it was voted and closed weeks early while its Berita Acara said "Pada
    hari ini, <held_on> ... telah diselenggarakan". A forum's day is not changed once scheduled: one put on a
    wrong day is cancelled and scheduled again. An imported election without a day is not judged."""
    if s.held_on is None or day >= s.held_on:
        return
    held_on = values.long_date(s.held_on)
    if closing:
        raise DomainError(Message(N_("Musyawarah ini dijadwalkan %(day)s: belum dapat ditutup sebelum hari itu"),
                                  day=held_on))  # fmt: skip
    raise DomainError(Message(N_("Musyawarah ini dijadwalkan %(day)s: belum dapat dibuka sebelum hari itu. Bila"
                                 " tanggalnya keliru, batalkan musyawarah ini lalu jadwalkan lagi pada hari yang"
                                 " benar."), day=held_on))  # fmt: skip


def _changeable(state: Forum) -> ForumScheduled:
    """The schedule of a forum that exists and is neither closed nor cancelled yet."""
    s = state.scheduled
    if state.status == CLOSED:
        raise DomainError(N_("musyawarah sudah ditutup; tidak ada lagi yang dapat diubah"))
    not_cancelled(state)
    return s


def not_cancelled(state: Forum) -> None:
    """Nothing more happens at a forum that was called off: no delegate, opening, ballot, score, change,
    mandate or close (its ballots so far stay in the log, uncounted). Asked by the services first, before
    any other check of theirs could answer with another reason."""
    if state.status == CANCELLED:
        raise DomainError(N_("musyawarah ini sudah dibatalkan"))


def _cancel(forum_id: str, command: CancelForum) -> ForumCancelled:
    """Whenever it is asked (after the RKPD was adopted too: a forum the calendar overtook is tidied up, not
    left "dijadwalkan" for ever); the reason is required, bounded like any reason."""
    checks = bounds.Checks()
    reason = checks.text("reason", command.reason, bounds.REASON, multiline=True)
    if not reason and "reason" not in checks.errors:
        checks.fail("reason", N_("tulis mengapa musyawarah ini dibatalkan"))
    checks.done()
    return ForumCancelled(forum_id=forum_id, reason=reason)


def _schedule(state: Forum, c: ScheduleForum) -> ForumScheduled:
    if state.exists:
        raise DomainError(N_("musyawarah dengan kode ini sudah ada"))
    checks = bounds.Checks()
    errors = checks.errors
    checks.check("forum_id", bounds.identifier, c.forum_id)
    checks.check("year", bounds.year, c.year)
    checks.check("held_on", bounds.date, c.held_on)
    checks.check("starts_at", bounds.clock_time, c.starts_at)
    title = checks.text("title", c.title, bounds.TITLE, required=True)
    place = checks.text("place", c.place, bounds.NAME)
    chair = checks.text("chair", c.chair, bounds.NAME)
    if c.origin == "musrenbang":
        region = checks.check("region", bounds.region_code, c.region) or ""
        if c.held_on is None:  # a Berita Acara states its day; an imported election may not know it
            checks.fail("held_on", N_("tanggal musyawarah wajib diisi"))
    elif c.origin == "pabulib":  # an imported election: the region is the district's name
        region = checks.text("region", c.region, bounds.NAME)
    else:
        checks.fail("origin", N_("asal musyawarah tidak dikenal"))
    if c.level not in LEVELS:
        errors["level"] = LEVEL_UNKNOWN
    if isinstance(c.ceiling, int) and c.ceiling <= 0:
        errors["ceiling"] = N_("pagu harus lebih dari nol")
    checks.check("ceiling", bounds.rupiah, c.ceiling)
    if c.rule not in rules.RULES:
        errors["rule"] = Message(N_("aturan keputusan tidak dikenal: %(rule)s"), rule=c.rule[:40])
    if c.rule == "weighted-criteria" or c.criteria:  # stored whatever the rule: bounded whatever the rule
        _check_criteria(checks, c.criteria)
    if c.rule == "weighted-criteria":
        if c.ballot_kind is not None and c.ballot_kind not in rules.BALLOT_KINDS:
            errors["ballot_kind"] = BALLOT_KIND_UNKNOWN
    elif c.ballot_kind is None:
        if c.rule in rules.RULES:  # an unknown rule is the mistake to fix first: what it reads is not known
            errors["ballot_kind"] = Message(N_("jenis surat suara wajib diisi untuk aturan %(rule)s: approval,"
                                               " cumulative, choose-1 atau ordinal"), rule=c.rule)  # fmt: skip
    elif c.ballot_kind not in rules.BALLOT_KINDS:
        errors["ballot_kind"] = BALLOT_KIND_UNKNOWN
    elif c.rule.startswith("equalshares") and c.ballot_kind not in ("approval", "choose-1"):
        errors["ballot_kind"] = N_("Equal Shares memerlukan surat suara persetujuan")
    elif c.ballot_kind == "ordinal" and "max_length" not in c.rule_params:
        errors["rule_params"] = N_("surat suara berurutan memerlukan panjang daftar (max_length)")
    if c.rule == "greedy-threshold" and "min_project_score_threshold" not in c.rule_params:
        errors["rule_params"] = N_("aturan ambang memerlukan nilai minimum (min_project_score_threshold)")
    for key, value in c.rule_params.items():
        if key not in RULE_PARAMS:
            checks.fail("rule_params", N_("parameter aturan tidak dikenal"))
        elif key == "max_sum_cost":  # an amount of money, not a count
            checks.check("rule_params", bounds.rupiah, value, zero=True)
        else:
            checks.check("rule_params", bounds.whole, value, 0, bounds.MAX_COUNT)
    if c.money_scale not in MONEY_SCALES or (c.money_scale != 1 and c.origin != "pabulib"):
        errors["money_scale"] = N_("satuan uang tidak dikenal")
    _check_exclusive(checks, c)
    if c.quota is not None:
        if isinstance(c.quota, int) and c.quota < 1:
            errors["quota"] = N_("kuota paling sedikit 1")
        checks.check("quota", bounds.whole, c.quota, 1, bounds.MAX_ITEMS)
    checks.done()
    return ForumScheduled(**(msgspec.structs.asdict(c) | {"title": title, "place": place, "chair": chair,
                                                          "region": region}))  # fmt: skip


RULE_PARAMS = ("min_project_score_threshold", "max_sum_points", "min_length", "max_length", "max_sum_cost")
"""The rule parameters a forum may carry (Pabulib's names); which ones a rule reads is in `select`.
min_length and max_sum_cost are recorded, not enforced on ballots: an imported election's ballots are
the ones its official count counted, whatever their length or total cost."""
MAX_CRITERIA = 20
MONEY_SCALES = tuple(10**k for k in range(7))
"""Rupiah (1) or an imported election's smallest unit, down to a millionth of its currency."""


def _check_exclusive(checks: bounds.Checks, c: ScheduleForum) -> None:
    """Groups of at least two distinct items, and only for the rule that reads them."""
    if not c.exclusive:
        return
    if c.rule != "greedy-exclusive":
        checks.fail("exclusive", N_("usulan yang saling meniadakan hanya untuk aturan greedy-exclusive"))
        return
    if len(c.exclusive) > bounds.MAX_ITEMS or any(len(set(g)) != len(g) or len(g) < 2 for g in c.exclusive):
        checks.fail("exclusive", N_("setiap kelompok memuat paling sedikit dua usulan yang berbeda"))
        return
    for group in c.exclusive:
        for item in group:
            checks.text("exclusive", item, bounds.CODE, required=True)


def _check_criteria(checks: bounds.Checks, criteria: tuple[Criterion, ...]) -> None:
    if (
        not criteria
        or len(criteria) > MAX_CRITERIA
        or any(isinstance(k.weight, bool) or not isinstance(k.weight, int) or not 1 <= k.weight <= 10 for k in criteria)
    ):
        checks.fail("criteria", N_("kriteria perlu bobot antara 1 dan 10"))
        return
    if len({k.key for k in criteria}) != len(criteria):
        checks.fail("criteria", N_("kunci kriteria harus berbeda"))
    for k in criteria:
        checks.check("criteria", bounds.identifier, k.key, max_length=40)
        checks.text("criteria", k.label, bounds.NAME, required=True)


def person_key(name: str, represents: str) -> tuple[str, str]:
    """How two registrations are told to be of one person: the same name and the same group represented,
    letter case and spacing aside ("Siti  Aminah", "siti aminah")."""
    return " ".join(name.casefold().split()), " ".join(represents.casefold().split())


def row_number(state: Forum, delegate_id: str) -> int:
    """The delegate's number in the list of delegates as the forum's page shows it (1, 2, ...)."""
    return next((n for n, d in enumerate(state.delegates, start=1) if d == delegate_id), 0)


def _same_name_refused(state: Forum, other: str) -> ValidationFailed:
    """The refusal of a registration (or correction) that looks like the delegate `other`, registered already:
    named as the desk knows them (name, whom they represent, their number on the list), not by an id."""
    known = state.delegates[other]
    row = row_number(state, other)
    message = (Message(N_("%(name)s yang mewakili %(represents)s sudah terdaftar sebagai peserta nomor %(row)d: bila"
                          " ini orang lain dengan nama yang sama, nyatakan demikian"),
                       name=known.name, represents=known.represents, row=row)
               if known.represents else
               Message(N_("%(name)s sudah terdaftar sebagai peserta nomor %(row)d: bila ini orang lain dengan nama"
                          " yang sama, nyatakan demikian"), name=known.name, row=row))  # fmt: skip
    return ValidationFailed({"same_name_confirmed": message})


def _register(state: Forum, forum_id: str, c: RegisterDelegate) -> DelegateRegistered:
    """The event of a cleaned registration, refused when it looks like a delegate registered already (the
    same name for the same group under another id) and that is not confirmed."""
    other = state.people.get(person_key(c.name, c.represents))
    if other is not None and not c.same_name_confirmed:
        raise _same_name_refused(state, other)
    return DelegateRegistered(forum_id=forum_id, delegate_id=c.delegate_id, name=c.name, role=c.role,
                              represents=c.represents, gender=c.gender)  # fmt: skip


def _registered(state: Forum, delegate_id: str) -> DelegateRegistered:
    known = state.delegates.get(delegate_id)
    if known is None:
        if delegate_id in state.withdrawn:
            raise DomainError(N_("peserta ini sudah ditarik dari musyawarah"))
        raise NotFound(N_("peserta tidak terdaftar di musyawarah ini"))
    return known


def _correct(state: Forum, forum_id: str, c: CorrectDelegate) -> DelegateCorrected:
    """A correction of a delegate registered: cleaned and bounded as a registration, with a reason, changing
    something, and refused (unless confirmed) when it makes them look like another delegate registered."""
    known = _registered(state, c.delegate_id)
    checks = bounds.Checks()
    reason = checks.text("reason", c.reason, bounds.REASON, multiline=True)
    if not reason and "reason" not in checks.errors:
        checks.fail("reason", N_("tulis alasan perbaikan"))
    try:  # every mistake at once: the delegate's fields as a registration's, and the reason
        cleaned = _delegate(RegisterDelegate(delegate_id=c.delegate_id, name=c.name, represents=c.represents,
                                             role=known.role if c.role is None else c.role, gender=c.gender))
    except ValidationFailed as exc:
        raise ValidationFailed({**exc.errors, **checks.errors}) from None
    checks.done()
    if (cleaned.name, cleaned.role, cleaned.represents, cleaned.gender) == (
            known.name, known.role, known.represents, known.gender):  # fmt: skip
        raise ValidationFailed({"name": N_("tidak ada yang diubah: ubah nama, yang diwakili atau jenis kelamin")})
    key = person_key(cleaned.name, cleaned.represents)
    if not c.same_name_confirmed and key != person_key(known.name, known.represents):
        other = next((d for d, x in state.delegates.items() if d != c.delegate_id
                      and person_key(x.name, x.represents) == key), None)  # fmt: skip
        if other is not None:
            raise _same_name_refused(state, other)
    return DelegateCorrected(forum_id=forum_id, delegate_id=c.delegate_id, name=cleaned.name, role=cleaned.role,
                             represents=cleaned.represents, gender=cleaned.gender, reason=reason)  # fmt: skip


def _withdraw(state: Forum, forum_id: str, c: WithdrawDelegate) -> DelegateWithdrawn:
    """A delegate registered by mistake, taken off with a reason: not one whose ballot or score sheet is in
    the log (part of the count: correct them instead), nor one mandated to the next level."""
    known = _registered(state, c.delegate_id)
    checks = bounds.Checks()
    reason = checks.text("reason", c.reason, bounds.REASON, multiline=True)
    if not reason and "reason" not in checks.errors:
        checks.fail("reason", N_("tulis alasan penarikan"))
    checks.done()
    if c.cast:
        raise DomainError(Message(
            N_("%(name)s sudah memberikan suara atau nilai, dan suaranya ikut dihitung: peserta ini tidak dapat"
               " ditarik. Bila nama, yang diwakili atau jenis kelaminnya keliru, perbaiki datanya."),
            name=known.name))  # fmt: skip
    if c.delegate_id in state.mandated:
        raise DomainError(Message(N_("%(name)s diutus ke tingkat berikutnya: ubah dulu delegasi yang diutus, lalu"
                                     " tarik peserta ini"), name=known.name))  # fmt: skip
    return DelegateWithdrawn(forum_id=forum_id, delegate_id=c.delegate_id, reason=reason)


def _people(delegates: Mapping[str, DelegateRegistered]) -> dict[tuple[str, str], str]:
    """`Forum.people` of these delegates (the first id of each person, in registration order)."""
    people: dict[tuple[str, str], str] = {}
    for d in delegates.values():
        people.setdefault(person_key(d.name, d.represents), d.delegate_id)
    return people


def _delegate(c: RegisterDelegate) -> RegisterDelegate:
    checks = bounds.Checks()
    checks.check("delegate_id", bounds.identifier, c.delegate_id)
    name = checks.text("name", c.name, bounds.NAME, required=True)
    role = checks.text("role", c.role, bounds.NAME)
    represents = checks.text("represents", c.represents, bounds.NAME)
    if c.gender not in ("", "P", "L"):
        checks.fail("gender", N_("jenis kelamin: P, L, atau kosong"))
    checks.done()
    return RegisterDelegate(delegate_id=c.delegate_id, name=name, role=role, represents=represents, gender=c.gender,
                            same_name_confirmed=c.same_name_confirmed)  # fmt: skip


def _check_agenda(agenda: tuple[AgendaItem, ...]) -> None:
    checks = bounds.Checks()
    if len(agenda) > bounds.MAX_ITEMS:
        checks.fail("agenda", Message(N_("agenda paling banyak %(max)d usulan"), max=bounds.MAX_ITEMS))
    for a in agenda:
        checks.text("agenda", a.item_id, bounds.CODE, required=True)
        checks.text("agenda", a.title, bounds.TITLE, required=True)
        checks.check("agenda", bounds.rupiah, a.cost, zero=True)
        checks.text("agenda", a.volume or "", 40)
        checks.text("agenda", a.unit or "", 60)
        checks.text("agenda", a.proposal or "", bounds.CODE)
        if a.kelurahan is not None:
            checks.check("agenda", bounds.region_code, a.kelurahan)
    checks.done()


def _must_be_open(state: Forum) -> None:
    if state.status != OPEN:
        raise DomainError(N_("musyawarah belum dibuka"))


def decide_ballot(forum: Forum, command: CastBallot) -> list[Event]:
    """Check a ballot against the forum's frozen rule and agenda."""
    if not forum.exists:
        raise NotFound(N_("musyawarah tidak ditemukan"))
    if forum.status == CLOSED:
        raise DomainError(N_("musyawarah sudah ditutup; surat suara tidak diterima lagi"))
    not_cancelled(forum)
    _must_be_open(forum)
    s = forum.scheduled
    if s.rule == "weighted-criteria":
        raise DomainError(N_("musyawarah ini memakai penilaian kriteria, bukan surat suara"))
    if command.delegate_id not in forum.delegates:
        raise DomainError(N_("peserta tidak terdaftar di musyawarah ini"))
    agenda = {a.item_id for a in forum.agenda}
    named = [*command.approvals, *command.points, *command.ranking]
    if any(i not in agenda for i in named):
        raise ValidationFailed({"ballot": N_("surat suara memuat usulan yang tidak ada dalam agenda")})
    if len(set(command.approvals)) != len(command.approvals) or len(set(command.ranking)) != len(command.ranking):
        raise ValidationFailed({"ballot": N_("satu usulan hanya boleh dipilih sekali")})
    p = s.rule_params
    kind = s.ballot_kind
    if kind in ("approval", "choose-1"):
        chosen = command.approvals
        if command.points or command.ranking:
            raise ValidationFailed({"ballot": N_("surat suara ini hanya memuat pilihan")})
        if kind == "choose-1" and len(chosen) > 1:
            raise ValidationFailed({"ballot": N_("pilih satu usulan saja")})
    elif kind == "cumulative":
        chosen = tuple(command.points)
        if (
            command.approvals
            or command.ranking
            or any(isinstance(v, bool) or not 0 < v <= bounds.MAX_COUNT for v in command.points.values())
        ):
            raise ValidationFailed({"ballot": N_("bagikan poin (bilangan bulat positif) kepada usulan")})
        if "max_sum_points" in p and sum(command.points.values()) > p["max_sum_points"]:
            raise ValidationFailed({"ballot": Message(N_("paling banyak %(max)d poin"), max=p["max_sum_points"])})
    else:
        chosen = command.ranking
        if command.approvals or command.points:
            raise ValidationFailed({"ballot": N_("surat suara ini memuat urutan usulan")})
    if "max_length" in p and len(chosen) > p["max_length"]:
        raise ValidationFailed({"ballot": Message(N_("paling banyak %(max)d usulan"), max=p["max_length"])})
    return [BallotCast(forum_id=s.forum_id, **msgspec.structs.asdict(command))]


def decide_scores(forum: Forum, command: GiveScores) -> list[Event]:
    if not forum.exists:
        raise NotFound(N_("musyawarah tidak ditemukan"))
    if forum.status == CLOSED:
        raise DomainError(N_("musyawarah sudah ditutup; nilai tidak diterima lagi"))
    not_cancelled(forum)
    _must_be_open(forum)
    s = forum.scheduled
    if s.rule != "weighted-criteria":
        raise DomainError(N_("musyawarah ini memakai surat suara, bukan penilaian kriteria"))
    if command.sheet != "konsensus" and command.sheet not in forum.delegates:
        raise DomainError(N_("peserta tidak terdaftar di musyawarah ini"))
    agenda = {a.item_id for a in forum.agenda}
    criteria = {c.key for c in s.criteria}
    for item, marks in command.marks.items():
        if item not in agenda:
            raise ValidationFailed({"marks": N_("penilaian memuat usulan yang tidak ada dalam agenda")})
        if set(marks) != criteria:
            raise ValidationFailed({"marks": N_("nilai setiap kriteria, tidak lebih dan tidak kurang")})
        if any(not 1 <= m <= 5 for m in marks.values()):
            raise ValidationFailed({"marks": N_("nilai antara 1 dan 5")})
    return [ScoresGiven(forum_id=s.forum_id, **msgspec.structs.asdict(command))]


def amended_sheet(
    saved: Mapping[str, Mapping[str, int]], changes: Mapping[str, Mapping[str, int] | None]
) -> dict[str, dict[str, int]]:
    """The whole sheet after a form that changed some of its rows (None: that item is no longer scored).
    A sheet replaces the one before it, so the rows a form did not touch are taken from the sheet as the
    log holds it when the new one is appended, not as the form's page showed it."""
    sheet = {item: dict(marks) for item, marks in saved.items()}
    for item, marks in changes.items():
        if marks is None:
            sheet.pop(item, None)
        else:
            sheet[item] = dict(marks)
    return sheet


def evolve(state: Forum, event: Event) -> Forum:
    """The next state. States are threaded linearly (load, decide, evolve, never back): registering a
    delegate adds to the previous state's delegate map instead of copying it, because an imported
    election registers tens of thousands and copying would make loading quadratic."""
    match event:
        case ForumScheduled():
            return Forum(schedule=event, status=SCHEDULED, delegates={}, folded={}, people={}, withdrawn={})
        case DelegateRegistered():
            state.delegates[event.delegate_id] = event
            if state.scheduled.origin == "musrenbang":
                state.folded.setdefault(event.delegate_id.casefold(), event.delegate_id)
                state.people.setdefault(person_key(event.name, event.represents), event.delegate_id)
            return state
        case DelegateCorrected():
            known = state.delegates.get(event.delegate_id)
            if known is None:  # not registered (a log no desk wrote): nothing to correct
                return state
            corrected = msgspec.structs.replace(known, name=event.name, role=event.role, represents=event.represents,
                                                gender=event.gender)  # fmt: skip
            delegates = {**state.delegates, event.delegate_id: corrected}  # its place in the list kept
            people = _people(delegates) if state.scheduled.origin == "musrenbang" else state.people
            return msgspec.structs.replace(state, delegates=delegates, people=people)
        case DelegateWithdrawn():
            if event.delegate_id not in state.delegates:
                return state
            delegates = {d: x for d, x in state.delegates.items() if d != event.delegate_id}
            people = _people(delegates) if state.scheduled.origin == "musrenbang" else state.people
            return msgspec.structs.replace(state, delegates=delegates, people=people,
                                           withdrawn={**state.withdrawn, event.delegate_id: event})  # fmt: skip
        case ForumOpened():
            return msgspec.structs.replace(state, status=OPEN, agenda=event.agenda)
        case ItemAdjusted():
            return msgspec.structs.replace(state, adjustments={**state.adjustments, event.item_id: event})
        case DelegatesMandated():
            return msgspec.structs.replace(state, mandated=event.delegate_ids)
        case ForumClosed():
            return msgspec.structs.replace(state, status=CLOSED, result=event.result)
        case ForumCancelled():
            return msgspec.structs.replace(state, status=CANCELLED, cancel_reason=event.reason)
    return state


def latest(ballots: Sequence[BallotCast]) -> list[BallotCast]:
    """The ballot that counts for each delegate: the last one cast."""
    by_delegate: dict[str, BallotCast] = {}
    for b in ballots:
        by_delegate[b.delegate_id] = b
    return [by_delegate[d] for d in sorted(by_delegate)]


def compute_result(forum: Forum, ballots: Sequence[BallotCast], sheets: Sequence[ScoresGiven]) -> ForumResult:
    """The forum's result from its frozen rule, its agenda (with agreed costs) and the latest ballot of
    each delegate / latest marks of each sheet. Pure: the same events always give the same result."""
    s = forum.scheduled
    items = forum.items()
    ballots = latest(ballots)
    by_sheet: dict[str, ScoresGiven] = {}
    for sheet in sheets:
        by_sheet[sheet.sheet] = sheet
    sheet_list = [by_sheet[k] for k in sorted(by_sheet)]
    selection = select(s, items, ballots, sheet_list)
    costs = {i.id: i.cost for i in items}
    ranking = tuple(
        RankedItem(
            item_id=item,
            rank=n,
            score=_exact(selection.scores.get(item, Fraction(0))),
            cost=costs[item],
            selected=item in selection.selected,
            reason=selection.reasons.get(item),
        )  # fmt: skip
        for n, item in enumerate(selection.ranking, start=1)
    )
    return ForumResult(
        ranking=ranking,
        spent=sum(costs[i] for i in selection.selected),
        ballots=len(ballots),
        sheets=len(sheet_list),
    )


def select(
    s: ForumScheduled, items: Sequence[rules.Item], ballots: Sequence[BallotCast], sheets: Sequence[ScoresGiven]
) -> rules.Selection:
    """Apply the forum's rule (see domain/rules.py for each rule's definition)."""
    p = s.rule_params
    if s.rule == "weighted-criteria":
        weights = {c.key: c.weight for c in s.criteria}
        scores: Mapping[str, Fraction | int] = rules.weighted_criteria_scores([x.marks for x in sheets], weights)
        return rules.greedy(items, scores, s.ceiling, quota=s.quota)
    if s.rule.startswith("equalshares"):
        approvals = [frozenset(b.approvals) for b in ballots]
        completion = "add1" if s.rule.startswith("equalshares/add1") else None
        # add1 raises each share by one unit of the currency, whatever unit the amounts are in
        mes = rules.equal_shares(items, approvals, s.ceiling, completion=completion, step=s.money_scale)
        if s.rule.endswith("-comparison"):
            return rules.compare_with_greedy(mes, items, approvals, s.ceiling)
        return mes
    scores = ballot_scores(s, ballots)
    threshold = p.get("min_project_score_threshold")
    return rules.greedy(items, scores, s.ceiling, skip=s.rule != "greedy-no-skip", threshold=threshold,
                        quota=s.quota, exclusive=s.exclusive)  # fmt: skip


def ballot_scores(s: ForumScheduled, ballots: Sequence[BallotCast]) -> Mapping[str, int]:
    """Votes (approval, choose-1) or points (cumulative, ordinal) per item."""
    match s.ballot_kind:
        case "cumulative":
            return rules.cumulative_scores(b.points for b in ballots)
        case "ordinal":
            return rules.ordinal_scores((b.ranking for b in ballots), s.rule_params["max_length"])
        case _:
            return rules.approval_scores(b.approvals for b in ballots)


def _exact(value: Fraction) -> str:
    return str(value.numerator) if value.denominator == 1 else f"{value.numerator}/{value.denominator}"
