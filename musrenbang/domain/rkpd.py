"""The city level of a cycle: Forum Perangkat Daerah and Musrenbang Kota, on one stream per RKPD year.

The agencies take up what the kecamatan forums forwarded (`ReceiveProposals`, frozen into the log like a
forum's agenda), pass proposals between themselves, decline some with a reason, and turn the rest into
RKPD lines: several proposals may feed one line, a proposal ends in at most one. Musrenbang Kota adopts
the list: `RkpdAdopted` carries the lines as they stood, so the adopted RKPD is frozen in the log; any
later change needs a reason and shows until the list is adopted again (revision 2, 3, ...).

Both meetings are also held as forums, with a schedule and a Berita Acara frozen at their close; closing the
Musrenbang Kota adopts the list (domain/city_forums.py).

Adoption requires every received proposal to be decided (in a line, or declined with a reason): that is
what lets anyone answer, for every proposal, "is it in the RKPD, and if not, why not?".
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import TypeVar

import msgspec

from musrenbang.domain import bounds, city_forums, values
from musrenbang.domain.access import Forbidden
from musrenbang.domain.agency import DANA_DESA, DANA_KELURAHAN, FUNDING_SOURCES
from musrenbang.domain.errors import N_, DomainError, Message, NotFound, ValidationFailed
from musrenbang.domain.events import (
    CityAgency,
    CityItem,
    Event,
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
)
from musrenbang.domain.proposal import BIDANG, MAX_COST

SUB_KEGIATAN_CODE = re.compile(r"[0-9]\.[0-9]{2}\.[0-9]{2}\.[0-9]\.[0-9]{2}\.[0-9]{4}")
"""U.BB.PP.K.KK.SSSS: urusan, bidang urusan, program, kegiatan (K.KK), sub-kegiatan; ASCII digits (\\d takes
١.٠٣ too)."""
DEFAULT_NOMENCLATURE = "Kepmendagri 050-5889/2021"
MAX_PAGU = 1_000_000_000_000  # Rp 1 triliun: above any single line of a city RKPD; catches typos
MAX_ORIGINS = 200
LINE_TEXTS = {"nomenclature": bounds.NAME, "program": bounds.LONG_TITLE, "kegiatan": bounds.LONG_TITLE,
              "sub_kegiatan": bounds.LONG_TITLE, "unit": 60, "output_indicator": bounds.LONG_TITLE,
              "target_unit": 60}  # fmt: skip
"""The texts of an RKPD line and their longest length (nomenclature names run to a few hundred letters)."""

# What happened to a received proposal.
MENUNGGU, DIPETAKAN, DITOLAK_OPD = "menunggu", "dipetakan", "tidak_diakomodasi"


def stream_id(year: int) -> str:
    return f"rkpd-{year}"


class Rkpd(msgspec.Struct, kw_only=True):
    """State of one year's city level. Threaded linearly like `forum.Forum`: evolve mutates the state it is
    given (except the empty one), so load, decide, evolve, and never go back to an earlier state."""

    year: int | None = None
    items: dict[str, CityItem] = {}
    agency_of: dict[str, str] = {}
    declined: dict[str, str] = {}
    lines: dict[str, RkpdLine] = {}
    issued: set[str] = set()
    """Every line id ever used, withdrawn ones included: an id is never given twice."""
    line_of: dict[str, str] = {}
    revision: int = 0
    adopted: tuple[RkpdLine, ...] = ()
    changed_since_adoption: bool = False
    enacted: dict[int, str] = {}
    """Revision -> the regulation that enacted it."""
    adopted_on: dict[int, dt.date] = {}
    """Revision -> the day it was adopted (where the adoption says)."""
    forums: dict[str, RkpdForumScheduled] = {}
    """The latest schedule of each city-level forum (domain/city_forums.py)."""
    forums_closed: set[str] = set()

    def pending(self) -> list[str]:
        """Received proposals not yet in a line nor declined."""
        return [c for c in self.items if c not in self.line_of and c not in self.declined]

    def next_line_id(self, agency: str) -> str:
        n = 1 + sum(1 for line_id in self.issued if line_id.startswith(agency + "-"))
        while f"{agency}-{n:03d}" in self.issued:
            n += 1
        return f"{agency}-{n:03d}"


# --- commands ---------------------------------------------------------------------------------------


class ReceiveProposals(msgspec.Struct, frozen=True, kw_only=True):
    year: int
    items: tuple[CityItem, ...]


class PassProposal(msgspec.Struct, frozen=True, kw_only=True):
    code: str
    to_agency: str
    reason: str
    by_agency: str | None = None
    """The acting agency (an opd account); None for Bappeda (admin), who may move any proposal."""


class DeclineProposal(msgspec.Struct, frozen=True, kw_only=True):
    code: str
    reason: str
    by_agency: str | None = None


class LineInput(msgspec.Struct, frozen=True, kw_only=True):
    """A line as an agency enters it; `line_id` None makes a new line."""

    line_id: str | None = None
    agency: str
    origins: tuple[str, ...]
    priority_program: int
    sub_kegiatan_code: str
    nomenclature: str = DEFAULT_NOMENCLATURE
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
    """For a line with no resident origin: why the agency plans it (Renja)."""
    locations: tuple[str, ...] = ()
    """For a Renja line: the kelurahan and desa it serves (none: the whole city). A line from proposals
    takes its origins' places."""


class SetLine(msgspec.Struct, frozen=True, kw_only=True):
    line: LineInput
    priority_programs: int
    reason: str = ""
    by_agency: str | None = None
    seen: str = ""
    """`line_version` of the line as the form that changes it showed it (empty: no check), so that a tab
    opened before someone else's change cannot silently undo it."""


class WithdrawLine(msgspec.Struct, frozen=True, kw_only=True):
    line_id: str
    reason: str
    by_agency: str | None = None


class Adopt(msgspec.Struct, frozen=True, kw_only=True):
    year: int
    note: str = ""
    on: dt.date | None = None
    """The day it is adopted (the city's; the service gives today when the caller does not)."""
    seen: str = ""
    """The digest of the list the adopting page showed (`city_forums.list_version`; empty: not checked):
    decided with the rest, under the year's lock, so no change lands between the check and the adoption."""
    confirm_over_pagu: bool = False
    """Adopt although some kecamatan's Musrenbang share of the lines is over its pagu indikatif (`over_pagu`): the
    Musrenbang Kota may decide so, but never by oversight."""


class Enact(msgspec.Struct, frozen=True, kw_only=True):
    """Record the Peraturan Wali Kota/Bupati that sets the adopted RKPD (`today`: the city's day, for the
    check that a regulation is not dated in the future)."""

    year: int
    regulation: str
    enacted_on: dt.date
    today: dt.date


Command = (
    ReceiveProposals
    | PassProposal
    | DeclineProposal
    | SetLine
    | WithdrawLine
    | Adopt
    | Enact
    | city_forums.ScheduleCityForum
    | city_forums.CloseCityForum
)


def line_version(line: RkpdLine) -> str:
    """A short digest of a line as it stands: changes whenever any of it changes."""
    return hashlib.sha256(msgspec.json.encode(line, order="sorted")).hexdigest()[:16]


def list_hash(lines: Iterable[RkpdLine]) -> str:
    """SHA-256 of the list's canonical JSON (lines in id order, as the adoption froze them)."""
    ordered = sorted(lines, key=lambda x: x.line_id)
    return hashlib.sha256(msgspec.json.encode(ordered, order="sorted")).hexdigest()


def decide(state: Rkpd, command: Command, *, agencies: Mapping[str, CityAgency],
           dana_kelurahan: int | None = None, has_desa: bool = True, has_kelurahan: bool = True,
           ceilings: Mapping[str, int] | None = None) -> list[Event]:  # fmt: skip
    """What `command` records, given the city's perangkat daerah (`agencies`, by code: the city's
    settings), the year's Dana Kelurahan per kelurahan (the cycle's; None: no limit), both read from
    the log by the service, whether the city has desa and kelurahan (its reference data: Dana Desa goes
    only to desa, Dana Kelurahan only to kelurahan) and the pagu indikatif per kecamatan an adoption is held
    to (None: not checked)."""
    if isinstance(command, ReceiveProposals):
        return _receive(state, command, agencies)
    year = _opened_year(state, command)
    match command:
        case PassProposal():
            return [_pass(state, command, agencies, year)]
        case DeclineProposal():
            return [_decline(state, command, year)]
        case SetLine():
            return [_set_line(state, command, agencies, dana_kelurahan, year, (has_desa, has_kelurahan))]
        case WithdrawLine():
            return [_withdraw(state, command, year)]
        case Adopt():
            adopted = _adopt_command(state, command, year, agencies)
            _within_ceilings(state, ceilings, command.confirm_over_pagu)
            return [adopted]
        case Enact():
            return [_enact(state, command, year)]
        case city_forums.ScheduleCityForum():
            return [city_forums.schedule(state, command, agencies)]
        case city_forums.CloseCityForum():
            events = _close_forum(state, command, year, agencies)
            if any(isinstance(e, RkpdAdopted) for e in events):
                _within_ceilings(state, ceilings, command.confirm_over_pagu)
            return events
    raise TypeError(f"unknown command {command!r}")


def _opened_year(state: Rkpd, command: Command) -> int:
    """The year, once the city level has received what the kecamatan forums forwarded: every other command
    works on that (a city forum is told so in its own words, since it is scheduled from its own page)."""
    if state.year is None:
        if isinstance(command, city_forums.ScheduleCityForum | city_forums.CloseCityForum):
            raise DomainError(N_("terima dulu hasil Musrenbang Kecamatan: itulah yang dibahas forum ini"))
        # 409, not 404: the year's list exists to be asked for; it is the stage that is not there yet.
        raise DomainError(N_("Forum Perangkat Daerah belum menerima usulan tahun ini"))
    return state.year


def _pass(state: Rkpd, command: PassProposal, agencies: Mapping[str, CityAgency], year: int) -> RkpdProposalPassed:
    """A proposal moved to another agency, with a reason; only while it is neither in a line nor declined."""
    item_agency = _received(state, command.code, command.by_agency)
    if command.to_agency not in agencies:
        raise ValidationFailed({"to_agency": N_("perangkat daerah tidak dikenal")})
    if command.to_agency == item_agency:
        raise ValidationFailed({"to_agency": N_("usulan sudah ada di perangkat daerah ini")})
    reason = _require_reason(command.reason)
    _not_in_line(state, command.code)
    if command.code in state.declined:  # its answer is given; passed on, no agency could act on it
        raise DomainError(N_("usulan ini sudah dinyatakan tidak diakomodasi: tidak dapat dialihkan lagi"))
    return RkpdProposalPassed(year=year, code=command.code, from_agency=item_agency, to_agency=command.to_agency,
                              reason=reason)  # fmt: skip


def _decline(state: Rkpd, command: DeclineProposal, year: int) -> RkpdProposalDeclined:
    """A proposal its agency will not take up, with the reason residents are told; at most once, and not
    while it is in a line."""
    item_agency = _received(state, command.code, command.by_agency)
    reason = _require_reason(command.reason)
    _not_in_line(state, command.code)
    if command.code in state.declined:
        raise DomainError(N_("usulan ini sudah dinyatakan tidak diakomodasi"))
    return RkpdProposalDeclined(year=year, code=command.code, agency=item_agency, reason=reason)


def _set_line(state: Rkpd, command: SetLine, agencies: Mapping[str, CityAgency], dana_kelurahan: int | None,
              year: int, villages: tuple[bool, bool]) -> RkpdLineSet:  # fmt: skip
    """A line made or changed; once the RKPD has been adopted, every change says why. `villages`: whether
    the city has desa, and kelurahan."""
    line = _line(state, command, agencies, villages)
    if line.funding_source == DANA_KELURAHAN and dana_kelurahan is not None:
        _within_dana_kelurahan(state, line, dana_kelurahan)
    reason = _optional_text("reason", command.reason)
    if state.revision and not reason:
        raise ValidationFailed({"reason": N_("RKPD sudah ditetapkan: tulis alasan perubahan")})
    return RkpdLineSet(year=year, line=line, reason=reason)


def _withdraw(state: Rkpd, command: WithdrawLine, year: int) -> RkpdLineWithdrawn:
    """A line taken out by its agency, with a reason; its origins are undecided again."""
    withdrawn = state.lines.get(command.line_id)
    if withdrawn is None:
        raise NotFound(N_("baris RKPD tidak ditemukan"))
    _require_agency(command.by_agency, withdrawn.agency)
    reason = _require_reason(command.reason)
    return RkpdLineWithdrawn(year=year, line_id=withdrawn.line_id, agency=withdrawn.agency, reason=reason)


def _adopt_command(state: Rkpd, command: Adopt, year: int, agencies: Mapping[str, CityAgency]) -> RkpdAdopted:
    """Adoption asked for directly. Once a Musrenbang Kota is scheduled, the first adoption is its close;
    adopting again needs something changed or still undecided; the list must be the one the page showed."""
    if not state.revision and state.forums:
        raise DomainError(N_("Musrenbang Kota tahun ini dijadwalkan: RKPD ditetapkan dengan menutupnya"))
    if state.revision and not state.changed_since_adoption and not state.pending():
        raise DomainError(N_("RKPD sudah ditetapkan dan tidak berubah sejak itu"))
    city_forums.check_seen(state, command.seen)
    return _adopt(state, year, _optional_text("note", command.note), command.on, agencies)


def _close_forum(state: Rkpd, command: city_forums.CloseCityForum, year: int,
                 agencies: Mapping[str, CityAgency]) -> list[Event]:  # fmt: skip
    """A city forum closed; closing the Musrenbang Kota also adopts the list, dated the day it was held,
    unless the list adopted before still stands unchanged."""
    _agencies_known(state, agencies)  # its Berita Acara names every line's agency
    closed = city_forums.close(state, command)
    if command.forum != city_forums.MUSRENBANG_KOTA or (state.revision and not state.changed_since_adoption):
        return [closed]  # nothing new to adopt: the list adopted before stands
    held_on = state.forums[command.forum].held_on
    return [closed, _adopt(state, year, f"Disepakati pada Musrenbang Kota {held_on.isoformat()}", held_on,
                           agencies)]  # fmt: skip


def _agencies_known(state: Rkpd, agencies: Mapping[str, CityAgency]) -> None:
    """Every working line's perangkat daerah is one the city's settings know. A settings change that took
    an agency's code away (renamed DSDABM to DBM, say) left its lines to be adopted, and frozen in the log,
    under a bare code nobody is named by, nor can sign in as: refused, saying how to mend it."""
    orphaned = sorted(line.line_id for line in state.lines.values() if line.agency not in agencies)
    if orphaned:
        codes = sorted({state.lines[line_id].agency for line_id in orphaned})
        raise DomainError(Message(
            N_("baris %(lines)s milik perangkat daerah %(codes)s, yang tidak ada lagi dalam pengaturan kota:"
               " kembalikan kodenya di pengaturan (namanya boleh diubah, kodenya tidak)"),
            lines=", ".join(orphaned[:10]) + (" …" if len(orphaned) > 10 else ""), codes=", ".join(codes),
        ))  # fmt: skip


def _adopt(state: Rkpd, year: int, note: str, on: dt.date | None,
           agencies: Mapping[str, CityAgency]) -> RkpdAdopted:  # fmt: skip
    """The working lines, frozen as the next revision; refused while a proposal is undecided or a line's
    agency is one the settings no longer know."""
    _agencies_known(state, agencies)
    pending = state.pending()
    if pending:
        raise DomainError(Message(
            N_("masih ada %(n)d usulan yang belum diputuskan perangkat daerah"), n=len(pending)))  # fmt: skip
    if not state.lines:
        raise DomainError(N_("belum ada baris RKPD untuk ditetapkan"))
    lines = tuple(state.lines[k] for k in sorted(state.lines))
    checks = bounds.Checks()
    checks.check("on", bounds.date, on)
    checks.done()
    return RkpdAdopted(year=year, revision=state.revision + 1, lines=lines, total_pagu=sum(x.pagu for x in lines),
                       note=note, adopted_on=on)  # fmt: skip


def _within_ceilings(state: Rkpd, ceilings: Mapping[str, int] | None, confirmed: bool) -> None:
    """Each kecamatan's list is trimmed to its pagu indikatif (Permendagri 86, table T-D.4); the city level may
    still put more into a kecamatan, but adopting that must be meant: refused unless confirmed, naming each
    kecamatan over its pagu and by how much (a review found a list adopted far over one with no question).
    The pagu indikatif holds the residents' proposals its Musrenbang Kecamatan ranks, so only their share of
    the lines counts (`musrenbang_by_kecamatan`): an agency's Renja line or a DPRD pokir in the kecamatan is
    another channel, and counting them put nearly every kecamatan "over" (review s29)."""
    if confirmed or not ceilings:
        return
    over = over_pagu(musrenbang_by_kecamatan(state.lines.values(), state.items), ceilings)
    if over:
        listed = "; ".join(f"{k} +{_rupiah(excess)}" for k, excess in over.items())
        raise ValidationFailed({"confirm_over_pagu": Message(
            N_("bagian usulan warga (Musrenbang) dalam baris RKPD melebihi pagu indikatif kecamatan (%(over)s):"
               " tetapkan hanya bila disengaja, dengan menyatakan mengerti"), over=listed)})  # fmt: skip


def adopted_day(state: Rkpd) -> dt.date | None:
    """The day the Musrenbang Kota first adopted the year's RKPD (revision 1): nothing happened to an RKPD
    line before it (realisation.decide). None before any adoption, or when the first was recorded before
    adoptions kept their day. An amendment's own day does not count: it is often recorded late, on the day
    it is entered, while its lines' budget steps went on."""
    return state.adopted_on.get(1)


def _enact(state: Rkpd, command: Enact, year: int) -> RkpdEnacted:
    """The latest adopted list, set in law. An amendment (a revision adopted after an enactment) needs a
    regulation of its own."""
    if not state.revision:
        raise DomainError(N_("RKPD belum ditetapkan di Musrenbang Kota: belum ada daftar untuk diundangkan"))
    if state.changed_since_adoption:
        raise DomainError(N_("ada perubahan sejak penetapan terakhir: tetapkan dulu perubahannya di Musrenbang Kota"))
    if state.revision in state.enacted:
        raise DomainError(Message(N_("revisi %(n)d sudah ditetapkan dengan %(regulation)s"), n=state.revision,
                                  regulation=state.enacted[state.revision]))  # fmt: skip
    checks = bounds.Checks()
    regulation = checks.text("regulation", command.regulation, bounds.NAME, required=True)
    checks.check("date", bounds.date, command.enacted_on)
    checks.done()
    if command.enacted_on > command.today:
        raise ValidationFailed({"date": N_("tanggal peraturan tidak boleh di masa depan")})
    adopted_on = state.adopted_on.get(state.revision)
    if adopted_on is not None and command.enacted_on < adopted_on:
        raise ValidationFailed(
            {
                "date": Message(
                    N_("tanggal peraturan tidak boleh sebelum RKPD ini ditetapkan di Musrenbang Kota (%(day)s)"),
                    day=values.long_date(adopted_on),
                )
            }
        )
    if regulation.casefold() in {r.casefold() for r in state.enacted.values()}:
        raise ValidationFailed({"regulation": N_("peraturan ini sudah dipakai untuk revisi lain: perubahan RKPD"
                                                 " ditetapkan dengan peraturan tersendiri")})  # fmt: skip
    return RkpdEnacted(year=year, revision=state.revision, regulation=regulation, enacted_on=command.enacted_on,
                       list_hash=list_hash(state.adopted), amendment=bool(state.enacted))  # fmt: skip


def _receive(state: Rkpd, command: ReceiveProposals, agencies: Mapping[str, CityAgency]) -> list[Event]:
    checks = bounds.Checks()
    checks.check("year", bounds.year, command.year)
    checks.done()
    if state.year is not None and state.year != command.year:
        raise DomainError(N_("tahun RKPD tidak cocok"))
    if city_forums.FORUM_PD in state.forums_closed:
        raise DomainError(N_("Forum Perangkat Daerah sudah ditutup: usulan tidak dapat diterima lagi"))
    new = tuple(i for i in command.items if i.code not in state.items)
    if len({i.code for i in new}) != len(new):
        raise DomainError(N_("usulan yang sama diterima dua kali"))
    if any(i.agency not in agencies for i in new):
        raise DomainError(N_("perangkat daerah tidak dikenal"))
    if not new and state.year is not None:
        raise DomainError(N_("tidak ada usulan baru dari Musrenbang Kecamatan"))
    # The first receive opens the year's city level even when no kecamatan forum forwarded anything: the
    # agencies' own plans (Renja lines), the city forums and the adoption all come after it, and a year
    # with nothing forwarded could otherwise never get an RKPD (review s22). A later one adds what is new.
    _check_items(new)
    return [RkpdProposalsReceived(year=command.year, items=new)]


def _check_items(items: tuple[CityItem, ...]) -> None:
    """What the kecamatan forums forwarded comes from bounded events; checked again, since it is frozen here."""
    checks = bounds.Checks()
    if len(items) > bounds.MAX_ITEMS:
        checks.fail("items", Message(N_("paling banyak %(max)d usulan sekaligus"), max=bounds.MAX_ITEMS))
    for i in items:
        checks.check("items", bounds.identifier, i.code)
        checks.text("items", i.title, bounds.TITLE, required=True)
        checks.check("items", bounds.region_code, i.kelurahan)
        checks.check("items", bounds.rupiah, i.cost, zero=True)
        checks.text("items", i.volume or "", 40)
        checks.text("items", i.unit or "", 60)
        if i.source == "pokir":  # forwarded by the DPRD secretariat, not by a forum
            if i.forum_id:
                checks.fail("items", N_("pokok pikiran DPRD tidak datang dari musyawarah"))
        elif i.source == "musrenbang":
            checks.check("items", bounds.identifier, i.forum_id)
        else:
            checks.fail("items", N_("sumber usulan tidak dikenal"))
        if i.bidang not in BIDANG:
            checks.fail("items", N_("pilihan tidak dikenal"))
    checks.done()


def _received(state: Rkpd, code: str, by_agency: str | None) -> str:
    if code not in state.items:
        raise NotFound(N_("usulan ini tidak ada di Forum Perangkat Daerah"))
    current = state.agency_of[code]
    _require_agency(by_agency, current)
    return current


def _require_agency(by_agency: str | None, agency: str) -> None:
    if by_agency is not None and by_agency != agency:
        raise Forbidden(N_("usulan atau baris ini milik perangkat daerah lain"))


def _require_reason(reason: str) -> str:
    """The reason, cleaned and within bounds; refused when empty."""
    checks = bounds.Checks()
    cleaned = checks.text("reason", reason, bounds.REASON, multiline=True)
    checks.done()
    if not cleaned:
        raise ValidationFailed({"reason": N_("tulis alasannya")})
    return cleaned


def _optional_text(field: str, value: str) -> str:
    checks = bounds.Checks()
    cleaned = checks.text(field, value, bounds.REASON, multiline=True)
    checks.done()
    return cleaned


def _not_in_line(state: Rkpd, code: str) -> None:
    if code in state.line_of:
        raise DomainError(Message(N_("usulan ini sudah masuk baris %(line)s; keluarkan dulu dari baris itu"),
                                  line=state.line_of[code]))  # fmt: skip


def _line(state: Rkpd, command: SetLine, agencies: Mapping[str, CityAgency], villages: tuple[bool, bool]
          ) -> RkpdLine:  # fmt: skip
    """The line `command` sets, checked whole. Who may touch it and whether it changed under the form are
    refused at once; everything wrong with what was typed is gathered into one ValidationFailed, in the
    order below (a later finding on the same field replaces an earlier one), so the form shows it all."""
    x = command.line
    has_desa, has_kelurahan = villages
    line_id = _line_id(state, command)
    errors: dict[str, str | Message] = {}
    agency = agencies.get(x.agency)
    if agency is None:
        errors["agency"] = N_("perangkat daerah tidak dikenal")
    origins = tuple(dict.fromkeys(x.origins))
    renja_reason = _renja(x, origins, errors)
    _check_origins(state, x.agency, origins, line_id, errors)
    _check_sub_kegiatan_code(x.sub_kegiatan_code, agency, errors)
    checks = bounds.Checks()
    texts = {name: checks.text(name, getattr(x, name), limit, required=True) for name, limit in LINE_TEXTS.items()}
    errors.update(checks.errors)
    if len(origins) > MAX_ORIGINS:
        errors["origins"] = Message(N_("paling banyak %(max)d usulan asal"), max=MAX_ORIGINS)
    if x.funding_source not in FUNDING_SOURCES:
        errors["funding_source"] = N_("sumber dana tidak dikenal")
    elif x.funding_source == DANA_DESA and not has_desa:
        errors["funding_source"] = N_("Dana Desa hanya disalurkan ke desa, dan wilayah ini tidak mempunyai desa:"
                                      " pilih sumber dana lain")  # fmt: skip
    elif x.funding_source == DANA_DESA:
        errors.update(_dana_desa(state, origins, x.locations))
    elif x.funding_source == DANA_KELURAHAN and not has_kelurahan:
        errors["funding_source"] = N_("Dana Kelurahan hanya untuk kelurahan, dan wilayah ini tidak mempunyai"
                                      " kelurahan: pilih sumber dana lain")  # fmt: skip
    elif x.funding_source == DANA_KELURAHAN and agency is not None:
        errors.update(_dana_kelurahan(state, agency, origins))
    volume, target = _check_amounts(x, command.priority_programs, errors)
    if errors or volume is None or target is None:
        raise ValidationFailed(errors)
    locations = _line_locations(state, x.locations, origins)
    return RkpdLine(
        line_id=line_id, agency=x.agency, origins=origins, locations=locations,
        priority_program=x.priority_program, sub_kegiatan_code=x.sub_kegiatan_code.strip(),
        funding_source=x.funding_source, volume=volume, pagu=x.pagu, target=target, renja_reason=renja_reason,
        **texts,
    )  # fmt: skip


def _line_id(state: Rkpd, command: SetLine) -> str:
    """The id of the line set: the next free one of its agency for a new line. An existing line stays with
    its agency (another agency is forbidden; Bappeda is told the field is wrong) and must be as the form
    showed it (`seen`), so a tab opened before someone else's change cannot silently undo it."""
    x = command.line
    _require_agency(command.by_agency, x.agency)
    if x.line_id is not None:
        existing = state.lines.get(x.line_id)
        if existing is None:
            raise NotFound(N_("baris RKPD tidak ditemukan"))
        if existing.agency != x.agency:
            if command.by_agency is not None:  # an agency reaching for another's line: not allowed at all
                raise Forbidden(N_("usulan atau baris ini milik perangkat daerah lain"))
            raise ValidationFailed({"agency": N_("baris ini milik perangkat daerah lain")})
        if command.seen and command.seen != line_version(existing):
            raise DomainError(N_("baris ini sudah diubah sejak halaman ini dibuka: periksa isinya sekarang, lalu"
                                 " simpan lagi bila perubahan Anda masih perlu"))  # fmt: skip
    return x.line_id or state.next_line_id(x.agency)


def _check_origins(state: Rkpd, agency: str, origins: tuple[str, ...], line_id: str,
                   errors: dict[str, str | Message]) -> None:  # fmt: skip
    """Each origin is a received proposal of this agency, not declined, and in no other line: a proposal
    ends in at most one line. Only the last origin found wrong is named."""
    for code in origins:
        if code not in state.items:
            errors["origins"] = Message(N_("usulan %(code)s tidak ada di Forum Perangkat Daerah"), code=code)
        elif state.agency_of[code] != agency:
            errors["origins"] = Message(N_("usulan %(code)s ada di perangkat daerah lain"), code=code)
        elif code in state.declined:
            errors["origins"] = Message(N_("usulan %(code)s sudah dinyatakan tidak diakomodasi"), code=code)
        elif state.line_of.get(code, line_id) != line_id:
            errors["origins"] = Message(N_("usulan %(code)s sudah masuk baris %(line)s"), code=code,
                                        line=state.line_of[code])  # fmt: skip


def _check_sub_kegiatan_code(code: str, agency: CityAgency | None, errors: dict[str, str | Message]) -> None:
    """The code is written U.BB.PP.K.KK.SSSS, and its urusan (U.BB) is one of the agency's."""
    if not SUB_KEGIATAN_CODE.fullmatch(code.strip()):
        errors["sub_kegiatan_code"] = N_("kode sub-kegiatan berbentuk U.BB.PP.K.KK.SSSS, misalnya 1.03.10.2.01.0017")
    elif agency is not None and code.strip()[:4] not in agency.urusan:
        errors["sub_kegiatan_code"] = Message(N_("urusan %(urusan)s bukan urusan perangkat daerah ini"),
                                              urusan=code.strip()[:4])  # fmt: skip


def _check_amounts(x: LineInput, priority_programs: int,
                   errors: dict[str, str | Message]) -> tuple[str | None, str | None]:  # fmt: skip
    """The priority program (one of the year's, at most 100), the pagu (whole rupiah, bool refused though
    Python counts it an int) and the volume and target (positive decimals, cleaned; None when wrong)."""
    if isinstance(x.priority_program, bool) or not 1 <= x.priority_program <= min(priority_programs, 100):
        errors["priority_program"] = N_("pilih program prioritas RKPD")
    if isinstance(x.pagu, bool) or not isinstance(x.pagu, int) or not 0 < x.pagu <= MAX_PAGU:
        errors["pagu"] = Message(N_("pagu harus lebih dari nol dan paling banyak %(max)s"), max=_rupiah(MAX_PAGU))
    volume = _positive(x.volume, "volume", N_("volume berupa angka lebih dari nol"),
                       N_("volume berupa angka lebih dari nol dan paling banyak %(max)s"), errors)  # fmt: skip
    target = _positive(x.target, "target", N_("target berupa angka lebih dari nol: apa yang dihasilkan dan berapa"
                                              " banyak"),
                       N_("target berupa angka lebih dari nol dan paling banyak %(max)s: apa yang dihasilkan dan"
                          " berapa banyak"), errors)  # fmt: skip
    return volume, target


def _line_locations(state: Rkpd, given: tuple[str, ...], origins: tuple[str, ...]) -> tuple[str, ...]:
    """A line from proposals is where its proposals are (restating those places is fine, changing them is
    not); a Renja line is where the agency says. Sorted, so the same places make the same line."""
    places = {state.items[c].kelurahan for c in origins}
    if origins and given and set(given) != places:  # restating them is fine; changing them is not
        raise ValidationFailed({"locations": N_("lokasi baris dari usulan warga mengikuti usulannya")})
    return tuple(sorted(places if origins else set(given)))


def _dana_desa(state: Rkpd, origins: tuple[str, ...], locations: tuple[str, ...]) -> dict[str, str | Message]:
    """Dana Desa is transferred to each desa (UU 6/2014), so, as a Dana Kelurahan line must be its kelurahan's
    own, a Dana Desa line must be of desa alone: every place it has — its origins' villages, or the places a
    Renja line names — a desa. A kelurahan among them gets no Dana Desa, and a line of the whole kabupaten
    (no place named) is the kabupaten's own work, which no desa's transfer pays for. Unlike Dana Kelurahan
    (the kabupaten/kota's own money, budgeted through the kecamatan for what a Musrenbang Kelurahan agreed),
    it is bound to neither an agency nor residents' proposals: an agency's Renja line in named desa (work the
    desa fund together, say) may name it. The villages' kind is read from their Kemendagri code."""
    for code in origins:
        place = state.items[code].kelurahan if code in state.items else ""
        if place and values.village_level(place) != "desa":
            message = N_("usulan %(code)s dari kelurahan, bukan desa: Dana Desa hanya disalurkan ke desa, pilih"
                         " sumber dana lain")  # fmt: skip
            return {"funding_source": Message(message, code=code)}
    for place in locations:
        if values.village_level(place) != "desa":
            message = N_("lokasi %(place)s kelurahan, bukan desa: Dana Desa hanya disalurkan ke desa, pilih"
                         " sumber dana lain")  # fmt: skip
            return {"funding_source": Message(message, place=place)}
    if not origins and not locations:
        return {"funding_source": N_("Dana Desa disalurkan ke desa, bukan untuk seluruh wilayah: sebutkan desa"
                                     " lokasinya, atau pilih sumber dana lain")}  # fmt: skip
    return {}


def _dana_kelurahan(state: Rkpd, agency: CityAgency, origins: tuple[str, ...]) -> dict[str, str | Message]:
    """Dana Kelurahan pays for what a kelurahan agreed at its own Musrenbang, and is budgeted through its
    kecamatan (Permendagri 130/2018): only on a kecamatan's line, from proposals of its own kelurahan."""
    if not agency.kecamatan:
        return {"funding_source": N_("Dana Kelurahan dianggarkan melalui kecamatan: alihkan usulannya ke kecamatan")}
    if not origins:
        return {"funding_source": N_("Dana Kelurahan untuk kegiatan yang disepakati di Musrenbang Kelurahan: pilih"
                                     " usulannya")}  # fmt: skip
    for code in origins:
        if code in state.items and state.items[code].source == "pokir":
            return {
                "funding_source": Message(
                    N_(
                        "usulan %(code)s pokok pikiran DPRD, tidak disepakati di Musrenbang"
                        " Kelurahan: Dana Kelurahan tidak dapat membiayainya"
                    ),
                    code=code,
                )
            }
        place = state.items[code].kelurahan if code in state.items else ""
        if place and (values.kecamatan_of(place) != agency.kecamatan or values.village_level(place) != "kelurahan"):
            return {"funding_source": Message(N_("usulan %(code)s bukan dari kelurahan di kecamatan ini: Dana"
                                                 " Kelurahan tidak dapat membiayainya"), code=code)}  # fmt: skip
    return {}


def _within_dana_kelurahan(state: Rkpd, line: RkpdLine, per_kelurahan: int) -> None:
    """The year's Dana Kelurahan lines of each kelurahan, this one included, add up to at most its amount
    (a line of several kelurahan counts in each by its origins' costs, as pagu is shared elsewhere)."""
    lines = [x for x in state.lines.values() if x.funding_source == "dana_kelurahan" and x.line_id != line.line_id]
    cost_of = {code: item.cost for code, item in state.items.items()}
    kelurahan_of = {code: item.kelurahan for code, item in state.items.items()}
    used = pagu_by_kecamatan([*lines, line], cost_of, kelurahan_of)  # shared by kelurahan, not kecamatan
    over = sorted(k for k in {state.items[c].kelurahan for c in line.origins} if used.get(k, 0) > per_kelurahan)
    if over:
        message = Message(N_("Dana Kelurahan %(kelurahan)s melebihi %(amount)s per kelurahan tahun ini (terpakai"
                             " %(used)s)"), kelurahan=over[0], amount=_rupiah(per_kelurahan),
                          used=_rupiah(used[over[0]]))  # fmt: skip
        raise ValidationFailed({"pagu": message})


def _rupiah(amount: int) -> str:
    return "Rp " + values.grouped(amount)


def _renja(x: LineInput, origins: tuple[str, ...], errors: dict[str, str | Message]) -> str:
    """A line comes from residents' proposals (its places are theirs) or from the agency's own work plan
    (Renja: no origin, a reason, the places it names): never both, never neither — so that every line's
    lineage says where it came from. Returns the reason, cleaned; adds what is wrong to `errors`."""
    checks = bounds.Checks()
    reason = checks.text("renja_reason", x.renja_reason, bounds.REASON, multiline=True)
    for code in x.locations:
        checks.check("locations", bounds.region_code, code)
    errors.update(checks.errors)
    if not origins and not reason:
        errors["origins"] = N_("pilih paling sedikit satu usulan asal, atau tulis alasan rencana kerja (Renja)"
                               " untuk kegiatan perangkat daerah sendiri")  # fmt: skip
    elif origins and reason:
        errors["renja_reason"] = N_("baris dari usulan warga tidak memakai alasan Renja")
    if any(c.count(".") != 3 for c in x.locations):
        errors["locations"] = N_("lokasi berupa kode kelurahan atau desa, misalnya 32.75.01.1001")
    elif len(x.locations) > MAX_ORIGINS:
        errors["locations"] = Message(N_("paling banyak %(max)d lokasi"), max=MAX_ORIGINS)
    return reason


def _positive(raw: str, field: str, message: str, bounded: str, errors: dict[str, str]) -> str | None:
    """A positive decimal as programs write it ("1200", "2.5"; three decimals at most): what the JSON API
    sends, and what a form sends once it has read the operator's "1.500" or "2,5" (values.parse_quantity,
    http/city_pages.py). What is no number gets `message`, which says what the field is; what is not above
    zero or beyond any line's worth gets `bounded`, which also names the limit (`%(max)s`)."""
    try:
        text = values.parse_decimal(raw, places=3)
    except (ValueError, AttributeError) as exc:
        known = isinstance(exc, ValueError) and exc.args[0] != values.WRITE_NUMBER
        errors[field] = exc.args[0] if known else message
        return None
    if not 0 < Decimal(text) <= MAX_COST:
        errors[field] = Message(bounded, max=values.grouped(MAX_COST))
        return None
    return text


def evolve(state: Rkpd, event: Event) -> Rkpd:
    match event:
        case RkpdProposalsReceived():
            if state.year is None:
                state = Rkpd()  # never mutate the shared empty state
            state.year = event.year
            for item in event.items:
                state.items[item.code] = item
                state.agency_of[item.code] = item.agency
        case RkpdProposalPassed():
            state.agency_of[event.code] = event.to_agency
        case RkpdProposalDeclined():
            state.declined[event.code] = event.reason
        case RkpdLineSet():
            old = state.lines.get(event.line.line_id)
            if old is not None:
                for code in old.origins:
                    state.line_of.pop(code, None)
            state.lines[event.line.line_id] = event.line
            state.issued.add(event.line.line_id)
            for code in event.line.origins:
                state.line_of[code] = event.line.line_id
            state.changed_since_adoption = state.revision > 0
        case RkpdLineWithdrawn():
            old = state.lines.pop(event.line_id)
            for code in old.origins:
                state.line_of.pop(code, None)
            state.changed_since_adoption = state.revision > 0
        case RkpdAdopted():
            state.revision, state.adopted, state.changed_since_adoption = event.revision, event.lines, False
            if event.adopted_on is not None:
                state.adopted_on = {**state.adopted_on, event.revision: event.adopted_on}
        case RkpdEnacted():
            state.enacted = {**state.enacted, event.revision: event.regulation}
        case RkpdForumScheduled():
            state = state if state.year is not None else Rkpd(year=event.year)  # never the shared empty state
            state.forums[event.forum] = event
        case RkpdForumClosed():
            state = state if state.year is not None else Rkpd(year=event.year)
            state.forums_closed.add(event.forum)
    return state


def fold(events: Iterable[Event]) -> Rkpd:
    state = Rkpd()
    for e in events:
        state = evolve(state, e)
    return state


def pagu_by_kecamatan(lines: Iterable[RkpdLine], cost_of: Mapping[str, int], kecamatan_of: Mapping[str, str]
                      ) -> dict[str, int]:  # fmt: skip
    """Each line's pagu shared among the kecamatan of its origins in proportion to the origins' costs
    (largest remainder, ties to the smaller kecamatan code), so that the shares add up to the pagu exactly.
    What the realisation view counts per kecamatan (every source; the ceiling check counts the Musrenbang
    share only: `musrenbang_by_kecamatan`). A Renja line is shared evenly
    among the places it names (each kelurahan or desa one share, counted in its kecamatan); a city-wide one
    belongs to no kecamatan."""
    totals: dict[str, int] = {}
    for line in lines:
        weights: dict[str, int] = {}
        for code in line.origins:
            k = kecamatan_of[code]
            weights[k] = weights.get(k, 0) + max(cost_of.get(code, 0), 1)
        if not line.origins:  # a Renja line: one share per place it names (none: city-wide)
            for kelurahan in line.locations:
                k = values.kecamatan_of(kelurahan)
                weights[k] = weights.get(k, 0) + 1
        for k, v in _shares(line.pagu, weights).items():
            totals[k] = totals.get(k, 0) + v
    return totals


def over_pagu(totals: Mapping[str, int], ceilings: Mapping[str, int]) -> dict[str, int]:
    """Kecamatan -> by how much its share of the lines' pagu (`totals`, from `musrenbang_by_kecamatan`) is over its
    pagu indikatif, in code order; only the kecamatan over theirs. What the adoption asks to be confirmed."""
    return {k: totals.get(k, 0) - ceiling for k, ceiling in sorted(ceilings.items()) if totals.get(k, 0) > ceiling}


_K = TypeVar("_K", str, tuple[str, str])
SOURCES = ("musrenbang", "pokir", "renja")
"""Where an RKPD line's pagu came from: residents' proposals through the forums, DPRD members' pokir, or
the agencies' own work plans (Renja)."""
CITY_WIDE = ""
"""The kecamatan of a Renja line that names no place."""


def pagu_by_source(lines: Iterable[RkpdLine], items: Mapping[str, CityItem]) -> dict[tuple[str, str], int]:
    """(kecamatan, source) -> the part of the lines' pagu that came from that source in that kecamatan.
    A line of several origins is shared among them by their costs, as `pagu_by_kecamatan` shares it, and
    each origin's share counts for its own source (a line may join residents' proposals and a pokir); a
    Renja line counts for `renja`, evenly over its places (a city-wide one under CITY_WIDE). The shares of
    every line add up to its pagu exactly."""
    totals: dict[tuple[str, str], int] = {}
    for line in lines:
        weights: dict[tuple[str, str], int] = {}
        for code in line.origins:
            item = items[code]
            key = (values.kecamatan_of(item.kelurahan), item.source)
            weights[key] = weights.get(key, 0) + max(item.cost, 1)
        if not line.origins:
            for place in line.locations or (CITY_WIDE,):
                key = (values.kecamatan_of(place) if place else CITY_WIDE, "renja")
                weights[key] = weights.get(key, 0) + 1
        for key, v in _shares(line.pagu, weights).items():
            totals[key] = totals.get(key, 0) + v
    return totals


def musrenbang_by_kecamatan(lines: Iterable[RkpdLine], items: Mapping[str, CityItem]) -> dict[str, int]:
    """Kecamatan -> the part of the lines' pagu that came from residents' proposals of that kecamatan through
    the Musrenbang (`pagu_by_source`'s `musrenbang` shares): what its pagu indikatif is the ceiling of, and so
    what the adoption's ceiling check (`over_pagu`) and the equity view compare with it. Pokir and Renja
    shares are left out."""
    return {k: v for (k, source), v in pagu_by_source(lines, items).items() if source == "musrenbang" and k}


def _shares(whole_amount: int, weights: Mapping[_K, int]) -> dict[_K, int]:
    """`whole_amount` shared by `weights` (largest remainder, ties to the smaller key): adds up exactly."""
    whole = sum(weights.values())
    if not whole:
        return {}
    shares = {k: whole_amount * w // whole for k, w in weights.items()}
    left = whole_amount - sum(shares.values())
    for k in sorted(weights, key=lambda k: (-(whole_amount * weights[k] % whole), k))[:left]:
        shares[k] += 1
    return shares
