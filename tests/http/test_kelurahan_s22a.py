"""Session 22's review of the kelurahan page (http/residents.py, projections/proposals.py: in_kelurahan)
through a real server (the fixture of tests/http/test_pokir.py: the 2022 history adopted, with a DPRD
member's pokir in `history.KELURAHAN_POKIR`): it counts what the kecamatan page counts, residents'
proposals, and marks a pokir it lists as one."""

from __future__ import annotations

import re

from tests import history
from tests.http import test_pokir

dprd = test_pokir.dprd  # the module's own copy of its history and server


def kecamatan_row(page: str, kelurahan: str) -> tuple[str, str]:
    row = re.search(rf'href="/kelurahan/{kelurahan}">[^<]+</a></td><td class="num">([\d.]+)</td>.*?Rp ([\d.]+)', page)
    assert row, kelurahan
    return row[1], row[2]


def kelurahan_count(page: str) -> tuple[str, str]:
    counted = re.search(r'id="jumlah-usulan">([\d.]+) usulan warga · Perkiraan biaya Rp ([\d.]+)', page)
    assert counted, page[page.find("<h1"):][:1500]
    return counted[1], counted[2]


async def test_the_kelurahan_page_counts_residents_proposals_as_the_kecamatan_page_does(dprd) -> None:  # noqa: ANN001
    """A kelurahan holding only a DPRD pokir said "1 usulan", listed among residents' without a word, where
    the kecamatan page counted none; and a merged duplicate was counted again."""
    client, _, _ = dprd
    year = {"tahun": history.YEAR}
    kecamatan = (await client.get(f"/kecamatan/{history.KECAMATAN}", params=year)).text
    for kelurahan in (history.KELURAHAN_A, history.KELURAHAN_B, history.KELURAHAN_POKIR):
        page = await client.get(f"/kelurahan/{kelurahan}", params=year)
        assert page.status_code == 200
        assert kelurahan_count(page.text) == kecamatan_row(kecamatan, kelurahan), kelurahan
    pokir_place = (await client.get(f"/kelurahan/{history.KELURAHAN_POKIR}", params=year)).text
    assert kelurahan_count(pokir_place) == ("0", "0")
    assert "Pokir saluran uji" in pokir_place  # listed, and said to be a pokir
    item = pokir_place[pokir_place.index("Pokir saluran uji"):].split("</li>")[0]
    assert f'<a href="/pokir/{history.YEAR}">Pokok pikiran DPRD</a>' in item
    assert "Pokok pikiran DPRD: 1" in pokir_place
    merged = (await client.get(f"/kelurahan/{history.KELURAHAN_A}", params=year)).text
    assert "Duplikat digabungkan: 1" in merged
    api = (await client.get(f"/api/v1/kelurahan/{history.KELURAHAN_POKIR}/proposals",
                            params={"year": history.YEAR})).json()  # fmt: skip
    assert api["total"] == len(api["items"]) == 1 and api["items"][0]["source"] == "pokir"
