"""Small findings of the s20 reviews, through the real server."""

from __future__ import annotations

import uuid

import httpx

from musrenbang.resources import static_dir
from tests.cycles import open_test_cycle_at
from tests.http.conftest import payload
from tests.http.test_staff import KELURAHAN
from tests.server import serving


async def test_a_later_years_proposal_is_not_offered_again_for_an_earlier_year(database_url: str) -> None:
    """`/usulan/baru?lanjutan=KODE&tahun=2022` rendered the whole form "for RKPD 2022" for a 2023 proposal;
    the refusal came only on sending, after the typing."""
    open_test_cycle_at(database_url, 2022)
    open_test_cycle_at(database_url, 2023)  # both taking proposals, as a window moved by mistake can make it
    with serving(database_url) as server:
        async with httpx.AsyncClient(base_url=server.base_url, timeout=30) as client:
            r = await client.post("/api/v1/proposals", json=payload(kelurahan=KELURAHAN, year=2023),
                                  headers={"Idempotency-Key": str(uuid.uuid4())})  # fmt: skip
            assert r.status_code == 201, r.text
            code = r.json()["code"]
            r = await client.get(f"/usulan/baru?lanjutan={code}&tahun=2022")
            assert r.status_code == 422, r.text
            assert f"usulan {code} dari tahun 2023 hanya dapat diusulkan lagi untuk tahun sesudahnya" in r.text
            assert 'name="carried_from"' not in r.text


async def test_the_stylesheet_and_script_come_from_memory_with_an_etag(client: httpx.AsyncClient) -> None:
    """Served by http/static.py instead of Litestar's file router (a thread per request, gzipped anew)."""
    for name, kind in (("app.css", "text/css"), ("app.js", "javascript")):
        plain = (static_dir() / name).read_bytes()
        r = await client.get(f"/static/{name}", headers={"Accept-Encoding": "gzip"})
        assert r.status_code == 200 and r.headers["content-encoding"] == "gzip" and r.content == plain
        assert kind in r.headers["content-type"] and "max-age=3600" in r.headers["cache-control"]
        assert "accept-encoding" in r.headers["vary"].lower()
        bare = await client.get(f"/static/{name}", headers={"Accept-Encoding": "identity"})
        assert "content-encoding" not in bare.headers and bare.content == plain
        # One strong tag per encoding (RFC 9110 8.8.3), either of which says the client has these bytes.
        assert bare.headers["etag"] != r.headers["etag"] and not r.headers["etag"].startswith("W/")
        assert r.headers["content-type"].count("charset") <= 1
        for tag in (r.headers["etag"], bare.headers["etag"]):
            kept = await client.get(f"/static/{name}", headers={"If-None-Match": tag})
            assert kept.status_code == 304 and kept.content == b""
    assert (await client.get("/static/tidak-ada.css")).status_code == 404
