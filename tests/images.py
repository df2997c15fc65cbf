"""Real image files made for tests: a JPEG with GPS in its EXIF, PNG with transparency, WebP."""

from __future__ import annotations

import io

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
