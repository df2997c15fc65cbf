"""What residents are told, review s28a: every message about a proposal has a subject of its own that says
what happened, with the code (all of them were "Kabar usulan {code}", whatever they said); and a proposal
not selected at a Musrenbang is told what the resident can still do: propose the need again for the next
year, as the tracking page offers ("Usulkan lagi"), the way a proposal closed without a decision is told."""

from __future__ import annotations

import datetime as dt

import pytest

from musrenbang.domain.events import (
    ProposalAccepted,
    ProposalDecidedAtForum,
    ProposalMerged,
    ProposalRejected,
    ProposalReturned,
    ProposalSubmitted,
    RkpdMilestoneRecorded,
    RkpdProposalDeclined,
)
from musrenbang.domain.notices import SMS_LENGTH, closed_unprocessed, notices
from musrenbang.domain.rules import OVER_CEILING
from tests.domain.test_pokir import CONTENT

CODE = "NTN7WYDJ"


def _forum(selected: bool, reason: str | None = None, level: str = "kelurahan") -> ProposalDecidedAtForum:
    return ProposalDecidedAtForum(code=CODE, forum_id="f", level=level, rank=4, selected=selected, reason=reason)


def _milestone(stage: str, **more: object) -> RkpdMilestoneRecorded:
    return RkpdMilestoneRecorded(year=2022, line_id="DBMSDA-003", agency="DBMSDA", origins=(CODE,), stage=stage,
                                 on=dt.date(2022, 9, 1), **more)  # type: ignore[arg-type]  # fmt: skip


SUBJECTS = [
    (ProposalSubmitted(code=CODE, year=2023, source="warga", content=CONTENT, proposer_ref="r"),
     f"Usulan {CODE} tercatat"),
    (ProposalAccepted(code=CODE), f"Usulan {CODE} lolos verifikasi"),
    (ProposalReturned(code=CODE, reason="Lengkapi foto."), f"Usulan {CODE} dikembalikan untuk diperbaiki"),
    (ProposalRejected(code=CODE, reason="Bukan kewenangan kota."), f"Usulan {CODE} tidak lolos verifikasi"),
    (ProposalMerged(code=CODE, into="HCGBRNNV", reason="sama"), f"Usulan {CODE} digabung ke usulan HCGBRNNV"),
    (_forum(True), f"Usulan {CODE} terpilih di Musrenbang Kelurahan"),
    (_forum(False, OVER_CEILING, "kecamatan"), f"Usulan {CODE} tidak terpilih di Musrenbang Kecamatan"),
    (RkpdProposalDeclined(code=CODE, year=2023, agency="DBMSDA", reason="Sudah ditangani."),
     f"Usulan {CODE} tidak masuk RKPD 2023"),
    (_milestone("apbd", amount=5_000_000), f"Usulan {CODE}: kegiatannya dianggarkan dalam APBD 2022"),
    (_milestone("kontrak", amount=4_800_000), f"Usulan {CODE}: kegiatannya mulai dikerjakan"),
    (_milestone("pelaksanaan", progress=55), f"Usulan {CODE}: kegiatannya sudah 55% dikerjakan"),
    (_milestone("selesai"), f"Usulan {CODE}: kegiatannya selesai dikerjakan"),
    (_milestone("batal", note="Refocusing anggaran."), f"Usulan {CODE}: kegiatannya dibatalkan"),
]  # fmt: skip


@pytest.mark.parametrize(("event", "subject"), SUBJECTS, ids=[type(e).__name__ + "-" + s for e, s in SUBJECTS])
def test_each_message_about_a_proposal_has_a_subject_of_its_own_with_its_code(event: object, subject: str) -> None:
    [told] = [n for n in notices(event, place=CONTENT.kelurahan) if n.subject == CODE]  # type: ignore[arg-type]
    assert told.title == subject


def test_the_subjects_of_a_proposals_messages_differ_and_the_closing_has_its_own() -> None:
    titles = [n.title for event, _ in SUBJECTS
              for n in notices(event, place=CONTENT.kelurahan) if n.subject == CODE]  # type: ignore[arg-type]  # fmt: skip
    assert len(set(titles)) == len(SUBJECTS) and not any(t.startswith("Kabar usulan") for t in titles)
    assert closed_unprocessed(CODE, 2022, "belum_diverifikasi").title == f"Usulan {CODE} ditutup tanpa keputusan"


@pytest.mark.parametrize("reason", [OVER_CEILING, None])
def test_a_proposal_not_selected_is_told_it_can_be_proposed_again_next_year(reason: str | None) -> None:
    [told] = notices(_forum(False, reason), place=CONTENT.kelurahan)
    assert told.body.startswith(f"Usulan {CODE} tidak terpilih di Musrenbang Kelurahan")
    assert told.body.endswith(" Dapat diusulkan lagi untuk tahun berikutnya lewat halaman lacak.")
    assert len(told.body) <= SMS_LENGTH, told.body  # with a ceiling's reason, still one SMS
    [chosen] = notices(_forum(True))
    assert "diusulkan lagi" not in chosen.body
