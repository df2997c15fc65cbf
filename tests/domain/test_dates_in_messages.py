"""A day in a message reads as the pages write it ("20 Desember 2026", values.long_date), never as the ISO
date events carry ("2026-12-20")."""

from __future__ import annotations

import datetime as dt

import pytest

from musrenbang.domain import realisation as r
from musrenbang.domain.errors import DomainError, ValidationFailed
from musrenbang.domain.events import RkpdMilestoneRecorded
from musrenbang.domain.notices import notices
from tests.domain.test_city_forums import close, decided, schedule
from tests.domain.test_notices import LINE
from tests.domain.test_realisation import record
from tests.domain.test_rkpd import run


def test_a_city_forum_closed_before_its_day_names_the_day_in_words() -> None:
    state, _ = run(decided(), schedule(held_on=dt.date(2026, 12, 20)))
    with pytest.raises(DomainError) as early:
        run(state, close(today=dt.date(2026, 12, 19)))
    assert "dijadwalkan 20 Desember 2026: belum dapat ditutup" in early.value.message
    assert "2026-12-20" not in early.value.message


def test_a_milestone_dated_before_the_last_one_names_that_day_in_words() -> None:
    s = record(r.LineProgress(), "pelaksanaan", "2022-05-01", progress=50)
    with pytest.raises(ValidationFailed) as earlier:
        record(s, "pelaksanaan", "2022-04-30", progress=60)
    assert earlier.value.errors["date"] == "tanggal tidak boleh sebelum tahap sebelumnya (1 Mei 2022)"


def test_a_handover_is_told_with_its_day_in_words() -> None:
    finished = notices(RkpdMilestoneRecorded(year=2022, line_id=LINE.line_id, agency="DBMSDA", origins=LINE.origins,
                                             stage="selesai", on=dt.date(2022, 9, 30)))  # fmt: skip
    assert finished and all("serah terima 30 September 2022" in n.body for n in finished)
    assert not any("2022-09-30" in n.body for n in finished)
