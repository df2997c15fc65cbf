"""`GET /health` while photos are being uploaded: decompression bombs, and photos just under the pixel
limit that are really decoded (issue 11, point 3).

    python -m bench.photo_bombs [--seconds 8] [--uploaders 3]

Against `musrenbang serve` (2 workers) on a fresh database with one proposal. Each phase runs
`--uploaders` threads sending one upload after another to `POST /api/v1/proposals/{code}/photos`:

- bomb: an RGB PNG of one colour, 7300 × 5470 (40 megapixels in 126 KB, as in the issue), with the valid
  secret, so it reaches the pixel check and is refused (422) from its header;
- scans: a progressive JPEG of 5000 × 5000 with 2,000 scans (each scan another pass over the image:
  5 s of decoding before the scan count was checked), refused (422) from its bytes;
- near the limit: an RGBA PNG of 5700 × 4380 (24.97 megapixels in 105 KB, the dearest kind: flattened on
  white), with the valid secret, to a new proposal each time with bytes of its own: decoded, scaled and
  encoded every time (201);
- wrong secret: the same near-limit photo with a wrong secret, refused (403) before it is looked at.

Meanwhile one more thread asks `GET /health` back to back. Every request opens a new connection, so that
both worker processes get uploads and health checks. Baseline, in the same run: `/health` with no uploads.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import io
import itertools
import statistics
import struct
import threading
import time
import uuid
import zlib
from collections.abc import Callable

import httpx
from PIL import Image

from bench._common import fresh_database, print_table, server_url
from bench._server import running_server
from bench.submissions import BODY
from tests.images import progressive_jpeg_with_scans

WRONG_SECRET = "WRONGSECRET00000"


def png(size: tuple[int, int], mode: str) -> bytes:
    out = io.BytesIO()
    Image.new(mode, size, (120, 60, 200, 128)[: len(mode)]).save(out, format="PNG")
    return out.getvalue()


def _client(base: str) -> httpx.Client:
    return httpx.Client(base_url=base, timeout=120, limits=httpx.Limits(max_keepalive_connections=0))


def _poll_health(base: str, stop: threading.Event, latencies: list[float]) -> None:
    with _client(base) as http:
        while not stop.is_set():
            started = time.perf_counter()
            r = http.get("/health")
            latencies.append((time.perf_counter() - started) * 1000)
            assert r.status_code == 200, r.text


Upload = Callable[[httpx.Client], tuple[str, bytes, str]]
"""What one uploader sends next, as (path, photo, secret); given a client to prepare it with."""


def _upload(base: str, next_upload: Upload, stop: threading.Event, times: list[float],
            statuses: collections.Counter[int]) -> None:  # fmt: skip
    with _client(base) as http:
        while not stop.is_set():
            path, data, secret = next_upload(http)
            started = time.perf_counter()
            r = http.post(path, files={"photo": ("foto.png", data, "image/png")}, data={"revision_secret": secret})
            times.append((time.perf_counter() - started) * 1000)
            statuses[r.status_code] += 1


def phase(base: str, seconds: float, uploads: list[Upload]) -> dict[str, object]:
    """`/health` latencies for `seconds` while each of `uploads` is sent in a loop."""
    stop = threading.Event()
    health: list[float] = []
    times: list[float] = []
    statuses: collections.Counter[int] = collections.Counter()
    threads = [threading.Thread(target=_upload, args=(base, upload, stop, times, statuses)) for upload in uploads]
    for t in threads:
        t.start()
    if uploads:
        time.sleep(0.5)  # the uploads under way before the first health check
    poller = threading.Thread(target=_poll_health, args=(base, stop, health))
    poller.start()
    time.sleep(seconds)
    stop.set()
    for t in [poller, *threads]:
        t.join()
    return {
        "health": health,
        "uploads": len(times),
        "upload_p50": statistics.median(times) if times else None,
        "statuses": " ".join(f"{n}×{s}" for s, n in sorted(statuses.items())),
    }


def same(path: str, data: bytes, secret: str) -> Upload:
    return lambda http: (path, data, secret)


def each_new(png_data: bytes) -> Upload:
    """A photo the server must decode every time: a proposal of its own each time (a proposal takes 3
    photos, and the same photo sent again is answered without decoding), and bytes of its own (a PNG
    text chunk after the header: the same pixels)."""
    counter = itertools.count()

    def next_upload(http: httpx.Client) -> tuple[str, bytes, str]:
        created = http.post("/api/v1/proposals", json=BODY, headers={"Idempotency-Key": str(uuid.uuid4())}).json()
        text = b"Comment\0" + str(next(counter)).encode() + uuid.uuid4().bytes.hex().encode()
        chunk = struct.pack(">I", len(text)) + b"tEXt" + text + struct.pack(">I", zlib.crc32(b"tEXt" + text))
        return f"/api/v1/proposals/{created['code']}/photos", png_data[:33] + chunk + png_data[33:], \
            created["revision_secret"]  # fmt: skip

    return next_upload


def p50_p99(values: list[float]) -> tuple[float, float]:
    return statistics.median(values), statistics.quantiles(values, n=100, method="inclusive")[98]


def measure(base: str, seconds: float, uploaders: int) -> list[list[object]]:
    bomb, near = png((7300, 5470), "RGB"), png((5700, 4380), "RGBA")
    scans = progressive_jpeg_with_scans(2_000, size=(5000, 5000))
    with httpx.Client(base_url=base, timeout=120) as http:
        created = http.post("/api/v1/proposals", json=BODY, headers={"Idempotency-Key": str(uuid.uuid4())}).json()
        path, secret = f"/api/v1/proposals/{created['code']}/photos", created["revision_secret"]
        for data in (bomb, near):  # warm up both workers' paths; the near-limit photo is attached once here
            http.post(path, files={"photo": ("foto.png", data, "image/png")}, data={"revision_secret": secret})
    phases: list[tuple[str, list[Upload]]] = [
        ("no uploads (baseline)", []),
        (f"{uploaders} bombs at a time, 40 MP (refused, 422)", [same(path, bomb, secret)] * uploaders),
        (f"{uploaders} JPEGs of 2,000 scans at a time (refused, 422)", [same(path, scans, secret)] * uploaders),
        ("1 near-limit photo at a time, 24.97 MP (decoded)", [each_new(near)]),
        (f"{uploaders} near-limit photos at a time (decoded)", [each_new(near) for _ in range(uploaders)]),
        (f"{uploaders} near-limit photos, wrong secret (403)", [same(path, near, WRONG_SECRET)] * uploaders),
    ]
    results = [(name, phase(base, seconds, uploads)) for name, uploads in phases]
    base50, base99 = p50_p99(results[0][1]["health"])  # type: ignore[arg-type]
    rows: list[list[object]] = []
    for name, result in results:
        health: list[float] = result["health"]  # type: ignore[assignment]
        p50, p99 = p50_p99(health)
        rows.append([name, len(health), p50, p99, p50 / base50, p99 / base99, result["uploads"],
                     "" if result["upload_p50"] is None else result["upload_p50"], result["statuses"]])  # fmt: skip
    return rows


async def main(seconds: float, uploaders: int) -> None:
    with server_url() as url:
        async with fresh_database(url) as db:
            with running_server(db, extra_env={"MUSRENBANG_SUBMISSIONS_PER_HOUR": "1000"}) as base:
                rows = await asyncio.to_thread(measure, base, seconds, uploaders)
    print(f"GET /health back to back for {seconds:g} s per phase, server with 2 workers")
    print_table(["while", "/health requests", "p50 ms", "p99 ms", "p50 ratio", "p99 ratio", "uploads",
                 "upload p50 ms", "answers"], rows)  # fmt: skip
    print("ratio: /health latency during the uploads / with no uploads (same run)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=8)
    parser.add_argument("--uploaders", type=int, default=3)
    options = parser.parse_args()
    asyncio.run(main(options.seconds, options.uploaders))
