"""The public RKPD pages as a hostile but fair client sees them, through a real server on its own copy of the
history (tests/history.py: RKPD 2022 adopted), with enough Renja lines added before it starts for the list to
need a second page: what one reader typed never reaches the next reader's cached page, percentages are
written the Indonesian way, and the two pagers of the list are two landmarks a screen reader can tell apart.

The module shares one server, and the pages' cache is per process: each test asks first for a view no
earlier test asked for."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from urllib.parse import urlencode

import httpx
import pytest

from musrenbang.db.connect import create_pool
from musrenbang.domain import proposal as p
from musrenbang.domain import rkpd as r
from musrenbang.eventlog.store import EventStore
from musrenbang.http import rkpd_pages
from musrenbang.projections import all_projections
from musrenbang.projections.runner import ProjectionRunner
from musrenbang.services.proposals import ProposalService
from musrenbang.services.rkpd import RkpdService
from tests import history
from tests.server import serving

pytestmark = [pytest.mark.slow, pytest.mark.edge]

PAGE = f"/rkpd/{history.YEAR}"
JUNK = "ВЗЛОМ САЙТА 💀 ЗВОНИТЕ"
"""Nothing in it is an ASCII letter or digit: its search key is empty."""


async def _second_page(url: str) -> None:
    """Renja lines enough for a second page of the list, adopted as an amendment."""
    pool = await create_pool(url, min_size=1, max_size=3)
    try:
        runner = ProjectionRunner(pool, all_projections())
        rkpd = RkpdService(pool, EventStore(pool), runner)
        for n in range(rkpd_pages.PAGE_SIZE):
            line = r.LineInput(agency="DBMSDA", origins=(), priority_program=1 + n % 2,
                               sub_kegiatan_code="1.03.10.2.01.0017", program="Program Penyelenggaraan Jalan",
                               kegiatan="Penyelenggaraan Jalan Kabupaten/Kota", sub_kegiatan=f"Pemeliharaan {n}",
                               funding_source="apbd_kota", volume="2", unit="km", pagu=1_000_000 + n,
                               output_indicator="Panjang jalan yang dipelihara", target="2", target_unit="km",
                               renja_reason="pemeliharaan jalan kota menurut Renstra",
                               locations=(history.KELURAHAN_B,))  # fmt: skip
            await rkpd.execute(history.YEAR, r.SetLine(line=line, priority_programs=6, reason="perubahan RKPD"),
                               history.META)  # fmt: skip
        await rkpd.execute(history.YEAR, r.Adopt(year=history.YEAR, note="halaman kedua", confirm_over_pagu=True),
                           history.META)  # the lines put Bekasi Timur over its pagu: adopted knowingly (s27)
        await runner.catch_up_all()
    finally:
        await pool.close()


MANY = 1000
"""Proposals added for RKPD 2023 in one kelurahan of Kecamatan Bekasi Timur: counts past a thousand."""


async def _many_proposals(url: str) -> None:
    """`MANY` residents' proposals for 2023 (its submissions are open in the history), ten at a time."""
    pool = await create_pool(url, min_size=1, max_size=10)
    try:
        runner = ProjectionRunner(pool, all_projections())
        proposals = ProposalService(pool, EventStore(pool), b"s" * 32, runner)
        content = await proposals.validate(p.ProposalInput(
            kelurahan=history.KELURAHAN_A, rw="3", rt="1", kind="fisik", bidang="infrastruktur",
            title="Perbaikan saluran warga", problem="Masalah yang cukup panjang", solution="Penyelesaian yang jelas",
            beneficiaries="40", volume="10", unit="meter", estimated_cost="5 juta", address="Jl. Uji",
        ), year=history.NEXT_YEAR)  # fmt: skip
        proposer = p.validate_proposer("Siti Rahmawati Lubis", "0812-1000-2000")

        async def one(n: int) -> None:
            await proposals.submit(content, proposer, idempotency_key=f"review-public-{n}", request_fingerprint=str(n),
                                   year=history.NEXT_YEAR)  # fmt: skip

        for start in range(0, MANY, 10):
            await asyncio.gather(*(one(n) for n in range(start, start + 10)))
        await runner.catch_up_all()
    finally:
        await pool.close()


@pytest.fixture(scope="module")
async def base_url(server_url: str, template_name: str) -> AsyncIterator[str]:
    async with history.database(server_url, template_name) as (url, _):
        await _second_page(url)
        await _many_proposals(url)
        with serving(url) as server:
            yield server.base_url


@pytest.fixture
async def web(base_url: str) -> AsyncIterator[httpx.AsyncClient]:
    """A client that keeps no cookie: every request is a new reader."""
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as c:
        yield c


def _typed(html: str) -> str:
    """What the list's search box shows."""
    found = re.search(r'<input type="search" name="q" id="f-q" value="([^"]*)"', html)
    assert found is not None
    return found[1]


@pytest.mark.parametrize("view", ["lang=en", "program=1", "kecamatan=32.75.01&lang=en"])
async def test_typed_text_without_a_search_key_is_not_sent_to_the_next_reader(web: httpx.AsyncClient,
                                                                                view: str) -> None:  # fmt: skip
    """Text with no ASCII letter or digit was cached, for everyone, showing the first reader's text in its
    search box and links. It is not shown back, and the view without a search stays its own page."""
    first = await web.get(f"{PAGE}?{view}&{urlencode({'q': JUNK})}")
    assert first.status_code == 200
    after = await web.get(f"{PAGE}?{view}")
    assert after.status_code == 200
    for page in (first, after):
        assert "ВЗЛОМ" not in page.text and "ЗВОНИТЕ" not in page.text, view
        assert _typed(page.text) == ""
    assert after.headers["etag"] != first.headers["etag"]  # the junk found nothing; the plain view lists lines


@pytest.mark.parametrize("typed", [JUNK, "💀", "--"])
async def test_a_search_no_key_can_read_finds_no_line_as_the_proposal_search_does(web: httpx.AsyncClient,
                                                                                 typed: str) -> None:  # fmt: skip
    """It was read as no search and showed the whole list, as if every line had been found, where
    `/usulan` says "0 usulan ditemukan" for the same text. The page says why nothing was found."""
    whole = await web.get(PAGE)
    assert 'id="baris-' in whole.text
    found = await web.get(PAGE, params={"q": typed})
    assert found.status_code == 200
    assert 'id="baris-' not in found.text and 'id="tak-terbaca"' in found.text
    assert "Tidak ada baris yang cocok dengan saringan ini." in found.text
    assert re.search(r'id="hasil-saringan"><strong>0 baris</strong>', found.text), found.text[:2000]
    plain = await web.get(PAGE, params={"q": "zzzqqq"})  # searchable, matching nothing: no such hint
    assert 'id="baris-' not in plain.text and 'id="tak-terbaca"' not in plain.text


async def test_a_search_sends_no_one_what_its_key_ignores(web: httpx.AsyncClient) -> None:
    """A search is cached by its search key, which reads ASCII letters and digits only: `?q=jalan ВЗЛОМ`
    was cached showing that text in the search box and the page links of everyone who then searched
    `jalan`. What the key ignores is not shown back, to the one who typed it either."""
    mine = await web.get(PAGE, params={"q": f"jalan {JUNK}"})
    assert mine.status_code == 200 and _typed(mine.text) == "jalan"
    theirs = await web.get(PAGE, params={"q": "jalan"})
    assert theirs.status_code == 200 and theirs.headers["etag"] == mine.headers["etag"]  # one key, one page
    assert "ВЗЛОМ" not in theirs.text and _typed(theirs.text) == "jalan"
    assert 'href="?q=jalan&amp;halaman=2"' in theirs.text
    spaced = await web.get(PAGE, params={"q": "  Jalan   Raya!! "})
    assert _typed(spaced.text) == "Jalan Raya"


@pytest.mark.parametrize("lang", ["id", "en"])
async def test_the_sources_view_writes_percentages_with_a_decimal_comma(web: httpx.AsyncClient, lang: str) -> None:
    """As the equity view and every rupiah amount do, in both languages (it showed "0.0%")."""
    html = (await web.get(f"{PAGE}/sumber", params={"lang": lang})).text
    shares = re.findall(r'<td class="num">([^<]*%)</td>', html)
    assert shares, html
    assert all(re.fullmatch(r"\d{1,3},\d%", s) for s in shares), shares


async def test_the_two_pagers_are_landmarks_with_names_of_their_own(web: httpx.AsyncClient) -> None:
    """A list of more than one page has a pager above the table and one below it: two navigation landmarks
    named alike are one landmark twice in a screen reader's list of them (axe: landmark-unique)."""
    for path in (PAGE, f"{PAGE}?halaman=2", f"{PAGE}?lang=en&halaman=2"):
        html = (await web.get(path)).text
        names = re.findall(r'<nav aria-label="([^"]*)" class="filters pager"', html)
        assert len(names) == 2, path
        assert len(set(names)) == 2, (path, names)


@pytest.mark.parametrize("view", ["pemerataan", "sumber"])
async def test_a_kecamatan_link_of_a_year_opens_that_year(web: httpx.AsyncClient, view: str) -> None:
    """RKPD 2022's views linked each kecamatan to its page without the year, which opens the cycle being
    planned (2023 here): a reader who clicked a 2022 row was shown another year's counts."""
    html = (await web.get(f"{PAGE}/{view}")).text
    links = re.findall(r'<a href="(/kecamatan/[^"]+)">', html)
    assert links and all(link.endswith(f"?tahun={history.YEAR}") for link in links), links
    opened = (await web.get(links[0])).text
    assert f"RKPD {history.YEAR}</caption>" in opened


async def test_a_found_proposal_links_its_kelurahan_in_the_year_searched(web: httpx.AsyncClient) -> None:
    html = (await web.get("/usulan", params={"tahun": history.YEAR, "q": "usulan"})).text
    links = re.findall(r'<a href="(/kelurahan/[^"]+)">', html)
    assert links and all(link.endswith(f"?tahun={history.YEAR}") for link in links), links
    opened = (await web.get(links[0].replace("&amp;", "&"))).text
    assert f"RKPD {history.YEAR}" in opened and f"RKPD {history.NEXT_YEAR}</p>" not in opened


async def test_counts_past_a_thousand_are_grouped_as_rupiah_are(web: httpx.AsyncClient) -> None:
    """Kota Bekasi's kecamatan receive thousands of proposals a year: the equity table and its chart, the
    kecamatan's table and its totals wrote them "1001" beside "Rp 5.005.000.000"."""
    submitted = f"{MANY + 1:,}".replace(",", ".")  # with the history's own proposal carried into 2023
    equity = (await web.get(f"/rkpd/{history.NEXT_YEAR}/pemerataan")).text
    row = re.search(r'<tr data-kode="32\.75\.01">.*?</tr>', equity)
    assert row is not None and f'<td class="num">{submitted}</td>' in row[0], row
    assert f">{submitted}</text>" in equity  # the chart's label of the bar
    assert f"<title>Bekasi Timur: {submitted}</title>" in equity
    assert f'<tfoot><tr><th scope="row">Jumlah</th><td class="num">{submitted}</td>' in equity
    kecamatan = (await web.get("/kecamatan/32.75.01", params={"tahun": history.NEXT_YEAR})).text
    assert f'id="jumlah-usulan">{submitted}<' in kecamatan
    assert f'<td class="num">{submitted}</td>' in kecamatan  # Bekasijaya's own row
    assert not re.search(r'<td class="num">\d{4,}</td>', equity + kecamatan)
