"""Values as people type them."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from musrenbang.domain import values


@pytest.mark.parametrize(
    ("typed", "rupiah"),
    [
        ("Rp 25.000.000", 25_000_000),
        ("25000000", 25_000_000),
        ("25 juta", 25_000_000),
        ("25 Juta", 25_000_000),
        ("2,5 jt", 2_500_000),
        ("500 ribu", 500_000),
        ("Rp25.000.000,-", 25_000_000),
        ("1,2 miliar", 1_200_000_000),
        ("25,000,000", 25_000_000),
        ("1.500 ribu", 1_500_000),
        (7_500_000, 7_500_000),
    ],
)
def test_rupiah_as_people_write_it(typed: str | int, rupiah: int) -> None:
    assert values.parse_rupiah(typed) == rupiah


@pytest.mark.parametrize("typed", ["", "abc", "-5", "25,50", "Rp", "2,5555555 juta", "1e9", ",00"])
def test_what_is_not_a_rupiah_amount_is_refused(typed: str) -> None:
    with pytest.raises(ValueError):
        values.parse_rupiah(typed)


@pytest.mark.parametrize("typed", ["Rp2.500.000,00", "2.500.000,00", "2500000,00", "Rp 2.500.000,00", "2,500,000.00",
                                   "2.500.000,0", "Rp2.500.000,00,-"])  # fmt: skip
def test_a_zero_sen_part_as_bank_slips_write_it_is_accepted(typed: str) -> None:
    assert values.parse_rupiah(typed) == 2_500_000


@pytest.mark.parametrize("typed", ["2.500.000,50", "2500000,05", "Rp 2.500.000,5", "2,500,000.99"])
def test_a_non_zero_sen_part_is_refused_saying_so(typed: str) -> None:
    with pytest.raises(ValueError, match="rupiah bulat, tanpa sen"):
        values.parse_rupiah(typed)


@pytest.mark.parametrize(
    ("typed", "canonical"),
    [("0812-3456-7890", "+6281234567890"), ("+62 812 3456 7890", "+6281234567890"), ("6281234567", "+6281234567")],
)
def test_phone_numbers_become_plus_62(typed: str, canonical: str) -> None:
    assert values.normalize_phone(typed) == canonical


@pytest.mark.parametrize(
    ("typed", "says"),
    [
        ("", "tulis nomor telepon"),
        ("12345", r"diawali 08 atau \+62"),
        ("+1 555 123 4567", r"diawali 08 atau \+62"),
        ("0081234567890", r"diawali 08 atau \+62"),
        ("08123", "terlalu pendek"),
        ("0812", "terlalu pendek"),
        ("+62", "terlalu pendek"),
        ("0812-3456-7890-1234", "terlalu panjang"),
        ("08abc", "hanya berisi angka"),
        ("0812-3456-789O", "hanya berisi angka"),
    ],
)
def test_a_bad_phone_number_is_refused_saying_what_is_wrong(typed: str, says: str) -> None:
    with pytest.raises(ValueError, match=says):
        values.normalize_phone(typed)


def test_tracking_codes_forgive_case_dashes_and_lookalikes() -> None:
    assert values.normalize_code("7kq2-m9xd") == "7KQ2M9XD"
    assert values.normalize_code(" 7KQ2 M9XD ") == "7KQ2M9XD"
    assert values.normalize_code("O1IL0000") == "01110000"
    # Pasted from a chat or typed on a phone: invisible marks, another dash, full-width letters; the API,
    # the lineage pages and carry-over links read codes here too, not only the tracking form.
    assert values.normalize_code("\u200f7kq2\u2013m9xd\u200b") == "7KQ2M9XD"
    assert values.normalize_code("\ufeff７ＫＱ２\u2212Ｍ９ＸＤ") == "7KQ2M9XD"
    for bad in ("", "7KQ2M9X", "7KQ2M9XDD", "7KQ2M9XU", "<script>", "7KQ2M9XD" + "\u200b" * 100 + "A"):
        with pytest.raises(ValueError):
            values.normalize_code(bad)


def test_codes_use_only_unambiguous_characters() -> None:
    import os

    for _ in range(200):
        code = values.code_from_bytes(os.urandom(8))
        assert len(code) == 8 and not set(code) & set("ILOU")
        assert values.normalize_code(code) == code


@pytest.mark.parametrize(("typed", "text"), [("2,5", "2.5"), (150, "150"), ("150.000", "150"), ("0.125", "0.125")])
def test_quantities_become_canonical_decimal_strings(typed: object, text: str) -> None:
    assert values.parse_decimal(typed, places=3) == text


@pytest.mark.parametrize("typed", ["abc", "NaN", "Infinity", "1.2345", "", "1e999999999", "-1e999999999",
                                   "1e-999999999"])  # fmt: skip
def test_bad_quantities_are_refused(typed: str) -> None:
    """A ValueError the field shows: "1e999999999" overflowed Decimal's context (a 500 for a coordinate)."""
    with pytest.raises(ValueError):
        values.parse_decimal(typed, places=3)


@pytest.mark.parametrize(("typed", "time"), [("09:00", dt.time(9)), ("9.30", dt.time(9, 30)),
                                             (" 13:15 ", dt.time(13, 15)), ("", None)])  # fmt: skip
def test_a_starting_time_as_people_write_it(typed: str, time: dt.time | None) -> None:
    assert values.parse_clock(typed) == time


@pytest.mark.parametrize("typed", ["25:00", "9", "09:60", "jam 9", "09:00:00", "٠٩:٠٠"])
def test_what_is_not_a_starting_time_is_refused(typed: str) -> None:
    with pytest.raises(ValueError, match="jam mulai"):
        values.parse_clock(typed)


# --- a dot groups thousands, in threes; it is never dropped, and digits are ASCII ------------------------


@pytest.mark.parametrize(
    ("typed", "rupiah"),
    [
        ("Rp 1.500", 1500),
        ("Rp. 1.000.000", 1_000_000),
        ("  25.000.000  ", 25_000_000),
        ("25 000 000", 25_000_000),
        ("1.000,-", 1000),
        ("1.5 juta", 1_500_000),  # with a multiplier, the one mark after the digits is the decimal mark
        ("1.500,5 juta", 1_500_500_000),
        ("2,500,000.00", 2_500_000),
    ],
)
def test_rupiah_grouped_by_dots_in_threes(typed: str, rupiah: int) -> None:
    assert values.parse_rupiah(typed) == rupiah


@pytest.mark.parametrize(
    "typed",
    [
        "32.75.12.1001",  # was Rp 3.275.121.001
        "0.0001",  # was Rp 1
        "1.5.0",  # was Rp 15
        "1.50.000",
        "1.0000",
        "12.34.567",
        "Rp 1..000",
        "1.000.",
        "2.500.000.00",  # a dot cannot both group thousands and mark sen
        "1.000 .000",
        "1.5.0 juta",
    ],
)
def test_a_dot_that_groups_no_thousands_is_refused_saying_so(typed: str) -> None:
    with pytest.raises(ValueError, match="titik hanya memisahkan ribuan"):
        values.parse_rupiah(typed)


@pytest.mark.parametrize(
    "typed",
    ["1.5", "Rp 1.5", "2500,000", "1,5,0", "٣٠٠", "Rp ٣٠٠.٠٠٠", "１２", "25.000 000", "1,000.000"],
)
def test_other_numbers_that_are_no_whole_rupiah_are_refused(typed: str) -> None:
    with pytest.raises(ValueError):
        values.parse_rupiah(typed)


@pytest.mark.parametrize("typed", ["٣٠٠", "１２", "1_000", "2,٥"])
def test_quantities_take_ascii_digits_only(typed: str) -> None:
    with pytest.raises(ValueError, match="tulis angka"):
        values.parse_decimal(typed, places=3)


# --- quantities as Indonesian writes them: a comma is the decimal mark, dots group thousands -------------


@pytest.mark.parametrize(
    ("typed", "text"),
    [
        ("1.500", "1500"),  # was 1.5
        ("1.500,5", "1500.5"),
        ("1.500.000", "1500000"),
        ("2,5", "2.5"),
        ("0,125", "0.125"),
        (" 150 ", "150"),
        ("12,50", "12.5"),
        (150, "150"),  # a JSON number is a number already
        (2.5, "2.5"),
    ],
)
def test_a_quantity_as_an_indonesian_writes_it(typed: str | int | float, text: str) -> None:
    assert values.parse_quantity(typed) == text


@pytest.mark.parametrize(("typed", "written"), [("12.5", "12,5"), ("0.125", "0,125"), ("1.5000", "1,5000")])
def test_a_decimal_point_is_refused_saying_to_write_a_comma(typed: str, written: str) -> None:
    with pytest.raises(ValueError, match=f"koma adalah tanda desimal.*tulis {written}$"):
        values.parse_quantity(typed)


@pytest.mark.parametrize("typed", ["1.50.000", "12.34.567", "1.000.", "1,000.5", "1.5.0"])
def test_a_dot_that_groups_no_thousands_in_a_quantity_is_refused_saying_so(typed: str) -> None:
    with pytest.raises(ValueError, match="titik hanya memisahkan ribuan"):
        values.parse_quantity(typed)


@pytest.mark.parametrize("typed", ["٣٠٠", "１２", "1_000", "2,٥", "1 500", "NaN", "1E+3", "", "satu"])
def test_what_is_no_quantity_is_refused(typed: str) -> None:
    with pytest.raises(ValueError, match="tulis angka"):
        values.parse_quantity(typed)


@pytest.mark.parametrize(("typed", "message"), [("1,2345", "terlalu banyak angka di belakang koma"),
                                                ("1.000.000.000.000.000", "angka terlalu besar")])  # fmt: skip
def test_a_quantity_keeps_its_bounds(typed: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        values.parse_quantity(typed)


def test_the_advice_for_a_dot_is_advice_that_is_taken() -> None:
    """Review s25: "1.23456" was told "tulis 1,23456", which is then refused for its places: the places are
    said first."""
    with pytest.raises(ValueError) as refused:
        values.parse_quantity("1.23456")
    assert str(refused.value.args[0]) == "terlalu banyak angka di belakang koma: paling banyak 3"
    with pytest.raises(ValueError, match="tulis 12,5"):
        values.parse_quantity("12.5")


def test_a_number_programs_send_is_read_with_a_decimal_point_and_a_stored_one_as_it_is() -> None:
    """The JSON API and the events write a decimal point; only forms are read the Indonesian way."""
    assert values.parse_decimal("2.125", places=3) == "2.125" and values.parse_decimal("1.500", places=3) == "1.5"
    assert values.parse_quantity(Decimal("2.125")) == "2.125"  # a JSON number (msgspec's Decimal)


def test_an_agreed_volume_is_read_as_indonesian_writes_it() -> None:
    assert values.parse_agreed("Rp 1.500.000", "1.500") == (1_500_000, "1500", {})
    assert values.parse_agreed("", "2,5") == (None, "2.5", {})
    _, volume, errors = values.parse_agreed("", "12.5")
    assert volume is None and errors == {"agreed_volume": "koma adalah tanda desimal, titik hanya memisahkan ribuan:"
                                                           " tulis 12,5"}  # fmt: skip


@pytest.mark.parametrize(("typed", "text"), [("-6.238", "-6.238"), ("106.990", "106.99"), ("-6,2383", "-6.2383"),
                                             (106.9896, "106.9896")])  # fmt: skip
def test_coordinates_keep_the_dot_as_their_decimal_mark(typed: str | float, text: str) -> None:
    assert values.parse_decimal(typed, places=7) == text
