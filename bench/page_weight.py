"""Page weight for a resident on a phone: bytes transferred (gzip) for HTML + CSS + JS of `/`,
`/usulan/baru` and `/lacak/{code}` (issue 3 figures), and of the public lists and calendar (issue 16:
`/wilayah?q=`, `/usulan?q=`, `/kecamatan/{kode}`, `/musyawarah`, `/rkpd/{year}`). Aim: at most 30 KB each,
nothing from elsewhere.

    python -m bench.page_weight

Against `musrenbang serve` on a fresh database with one submitted proposal. The baseline printed beside
each page is the same page uncompressed.
"""

from __future__ import annotations

import asyncio
import re
import uuid

import httpx

from bench._common import fresh_database, print_table, server_url
from bench._server import running_server
from bench.submissions import BODY

AIM = 30 * 1024


def measure(base: str) -> list[list[object]]:
    with httpx.Client(base_url=base, headers={"Accept-Encoding": "gzip"}, timeout=30) as http:
        r = http.post("/api/v1/proposals", json=BODY, headers={"Idempotency-Key": str(uuid.uuid4())})
        code = r.json()["code"]
        year = http.get(f"/api/v1/proposals/{code}").json().get("year")
        rows = []
        for path in ("/", "/usulan/baru", f"/lacak/{code}", "/wilayah?q=pondok+gede", f"/usulan?tahun={year}&q=jalan",
                     "/kecamatan/32.75.01", "/musyawarah", f"/rkpd/{year}"):  # fmt: skip
            page = http.get(path)
            assets = re.findall(r'<(?:link[^>]+href|script[^>]+src)="([^"]+)"', page.text)
            external = [a for a in assets if re.match(r"(https?:)?//", a)]
            responses = [page] + [http.get(a) for a in assets if a.startswith("/")]
            wire = sum(wire_bytes(x) for x in responses)
            plain = sum(len(x.content) for x in responses)
            rows.append([path, len(responses), wire, plain, plain / wire, "yes" if wire <= AIM else "NO",
                         len(external)])  # fmt: skip
        return rows


def wire_bytes(response: httpx.Response) -> int:
    """Body bytes as sent (compressed when the server compressed), plus the headers."""
    raw = response.headers.get("content-length")
    body = int(raw) if raw is not None else len(response.content)
    headers = sum(len(k) + len(v) + 4 for k, v in response.headers.items())
    return body + headers


async def main() -> None:
    with server_url() as url:
        async with fresh_database(url) as db:
            with running_server(db, workers=1) as base:
                rows = await asyncio.to_thread(measure, base)
    print_table(["page", "requests", "bytes on the wire", "uncompressed", "ratio", "≤ 30 KB", "external"], rows)


if __name__ == "__main__":
    asyncio.run(main())
