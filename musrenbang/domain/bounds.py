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
_PICTOGRAPHIC_RANGES = """
    00A9 00AE 203C 2049 2122 2139 2194-2199 21A9-21AA 231A-231B 2328 23CF 23E9-23F3 23F8-23FA 24C2 25AA-25AB 25B6
    25C0 25FB-25FE 2600-2604 260E 2611 2614-2615 2618 261D 2620 2622-2623 2626 262A 262E-262F 2638-263A 2640 2642
    2648-2653 265F-2660 2663 2665-2666 2668 267B 267E-267F 2692-2697 2699 269B-269C 26A0-26A1 26A7 26AA-26AB
    26B0-26B1 26BD-26BE 26C4-26C5 26C8 26CE-26CF 26D1 26D3-26D4 26E9-26EA 26F0-26F5 26F7-26FA 26FD 2702 2705
    2708-270D 270F 2712 2714 2716 271D 2721 2728 2733-2734 2744 2747 274C 274E 2753-2755 2757 2763-2764 2795-2797
    27A1 27B0 27BF 2934-2935 2B05-2B07 2B1B-2B1C 2B50 2B55 3030 303D 3297 3299 1F004 1F02C-1F02F 1F094-1F09F
    1F0AF-1F0B0 1F0C0 1F0CF-1F0D0 1F0F6-1F0FF 1F170-1F171 1F17E-1F17F 1F18E 1F191-1F19A 1F1AE-1F1E5 1F201-1F20F
    1F21A 1F22F 1F232-1F23A 1F23C-1F23F 1F249-1F25F 1F266-1F321 1F324-1F393 1F396-1F397 1F399-1F39B 1F39E-1F3F0
    1F3F3-1F3F5 1F3F7-1F3FA 1F400-1F4FD 1F4FF-1F53D 1F549-1F54E 1F550-1F567 1F56F-1F570 1F573-1F57A 1F587
    1F58A-1F58D 1F590 1F595-1F596 1F5A4-1F5A5 1F5A8 1F5B1-1F5B2 1F5BC 1F5C2-1F5C4 1F5D1-1F5D3 1F5DC-1F5DE 1F5E1
    1F5E3 1F5E8 1F5EF 1F5F3 1F5FA-1F64F 1F680-1F6C5 1F6CB-1F6D2 1F6D5-1F6E5 1F6E9 1F6EB-1F6F0 1F6F3-1F6FF
    1F7DA-1F7FF 1F80C-1F80F 1F848-1F84F 1F85A-1F85F 1F888-1F88F 1F8AE-1F8AF 1F8BC-1F8BF 1F8C2-1F8CF 1F8D9-1F8FF
    1F90C-1F93A 1F93C-1F945 1F947-1F9FF 1FA58-1FA5F 1FA6E-1FAFF 1FC00-1FFFD
"""
"""Unicode's Extended_Pictographic property (what can be an emoji, or be part of one), Unicode 17.0:
emoji/emoji-data.txt (https://www.unicode.org/Public/17.0.0/ucd/emoji/emoji-data.txt), its lines joined
where their ranges meet. It holds the code points kept for emoji yet to come (1FC00-1FFFD, and gaps
between today's emoji), so an emoji of a later Unicode version is one here too. Python's `unicodedata`
has no such property (and is Unicode 14.0 on Python 3.11); the skin tones U+1F3FB-U+1F3FF are no members
(Emoji_Modifier), nor are the regional indicators of the country flags, nor the keycap bases # * 0-9.
tests/domain/test_emoji_s26.py checks the table against the `regex` module's \\p{Extended_Pictographic}
where that module is installed (it is no dependency)."""
_PICTOGRAPHIC = "[" + "".join("-".join(re.escape(chr(int(end, 16))) for end in item.split("-"))
                              for item in _PICTOGRAPHIC_RANGES.split()) + "]"  # fmt: skip
_SKIN_TONE = "[\U0001f3fb-\U0001f3ff]"
_GLUE = re.compile("[\u200d\ufe0e\ufe0f\U000e007f]")
"""Where an emoji may be held together: a joiner, a variation selector, a CANCEL TAG (the end of a flag's
tags)."""
_JOINER = re.compile(f"\u200d(?={_PICTOGRAPHIC})(?:(?<={_PICTOGRAPHIC}.)|(?<={_PICTOGRAPHIC}\ufe0f.)"
                     f"|(?<={_PICTOGRAPHIC}{_SKIN_TONE}.)|(?<={_PICTOGRAPHIC}\ufe0f{_SKIN_TONE}.)"
                     f"|(?<={_PICTOGRAPHIC}{_SKIN_TONE}\ufe0f.))")  # fmt: skip
"""A joiner that joins: before an emoji, and after one (perhaps in its emoji presentation and/or with a
skin tone). Found from the joiner (a lookbehind is of one length)."""
_SELECTOR = re.compile(f"[\ufe0e\ufe0f](?:(?<={_PICTOGRAPHIC}.)|(?<=[#*0-9].)(?=\u20e3))")
"""A variation selector right after an emoji, or in a keycap (# * 0-9, the selector, U+20E3 COMBINING
ENCLOSING KEYCAP): one, not a run of them."""
_EMOJI = re.compile(_PICTOGRAPHIC)
"""One character of `_PICTOGRAPHIC_RANGES` (what the tests check the table through)."""
_FLAG_TAGS = re.compile("\U0001f3f4([\U000e0020-\U000e007e]+)\U000e007f")
_TAGGED_FLAGS = frozenset({"gbeng", "gbsct", "gbwls"})
"""The flags spelt with tags that Unicode recommends (RGI_Emoji_Tag_Sequence, emoji-sequences.txt): England,
Scotland, Wales. Other tags after U+1F3F4 are dropped: a tag is an invisible copy of an ASCII character, so
kept anywhere else they would carry text no reader sees."""


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
    empty (and refused where it is required).

        >>> clean_text("\u200b\u2060\ufeff", max_length=20), clean_text("Jalan\u202e rusak\u200b", max_length=20)
        ('', 'Jalan rusak')

    So are the characters that show as nothing yet are no format characters (`_INVISIBLE`): the rest of
    Unicode's Default_Ignorable_Code_Point list — the Hangul fillers U+115F, U+1160, U+3164 and U+FFA0
    (letters, Lo, that stand for a missing jamo and are drawn blank: the well-known way to make a name or
    a title "of nothing" that passes a test for empty), the combining grapheme joiner, the Khmer inherent
    vowels, the Mongolian free variation selectors and the variation selectors (combining marks, Mn), and
    the code points kept for more of them — and U+2800 BRAILLE PATTERN BLANK (a symbol, So, drawn as an
    empty cell: used the same way, and Indonesian text written in Latin letters has no braille). What is
    left of a text is what a reader can see.

        >>> clean_text("\u3164\u115f\u1160\uffa0\u2800", max_length=20), clean_text("Jalan\u3164 rusak", max_length=20)
        ('', 'Jalan rusak')

    Only what holds an emoji together is kept (`_emoji_glue`), as a resident's phone wrote it, so that it is
    not shown as its parts: U+200D ZERO WIDTH JOINER between two emoji (the family U+1F468 U+200D U+1F469
    U+200D U+1F467, a profession, the rainbow flag U+1F3F3 U+FE0F U+200D U+1F308), a variation selector
    U+FE0F or U+FE0E right after a character that can be shown as an emoji (U+2764 U+FE0F, a red heart; a
    keycap), and the tags of the flags of England, Scotland and Wales. Each of them beside a visible emoji,
    they can neither hide text nor make a field "of nothing"; anywhere else (between letters, doubled,
    alone) they are dropped as before. Kept, they are counted in the length.

        >>> print(ascii(clean_text("Keluarga \U0001f468\u200d\U0001f469\u200d\U0001f467", max_length=20)))
        'Keluarga \\U0001f468\\u200d\\U0001f469\\u200d\\U0001f467'
        >>> print(ascii(clean_text("a\u200db \u2764\ufe0f\ufe0f \u200d\U0001f525 x\ufe0f", max_length=20)))
        'ab \\u2764\\ufe0f \\U0001f525 x'
    """
    if not isinstance(value, str):
        raise ValueError(N_("isian tidak sah"))
    categories = [unicodedata.category(c) for c in value]
    if "\x00" in value or "Cs" in categories:
        raise ValueError(N_("berisi karakter yang tidak diizinkan"))
    if _GLUE.search(value):  # what lies between the glue that holds an emoji together, cleaned
        kept, start = [], 0
        for i in _emoji_glue(value):
            kept += [_without_invisible(value[start:i], categories[start:i]), value[i]]
            start = i + 1
        value = "".join(kept) + _without_invisible(value[start:], categories[start:])
    else:
        value = _without_invisible(value, categories)
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
    """The longest run of combining marks (Unicode Mn, Me) in `value`, less the variation selectors an emoji
    keeps (Mn too, but drawn as nothing)."""
    longest = run = 0
    for c in value:
        run = run + 1 if unicodedata.category(c) in ("Mn", "Me") and c not in "\ufe0e\ufe0f" else 0
        longest = max(longest, run)
    return longest


def _emoji_glue(value: str) -> list[int]:
    """The positions in `value`, in order, of the joiners, variation selectors and tags that hold an emoji
    together (see `clean_text`), each judged by its neighbours in `value` as it came:

    - U+200D ZERO WIDTH JOINER between two emoji (`_PICTOGRAPHIC`), the first perhaps followed by U+FE0F
      and/or a skin tone (`_JOINER`), as in the health worker U+1F469 U+1F3FD U+200D U+2695 U+FE0F;
    - a variation selector U+FE0F or U+FE0E right after an emoji, or in a keycap (`_SELECTOR`);
    - the tags from U+1F3F4 WAVING BLACK FLAG to U+E007F CANCEL TAG when they spell one of `_TAGGED_FLAGS`.

        >>> _emoji_glue("\U0001f468\u200d\U0001f469 a\u200db \u200d\u200d \u2764\ufe0f\ufe0f 1\ufe0f\u20e3")
        [1, 12, 16]
    """
    glue = [joiner.start() for joiner in _JOINER.finditer(value)]
    glue += [selector.start() for selector in _SELECTOR.finditer(value)]
    for flag in _FLAG_TAGS.finditer(value):
        if "".join(chr(ord(tag) - 0xE0000) for tag in flag.group(1)) in _TAGGED_FLAGS:
            glue += range(flag.start() + 1, flag.end())
    return sorted(glue)


def _without_invisible(value: str, categories: list[str]) -> str:
    """`value` without format characters (`categories` are its characters' categories) and `_INVISIBLE`."""
    if "Cf" in categories:
        value = "".join(c for c, category in zip(value, categories, strict=True) if category != "Cf")
    return _INVISIBLE.sub("", value)


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
