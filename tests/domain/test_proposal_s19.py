"""A proposal whose RKPD line was dropped in its budget year is a need still unmet (session 19's review)."""

from __future__ import annotations

import pytest

from musrenbang.domain import proposal as p


@pytest.mark.parametrize(("outcome", "adopted", "dropped", "unmet"), [
    (p.MASUK_RKPD, True, False, False),
    (p.MASUK_RKPD, True, True, True),
    (p.MASUK_RKPD, False, True, True),
    (p.DIGABUNGKAN, True, True, False),  # its need lives on in the proposal it was merged into
    (p.DITOLAK, True, False, True),
    (p.DITERUSKAN, True, False, True),
    (p.DITERUSKAN, False, False, False),
])  # fmt: skip
def test_a_dropped_line_leaves_its_origins_unmet(outcome: str, adopted: bool, dropped: bool, unmet: bool) -> None:
    assert p.not_accommodated(outcome, adopted, line_dropped=dropped) is unmet
