"""The same progress report again is refused; a new day, figure, note or photo makes it a new one (review
s24: six identical reports from a file sent six times; three more with the same photo attached)."""

from __future__ import annotations

import pytest

from musrenbang.domain import realisation as r
from musrenbang.domain.errors import DomainError
from musrenbang.domain.events import MilestonePhoto
from tests.domain.test_realisation import record


def _photo(n: int) -> MilestonePhoto:
    return MilestonePhoto(photo_id=f"00000000-0000-0000-0000-00000000000{n}", sha256="0" * 64,
                          content_type="image/jpeg", width=10, height=10, size=100)  # fmt: skip


def _reported() -> r.LineProgress:
    return record(r.LineProgress(), "pelaksanaan", "2022-08-01", progress=75, note="cor beton", photos=(_photo(1),))


@pytest.mark.parametrize("photos", [(), (_photo(1),)])
def test_the_same_report_again_is_refused(photos: tuple[MilestonePhoto, ...]) -> None:
    with pytest.raises(DomainError, match="laporan pelaksanaan 75% tanggal 1 Agustus 2022 ini sudah tercatat"):
        record(_reported(), "pelaksanaan", "2022-08-01", progress=75, note="cor beton", photos=photos)


@pytest.mark.parametrize("changed", [{"photos": (_photo(1), _photo(2))}, {"photos": (_photo(2),)},
                                     {"note": "cor beton sisi utara"}, {"progress": 80}])  # fmt: skip
def test_anything_new_makes_a_new_report(changed: dict[str, object]) -> None:
    given: dict[str, object] = {"progress": 75, "note": "cor beton", "photos": (), **changed}
    assert record(_reported(), "pelaksanaan", "2022-08-01", **given).milestones == 2


def test_another_day_is_a_new_report() -> None:
    assert record(_reported(), "pelaksanaan", "2022-08-02", progress=75, note="cor beton").milestones == 2
