"""The public read side as a hostile but realistic client sees it, through a real server on its own copy of the
history (tests/history.py: RKPD 2022 adopted): conditional requests (`If-None-Match: *`, the strong form of a
weak tag), Accept-Encoding with q-values, and the caching headers of the Atom feeds."""

from __future__ import annotations

import gzip
from collections.abc import AsyncIterator

import httpx
import pytest

from musrenbang.http.page_cache import takes_gzip
from tests import history
from tests.server import serving

pytestmark = [pytest.mark.slow, pytest.mark.edge]

PAGE = f"/rkpd/{history.YEAR}"
JSON = f"/api/v1/rkpd/{history.YEAR}"
EQUITY = f"/rkpd/{history.YEAR}/pemerataan"
SEARCH = f"/usulan?tahun={history.YEAR}&q=jalan"


@pytest.fixture(scope="module")
async def base_url(server_url: str, template_name: str) -> AsyncIterator[str]:
    async with history.database(server_url, template_name) as (url, _):
        with serving(url) as server:
            yield server.base_url


async def raw(base_url: str, path: str, **headers: str) -> tuple[httpx.Response, bytes]:
    """The response and its body exactly as sent (no decoding of Content-Encoding)."""
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as c, c.stream("GET", path, headers=headers) as r:
        body = b"".join([chunk async for chunk in r.aiter_raw()])
    return r, body


# First in the module: the list's page count is noted once a page of it is rendered, which would answer the
# page beyond the end before `If-None-Match` is looked at.
MISSING = [f"{PAGE}?halaman=999", "/telusur/usulan/ZZZZZZZZ", f"/telusur/rkpd/{history.YEAR}/nope",
           "/rkpd/2031/pemerataan", "/rkpd/2031/sumber", "/usulan?tahun=2031"]  # fmt: skip


@pytest.mark.parametrize("path", MISSING)
async def test_if_none_match_star_is_no_304_for_what_does_not_exist(base_url: str, path: str) -> None:
    """`*` matches a current representation only (RFC 9110, 13.1.2): a page that does not exist is 404 (or
    400) with or without it, never 304."""
    starred, body = await raw(base_url, path, **{"If-None-Match": "*", "Accept-Encoding": "identity"})
    plain, _ = await raw(base_url, path, **{"Accept-Encoding": "identity"})
    assert plain.status_code in (400, 404), path
    assert starred.status_code == plain.status_code, path
    assert body, path  # the page saying why, in Indonesian
    assert "ditemukan" in body.decode() or "Tidak ada" in body.decode(), path


@pytest.mark.parametrize("path", [PAGE, JSON, EQUITY, SEARCH])
async def test_if_none_match_star_and_the_strong_form_are_304_for_what_exists(base_url: str, path: str) -> None:
    first, _ = await raw(base_url, path, **{"Accept-Encoding": "identity"})
    assert first.status_code == 200
    etag = first.headers["etag"]
    starred, body = await raw(base_url, path, **{"If-None-Match": "*"})
    assert starred.status_code == 304 and body == b"" and starred.headers["etag"] == etag
    # If-None-Match compares weakly: the tag without its W/ is the same tag.
    strong, body = await raw(base_url, path, **{"If-None-Match": f'"nope", {etag.removeprefix("W/")}'})
    assert strong.status_code == 304 and body == b"", path


@pytest.mark.parametrize("path", [PAGE, JSON, EQUITY, SEARCH])
@pytest.mark.parametrize("accept", ["gzip;q=0", "gzip;q=0, identity", "identity, gzip; q=0.000", "br, *;q=0"])
async def test_gzip_refused_by_its_q_value_is_not_sent(base_url: str, path: str, accept: str) -> None:
    r, body = await raw(base_url, path, **{"Accept-Encoding": accept})
    assert r.status_code == 200 and "content-encoding" not in r.headers, (path, accept)
    assert body.startswith((b"<!doctype html>", b'{"year":')), (path, accept)
    assert "Accept-Encoding" in r.headers["vary"]


@pytest.mark.parametrize("accept", ["gzip", "gzip;q=0.5, identity", "*", "br;q=1, *;q=0.1", "x-gzip", "GZIP"])
async def test_gzip_taken_is_sent_once(base_url: str, accept: str) -> None:
    r, body = await raw(base_url, PAGE, **{"Accept-Encoding": accept})
    assert r.status_code == 200 and r.headers["content-encoding"] == "gzip", accept
    assert gzip.decompress(body).startswith(b"<!doctype html>")


def test_takes_gzip() -> None:
    assert takes_gzip("gzip, deflate, br") and takes_gzip("*") and takes_gzip("gzip;q=0.001")
    assert not takes_gzip("") and not takes_gzip("identity") and not takes_gzip("gzip;q=0")
    assert not takes_gzip("gzip;q=garbage") and not takes_gzip("gzip;q=nan") and not takes_gzip("*;q=0")
    assert not takes_gzip("gzip;q=0, *") and not takes_gzip("notgzip") and not takes_gzip("gzipx")


@pytest.mark.parametrize("path", [f"{PAGE}.atom", f"/kelurahan/{history.KELURAHAN_A}.atom",
                                  f"/kecamatan/{history.KECAMATAN}.atom"])  # fmt: skip
async def test_a_feed_chosen_by_the_language_cookie_varies_on_it(base_url: str, path: str) -> None:
    """A feed says `Cache-Control: public, max-age=60` and its words follow the `lang` cookie: without
    `Vary: Cookie` a cache sends one reader's language to everyone."""
    english, en_body = await raw(base_url, path, **{"Cookie": "lang=en", "Accept-Encoding": "identity"})
    indonesian, id_body = await raw(base_url, path, **{"Accept-Encoding": "identity"})
    assert b'xml:lang="en"' in en_body and b'xml:lang="id"' in id_body
    for r in (english, indonesian):
        assert r.status_code == 200 and "cookie" in r.headers.get("vary", "").lower(), path
    again, body = await raw(base_url, path, **{"If-None-Match": indonesian.headers["etag"]})
    assert again.status_code == 304 and body == b"" and "cookie" in again.headers.get("vary", "").lower()
