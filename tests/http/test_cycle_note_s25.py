"""A cycle opened through the API without a calendar for a year whose common-chain months have all passed
(RKPD 2010 opened today) is opened — a past year may be recorded after the fact — but the answer says so,
as `cycle open` does: it came back looking like any other opening, with no window open and nobody told."""

from __future__ import annotations

import datetime as dt
import random

import asyncpg
import httpx

from tests.http.test_cycles import _calendar
from tests.http.test_staff import token, users  # noqa: F401  (module fixture)


async def test_an_opening_whose_every_window_has_ended_says_so(
    client: httpx.AsyncClient, app_pool: asyncpg.Pool, users: dict[str, str]  # noqa: F811
) -> None:
    admin = await token(client, users["admin"])
    taken = {r["year"] for r in await app_pool.fetch(  # never opened: a withdrawn year keeps its events
        "SELECT (data->>'year')::int AS year FROM events WHERE event_type = 'cycle.started'")}  # fmt: skip
    past, coming = (random.choice([y for y in span if y not in taken]) for span in (range(2001, 2016),
                                                                                     range(2081, 2091)))
    try:
        r = await client.post("/api/v1/cycles", json={"year": past, "theme": "Dicatat kemudian",
                                                       "priority_programs": [{"title": "Program satu"}]},
                              headers=admin)  # fmt: skip
        assert r.status_code == 201, r.text
        assert not any(window["open"] for window in r.json()["calendar"])
        assert f"setiap tahap kalender RKPD {past} sudah berakhir" in r.json()["note"], r.text
        assert "note" not in (await client.get(f"/api/v1/cycles/{past}")).json()  # the opening's answer only

        r = await client.post("/api/v1/cycles", json={"year": coming, "theme": "Tahun depan",
                                                       "priority_programs": [{"title": "Program satu"}],
                                                       "calendar": _calendar(dt.date(coming - 1, 1, 5))},
                              headers=admin)  # fmt: skip
        assert r.status_code == 201 and "note" not in r.json(), r.text
    finally:
        for year in (past, coming):  # withdrawn: other tests draw years from these ranges
            await client.post(f"/api/v1/cycles/{year}/cancel", json={"reason": "uji"}, headers=admin)
