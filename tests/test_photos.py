"""Photos are judged by their bytes, re-encoded, and leave their metadata behind."""

from __future__ import annotations

import asyncio
import io
import os
import threading

import pytest
from PIL import Image

from musrenbang import photos
from musrenbang.photos import MAX_BYTES, MAX_PIXELS, PhotoRejected, TooManyPixels, process, process_off_loop
from tests.images import (
    GPS_IFD,
    gif,
    jpeg_with_gps,
    mpo,
    png_bomb,
    png_header_only,
    png_with_alpha,
    progressive_jpeg_with_scans,
    webp,
)


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
    ids=["jpeg-header-on-noise", "html", "pdf", "gif", "truncated-jpeg", "empty"],
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
    with pytest.raises(TooManyPixels, match="25 megapiksel"):  # PIL's own guard: over twice the limit
        process(out.getvalue())


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")  # PIL's warning between 1 and 2 times
@pytest.mark.parametrize("size", [(8000, 6000), (7300, 5470), (5001, 5000)])
def test_images_over_25_megapixels_are_refused_with_the_limit_in_the_message(size: tuple[int, int]) -> None:
    bomb = png_bomb() if size == (8000, 6000) else _plain_png(size)
    assert len(bomb) < 200 * 1024  # bytes are no measure of what decoding costs
    with pytest.raises(TooManyPixels) as refused:
        process(bomb)
    assert refused.value.message == photos.TOO_MANY_PIXELS and "25 megapiksel" in refused.value.message
    assert refused.value.code == "too_many_pixels"


@pytest.mark.filterwarnings("error::PIL.Image.DecompressionBombWarning")
def test_pils_warning_made_an_error_gives_the_same_refusal() -> None:
    with pytest.raises(TooManyPixels):
        process(png_bomb())


def test_the_pixel_count_is_judged_from_the_header_before_decoding() -> None:
    """Headers cut off where the image data starts: one stating 48 megapixels is refused for its size,
    which only a check made before decoding can do; one within the limit is found broken."""
    with pytest.raises(TooManyPixels), pytest.warns(Image.DecompressionBombWarning):  # PIL's limit is ours
        process(png_header_only((8000, 6000)))
    with pytest.raises(PhotoRejected, match="utuh") as broken:
        process(png_header_only((4000, 3000)))
    assert not isinstance(broken.value, TooManyPixels)


def test_phone_photos_of_12_and_24_megapixels_and_exactly_the_limit_are_accepted() -> None:
    assert MAX_PIXELS == 25_000_000  # the number the message states
    for size in ((4000, 3000), (5712, 4284)):
        assert process(jpeg_with_gps(size=size)).width == 1600
    photo = process(_plain_png((5000, 5000), mode="L"))
    assert (photo.width, photo.height) == (1600, 1600)


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
async def test_process_off_loop_decodes_on_the_photo_threads(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[str] = []

    def recording(raw: bytes) -> photos.ProcessedPhoto:
        seen.append(threading.current_thread().name)
        return process(raw)

    monkeypatch.setattr(photos, "process", recording)
    original = jpeg_with_gps()
    results = await asyncio.gather(*(process_off_loop(original) for _ in range(5)))
    assert {r.sha256 for r in results} == {process(original).sha256}
    assert len(seen) == 5 and all(name.startswith("photos") for name in seen), seen
    with pytest.raises(TooManyPixels):
        await process_off_loop(png_bomb())


def _plain_png(size: tuple[int, int], mode: str = "1") -> bytes:
    out = io.BytesIO()
    Image.new(mode, size).save(out, format="PNG")
    return out.getvalue()


def test_a_jpeg_of_many_scans_is_refused_before_decoding() -> None:
    """Each scan of a progressive JPEG is another pass over the whole image: 64 are plenty for any camera
    (they save about 10), and the count is read from the bytes."""
    assert process(progressive_jpeg_with_scans(64)).width == 64
    for scans in (65, 2_000):
        with pytest.raises(photos.PhotoRejected, match="terlalu banyak lapisan"):
            photos.check(progressive_jpeg_with_scans(scans))


def test_a_phone_photo_with_a_multi_picture_block_is_a_jpeg() -> None:
    """Pillow names a JPEG with an MPF block (Ultra HDR, depth) "MPO": its first picture is the photo."""
    photo = process(mpo((400, 300)))
    assert (photo.content_type, photo.width, photo.height) == ("image/jpeg", 400, 300)


async def test_uploads_beyond_the_queue_are_refused_at_once_not_queued() -> None:
    """One decode thread and MAX_WAITING places: the next upload is told the server is busy (503) instead
    of waiting behind them. The count is taken before the first await, so gather shows it exactly."""
    assert photos.DECODE_THREADS + photos.MAX_WAITING == 5
    outcomes = await asyncio.gather(*(process_off_loop(jpeg_with_gps()) for _ in range(7)), return_exceptions=True)
    assert [type(o).__name__ for o in outcomes] == ["ProcessedPhoto"] * 5 + ["DecoderBusy"] * 2
    assert (await process_off_loop(jpeg_with_gps())).width == 640  # and free again afterwards
