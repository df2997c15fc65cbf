"""Photos are judged by their bytes, re-encoded, and leave their metadata behind."""

from __future__ import annotations

import io
import os

import pytest
from PIL import Image

from musrenbang.photos import MAX_BYTES, PhotoRejected, process
from tests.images import GPS_IFD, gif, jpeg_with_gps, png_with_alpha, webp


def test_a_jpeg_loses_its_gps_and_every_other_exif_field() -> None:
    original = jpeg_with_gps()
    assert Image.open(io.BytesIO(original)).getexif().get_ifd(GPS_IFD)  # the test image really has GPS
    photo = process(original)
    cleaned = Image.open(io.BytesIO(photo.data))
    assert cleaned.format == "JPEG" and (cleaned.width, cleaned.height) == (640, 480)
    assert not cleaned.getexif()
    assert b"KameraHP" not in photo.data


def test_png_and_webp_are_accepted_and_become_jpeg() -> None:
    for data in (png_with_alpha(), webp()):
        photo = process(data)
        assert photo.content_type == "image/jpeg"
        assert Image.open(io.BytesIO(photo.data)).format == "JPEG"


def test_large_photos_are_scaled_down_for_cheap_phones() -> None:
    photo = process(jpeg_with_gps(size=(4000, 3000)))
    assert max(photo.width, photo.height) == 1600


@pytest.mark.parametrize(
    "data",
    [
        b"\xff\xd8\xff\xe0" + os.urandom(2000),  # a JPEG header on random bytes
        b"<html><script>alert(1)</script></html>",
        b"%PDF-1.4 not an image",
        gif(),  # a real image, but not a format we accept
        jpeg_with_gps()[:300],  # a truncated JPEG
        b"",
    ],
)
def test_files_that_are_not_whole_jpeg_png_or_webp_are_refused(data: bytes) -> None:
    with pytest.raises(PhotoRejected):
        process(data)


def test_a_photo_over_five_megabytes_is_refused_before_decoding() -> None:
    with pytest.raises(PhotoRejected, match="5 MB"):
        process(jpeg_with_gps() + b"\0" * MAX_BYTES)


def test_a_decompression_bomb_is_refused() -> None:
    out = io.BytesIO()
    Image.new("1", (12_000, 12_000)).save(out, format="PNG")  # 144 megapixels in a few hundred KB
    assert len(out.getvalue()) < MAX_BYTES
    with pytest.raises(PhotoRejected):
        process(out.getvalue())
