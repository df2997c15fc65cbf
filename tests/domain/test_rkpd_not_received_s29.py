"""A city-level command before the Forum Perangkat Daerah has received the year's proposals is a conflict
with the year's stage (409), not a missing thing (404): the year's list exists to be asked for (review s29)."""

from __future__ import annotations

import pytest

from musrenbang.domain import rkpd
from musrenbang.domain.errors import DomainError, NotFound


def test_a_line_before_the_forum_perangkat_daerah_received_is_refused_as_a_conflict() -> None:
    with pytest.raises(DomainError) as refused:
        rkpd.decide(rkpd.Rkpd(), rkpd.WithdrawLine(line_id="DBMSDA-001", reason="keliru"), agencies={})
    assert not isinstance(refused.value, NotFound)
    assert "belum menerima usulan" in refused.value.message
