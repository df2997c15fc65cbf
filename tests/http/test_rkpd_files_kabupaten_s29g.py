"""The RKPD files of a kabupaten (review s29g): a line that names no place is "Seluruh kabupaten" in Lokasi and
Kecamatan, as `/rkpd/{year}/sumber` calls it — never "Seluruh kota" — in the CSV and the XLSX alike
(Kabupaten Jembrana's RKPD 2022 of tests/http/test_kabupaten_pages_s28b.py, through a real server)."""

from __future__ import annotations

import csv
import io

import httpx
import openpyxl
import pytest

from tests.http.test_kabupaten_pages_s28b import Kabupaten, kabupaten  # noqa: F401 (the module's fixture)

pytestmark = pytest.mark.slow


async def test_a_kabupaten_wide_line_is_seluruh_kabupaten_in_both_files(kabupaten: Kabupaten) -> None:  # noqa: F811
    async with httpx.AsyncClient(base_url=kabupaten.server.base_url, timeout=30) as web:
        body = (await web.get("/rkpd/2022.csv")).content
        book = openpyxl.load_workbook(io.BytesIO((await web.get("/rkpd/2022.xlsx")).content), read_only=True)
        items = (await web.get("/api/v1/rkpd/2022")).json()["items"]
    rows = list(csv.DictReader(io.StringIO(body.decode("utf-8-sig"))))
    wide = [r for r, i in zip(rows, items, strict=True) if not i["locations"]]
    assert wide and all(r["Lokasi"] == r["Kecamatan"] == "Seluruh kabupaten" for r in wide)
    assert all(r["Asal pagu"] == "Rencana kerja perangkat daerah" and r["Alasan Renja"] for r in wide)
    assert "Seluruh kota" not in body.decode("utf-8-sig")
    cells = list(book["RKPD 2022"].iter_rows(values_only=True))
    assert [c[8] for c in cells[1:]] == [r["Lokasi"] for r in rows]
    assert [c[16] for c in cells[1:]] == [r["Kecamatan"] for r in rows]
