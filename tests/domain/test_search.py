"""Search keys: names as people type them find the names as the Kemendagri table spells them."""

from __future__ import annotations

import pytest

from musrenbang.domain.search import like_pattern, search_key


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("pondok gede", "Pondokgede"),
        ("PONDOK-GEDE", "Pondokgede"),
        ("  pondok.gede ", "Pondokgede"),
        ("jati bening baru", "Jatibening Baru"),
        ("Tjikini", "Cikini"),
        ("Soekarno Hatta", "Sukarno-Hatta"),
        ("Djatinegara", "Jatinegara"),
        ("Jogjakarta", "Yogyakarta"),
        ("Tjilatjap", "Cilacap"),
        ("Achmad", "Akhmad"),
        ("Sjahrir", "Syahrir"),
        ("Njai", "Nyai"),
        ("RW 05", "rw05"),
    ],
)
def test_spellings_people_type_meet_the_stored_name(typed: str, stored: str) -> None:
    assert search_key(typed) == search_key(stored)


@pytest.mark.parametrize(("a", "b"), [("Jatiasih", "Jatisampurna"), ("Bekasi Barat", "Bekasi Timur"),
                                       ("Cikini", "Kikini")])  # fmt: skip
def test_different_names_stay_different(a: str, b: str) -> None:
    assert search_key(a) != search_key(b)


def test_a_key_keeps_only_ascii_letters_and_digits() -> None:
    assert search_key("Jl. Melati №5, RT 03/RW 05 — café") == "ylmelati5rt03rw05caf"


def test_the_pattern_finds_a_part_of_a_name() -> None:
    assert like_pattern("gede") == "%gede%"
    assert like_pattern("Pondok Gede") == "%pondokgede%"


@pytest.mark.parametrize("typed", ["", "   ", "%_\\", "—"])
def test_nothing_searchable_is_no_pattern(typed: str) -> None:
    assert like_pattern(typed) is None


def test_a_long_paste_is_cut() -> None:
    pattern = like_pattern("a" * 10_000)
    assert pattern is not None and len(pattern) == 62
