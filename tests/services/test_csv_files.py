"""Reading an agency's bulk file (services/realisation.parse_csv): the encodings spreadsheets save in, and
what neither of them can hold."""

from __future__ import annotations

import pytest

from musrenbang.domain.errors import UnreadableFile
from musrenbang.services.realisation import parse_csv


def test_utf8_with_a_bom_and_windows_1252_read_the_same() -> None:
    text = "baris;catatan\r\nDBMSDA-001;pipa Ø 5 inci, café\r\n"
    assert parse_csv(b"\xef\xbb\xbf" + text.encode()) == [["baris", "catatan"], ["DBMSDA-001", "pipa Ø 5 inci, café"]]
    assert parse_csv(text.encode("cp1252")) == parse_csv(text.encode())


@pytest.mark.parametrize("byte", [b"\x81", b"\x8d", b"\x8f", b"\x90", b"\x9d"])
def test_a_byte_windows_1252_does_not_define_refuses_the_file(byte: bytes) -> None:
    with pytest.raises(UnreadableFile, match="UTF-8 atau Windows-1252"):
        parse_csv(b"baris,catatan\r\nDBMSDA-001,pipa " + byte + b"\xe9\r\n")
