"""The city level's two meetings as forums (issue 14, part 4): the Forum Perangkat Daerah (`forum_pd`) and
the Musrenbang Kota (`musrenbang_kota`) of a year, on the year's RKPD stream (`rkpd-{year}`), decided by
`rkpd.decide` with the rest of the city level's rules.

- Bappeda schedules each: day, place, chair, participants (agencies, DPRD members, the delegates the
  kecamatan forums mandated, others — each with whom they represent) and the agenda. Scheduling again
  before the close replaces the earlier schedule (the meeting moved, someone was added): the new event
  says everything, both stay in the log. A closed forum is not scheduled again. A forum is scheduled once
  the year's city level has taken up the kecamatan results, which are what it discusses.
- Closing records the minutes and freezes the Berita Acara into the event: the RKPD lines as they stand
  (agreed, per agency when printed) and every declined proposal with its agency and reason (not agreed).
  A forum closes on or after its day, never before; and only when every received proposal is decided (in
  a line, or declined), so that the Berita Acara answers for each one.
- The Musrenbang Kota closes after the Forum Perangkat Daerah, and its close adopts the RKPD in the same
  append when there is something to adopt (the first adoption, or lines changed since the last):

      Forum PD closed, lines L1 and L2, nothing adopted   -> close Musrenbang Kota: [closed, adopted rev 1]
      adopted rev 1 earlier through `Adopt`, no change     -> close Musrenbang Kota: [closed] only

  Later amendments (perubahan RKPD) are adopted with `rkpd.Adopt`, as before.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

import msgspec

from musrenbang.domain import bounds, values
from musrenbang.domain.errors import N_, DomainError, Message, Term, ValidationFailed
from musrenbang.domain.events import (
    CityAgency,
    ForumParticipant,
    NotAgreedProposal,
    RkpdForumClosed,
    RkpdForumScheduled,
    RkpdLine,
)

if TYPE_CHECKING:
    from musrenbang.domain.rkpd import Rkpd

FORUM_PD, MUSRENBANG_KOTA = "forum_pd", "musrenbang_kota"
FORUMS = {FORUM_PD: N_("Forum Perangkat Daerah"), MUSRENBANG_KOTA: N_("Musrenbang Kota")}
"""The city-level forums, in the order they are held."""
STAGE = {FORUM_PD: "perangkat_daerah", MUSRENBANG_KOTA: "kota"}
"""The stage of the cycle's calendar in whose window each is held."""
PAGES = {FORUM_PD: "forum-perangkat-daerah", MUSRENBANG_KOTA: "musrenbang-kota"}
"""Each forum's public Berita Acara: `/rkpd/{year}/{page}`."""
PARTICIPANT_KINDS = {
    "agency": N_("perangkat daerah"),
    "dprd": N_("anggota DPRD"),
    "kecamatan": N_("delegasi kecamatan"),
    "other": N_("lainnya"),
}
MAX_PARTICIPANTS = 1_000
MAX_AGENDA = 30
DEFAULT_AGENDA = (
    "Pembukaan dan penjelasan tata tertib",
    "Pembahasan usulan hasil Musrenbang Kecamatan per perangkat daerah",
    "Penyepakatan daftar prioritas RKPD dan usulan yang tidak disepakati",
    "Penandatanganan berita acara",
)
"""What the staff form offers for a new schedule (Indonesian: it goes into the log as Bappeda types it)."""


class ParticipantInput(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    kind: str
    represents: str = ""


class ScheduleCityForum(msgspec.Struct, frozen=True, kw_only=True):
    year: int
    forum: str
    held_on: dt.date
    place: str
    chair: str
    participants: tuple[ParticipantInput, ...]
    agenda: tuple[str, ...]
    starts_at: dt.time | None = None


class CloseCityForum(msgspec.Struct, frozen=True, kw_only=True):
    """Close a forum with its minutes (`today`: the city's day, for the check that it was held)."""

    year: int
    forum: str
    minutes: str
    today: dt.date
    seen: str = ""
    """`list_version` of the list as the staff page showed it (empty: no check)."""
    confirm_over_pagu: bool = False
    """Closing Musrenbang Kota adopts: as `rkpd.Adopt.confirm_over_pagu`."""


def list_version(lines: Iterable[RkpdLine], declined: Mapping[str, str]) -> str:
    """A short digest of what a close freezes (the lines, the declined proposals with their reasons): the
    staff forms carry the one their page showed, so that a tab left open while an agency changed the list
    cannot close a forum, or adopt, over a list nobody looked at."""
    ordered = sorted(lines, key=lambda x: x.line_id)
    body = msgspec.json.encode([ordered, sorted(declined.items())], order="sorted")
    return hashlib.sha256(body).hexdigest()[:16]


def check_seen(state: Rkpd, seen: str) -> None:
    """Refuse when the list changed since the page that sends `seen` was shown."""
    if seen and seen != list_version(state.lines.values(), state.declined):
        raise DomainError(STALE)


STALE = N_("daftar RKPD berubah sejak halaman ini dibuka: periksa lagi daftar yang kini tampil, lalu kirim lagi")


def _forum(forum: str) -> None:
    if forum not in FORUMS:
        raise ValidationFailed({"forum": N_("forum tidak dikenal: forum_pd atau musrenbang_kota")})


def schedule(state: Rkpd, command: ScheduleCityForum, agencies: Mapping[str, CityAgency]) -> RkpdForumScheduled:
    """The schedule, every text bounded; refused for a closed forum and for a Musrenbang Kota set before
    the Forum Perangkat Daerah's day."""
    _forum(command.forum)
    if command.forum in state.forums_closed:
        raise DomainError(Message(N_("%(forum)s tahun ini sudah ditutup"), forum=Term(FORUMS[command.forum])))
    checks = bounds.Checks()
    checks.check("held_on", bounds.date, command.held_on)
    checks.check("starts_at", bounds.clock_time, command.starts_at)
    place = checks.text("place", command.place, bounds.NAME, required=True)
    chair = checks.text("chair", command.chair, bounds.NAME, required=True)
    participants = _participants(checks, command.participants, agencies)
    agenda = tuple(checks.text("agenda", x, bounds.TITLE) for x in command.agenda[:MAX_AGENDA])
    if len(command.agenda) > MAX_AGENDA:
        checks.fail("agenda", Message(N_("paling banyak %(max)d butir acara"), max=MAX_AGENDA))
    agenda = tuple(x for x in agenda if x)
    if not agenda and "agenda" not in checks.errors:
        checks.fail("agenda", N_("tulis paling sedikit satu butir acara"))
    checks.done()
    _in_order(state, command.forum, command.held_on)
    return RkpdForumScheduled(year=command.year, forum=command.forum, held_on=command.held_on, place=place,
                              chair=chair, participants=participants, agenda=agenda,
                              starts_at=command.starts_at)  # fmt: skip


def _participants(checks: bounds.Checks, given: tuple[ParticipantInput, ...], agencies: Mapping[str, CityAgency]
                  ) -> tuple[ForumParticipant, ...]:  # fmt: skip
    if len(given) > MAX_PARTICIPANTS:
        checks.fail("participants", Message(N_("paling banyak %(max)d peserta"), max=MAX_PARTICIPANTS))
        return ()
    if not given:
        checks.fail("participants", N_("tulis paling sedikit satu peserta"))
    out = []
    for n, p in enumerate(given, start=1):
        name = checks.text("participants", p.name, bounds.NAME, required=True)
        represents = checks.text("participants", p.represents, bounds.NAME)
        _no_separator(checks, n, name, represents)
        if p.kind not in PARTICIPANT_KINDS:
            checks.fail("participants", N_("jenis peserta: agency, dprd, kecamatan atau other"))
        elif p.kind == "agency" and represents not in agencies:
            checks.fail("participants", Message(N_("perangkat daerah %(code)s tidak dikenal"), code=represents))
        out.append(ForumParticipant(name=name, kind=p.kind, represents=represents))
    return tuple(out)


SEPARATOR = "|"
"""What the staff form puts between a participant's name, kind and whom they represent, one participant a
line (http/city_forums.py): refused inside a name or `represents`, whatever door they come through, so that
every recorded participant reads back from the form into the same fields (line breaks cannot be recorded:
single-line texts have their white space collapsed, bounds.clean_text)."""


def _no_separator(checks: bounds.Checks, n: int, name: str, represents: str) -> None:
    if SEPARATOR in name:
        checks.fail("participants", Message(N_("peserta ke-%(n)d: nama tidak boleh memuat tanda |"), n=n))
    if SEPARATOR in represents:
        checks.fail("participants", Message(N_("peserta ke-%(n)d: isian mewakili tidak boleh memuat tanda |"), n=n))


def _in_order(state: Rkpd, forum: str, held_on: dt.date) -> None:
    """The Musrenbang Kota is held on or after the Forum Perangkat Daerah's day."""
    pd, kota = state.forums.get(FORUM_PD), state.forums.get(MUSRENBANG_KOTA)
    if forum == MUSRENBANG_KOTA and pd is not None and held_on < pd.held_on:
        raise ValidationFailed({"held_on": N_("Musrenbang Kota diadakan setelah Forum Perangkat Daerah")})
    if forum == FORUM_PD and kota is not None and held_on > kota.held_on:
        raise ValidationFailed({"held_on": N_("Forum Perangkat Daerah diadakan sebelum Musrenbang Kota")})


def close(state: Rkpd, command: CloseCityForum) -> RkpdForumClosed:
    """The Berita Acara of the forum, frozen: the lines as they stand and the declined proposals."""
    _forum(command.forum)
    name = Term(FORUMS[command.forum])
    scheduled = state.forums.get(command.forum)
    if scheduled is None:
        raise DomainError(Message(N_("%(forum)s tahun ini belum dijadwalkan"), forum=name))
    if command.forum in state.forums_closed:
        raise DomainError(Message(N_("%(forum)s tahun ini sudah ditutup"), forum=name))
    if command.forum == MUSRENBANG_KOTA and FORUM_PD not in state.forums_closed:
        raise DomainError(N_("tutup dulu Forum Perangkat Daerah: Musrenbang Kota membahas hasilnya"))
    if scheduled.held_on > command.today:
        raise DomainError(Message(N_("%(forum)s dijadwalkan %(day)s: belum dapat ditutup"), forum=name,
                                  day=values.long_date(scheduled.held_on)))  # fmt: skip
    pending = state.pending()
    if pending:
        raise DomainError(Message(N_("masih ada %(n)d usulan yang belum diputuskan perangkat daerah"), n=len(pending)))
    check_seen(state, command.seen)
    checks = bounds.Checks()
    minutes = checks.text("minutes", command.minutes, bounds.LONG_TEXT, required=True, multiline=True)
    checks.done()
    agreed = tuple(state.lines[k] for k in sorted(state.lines))
    not_agreed = tuple(
        NotAgreedProposal(code=code, title=state.items[code].title, kelurahan=state.items[code].kelurahan,
                          agency=state.agency_of[code], reason=reason)
        for code, reason in sorted(state.declined.items(), key=lambda x: (state.agency_of[x[0]], x[0]))
    )  # fmt: skip
    return RkpdForumClosed(year=command.year, forum=command.forum, minutes=minutes, agreed=agreed,
                           total_pagu=sum(x.pagu for x in agreed), not_agreed=not_agreed)  # fmt: skip
