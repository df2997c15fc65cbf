"""The pagu indikatif kecamatan is the ceiling of the residents' proposals its Musrenbang Kecamatan ranks
(Permendagri 86, table T-D.4); DPRD pokir and the agencies' own Renja lines are other channels. A review of
the demo (s29) found the adoption's ceiling check counting them all: Bekasi Timur "350,8%" of its pagu, Rp 845
juta of it an agency's Renja line, and 9 of 12 kecamatan "over", so that the box would be ticked every time.
The check now compares the pagu indikatif with the Musrenbang share of the lines only."""

from __future__ import annotations

import pytest

from musrenbang.domain import rkpd as r
from musrenbang.domain.errors import ValidationFailed
from musrenbang.domain.events import CityItem, Event, RkpdAdopted
from tests.domain.test_rkpd import AGENCIES, line

EAST, WEST = "32.75.01", "32.75.02"


def _item(code: str, *, source: str = "musrenbang", kelurahan: str = "32.75.01.1001", cost: int = 100) -> CityItem:
    return CityItem(code=code, title=f"Usulan {code}", kelurahan=kelurahan, bidang="infrastruktur", cost=cost,
                    agency="DBMSDA", forum_id="" if source == "pokir" else "KEC", source=source)  # fmt: skip


def _run(state: r.Rkpd, command: r.Command, ceilings: dict[str, int] | None = None) -> tuple[r.Rkpd, list[Event]]:
    events = r.decide(state, command, agencies=AGENCIES, ceilings=ceilings)
    for e in events:
        state = r.evolve(state, e)
    return state, events


def _lines(musrenbang_pagu: int) -> r.Rkpd:
    """Bekasi Timur: a residents' line (`musrenbang_pagu`), a line joining a resident's proposal and a pokir
    (Rp 600, shared 300/300 by their costs), a Renja line over Bekasi Timur and Bekasi Barat (Rp 2.000: 1.000
    each) and a city-wide Renja line (Rp 5.000, no kecamatan)."""
    state, _ = _run(r.Rkpd(), r.ReceiveProposals(year=2022, items=(
        _item("A"), _item("B"), _item("P", source="pokir"))))  # fmt: skip
    for x in (line("A", pagu=musrenbang_pagu), line("B", "P", pagu=600),
              line(renja_reason="Renstra", locations=("32.75.01.1001", "32.75.02.1001"), pagu=2_000),
              line(renja_reason="Renstra kota", pagu=5_000)):
        state, _ = _run(state, r.SetLine(line=x, priority_programs=6))
    return state


def test_only_the_musrenbang_share_of_a_kecamatan_is_held_to_its_pagu_indikatif() -> None:
    state = _lines(700)
    assert r.musrenbang_by_kecamatan(state.lines.values(), state.items) == {EAST: 1_000}
    everything = r.pagu_by_source(state.lines.values(), state.items)
    assert everything[(EAST, "pokir")] == 300 and everything[(EAST, "renja")] == 1_000
    assert everything[(r.CITY_WIDE, "renja")] == 5_000
    # Rp 1.000 of residents' proposals in a pagu of Rp 1.000: within it, though the lines reaching Bekasi Timur
    # (Rp 2.300 with its pokir and Renja shares) are more than twice its pagu. Adopted, nothing asked.
    _, [adopted] = _run(state, r.Adopt(year=2022), ceilings={EAST: 1_000, WEST: 10})
    assert isinstance(adopted, RkpdAdopted) and adopted.total_pagu == 8_300


def test_a_musrenbang_share_over_the_pagu_is_still_refused_unless_confirmed() -> None:
    state = _lines(701)  # residents' share Rp 1.001 against Rp 1.000
    with pytest.raises(ValidationFailed) as refused:
        _run(state, r.Adopt(year=2022), ceilings={EAST: 1_000, WEST: 10})
    said = str(refused.value.errors["confirm_over_pagu"])
    assert "32.75.01 +Rp 1" in said and "usulan warga (Musrenbang)" in said, said
    assert WEST not in said  # Bekasi Barat's Rp 1.000 of Renja is no residents' share over its Rp 10
    _, [adopted] = _run(state, r.Adopt(year=2022, confirm_over_pagu=True), ceilings={EAST: 1_000})
    assert isinstance(adopted, RkpdAdopted)
