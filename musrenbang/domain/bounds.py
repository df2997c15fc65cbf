"""What the log can hold: the bounds every value keeps before it becomes an event.

An event can never be taken back, and every projection must be able to store every event, or it stops on
it for good. So each `decide` checks what it puts into an event against these bounds, whatever door the
command came through (the JSON API, a form, the CLI, an import): numbers fit the read models' columns
(`integer`, `bigint`) with room for their sums, texts carry no NUL or control characters (PostgreSQL's text
and jsonb cannot store NUL), no invisible format characters, and have a length a page can show.

    >>> clean_text("  Jalan   rusak ", max_length=20)
    'Jalan rusak'
    >>> clean_text("a\\x00b", max_length=20)
    Traceback (most recent call last):
    ...
    ValueError: berisi karakter yang tidak diizinkan
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Callable
from decimal import Decimal
from typing import ParamSpec, TypeVar

from musrenbang.domain import values
from musrenbang.domain.errors import N_, Message, ValidationFailed

P = ParamSpec("P")
T = TypeVar("T")

MIN_YEAR, MAX_YEAR = 2000, 2100
"""RKPD years (and the dates of forums and kick-offs)."""
MAX_RUPIAH = 100 * 10**12
"""Rp 100 triliun: above any kabupaten or kota's whole budget, and ninety thousand such amounts still add
up within a `bigint`. Every amount of money in an event is a whole number of rupiah up to this."""
MAX_QUANTITY_DIGITS = 15
"""Volumes, targets and other quantities: at most this many digits before the decimal mark."""
MAX_COUNT = 1_000_000_000
"""Counts and points given by people (ballot points, thresholds): well inside an `integer`."""
MAX_ITEMS = 100_000
"""Entries in one list of an event (an agenda, delegates registered at once, criteria marks)."""

NAME, TITLE, LONG_TITLE, REASON, LONG_TEXT = 200, 300, 500, 1000, 5000
"""Text lengths: a person's name or a place; a title; an official nomenclature name; a reason or note;
a free description."""
CODE = 100
"""Identifiers and codes typed or generated (delegate ids, item ids, agency codes)."""

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_INVISIBLE = re.compile("[\u034f\u115f\u1160\u17b4\u17b5\u180b-\u180d\u180f\u2065\u2800\u3164\ufe00-\ufe0f\uffa0"
                        "\ufff0-\ufff8\U000e0000-\U000e0fff]")
"""What shows as nothing but is no format character (Cf): Unicode's Default_Ignorable_Code_Point
(DerivedCoreProperties.txt) less its Cf members, and U+2800 BRAILLE PATTERN BLANK (see `clean_text`)."""
_REGION = re.compile(r"[0-9]{2}(\.[0-9]{2}(\.[0-9]{2}(\.[0-9]{4})?)?)?")  # ASCII: \d takes ٣٢ too
_IDENTIFIER = re.compile(r"[A-Za-z0-9._-]+")


def clean_text(value: str, *, max_length: int, multiline: bool = False) -> str:
    """`value` without invisible characters, trimmed (single-line texts with runs of spaces collapsed),
    refused if it carries NUL, control characters or unpaired surrogates, or is then longer than
    `max_length` characters.

    Format characters (Unicode category Cf) are dropped before anything is counted: zero-width spaces and
    joiners, the byte-order mark, the word joiner, soft hyphens, the Mongolian vowel separator, and the
    bidirectional embeddings, overrides and isolates (U+202A-U+202E, U+2066-U+2069) that would reorder the
    text shown beside a title or a name. Indonesian text needs none of them, so a field of nothing else is
    empty (and refused where it is required); an emoji joined with U+200D falls apart into its parts, still
    legible.

        >>> clean_text("\u200b\u2060\ufeff", max_length=20), clean_text("Jalan\u202e rusak\u200b", max_length=20)
        ('', 'Jalan rusak')

    So are the characters that show as nothing yet are no format characters (`_INVISIBLE`): the rest of
    Unicode's Default_Ignorable_Code_Point list — the Hangul fillers U+115F, U+1160, U+3164 and U+FFA0
    (letters, Lo, that stand for a missing jamo and are drawn blank: the well-known way to make a name or
    a title "of nothing" that passes a test for empty), the combining grapheme joiner, the Khmer inherent
    vowels, the Mongolian free variation selectors and the variation selectors (combining marks, Mn; an
    emoji loses only its colour presentation), and the code points kept for more of them — and U+2800
    BRAILLE PATTERN BLANK (a symbol, So, drawn as an empty cell: used the same way, and Indonesian text
    written in Latin letters has no braille). What is left of a text is what a reader can see.

        >>> clean_text("\u3164\u115f\u1160\uffa0\u2800", max_length=20), clean_text("Jalan\u3164 rusak", max_length=20)
        ('', 'Jalan rusak')
    """
    if not isinstance(value, str):
        raise ValueError(N_("isian tidak sah"))
    categories = [unicodedata.category(c) for c in value]
    if "\x00" in value or "Cs" in categories:
        raise ValueError(N_("berisi karakter yang tidak diizinkan"))
    if "Cf" in categories:
        value = "".join(c for c, category in zip(value, categories, strict=True) if category != "Cf")
    value = _INVISIBLE.sub("", value)
    value = value.replace("\r\n", "\n").strip()
    # Before collapsing spaces: Python counts some control characters (\x1c-\x1f) as white space.
    if _CONTROL.search(value):
        raise ValueError(N_("berisi karakter yang tidak diizinkan"))
    if not multiline:
        value = re.sub(r"\s+", " ", value)
    if len(value) > max_length:
        raise ValueError(Message(N_("terlalu panjang: paling banyak %(max)d huruf"), max=max_length))
    if _stacked_marks(value) > MAX_MARKS:
        raise ValueError(Message(N_("tanda diakritik bertumpuk: paling banyak %(max)d pada satu"
                                    " huruf"), max=MAX_MARKS))  # fmt: skip
    return value


MAX_MARKS = 4
"""Combining marks one letter may carry: a Vietnamese or Arabic letter needs two or three; a title of "a"
and 149 of them is drawn over the lines around it (so-called Zalgo text)."""


def _stacked_marks(value: str) -> int:
    """The longest run of combining marks (Unicode Mn, Me) in `value`."""
    longest = run = 0
    for c in value:
        run = run + 1 if unicodedata.category(c) in ("Mn", "Me") else 0
        longest = max(longest, run)
    return longest


def whole(value: int, low: int, high: int) -> int:
    """An integer within [low, high] (bool is not an integer here)."""
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ValueError(Message(N_("harus bilangan bulat antara %(low)s dan %(high)s"), low=values.grouped(low),
                                 high=values.grouped(high)))  # fmt: skip
    return value


def rupiah(value: int, *, high: int = MAX_RUPIAH, zero: bool = False) -> int:
    """A whole, positive amount of rupiah up to `high` (zero allowed when `zero`)."""
    if isinstance(value, bool) or not isinstance(value, int) or not (0 if zero else 1) <= value <= high:
        raise ValueError(Message(N_("jumlah rupiah harus lebih dari nol dan paling banyak Rp %(max)s"),
                                 max=values.grouped(high)))  # fmt: skip
    return value


def year(value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not MIN_YEAR <= value <= MAX_YEAR:
        raise ValueError(Message(N_("tahun harus antara %(low)d dan %(high)d"), low=MIN_YEAR, high=MAX_YEAR))
    return value


def date(value: dt.date | None) -> dt.date | None:
    if value is not None and not MIN_YEAR - 1 <= value.year <= MAX_YEAR:
        raise ValueError(Message(N_("tanggal harus antara tahun %(low)d dan %(high)d"), low=MIN_YEAR - 1,
                                 high=MAX_YEAR))  # fmt: skip
    return value


def clock_time(value: dt.time | None) -> dt.time | None:
    """A meeting's starting time as a wall clock shows it in the city: hours and minutes, no time zone (the
    city's own, as its dates are)."""
    if value is not None and (value.tzinfo is not None or value.second or value.microsecond):
        raise ValueError(N_("tulis jam mulai dengan jam dan menit, misalnya 09:00"))
    return value


def region_code(value: str) -> str:
    """A Kemendagri region code with dots: 32, 32.75, 32.75.01, 32.75.01.1001."""
    if not isinstance(value, str) or not _REGION.fullmatch(value):
        raise ValueError(N_("kode wilayah tidak dikenal"))
    return value


def identifier(value: str, *, max_length: int = CODE) -> str:
    """Letters, digits, dot, underscore and dash; 1 to `max_length` characters."""
    if not isinstance(value, str) or not 1 <= len(value) <= max_length or not _IDENTIFIER.fullmatch(value):
        raise ValueError(Message(N_("hanya huruf, angka, titik, garis bawah dan tanda hubung; paling banyak"
                                    " %(max)d"), max=max_length))  # fmt: skip
    return value


def quantity(text: str, *, high: Decimal = Decimal(10) ** MAX_QUANTITY_DIGITS) -> str:
    """A positive quantity as events carry it: a canonical decimal string ("150", "2.5"), three decimals
    at most, up to `high`."""
    value = values.parse_decimal(text, places=3) if isinstance(text, str) else None
    if value != text or not Decimal(0) < Decimal(value) < high:
        raise ValueError(N_("isi angka lebih dari nol, paling banyak tiga angka di belakang koma"))
    return value


class Checks:
    """Checks of one command's fields, collecting every problem (field -> message) before refusing:

        checks = Checks()
        title = checks.text("title", command.title, TITLE, required=True)
        checks.done()  # raises ValidationFailed listing every field that was wrong
    """

    def __init__(self) -> None:
        self.errors: dict[str, str] = {}

    def text(self, field: str, value: str, max_length: int, *, required: bool = False, multiline: bool = False
             ) -> str:  # fmt: skip
        try:
            cleaned = clean_text(value, max_length=max_length, multiline=multiline)
        except ValueError as exc:
            self.fail(field, exc.args[0])
            return ""
        if required and not cleaned:
            self.fail(field, N_("wajib diisi"))
        return cleaned

    def check(self, field: str, check: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T | None:
        """`check(*args, **kwargs)`, its ValueError recorded against `field` (then None)."""
        try:
            return check(*args, **kwargs)
        except ValueError as exc:
            self.fail(field, exc.args[0])
            return None

    def fail(self, field: str, message: str) -> None:
        self.errors.setdefault(field, message)

    def done(self) -> None:
        if self.errors:
            raise ValidationFailed(self.errors)
