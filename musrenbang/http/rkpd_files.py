"""The RKPD list as files an official pastes into SIPD: CSV and XLSX, built from the same `RkpdOut` as the
page and the JSON, so the three never disagree.

Both are deterministic: the same list gives the same bytes (no generation time anywhere; the XLSX's
document dates are the adoption time, or a fixed date for a draft), so a file can be checked against
another download or against a published hash. Neither carries personal data: `RkpdOut` has none.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import Decimal

import xlsxwriter

from musrenbang.domain import agency as agencies
from musrenbang.http.rkpd_api import RkpdItemOut, RkpdOut

# The SIPD input columns, in the order an official fills them in. Two "Satuan": the target's, then the
# volume's (as in the T-D.4 annex).
COLUMNS = (
    "No", "Kode Sub Kegiatan", "Program", "Kegiatan", "Sub Kegiatan", "Indikator Keluaran", "Target", "Satuan",
    "Lokasi", "Volume", "Satuan", "Pagu", "Sumber Dana", "Perangkat Daerah", "Prioritas Daerah", "Usulan asal",
)  # fmt: skip
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CSV_TYPE = "text/csv; charset=utf-8"


def row(item: RkpdItemOut) -> list[str | int]:
    """One line as the columns above: codes and names as text, pagu as an integer, decimals with a dot."""
    return [
        item.no, item.sub_kegiatan_code, item.program, item.kegiatan, item.sub_kegiatan, item.output_indicator,
        item.target, item.target_unit, "; ".join(p.nama for p in item.locations), item.volume, item.unit, item.pagu,
        # Labels stay in Indonesian in both languages: SIPD's own vocabulary.
        agencies.FUNDING_SOURCES.get(item.funding_source, item.funding_source), item.agency_name,
        f"{item.priority_program}. {item.priority_program_title}", " ".join(o.code for o in item.origins),
    ]  # fmt: skip


def filename(rkpd: RkpdOut, extension: str) -> str:
    state = f"revisi-{rkpd.revision}" if rkpd.status == "ditetapkan" else "rancangan"
    return f"rkpd-{rkpd.year}-{state}.{extension}"


def to_csv(rkpd: RkpdOut) -> bytes:
    """RFC 4180 (comma, CRLF), UTF-8 with a byte-order mark so that spreadsheet programs read it as UTF-8."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    writer.writerows(row(i) for i in rkpd.items)
    return ("\ufeff" + out.getvalue()).encode()


def _number(text: str) -> int | float | str:
    """A volume or target ("300", "2.5") as a number cell, so a spreadsheet can add them up."""
    try:
        value = Decimal(text)
    except ArithmeticError:
        return text
    return int(value) if value == value.to_integral_value() else float(value)


def to_xlsx(rkpd: RkpdOut) -> bytes:
    """XlsxWriter (not openpyxl) writes it: it only writes, has no dependencies, streams rows, and gives
    reproducible files — fixed timestamps inside the zip, and the document dates come from the
    `created` property we set — where openpyxl stamps the save time into every file."""
    moment = rkpd.head.adopted_at if rkpd.head else dt.datetime(rkpd.year - 1, 1, 1, tzinfo=dt.UTC)
    created = moment.astimezone(dt.UTC).replace(tzinfo=None, microsecond=0)
    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer, {"in_memory": True, "strings_to_numbers": False, "strings_to_urls": False,
                                        "strings_to_formulas": False})  # fmt: skip
    state = f"ditetapkan, revisi {rkpd.revision}" if rkpd.status == "ditetapkan" else "rancangan"
    book.set_properties({"title": f"RKPD {rkpd.year} ({state})", "subject": "Daftar RKPD (Permendagri 86/2017 T-D.4)",
                         "author": "Musrenbang Kota Bekasi", "company": "Pemerintah Kota Bekasi", "created": created,
                         "comments": f"Kepala log: {rkpd.head.hash}" if rkpd.head else ""})  # fmt: skip
    bold = book.add_format({"bold": True, "text_wrap": True, "valign": "top"})
    money = book.add_format({"num_format": "#,##0"})
    sheet = book.add_worksheet(f"RKPD {rkpd.year}")
    sheet.write_row(0, 0, COLUMNS, bold)
    sheet.freeze_panes(1, 0)
    for width, columns in ((5, "A:A"), (22, "B:B"), (30, "C:F"), (10, "G:H"), (28, "I:I"), (10, "J:K"),
                           (16, "L:L"), (14, "M:M"), (30, "N:O"), (20, "P:P")):  # fmt: skip
        sheet.set_column(columns, width)
    for n, item in enumerate(rkpd.items, start=1):
        values = row(item)
        for c, value in enumerate(values):
            if COLUMNS[c] == "Pagu":
                sheet.write_number(n, c, value, money)
            elif c in (6, 9):  # Target, Volume
                cell = _number(str(value))
                (sheet.write_number if not isinstance(cell, str) else sheet.write_string)(n, c, cell)
            elif isinstance(value, int):
                sheet.write_number(n, c, value)
            else:
                sheet.write_string(n, c, value)
    about = book.add_worksheet("Keterangan")
    facts = [("Tahun", str(rkpd.year)), ("Status", state), ("Jumlah baris", str(len(rkpd.items))),
             ("Jumlah pagu", str(rkpd.total_pagu))]  # fmt: skip
    if rkpd.head:
        facts += [("Ditetapkan", rkpd.head.adopted_at.isoformat()), ("Kepala log (hash)", rkpd.head.hash),
                  ("Aliran / versi", f"{rkpd.head.stream} / {rkpd.head.version}")]  # fmt: skip
    if rkpd.changed_since_adoption:
        facts.append(("Catatan", "Ada perubahan sejak penetapan yang belum ditetapkan ulang"))
    for n, (label, value) in enumerate(facts):
        about.write_string(n, 0, label, bold)
        about.write_string(n, 1, value)
    about.set_column("A:A", 20)
    about.set_column("B:B", 70)
    book.close()
    return buffer.getvalue()
