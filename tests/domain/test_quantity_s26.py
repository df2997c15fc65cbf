"""Review s26: a quantity written "1e5" was taken as 100000, though the API documents its strings as "ASCII
digits with a dot or a comma as the decimal mark" (http/api.py): Decimal() read the exponent, and "+5",
"inf", "nan" as well. A string is read in the documented form only; a number (a JSON number, a stored
value) stays a number, whatever Python writes it as."""

from __future__ import annotations

from decimal import Decimal

import pytest

from musrenbang.domain import values
from musrenbang.domain.values import WRITE_NUMBER

NOT_THE_DOCUMENTED_FORM = ["1e5", "1E5", "1e+5", "2.5e3", "2,5e3", "1E-2", "inf", "-inf", "Infinity", "nan", "NaN",
                           "sNaN", "1_000", "+5", "+2.5", "+ 5", ".5", "5.", "-.5", "0x10", "1,5,0", "--5"]  # fmt: skip


@pytest.mark.parametrize("typed", NOT_THE_DOCUMENTED_FORM)
def test_a_string_not_written_as_the_api_documents_is_no_number(typed: str) -> None:
    for read in (values.read_decimal, lambda t: values.parse_decimal(t, places=3),
                 lambda t: values.parse_decimal(t, places=7)):  # fmt: skip
        with pytest.raises(ValueError) as refused:
            read(typed)
        assert refused.value.args[0] == WRITE_NUMBER, typed


@pytest.mark.parametrize("typed", ["1e5", "1E5", "inf", "nan", "1_000", "+5", "+1.500", "+12,5", "1.5e3", "+12.5"])
def test_a_form_quantity_takes_no_exponent_nor_plus(typed: str) -> None:
    with pytest.raises(ValueError) as refused:
        values.parse_quantity(typed)
    assert refused.value.args[0] == WRITE_NUMBER, typed


@pytest.mark.parametrize(("typed", "text"), [("150", "150"), (" 2,5 ", "2.5"), ("2.5", "2.5"), ("-6.2383", "-6.2383"),
                                             ("0", "0"), ("007", "7")])  # fmt: skip
def test_the_documented_form_is_still_read(typed: str, text: str) -> None:
    assert values.parse_decimal(typed, places=7) == text


@pytest.mark.parametrize(("number", "text"), [(1e5, "100000"), (100000, "100000"), (1e-07, "0.0000001"),
                                              (Decimal("1E+2"), "100"), (-6.2383, "-6.2383")])  # fmt: skip
def test_a_number_is_taken_as_the_number_it_is(number: float | int | Decimal, text: str) -> None:
    """A JSON number 1e5 is a number (the schema's "a number"); Python writes 1e-07 and 1e+40 with an
    exponent, which is not the sender's doing."""
    assert values.parse_decimal(number, places=7) == text


def test_a_huge_number_is_still_told_it_is_too_large() -> None:
    with pytest.raises(ValueError, match="angka terlalu besar"):
        values.parse_decimal(1e40, places=3)
