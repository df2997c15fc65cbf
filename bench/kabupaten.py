"""A kabupaten with hundreds of desa (issue 12 figures): how long `musrenbang setup --region` takes for
Kabupaten Bogor (32.01: 40 kecamatan, 416 desa, 19 kelurahan) against Kota Bekasi (32.75: 12 kecamatan,
56 kelurahan), and the weight (gzip, everything a page loads) of the pages that list regions, for both.
Aim: setup in seconds; every page at most 30 KB.

    python -m bench.kabupaten

Each setup runs the real command as a new user would (a process of its own, on a fresh database that
holds only the migrations), so the time includes reading the national table from the wheel.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import time
import uuid

import httpx

from bench._common import fresh_database, open_city, print_table, server_url
from bench._server import running_server
from bench.page_weight import AIM, _wire_bytes
from bench.submissions import BODY

CITIES = {"32.01": ("Kabupaten Bogor", "32.01.02.2002"), "32.75": ("Kota Bekasi", "32.75.01.1001")}


def setup_seconds(url: str, region: str) -> float:
    env = {**os.environ, "MUSRENBANG_DATABASE_URL": url}
    start = time.perf_counter()
    done = subprocess.run(["musrenbang", "setup", "--region", region], env=env, capture_output=True, text=True)
    took = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(done.stderr)
    return took


def page_weights(base: str, village: str) -> list[tuple[str, int, int]]:
    """(path, bytes on the wire, uncompressed) of each page that lists regions, assets included."""
    import re

    with httpx.Client(base_url=base, headers={"Accept-Encoding": "gzip"}, timeout=30) as http:
        code = http.post("/api/v1/proposals", json={**BODY, "kelurahan": village},
                         headers={"Idempotency-Key": str(uuid.uuid4())}).json()["code"]  # fmt: skip
        kecamatan = village.rsplit(".", 1)[0]
        out = []
        for path in ("/", "/usulan/baru", "/wilayah", "/wilayah?q=a", f"/kecamatan/{kecamatan}",
                     f"/kelurahan/{village}", f"/lacak/{code}"):  # fmt: skip
            page = http.get(path)
            page.raise_for_status()
            assets = re.findall(r'<(?:link[^>]+href|script[^>]+src)="(/[^"]+)"', page.text)
            responses = [page] + [http.get(a) for a in assets]
            out.append((path, sum(_wire_bytes(x) for x in responses), sum(len(x.content) for x in responses)))
        return out


async def main() -> None:
    timings, weights = {}, {}
    with server_url() as url:
        for region, (_, village) in CITIES.items():
            async with fresh_database(url, migrated_only=True) as db:
                timings[region] = await asyncio.to_thread(setup_seconds, db, region)
                await open_city(db, region)  # already set up: records nothing new, opens a cycle
                with running_server(db, workers=1) as base:
                    weights[region] = await asyncio.to_thread(page_weights, base, village)
    bogor, bekasi = timings["32.01"], timings["32.75"]
    print("musrenbang setup --region (a process of its own, fresh database)")
    print_table(["region", "seconds", "ratio to Kota Bekasi"],
                [["32.01 Kabupaten Bogor", bogor, bogor / bekasi], ["32.75 Kota Bekasi", bekasi, 1.0]])  # fmt: skip
    print()
    print("pages listing regions, gzip, assets included (aim ≤ 30 KB)")
    rows = []
    for (path, wire, plain), (_, base_wire, _) in zip(weights["32.01"], weights["32.75"], strict=True):
        rows.append([path, wire, plain, base_wire, wire / base_wire, "yes" if wire <= AIM else "NO"])
    print_table(["page", "Bogor on the wire", "Bogor uncompressed", "Bekasi on the wire", "ratio", "≤ 30 KB"], rows)


if __name__ == "__main__":
    asyncio.run(main())
