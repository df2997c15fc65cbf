"""Photos residents attach: checked by their bytes (not their name or header), re-encoded, stripped of
metadata (EXIF, including GPS position), and scaled down so that viewing them costs little data."""

from __future__ import annotations

import hashlib
import io
import warnings

import msgspec
from PIL import Image, ImageOps, UnidentifiedImageError

from musrenbang.domain.errors import N_, DomainError

MAX_BYTES = 5 * 1024 * 1024
MAX_SIDE = 1600
ACCEPTED_FORMATS = {"JPEG", "PNG", "WEBP"}
# Refuse decompression bombs before decoding: a 5 MB file claiming to be 30,000 x 30,000 pixels.
MAX_PIXELS = 40_000_000


class PhotoRejected(DomainError):
    code = "photo_rejected"


class PhotoTooLarge(PhotoRejected):
    code = "too_large"


class ProcessedPhoto(msgspec.Struct, frozen=True):
    data: bytes
    content_type: str
    width: int
    height: int
    sha256: str
    original_sha256: str


def process(raw: bytes) -> ProcessedPhoto:
    """Check that `raw` really is a JPEG, PNG or WebP image and return it as a clean JPEG."""
    if len(raw) > MAX_BYTES:
        raise PhotoTooLarge(N_("foto terlalu besar: paling besar 5 MB"))
    if not raw:
        raise PhotoRejected(N_("berkas foto kosong"))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(raw)) as probe:
                if probe.format not in ACCEPTED_FORMATS:
                    raise PhotoRejected(N_("berkas bukan foto JPEG, PNG atau WebP"))
                if probe.width * probe.height > MAX_PIXELS:
                    raise PhotoRejected(N_("ukuran gambar terlalu besar"))
                probe.verify()
            with Image.open(io.BytesIO(raw)) as image:
                image.load()
                upright = ImageOps.exif_transpose(image)
    except PhotoRejected:
        raise
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError,
            Image.DecompressionBombWarning):  # fmt: skip
        raise PhotoRejected(N_("berkas bukan foto JPEG, PNG atau WebP yang utuh")) from None
    if upright.mode not in ("RGB", "L"):
        background = Image.new("RGB", upright.size, (255, 255, 255))
        rgba = upright.convert("RGBA")
        background.paste(rgba, mask=rgba.getchannel("A"))
        upright = background
    upright.thumbnail((MAX_SIDE, MAX_SIDE))
    out = io.BytesIO()
    # A fresh image without `exif=`/`icc_profile=`: nothing of the original's metadata is written.
    upright.save(out, format="JPEG", quality=80, optimize=True, progressive=True)
    data = out.getvalue()
    return ProcessedPhoto(
        data=data,
        content_type="image/jpeg",
        width=upright.width,
        height=upright.height,
        sha256=hashlib.sha256(data).hexdigest(),
        original_sha256=hashlib.sha256(raw).hexdigest(),
    )
