"""What every request gets before Litestar routes it (http/edge.py), through the real server: HEAD answers what a
GET would, without the body (RFC 9110, 9.3.2; uptime monitors and link checkers ask `HEAD /health`, and it was
405); a client that refuses gzip (`gzip;q=0`) is not sent gzip (it was, wherever the page cache did not answer)."""

from __future__ import annotations

import socket

import httpx
import pytest

from tests.http.test_idempotency import forum
from tests.http.test_staff import new_proposal, token, users  # noqa: F401  (module fixture)
from tests.server import Server

PATHS = ["/health", "/", "/wilayah", "/static/app.css", "/api/v1/kelurahan/32.75.01.1001/proposals"]


@pytest.mark.parametrize("path", PATHS)
async def test_head_answers_what_get_answers_without_the_body(client: httpx.AsyncClient, path: str) -> None:
    await client.get(path)  # the CSRF cookie a first view sets (and marks `private`) is kept for both
    got = await client.get(path, headers={"Accept-Encoding": "identity"})
    head = await client.head(path, headers={"Accept-Encoding": "identity"})
    assert got.status_code == 200 and got.content
    assert head.status_code == 200, head.text
    assert head.content == b""
    # /health reports numbers of the moment (lag, ages): its length may differ from one answer to the next.
    for name in ("content-type", "cache-control") if path == "/health" else ("content-type", "content-length",
                                                                               "cache-control"):  # fmt: skip
        assert head.headers.get(name) == got.headers.get(name), name
    assert int(head.headers["content-length"]) > 0


async def test_head_of_a_proposal_and_of_what_does_not_exist(client: httpx.AsyncClient) -> None:
    code = await new_proposal(client)
    assert (await client.head(f"/lacak/{code}")).status_code == 200
    missing = await client.head("/lacak/ZZZZZZZZ")
    assert missing.status_code == 404 and missing.content == b""


async def test_head_keeps_conditional_requests(client: httpx.AsyncClient) -> None:
    first = await client.head("/kelurahan/32.75.01.1001.atom")
    tag = first.headers["etag"]
    again = await client.head("/kelurahan/32.75.01.1001.atom", headers={"If-None-Match": tag})
    assert again.status_code == 304


async def test_allow_names_head_where_it_names_get(client: httpx.AsyncClient) -> None:
    options = await client.options("/wilayah")
    assert options.status_code == 204
    assert options.headers["allow"].split(", ") == ["GET", "HEAD", "OPTIONS"]
    posted = await client.post("/wilayah")
    assert posted.status_code == 405
    assert "HEAD" in posted.headers["allow"].split(", ")
    # A route with no GET is not answered for HEAD either.
    assert (await client.head("/api/v1/proposals")).status_code == 405


async def test_head_of_the_projector_stream_ends_with_its_headers(
    app_server: Server,
    client: httpx.AsyncClient,
    users: dict[str, str],  # noqa: F811
) -> None:
    """The stream runs as long as its forum is open: a HEAD of it answers the headers and ends, and the
    connection takes the next request (the response was complete)."""
    auth = await token(client, users["admin"])
    made = await client.post("/api/v1/forums", json=forum("Musrenbang HEAD"), headers=auth)
    assert made.status_code == 201, made.text
    path = f"/forum/{made.json()['forum_id']}/layar/aliran"
    host, port = app_server.base_url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=20) as s:
        s.sendall(f"HEAD {path} HTTP/1.1\r\nHost: {host}\r\n\r\nGET /health HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
        seen = b""
        while seen.count(b"HTTP/1.1 ") < 2 or not seen.endswith(b"}"):
            chunk = s.recv(65536)
            assert chunk, f"the server closed the connection: {seen!r}"
            seen += chunk
    head, health = seen.split(b"HTTP/1.1 ")[1:]
    assert head.startswith(b"200 ") and b"text/event-stream" in head
    assert head.endswith(b"\r\n\r\n") and b"data:" not in head
    assert health.startswith(b"200 ")


@pytest.mark.parametrize(("accept", "gzipped"), [("gzip;q=0", False), ("gzip; q=0.0, identity", False),
                                                 ("GZIP;Q=0", False), ("gzip;q=0.5", True), ("br, gzip", True),
                                                 ("identity;q=1, gzip;q=0", False)])  # fmt: skip
async def test_a_refused_gzip_is_not_sent(client: httpx.AsyncClient, accept: str, gzipped: bool) -> None:
    """/wilayah and the OpenAPI document are compressed by Litestar's middleware, not by the page cache."""
    for path in ("/wilayah", "/schema/openapi.json"):
        async with client.stream("GET", path, headers={"Accept-Encoding": accept}) as r:
            raw = b"".join([chunk async for chunk in r.aiter_raw()])
        assert r.status_code == 200
        assert (r.headers.get("content-encoding") == "gzip") is gzipped, (path, accept)
        assert raw.startswith(b"\x1f\x8b") is gzipped, (path, accept)
