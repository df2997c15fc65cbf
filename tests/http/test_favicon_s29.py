"""The site's icon: every page names it, and `/favicon.ico` (what a browser asks for on a page that names
none: a Berita Acara, the projector screen) answers it instead of a 404 on every page load."""

from __future__ import annotations

import httpx


async def test_pages_name_the_icon_and_favicon_ico_answers_it(client: httpx.AsyncClient) -> None:
    home = await client.get("/")
    assert '<link rel="icon" href="/static/favicon.svg" type="image/svg+xml">' in home.text
    linked = await client.get("/static/favicon.svg")
    asked = await client.get("/favicon.ico")
    for r in (linked, asked):
        assert r.status_code == 200 and r.headers["content-type"].startswith("image/svg+xml"), r.headers
        assert r.content.startswith(b"<svg") and b"<script" not in r.content
    again = await client.get("/favicon.ico", headers={"If-None-Match": asked.headers["etag"]})
    assert again.status_code == 304
