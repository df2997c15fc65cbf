"""The planning cycle: one per RKPD year, with its theme, priority programs, the pagu indikatif of each
kecamatan, and a calendar: the window (first and last day) of each stage.

Stages enforce themselves: what a stage allows (a resident's proposal, a forum of a level) is allowed
only inside that stage's window, judged on the day the command arrives, so nothing has to remember to
move the cycle on. Several cycles coexist (year N is planned while year N-1 is carried out); each has
its own calendar. Bappeda can move a window (most often: extend it) with a reason, or close the current
stage early (`AdvanceStage`), and both are recorded. Once the RKPD of the year is adopted the cycle is
`ditetapkan`: nothing more is added to it except through the RKPD's own amendment path (domain/rkpd.py).

Cycles opened before calendars existed carry none: their stage moved only by `AdvanceStage` and nothing
but adoption closes them.

A cycle opened by mistake (a wrong year typed, a wrong theme or pagu) can be cancelled while nothing was
made in it (`CancelCycle`; services/cycles.py checks that no proposal, forum or city-level record of the
year exists, holding the year's cycle lock that everything made in a year holds shared): nothing is
stranded, and the year may be opened again. An adopted cycle never is.

Until when a year takes proposals. A resident's proposal reaches the RKPD only through a Musrenbang
Kelurahan/Desa, which takes it on its agenda when it opens (verified by then), and such a forum opens only
inside the kelurahan stage's window (services/forums.py) and never once the year's Forum Perangkat Daerah
has closed or its RKPD is adopted (what it forwarded could no longer be taken up). A proposal that comes in
after any of these can never be decided and ends `tidak_diproses` at the adoption. So a year takes
proposals while its "usulan" window is open, and at the latest to the last day of its kelurahan window
(`Cycle.last_day`: the day the last kelurahan forum may still open), to its Forum Perangkat Daerah's close
(which is on the year's RKPD stream: the caller says, `takes_proposals`) and to its adoption. The proposals
precede the kelurahan forums (DOMAIN.md: the RW lists are the Musrenbang Kelurahan's input), so a new
calendar, a moved window or an advanced stage never leaves the "usulan" window closing after the kelurahan
one (`_submissions_before_kelurahan`); calendars recorded before that rule are read with the same bound.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Container, Sequence

import msgspec

from musrenbang.domain import bounds, values
from musrenbang.domain.errors import N_, AlreadyExists, DomainError, Message, NotFound, Term, ValidationFailed
from musrenbang.domain.events import (
    CycleCancelled,
    CycleStageAdvanced,
    CycleStarted,
    CycleWindowChanged,
    Event,
    KecamatanCeiling,
    StageWindow,
)

# The common chain of stages (DOMAIN.md, "Levels and stages"), in order.
STAGE_LABELS = {
    "usulan": N_("Pengajuan usulan warga"),
    "kelurahan": N_("Musrenbang Kelurahan/Desa"),
    "kecamatan": N_("Musrenbang Kecamatan"),
    "perangkat_daerah": N_("Forum Perangkat Daerah"),
    "kota": N_("Musrenbang Kota"),
    "ditetapkan": N_("RKPD ditetapkan"),
}
STAGES: tuple[str, ...] = tuple(STAGE_LABELS)
SUBMISSIONS, KELURAHAN = STAGES[0], STAGES[1]
"""The residents' proposals' stage, and the stage whose forums take them up (module docstring)."""
FORUM_STAGES = (KELURAHAN, "kecamatan")
"""The stages whose forums the residents' proposals go through, before the city level's."""
ADVANCED = N_("tahap berikutnya dimajukan")
"""The reason recorded with the windows `AdvanceStage` moves (a fixed text, so pages can translate it)."""
WINDOW_LABELS = {**STAGE_LABELS, "ditetapkan": N_("Penetapan RKPD")}
"""A stage's window as a calendar names it: the last one is when the RKPD is set, not that it is."""
ADOPTED = "ditetapkan"
LEVEL_STAGE = {"kelurahan": "kelurahan", "kecamatan": "kecamatan", "kota": "kota"}
"""The stage in whose window the forums of a level are held."""
MAX_PROGRAMS = 20
MAX_KECAMATAN = 1_000


def stream_id(year: int) -> str:
    return f"cycle-{year}"


class Cycle(msgspec.Struct, frozen=True, kw_only=True):
    year: int | None = None
    region: str = ""
    theme: str = ""
    priority_programs: tuple[str, ...] = ()
    priority_targets: tuple[str, ...] = ()
    calendar: dict[str, StageWindow] = {}
    pagu_kecamatan: dict[str, int] = {}
    dana_kelurahan: int | None = None
    stage: str | None = None
    """The stage as last recorded by `CycleStageAdvanced` (all a cycle without a calendar has)."""
    adopted: bool = False

    @property
    def exists(self) -> bool:
        return self.year is not None

    def stage_on(self, today: dt.date) -> str:
        """Where the cycle stands on `today`: `ditetapkan` once adopted; otherwise the last stage whose
        window has opened (the first stage before any has)."""
        if self.adopted:
            return ADOPTED
        if not self.calendar:
            return self.stage or STAGES[0]
        opened = [s for s in STAGES[:-1] if s in self.calendar and self.calendar[s].opens <= today]
        return opened[-1] if opened else STAGES[0]

    def is_open(self, stage: str, today: dt.date) -> bool:
        """Whether `stage` allows what it is for on `today` (always, in a cycle without a calendar, until
        the RKPD is adopted): from its window's opening to its `last_day`."""
        if self.adopted:
            return False
        window = self.calendar.get(stage)
        if not self.calendar:
            return True
        last = self.last_day(stage)
        return window is not None and last is not None and window.opens <= today <= last

    def last_day(self, stage: str) -> dt.date | None:
        """The last day `stage` allows what it is for: its window's close, and for the proposals no later
        than the kelurahan window's (module docstring: one that came in later could reach no forum). A
        calendar recorded before that bound was a rule may close them later; it is read with it."""
        window = self.calendar.get(stage)
        if window is None:
            return None
        kelurahan = self.calendar.get(KELURAHAN)
        if stage == SUBMISSIONS and kelurahan is not None:
            return min(window.closes, kelurahan.closes)
        return window.closes

    def takes_proposals(self, today: dt.date, *, forum_pd_closed: bool) -> bool:
        """Whether a proposal for this year is accepted on `today`: the "usulan" stage open (to its
        `last_day`) and the Forum Perangkat Daerah, whose close the year's RKPD stream records
        (`forum_pd_closed`), not closed (module docstring)."""
        return not forum_pd_closed and self.is_open(SUBMISSIONS, today)

    def shows_open(self, stage: str, today: dt.date, *, forum_pd_closed: bool) -> bool:
        """Whether the calendar shows `stage` open on `today` (pages, the API, `cycle list`): as `is_open`,
        the proposals as `takes_proposals`, and no kelurahan or kecamatan stage once the Forum Perangkat
        Daerah closed — no forum of theirs is scheduled, opened or closed then (services/forums.py), though
        Bappeda may have extended their windows past it."""
        if stage == SUBMISSIONS:
            return self.takes_proposals(today, forum_pd_closed=forum_pd_closed)
        if forum_pd_closed and stage in FORUM_STAGES:
            return False
        return self.is_open(stage, today)

    def next_opening(self, stage: str, today: dt.date) -> dt.date | None:
        """When `stage` opens, if that is still to come."""
        window = self.calendar.get(stage)
        return window.opens if window is not None and window.opens > today and not self.adopted else None


class StartCycle(msgspec.Struct, frozen=True, kw_only=True):
    year: int
    region: str
    theme: str
    priority_programs: tuple[str, ...]
    kickoff_on: dt.date | None = None
    calendar: tuple[StageWindow, ...] = ()
    pagu_kecamatan: tuple[KecamatanCeiling, ...] = ()
    priority_targets: tuple[str, ...] = ()
    dana_kelurahan: int | None = None
    has_kelurahan: bool = True
    """Whether the region has kelurahan (its reference data; services/cycles.py reads it): Dana Kelurahan per
    kelurahan is set only where there are kelurahan to receive it (`_dana_kelurahan`)."""
    require_calendar: bool = True
    """False only for the legacy first cycle of old tests and histories: new cycles have a calendar."""
    today: dt.date | None = None
    """The city's day the command arrives on (services/cycles.py gives it): how late a stage may close
    (`_of_the_year`). None (a caller stating no day): the RKPD year's own end."""


class AdvanceStage(msgspec.Struct, frozen=True, kw_only=True):
    """Open the next stage today (at the latest), the current one ending at the end of today (`_advance`)."""

    year: int
    today: dt.date


class ChangeWindow(msgspec.Struct, frozen=True, kw_only=True):
    year: int
    stage: str
    opens: dt.date
    closes: dt.date
    reason: str
    today: dt.date | None = None
    """The city's day the change arrives on (services/cycles.py gives it), as in `StartCycle`; it also
    keeps a stage reached by `AdvanceStage` from being put back in the future (`_in_order`)."""


class CancelCycle(msgspec.Struct, frozen=True, kw_only=True):
    """Withdraw a cycle opened by mistake (module docstring); services/cycles.py checks that nothing was
    made in the year."""

    year: int
    reason: str


class RecordAdoption(msgspec.Struct, frozen=True, kw_only=True):
    """The RKPD of the year was adopted (recorded with the adoption itself, services/rkpd.py)."""

    year: int
    today: dt.date


Command = StartCycle | AdvanceStage | ChangeWindow | RecordAdoption | CancelCycle


def decide(state: Cycle, command: Command) -> list[Event]:
    if isinstance(command, StartCycle):
        if state.adopted:  # "already opened" would send the operator looking for a window to change
            raise AlreadyExists(Message(N_("RKPD %(year)d sudah ditetapkan: siklusnya sudah selesai dan tidak dapat"
                                           " dibuka lagi"), year=command.year))  # fmt: skip
        if state.exists:
            raise AlreadyExists(Message(N_("siklus RKPD %(year)d sudah dibuka"), year=command.year))
        return [_start(command)]
    if not state.exists:
        raise NotFound(Message(N_("siklus RKPD %(year)d belum dibuka"), year=command.year))
    match command:
        case AdvanceStage():
            return _advance(state, command)
        case ChangeWindow():
            if state.adopted:
                raise DomainError(Message(N_("RKPD %(year)d sudah ditetapkan"), year=command.year))
            if not state.calendar:
                raise DomainError(N_("siklus ini dibuka tanpa kalender"))
            checks = bounds.Checks()
            if command.stage not in STAGES:
                checks.fail("stage", N_("tahap tidak dikenal"))
            _window(checks, "closes", command.opens, command.closes, state.year or command.year, command.today,
                    opens_field="opens")
            if command.stage in STAGES and isinstance(command.opens, dt.date):
                _in_order(checks, state, command.stage, command.opens, command.today)
            if command.stage in STAGES and isinstance(command.closes, dt.date):
                _close_keeps_the_past(checks, state, command.stage, command.closes, command.today)
                _submissions_before_kelurahan(checks, state, command.stage, command.closes)
            reason = checks.text("reason", command.reason, bounds.REASON, required=True)
            checks.done()
            return [CycleWindowChanged(year=command.year, stage=command.stage, opens=command.opens,
                                       closes=command.closes, reason=reason)]  # fmt: skip
        case RecordAdoption():
            if state.adopted:
                return []  # a later revision of an adopted RKPD: the cycle is ditetapkan already
            return [CycleStageAdvanced(year=command.year, stage=ADOPTED, on=command.today)]
        case CancelCycle():
            return [_cancel(state, command)]
    raise TypeError(f"unknown command {command!r}")


def _advance(state: Cycle, command: AdvanceStage) -> list[Event]:
    """The next stage opened today: the windows it moves, each recorded as a window change of its own
    (`_windows_advanced`), then the stage reached. The stage event carries no day (`on`) when the calendar
    moved with window changes: evolving it moves nothing more (`_advanced` is for the advances recorded
    before, which ended the windows the day before)."""
    if state.adopted:
        raise DomainError(Message(N_("RKPD %(year)d sudah ditetapkan"), year=command.year))
    first = state.calendar.get(STAGES[0])
    if first is not None and command.today < first.opens:
        raise DomainError(Message(N_("belum ada tahap RKPD %(year)d yang dibuka: ubah jadwalnya bila perlu"),
                                  year=command.year))  # fmt: skip
    current = state.stage_on(command.today)
    following = STAGES[STAGES.index(current) + 1]
    opened = state.calendar.get(current)
    if opened is not None and opened.opens >= command.today:
        # Advanced twice in a day (a button pressed twice, a command run again), the stage between would be
        # opened and ended by the same hand on the same day, with nothing done in it.
        raise DomainError(Message(N_("tahap %(stage)s baru dibuka hari ini: tahap berikutnya dapat"
                                     " dimajukan mulai besok, atau ubah jadwalnya"),
                                  stage=Term(WINDOW_LABELS.get(current, current))))  # fmt: skip
    if following == ADOPTED:
        raise DomainError(N_("tahap terakhir dicapai dengan menetapkan RKPD, bukan dengan memajukan tahap"))
    if not state.calendar:
        return [CycleStageAdvanced(year=command.year, stage=following, on=command.today)]
    return [*_windows_advanced(state, following, command.today),
            CycleStageAdvanced(year=command.year, stage=following)]  # fmt: skip


def _windows_advanced(state: Cycle, following: str, today: dt.date) -> list[CycleWindowChanged]:
    """The windows an advance to `following` on `today` moves, as changes listed like any other (reason
    `ADVANCED`): every stage before it that would still be open after today ends at the end of today, so
    that what came in today (a proposal, a forum) stays inside its window (`_close_keeps_the_past`), and
    `following` opens today at the latest, closing no earlier. Ending the submissions with their stage or a
    later one keeps them within the kelurahan window (`_submissions_before_kelurahan`)."""
    assert state.year is not None  # an existing cycle
    moved = []
    for stage in STAGES[: STAGES.index(following)]:
        w = state.calendar.get(stage)
        if w is not None and w.opens <= today < w.closes:
            moved.append(CycleWindowChanged(year=state.year, stage=stage, opens=w.opens, closes=today, reason=ADVANCED))
    w = state.calendar.get(following)
    if w is not None and not w.opens <= today <= w.closes:
        moved.append(CycleWindowChanged(year=state.year, stage=following, opens=min(w.opens, today),
                                        closes=max(w.closes, today), reason=ADVANCED))  # fmt: skip
    return moved


def _cancel(state: Cycle, command: CancelCycle) -> CycleCancelled:
    """Not once adopted (the year's RKPD is the city's); whether anything was made in the year is the
    service's to check (it needs the log and the read models). Which stages opened does not matter: a year
    typed wrong gets a calendar in the past, open at once, and nothing made in it means nobody used it."""
    if state.adopted:
        raise DomainError(Message(N_("RKPD %(year)d sudah ditetapkan"), year=command.year))
    checks = bounds.Checks()
    reason = checks.text("reason", command.reason, bounds.REASON, required=True)
    checks.done()
    return CycleCancelled(year=command.year, reason=reason)


def _start(command: StartCycle) -> CycleStarted:
    checks = bounds.Checks()
    checks.check("year", bounds.year, command.year)
    checks.check("region", bounds.region_code, command.region)
    checks.check("kickoff_on", bounds.date, command.kickoff_on)
    theme = checks.text("theme", command.theme, bounds.LONG_TITLE, required=True)
    if not command.priority_programs or len(command.priority_programs) > MAX_PROGRAMS:
        checks.fail("priority_programs", N_("program prioritas wajib diisi (paling banyak 20)"))
    programs = tuple(checks.text("priority_programs", p, bounds.TITLE, required=True)
                     for p in command.priority_programs)  # fmt: skip
    _distinct_programs(checks, programs)
    if command.priority_targets and len(command.priority_targets) != len(command.priority_programs):
        checks.fail("priority_targets",
                    N_("sasaran daerah diisi untuk setiap program prioritas, atau tidak sama sekali"))  # fmt: skip
    targets = tuple(checks.text("priority_targets", t, bounds.TITLE) for t in command.priority_targets)
    calendar = _calendar(checks, command.calendar, required=command.require_calendar, year=command.year,
                         today=command.today)  # fmt: skip
    if isinstance(command.kickoff_on, dt.date):
        _of_the_year(checks, "kickoff_on", command.year, command.kickoff_on, command.today)
    ceilings = _ceilings(checks, command.pagu_kecamatan)
    _dana_kelurahan(checks, command.dana_kelurahan, command.has_kelurahan)
    checks.done()
    return CycleStarted(year=command.year, region=command.region, theme=theme, priority_programs=programs,
                        kickoff_on=command.kickoff_on, calendar=calendar, pagu_kecamatan=ceilings,
                        priority_targets=targets, dana_kelurahan=command.dana_kelurahan)  # fmt: skip


def _dana_kelurahan(checks: bounds.Checks, amount: int | None, has_kelurahan: bool) -> None:
    """Dana Kelurahan goes to kelurahan only (Permendagri 130/2018): a region whose villages are all desa (a
    kabupaten such as Aceh Selatan) sets no amount per kelurahan, which no line could ever use."""
    if amount is None:
        return
    if not has_kelurahan:
        checks.fail("dana_kelurahan", N_("Dana Kelurahan hanya untuk kelurahan, dan wilayah ini tidak mempunyai"
                                         " kelurahan: kosongkan Dana Kelurahan per kelurahan"))  # fmt: skip
    else:
        checks.check("dana_kelurahan", bounds.rupiah, amount, zero=True)


def _distinct_programs(checks: bounds.Checks, programs: tuple[str, ...]) -> None:
    """No two priority programs alike: proposals and RKPD lines name a program by its number, and two
    programs of one title (once trimmed, its spaces collapsed and its case folded) left the choice between
    them to chance."""
    seen: set[str] = set()
    for title in programs:
        key = " ".join(title.split()).casefold()
        if key and key in seen:
            checks.fail("priority_programs", Message(N_("program prioritas tercantum dua kali: %(title)s"),
                                                     title=title))  # fmt: skip
            return
        seen.add(key)


def _calendar(checks: bounds.Checks, given: tuple[StageWindow, ...], *, required: bool, year: int,
              today: dt.date | None = None) -> tuple[StageWindow, ...]:  # fmt: skip
    """Every stage's window, in stage order: each opening no earlier than the one before and closing no
    later than the one after (windows may overlap, but keep their order), none before the RKPD of `year`
    can be planned nor after it is carried out (`_of_the_year`)."""
    if not given and not required:
        return ()
    by_stage = {w.stage: w for w in given}
    if len(by_stage) != len(given) or set(by_stage) != set(STAGES):
        checks.fail("calendar", Message(N_("kalender memuat tepat satu jadwal untuk setiap tahap: %(stages)s"),
                                        stages=", ".join(STAGES)))  # fmt: skip
        return ()
    ordered = tuple(by_stage[s] for s in STAGES)
    for window in ordered:
        _window(checks, f"calendar.{window.stage}", window.opens, window.closes, year, today)
    for before, after in zip(ordered, ordered[1:], strict=False):
        if not all(isinstance(d, dt.date) for d in (before.opens, before.closes, after.opens, after.closes)):
            continue  # said by `_window`
        if after.opens < before.opens:
            checks.fail(f"calendar.{after.stage}", N_("tahap ini tidak dapat dibuka sebelum tahap sebelumnya"))
        elif before.closes > after.closes:
            checks.fail(f"calendar.{before.stage}", Message(
                N_("tahap ini tidak dapat ditutup sesudah tahap berikutnya (%(stage)s, ditutup %(day)s)"),
                stage=Term(WINDOW_LABELS[after.stage]), day=values.long_date(after.closes)))  # fmt: skip
    return ordered


def _window(checks: bounds.Checks, field: str, opens: dt.date, closes: dt.date, year: int,
            today: dt.date | None = None, opens_field: str | None = None) -> None:  # fmt: skip
    """A window's days, what is wrong with them under `field` (a new calendar's `calendar.<stage>`), or,
    given `opens_field`, what is wrong with the opening day under that field (a moved window's `opens`)."""
    fields = (opens_field or field, field)
    for day, named in zip((opens, closes), fields, strict=True):
        if not isinstance(day, dt.date):
            checks.fail(named, N_("tanggal tidak sah"))
            return
        checks.check(named, bounds.date, day)
    if closes < opens:
        checks.fail(field, N_("tanggal tutup tidak boleh sebelum tanggal buka"))
    for day, named in zip((opens, closes), fields, strict=True):
        _of_the_year(checks, named, year, day, today)


def _of_the_year(checks: bounds.Checks, field: str, year: int, day: dt.date, today: dt.date | None = None) -> None:
    """The RKPD of `year` is planned during `year - 1`, proposals from December of the year before that: a
    day before `year - 2` is a mistyped year (RKPD 2030 opened with 2026's calendar took proposals beside
    RKPD 2027's).

    A later day is let be up to the last day of `year` itself: the RKPD of `year` is the plan carried out
    in `year`, so planning it can run late (a city adopting in its first months) but not past its end. A
    day after that is a mistyped year too (RKPD 2024 opened in 2026 took proposals until 2028, or a
    kick-off in 2099). The one exception is a year already past or current, recorded now on today's days
    (the demo's next year, taking proposals today; a test's calendar, open for a year from today): its
    stages may run to the end of the year after `today` (`today` None, a caller stating no day: no
    exception)."""
    if not bounds.MIN_YEAR <= year <= bounds.MAX_YEAR:
        return  # no such RKPD year: said by the year's own check
    first = dt.date(year - 2, 1, 1)
    last = dt.date(max(year, today.year + 1) if today is not None else year, 12, 31)
    if day < first:
        checks.fail(field, Message(N_("tanggal %(day)s terlalu awal untuk RKPD %(year)d: perencanaannya dimulai"
                                      " paling awal %(first)s"), day=values.long_date(day), year=year,
                                   first=values.long_date(first)))  # fmt: skip
    elif day > last:
        checks.fail(field, Message(N_("tanggal %(day)s terlalu akhir untuk RKPD %(year)d: perencanaannya selesai"
                                      " paling lambat %(last)s"), day=values.long_date(day), year=year,
                                   last=values.long_date(last)))  # fmt: skip


def _in_order(checks: bounds.Checks, state: Cycle, stage: str, opens: dt.date, today: dt.date | None = None) -> None:
    """A moved window keeps the stages opening in their order, as a new cycle's calendar must: one that
    opened before the stage before it, or after the one after it, made the stage of the day jump back and
    forth (checked here, under the stream's version, so the CLI and two changes at once keep it too). For
    the same reason the stage the cycle was moved on to by `AdvanceStage` (`state.stage`) keeps an opening
    no later than `today`: moved to a later day, the cycle went back to the stage before it with no window
    open, the recorded advance undone without a word.

    Closing days are not compared here, unlike a new calendar's: extending a window past the close of the
    next (the kelurahan forums given two weeks more while the kecamatan's close as planned) is the most common
    change Bappeda makes, and the year's bound (`_of_the_year`) keeps every window within the year. The one
    exception is the proposals' close against the kelurahan stage's (`_submissions_before_kelurahan`)."""
    position = STAGES.index(stage)
    before = state.calendar.get(STAGES[position - 1]) if position > 0 else None
    after = state.calendar.get(STAGES[position + 1]) if position + 1 < len(STAGES) else None
    if before is not None and opens < before.opens:
        checks.fail("opens", N_("tahap ini tidak dapat dibuka sebelum tahap sebelumnya"))
    elif after is not None and opens > after.opens:
        checks.fail("opens", Message(N_("tahap ini tidak dapat dibuka sesudah tahap berikutnya (%(stage)s, dibuka"
                                        " %(day)s)"), stage=Term(WINDOW_LABELS[after.stage]),
                                     day=values.long_date(after.opens)))  # fmt: skip
    elif today is not None and stage == state.stage and stage != STAGES[0] and opens > today:
        checks.fail("opens", Message(N_("tahap %(stage)s sudah dimulai dengan memajukan tahap: tanggal bukanya"
                                        " tidak dapat diundur sesudah hari ini (%(day)s)"),
                                     stage=Term(WINDOW_LABELS[stage]), day=values.long_date(today)))  # fmt: skip
    elif today is not None and (now := state.calendar.get(stage)) is not None and now.opens <= today < opens:
        # What came in since it opened came in inside its window; moved later, it would lie before it.
        checks.fail("opens", Message(N_("tahap %(stage)s sudah dibuka sejak %(since)s: tanggal bukanya tidak dapat"
                                        " diundur sesudah hari ini (%(day)s)"), stage=Term(WINDOW_LABELS[stage]),
                                     since=values.long_date(now.opens), day=values.long_date(today)))  # fmt: skip


def _close_keeps_the_past(checks: bounds.Checks, state: Cycle, stage: str, closes: dt.date,
                          today: dt.date | None) -> None:  # fmt: skip
    """The mirror of an opened window's opening (`_in_order`): what came in while the window was open came
    in inside it, so its close is not brought back over days it has been open. A window open today may be
    ended today at the earliest (as `AdvanceStage` ends one: what came in today stays inside; ending it
    yesterday left today's proposals outside every window); one that has closed keeps its last day or a
    later one. A window still to open moves as before."""
    now = state.calendar.get(stage)
    if today is None or now is None or now.opens > today:
        return
    earliest = min(now.closes, today)
    if closes < earliest:
        checks.fail("closes", Message(N_("tahap %(stage)s sudah dibuka sejak %(since)s: tanggal tutupnya tidak dapat"
                                         " dimajukan sebelum %(day)s"), stage=Term(WINDOW_LABELS[stage]),
                                      since=values.long_date(now.opens), day=values.long_date(earliest)))  # fmt: skip


def _submissions_before_kelurahan(checks: bounds.Checks, state: Cycle, stage: str, closes: dt.date) -> None:
    """A move of the "usulan" or the kelurahan window never leaves the proposals closing after the kelurahan
    forums (module docstring): extended alone, the proposals window once took two weeks of proposals that no
    forum could take up, its calendar showing it open, every one of them ending `tidak_diproses`. Refused
    with what to do instead: extend the kelurahan window first. A move of another stage is not refused
    for a calendar recorded before this rule (the bound is read into it, `Cycle.last_day`)."""
    if stage not in (SUBMISSIONS, KELURAHAN):
        return
    after = {**{s: w.closes for s, w in state.calendar.items()}, stage: closes}
    submissions, kelurahan = after.get(SUBMISSIONS), after.get(KELURAHAN)
    if submissions is not None and kelurahan is not None and submissions > kelurahan:
        checks.fail("closes", Message(N_("pengajuan usulan warga tidak dapat ditutup sesudah %(stage)s ditutup"
                                         " (%(day)s): usulan yang masuk sesudahnya tidak dapat lagi dibahas di"
                                         " musyawarah mana pun. Tutup pengajuan usulan paling lambat hari itu,"
                                         " atau perpanjang dulu jadwal %(stage)s."),
                                      stage=Term(WINDOW_LABELS[KELURAHAN]),
                                      day=values.long_date(kelurahan)))  # fmt: skip


def _ceilings(checks: bounds.Checks, given: tuple[KecamatanCeiling, ...]) -> tuple[KecamatanCeiling, ...]:
    if len(given) > MAX_KECAMATAN or len({c.kecamatan for c in given}) != len(given):
        checks.fail("pagu_kecamatan", N_("pagu indikatif: satu baris untuk setiap kecamatan"))
        return ()
    for ceiling in given:
        checks.check("pagu_kecamatan", bounds.region_code, ceiling.kecamatan)
        checks.check("pagu_kecamatan", bounds.rupiah, ceiling.pagu, zero=True)
    return tuple(sorted(given, key=lambda c: c.kecamatan))


def check_forum_day(state: Cycle, level: str, held_on: dt.date, today: dt.date) -> None:
    """A forum of `level` is held inside its stage's window, and is not scheduled once that window has
    closed or the RKPD is adopted (a cycle without a calendar: only the adoption counts)."""
    if state.adopted:
        raise DomainError(Message(N_("RKPD %(year)d sudah ditetapkan: tidak ada lagi yang dapat ditambahkan"
                                     " ke siklus ini"), year=state.year))  # fmt: skip
    stage = LEVEL_STAGE.get(level)
    window = state.calendar.get(stage) if stage else None
    if window is None:
        return
    label = Term(WINDOW_LABELS[window.stage])
    if today > window.closes:
        raise DomainError(Message(N_("jadwal %(stage)s RKPD %(year)d sudah ditutup sejak %(closes)s"), stage=label,
                                  year=state.year, closes=values.long_date(window.closes)))  # fmt: skip
    check_held_in_window(state, window.stage, held_on)


def check_held_in_window(state: Cycle, stage: str, held_on: dt.date) -> None:
    """A meeting of `stage` is dated inside that stage's window (any day, in a cycle without a calendar)."""
    window = state.calendar.get(stage)
    if window is not None and not window.opens <= held_on <= window.closes:
        outside = Message(N_("tanggal di luar jadwal %(stage)s RKPD %(year)d: %(opens)s sampai %(closes)s"),
                          stage=Term(WINDOW_LABELS[stage]), year=state.year, opens=values.long_date(window.opens),
                          closes=values.long_date(window.closes))  # fmt: skip
        raise ValidationFailed({"held_on": outside})


def check_takes_proposals(state: Cycle, today: dt.date, *, forum_pd_closed: bool) -> None:
    """Why the year of `state` takes no proposal on `today` though its "usulan" window may be open (module
    docstring): its Forum Perangkat Daerah has closed, or its kelurahan stage is over. The other refusals
    (no cycle, adopted, the window itself closed or still to open) are `services.cycles.check_open`'s."""
    if forum_pd_closed:
        raise DomainError(Message(N_("pengajuan usulan RKPD %(year)d sudah ditutup: Forum Perangkat Daerah RKPD"
                                     " %(year)d sudah ditutup, sehingga usulan baru tidak dapat lagi dibahas di"
                                     " musyawarah mana pun"), year=state.year))  # fmt: skip
    window, last = state.calendar.get(SUBMISSIONS), state.last_day(SUBMISSIONS)
    if window is not None and last is not None and last < today <= window.closes and window.opens <= today:
        raise DomainError(Message(N_("pengajuan usulan RKPD %(year)d sudah ditutup: %(stage)s berakhir %(day)s,"
                                     " sehingga usulan baru tidak dapat lagi dibahas di musyawarah mana pun"),
                                  year=state.year, stage=Term(WINDOW_LABELS[KELURAHAN]),
                                  day=values.long_date(last)))  # fmt: skip


def check_kecamatan(given: tuple[KecamatanCeiling, ...], kecamatan: Container[str]) -> None:
    """Every ceiling names a kecamatan of the city (the region codes are reference data)."""
    unknown = [c.kecamatan for c in given if c.kecamatan not in kecamatan]
    if unknown:
        raise DomainError(Message(N_("bukan kecamatan di wilayah ini: %(codes)s"), codes=", ".join(unknown[:5])))


def evolve(state: Cycle, event: Event) -> Cycle:
    match event:
        case CycleStarted():
            return Cycle(year=event.year, region=event.region, theme=event.theme,
                         priority_programs=event.priority_programs, priority_targets=event.priority_targets,
                         calendar={w.stage: w for w in event.calendar},
                         pagu_kecamatan={c.kecamatan: c.pagu for c in event.pagu_kecamatan},
                         dana_kelurahan=event.dana_kelurahan, stage=STAGES[0])  # fmt: skip
        case CycleStageAdvanced():
            if event.stage == ADOPTED:
                return msgspec.structs.replace(state, stage=ADOPTED, adopted=True)
            return msgspec.structs.replace(state, stage=event.stage,
                                           calendar=_advanced(state.calendar, event.stage, event.on))  # fmt: skip
        case CycleWindowChanged():
            window = StageWindow(stage=event.stage, opens=event.opens, closes=event.closes)
            return msgspec.structs.replace(state, calendar={**state.calendar, event.stage: window})
        case CycleCancelled():
            return Cycle()  # as if never opened: the year may be opened again
    return state


def _advanced(calendar: dict[str, StageWindow], stage: str, on: dt.date | None) -> dict[str, StageWindow]:
    """The calendar after `stage` was opened on `on`, as advances recorded it before their windows were
    moved by window changes of their own (`_advance`, whose stage event has no `on`): the stages before it
    closed the day before (at the latest), and it open from that day (at the latest) to no earlier than that
    day. Kept as it was: the log holds such advances, and what they meant does not change."""
    if on is None or not calendar:
        return calendar
    position = STAGES.index(stage)
    moved = dict(calendar)
    for earlier in STAGES[:position]:
        w = moved[earlier]
        moved[earlier] = StageWindow(stage=earlier, opens=w.opens, closes=min(w.closes, on - dt.timedelta(days=1)))
    w = moved[stage]
    moved[stage] = StageWindow(stage=stage, opens=min(w.opens, on), closes=max(w.closes, on))
    return moved


def planned_first(cycles: Sequence[tuple[int, bool, dt.date | None]], today: dt.date) -> list[int]:
    """Years in the order a page picks its default: the cycles not adopted whose calendar has begun
    (newest first), then those still to begin (soonest first), then the adopted ones (newest first). A
    city that opens N+2 early keeps showing N+1 while N+1 is running."""

    def key(c: tuple[int, bool, dt.date | None]) -> tuple[int, int]:
        year, adopted, opens = c
        if adopted:
            return (2, -year)
        if opens is not None and opens > today:
            return (1, year)
        return (0, -year)

    return [c[0] for c in sorted(cycles, key=key)]


def working_first(cycles: Sequence[tuple[int, bool, StageWindow | None]], today: dt.date) -> list[int]:
    """Years in the order a staff page of one stage (the Renja of the Forum Perangkat Daerah) picks its
    default, given each cycle's window of that stage: the cycles not adopted whose window is open today
    (the oldest first: its work is due first; a cycle without a calendar is open any day), then those
    whose window is still ahead (soonest first), then those whose window has passed unadopted (newest
    first), then the adopted ones (newest first).

    Unlike `planned_first`, which follows the residents' window, opening the next year's cycle early does
    not take the page away from a year still in this stage: RKPD N+1's Renja stays the default while its
    window runs, though RKPD N+2's proposals have begun."""

    def key(c: tuple[int, bool, StageWindow | None]) -> tuple[int, int]:
        year, adopted, window = c
        if adopted:
            return (3, -year)
        if window is None or window.opens <= today <= window.closes:
            return (0, year)
        if window.opens > today:
            return (1, window.opens.toordinal())
        return (2, -year)

    return [c[0] for c in sorted(cycles, key=key)]


def default_calendar(year: int) -> tuple[StageWindow, ...]:
    """The common chain's months (DOMAIN.md) for the RKPD of `year`, planned during `year - 1`: residents'
    proposals in December and January, Musrenbang Kelurahan/Desa in January, Kecamatan in February, the
    Forum Perangkat Daerah from mid-February to mid-March, the Musrenbang Kota to mid-April, and the RKPD
    set in May and June. A start for Bappeda's own dates."""
    planning = year - 1
    d = dt.date
    windows = {
        "usulan": (d(planning - 1, 12, 1), d(planning, 1, 31)),
        "kelurahan": (d(planning, 1, 2), d(planning, 1, 31)),
        "kecamatan": (d(planning, 2, 1), d(planning, 2, 28)),
        "perangkat_daerah": (d(planning, 2, 15), d(planning, 3, 15)),
        "kota": (d(planning, 3, 16), d(planning, 4, 15)),
        "ditetapkan": (d(planning, 5, 1), d(planning, 6, 30)),
    }
    return tuple(StageWindow(stage=s, opens=o, closes=c) for s, (o, c) in windows.items())


def default_calendar_for(year: int) -> tuple[StageWindow, ...]:
    """`default_calendar(year)` for a cycle opened without one (API, CLI), refused on `year` itself when it
    cannot be: the common chain of RKPD 2000 begins in December 1998, before any date the platform holds
    (`bounds.date`), and the refusal once named `calendar.usulan`, a field the caller never filled. The
    bounds themselves stay as they are (an RKPD of 2000 with its own calendar from 1999 still opens)."""
    checks = bounds.Checks()
    checks.check("year", bounds.year, year)
    checks.done()
    calendar = default_calendar(year)
    try:
        for window in calendar:
            bounds.date(window.opens)
            bounds.date(window.closes)
    except ValueError:
        raise ValidationFailed({"year": Message(N_("kalender baku tidak dapat dibuat untuk RKPD %(year)d:"
                                                   " isi kalender setiap tahapnya"), year=year)}) from None  # fmt: skip
    return calendar


def check_after_adopted(year: int, cycles: Sequence[Cycle]) -> None:
    """A new cycle is for a year after the newest RKPD adopted: one at or before it (RKPD 2021 opened once
    2022 was adopted) could never be closed, as its adoption comes before the later one's, and a window
    moved would reopen it to residents. A year whose cycle exists is left to `decide` (already open)."""
    if any(c.year == year for c in cycles):
        return
    newest = max((c.year for c in cycles if c.adopted and c.year is not None), default=None)
    if newest is not None and year <= newest:
        raise DomainError(Message(N_("siklus RKPD %(year)d tidak dapat dibuka: RKPD %(adopted)d, tahun yang"
                                     " sama atau lebih baru, sudah ditetapkan"),
                                  year=year, adopted=newest))  # fmt: skip
