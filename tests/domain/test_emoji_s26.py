"""An emoji a resident types stays whole: the zero width joiner, the variation selectors and a flag's tags are
kept where they hold an emoji together (bounds.clean_text), and dropped everywhere else, as before."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from musrenbang.domain import bounds

ZWJ, VS16, VS15, CANCEL = "\u200d", "\ufe0f", "\ufe0e", "\U000e007f"
MAN, WOMAN, GIRL, ADULT = "\U0001f468", "\U0001f469", "\U0001f467", "\U0001f9d1"
MEDIUM, LIGHT, DARK = "\U0001f3fd", "\U0001f3fb", "\U0001f3ff"  # skin tones (emoji modifiers)
BLACK_FLAG, WHITE_FLAG = "\U0001f3f4", "\U0001f3f3"
KEYCAP = "\u20e3"
INDONESIA = "\U0001f1ee\U0001f1e9"  # two regional indicators: a country's flag, no Extended_Pictographic


def tags(text: str) -> str:
    """`text` (ASCII) spelt in tag characters, as a flag's subdivision is."""
    return "".join(chr(0xE0000 + ord(c)) for c in text)


def cleaned(text: str, max_length: int = 100) -> str:
    return bounds.clean_text(text, max_length=max_length)


WHOLE = {
    "family": MAN + ZWJ + WOMAN + ZWJ + GIRL,
    "health worker, medium skin tone": WOMAN + MEDIUM + ZWJ + "\u2695" + VS16,
    "technologist, skin tone and VS16 either way": WOMAN + VS16 + MEDIUM + ZWJ + "\U0001f4bb",
    "rainbow flag": WHITE_FLAG + VS16 + ZWJ + "\U0001f308",
    "pirate flag": BLACK_FLAG + ZWJ + "\u2620" + VS16,
    "heart on fire": "\u2764" + VS16 + ZWJ + "\U0001f525",
    "kiss": WOMAN + ZWJ + "\u2764" + VS16 + ZWJ + "\U0001f48b" + ZWJ + MAN,
    "people holding hands": ADULT + LIGHT + ZWJ + "\U0001f91d" + ZWJ + ADULT + DARK,
    "polar bear": "\U0001f43b" + ZWJ + "\u2744" + VS16,
    "red heart": "\u2764" + VS16,
    "telephone as text": "\u260e" + VS15,
    "keycaps": "1" + VS16 + KEYCAP + " #" + VS16 + KEYCAP + " *" + VS15 + KEYCAP,
    "Scotland": BLACK_FLAG + tags("gbsct") + CANCEL,
    "England": BLACK_FLAG + tags("gbeng") + CANCEL,
    "Wales": BLACK_FLAG + tags("gbwls") + CANCEL,
}


@pytest.mark.parametrize("emoji", WHOLE.values(), ids=WHOLE.keys())
def test_an_emoji_sequence_is_kept_whole(emoji: str) -> None:
    assert cleaned(emoji) == emoji
    assert cleaned(f"  Taman {emoji}  bermain ") == f"Taman {emoji} bermain"
    assert cleaned(f"Baris {emoji}\r\n{emoji}", max_length=100) == f"Baris {emoji} {emoji}"


def test_the_family_emoji_of_the_review_is_one_emoji_again() -> None:
    assert cleaned("Keluarga \U0001f468\u200d\U0001f469\u200d\U0001f467 senang") == (
        "Keluarga \U0001f468\u200d\U0001f469\u200d\U0001f467 senang")  # fmt: skip
    assert bounds.clean_text("Taman \u2764\ufe0f", max_length=40, multiline=True) == "Taman \u2764\ufe0f"


JOINER_ELSEWHERE = {
    "between letters": ("a" + ZWJ + "b", "ab"),
    "at the start": (ZWJ + MAN, MAN),
    "at the end": (MAN + ZWJ, MAN),
    "doubled": (MAN + ZWJ + ZWJ + WOMAN, MAN + WOMAN),
    "alone": (ZWJ, ""),
    "emoji then letter": (MAN + ZWJ + "a", MAN + "a"),
    "letter then emoji": ("a" + ZWJ + WOMAN, "a" + WOMAN),
    "after a skin tone alone": (MEDIUM + ZWJ + WOMAN, MEDIUM + WOMAN),
    "between country flags (regional indicators)": (INDONESIA + ZWJ + INDONESIA, INDONESIA + INDONESIA),
    "behind a zero width space": (MAN + "\u200b" + ZWJ + WOMAN, MAN + WOMAN),
    "before a variation selector": (MAN + ZWJ + VS16 + WOMAN, MAN + WOMAN),
    "between digits": ("1" + ZWJ + "2", "12"),
    "beside a space": (MAN + ZWJ + " " + WOMAN, MAN + " " + WOMAN),
    "in Devanagari (as before)": ("\u0915\u094d" + ZWJ + "\u0937", "\u0915\u094d\u0937"),
}


@pytest.mark.parametrize(("text", "expected"), JOINER_ELSEWHERE.values(), ids=JOINER_ELSEWHERE.keys())
def test_a_joiner_that_joins_no_two_emoji_is_dropped(text: str, expected: str) -> None:
    assert cleaned(text) == expected


SELECTOR_ELSEWHERE = {
    "alone": (VS16, ""),
    "both alone": (VS16 + VS15, ""),
    "after a letter": ("Jalan" + VS16 + " rusak" + VS15, "Jalan rusak"),
    "repeated": ("\u2764" + VS16 + VS16 + VS16, "\u2764" + VS16),
    "one of each": ("\u2764" + VS16 + VS15, "\u2764" + VS16),
    "after a digit that is no keycap": ("Rp 5" + VS16 + "00", "Rp 500"),
    "after a joiner": (MAN + ZWJ + VS16, MAN),
    "after a skin tone": (WOMAN + MEDIUM + VS16, WOMAN + MEDIUM),
    "after a space": ("\u2764 " + VS16 + "x", "\u2764 x"),
    "other variation selectors": ("\u2764\ufe00\ufe01 x\U000e0100", "\u2764 x"),
}


@pytest.mark.parametrize(("text", "expected"), SELECTOR_ELSEWHERE.values(), ids=SELECTOR_ELSEWHERE.keys())
def test_a_variation_selector_after_no_emoji_is_dropped(text: str, expected: str) -> None:
    assert cleaned(text) == expected


TAGS_ELSEWHERE = {
    "a message in tags": (BLACK_FLAG + tags("hide this") + CANCEL, BLACK_FLAG),
    "a flag Unicode does not recommend": (BLACK_FLAG + tags("usca") + CANCEL, BLACK_FLAG),
    "Scotland without its cancel tag": (BLACK_FLAG + tags("gbsct"), BLACK_FLAG),
    "Scotland's tags after a letter": ("a" + tags("gbsct") + CANCEL, "a"),
    "Scotland's tags after the white flag": (WHITE_FLAG + tags("gbsct") + CANCEL, WHITE_FLAG),
    "Scotland's tags alone": (tags("gbsct") + CANCEL, ""),
    "Scotland twice cancelled": (BLACK_FLAG + tags("gbsct") + CANCEL + CANCEL, BLACK_FLAG + tags("gbsct") + CANCEL),
    "a letter between flag and tags": (BLACK_FLAG + "a" + tags("gbsct") + CANCEL, BLACK_FLAG + "a"),
}


@pytest.mark.parametrize(("text", "expected"), TAGS_ELSEWHERE.values(), ids=TAGS_ELSEWHERE.keys())
def test_tags_that_spell_no_recommended_flag_are_dropped(text: str, expected: str) -> None:
    assert cleaned(text) == expected


@pytest.mark.parametrize("text", [ZWJ * 3, VS16 * 3, ZWJ + VS16 + ZWJ + VS15, f" {ZWJ} {VS16} ", CANCEL * 2,
                                  tags("gbsct") + CANCEL, "\u200b" + ZWJ + "\u2060" + VS16 + "\ufeff"])  # fmt: skip
@pytest.mark.parametrize("multiline", [False, True])
def test_a_field_of_only_joiners_and_selectors_is_still_empty(text: str, multiline: bool) -> None:
    assert bounds.clean_text(text, max_length=10, multiline=multiline) == ""
    checks = bounds.Checks()
    assert checks.text("title", text * 4, bounds.TITLE, required=True, multiline=multiline) == ""
    assert checks.errors == {"title": "wajib diisi"}


def test_what_is_kept_is_counted() -> None:
    family = WHOLE["family"]  # five code points: three people, two joiners
    assert cleaned(family + ZWJ * 20, max_length=5) == family
    with pytest.raises(ValueError, match="terlalu panjang"):
        cleaned(family, max_length=4)
    assert cleaned("a" + ZWJ + "b" + VS16 * 20, max_length=2) == "ab"  # what is dropped is not


def test_a_selector_kept_is_no_combining_mark_on_the_stack() -> None:
    marks = "\u0301" * bounds.MAX_MARKS
    assert cleaned("\u2764" + VS16 + marks) == "\u2764" + VS16 + marks  # as it was (the selector was dropped)
    with pytest.raises(ValueError, match="bertumpuk"):
        cleaned("\u2764" + VS16 + marks + "\u0301")


def test_the_glue_is_found_where_it_holds_an_emoji() -> None:
    text = MAN + ZWJ + WOMAN + " a" + ZWJ + "b " + ZWJ + ZWJ + " \u2764" + VS16 + VS16 + " 1" + VS16 + KEYCAP
    assert bounds._emoji_glue(text) == [1, 12, 16]
    flag = BLACK_FLAG + tags("gbsct") + CANCEL
    assert bounds._emoji_glue(f"{flag} {flag}") == [1, 2, 3, 4, 5, 6, 9, 10, 11, 12, 13, 14]


# Table: Unicode's Extended_Pictographic (emoji-data.txt).

SOME_PICTOGRAPHIC = ["\u00a9", "\u00ae", "\u203c", "\u2122", "\u2194", "\u231a", "\u2620", "\u2640", "\u2695",
                     "\u26a7", "\u2764", "\u2b50", "\u3030", "\u3299", "\U0001f004", "\U0001f308", "\U0001f3f3",
                     "\U0001f3f4", "\U0001f468", "\U0001f4bb", "\U0001f525", "\U0001f600", "\U0001f91d",
                     "\U0001f9d1", "\U0001fa75", "\U0001faf8", "\U0001fc00", "\U0001fffd"]  # fmt: skip
"""Emoji of every age, and code points kept for emoji to come."""
NOT_PICTOGRAPHIC = ["a", "1", "#", "*", " ", "\u00a0", "\u2190", "\u2664", "\u3164", "\u20e3",
                    "\U0001f1ee", "\U0001f3fb", "\U0001f3ff", "\U0001f000", "\U0001fffe", "\U000e0067", ZWJ,
                    VS16, "\u0915"]  # fmt: skip
"""Letters, digits and the keycap bases, arrows and a card suit that are no emoji, skin tones, regional
indicators, tags, a mahjong tile (no emoji), the noncharacter after the last code point kept for emoji."""


def test_the_table_holds_emoji_and_nothing_else() -> None:
    emoji = [c for c in SOME_PICTOGRAPHIC if bounds._EMOJI.fullmatch(c)]
    assert emoji == SOME_PICTOGRAPHIC
    assert [c for c in NOT_PICTOGRAPHIC if bounds._EMOJI.fullmatch(c)] == []


def test_the_table_is_unicodes_extended_pictographic() -> None:
    """Against an independent reading of emoji-data.txt: the `regex` module's property (no dependency of
    the project, so this check runs only where it is installed)."""
    regex = pytest.importorskip("regex")
    expected = regex.compile(r"\p{Extended_Pictographic}")
    characters = (chr(cp) for cp in range(0x110000) if not 0xD800 <= cp <= 0xDFFF)
    differ = [ascii(c) for c in characters if bool(expected.match(c)) != bool(bounds._EMOJI.match(c))]
    assert differ == []


def test_the_tables_own_text_is_well_formed() -> None:
    edges = [int(end, 16) for item in bounds._PICTOGRAPHIC_RANGES.split() for end in item.split("-")]
    starts_ends = [tuple(int(end, 16) for end in (item.split("-") * 2)[:2])
                   for item in bounds._PICTOGRAPHIC_RANGES.split()]  # fmt: skip
    assert all(low <= high for low, high in starts_ends)
    assert all(a[1] + 1 < b[0] for a, b in zip(starts_ends, starts_ends[1:], strict=False))  # sorted, apart
    assert all(unicodedata.category(chr(cp)) not in ("Cf", "Cc", "Zs", "Cs") for cp in edges)


# Properties

PARTS = [MAN, WOMAN, "\u2764", "\u2695", BLACK_FLAG, WHITE_FLAG, "\U0001f308", MEDIUM, DARK, ZWJ, ZWJ, VS16,
         VS16, VS15, KEYCAP, "1", "#", "a", " ", "\n", "\u200b", "\u2060", "\u0301", "\U0001f1ee", CANCEL,
         *tags("gbsctenwlh ")]  # fmt: skip
emoji_texts = st.text(alphabet=st.sampled_from(PARTS), max_size=30) | st.text(max_size=20)


def _after_emoji(text: str, i: int) -> bool:
    """Whether what comes before position `i` is an emoji, perhaps with U+FE0F and/or a skin tone."""
    j = i
    for allowed in ((VS16,), ("\U0001f3fb", "\U0001f3fc", MEDIUM, "\U0001f3fe", DARK), (VS16,)):
        if j and text[j - 1] in allowed:
            j -= 1
    return j > 0 and bool(bounds._EMOJI.fullmatch(text[j - 1]))


@given(emoji_texts)
def test_what_is_kept_holds_an_emoji_together_and_nothing_else(text: str) -> None:
    try:
        out = bounds.clean_text(text, max_length=10**6, multiline=True)
    except ValueError:  # control characters, surrogates, a stack of marks
        return
    for i, c in enumerate(out):
        if c == ZWJ:
            assert _after_emoji(out, i) and i + 1 < len(out) and bounds._EMOJI.fullmatch(out[i + 1]), ascii(out)
        elif c in (VS16, VS15):
            keycap = out[i - 1 : i] in ("#", "*", *"0123456789") and out[i + 1 : i + 2] == KEYCAP
            assert i and (bounds._EMOJI.fullmatch(out[i - 1]) or keycap), ascii(out)
            assert out[i + 1 : i + 2] not in (VS16, VS15), ascii(out)
        elif 0xE0000 <= ord(c) <= 0xE0FFF:
            start = out.rfind(BLACK_FLAG, 0, i)
            end = out.find(CANCEL, i)
            assert start >= 0 and end >= 0, ascii(out)
            assert out[start : end + 1] in WHOLE.values(), ascii(out)
    assert bounds.clean_text(out, max_length=10**6, multiline=True) == out  # cleaning twice changes nothing


def _without_glue(text: str) -> str:
    return "".join(c for c in text if c not in (ZWJ, VS16, VS15) and not 0xE0000 <= ord(c) <= 0xE0FFF)


@given(emoji_texts, st.booleans())
def test_nothing_else_changes(text: str, multiline: bool) -> None:
    """Less the joiners, selectors and tags it keeps, a text is cleaned as it was before they were kept (as a
    text without any of them still is): the same letters, spaces, refusals."""

    def outcome(t: str) -> str:
        try:
            return bounds.clean_text(t, max_length=10**6, multiline=multiline)
        except ValueError as refused:
            return f"refused: {refused.args[0]}"

    assert _without_glue(outcome(text)) == outcome(_without_glue(text))


@given(emoji_texts, st.sampled_from(list(WHOLE.values())), emoji_texts)
def test_an_emoji_stays_whole_whatever_surrounds_it(before: str, emoji: str, after: str) -> None:
    try:
        out = bounds.clean_text(f"{before} {emoji} {after}", max_length=10**6)
    except ValueError:  # control characters, surrogates, a stack of marks around it
        return
    assert f" {emoji} " in f" {out} ", ascii(out)
