"""A retried opening or withdrawal of a cycle answers with its first result, as every retried command does,
unless what it did was undone since: an opening retried after the year was withdrawn, or a withdrawal
retried after the year was opened again, is 409 saying so (it answered 404 and 200 "cancelled" before,
each reading as the year's state now, and neither was)."""

from __future__ import annotations

import datetime as dt
import uuid

import asyncpg
import httpx

from tests.http.test_cycle_cancel_s23 import _open_some_year
from tests.http.test_cycles import _calendar
from tests.http.test_staff import token, users  # noqa: F401  (module fixture)


async def test_a_retry_after_its_work_was_undone_is_409_and_writes_nothing(
    client: httpx.AsyncClient, app_pool: asyncpg.Pool, users: dict[str, str]  # noqa: F811
) -> None:
    admin = await token(client, users["admin"])
    year = await _open_some_year(client, admin)
    body = {"year": year, "theme": "Tahun yang benar", "priority_programs": [{"title": "Program dua"}],
            "calendar": _calendar(dt.date(year - 1, 2, 1))}  # fmt: skip
    events = lambda: app_pool.fetchval("SELECT count(*) FROM events")  # noqa: E731
    keyed = lambda key: {**admin, "Idempotency-Key": key}  # noqa: E731
    cancel_key, open_key = str(uuid.uuid4()), str(uuid.uuid4())
    cancel = {"reason": "salah tahun"}
    first = await client.post(f"/api/v1/cycles/{year}/cancel", json=cancel, headers=keyed(cancel_key))
    assert first.status_code == 200, first.text
    retried = await client.post(f"/api/v1/cycles/{year}/cancel", json=cancel, headers=keyed(cancel_key))
    assert retried.status_code == 200 and retried.json()["cancelled"], retried.text  # still withdrawn: as first

    opened = await client.post("/api/v1/cycles", json=body, headers=keyed(open_key))
    assert opened.status_code == 201, opened.text
    before = await events()
    late_cancel = await client.post(f"/api/v1/cycles/{year}/cancel", json=cancel, headers=keyed(cancel_key))
    assert late_cancel.status_code == 409, late_cancel.text
    assert "dibuka lagi" in late_cancel.json()["message"] and str(year) in late_cancel.json()["message"]
    assert (await client.get(f"/api/v1/cycles/{year}")).status_code == 200  # still open
    same_open = await client.post("/api/v1/cycles", json=body, headers=keyed(open_key))
    assert same_open.status_code == 201 and same_open.json()["theme"] == "Tahun yang benar"  # open: as first

    withdrawn = await client.post(f"/api/v1/cycles/{year}/cancel", json={"reason": "lagi"}, headers=admin)
    assert withdrawn.status_code == 200, withdrawn.text
    before = await events()
    late_open = await client.post("/api/v1/cycles?lang=en", json=body, headers=keyed(open_key))
    assert late_open.status_code == 409, late_open.text
    assert "withdrawn" in late_open.json()["message"] and str(year) in late_open.json()["message"], late_open.text
    assert (await client.get(f"/api/v1/cycles/{year}")).status_code == 404  # not opened by the retry
    assert await events() == before

    # Opened again by another request: the first opening's retry does not answer with that cycle (review s24).
    other = {**body, "theme": "Tema permintaan lain"}
    assert (await client.post("/api/v1/cycles", json=other, headers=keyed(str(uuid.uuid4())))).status_code == 201
    before = await events()
    someone_elses = await client.post("/api/v1/cycles", json=body, headers=keyed(open_key))
    assert someone_elses.status_code == 409, someone_elses.text
    assert (await client.get(f"/api/v1/cycles/{year}")).json()["theme"] == "Tema permintaan lain"
    assert await events() == before
    # Left as found: the year withdrawn (other tests of this database open years at random).
    assert (await client.post(f"/api/v1/cycles/{year}/cancel", json={"reason": "selesai diuji"},
                              headers=admin)).status_code == 200  # fmt: skip
