"""What residents are told, review s25: an RKPD line's news names the line and says what happened (the
progress reached, not "mulai dikerjakan" at 85%), and progress reaches its followers at each step of 25%
without a message per report; a follower is not told to use the proposer's secret code; a quoted reason
is cut at a word and never ends in "…."; the code at submission comes with its RKPD year."""

from __future__ import annotations

import datetime as dt

import pytest

from musrenbang.domain.events import (
    ProposalDecidedAtForum,
    ProposalMerged,
    ProposalRejected,
    ProposalReturned,
    ProposalSubmitted,
    RkpdMilestoneRecorded,
    RkpdProposalDeclined,
)
from musrenbang.domain.notices import SMS_LENGTH, Notice, notices
from tests.domain.test_pokir import CONTENT

NAME = "Pembangunan Saluran Drainase Lingkungan"
LONG_NAME = ("Pembangunan dan Rehabilitasi Saluran Drainase Lingkungan Perumahan Warga RW 01 sampai RW 12"
             " Kelurahan Jatiasih Kecamatan Jatiasih")  # fmt: skip
REASON = ("Lokasi usulan berada di ruas jalan provinsi sehingga bukan kewenangan kota. Silakan sampaikan ke UPTD"
          " Provinsi Jawa Barat melalui kecamatan.")  # fmt: skip


def milestone(stage: str, name: str | None = NAME, **more: object) -> list[Notice]:
    return notices(RkpdMilestoneRecorded(year=2022, line_id="DBMSDA-003", agency="DBMSDA", origins=("NTN7WYDJ",),
                                         stage=stage, on=dt.date(2022, 9, 1), **more),  # type: ignore[arg-type]
                   line_name=name)  # fmt: skip


def test_a_progress_report_names_the_line_and_says_how_far_the_work_is() -> None:
    line, proposal = milestone("pelaksanaan", progress=85, amount=425_000_000)
    assert line.subject == "rkpd/2022/DBMSDA-003" and proposal.subject == "NTN7WYDJ"
    assert line.title == f"{NAME} (DBMSDA-003): sudah 85% dikerjakan"
    assert line.body == (f"Kegiatan RKPD 2022 “{NAME}” (DBMSDA-003) sudah 85% dikerjakan per 1 September 2022,"
                         " dana terpakai Rp 425.000.000.")  # fmt: skip
    assert proposal.body.startswith(f"Kegiatan “{NAME}” dari usulan NTN7WYDJ sudah 85% dikerjakan")
    assert all("mulai" not in n.body for n in (line, proposal))


def test_each_milestone_says_what_happened_with_its_amount_or_day() -> None:
    [contract, _] = milestone("kontrak", amount=480_000_000, contractor="CV Maju Jaya")
    assert contract.body.endswith("mulai dikerjakan oleh CV Maju Jaya, nilai kontrak Rp 480.000.000.")
    [budgeted, _] = milestone("apbd", amount=500_000_000)
    assert budgeted.body.endswith("dianggarkan dalam APBD 2022: Rp 500.000.000.")
    [finished, _] = milestone("selesai")
    assert finished.body.endswith("selesai dikerjakan (serah terima 1 September 2022).")
    assert finished.title == f"{NAME} (DBMSDA-003): selesai dikerjakan"
    [dropped, _] = milestone("batal", note="lahan belum dibebaskan")
    assert dropped.body.endswith("dibatalkan: lahan belum dibebaskan.")


def test_without_its_name_a_line_is_named_by_its_code() -> None:
    [line, proposal] = milestone("pelaksanaan", name=None, progress=85)
    assert line.title == "Kegiatan RKPD 2022 DBMSDA-003: sudah 85% dikerjakan"
    assert line.body == "Kegiatan RKPD 2022 (DBMSDA-003) sudah 85% dikerjakan per 1 September 2022."
    assert proposal.body == "Kegiatan dari usulan NTN7WYDJ sudah 85% dikerjakan per 1 September 2022."


@pytest.mark.parametrize("stage, more", [("pelaksanaan", {"progress": 85, "amount": 425_000_000}),
                                         ("kontrak", {"amount": 480_000_000, "contractor": "CV Maju Jaya Konstruksi"}),
                                         ("apbd", {"amount": 500_000_000}), ("selesai", {}),
                                         ("batal", {"note": REASON})])  # fmt: skip
def test_a_long_name_is_cut_at_a_word_to_keep_the_message_within_an_sms(stage: str, more: dict[str, object]) -> None:
    line, proposal = milestone(stage, name=LONG_NAME, **more)
    for n in (line, proposal):
        assert len(n.body) <= SMS_LENGTH, n.body
        assert "“Pembangunan dan Rehabilitasi" in n.body and "…”" in n.body and " …" not in n.body, n.body
    assert "(DBMSDA-003)" in line.body and line.title.startswith("Pembangunan dan Rehabilitasi")


def test_progress_is_news_at_the_start_and_at_each_further_step_of_25_percent() -> None:
    """The once-only key decides, per follower (eventlog/outbox.py): reports within a step share it, so
    only the first of them reaches a follower; a contract and a first report under 25% are one start."""

    def once(stage: str, **more: object) -> str | None:
        keys = {n.once for n in milestone(stage, **more)}
        assert len(keys) == 1  # the line's followers and its proposals' are told one piece of news
        return keys.pop()

    start = "under_way:2022/DBMSDA-003"
    assert once("kontrak", amount=1) == once("pelaksanaan", progress=0) == once("pelaksanaan", progress=24) == start
    assert once("pelaksanaan", progress=25) == once("pelaksanaan", progress=40) == f"{start}:25"
    assert once("pelaksanaan", progress=70) == f"{start}:50"
    assert once("pelaksanaan", progress=85) == once("pelaksanaan", progress=99) == f"{start}:75"
    assert once("pelaksanaan", progress=100) == f"{start}:100"
    assert once("selesai") is None and once("batal", note="x") is None  # each told when it happens
    assert once("apbd", amount=1) is None


def test_a_follower_is_not_told_to_revise_with_a_secret_code_only_the_proposer_has() -> None:
    [n] = notices(ProposalReturned(code="NTN7WYDJ", reason="Lengkapi foto lokasi."))
    assert n.body == ("Usulan NTN7WYDJ dikembalikan untuk diperbaiki: Lengkapi foto lokasi. Perbaiki lewat halaman"
                      " lacak dengan kode rahasia Anda.")  # fmt: skip
    assert n.follower_body == "Usulan NTN7WYDJ dikembalikan ke pengusulnya untuk diperbaiki: Lengkapi foto lokasi."
    for event in (ProposalRejected(code="NTN7WYDJ", reason="x"), ProposalMerged(code="NTN7WYDJ", into="B", reason="x")):
        assert notices(event)[0].follower_body is None  # nothing asked of the proposer: one text for everyone


@pytest.mark.parametrize("event", [
    ProposalReturned(code="NTN7WYDJ", reason=REASON),
    ProposalRejected(code="NTN7WYDJ", reason=REASON),
    RkpdProposalDeclined(code="NTN7WYDJ", year=2023, agency="DBMSDA", reason=REASON),
    ProposalMerged(code="NTN7WYDJ", into="HCGBRNNV", reason=REASON),
    ProposalDecidedAtForum(code="NTN7WYDJ", forum_id="f", level="kecamatan", rank=9, selected=False, reason=REASON),
])  # fmt: skip
def test_a_long_reason_is_cut_at_a_word_and_never_ends_in_two_stops(event: object) -> None:
    [n] = notices(event)  # type: ignore[arg-type]
    for body in filter(None, (n.body, n.follower_body)):
        assert "…." not in body and ".…" not in body and "Ja…" not in body, body
        assert "Silakan sampaikan ke UPTD…" in body or "Silakan sampaikan ke…" in body, body


def test_a_reason_cut_after_a_sentence_or_ending_in_one_gets_one_stop() -> None:
    [n] = notices(RkpdProposalDeclined(code="NTN7WYDJ", year=2023, agency="DBMSDA", reason="Sudah ditangani."))
    assert n.body == ("Usulan NTN7WYDJ tidak diakomodasi dalam RKPD 2023: Sudah ditangani. Dapat diusulkan lagi"
                      " untuk tahun berikutnya lewat halaman lacak.")  # fmt: skip
    # A cut that falls just after a full stop drops it: "kota.…" would read as two stops.
    reason = "a" * 100 + " kota. Selanjutnya"
    [n] = notices(ProposalRejected(code="NTN7WYDJ", reason=reason))
    assert " kota… Dapat diusulkan lagi" in n.body and ".…" not in n.body


def test_the_code_at_submission_comes_with_the_rkpd_year() -> None:
    [n] = notices(ProposalSubmitted(code="NTN7WYDJ", year=2023, source="warga", content=CONTENT, proposer_ref="r"))
    assert n.body.startswith("Usulan Anda untuk RKPD 2023 tercatat dengan kode NTN7WYDJ.")
    assert len(n.body) <= SMS_LENGTH
