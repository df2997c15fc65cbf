"""The bounds every text keeps before it becomes an event: invisible format characters are no text."""

from __future__ import annotations

import unicodedata

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from musrenbang.domain import bounds
from musrenbang.domain import proposal as rules
from musrenbang.domain.errors import ValidationFailed
from tests.domain.test_proposal import GOOD, KELURAHAN

INVISIBLE = ["\u200b", "\ufeff", "\u200c", "\u200d", "\u2060", "\u00ad", "\u200e", "\u200f", "\u061c"]
"""Zero-width space, byte-order mark, zero-width non-joiner and joiner, word joiner, soft hyphen, the
left-to-right and right-to-left marks, the Arabic letter mark."""
BIDI = ["\u202a", "\u202b", "\u202c", "\u202d", "\u202e", "\u2066", "\u2067", "\u2068", "\u2069"]
"""Embeddings, overrides and isolates: they reorder whatever is shown after them."""
BLANK = ["\u3164", "\u115f", "\u1160", "\uffa0", "\u2800"]
"""Drawn as nothing, yet no format characters: the Hangul fillers (letters, Lo) and the braille pattern
blank (a symbol, So), the usual way to make a name "of nothing"."""
IGNORABLE = ["\u034f", "\u17b4", "\u17b5", "\u180b", "\u180f", "\ufe0f", "\U000e0100", "\u2065", "\ufff0",
             "\U000e0fff"]  # fmt: skip
"""The rest of Unicode's default-ignorable code points that are no format characters: the combining grapheme
joiner, Khmer inherent vowels, Mongolian free variation selectors, variation selectors, and code points kept
for more of them."""


@pytest.mark.parametrize("char", INVISIBLE + BIDI + BLANK + IGNORABLE + ["\u180e"])
@pytest.mark.parametrize("multiline", [False, True])
def test_a_text_of_only_format_characters_is_empty(char: str, multiline: bool) -> None:
    assert bounds.clean_text(char * 3, max_length=10, multiline=multiline) == ""
    assert bounds.clean_text(f" {char} \u200b{char} ", max_length=10, multiline=multiline) == ""


@pytest.mark.parametrize("char", INVISIBLE + BIDI + BLANK)
def test_a_required_field_of_only_format_characters_is_refused_as_empty(char: str) -> None:
    checks = bounds.Checks()
    assert checks.text("chair", char * 5, bounds.NAME, required=True) == ""
    assert checks.errors == {"chair": "wajib diisi"}


def test_format_characters_are_dropped_from_what_is_kept() -> None:
    assert bounds.clean_text("\u202eJalan rusak\u202c di RW 05", max_length=40) == "Jalan rusak di RW 05"
    assert bounds.clean_text("Jalan\u200b \u200b rusak", max_length=40) == "Jalan rusak"  # then spaces collapse
    assert bounds.clean_text("\ufeffBaris satu\r\n\u2066baris dua\u2069", max_length=40,
                             multiline=True) == "Baris satu\nbaris dua"  # fmt: skip
    assert bounds.clean_text("Keluarga 👨\u200d👩\u200d👧", max_length=40) == "Keluarga 👨\u200d👩\u200d👧"  # one emoji
    assert bounds.clean_text("Jalan\u200d rusak\u200d", max_length=40) == "Jalan rusak"  # joining no emoji


def test_blank_letters_and_braille_blanks_are_dropped_from_what_is_kept() -> None:
    assert bounds.clean_text("\u3164Jalan\u2800rusak\uffa0", max_length=40) == "Jalanrusak"
    assert bounds.clean_text("Jalan \u3164 \u2800 rusak", max_length=40) == "Jalan rusak"
    assert bounds.clean_text("Taman \u2764\ufe0f", max_length=40) == "Taman \u2764\ufe0f"  # a red heart, kept
    assert bounds.clean_text("Taman\ufe0f \u2764\ufe0f\ufe0f", max_length=40) == "Taman \u2764\ufe0f"  # no other
    assert bounds.clean_text("\u1100\u1161", max_length=40) == "\u1100\u1161"  # Hangul jamo themselves are kept


def _seen(c: str) -> bool:
    """Whether a character shows as something (the specification, written apart from bounds.py): not white
    space, no format character, not a default-ignorable code point (Unicode's DerivedCoreProperties.txt),
    not the braille blank."""
    ignorable = (0x034F, 0x115F, 0x1160, 0x17B4, 0x17B5, 0x180B, 0x180C, 0x180D, 0x180F, 0x2065, 0x2800, 0x3164,
                 0xFFA0, *range(0xFE00, 0xFE10), *range(0xFFF0, 0xFFF9), *range(0xE0000, 0xE1000))  # fmt: skip
    return not c.isspace() and unicodedata.category(c) != "Cf" and ord(c) not in ignorable


@given(st.text(alphabet=st.sampled_from(BLANK + IGNORABLE + INVISIBLE + BIDI + [" ", "\u3000", "\n"]))
       | st.text(max_size=20))  # fmt: skip
def test_a_text_is_empty_exactly_when_nothing_in_it_shows(text: str) -> None:
    try:
        cleaned = bounds.clean_text(text, max_length=10**6, multiline=True)
    except ValueError:  # NUL, control characters, surrogates
        return
    assert (cleaned == "") == (not any(map(_seen, text)))
    # What holds an emoji together is kept beside it (tests/domain/test_emoji_s26.py: only there).
    glue = ("\u200d", "\ufe0e", "\ufe0f", *map(chr, range(0xE0020, 0xE0080)))
    assert all(_seen(c) or c.isspace() or c in glue for c in cleaned)


@pytest.mark.parametrize("field", ["title", "unit", "address"])
def test_a_proposal_field_of_only_blank_letters_is_missing(field: str) -> None:
    raw = msgspec.structs.replace(GOOD, **{field: "\u3164\u2800\uffa0 \u115f\u1160" * 4})
    with pytest.raises(ValidationFailed) as caught:
        rules.validate_content(raw, kelurahan=KELURAHAN, priority_programs=6)
    assert caught.value.errors == {field: "wajib diisi"}


def test_the_length_is_counted_without_format_characters() -> None:
    assert bounds.clean_text("x" * 10 + "\u200b" * 50, max_length=10) == "x" * 10
    with pytest.raises(ValueError, match="terlalu panjang"):
        bounds.clean_text("x" * 11 + "\u200b", max_length=10)


@pytest.mark.parametrize("text", ["\u200b\x00", "a\x00\u200b", "\u200b\x01", "\ud800\u200b"])
def test_nul_control_characters_and_surrogates_are_still_refused(text: str) -> None:
    with pytest.raises(ValueError, match="tidak diizinkan"):
        bounds.clean_text(text, max_length=10)


@pytest.mark.parametrize("field", ["title", "unit", "address", "problem", "solution"])
def test_a_proposal_field_of_only_invisible_characters_is_missing(field: str) -> None:
    raw = msgspec.structs.replace(GOOD, **{field: "\u200b\u200c\u200d\u2060\ufeff" * 4})
    with pytest.raises(ValidationFailed) as caught:
        rules.validate_content(raw, kelurahan=KELURAHAN, priority_programs=6)
    assert caught.value.errors == {field: "wajib diisi"}


def test_a_proposer_name_of_only_invisible_characters_is_missing() -> None:
    with pytest.raises(ValidationFailed) as caught:
        rules.validate_proposer("\u200b" * 10, "0812 3456 7890")
    assert set(caught.value.errors) == {"proposer_name"}


@pytest.mark.parametrize("code", ["٣٢.٧٥", "３２", "32.75.01.١٠٠١"])
def test_region_codes_are_ascii_digits(code: str) -> None:
    with pytest.raises(ValueError):
        bounds.region_code(code)


def test_letters_carry_a_few_marks_but_not_a_tower_of_them() -> None:
    """A title of "Perbaikan jalan" with 120 combining marks was accepted, and drawn over the lines around
    it on the kelurahan's page."""
    assert bounds.clean_text("Tiếng Việt, Hà́, مُحَمَّد", max_length=50) == "Tiếng Việt, Hà́, مُحَمَّد"
    assert bounds.clean_text("a" + "\u0301" * bounds.MAX_MARKS, max_length=50)
    for tower in ("Perbaikan jalan" + "\u0336\u0489\u0310" * 40, "a" + "\u0301" * (bounds.MAX_MARKS + 1)):
        with pytest.raises(ValueError) as refused:
            bounds.clean_text(tower, max_length=500)
        assert "bertumpuk" in str(refused.value.args[0])
