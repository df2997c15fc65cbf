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
ACCEPTED_FORMATS = {"JPEG", "MPO", "PNG", "WEBP"}
"""As Pillow names them. MPO is a JPEG with a Multi-Picture block, what many phones save (Ultra HDR, depth
maps): its first picture is the photo."""

MAX_JPEG_SCANS = 64
"""The most scans (SOS markers) a JPEG may have. A progressive JPEG from a camera or an editor has about
10; each scan makes the decoder go over the whole image again, so a 5000 × 5000 picture with thousands of
tiny scans passes the pixel check and still holds a core for minutes (20,000 scans in 938 KB took 57 s).
Counted in the raw bytes, before decoding: inside scan data a 0xFF byte is always followed by 0x00 or a
restart marker, so every FF DA is a marker (one in an EXIF thumbnail adds one)."""

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

MAX_WAITING = 4
"""Photos that may wait for a decode thread in one server process; one more is refused with 503 (busy,
try again) instead of queueing without end, each waiting upload holding up to 15 MB of memory."""

_decoder = concurrent.futures.ThreadPoolExecutor(max_workers=DECODE_THREADS, thread_name_prefix="photos")
_in_decoder = 0  # photos decoding or waiting in this process; only touched on the event loop

class PhotoRejected(DomainError):
    code = "photo_rejected"


class PhotoTooLarge(PhotoRejected):
    code = "too_large"


class TooManyPixels(PhotoRejected):
    """More than MAX_PIXELS: refused from the header, before decoding (422, as the bytes were not too many)."""

    code = "too_many_pixels"


class DecoderBusy(DomainError):
    """Every decode thread busy and MAX_WAITING photos waiting: 503, try again shortly."""

    code = "busy"


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
    """`process` on the photo threads (DECODE_THREADS), leaving the event loop free for other requests;
    DecoderBusy when MAX_WAITING photos already wait."""
    global _in_decoder
    if _in_decoder >= DECODE_THREADS + MAX_WAITING:
        raise DecoderBusy(N_("server sedang memproses banyak foto; kirim lagi sebentar lagi"))
    _in_decoder += 1
    try:
        return await asyncio.get_running_loop().run_in_executor(_decoder, process, raw)
    finally:
        _in_decoder -= 1


def check(raw: bytes) -> None:
    """What can be refused without decoding a pixel: the size in bytes, the format, the size in pixels
    (from the header) and a JPEG's number of scans. Takes microseconds: also for a form whose other fields
    are wrong, so that the photo's own error shows beside theirs."""
    if len(raw) > MAX_BYTES:
        raise PhotoTooLarge(N_("foto terlalu besar: paling besar 5 MB"))
    if not raw:
        raise PhotoRejected(N_("berkas foto kosong"))
    try:
        with Image.open(io.BytesIO(raw)) as probe:  # lazy: reads the header, decodes nothing
            if probe.format not in ACCEPTED_FORMATS:
                raise PhotoRejected(N_("berkas bukan foto JPEG, PNG atau WebP"))
            if probe.width * probe.height > MAX_PIXELS:
                raise TooManyPixels(TOO_MANY_PIXELS)
    except PhotoRejected:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise TooManyPixels(TOO_MANY_PIXELS) from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        raise PhotoRejected(N_("berkas bukan foto JPEG, PNG atau WebP yang utuh")) from None
    if raw.startswith(b"\xff\xd8") and raw.count(b"\xff\xda") > MAX_JPEG_SCANS:
        raise PhotoRejected(N_("foto JPEG ini tersusun dari terlalu banyak lapisan; simpan ulang sebagai JPEG biasa"))


def process(raw: bytes) -> ProcessedPhoto:
    """Check that `raw` really is a JPEG, PNG or WebP image and return it as a clean JPEG. Blocks for up to
    about a second: from a request handler, call `process_off_loop`."""
    check(raw)
    # No warnings.catch_warnings() here: it changes process-wide state and this runs on several threads.
    # PIL's DecompressionBombWarning is caught below for when a warnings filter makes it an error.
    try:
        with Image.open(io.BytesIO(raw)) as probe:
            probe.verify()
        with Image.open(io.BytesIO(raw)) as image:
            image.load()
            upright = ImageOps.exif_transpose(image)
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
