"""The DPRD's pokir page opens on the year being planned, as the entry form does, and lists the other
years (review s24: it opened on the newest year holding any pokir, after that year's RKPD was adopted,
with an entry link that was then refused; with no pokir yet, on next calendar year, which has no cycle).
A member sees why a year takes no more pokir instead of a link to a form that would refuse them. Through
a real server (the fixture of tests/http/test_pokir.py: RKPD 2024 taking pokir, 2025's deadline passed)."""

from __future__ import annotations

import re

from tests.http import test_pokir
from tests.http.test_pokir import LATE_YEAR, YEAR

dprd = test_pokir.dprd  # the module's own copy of its history and server


async def test_the_pokir_page_opens_on_the_year_being_planned_with_a_year_picker(dprd) -> None:  # noqa: ANN001
    client, _, ctx = dprd
    for who in ("member", "setwan"):
        page = await client.get("/petugas/pokir", headers=ctx["auth"][who])
        assert page.status_code == 200, page.text
        assert f"untuk RKPD {YEAR}</h1>" in page.text, page.text[:2000]
        assert set(re.findall(r'<option value="(\d{4})"', page.text)) >= {str(YEAR), str(LATE_YEAR)}
    open_year = (await client.get("/petugas/pokir", headers=ctx["auth"]["member"])).text
    assert f'href="/petugas/pokir/baru?tahun={YEAR}"' in open_year
    late = (await client.get(f"/petugas/pokir?tahun={LATE_YEAR}", headers=ctx["auth"]["member"])).text
    assert f"/petugas/pokir/baru?tahun={LATE_YEAR}" not in late and "sudah lewat" in late, late[:3000]
    for no_cycle in (1999, 2031):  # as the public /pokir/{year}
        assert (await client.get(f"/petugas/pokir?tahun={no_cycle}", headers=ctx["auth"]["member"])).status_code == 404
