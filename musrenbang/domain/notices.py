"""What residents are told, and when: the short Indonesian message each event that matters to a proposal or
an RKPD line sends to whoever follows it (the proposer, by the channel chosen at submission; anyone who
follows it by e-mail).

Pure: an event in, notices out. Who receives them (and by which address) is looked up by the outbox in
the append's transaction (eventlog/outbox.py); no personal data passes through here. A message names the
proposal by its code, never by its proposer. Texts stay short (SMS_LENGTH; the link is added by the
delivery) and say what happened and, when something is asked of the resident, what to do — of the
proposer only what only the proposer can do (`Notice.follower_body`).

A quoted reason or name is cut at a word when long, and a sentence never ends in "…." (`_said`).
An RKPD line is named by its name and code; the name is not in the milestone's event, so whoever calls
`notices` gives it (`line_name`, eventlog/outbox.py reads it from the line's adoption in the log).

When a proposal's story has ended, so that no event to come will tell its followers anything, is
`proposal_news_ended`'s (asking to follow such a proposal makes nothing: services/following.py).
"""

from __future__ import annotations

from collections.abc import Mapping

import msgspec

from musrenbang.domain.events import (
    Event,
    ProposalAccepted,
    ProposalDecidedAtForum,
    ProposalMerged,
    ProposalRejected,
    ProposalReturned,
    ProposalSubmitted,
    RkpdAdopted,
    RkpdMilestoneRecorded,
    RkpdProposalDeclined,
)
from musrenbang.domain.proposal import DITOLAK, MASUK_RKPD, TIDAK_DIPROSES, TIDAK_TERAKOMODASI
from musrenbang.domain.realisation import FINAL as LINE_FINAL
from musrenbang.domain.rules import REASON_LABELS
from musrenbang.domain.values import city_level, long_date, village_level

SMS_LENGTH = 160
"""Characters of one SMS: a message's words (its body and, when they fit beside it, the stop hint the
delivery adds: delivery/channels.py) aim to fit in one; the link goes after them."""
MAX_REASON = 110
"""Characters of a reason quoted in a message; the tracking page has the rest."""
PROGRESS_STEP = 25
"""Progress reports are news at each further step of this many percent (`_milestone`)."""
AGAIN = "Dapat diusulkan lagi untuk tahun berikutnya lewat halaman lacak."
"""What a resident whose proposal was refused (not verified, not selected, not taken into the RKPD) can
do: the tracking page offers "Usulkan lagi" for the next year's cycle (domain/proposal.not_accommodated)."""


def forum_name(level: str, place: str | None) -> str:
    """The Musrenbang of `level` (domain/forum.LEVELS) as the residents of `place` know it: `place` is the
    Kemendagri code of the proposal's village, whose fourth part tells a kelurahan (1…) from a desa (2…,
    values.village_level) and whose second part a kota from a kabupaten (values.city_level). Without a
    village code, the village's forum is named for both.

    >>> forum_name("kelurahan", "32.75.01.1001"), forum_name("kelurahan", "51.01.03.2004")
    ('Musrenbang Kelurahan', 'Musrenbang Desa')
    >>> forum_name("kota", "32.75.01.1001"), forum_name("kota", "51.01.03.2004"), forum_name("kecamatan", None)
    ('Musrenbang Kota', 'Musrenbang Kabupaten', 'Musrenbang Kecamatan')
    >>> forum_name("kelurahan", None), forum_name("kelurahan", "X"), forum_name("kota", None)
    ('Musrenbang Kelurahan/Desa', 'Musrenbang Kelurahan/Desa', 'Musrenbang Kota')
    """
    village = place if place and place.count(".") == 3 else None
    if level == "kelurahan":
        return f"Musrenbang {village_level(village).capitalize()}" if village else "Musrenbang Kelurahan/Desa"
    if level == "kota":
        return f"Musrenbang {city_level(village or '').capitalize()}"
    return f"Musrenbang {level.capitalize()}"


class Notice(msgspec.Struct, frozen=True, kw_only=True):
    """One message about `subject` (a proposal code, or `rkpd/{year}/{line_id}`).

    `once`: a key that makes the message go to each follower once however many events repeat the news
    (an RKPD adopted again, a second progress report); None: once per event. `follow_to`: the subject
    that carries this one's followers on from now (a merge). `news`: what the notice tells, when several
    notices of one event tell the same thing to the followers of different subjects (a line's milestone,
    to the line's followers and to its proposals'): an address that follows more than one of them gets
    only the first listed, and news with a `once` key reaches an address once, whichever subscription
    brings it; None: each notice is news of its own. `follower_body`: the body for whoever follows the
    subject but did not propose it (eventlog/outbox.py tells them apart), when `body` asks of the proposer
    what only they can do (revise it with their secret code); None: `body` for everyone."""

    subject: str
    purpose: str
    title: str
    body: str
    once: str | None = None
    follow_to: str | None = None
    news: str | None = None
    follower_body: str | None = None


def line_subject(year: int, line_id: str) -> str:
    return f"rkpd/{year}/{line_id}"


def notices(event: Event, *, line_name: str | None = None, adopted_before: Mapping[str, str] | None = None,
            line_stages: Mapping[str, str] | None = None, place: str | None = None) -> list[Notice]:  # fmt: skip
    """The messages `event` sends (none for most events). `place`: the village (Kemendagri code) of the
    proposal a verification or a forum's decision is about, which names its forums as they are
    (`forum_name`: Musrenbang Desa, Musrenbang Kabupaten); eventlog/outbox.py reads it from the proposal's
    submission or latest revision in the log. `line_name`: the name (sub-kegiatan) of the RKPD
    line a milestone is about, as adopted; without it the line is named by its code alone. For an RKPD
    adopted again (an amendment: `revision` after 1), `adopted_before`: the line each proposal was in
    in the revision adopted before it (proposal code -> line id), and `line_stages`: the stage of the
    latest milestone of each line that has one, at least of the lines taking in a proposal they did not
    have then (`_adopted`); eventlog/outbox.py reads both from the log."""
    match event:
        case ProposalSubmitted():
            return [_proposal(event.code, "submitted", f"Usulan Anda untuk RKPD {event.year} tercatat dengan kode"
                              f" {event.code}. Simpan kode ini untuk melacak usulan dan menerima kabar.",
                              f"Usulan {event.code} tercatat")]  # fmt: skip
        case ProposalAccepted():
            changed = " dengan perubahan volume/biaya" if event.agreed_cost or event.agreed_volume else ""
            forum = forum_name("kelurahan", place)
            return [_proposal(event.code, "verified", f"Usulan {event.code} lolos verifikasi{changed} dan dibawa ke"
                              f" {forum}.", f"Usulan {event.code} lolos verifikasi")]  # fmt: skip
        case ProposalReturned():
            # Only the proposer holds the secret code that revises it: a follower is told who is to act.
            return [msgspec.structs.replace(
                _proposal(event.code, "returned", f"Usulan {event.code} dikembalikan untuk diperbaiki:"
                          f" {_said(event.reason)} Perbaiki lewat halaman lacak dengan kode rahasia Anda.",
                          f"Usulan {event.code} dikembalikan untuk diperbaiki"),
                follower_body=f"Usulan {event.code} dikembalikan ke pengusulnya untuk diperbaiki:"
                              f" {_said(event.reason)}")]  # fmt: skip
        case ProposalRejected():
            return [_proposal(event.code, "rejected", f"Usulan {event.code} tidak lolos verifikasi:"
                              f" {_said(event.reason)} {AGAIN}",
                              f"Usulan {event.code} tidak lolos verifikasi")]  # fmt: skip
        case ProposalMerged():
            return [msgspec.structs.replace(
                _proposal(event.code, "merged", f"Usulan {event.code} digabung dengan usulan serupa {event.into}:"
                          f" {_said(event.reason)} Kabar berikutnya tentang usulan gabungan itu.",
                          f"Usulan {event.code} digabung ke usulan {event.into}"),
                follow_to=event.into)]  # fmt: skip
        case ProposalDecidedAtForum():
            forum = forum_name(event.level, place)
            if event.selected:
                title = f"Usulan {event.code} terpilih di {forum}"
                text = f"{title} (peringkat {event.rank}) dan diteruskan."
                return [_proposal(event.code, "forum", text, title)]
            title = f"Usulan {event.code} tidak terpilih di {forum}"
            why = f": {_said(REASON_LABELS.get(event.reason, event.reason))}" if event.reason else "."
            return [_proposal(event.code, "forum", f"{title}{why} {AGAIN}", title)]
        case RkpdProposalDeclined():
            return [_proposal(event.code, "not_in_rkpd", f"Usulan {event.code} tidak diakomodasi dalam RKPD"
                              f" {event.year}: {_said(event.reason)} {AGAIN}",
                              f"Usulan {event.code} tidak masuk RKPD {event.year}")]  # fmt: skip
        case RkpdAdopted():
            return _adopted(event, adopted_before, line_stages or {})
        case RkpdMilestoneRecorded():
            return _milestone(event, line_name)
    return []


def _adopted(event: RkpdAdopted, before: Mapping[str, str] | None, stages: Mapping[str, str]) -> list[Notice]:
    """Each origin is told once that it is in the RKPD, at the first adoption that has it.

    An amendment (a revision after the first, with `before`: where each proposal was in the revision
    adopted before it) tells only the proposals whose place in the RKPD it changed, each in words of what
    changed: one moved to another line is told which, and one new to the list that it is in (once a year,
    as at the first adoption). A proposal in the same line as before is told nothing, however that line
    changed: whoever began following it since knows where it stands from its page, and its line's
    milestones tell the rest; the first adoption's "next: budgeting" told again would be stale (its line may
    be budgeted, under way or finished by then). One taken out of the list was declined by its agency
    (an adoption leaves no proposal undecided, and a declined one goes into no line), and told so then
    (RkpdProposalDeclined). "Next: budgeting" only where the line is still to be budgeted; a line further
    on says how far (`stages`, its latest milestone). Without `before` every origin is told as at a first
    adoption (once a year)."""
    amended = event.revision > 1 and before is not None
    out = []
    for line in event.lines:
        then = _line_then(stages.get(line.line_id))
        for code in line.origins:
            was = before.get(code) if before is not None and amended else None
            if amended and was == line.line_id:
                continue
            if not amended:
                text = (f"Usulan {code} masuk RKPD {event.year}: {_short(line.sub_kegiatan, 80)}, pagu"
                        f" {_rupiah(line.pagu)}.{then}")  # fmt: skip
            elif was is None:
                text = _named(f"Usulan {code} masuk perubahan RKPD {event.year}: ", line.sub_kegiatan,
                              f", pagu {_rupiah(line.pagu)}.{then}",
                              f"Usulan {code} masuk perubahan RKPD {event.year} ({line.line_id}), pagu"
                              f" {_rupiah(line.pagu)}.{then}")  # fmt: skip
            else:
                moved = _named(f"Perubahan RKPD {event.year} memindahkan usulan {code} ke kegiatan “",
                               line.sub_kegiatan, f"”, pagu {_rupiah(line.pagu)}.{then}",
                               f"Perubahan RKPD {event.year} memindahkan usulan {code} ke kegiatan"
                               f" {line.line_id}, pagu {_rupiah(line.pagu)}.{then}")  # fmt: skip
                title = f"Usulan {code} pindah kegiatan dalam perubahan RKPD {event.year}"
                out.append(Notice(subject=code, purpose="in_rkpd", title=title, body=moved))
                continue
            out.append(Notice(subject=code, purpose="in_rkpd", title=f"Usulan {code} masuk RKPD {event.year}",
                              body=text, once=f"in_rkpd:{event.year}"))  # fmt: skip
    return out


_LINE_FURTHER = {
    "apbd": "dianggarkan dalam APBD",
    "dpa": "dianggarkan dalam APBD",
    "kontrak": "mulai dikerjakan",
    "pelaksanaan": "mulai dikerjakan",
    "selesai": "selesai dikerjakan",
    "batal": "dibatalkan",
}
"""How far a line past its budgeting has come (domain/realisation.STAGES), as a proposal coming into it is
told (`_line_then`)."""


def _line_then(stage: str | None) -> str:
    """What comes next for a line at `stage` (its latest milestone; None: none yet), or how far it is past
    budgeting.

    >>> _line_then(None), _line_then("kua_ppas")
    (' Berikutnya: penganggaran dalam APBD.', ' Berikutnya: penganggaran dalam APBD.')
    >>> _line_then("dpa"), _line_then("pelaksanaan")
    (' Kegiatan ini sudah dianggarkan dalam APBD.', ' Kegiatan ini sudah mulai dikerjakan.')
    """
    further = _LINE_FURTHER.get(stage or "")
    return f" Kegiatan ini sudah {further}." if further else " Berikutnya: penganggaran dalam APBD."


_MILESTONE_NEWS = {
    "apbd": "budgeted",
    "kontrak": "under_way",
    "pelaksanaan": "under_way",
    "selesai": "finished",
    "batal": "dropped",
}
_MIN_NAME = 24
"""Characters of a line's name kept at least when a message must be shortened to fit SMS_LENGTH."""


def progress_step(progress: int | None) -> int:
    """The step of PROGRESS_STEP percent a progress report reaches: news of the work is told again only
    when a report reaches a step the follower has not been told of (`_milestone`).

    >>> [progress_step(p) for p in (None, 0, 24, 25, 70, 85, 99, 100)]
    [0, 0, 0, 25, 50, 75, 75, 100]
    """
    return min(max(progress or 0, 0), 100) // PROGRESS_STEP * PROGRESS_STEP


def _milestone(event: RkpdMilestoneRecorded, name: str | None) -> list[Notice]:
    """Budgeted, the work under way, finished, dropped: to the line's followers and to every proposal it
    came from — one piece of news (`news`): an address following the line and some of its proposals is told
    once, in the line's words.

    The work under way is told without flooding, once per follower at each step (`once`, per address):
    it started (the contract, or a first progress report under PROGRESS_STEP %, whichever comes first:
    the same once-only key as before there were steps, so whoever was told of the start is not told
    again), then each report that reaches a further step of PROGRESS_STEP % (25, 50, 75, 100) that this
    follower has not been told of, saying the progress reported. Reports within a step tell nothing new
    enough to wake anyone (the pages have every one); a report that jumps steps is told once. A follower
    who begins following a line already under way is told at the next report that reaches a step new to
    them. Budgeted, finished and dropped are told each time they are recorded (once each in a line's
    life)."""
    purpose = _MILESTONE_NEWS.get(event.stage)
    if purpose is None:
        return []
    key = f"{event.year}/{event.line_id}"
    once = None
    if event.stage == "kontrak":
        headline = "mulai dikerjakan"
        by = f" oleh {_short(event.contractor, 40)}" if event.contractor else ""
        what = f"{headline}{by}" + (f", nilai kontrak {_rupiah(event.amount)}." if event.amount else ".")
        once = f"under_way:{key}"
    elif event.stage == "pelaksanaan":
        step = progress_step(event.progress)
        once = f"under_way:{key}" if step == 0 else f"under_way:{key}:{step}"
        headline = f"sudah {event.progress}% dikerjakan" if event.progress else "mulai dikerjakan"
        spent = f", dana terpakai {_rupiah(event.amount)}" if event.amount else ""
        what = f"{headline} per {long_date(event.on)}{spent}."
    elif purpose == "budgeted":
        headline = f"dianggarkan dalam APBD {event.year}"
        what = headline + (f": {_rupiah(event.amount)}." if event.amount else ".")
    elif purpose == "finished":
        headline = "selesai dikerjakan"
        what = f"{headline} (serah terima {long_date(event.on)})."
    else:
        headline = "dibatalkan"
        what = f"{headline}: {_said(event.note, 80)}"
    line = line_subject(event.year, event.line_id)
    if name:
        title = f"{_short(name, 80)} ({event.line_id}): {headline}"
    else:
        title = f"Kegiatan RKPD {event.year} {event.line_id}: {headline}"
    out = [Notice(subject=line, purpose=purpose, title=title, once=once, news=line,
                  body=_named(f"Kegiatan RKPD {event.year} “", name, f"” ({event.line_id}) {what}",
                              f"Kegiatan RKPD {event.year} ({event.line_id}) {what}"))]  # fmt: skip
    for code in event.origins:
        body = _named("Kegiatan “", name, f"” dari usulan {code} {what}", f"Kegiatan dari usulan {code} {what}")
        out.append(Notice(subject=code, purpose=purpose, title=f"Usulan {code}: kegiatannya {headline}", body=body,
                          once=once, news=line))  # fmt: skip
    return out


_UNPROCESSED = {
    "belum_diverifikasi": "belum diverifikasi",
    "belum_diperbaiki": "dikembalikan untuk diperbaiki dan belum diperbaiki",
    "belum_dimusyawarahkan": "lolos verifikasi tetapi belum dibahas di musyawarah",
}


def closed_unprocessed(code: str, year: int, reason: str) -> Notice:
    """A proposal closed without a decision by its year's adoption (domain/proposal.CLOSED_AT_ADOPTION, `reason`
    one of its values): no event of its own says so, so the adoption's service queues this (services/rkpd.py).
    Once per year: a later revision closes nothing more."""
    return Notice(subject=code, purpose="unprocessed", title=f"Usulan {code} ditutup tanpa keputusan",
                  once=f"unprocessed:{year}",
                  body=f"RKPD {year} ditetapkan ketika usulan {code} {_UNPROCESSED.get(reason, 'belum diproses')}:"
                       " usulan ditutup tanpa keputusan. Kebutuhan ini dapat diusulkan lagi untuk tahun berikutnya"
                       " lewat halaman lacak.")  # fmt: skip


PROPOSAL_FINAL = frozenset({DITOLAK, TIDAK_TERAKOMODASI, TIDAK_DIPROSES})
"""Statuses (as the proposals read model has them) after which nothing more is ever told about a proposal:
rejected at verification (only a proposal waiting for verification is verified, only a returned one revised,
and a rejected one is neither merged nor put on any agenda); not accommodated (not selected at a forum:
forwarded to none, and a forum's agenda takes only accepted or forwarded proposals; or declined by the
agencies, for good: a declined proposal is passed on to no agency and goes into no line); closed without a
decision when its year's RKPD was adopted (nothing is decided on a proposal of an adopted year, and the
closing is told once). Proposing it again for a later year (ProposalCarriedOver) tells its followers
nothing: the need goes on as a new proposal, with followers of its own."""


def proposal_news_ended(status: str | None, line_stage: str | None = None) -> str | None:
    """What ended a proposal's news, or None while some may still come: its status when final
    (`PROPOSAL_FINAL`), or, for one in the RKPD, the final stage of the line it went into (`line_stage`,
    domain/realisation.FINAL: finished or dropped; such a line is neither changed nor withdrawn any more,
    services/rkpd.py, so its proposals stay in it, and it records no milestone more). Judge a merged
    duplicate by the proposal it lives in: its news is that one's.

    Not ended: anything still waiting for a decision, returned (it may be revised), forwarded (an adopted
    RKPD may still take it into a line, or decline it, in an amendment, after a line that had it was
    withdrawn), in the RKPD with its line still to be budgeted or at work, or with no line known.

    >>> [proposal_news_ended(s) for s in ("ditolak", "tidak_terakomodasi", "tidak_diproses", "dikembalikan")]
    ['ditolak', 'tidak_terakomodasi', 'tidak_diproses', None]
    >>> [proposal_news_ended("masuk_rkpd", stage) for stage in (None, "apbd", "pelaksanaan", "selesai", "batal")]
    [None, None, None, 'selesai', 'batal']
    >>> proposal_news_ended("diteruskan", "selesai"), proposal_news_ended("digabungkan")
    (None, None)
    """
    if status in PROPOSAL_FINAL:
        return status
    if status == MASUK_RKPD and line_stage in LINE_FINAL:
        return line_stage
    return None


def _proposal(code: str, purpose: str, body: str, title: str) -> Notice:
    """A notice about proposal `code`; `title` (an e-mail's subject) says what happened to it, with its code."""
    return Notice(subject=code, purpose=purpose, title=title, body=body)


_TRAILING = " .,;:!?-–—"
"""What a cut text loses at its end before "…": "Ja." + "…" would read ".…"."""


def _short(text: str | None, limit: int = MAX_REASON) -> str:
    """`text` on one line, cut to `limit` characters at the end of a word with "…" when longer (in the
    middle of a word only when the last word would take more than half of it: a long address).

    >>> _short("Silakan sampaikan ke UPTD Provinsi Jawa Barat", 38)
    'Silakan sampaikan ke UPTD Provinsi…'
    >>> _short("Lokasi di luar kota. Ajukan ke kabupaten", 21), _short("https://contoh.id/berkas/panjang", 12)
    ('Lokasi di luar kota…', 'https://con…')
    """
    text = " ".join((text or "").split())
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    if text[limit - 1] != " ":
        head, space, _ = cut.rpartition(" ")
        if space and len(head) >= (limit - 1) // 2:
            cut = head
    return cut.rstrip(_TRAILING) + "…"


def _said(text: str | None, limit: int = MAX_REASON) -> str:
    """`text` as the end of a sentence: cut by `_short` (then "…" ends it), else closed by a full stop
    unless it ends a sentence already. Never "…." nor "..".

    >>> _said("lahan belum tersedia"), _said("Lengkapi foto."), _said("Sudah ada?"), _said("a b c d e f", 8)
    ('lahan belum tersedia.', 'Lengkapi foto.', 'Sudah ada?', 'a b c d…')
    """
    said = _short(text, limit)
    if said.endswith(("…", ".", "!", "?")):
        return said
    return said.rstrip(_TRAILING) + "."


def _named(before: str, name: str | None, after: str, unnamed: str) -> str:
    """`before` + a line's `name` + `after`, the name cut (at a word) as far as it takes to keep the message
    within SMS_LENGTH, but never below _MIN_NAME characters; `unnamed` when the name is not known."""
    if not name:
        return unnamed
    name = " ".join(name.split())
    room = SMS_LENGTH - len(before) - len(after)
    return before + (name if len(name) <= room else _short(name, max(_MIN_NAME, room))) + after


def _rupiah(amount: int) -> str:
    return "Rp " + f"{amount:,}".replace(",", ".")
