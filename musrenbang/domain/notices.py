"""What residents are told, and when: the short Indonesian message each event that matters to a proposal or
an RKPD line sends to whoever follows it (the proposer, by the channel chosen at submission; anyone who
follows it by e-mail).

Pure: an event in, notices out. Who receives them (and by which address) is looked up by the outbox in
the append's transaction (eventlog/outbox.py); no personal data passes through here. A message names the
proposal by its code, never by its proposer. Texts stay short (an SMS is 160 characters; the link is
added by the delivery) and say what happened and, when something is asked of the resident, what to do.
"""

from __future__ import annotations

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
from musrenbang.domain.rules import REASON_LABELS
from musrenbang.domain.values import long_date

MAX_REASON = 110
"""Characters of a reason quoted in a message; the tracking page has the rest."""
_LEVEL = {"kelurahan": "kelurahan/desa", "kecamatan": "kecamatan", "kota": "kota"}


class Notice(msgspec.Struct, frozen=True, kw_only=True):
    """One message about `subject` (a proposal code, or `rkpd/{year}/{line_id}`).

    `once`: a key that makes the message go to each follower once however many events repeat the news
    (an RKPD adopted again, a second progress report); None: once per event. `follow_to`: the subject
    that carries this one's followers on from now (a merge). `news`: what the notice tells, when several
    notices of one event tell the same thing to the followers of different subjects (a line's milestone,
    to the line's followers and to its proposals'): an address that follows more than one of them gets
    only the first listed, and news with a `once` key reaches an address once, whichever subscription
    brings it; None: each notice is news of its own."""

    subject: str
    purpose: str
    title: str
    body: str
    once: str | None = None
    follow_to: str | None = None
    news: str | None = None


def line_subject(year: int, line_id: str) -> str:
    return f"rkpd/{year}/{line_id}"


def notices(event: Event) -> list[Notice]:
    """The messages `event` sends (none for most events)."""
    match event:
        case ProposalSubmitted():
            return [_proposal(event.code, "submitted", f"Usulan Anda tercatat dengan kode {event.code}. Simpan kode"
                              " ini untuk melacak usulan dan menerima kabar.")]  # fmt: skip
        case ProposalAccepted():
            changed = " dengan perubahan volume/biaya" if event.agreed_cost or event.agreed_volume else ""
            return [_proposal(event.code, "verified", f"Usulan {event.code} lolos verifikasi{changed} dan dibawa ke"
                              " Musrenbang kelurahan/desa.")]  # fmt: skip
        case ProposalReturned():
            return [_proposal(event.code, "returned", f"Usulan {event.code} dikembalikan untuk diperbaiki:"
                              f" {_short(event.reason)}. Perbaiki lewat halaman lacak dengan kode rahasia Anda.")]
        case ProposalRejected():
            return [_proposal(event.code, "rejected", f"Usulan {event.code} tidak lolos verifikasi:"
                              f" {_short(event.reason)}.")]  # fmt: skip
        case ProposalMerged():
            return [msgspec.structs.replace(
                _proposal(event.code, "merged", f"Usulan {event.code} digabung dengan usulan serupa {event.into}:"
                          f" {_short(event.reason)}. Kabar berikutnya tentang usulan gabungan itu."),
                follow_to=event.into)]  # fmt: skip
        case ProposalDecidedAtForum():
            level = _LEVEL.get(event.level, event.level)
            if event.selected:
                text = f"Usulan {event.code} terpilih di Musrenbang {level} (peringkat {event.rank}) dan diteruskan."
            else:
                why = f": {_short(REASON_LABELS.get(event.reason, event.reason))}" if event.reason else ""
                text = f"Usulan {event.code} tidak terpilih di Musrenbang {level}{why}."
            return [_proposal(event.code, "forum", text)]
        case RkpdProposalDeclined():
            return [_proposal(event.code, "not_in_rkpd", f"Usulan {event.code} tidak diakomodasi dalam RKPD"
                              f" {event.year}: {_short(event.reason)}.")]  # fmt: skip
        case RkpdAdopted():
            return _adopted(event)
        case RkpdMilestoneRecorded():
            return _milestone(event)
    return []


def _adopted(event: RkpdAdopted) -> list[Notice]:
    """Each origin is told once that it is in the RKPD, at the first adoption that has it (a later
    revision tells only the proposals it adds)."""
    out = []
    for line in event.lines:
        for code in line.origins:
            text = (f"Usulan {code} masuk RKPD {event.year}: {_short(line.sub_kegiatan, 80)}, pagu"
                    f" {_rupiah(line.pagu)}. Berikutnya: penganggaran dalam APBD.")  # fmt: skip
            out.append(Notice(subject=code, purpose="in_rkpd", title=f"Usulan {code} masuk RKPD {event.year}",
                              body=text, once=f"in_rkpd:{event.year}"))  # fmt: skip
    return out


_MILESTONE_NEWS = {
    "apbd": "budgeted",
    "kontrak": "under_way",
    "pelaksanaan": "under_way",
    "selesai": "finished",
    "batal": "dropped",
}


def _milestone(event: RkpdMilestoneRecorded) -> list[Notice]:
    """Budgeted, under way (the contract or the first progress report, whichever comes first), finished,
    dropped: to the line's followers and to every proposal it came from — one piece of news (`news`): an
    address following the line and some of its proposals is told once, in the line's words."""
    purpose = _MILESTONE_NEWS.get(event.stage)
    if purpose is None:
        return []
    what = {
        "budgeted": f"dianggarkan dalam APBD {event.year}: {_rupiah(event.amount or 0)}",
        "under_way": "mulai dikerjakan" + (f" oleh {_short(event.contractor, 60)}" if event.contractor else ""),
        "finished": f"selesai dikerjakan (serah terima {long_date(event.on)})",
        "dropped": f"dibatalkan: {_short(event.note)}",
    }[purpose]
    once = f"{purpose}:{event.year}/{event.line_id}" if purpose == "under_way" else None
    line = line_subject(event.year, event.line_id)
    out = [Notice(subject=line, purpose=purpose, title=f"Kegiatan RKPD {event.year} {event.line_id}",
                  body=f"Kegiatan RKPD {event.year} ({event.line_id}) {what}.", once=once, news=line)]  # fmt: skip
    out.extend(
        Notice(subject=code, purpose=purpose, title=f"Kabar usulan {code}",
               body=f"Kegiatan dari usulan {code} {what}.", once=once, news=line)  # fmt: skip
        for code in event.origins
    )
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
    return Notice(subject=code, purpose="unprocessed", title=f"Kabar usulan {code}", once=f"unprocessed:{year}",
                  body=f"RKPD {year} ditetapkan ketika usulan {code} {_UNPROCESSED.get(reason, 'belum diproses')}:"
                       " usulan ditutup tanpa keputusan. Kebutuhan ini dapat diusulkan lagi untuk tahun berikutnya"
                       " lewat halaman lacak.")  # fmt: skip


def _proposal(code: str, purpose: str, body: str) -> Notice:
    return Notice(subject=code, purpose=purpose, title=f"Kabar usulan {code}", body=body)


def _short(text: str | None, limit: int = MAX_REASON) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _rupiah(amount: int) -> str:
    return "Rp " + f"{amount:,}".replace(",", ".")
