"""Parsing and checking the values people type: rupiah amounts, phone numbers, quantities, tracking codes.

Pure functions; each raises ValueError with a message in Indonesian (the source language of the
interface; the HTTP layer translates).
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from decimal import Decimal, InvalidOperation

from musrenbang.domain.errors import N_, Message

MAX_DIGITS = 15
"""Digits before the decimal mark of any quantity (bounds.MAX_QUANTITY_DIGITS)."""

CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
"""Crockford's base32: no I, L, O or U, so a code read aloud or copied by hand cannot be misread."""

_CROCKFORD_READ = {**{c: c for c in CROCKFORD}, "I": "1", "L": "1", "O": "0"}
CODE_LENGTH = 8

_MULTIPLIERS = {
    "rb": 1_000, "ribu": 1_000, "k": 1_000,
    "jt": 1_000_000, "juta": 1_000_000,
    "m": 1_000_000_000, "miliar": 1_000_000_000, "milyar": 1_000_000_000,
}  # fmt: skip
_AMOUNT = re.compile(r"^(?:rp\.?)?\s*([0-9][0-9.,\s]*?)\s*(rb|ribu|k|jt|juta|m|miliar|milyar)?\s*(?:,-|\.-)?$")
_NUMBER = re.compile(r"(?P<whole>[0-9]{1,3}(?P<sep>[., ])[0-9]{3}(?:(?P=sep)[0-9]{3})*|[0-9]+)"
                     r"(?:(?!(?P=sep))(?P<mark>[.,])(?P<part>[0-9]+))?")
"""A number as typed (ASCII digits only): plain, or grouped in threes by one kind of mark, then perhaps the
other mark and a fraction ("2.500.000,00", "2,500,000.00", "2,5"). Grouping is read first: "1.500" is
one thousand five hundred."""
_WRITE_RUPIAH = N_('tulis biaya dalam rupiah, misalnya "Rp 25.000.000" atau "25 juta"')
GROUPED_IN_THREES = N_("titik hanya memisahkan ribuan, setiap tiga angka: misalnya 1.500 atau 25.000.000")
"""Why a number with a dot elsewhere is refused: in Indonesian a dot groups thousands, a comma is the
decimal mark, so "1.5" is neither 15 nor one and a half."""
WRITE_NUMBER = N_("tulis angka, misalnya 150 atau 2,5")
"""What is no number at all is told this (a caller may say instead what its field holds)."""
_QUANTITY = re.compile(r"(?P<sign>-?)(?P<whole>[1-9][0-9]{0,2}(?:\.[0-9]{3})+|[0-9]+)(?:,(?P<part>[0-9]+))?")
"""A quantity as Indonesian writes it (ASCII digits): plain or grouped by dots in threes, then perhaps a
comma and the fraction ("1.500", "1.500,5", "0,25")."""
_DOT_DECIMAL = re.compile(r"-?[0-9]+\.[0-9]+")
"""A decimal point where Indonesian writes a comma ("12.5")."""
_PROGRAM_NUMBER = re.compile(r"-?[0-9]+(?:[.,][0-9]+)?")
"""A number as the API documents its strings (http/api.py): ASCII digits, perhaps a minus sign before them
and a dot or a comma as the decimal mark. No exponent ("1e5"), no "+", no "_", no "inf" or "nan": what
Decimal() also reads is not a number here."""


def code_from_bytes(digest: bytes) -> str:
    """Eight Crockford base32 characters (40 bits) from the start of a digest."""
    number = int.from_bytes(digest[:5], "big")
    return "".join(CROCKFORD[(number >> shift) & 31] for shift in range(35, -1, -5))


def normalize_code(text: str) -> str:
    """A tracking code as typed ("abcd-efgh", "ABCD EFGH", with O for 0) in its canonical form. A code
    copied from a chat or an SMS may carry invisible characters (zero-width spaces, direction marks), and a
    phone's keyboard may turn its hyphen into another dash ("7KQ2–M9XD"): no page can show them, so they
    are dropped, and full-width letters are read as letters."""
    if len(text) > 100:  # not a code, whatever it holds; and no unbounded work on it
        text = ""
    text = unicodedata.normalize("NFKC", text)
    compact = "".join(c for c in text if not (c.isspace() or c == "\u2212" or unicodedata.category(c) in ("Cf", "Pd")))
    compact = compact.upper()
    if len(compact) != CODE_LENGTH or any(c not in _CROCKFORD_READ for c in compact):
        raise ValueError(N_("kode pelacakan terdiri dari 8 huruf dan angka, misalnya 7KQ2-M9XD"))
    return "".join(_CROCKFORD_READ[c] for c in compact)


def grouped(n: int | Decimal) -> str:
    """A whole number with its thousands grouped the Indonesian way: grouped(-1234567) == "-1.234.567". Every
    figure on the site is written so, in both languages (rupiah, volumes, counts, the limits messages name):
    the figures people compare with their city's printed documents. A Decimal is taken whole, as `%d` would.
    """
    return f"{int(n):,}".replace(",", ".")


def parse_rupiah(text: str | int) -> int:
    """Rupiah as people write them: "Rp 25.000.000", "25000000", "25 juta", "2,5 jt", "500 ribu".

    Digits (ASCII only), plain or grouped in threes by one kind of mark: dots as Indonesian writes them
    ("25.000.000"), commas ("25,000,000") or spaces ("25 000 000"). A dot anywhere else is refused, never
    dropped: "1.5" is not Rp 15, nor "32.75.12.1001" an amount. A zero sen part after the other mark is
    dropped ("Rp2.500.000,00", "2,500,000.00"), any other refused; with a multiplier, a comma or dot after
    the digits is the decimal mark ("2,5 juta" = 2,500,000; "1.500 ribu" is still 1,500 thousand).
    """
    if isinstance(text, int):
        return text
    match = _AMOUNT.match(text.strip().lower())
    if not match:
        raise ValueError(_WRITE_RUPIAH)
    written, unit = re.sub(r"\s+", " ", match.group(1)), match.group(2)
    if sum(c in "0123456789" for c in written) > (24 if unit else 18):  # beyond any budget (and int() of
        raise ValueError(N_("biaya terlalu besar"))  # thousands of digits is refused by Python itself)
    number = _NUMBER.fullmatch(written)
    if number is None:
        raise ValueError(GROUPED_IN_THREES if "." in written else _WRITE_RUPIAH)
    whole, part = re.sub(r"[., ]", "", number["whole"]), number["part"] or ""
    if unit:
        amount = Decimal(f"{whole}.{part or 0}") * _MULTIPLIERS[unit]
        if amount != amount.to_integral_value():
            raise ValueError(N_("biaya harus bilangan rupiah bulat"))
        return int(amount)
    if len(part) > 2:  # one or two digits after the last mark are sen, never a thousands group
        raise ValueError(GROUPED_IN_THREES if number["mark"] == "." else _WRITE_RUPIAH)
    if part and int(part):  # a budget is in whole rupiah
        raise ValueError(N_('biaya dalam rupiah bulat, tanpa sen: tulis misalnya "Rp 2.500.000" atau "2.500.000,00"'))
    return int(whole)


def parse_decimal(text: str | int | float | Decimal, *, places: int) -> str:
    """A number as programs write it, as a canonical decimal string ("150", "2.5"): a dot (or a comma) as
    the decimal mark, never a thousands group. For coordinates (-6.2383, 106.9896), numbers from JSON and
    the values events carry; a quantity a person types is read by `parse_quantity`.

    Strings, not floats, travel in events: a float does not survive jsonb byte for byte.

        >>> parse_decimal("-6.2383", places=7), parse_decimal("106,99", places=7), parse_decimal(1.5, places=3)
        ('-6.2383', '106.99', '1.5')
    """
    value = read_decimal(text)
    # By the exponent first: abs() of "1e999999999" overflows the context (a 500 for a typed coordinate);
    # then by value, before quantizing, which fails on huge numbers.
    if value and (value.adjusted() >= MAX_DIGITS or value.copy_abs() >= Decimal(10) ** MAX_DIGITS):
        raise ValueError(N_("angka terlalu besar"))
    quantized = value.quantize(Decimal(1).scaleb(-places))
    if quantized != value:
        raise ValueError(Message(N_("terlalu banyak angka di belakang koma: paling banyak %(places)d"), places=places))
    text_value = format(value.normalize(), "f")
    return text_value


def read_decimal(text: str | int | float | Decimal) -> Decimal:
    """The number `text` is, read as programs write numbers, before any bound: `parse_decimal`'s reading,
    for a caller (the JSON API) that must refuse what is no number here while the bounds and places stay its
    domain's to check. A string is read only in the form the API documents (`_PROGRAM_NUMBER`: ASCII
    digits, a dot or a comma as the decimal mark): Decimal() alone also reads ٣٠٠, １２, 1_000, +5, inf and
    1e5, which a person typing "1e5" for a volume never meant as 100000. A number (a JSON number, a stored
    value) is taken as it is, whatever Python writes it as (1e+16).

        >>> read_decimal("2,5"), read_decimal(-6.5)
        (Decimal('2.5'), Decimal('-6.5'))
        >>> read_decimal("1e5")
        Traceback (most recent call last):
        ...
        ValueError: tulis angka, misalnya 150 atau 2,5
    """
    raw = str(text).strip()
    if len(raw) > 40:
        raise ValueError(N_("angka terlalu panjang"))
    if isinstance(text, str) and not _PROGRAM_NUMBER.fullmatch(raw):
        raise ValueError(WRITE_NUMBER)
    raw = raw.replace(",", ".")
    if not raw.isascii() or "_" in raw:
        raise ValueError(WRITE_NUMBER)
    try:
        value = Decimal(raw)
    except InvalidOperation:
        raise ValueError(WRITE_NUMBER) from None
    if not value.is_finite():
        raise ValueError(WRITE_NUMBER)
    return value


def parse_quantity(text: str | int | float | Decimal, *, places: int = 3) -> str:
    """A volume, target or other quantity as a person types it in a form, as a canonical decimal string:
    the comma is the decimal mark and dots group thousands in threes, as in rupiah amounts.

        >>> parse_quantity("1.500"), parse_quantity("1.500,5"), parse_quantity("2,5"), parse_quantity("1.500.000")
        ('1500', '1500.5', '2.5', '1500000')

    A dot anywhere else is refused, never read as a decimal point: whoever writes "12.5" for twelve and a
    half would read "12.125" as twelve point one two five, where Indonesian reads twelve thousand one
    hundred twenty-five; told at once to write "12,5", they never meet that trap.

        >>> parse_quantity("12.5")
        Traceback (most recent call last):
        ...
        ValueError: koma adalah tanda desimal, titik hanya memisahkan ribuan: tulis 12,5

    A number that is one already (a JSON number, a stored value) is taken as it is (`parse_decimal`):
    programs, the JSON API and the events write a decimal point, and only forms are read this way.
    """
    if not isinstance(text, str):
        return parse_decimal(text, places=places)
    raw = text.strip()
    if len(raw) > 40:
        raise ValueError(N_("angka terlalu panjang"))
    if not raw.isascii():  # ٣٠٠ and １２ are no numbers here; the patterns below take ASCII digits only
        raise ValueError(WRITE_NUMBER)
    number = _QUANTITY.fullmatch(raw)
    if number:
        whole = number["whole"].replace(".", "")
        return parse_decimal(f"{number['sign']}{whole}.{number['part'] or 0}", places=places)
    if _DOT_DECIMAL.fullmatch(raw):
        parse_decimal(raw, places=places)  # advice that would itself be refused (1.23456 → 1,23456) is not given
        raise ValueError(Message(N_("koma adalah tanda desimal, titik hanya memisahkan ribuan: tulis %(typed)s"),
                                 typed=raw.replace(".", ",")))  # fmt: skip
    # Only digits, dots and commas (and a minus) are a dot misplaced; "+1.500" or "1.5e3" is no number here.
    raise ValueError(GROUPED_IN_THREES if "." in raw and re.fullmatch(r"-?[0-9.,]+", raw) else WRITE_NUMBER)


def parse_agreed(cost: str, volume: str) -> tuple[int | None, str | None, dict[str, str]]:
    """An agreed cost and volume as a verifier or a forum typed them (blank: as proposed), and the error
    of each that cannot be read, keyed `agreed_cost` / `agreed_volume` like the form's fields: both are
    read, so one mistake does not hide the other."""
    errors: dict[str, str] = {}
    agreed_cost = agreed_volume = None
    try:
        agreed_cost = parse_rupiah(cost) if cost else None
    except ValueError as exc:
        errors["agreed_cost"] = exc.args[0]
    try:
        agreed_volume = parse_quantity(volume) if volume else None
    except ValueError as exc:
        errors["agreed_volume"] = exc.args[0]
    return agreed_cost, agreed_volume, errors


def parse_clock(text: str) -> dt.time | None:
    """A starting time as people write it: "09:00", "9.30", "13:15" (blank: none given)."""
    raw = text.strip()
    if not raw:
        return None
    match = re.fullmatch(r"([0-9]{1,2})[:.]([0-9]{2})", raw)  # ASCII digits only: \d would take ٠٩
    if match is None or int(match[1]) > 23 or int(match[2]) > 59:
        raise ValueError(N_("tulis jam mulai dengan jam dan menit, misalnya 09:00"))
    return dt.time(int(match[1]), int(match[2]))


def normalize_phone(text: str) -> str:
    """An Indonesian phone number as +62…: accepts 0812-3456-7890, 62812…, +62 812 …; a refusal says what
    is wrong (a prefix, a letter, too few or too many digits), not only what a number looks like."""
    digits = re.sub(r"[\s\-().]", "", text)
    if not digits:
        raise ValueError(N_("tulis nomor telepon, misalnya 0812-3456-7890"))
    if digits.startswith("+62"):
        rest = digits[3:]
    elif digits.startswith("62"):
        rest = digits[2:]
    elif digits.startswith("0"):
        rest = digits[1:]
    else:
        raise ValueError(N_("nomor telepon diawali 08 atau +62, misalnya 0812-3456-7890"))
    if rest and not (rest.isascii() and rest.isdigit()):
        raise ValueError(N_("nomor telepon hanya berisi angka, misalnya 0812-3456-7890"))
    if rest.startswith("0"):
        raise ValueError(N_("nomor telepon diawali 08 atau +62, misalnya 0812-3456-7890"))
    if len(rest) < 8:
        raise ValueError(N_("nomor telepon terlalu pendek: periksa lagi, misalnya 0812-3456-7890"))
    if len(rest) > 13:
        raise ValueError(N_("nomor telepon terlalu panjang: periksa lagi, misalnya 0812-3456-7890"))
    return "+62" + rest


def village_level(code: str) -> str:
    """Whether a village code is a kelurahan's or a desa's, by Kemendagri's numbering: the last part of a
    kelurahan's code starts with 1 (32.75.01.1001), a desa's with 2 or 3 (32.01.01.2001). Every row of
    the national table follows it (tests/test_reference.py)."""
    return "kelurahan" if code.rsplit(".", 1)[-1].startswith("1") else "desa"


def city_level(code: str) -> str:
    """Whether a kabupaten/kota code is a kota's or a kabupaten's, by Kemendagri's numbering: a kota's second
    part is 71 or more (32.75 Kota Bekasi), a kabupaten's less (51.01 Kabupaten Jembrana). Every row of the
    national table follows it. A code inside the city (a kecamatan's, a desa's) reads as its city's; one not
    set up yet (empty) as a kota, the platform's default.

        >>> city_level("32.75"), city_level("51.01"), city_level("51.01.03.2004"), city_level("")
        ('kota', 'kabupaten', 'kabupaten', 'kota')
    """
    parts = code.split(".")
    part = parts[1] if len(parts) > 1 else ""
    return "kabupaten" if part.isascii() and part.isdigit() and int(part) < 71 else "kota"


def kecamatan_of(kelurahan: str) -> str:
    """The kecamatan of a kelurahan, from the region code: 32.75.01.1001 -> 32.75.01."""
    return kelurahan.rsplit(".", 1)[0]


MONTHS = (N_("Januari"), N_("Februari"), N_("Maret"), N_("April"), N_("Mei"), N_("Juni"), N_("Juli"),
          N_("Agustus"), N_("September"), N_("Oktober"), N_("November"), N_("Desember"))  # fmt: skip
"""The months in Indonesian, marked so that the catalog names them in the reader's language."""


class LongDate(str):
    """A day written as messages write it (2 Januari 2023), keeping the day: a message that carries it as a
    parameter is shown on an English page with the day written in English (http/i18n.py)."""

    day: dt.date

    def __new__(cls, day: dt.date) -> LongDate:
        self = super().__new__(cls, f"{day.day} {MONTHS[day.month - 1]} {day.year}")
        self.day = day
        return self


def long_date(day: dt.date) -> LongDate:
    """A day as messages write it: 2 Januari 2023."""
    return LongDate(day)
