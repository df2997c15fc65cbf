"""Photos residents attach: checked by their bytes (not their name or header), re-encoded, stripped of
metadata (EXIF, including GPS position), and scaled down so that viewing them costs little data.

Decoding is what costs: a PNG of one colour holds 48 megapixels in 150 KB. So an image's size in pixels
is read from its header and refused above MAX_PIXELS before anything is decoded, and the handlers call
`process_off_loop`, which does the work on threads of this module's own: an upload never holds the
event loop, and with it every other request of the server process."""

from __future__ import annotations

import asyncio
import concurrent.futures
import hashlib
import io

import msgspec
from PIL import Image, ImageOps, UnidentifiedImageError

from musrenbang.domain.errors import N_, DomainError

MAX_BYTES = 5 * 1024 * 1024
MAX_SIDE = 1600
ACCEPTED_FORMATS = {"JPEG", "PNG", "WEBP"}

MAX_PIXELS = 25_000_000
"""The most pixels (width × height, as the image's header states them) a photo may have: 25 megapixels,
checked before a single pixel is decoded.

It accepts what phones send: 12 MP (4000 × 3000), the 24 MP that 48 and 50 MP cameras save by default
(5712 × 4284 = 24.5 MP), 6000 × 4000 from a camera. It refuses a 40 MP image (7300 × 5470) and an
8000 × 6000 one (48 MP): in a PNG of plain colour those weigh 130–150 KB, far under MAX_BYTES, yet
decoding one takes about a second of a core and 350 MB (RGB) to 750 MB (RGBA), and issue 11 saw three of
them stall a server for 9 s. At the limit a decode costs at most about a second and 400 MB (an RGBA PNG:
the image, its RGBA copy, the white background; 200 MB for RGB). A phone's full-resolution mode (48 to
200 MP) is refused, but such JPEGs weigh more than MAX_BYTES anyway."""

# PIL's own guard, set to the same number: Image.open itself raises DecompressionBombError for more than
# twice this many pixels and warns above it (process() refuses those before load()). Only this module
# opens images in the server.
Image.MAX_IMAGE_PIXELS = MAX_PIXELS

DECODE_THREADS = 1
"""Threads per server process that decode photos (`process_off_loop`): one.

A pool of its own rather than `asyncio.to_thread`, whose default executor (min(32, cores + 4) threads)
is shared with everything else that runs in a thread and would decode as many photos at once as there
are threads, each up to a core and 400 MB. One thread: decoding never takes more than one core and one
photo's memory per server process, and further uploads wait their turn in its queue. Pillow releases
the GIL for most of the work (decoding, scaling; at the limit the alpha channel and the JPEG encoding
hold it for 20–30 ms), so the event loop keeps answering meanwhile. Measured with 3 photos at the limit
uploaded at a time (`bench.photo_bombs`, 2 cores, 2 processes): as many photos per second with one
thread as with two, and `/health` p99 at 2.8 times its idle value instead of 5.9."""

_decoder = concurrent.futures.ThreadPoolExecutor(max_workers=DECODE_THREADS, thread_name_prefix="photos")


class PhotoRejected(DomainError):
    code = "photo_rejected"


class PhotoTooLarge(PhotoRejected):
    code = "too_large"


class TooManyPixels(PhotoRejected):
    """More than MAX_PIXELS: refused from the header, before decoding (422, as the bytes were not too many)."""

    code = "too_many_pixels"


TOO_MANY_PIXELS = N_("ukuran gambar terlalu besar: paling banyak 25 megapiksel (misalnya 6000 × 4000 piksel)")


class ProcessedPhoto(msgspec.Struct, frozen=True):
    data: bytes
    content_type: str
    width: int
    height: int
    sha256: str
    original_sha256: str


def original_sha256(raw: bytes) -> str:
    """The digest of an upload as sent (`ProcessedPhoto.original_sha256`), known without decoding it."""
    return hashlib.sha256(raw).hexdigest()


async def process_off_loop(raw: bytes) -> ProcessedPhoto:
    """`process` on the photo threads (DECODE_THREADS), leaving the event loop free for other requests."""
    return await asyncio.get_running_loop().run_in_executor(_decoder, process, raw)


def process(raw: bytes) -> ProcessedPhoto:
    """Check that `raw` really is a JPEG, PNG or WebP image and return it as a clean JPEG. Blocks for up to
    about a second: from a request handler, call `process_off_loop`."""
    if len(raw) > MAX_BYTES:
        raise PhotoTooLarge(N_("foto terlalu besar: paling besar 5 MB"))
    if not raw:
        raise PhotoRejected(N_("berkas foto kosong"))
    # No warnings.catch_warnings() here: it changes process-wide state and this runs on several threads.
    # PIL's DecompressionBombWarning is caught below for when a warnings filter makes it an error.
    try:
        with Image.open(io.BytesIO(raw)) as probe:  # lazy: reads the header, decodes nothing
            if probe.format not in ACCEPTED_FORMATS:
                raise PhotoRejected(N_("berkas bukan foto JPEG, PNG atau WebP"))
            if probe.width * probe.height > MAX_PIXELS:
                raise TooManyPixels(TOO_MANY_PIXELS)
            probe.verify()
        with Image.open(io.BytesIO(raw)) as image:
            image.load()
            upright = ImageOps.exif_transpose(image)
    except PhotoRejected:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise TooManyPixels(TOO_MANY_PIXELS) from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
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
        original_sha256=original_sha256(raw),
    )
