"""What residents are told: one short message per event that matters, in words, never a code of the rules."""

from __future__ import annotations

import datetime as dt

from musrenbang.domain.events import (
    ProposalDecidedAtForum,
    ProposalMerged,
    ProposalReturned,
    RkpdAdopted,
    RkpdLine,
    RkpdMilestoneRecorded,
    ScoresGiven,
)
from musrenbang.domain.notices import notices
from musrenbang.domain.rules import OVER_CEILING

LINE = RkpdLine(line_id="DBMSDA-002", agency="DBMSDA", origins=("AAAA1111", "BBBB2222"), locations=(),
                priority_program=1, sub_kegiatan_code="1.03.10.2.01.0017", nomenclature="x", program="p",
                kegiatan="k", sub_kegiatan="Rehabilitasi Jalan", funding_source="apbd_kota", volume="1", unit="km",
                pagu=50_000_000, output_indicator="o", target="1", target_unit="km")  # fmt: skip


def test_a_forum_that_left_a_proposal_out_says_why_in_words() -> None:
    [n] = notices(ProposalDecidedAtForum(code="AAAA1111", forum_id="f", level="kecamatan", rank=7, selected=False,
                                         reason=OVER_CEILING))  # fmt: skip
    assert n.subject == "AAAA1111" and "tidak muat dalam sisa pagu" in n.body and OVER_CEILING not in n.body
    assert len(n.body) <= 160


def test_a_returned_proposal_is_told_the_reason_and_how_to_revise() -> None:
    [n] = notices(ProposalReturned(code="AAAA1111", reason="lengkapi foto lokasi " * 20))
    assert "Perbaiki lewat halaman lacak" in n.body and "…" in n.body  # a long reason is cut, the page has it


def test_a_merge_carries_the_followers_on() -> None:
    [n] = notices(ProposalMerged(code="AAAA1111", into="CCCC3333", reason="sama"))
    assert n.follow_to == "CCCC3333" and n.subject == "AAAA1111"


def test_adoption_tells_each_origin_once_a_year_and_progress_tells_each_step_once() -> None:
    told = notices(RkpdAdopted(year=2022, revision=2, lines=(LINE,), total_pagu=LINE.pagu))
    assert [(n.subject, n.once) for n in told] == [("AAAA1111", "in_rkpd:2022"), ("BBBB2222", "in_rkpd:2022")]
    progress = notices(RkpdMilestoneRecorded(year=2022, line_id=LINE.line_id, agency="DBMSDA", origins=LINE.origins,
                                             stage="pelaksanaan", on=dt.date(2022, 5, 2), progress=40))  # fmt: skip
    assert {n.subject for n in progress} == {"rkpd/2022/DBMSDA-002", "AAAA1111", "BBBB2222"}
    # Once per follower for the step of 25% that 40% reaches (session 25: was once for all progress).
    assert {n.once for n in progress} == {"under_way:2022/DBMSDA-002:25"}
    kua = RkpdMilestoneRecorded(year=2022, line_id=LINE.line_id, agency="DBMSDA", origins=LINE.origins,
                                stage="kua_ppas", on=dt.date(2021, 7, 1), amount=1)  # fmt: skip
    assert notices(kua) == []  # a step of budgeting residents need not be woken for


def test_most_events_send_nothing() -> None:
    assert notices(ScoresGiven(forum_id="f", sheet="s", marks={})) == []
