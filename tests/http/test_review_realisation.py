"""A hostile review of the realisation pages and API through a real server (the history of
tests/http/test_realisation.py: DBMSDA-002 under way at 40% since 2022-05-02): what a spreadsheet or a
hurried agency sends that once changed what was recorded without a word — a note cut at its comma, rows
swallowed by an open quote, a contractor dropped from a progress report, a milestone recorded twice by a
double tap — is now refused with the field named, or recorded once."""

from __future__ import annotations

import contextlib

from tests.http import test_realisation
from tests.http.city_setup import sign_in
from tests.http.test_pages import hidden
from tests.http.test_realisation import BASE, LINE, City, _item
from tests.images import jpeg_with_gps

city = test_realisation.city  # the module's own copy of its history and server
HEADER = "baris,tahap,nilai,persen,tanggal,catatan"
PATH = f"{BASE}/lines/{LINE}/milestones"


async def _csv(city: City, body: str | bytes, status: int) -> dict:
    """The file posted as the roads agency: answered `status`, and nothing written."""
    before = await city.events()
    r = await city.client.post(f"{BASE}/milestones", content=body.encode() if isinstance(body, str) else body,
                               headers={**city.auth["roads"], "Content-Type": "text/csv"})  # fmt: skip
    assert r.status_code == status, r.text
    assert await city.events() == before
    return r.json()


async def test_a_row_with_more_cells_than_the_header_is_refused_not_cut(city: City) -> None:
    """An unquoted comma in a note made a seventh cell nobody read: the note was recorded cut short."""
    body = await _csv(city, f"{HEADER}\r\n{LINE},pelaksanaan,,41,2022-06-01,tiang terpasang, sisi utara\r\n", 422)
    assert set(body["errors"]) == {"2.catatan"}, body
    # A seventh cell under a seventh column (penyedia) on a progress report was dropped as well.
    body = await _csv(city, f"{HEADER},penyedia\r\n{LINE},pelaksanaan,,41,2022-06-01,ok,CV Maju\r\n", 422)
    assert set(body["errors"]) == {"2.penyedia"}, body


async def test_an_open_or_stray_quote_does_not_swallow_the_rows_after_it(city: City) -> None:
    """An unterminated quote made every later row part of one note, and those rows vanished silently."""
    rows = [HEADER, f'{LINE},pelaksanaan,,41,2022-06-01,"pipa 5 inci', f"{LINE},pelaksanaan,,42,2022-06-02,lanjut"]
    body = await _csv(city, "\r\n".join(rows) + "\r\n", 422)
    assert "tanda kutip" in body["message"] and "2" in body["message"], body
    body = await _csv(city, f'{HEADER}\r\n{LINE},pelaksanaan,,41,2022-06-01,"pipa" 5 inci\r\n', 422)
    assert "tanda kutip" in body["message"], body
    assert _item((await city.client.get(BASE)).json())["progress"] == 40


async def test_bytes_of_neither_encoding_refuse_the_file_rather_than_become_replacement_marks(city: City) -> None:
    """Windows-1252 leaves five bytes undefined; read with replacement they were recorded as U+FFFD."""
    row = f"{HEADER}\r\n{LINE},pelaksanaan,,41,2022-06-01,".encode()
    body = await _csv(city, row + b"pipa \x81 5 inci\r\n", 422)
    assert body["error"] == "unreadable_file" and "UTF-8" in body["message"], body
    assert _item((await city.client.get(BASE)).json())["progress"] == 40


async def test_another_agencys_photo_is_refused_before_it_is_decoded(city: City) -> None:
    """The line's agency was checked after the decode: another agency's uploads each cost a decode and a
    place in the address's hourly limit of decodes."""
    decodes = "SELECT coalesce(sum(n), 0) FROM rate_limit_windows WHERE bucket LIKE 'photos:%'"
    before = await city.pool.fetchval(decodes)
    for who, line in (("health", LINE), ("roads", "DBMSDA-999")):
        r = await city.client.post(f"{BASE}/lines/{line}/photos", headers=city.auth[who],
                                   files={"photo": ("kerja.jpg", jpeg_with_gps(), "image/jpeg")})  # fmt: skip
        assert r.status_code in (403, 404), r.text
    assert await city.pool.fetchval(decodes) == before
    r = await city.client.post(f"{BASE}/lines/{LINE}/photos", headers=city.auth["roads"],
                               files={"photo": ("kerja.jpg", jpeg_with_gps(), "image/jpeg")})  # fmt: skip
    assert r.status_code == 201 and await city.pool.fetchval(decodes) == before + 1


async def test_a_contractor_or_an_end_date_outside_a_contract_is_refused_not_dropped(city: City) -> None:
    r = await city.refused(422, PATH, "roads", json={"stage": "pelaksanaan", "date": "2022-06-01", "progress": 41,
                                                     "contractor": "CV Maju"})  # fmt: skip
    assert set(r.json()["errors"]) == {"contractor"}, r.text
    r = await city.refused(422, PATH, "roads", json={"stage": "pelaksanaan", "date": "2022-06-01", "progress": 41,
                                                     "ends": "2022-12-01"})  # fmt: skip
    assert set(r.json()["errors"]) == {"ends"} and "sebelum" not in r.text, r.text


async def test_the_same_photo_twice_is_one_photo_of_the_milestone(city: City) -> None:
    upload = await city.client.post(f"{BASE}/lines/{LINE}/photos", headers=city.auth["roads"],
                                    files={"photo": ("kerja.jpg", jpeg_with_gps(), "image/jpeg")})  # fmt: skip
    photo = upload.json()["photo_id"]
    r = await city.client.post(PATH, headers=city.auth["roads"], json={
        "stage": "pelaksanaan", "date": "2022-06-10", "progress": 50, "photos": [photo, photo]})  # fmt: skip
    assert r.status_code == 201, r.text
    assert _item((await city.client.get(BASE)).json())["milestones"][-1]["photos"] == [photo]


async def test_the_line_form_sent_twice_records_one_milestone(city: City) -> None:
    """A double tap on "Catat" (or a refresh of the answer) recorded the same progress report twice."""
    staff = await sign_in(city.base_url, city.users["roads"])
    async with contextlib.aclosing(staff):
        form = await staff.get(f"/petugas/realisasi/2022/{LINE}")
        fields = {"_csrf_token": hidden(form.text, "_csrf_token"),
                  "idempotency_key": hidden(form.text, "idempotency_key"), "stage": "pelaksanaan",
                  "date": "2022-06-11", "progress": "55", "note": "dobel"}  # fmt: skip
        before = await city.events()
        first = await staff.post(f"/petugas/realisasi/2022/{LINE}", data=fields)
        again = await staff.post(f"/petugas/realisasi/2022/{LINE}", data=fields)
        assert (first.status_code, again.status_code) == (303, 303), again.text[-2000:]
        assert await city.events() == before + 1
        # The same key with other fields is not the same submission: refused, nothing written.
        other = await staff.post(f"/petugas/realisasi/2022/{LINE}", data={**fields, "progress": "56"})
        assert other.status_code == 409 and "sudah dicatat sebelumnya" in other.text and 'value="56"' in other.text
        assert hidden(other.text, "idempotency_key") != fields["idempotency_key"]
        assert await city.events() == before + 1
        # A refused form keeps its key, so that its corrected resubmission is still recorded once.
        fresh = await staff.get(f"/petugas/realisasi/2022/{LINE}")
        key = hidden(fresh.text, "idempotency_key")
        wrong = await staff.post(f"/petugas/realisasi/2022/{LINE}", data={**fields, "idempotency_key": key,
                                                                          "progress": "10"})  # fmt: skip
        assert wrong.status_code == 422 and hidden(wrong.text, "idempotency_key") == key
        assert await city.events() == before + 1
