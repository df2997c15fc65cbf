"""The journalist's review of the demo (s29g), through `musrenbang serve --demo` (RKPD 2022, as they read it):

1. the RKPD CSV and XLSX carry each line's kecamatan and where its pagu came from (residents' Musrenbang,
   DPRD pokir, the agency's Renja, as `/rkpd/{year}/sumber` words them), a Renja line's reason, and a
   city-wide line is "Seluruh kota" — appended after the SIPD columns, which keep their places;
2. an indicator keeps its own case mid-sentence on a line's lineage page ("RT", "APAR", "IKM");
3. the lineage page names a forum once, puts no space before a colon, and shows averages with 2 decimals;
4. no public output — the pokir API and its OpenAPI schema, the pokir pages, lineage pages and API, the
   RKPD files — carries a DPRD member's login name (half a credential); staff screens may.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator

import httpx
import openpyxl
import pytest

from musrenbang.http.rkpd_files import COLUMNS
from tests.conftest import _throwaway_database
from tests.rkpd_site import _run, text
from tests.server import Server

pytestmark = pytest.mark.slow

MEMBERS = ("dprd.rahmat", "dprd.")
"""The demo's DPRD login names (`dprd.rahmat`, …): every one starts `dprd.`."""


@pytest.fixture(scope="module")
def demo(server_url: str) -> Iterator[Server]:
    """`musrenbang serve --demo` on a database of its own (the review's setup)."""
    import socket

    context = _throwaway_database(server_url, None)
    url = _run(context.__aenter__())
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = Server(port, database_url=url, args=("--demo",), cycle=False)
    try:
        server.wait_healthy(timeout=300)
        yield server
    finally:
        server.stop()
        _run(context.__aexit__(None, None, None))


def _get(server: Server, path: str) -> httpx.Response:
    response = httpx.get(server.base_url + path, timeout=60)
    assert response.status_code == 200, (path, response.status_code)
    return response


def _csv(server: Server) -> list[dict[str, str]]:
    body = _get(server, "/rkpd/2022.csv").content
    return list(csv.DictReader(io.StringIO(body.decode("utf-8-sig"))))


def test_the_rkpd_files_hold_kecamatan_origin_kind_and_the_city_wide_place(demo: Server) -> None:
    first, second = _get(demo, "/rkpd/2022.csv"), _get(demo, "/rkpd/2022.csv")
    assert first.content == second.content  # byte-stable
    rows = list(csv.reader(io.StringIO(first.content.decode("utf-8-sig"))))
    head = rows[0]
    # The SIPD columns keep their places; the new ones come after "Usulan asal".
    assert head[:16][-1] == "Usulan asal" and head[8] == "Lokasi"
    assert head[16:] == ["Kecamatan", "Asal pagu", "Alasan Renja"]
    data = (_get(demo, "/api/v1/rkpd/2022")).json()
    by_no = {str(i["no"]): i for i in data["items"]}
    lines = _csv(demo)
    assert len(lines) == len(data["items"])
    kinds: set[str] = set()
    for line in lines:
        item = by_no[line["No"]]
        sources = {"pokir" if o["source"] == "pokir" else "musrenbang" for o in item["origins"]} or {"renja"}
        words = {"musrenbang": "Usulan warga (Musrenbang)", "pokir": "Pokok pikiran DPRD",
                 "renja": "Rencana kerja perangkat daerah"}  # fmt: skip
        assert line["Asal pagu"] == "; ".join(words[s] for s in ("musrenbang", "pokir", "renja") if s in sources)
        kinds |= sources
        if item["locations"]:
            assert line["Kecamatan"] == "; ".join(k["nama"] for k in item["kecamatan"]) != ""
            assert line["Lokasi"] == "; ".join(p["nama"] for p in item["locations"])
        else:  # a city-wide Renja line
            assert line["Lokasi"] == line["Kecamatan"] == "Seluruh kota"
        if not item["origins"]:
            assert line["Alasan Renja"] == item["renja_reason"] != ""
            assert line["Usulan asal"] == ""
    assert kinds == {"musrenbang", "pokir", "renja"}, kinds  # the demo has all three
    assert any(line["Lokasi"] == "Seluruh kota" for line in lines)

    # The same per kecamatan and source as /rkpd/2022/sumber counts: a kecamatan named on /sumber is in the file.
    sumber = text(_get(demo, "/rkpd/2022/sumber").text)
    for line in lines:
        for k in line["Kecamatan"].split("; "):
            assert k in sumber

    book = openpyxl.load_workbook(io.BytesIO(_get(demo, "/rkpd/2022.xlsx").content), read_only=True)
    cells = [list(r) for r in book["RKPD 2022"].iter_rows(values_only=True)]
    assert list(cells[0]) == list(COLUMNS) == head
    xlsx_rows = {str(r[0]): r for r in cells[1:]}
    for line in lines:
        got = xlsx_rows[line["No"]]
        assert [got[16], got[17], got[18] or ""] == [line["Kecamatan"], line["Asal pagu"], line["Alasan Renja"]]
        assert got[8] == line["Lokasi"]
    assert _get(demo, "/rkpd/2022.xlsx").content == _get(demo, "/rkpd/2022.xlsx").content


def _line_of(demo: Server, agency_line: str) -> str:
    return text(_get(demo, f"/telusur/rkpd/2022/{agency_line}").text)


def test_an_indicator_keeps_its_acronyms_on_the_lineage_page(demo: Server) -> None:
    data = _get(demo, "/api/v1/rkpd/2022").json()
    ids = {i["id"] for i in data["items"]}
    assert {"BPBD-001", "DISDAGPERIN-001"} <= ids
    bpbd = _line_of(demo, "BPBD-001")
    assert "RT yang memiliki APAR" in bpbd and "rt yang memiliki apar" not in bpbd
    assert "target jumlah RT" in bpbd  # an ordinary first word still reads mid-sentence
    assert "IKM" in _line_of(demo, "DISDAGPERIN-001")
    assert "ikm" not in _line_of(demo, "DISDAGPERIN-001")


def test_the_lineage_page_names_a_forum_once_without_a_space_before_a_colon_and_two_decimals(demo: Server) -> None:
    data = _get(demo, "/api/v1/rkpd/2022").json()
    pages = [_get(demo, f"/telusur/rkpd/2022/{i['id']}").text for i in data["items"][:25]]
    codes = {o["code"] for i in data["items"][:25] for o in i["origins"]}
    pages += [_get(demo, f"/telusur/usulan/{code}").text for code in sorted(codes)[:25]]
    words = [text(p) for p in pages]
    joined = " ".join(words)
    assert "Musrenbang Kelurahan" in joined
    for page in words:
        assert not re.search(r"\((Musrenbang|Musyawarah)[^()]*\((Musrenbang|Musyawarah)", page), page[:300]
        assert not re.search(r"(Musrenbang Kelurahan \w+) \(\1", page)
        assert " :" not in page
    averages = re.findall(r"rata-rata (\d+(?:,\d+)?)", joined)
    assert averages, "no score averages on the pages read"
    for avg in averages:
        assert re.fullmatch(r"\d+,\d\d", avg), avg
    criteria = re.findall(r"\(([^()]*\d,\d[^()]*)\)", joined)
    for group in criteria:
        for number in re.findall(r"\b\d+,\d+\b", group):
            assert re.fullmatch(r"\d+,\d\d", number), (number, group)


def test_no_public_output_carries_a_members_login_name(demo: Server) -> None:
    listing = _get(demo, "/api/v1/pokir?year=2023")  # the review's address (it may hold none yet)
    items = listing.json()["items"]
    older = _get(demo, "/api/v1/pokir?year=2022").json()["items"]
    assert older and all("member" not in p and p["member_name"] for p in items + older)
    bodies = [listing.text, _get(demo, "/api/v1/pokir?year=2022").text, _get(demo, "/api/v1/pokir").text,
              _get(demo, "/pokir/2022").text, _get(demo, "/pokir/2023").text, _get(demo, "/rkpd/2022/sumber").text,
              _get(demo, "/rkpd/2022.csv").text, _get(demo, "/api/v1/rkpd/2022").text]  # fmt: skip
    for p in items[:3] + older[:5]:
        bodies += [_get(demo, f"/api/v1/pokir/{p['code']}").text, _get(demo, f"/telusur/usulan/{p['code']}").text,
                   _get(demo, f"/api/v1/lineage/{p['code']}").text]  # fmt: skip
        if p["rkpd_line"]:
            bodies += [_get(demo, f"/telusur/rkpd/2022/{p['rkpd_line']}").text,
                       _get(demo, f"/api/v1/rkpd/2022/items/{p['rkpd_line']}/lineage").text]  # fmt: skip
        steps = _get(demo, f"/api/v1/lineage/{p['code']}").json()["steps"]
        submitted = next(s for s in steps if s["kind"] == "proposal.submitted" and s["subject"] == p["code"])
        bodies += [_get(demo, f"/periksa/{submitted['hash']}").text, _get(demo, f"/lacak/{p['code']}").text,
                   _get(demo, f"/api/v1/proposals/{p['code']}").text, _get(demo, f"/kelurahan/{p['kelurahan']}").text,
                   _get(demo, f"/kelurahan/{p['kelurahan']}.atom").text]  # fmt: skip
    assert any(p["rkpd_line"] for p in older)
    bodies += [_get(demo, "/rkpd/2022.atom").text, _get(demo, "/rkpd/2022").text]
    for body in bodies:
        assert "dprd.rahmat" not in body
        assert not re.search(r"\bdprd\.[a-z]", body), re.search(r".{80}\bdprd\.[a-z].{40}", body)

    schema = _get(demo, "/schema/openapi.json").json()
    pokir_out = schema["components"]["schemas"]
    names = [n for n in pokir_out if n.endswith("PokirOut")]
    assert names
    for n in names:
        assert "member" not in pokir_out[n]["properties"] and "member_name" in pokir_out[n]["properties"]
