"""Real image files made for tests: a JPEG with GPS in its EXIF, PNG with transparency, WebP, and
decompression bombs."""

from __future__ import annotations

import functools
import io
import struct
import zlib

from PIL import Image

GPS_IFD = 0x8825


def jpeg_with_gps(size: tuple[int, int] = (640, 480), color: str = "steelblue") -> bytes:
    image = Image.new("RGB", size, color)
    exif = Image.Exif()
    exif[0x010F] = "KameraHP"  # Make
    exif[GPS_IFD] = {1: "S", 2: (6.0, 14.0, 18.0), 3: "E", 4: (106.0, 58.0, 32.0)}
    out = io.BytesIO()
    image.save(out, format="JPEG", exif=exif)
    return out.getvalue()


def png_with_alpha(size: tuple[int, int] = (300, 200)) -> bytes:
    out = io.BytesIO()
    Image.new("RGBA", size, (200, 30, 30, 128)).save(out, format="PNG")
    return out.getvalue()


def webp(size: tuple[int, int] = (300, 200)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, "green").save(out, format="WEBP")
    return out.getvalue()


def gif(size: tuple[int, int] = (20, 20)) -> bytes:
    out = io.BytesIO()
    Image.new("P", size).save(out, format="GIF")
    return out.getvalue()


@functools.cache
def png_bomb(size: tuple[int, int] = (8000, 6000)) -> bytes:
    """A decompression bomb: an RGB PNG of one colour, 8000 × 6000 (48 megapixels, 144 MB once decoded)
    in about 150 KB, far under the 5 MB limit on bytes. Made once per test process (it takes a second)."""
    out = io.BytesIO()
    Image.new("RGB", size, (120, 60, 200)).save(out, format="PNG")
    return out.getvalue()


def png_header_only(size: tuple[int, int]) -> bytes:
    """The start of a PNG whose header states `size`, cut off where its image data begins: all that can be
    judged of it without decoding is its size."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", size[0], size[1], 8, 2, 0, 0, 0)  # 8-bit RGB
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 64))[:20]


def progressive_jpeg_with_scans(scans: int, size: tuple[int, int] = (64, 64)) -> bytes:
    """A valid progressive JPEG whose last scan is repeated until the file has `scans` scans (each one
    makes a decoder go over the whole image again: the trick that makes a small file cost minutes)."""
    out = io.BytesIO()
    Image.new("L", size, 128).save(out, format="JPEG", progressive=True, quality=90)
    data = out.getvalue()
    starts = [i for i in range(len(data) - 1) if data[i] == 0xFF and data[i + 1] == 0xDA]
    eoi = data.rindex(b"\xff\xd9")
    last_scan = data[starts[-1] : eoi]
    return data[:eoi] + last_scan * (scans - len(starts)) + data[eoi:]


def mpo(size: tuple[int, int] = (400, 300)) -> bytes:
    """A JPEG with a Multi-Picture block (two pictures), as phones save Ultra HDR or depth photos."""
    first, second = Image.new("RGB", size, "orange"), Image.new("RGB", size, "gray")
    out = io.BytesIO()
    first.save(out, format="MPO", save_all=True, append_images=[second])
    return out.getvalue()


@functools.cache
def png_at_the_limit() -> bytes:
    """A PNG of exactly 25 megapixels (5000 × 5000, one bit per pixel: a few KB): allowed, and a decode
    that takes real work."""
    out = io.BytesIO()
    Image.new("1", (5000, 5000)).save(out, format="PNG")
    return out.getvalue()
