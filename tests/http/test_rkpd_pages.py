"""The public RKPD pages through a real server with an adopted RKPD 2022 (tests/rkpd_site.py): the T-D.4
list, its CSV and XLSX, the equity view, and the lineage pages."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from collections.abc import Iterator
from decimal import Decimal

import asyncpg
import httpx
import openpyxl
import pytest

from musrenbang.domain import rkpd as rkpd_rules
from musrenbang.eventlog.store import EventStore
from musrenbang.projections import all_projections
from musrenbang.projections import rkpd as rkpd_views
from musrenbang.projections.runner import ProjectionRunner
from musrenbang.services.rkpd import RkpdService
from tests.rkpd_site import (  # noqa: F401  (fixtures on this module's site)
    ADOPTED_ON,
    DECLINE,
    META,
    PROPOSER_NAME,
    PROPOSER_PHONE,
    REJECTION,
    YEAR,
    Site,
    rkpd_site,
    text,
)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def site(server_url: str, template_name: str) -> Iterator[Site]:
    with rkpd_site(server_url, template_name) as s:
        yield s


def rupiah_values(fragment: str) -> list[int]:
    return [int(x.replace(".", "")) for x in re.findall(r"Rp ([\d.]+)", fragment)]


async def test_the_list_is_the_adopted_t_d4_with_totals_and_lineage_links(web: httpx.AsyncClient, site: Site) -> None:
    r = await web.get(f"/rkpd/{YEAR}")
    assert r.status_code == 200
    body = r.text
    data = (await web.get(f"/api/v1/rkpd/{YEAR}")).json()
    assert data["status"] == "ditetapkan" and len(data["items"]) == 3
    # The banner: adopted, revision, date, and the head hash linking to its check page.
    banner = body.split('id="status"')[1].split("</div>")[0]
    assert "Daftar yang disepakati" in banner and "revisi 1" in banner
    # The day the Musrenbang Kota adopted it, not the day that was recorded (review s20).
    assert data["head"]["adopted_on"] == ADOPTED_ON.isoformat() and "disepakati 5 April 2021" in banner
    assert f'href="/periksa/{data["head"]["hash"]}"' in banner
    assert "Tidak ada perubahan sejak disepakati" in banner
    assert (await web.get(f"/periksa/{data['head']['hash']}")).status_code == 200
    # Grand total = the sum of the lines' pagu; subtotals per agency and per priority program add up.
    pagu = [i["pagu"] for i in data["items"]]
    table_total = re.search(r'id="table-total">Rp ([\d.]+)<', body)[1]
    assert int(table_total.replace(".", "")) == sum(pagu) == data["total_pagu"] == 31_500_000
    assert re.findall(r'class="num pagu"[^>]*>Rp ([\d.]+)<', body) == [f"{p:,}".replace(",", ".") for p in pagu]
    program_totals = [int(x.replace(".", "")) for x in re.findall(
        r'program-total"><td colspan="5">[^<]*</td><td class="num">Rp ([\d.]+)<', body)]  # fmt: skip
    assert sum(program_totals) == sum(pagu) and len(program_totals) == 2
    assert "Program prioritas 1" in body and "Program prioritas 4" in body
    assert body.index("Dinas Bina Marga") < body.index("Dinas Perumahan")  # agencies by name within program 1
    # Every line links to its lineage page, which answers.
    for item in data["items"]:
        link = f"/telusur/rkpd/{YEAR}/{item['id']}"
        assert f'href="{link}"' in body
        assert (await web.get(link)).status_code == 200
    for link in (f"/rkpd/{YEAR}.csv", f"/rkpd/{YEAR}.xlsx", f"/api/v1/rkpd/{YEAR}", f"/rkpd/{YEAR}/pemerataan"):
        assert f'href="{link}"' in body
    assert PROPOSER_NAME not in body and PROPOSER_PHONE not in body
    # English through the catalog mechanism; unknown years are not found.
    assert (await web.get(f"/rkpd/{YEAR}?lang=en")).status_code == 200
    for missing in ("/rkpd/1999", "/rkpd/1999.csv", "/rkpd/abc", "/rkpd/2022.pdf", "/rkpd/1999/pemerataan"):
        assert (await web.get(missing)).status_code == 404, missing


def _json_rows(data: dict) -> list[list[str]]:
    return [
        [str(i["no"]), i["sub_kegiatan_code"], i["program"], i["kegiatan"], i["sub_kegiatan"], i["output_indicator"],
         i["target"], i["target_unit"], "; ".join(p["nama"] for p in i["locations"]) or "Seluruh kota", i["volume"],
         i["unit"],
         str(i["pagu"]), {"apbd_kota": "APBD Kabupaten/Kota", "dana_kelurahan": "Dana Kelurahan"}[i["funding_source"]],
         i["agency_name"], f'{i["priority_program"]}. {i["priority_program_title"]}',
         " ".join(o["code"] for o in i["origins"]),
         # After the SIPD columns (review s29): kecamatan, where the pagu came from, a Renja line's reason.
         "; ".join(k["nama"] for k in i["kecamatan"]) or "Seluruh kota", _sources(i), i["renja_reason"]]
        for i in data["items"]
    ]  # fmt: skip


def _sources(item: dict) -> str:
    """Where a line's pagu came from, as /rkpd/{year}/sumber heads its columns."""
    found = {"pokir" if o["source"] == "pokir" else "musrenbang" for o in item["origins"]} or {"renja"}
    words = {"musrenbang": "Usulan warga (Musrenbang)", "pokir": "Pokok pikiran DPRD",
             "renja": "Rencana kerja perangkat daerah"}  # fmt: skip
    return "; ".join(words[s] for s in ("musrenbang", "pokir", "renja") if s in found)


async def test_csv_and_xlsx_hold_the_json_rows_byte_for_byte_again_and_no_personal_data(
    web: httpx.AsyncClient,
) -> None:
    data = (await web.get(f"/api/v1/rkpd/{YEAR}")).json()
    expected = _json_rows(data)

    first, second = await web.get(f"/rkpd/{YEAR}.csv"), await web.get(f"/rkpd/{YEAR}.csv")
    assert first.status_code == 200 and first.content == second.content
    assert first.headers["content-type"] == "text/csv; charset=utf-8"  # the charset once
    assert f'filename="rkpd-{YEAR}-revisi-1.csv"' in first.headers["content-disposition"]
    rows = list(csv.reader(io.StringIO(first.content.decode("utf-8-sig"))))
    assert rows[0][:3] == ["No", "Kode Sub Kegiatan", "Program"] and rows[0][15] == "Usulan asal"
    assert rows[0][16:] == ["Kecamatan", "Asal pagu", "Alasan Renja"]  # appended: SIPD's keep their places
    assert len(set(rows[0])) == len(rows[0]) and "Satuan Target" in rows[0] and "Satuan Volume" in rows[0]
    assert rows[1:] == expected

    first, second = await web.get(f"/rkpd/{YEAR}.xlsx"), await web.get(f"/rkpd/{YEAR}.xlsx")
    assert first.status_code == 200 and first.content == second.content
    assert first.headers["content-type"] == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    assert f'filename="rkpd-{YEAR}-revisi-1.xlsx"' in first.headers["content-disposition"]
    book = openpyxl.load_workbook(io.BytesIO(first.content), read_only=True)
    sheet = book[f"RKPD {YEAR}"]
    cells = [list(row) for row in sheet.iter_rows(values_only=True)]
    assert list(cells[0]) == rows[0]

    def normal(v: object) -> str:
        if v is None:  # an empty text (a line's "Alasan Renja" when it has origins) is an empty cell
            return ""
        if isinstance(v, float | int):
            return format(Decimal(str(v)).normalize(), "f")
        return str(v)

    assert [[normal(v) for v in row] for row in cells[1:]] == expected
    adopted = dt.datetime.fromisoformat(data["head"]["adopted_at"]).astimezone(dt.UTC).replace(tzinfo=None)
    assert book.properties.created == adopted.replace(microsecond=0)  # fixed: the adoption, not the download
    for content in (first.content, (await web.get(f"/rkpd/{YEAR}.csv")).content):
        for secret in (PROPOSER_NAME, PROPOSER_PHONE, PROPOSER_PHONE[3:]):
            assert secret.encode() not in content
    for row in book.worksheets[1].iter_rows(values_only=True):
        assert PROPOSER_NAME not in " ".join(str(v) for v in row)


async def test_a_download_is_named_by_the_state_it_was_read_at_and_is_304_while_that_stands(
    web: httpx.AsyncClient,
) -> None:
    page = await web.get(f"/rkpd/{YEAR}")
    files = {extension: await web.get(f"/rkpd/{YEAR}.{extension}") for extension in ("csv", "xlsx")}
    tags = {extension: r.headers["etag"] for extension, r in files.items()}
    assert len({*tags.values(), page.headers["etag"]}) == 3  # one tag per form of the list
    for extension, tag in tags.items():
        again = await web.get(f"/rkpd/{YEAR}.{extension}", headers={"If-None-Match": tag})
        assert again.status_code == 304 and again.headers["etag"] == tag and not again.content
        other = await web.get(f"/rkpd/{YEAR}.{extension}", headers={"If-None-Match": page.headers["etag"]})
        assert other.status_code == 200 and other.content == files[extension].content
    assert (await web.get("/rkpd/1999.csv", headers={"If-None-Match": tags["csv"]})).status_code == 404


async def test_equity_numbers_match_the_database(web: httpx.AsyncClient, db: asyncpg.Pool, site: Site) -> None:
    r = await web.get(f"/rkpd/{YEAR}/pemerataan")
    assert r.status_code == 200
    body = r.text
    assert body.count("<svg") == 2 and "<title id=" in body and "<desc id=" in body
    assert "<script" not in body.split("<main", 1)[1]
    rows = {
        m[0]: [m[1], m[2], m[3], m[4], m[5]]
        for m in re.findall(
            r'<tr data-kode="([\d.]+)"><th[^>]*>.*?</th><td class="num">(\d+)</td><td class="num">(\d+)'
            r'</td><td class="num">(\d+)</td><td class="num">([^<]*)</td><td class="num">([^<]*)</td>',
            body,
        )  # fmt: skip
    }
    assert len(rows) == 12
    codes = site.codes
    submitted = dict(await db.fetch("SELECT kecamatan, count(*) FROM proposals GROUP BY kecamatan"))
    accepted = dict(await db.fetch("SELECT kecamatan, count(*) FROM proposals WHERE accepted GROUP BY kecamatan"))
    async with db.acquire() as conn:
        published = await rkpd_views.published(conn, YEAR)
        cost_of, kecamatan_of_item = await rkpd_views.item_facts(conn, YEAR)
        ceilings = await rkpd_views.ceilings(conn, YEAR)
    pagu = rkpd_rules.pagu_by_kecamatan(published.lines, cost_of, kecamatan_of_item)
    origins = [c for line in published.lines for c in line.origins]
    in_rkpd = dict(await db.fetch(
        "SELECT kecamatan, count(*) FROM proposals WHERE code = ANY($1::text[]) OR merged_into = ANY($1::text[])"
        " GROUP BY kecamatan", origins))  # fmt: skip
    for kode, (n_submitted, n_accepted, n_in, pagu_text, ceiling_text) in rows.items():
        assert int(n_submitted) == submitted.get(kode, 0)
        assert int(n_accepted) == accepted.get(kode, 0)
        assert int(n_in) == in_rkpd.get(kode, 0)
        assert rupiah_values(pagu_text) == [pagu.get(kode, 0)]
        assert rupiah_values(ceiling_text) == ([ceilings[kode]] if kode in ceilings else [])
    # In the RKPD: the three origins and the duplicate merged into one of them.
    assert int(rows["32.75.01"][2]) == 4 and codes["duplicate"] not in {o for line in published.lines
                                                                         for o in line.origins}  # fmt: skip
    assert sum(int(v[2]) for v in rows.values()) == 4
    assert rupiah_values(rows["32.75.01"][3]) == [31_500_000] and rupiah_values(rows["32.75.02"][4]) == [80_000_000]
    assert int(rows["32.75.02"][0]) == 2 and int(rows["32.75.02"][1]) == 1


async def test_lineage_of_a_rejected_proposal_gives_the_rejection_reason(web: httpx.AsyncClient, site: Site) -> None:
    code = site.codes["rejected"]
    r = await web.get(f"/telusur/usulan/{code}")
    assert r.status_code == 200
    summary = text(r.text.split('id="summary"')[1].split("</div>")[0])
    assert "Ditolak saat verifikasi" in summary and REJECTION in summary
    assert re.search(r'href="/periksa/[0-9a-f]{64}"', r.text)
    # The tracking page links here; a lower-case code redirects; an unknown one is not found.
    assert f'href="/telusur/usulan/{code}"' in (await web.get(f"/lacak/{code}")).text
    assert (await web.get(f"/telusur/usulan/{code.lower()}", follow_redirects=False)).status_code == 301
    assert (await web.get("/telusur/usulan/ZZZZZZZZ")).status_code == 404
    assert (await web.get(f"/telusur/rkpd/{YEAR}/NOPE-001")).status_code == 404


async def test_lineage_of_a_proposal_left_out_gives_the_forum_reason(web: httpx.AsyncClient, site: Site) -> None:
    r = await web.get(f"/telusur/usulan/{site.codes['left_out']}")
    assert r.status_code == 200
    summary = text(r.text.split('id="summary"')[1].split("</div>")[0])
    assert "Tidak terakomodasi di Musrenbang Kelurahan Bekasijaya" in summary
    assert "tidak muat dalam sisa pagu" in summary and "peringkat 5 dari 5" in summary
    page = text(r.text)
    assert "1 suara setuju" in page and "Masuk agenda: 5 usulan dibahas" in page
    assert "<details>" in r.text  # the individual ballots, folded
    declined = text((await web.get(f"/telusur/usulan/{site.codes['declined']}")).text)
    assert "Tidak diakomodasi oleh Dinas Bina Marga dan Sumber Daya Air" in declined and DECLINE in declined


async def test_lineage_of_a_proposal_in_the_rkpd_shows_merged_branches(web: httpx.AsyncClient, site: Site) -> None:
    road, duplicate = site.codes["road"], site.codes["duplicate"]
    r = await web.get(f"/telusur/usulan/{duplicate}")
    assert r.status_code == 200
    html = r.text
    summary = text(html.split('id="summary"')[1].split("</div>")[0])
    assert f"digabungkan ke usulan {road[:4]}-{road[4:]}" in summary
    assert "Masuk RKPD 2022" in summary and "Rehabilitasi Jalan" in summary and "revisi 1" in summary
    assert "disepakati di Musrenbang Kelurahan Bekasijaya, peringkat" in summary
    # The duplicate is a branch inside the surviving proposal's section.
    trunk = html.index(f'id="usulan-{road}"')
    assert html.index('class="node branch" id="usulan-' + duplicate) > trunk
    page = text(html)
    assert "2 suara setuju" in page and "Nilai dari 1 lembar penilaian: rata-rata 5" in page
    assert "Disesuaikan forum: biaya Rp 9.000.000 — alasan: harga satuan" in page
    assert f'href="/telusur/rkpd/{YEAR}/{site.lines["road"]}"' in html
    assert PROPOSER_NAME not in html and PROPOSER_PHONE not in html


async def test_lineage_of_a_line_shows_all_its_origins(web: httpx.AsyncClient, site: Site) -> None:
    line = site.lines["drain"]
    r = await web.get(f"/telusur/rkpd/{YEAR}/{line}")
    assert r.status_code == 200
    html, page = r.text, text(r.text)
    summary = text(html.split('id="summary"')[1].split("</div>")[0])
    assert f"Baris ini ada di RKPD {YEAR} yang ditetapkan (revisi 1)" in summary
    assert "Drainase Lingkungan" in summary and "Dinas Perumahan" in summary
    assert "Dialihkan dari Dinas Bina Marga dan Sumber Daya Air ke Dinas Perumahan" in page
    road_line = text((await web.get(f"/telusur/rkpd/{YEAR}/{site.lines['road']}")).text)
    road, duplicate = site.codes["road"], site.codes["duplicate"]
    for code in (road, duplicate):  # the origin and the proposal merged into it
        assert f"{code[:4]}-{code[4:]}" in road_line
    assert "berasal dari 1 usulan warga" in road_line
    assert "RKPD 2022 ditetapkan: baris" in road_line  # the first adoption (an amendment says so); no " :" (s29)
    # Each forum's ballots are summed up on a line's page; one by one they are a link away, on the
    # proposal's own page (listing them all made a city's line pages tens of KB).
    road_html = (await web.get(f"/telusur/rkpd/{YEAR}/{site.lines['road']}")).text
    assert "Surat suara delegasi" not in road_html and "<details>" not in road_html
    assert re.search(rf'<a href="/telusur/usulan/{road}">\d+ langkah satu per satu</a>', road_html)
    assert "Surat suara delegasi" in (await web.get(f"/telusur/usulan/{road}")).text


async def test_the_tracking_page_tells_the_city_level_in_words_and_home_links_the_rkpd(
    web: httpx.AsyncClient, site: Site
) -> None:
    road = text((await web.get(f"/lacak/{site.codes['road']}")).text)
    assert "Diterima di Forum Perangkat Daerah, ditangani Dinas Bina Marga dan Sumber Daya Air" in road
    assert "Masuk rancangan RKPD sebagai Rehabilitasi Jalan oleh Dinas Bina Marga dan Sumber Daya Air" in road
    assert re.search(r"RKPD ditetapkan pada \d{1,2} \w+ \d{4}", road), road
    drain = text((await web.get(f"/lacak/{site.codes['drain']}")).text)
    assert "Dialihkan ke Dinas Perumahan, Kawasan Permukiman dan Pertanahan — drainase lingkungan permukiman" in drain
    declined = text((await web.get(f"/lacak/{site.codes['declined']}")).text)
    assert f"Tidak diakomodasi oleh Dinas Bina Marga dan Sumber Daya Air — {DECLINE}" in declined
    for page in (road, drain, declined):
        assert "rkpd." not in page  # every kind in words
    assert f'href="/rkpd/{YEAR}"' in (await web.get("/")).text


async def test_a_change_after_adoption_shows_until_adopted_again(
    web: httpx.AsyncClient, db: asyncpg.Pool, site: Site
) -> None:
    """Last in this module: it changes the list the other tests read."""
    store = EventStore(db)
    line = (await RkpdService(db, store, ProjectionRunner(db, all_projections())).load(YEAR)).lines[site.lines["park"]]
    revised = rkpd_rules.LineInput(**{f: getattr(line, f) for f in rkpd_rules.LineInput.__struct_fields__
                                      if hasattr(line, f)} | {"pagu": 11_000_000})  # fmt: skip
    result = await RkpdService(db, store, ProjectionRunner(db, all_projections())).execute(
        YEAR, rkpd_rules.SetLine(line=revised, priority_programs=6, reason="harga satuan turun"), META
    )
    assert await ProjectionRunner(db, all_projections()).wait_until_applied(["rkpd", "lineage"], result.last, 30)
    body = (await web.get(f"/rkpd/{YEAR}")).text
    banner = text(body.split('id="status"')[1].split("</div>")[0])
    assert "Ada perubahan sejak disepakati" in banner
    assert re.search(r'id="table-total">Rp 31\.500\.000<', body)  # the adopted list, until adopted again
    lineage = text((await web.get(f"/telusur/rkpd/{YEAR}/{site.lines['park']}")).text)
    assert "ditetapkan (revisi 1) lalu diubah" in lineage and "alasan perubahan: harga satuan turun" in lineage


async def test_a_line_is_followed_from_its_cached_page_through_a_form_of_ones_own(
    web: httpx.AsyncClient, site: Site
) -> None:
    """The line's page is cached for every reader, so it cannot carry a form's CSRF token (its form was
    refused with 403 for everyone): it links to the follow form, which has its own."""
    line = site.lines["road"]
    page = (await web.get(f"/telusur/rkpd/{YEAR}/{line}")).text
    assert 'action="/ikuti"' not in page
    link = f"/ikuti?subjek=rkpd/{YEAR}/{line}"
    assert f'href="{link}"' in page
    form = await web.get(link)
    assert form.status_code == 200 and "_csrf_token" in form.text and f"rkpd/{YEAR}/{line}" in form.text
