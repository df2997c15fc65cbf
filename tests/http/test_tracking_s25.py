"""Session 25's review of the tracking page (`/lacak/{code}`, http/tracking.py, web/templates/track.html) on
the shared history server (tests/history.py): a merged duplicate shows the path of the proposal it was merged
into, as its e-mails report it; a DPRD pokir is not offered to residents to propose again; a forum's change
of cost is shown at that forum's step; and the RKPD year is said on the page, and on the page that answers
a proposal submitted."""

from __future__ import annotations

import re

import asyncpg
import httpx

from tests.http.test_pages import FORM_FIELDS, code_on, open_form, send_form
from tests.server import Server


def _steps(page: str) -> str:
    """The page's history, from "Riwayat" to the section about its messages."""
    start, end = page.index("<h2>Riwayat</h2>"), page.index('<section id="kabar"')
    return page[start:end]


async def _rows(city_database: str, query: str, *args: object) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(city_database)
    try:
        return await conn.fetch(query, *args)
    finally:
        await conn.close()


async def test_a_merged_duplicate_shows_the_path_of_the_proposal_it_was_merged_into(
    city_server: Server, city_database: str
) -> None:
    """a4, merged into a0 at verification: its page went from the merge straight to the line's budget
    steps, without a0's forums, agency, draft RKPD and adoption its followers were told of."""
    [merged] = await _rows(city_database, "SELECT code, merged_into FROM proposals WHERE status = 'digabungkan'")
    duplicate, into = merged["code"], merged["merged_into"]
    async with httpx.AsyncClient(base_url=city_server.base_url, timeout=30) as client:
        page = (await client.get(f"/lacak/{duplicate}")).text
        own = (await client.get(f"/lacak/{into}")).text
    steps = _steps(page)
    path_at = steps.index(f'id="jalur-{into}"')
    assert steps.index("Digabungkan ke usulan") < path_at  # the merge, then the path it goes on along
    heading = re.search(r"<h3 [^>]*>(.*?)</h3>", steps[path_at:], re.S)
    assert heading and heading[1] == (f'Sesudah digabungkan: perjalanan usulan <a href="/lacak/{into}">'
                                      f"{into[:4]}-{into[4:]}</a>")  # fmt: skip
    path = steps[path_at:]
    for words in ("Lolos verifikasi dan diterima", "Dibahas di Musrenbang Kelurahan pada",
                  "Dibahas di Musrenbang Kecamatan pada", "Diterima di Forum Perangkat Daerah",
                  "Masuk rancangan RKPD sebagai Rehabilitasi Jalan", "RKPD ditetapkan pada 5 April 2021",
                  "RKPD diundangkan dengan", "galian saluran selesai"):  # fmt: skip
        assert words in path, words
        assert words in _steps(own), words  # as that proposal's own page has it
    assert "usulan serupa bergabung ke sini" not in path  # the merge step says it already
    # The line's milestones, which the duplicate's own timeline holds too, are shown once, in the path.
    assert steps.count("galian saluran selesai") == 1 and steps.count("Dianggarkan dalam APBD") == 1
    assert f'<a href="/lacak/{into}">{into[:4]}-{into[4:]}</a>, yang kini berstatus: Masuk RKPD.' in page
    assert f'href="#jalur-{into}"' in page
    # The proposal it was merged into is not merged: its page shows no path of another.
    assert 'class="merged-path"' not in own


async def test_a_pokir_is_not_offered_to_residents_to_propose_again(city_server: Server, city_database: str) -> None:
    """The pokir declined by DBMSDA offered "Usulkan lagi untuk RKPD 2023", a form answering 409: a pokir is
    proposed again by its DPRD member from a later reses. A resident's proposal still has the button."""
    [pokir] = await _rows(city_database, "SELECT code FROM proposals WHERE source = 'pokir'")
    [rejected] = await _rows(city_database, "SELECT code FROM proposals WHERE status = 'ditolak' AND source = 'warga'"
                                            " AND carried_to IS NULL")  # fmt: skip
    async with httpx.AsyncClient(base_url=city_server.base_url, timeout=30) as client:
        page = (await client.get(f"/lacak/{pokir['code']}")).text
        resident = (await client.get(f"/lacak/{rejected['code']}")).text
    assert f"/usulan/baru?lanjutan={rejected['code']}&amp;tahun=2023" in resident  # a later year takes proposals
    assert "/usulan/baru?lanjutan=" not in page and "Usulkan lagi" not in page
    assert "Anda dapat mengusulkannya lagi" not in page
    assert ('id="pokir-lagi">Pokok pikiran ini belum terakomodasi. Anggota DPRD yang membawanya dapat mengajukannya'
            " lagi sebagai pokok pikiran baru dari reses berikutnya.") in page  # fmt: skip
    assert 'id="pokir-lagi"' not in resident


async def test_a_forums_change_of_cost_is_shown_at_its_step(city_server: Server, city_database: str) -> None:
    """Kelurahan A's forum agreed a0 at Rp 7 juta instead of Rp 10 juta ("harga"): only the lineage page
    said so. The kecamatan forum, which changed nothing, says nothing of the kind."""
    [row] = await _rows(city_database, "SELECT proposal FROM forum_agenda WHERE adjust_reason IS NOT NULL")
    async with httpx.AsyncClient(base_url=city_server.base_url, timeout=30) as client:
        steps = _steps((await client.get(f"/lacak/{row['proposal']}")).text)
    kelurahan = steps.index("Dibahas di Musrenbang Kelurahan")
    kecamatan = steps.index("Dibahas di Musrenbang Kecamatan")
    adjusted = steps.index("Disesuaikan forum")
    assert kelurahan < adjusted < kecamatan and steps.count("Disesuaikan forum") == 1
    assert ("Disesuaikan forum: biaya Rp 10.000.000 → <strong>Rp 7.000.000</strong> — alasan: harga"
            in steps[kelurahan:kecamatan])  # fmt: skip


async def test_the_tracking_page_says_the_rkpd_year(city_server: Server, city_database: str) -> None:
    rows = await _rows(city_database, "SELECT DISTINCT ON (year, source) code, year, source FROM proposals"
                                      " ORDER BY year, source, code")  # fmt: skip
    assert {(r["year"], r["source"]) for r in rows} >= {(2022, "warga"), (2022, "pokir"), (2023, "warga")}
    async with httpx.AsyncClient(base_url=city_server.base_url, timeout=30) as client:
        for r in rows:
            page = (await client.get(f"/lacak/{r['code']}")).text
            says = (f'<a href="/pokir/{r["year"]}">Pokok pikiran DPRD untuk RKPD {r["year"]}</a>'
                    if r["source"] == "pokir" else f"Usulan untuk RKPD {r['year']}")  # fmt: skip
            assert f'<p class="year" id="tahun-rkpd">{says}</p>' in page, r["code"]


async def test_the_page_after_submitting_says_the_rkpd_year(client: httpx.AsyncClient, app_pool: asyncpg.Pool) -> None:
    """The code page said the code and the secret, never which year's RKPD the proposal is for: not even
    when a form sent again after a change answers with the proposal it made."""
    tokens = await open_form(client)
    made = await send_form(client, tokens, FORM_FIELDS)
    assert made.status_code == 200, made.text
    code = code_on(made.text)
    year = await app_pool.fetchval("SELECT year FROM proposals WHERE code = $1", code)
    assert f'<p id="tahun-rkpd"><strong>Usulan untuk RKPD {year}</strong></p>' in made.text
    changed = await send_form(client, tokens, {**FORM_FIELDS, "title": "Pembangunan jalan setapak RT 3"})
    assert changed.status_code == 409 and code_on(changed.text) == code
    assert f"Usulan untuk RKPD {year}" in changed.text
