"""Public lists people can find their way in (issue 16, parts 4 and 5), through a real server with an
adopted RKPD 2022 (tests/rkpd_site.py) to which this module adds a Renja line in Kecamatan Bekasi Barat and
adopts again: the RKPD list filtered without JavaScript, with counts and totals per option; the search
over a year's proposals; a kecamatan's columns that add up; the forum calendar."""

from __future__ import annotations

import re
from collections.abc import Iterator
from html import unescape

import asyncpg
import httpx
import pytest

from musrenbang.projections import proposals as proposal_views
from tests.rkpd_site import (  # noqa: F401  (fixtures on this module's site)
    OTHER_KELURAHAN,
    PROPOSER_NAME,
    PROPOSER_PHONE,
    RENJA_PAGU,
    YEAR,
    Site,
    _run,
    renja_line_in_bekasi_barat,
    rkpd_site,
    text,
)

pytestmark = pytest.mark.slow
WHOLE = 31_500_000 + RENJA_PAGU


@pytest.fixture(scope="module")
def site(server_url: str, template_name: str) -> Iterator[Site]:
    with rkpd_site(server_url, template_name) as s:
        _run(renja_line_in_bekasi_barat(s.database_url))
        yield s


def shown_pagu(html: str) -> list[int]:
    return [int(x.replace(".", "")) for x in re.findall(r'class="num pagu"[^>]*>Rp ([\d.]+)<', html)]


def option(html: str, facet: str, value: str) -> str:
    select = html.split(f'id="f-{facet}"')[1].split("</select>")[0]
    found = re.search(rf'<option value="{re.escape(value)}"[^>]*>([^<]*)</option>', select)
    assert found, (facet, value)
    return unescape(found[1])


# --- /rkpd/{year} filtered --------------------------------------------------------------------------


async def test_the_list_offers_each_filter_with_its_lines_and_pagu(web: httpx.AsyncClient) -> None:
    html = (await web.get(f"/rkpd/{YEAR}")).text
    assert '<form method="get" action="/rkpd/2022"' in html and "<legend" in html
    assert option(html, "kecamatan", "") == "Rp 36,5 jt · 4 baris — Semua"  # figures first, short: a phone shows them
    assert option(html, "kecamatan", "32.75.01") == "Rp 31,5 jt · 3 baris — Bekasi Timur"
    assert option(html, "kecamatan", "32.75.02") == "Rp 5 jt · 1 baris — Bekasi Barat"
    assert option(html, "kelurahan", OTHER_KELURAHAN).endswith("1 baris — Kranji")
    assert option(html, "opd", "DISPERKIMTAN").startswith("Rp 15 jt · 2 baris — ")
    assert " — 4. " in option(html, "program", "4")
    assert shown_pagu(html) and sum(shown_pagu(html)) == WHOLE


async def test_filtering_by_kecamatan_shows_its_lines_and_their_total(web: httpx.AsyncClient) -> None:
    r = await web.get(f"/rkpd/{YEAR}", params={"kecamatan": "32.75.02"})
    assert r.status_code == 200
    assert shown_pagu(r.text) == [RENJA_PAGU]
    assert "Penerangan Jalan Lingkungan" in r.text and "Rehabilitasi Jalan" not in r.text
    summary = text(r.text.split('id="hasil-saringan"')[1].split("</p>")[0])
    assert "1 baris dari 4" in summary and "Rp 5.000.000 dari Rp 36.500.000" in summary
    assert 'value="32.75.02" selected' in r.text
    # Options count over the other choices: the agencies of Bekasi Barat only.
    assert option(r.text, "opd", "DBMSDA").startswith("Rp 0 · 0 baris — ")


async def test_filters_combine_and_search_reads_old_spellings(web: httpx.AsyncClient) -> None:
    both = await web.get(f"/rkpd/{YEAR}", params={"kecamatan": "32.75.01", "opd": "DISPERKIMTAN"})
    assert shown_pagu(both.text) == [10_000_000]
    searched = await web.get(f"/rkpd/{YEAR}", params={"q": "rehabilitasi djalan"})
    assert shown_pagu(searched.text) == [9_000_000]
    nothing = await web.get(f"/rkpd/{YEAR}", params={"q": "jembatan gantung"})
    assert "Tidak ada baris yang cocok" in nothing.text and shown_pagu(nothing.text) == []


async def test_a_line_is_found_by_its_code(web: httpx.AsyncClient) -> None:
    """Review s25: tracking pages and e-mails quote a line's code (DINKOPUKM-005), which the list's search
    did not read, nor show."""
    listed = re.findall(r'<small class="nowrap">([A-Z]+-\d{3})</small>', (await web.get(f"/rkpd/{YEAR}")).text)
    assert len(listed) > 1, listed
    found = await web.get(f"/rkpd/{YEAR}", params={"q": listed[-1].lower()})
    assert re.findall(r'<small class="nowrap">([A-Z]+-\d{3})</small>', found.text) == [listed[-1]]


@pytest.mark.parametrize("params", [{"kecamatan": "99.99.99"}, {"kecamatan": "<script>"}, {"program": "x"},
                                    {"program": "99"}, {"opd": "TIDAKADA"}, {"kelurahan": "32.75.01"},
                                    {"program": "١"}, {"program": "٣"}, {"kecamatan": "٣٢.٧٥.٠١"}])  # fmt: skip
async def test_an_unknown_choice_is_a_clear_400(web: httpx.AsyncClient, params: dict[str, str]) -> None:
    r = await web.get(f"/rkpd/{YEAR}", params=params)
    assert r.status_code == 400
    assert "tidak ada dalam daftar RKPD" in r.text and "<script>" not in r.text


async def test_filtered_views_and_searches_are_cached_by_their_normalised_choices(web: httpx.AsyncClient) -> None:
    first = await web.get(f"/rkpd/{YEAR}", params={"kecamatan": "32.75.02"})
    etag = first.headers["etag"]
    same = await web.get(f"/rkpd/{YEAR}?q=&kecamatan=32.75.02&opd=", headers={"If-None-Match": etag})
    assert same.status_code == 304  # the same choices normalised: the same page
    other = await web.get(f"/rkpd/{YEAR}", params={"kecamatan": "32.75.01"})
    assert other.headers["etag"] != etag and other.headers["etag"] != (await web.get(f"/rkpd/{YEAR}")).headers["etag"]
    searched = await web.get(f"/rkpd/{YEAR}", params={"q": "Jalan"})
    spelled = await web.get(f"/rkpd/{YEAR}", params={"q": " djalan "},
                            headers={"If-None-Match": searched.headers["etag"]})  # fmt: skip
    assert spelled.status_code == 304  # one search key, one page


async def test_page_links_keep_the_choices(web: httpx.AsyncClient, db: asyncpg.Pool) -> None:
    html = (await web.get(f"/rkpd/{YEAR}", params={"kecamatan": "32.75.02"})).text
    line = await db.fetchval("SELECT line_id FROM rkpd_lines WHERE year = $1 AND pagu = $2", YEAR, RENJA_PAGU)
    assert f'href="?kecamatan=32.75.02&amp;halaman=1#baris-{line}"' in html
    assert (await web.get(f"/rkpd/{YEAR}", params={"kecamatan": "32.75.02", "halaman": 2})).status_code == 404


# --- /usulan?tahun=&q= ------------------------------------------------------------------------------


async def test_the_proposal_search_finds_by_title_kelurahan_and_code(web: httpx.AsyncClient, site: Site) -> None:
    every = await web.get("/usulan", params={"tahun": YEAR})
    total = int(re.search(r'id="jumlah">(\d+) usulan', every.text)[1])
    assert total >= 9
    by_place = await web.get("/usulan", params={"tahun": YEAR, "q": "kranji"})
    assert "Kelurahan Kranji" in by_place.text and "Bekasijaya" not in text(by_place.text)
    by_kecamatan = await web.get("/usulan", params={"tahun": YEAR, "q": "bekasi  TIMUR"})
    assert int(re.search(r'id="jumlah">(\d+) usulan', by_kecamatan.text)[1]) < total
    code = site.codes["park"]
    by_code = await web.get("/usulan", params={"tahun": YEAR, "q": f"{code[:4].lower()}-{code[4:].lower()}"})
    assert re.search(r'id="jumlah">1 usulan', by_code.text) and f'href="/lacak/{code}"' in by_code.text
    for r in (every, by_place, by_code):
        assert PROPOSER_NAME not in r.text and PROPOSER_PHONE[-8:] not in r.text


async def test_the_proposal_search_counts_matches_only_up_to_its_bound(
    db: asyncpg.Pool, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with db.acquire() as conn:
        every, first = await proposal_views.search_year(conn, YEAR, "")
        assert every >= 9
        monkeypatch.setattr(proposal_views, "SEARCH_COUNTED", 3)
        bounded, rows = await proposal_views.search_year(conn, YEAR, "")
    assert bounded == 4  # "more than 3": the count stops one past the bound
    assert [r["code"] for r in rows] == [r["code"] for r in first]  # the page itself is whole


async def test_a_search_asked_again_is_sent_as_it_is_and_another_is_not(web: httpx.AsyncClient) -> None:
    first = await web.get("/usulan", params={"tahun": YEAR, "q": "kranji"})
    etag = first.headers["etag"]
    again = await web.get("/usulan", params={"tahun": YEAR, "q": "kranji"}, headers={"If-None-Match": etag})
    assert again.status_code == 304
    named = {"tahun": YEAR, "q": "kranji", "halaman": 1}
    same = await web.get("/usulan", params=named, headers={"If-None-Match": etag})
    assert same.status_code == 304  # page 1 named or not: one page
    for other in ({"tahun": YEAR, "q": "Kranji"}, {"tahun": YEAR, "q": "kranj"}, {"tahun": YEAR}):
        r = await web.get("/usulan", params=other, headers={"If-None-Match": etag})
        assert r.status_code == 200 and r.headers["etag"] != etag, other  # what was typed shows in the form


async def test_the_proposal_search_refuses_unknown_years_and_pages(web: httpx.AsyncClient) -> None:
    assert (await web.get("/usulan", params={"tahun": 1999})).status_code == 400
    assert (await web.get("/usulan", params={"tahun": YEAR, "q": "x" * 5000, "halaman": 99})).status_code == 404


# --- /kecamatan/{kode} --------------------------------------------------------------------------------


async def test_kecamatan_columns_add_up_and_merged_duplicates_count_once(web: httpx.AsyncClient,
                                                                          db: asyncpg.Pool) -> None:  # fmt: skip
    html = (await web.get("/kecamatan/32.75.01", params={"tahun": YEAR})).text
    table = html.split('id="per-kelurahan"')[1]
    for row in re.findall(r"<tr><td><a [^>]+>[^<]+</a></td>(.*?)</tr>", table):
        cells = [int(x.replace("Rp ", "").replace(".", "")) for x in re.findall(r'<td class="num">([^<]+)</td>', row)]
        total, outcomes = cells[0], cells[1:8]
        assert sum(outcomes) == total
    counted = await db.fetchval("SELECT count(*) FROM proposals WHERE year = $1 AND kecamatan = '32.75.01'"
                                " AND source <> 'pokir' AND status <> 'digabungkan'", YEAR)  # fmt: skip
    merged = await db.fetchval("SELECT count(*) FROM proposals WHERE year = $1 AND kecamatan = '32.75.01'"
                               " AND status = 'digabungkan'", YEAR)  # fmt: skip
    assert merged >= 1
    assert f'id="jumlah-usulan">{counted}<' in html
    assert "Masuk RKPD" in html and "Tidak terakomodasi" in html and "Duplikat digabungkan" in html
    english = (await web.get("/kecamatan/32.75.01", params={"tahun": YEAR, "lang": "en"})).text
    assert "Merged duplicates" in english


# --- /musyawarah ----------------------------------------------------------------------------------------


async def test_the_calendar_lists_every_forum_by_kecamatan_without_sign_in(web: httpx.AsyncClient) -> None:
    r = await web.get("/musyawarah", params={"tahun": YEAR})
    assert r.status_code == 200
    page = text(r.text)
    assert "Kecamatan Bekasi Timur" in page and "Kecamatan Bekasi Barat" in page
    assert "Musrenbang Bekasijaya" in page and "Aula kelurahan" in page and "Musrenbang Bekasi Barat" in page
    assert page.index("Bekasi Timur") < page.index("Bekasi Barat")  # by kecamatan code
    assert page.index("Musrenbang Bekasijaya") < page.index("Musrenbang Bekasi Timur")  # kelurahan first
    assert "/berita-acara" in r.text  # the closed ones link to their public Berita Acara
    one = text((await web.get("/musyawarah", params={"tahun": YEAR, "kecamatan": "32.75.02"})).text)
    assert "Musrenbang Bekasi Barat" in one and "Musrenbang Bekasijaya" not in one
    assert (await web.get("/musyawarah", params={"kecamatan": "99.99.99"})).status_code == 400
    english = (await web.get("/musyawarah", params={"tahun": YEAR, "lang": "en"})).text
    assert "Forum calendar" in english


async def test_the_home_page_links_the_calendar(web: httpx.AsyncClient) -> None:
    assert 'href="/musyawarah"' in (await web.get("/")).text


# --- /wilayah ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("typed", ["pondok gede", "Pondokgede", "PONDOK-GEDE", "jati bening"])
async def test_the_kelurahan_search_ignores_spaces_case_and_punctuation(web: httpx.AsyncClient, typed: str) -> None:
    found = text((await web.get("/wilayah", params={"q": typed})).text)
    assert "Kelurahan Jatibening" in found and "Kecamatan Pondokgede" in found
    assert "Kecamatan Bekasi Timur" not in found


async def test_the_kelurahan_search_reads_old_spellings(web: httpx.AsyncClient) -> None:
    found = text((await web.get("/wilayah", params={"q": "Djatiwaringin"})).text)
    assert "1 wilayah ditemukan" in found and "Kelurahan Jatiwaringin" in found
