"""A second review of realisation through a real server, on its own copy of the history (tests/history.py:
DBMSDA-002 budgeted Rp 48 juta in the APBD, 40% done and Rp 19 juta spent since 2022-05-02): an amount
spent beyond the budget or going down, a handover at 30%, a progress sent as text, an empty file, a day
that does not exist, a photo changed under a form's key and a photo for a finished line — each refused
with the field named, nothing written. The tests run in order: the last one finishes the line."""

from __future__ import annotations

import contextlib

from tests.http import test_realisation
from tests.http.city_setup import sign_in
from tests.http.test_pages import hidden
from tests.http.test_realisation import BASE, LINE, City, _item
from tests.images import jpeg_with_gps

city = test_realisation.city  # the module's own copy of its history and server
PATH = f"{BASE}/lines/{LINE}/milestones"
HEADER = "baris,tahap,nilai,persen,tanggal,catatan"


async def test_the_amount_spent_stays_within_the_budget_and_goes_down_only_with_a_reason(city: City) -> None:
    """99 trillion on a line budgeted Rp 48 juta, then Rp 1 after Rp 19 juta, were both recorded. Now the
    first is refused outright, the second without a reason in the note."""
    progress = {"stage": "pelaksanaan", "date": "2022-06-01", "progress": 45}
    r = await city.refused(422, PATH, "roads", json={**progress, "amount": 99_000_000_000_000})
    assert set(r.json()["errors"]) == {"amount"} and "48.000.000" in r.json()["errors"]["amount"], r.text
    r = await city.refused(422, PATH, "roads", json={**progress, "amount": 1})
    assert set(r.json()["errors"]) == {"note"} and "19.000.000" in r.json()["errors"]["note"], r.text
    # In a file too, row by row: the second row goes below what the first one reported.
    rows = [HEADER, f"{LINE},pelaksanaan,25000000,45,2022-06-01,ok", f"{LINE},pelaksanaan,20000000,46,2022-06-02,"]
    before = await city.events()
    r = await city.client.post(f"{BASE}/milestones", content="\r\n".join(rows).encode(),
                               headers={**city.auth["roads"], "Content-Type": "text/csv"})  # fmt: skip
    assert r.status_code == 422 and set(r.json()["errors"]) == {"3.catatan"}, r.text
    assert await city.events() == before
    # The budget itself, and the same amount again, are right.
    r = await city.client.post(PATH, headers=city.auth["roads"], json={**progress, "amount": 48_000_000})
    assert r.status_code == 201, r.text
    # (a later day: the very same report again is refused, tests/http/test_line_under_way_s24.py)
    r = await city.client.post(PATH, headers=city.auth["roads"],
                               json={**progress, "date": "2022-06-02", "amount": 48_000_000})  # fmt: skip
    assert r.status_code == 201, r.text
    assert _item((await city.client.get(BASE)).json())["spent"] == 48_000_000


async def test_a_handover_at_another_progress_than_100_is_refused_not_rewritten(city: City) -> None:
    r = await city.refused(422, PATH, "roads", json={"stage": "selesai", "date": "2022-08-01", "progress": 30})
    assert set(r.json()["errors"]) == {"progress"}, r.text


async def test_a_progress_or_an_amount_sent_as_text_is_refused(city: City) -> None:
    for field, value in (("progress", "80"), ("amount", "48000000")):
        body = {"stage": "pelaksanaan", "date": "2022-06-05", "progress": 50, field: value}
        r = await city.refused(422, PATH, "roads", json=body)
        assert field in r.json()["errors"], r.text


async def test_an_empty_file_or_a_header_alone_is_an_input_error(city: City) -> None:
    for body in (b"", f"{HEADER}\r\n".encode(), b"\r\n\r\n", b"baris,nilai\r\nx,1\r\n"):
        before = await city.events()
        r = await city.client.post(f"{BASE}/milestones", content=body,
                                   headers={**city.auth["roads"], "Content-Type": "text/csv"})  # fmt: skip
        assert r.status_code == 422, (body, r.text)
        assert await city.events() == before


async def test_a_day_that_does_not_exist_is_named_so(city: City) -> None:
    before = await city.events()
    body = f"{HEADER}\r\n{LINE},pelaksanaan,,50,31/02/2022,\r\n".encode()
    r = await city.client.post(f"{BASE}/milestones", content=body,
                               headers={**city.auth["roads"], "Content-Type": "text/csv"})  # fmt: skip
    assert r.status_code == 422, r.text
    assert "tidak ada di kalender" in r.json()["errors"]["2.tanggal"], r.text
    assert await city.events() == before


async def test_the_line_form_sent_again_with_another_photo_is_not_the_same_form(city: City) -> None:
    """The same key and text with another photo answered "recorded" and the new photo was dropped."""
    staff = await sign_in(city.base_url, city.users["roads"])
    async with contextlib.aclosing(staff):
        form = await staff.get(f"/petugas/realisasi/2022/{LINE}")
        fields = {"_csrf_token": hidden(form.text, "_csrf_token"),
                  "idempotency_key": hidden(form.text, "idempotency_key"), "stage": "pelaksanaan",
                  "date": "2022-06-11", "progress": "55", "note": "foto"}  # fmt: skip
        before = await city.events()
        path = f"/petugas/realisasi/2022/{LINE}"
        first = await staff.post(path, data=fields, files={"foto": ("a.jpg", jpeg_with_gps(), "image/jpeg")})
        assert first.status_code == 303, first.text[-2000:]
        assert await city.events() == before + 1
        photos = await city.pool.fetchval("SELECT count(*) FROM photos")
        # The same photo again is the same form: answered like the first, nothing new.
        again = await staff.post(path, data=fields, files={"foto": ("a.jpg", jpeg_with_gps(), "image/jpeg")})
        assert again.status_code == 303, again.text[-2000:]
        other = jpeg_with_gps(color="darkred")
        changed = await staff.post(path, data=fields, files={"foto": ("b.jpg", other, "image/jpeg")})
        assert changed.status_code == 409 and "sudah dicatat sebelumnya" in changed.text, changed.text[-2000:]
        assert await city.events() == before + 1
        assert await city.pool.fetchval("SELECT count(*) FROM photos") == photos


async def test_no_photo_is_taken_for_a_finished_line(city: City) -> None:
    """A photo uploaded for a finished line was kept, though no milestone can ever show it."""
    # Finished: at Rp 0 after Rp 48 juta spent refused, then at the budget.
    r = await city.refused(422, PATH, "roads", json={"stage": "selesai", "date": "2022-09-30", "amount": 0})
    assert set(r.json()["errors"]) == {"note"}, r.text
    handover = {"stage": "selesai", "date": "2022-09-30", "progress": 100, "amount": 48_000_000}
    r = await city.client.post(PATH, headers=city.auth["roads"], json=handover)
    assert r.status_code == 201, r.text
    decodes = "SELECT coalesce(sum(n), 0) FROM rate_limit_windows WHERE bucket LIKE 'photos:%'"
    counted, photos = await city.pool.fetchval(decodes), await city.pool.fetchval("SELECT count(*) FROM photos")
    r = await city.refused(409, f"{BASE}/lines/{LINE}/photos", "roads",
                           files={"photo": ("kerja.jpg", jpeg_with_gps(color="olive"), "image/jpeg")})  # fmt: skip
    assert "selesai" in r.json()["message"], r.text
    assert await city.pool.fetchval(decodes) == counted
    assert await city.pool.fetchval("SELECT count(*) FROM photos") == photos
