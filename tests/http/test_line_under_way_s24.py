"""A line whose work has ended (finished, or dropped) is not withdrawn from the adopted RKPD, and a line
withdrawn since the adoption takes no milestone (review s24: a dropped line was withdrawn after its proposal
had been carried on to the next year; the proposal went into a new line and was adopted again, counted in
both years). A line under way may still be withdrawn in an amendment (tests/http/test_rkpd_api.py).
Through a real server on its own copy of the history (tests/http/test_realisation.py)."""

from __future__ import annotations

from tests.http.test_realisation import BASE, City, city  # noqa: F401  (module fixture)
from tests.http.test_rkpd_cache import LINE as RENJA_LINE


async def _adopted_renja_line(city: City, sub_kegiatan: str) -> str:  # noqa: F811
    added = await city.client.post(f"{BASE}/lines", json={**RENJA_LINE, "sub_kegiatan": sub_kegiatan},
                                   headers=city.auth["roads"])  # fmt: skip
    assert added.status_code == 201, added.text
    adopted = await city.client.post(f"{BASE}/adopt", json={"note": "baris Renja", "confirm_over_pagu": True},
                                     headers=city.auth["admin"])  # over Bekasi Timur's pagu: confirmed (s27)
    assert adopted.status_code == 200, adopted.text
    return added.json()["line_id"]


async def test_a_dropped_line_is_not_withdrawn(city: City) -> None:  # noqa: F811
    line = await _adopted_renja_line(city, "Pemeliharaan Rutin Jalan")
    dropped = await city.client.post(f"{BASE}/lines/{line}/milestones", headers=city.auth["roads"],
                                     json={"stage": "batal", "date": "2022-06-01", "note": "refocusing"})  # fmt: skip
    assert dropped.status_code == 201, dropped.text
    refused = await city.refused(409, f"{BASE}/lines/{line}/withdraw", "roads", json={"reason": "dialihkan"})
    message = refused.json()["message"]
    assert line in message and "«Dibatalkan»" in message, message
    english = await city.refused(409, f"{BASE}/lines/{line}/withdraw?lang=en", "admin", json={"reason": "x"})
    assert "«Cancelled»" in english.json()["message"], english.text
    # Nor changed (review s24: a PUT dropping an origin of a finished line gave it back, to be carried on).
    before = await city.events()
    changed = await city.client.put(f"{BASE}/lines/{line}", headers=city.auth["roads"],
                                    json={**RENJA_LINE, "sub_kegiatan": "Pemeliharaan Rutin Jalan", "pagu": 1_000_000,
                                          "reason": "pecah baris"})  # fmt: skip
    assert changed.status_code == 409 and "tidak dapat diubah atau ditarik" in changed.json()["message"], changed.text
    assert await city.events() == before


async def test_a_line_withdrawn_since_the_adoption_takes_no_milestone(city: City) -> None:  # noqa: F811
    line = await _adopted_renja_line(city, "Pemeliharaan Berkala Jalan")
    done = await city.client.post(f"{BASE}/lines/{line}/withdraw", json={"reason": "digabung dengan baris lain"},
                                  headers=city.auth["roads"])  # fmt: skip
    assert done.status_code == 200, done.text
    refused = await city.refused(404, f"{BASE}/lines/{line}/milestones", "roads",
                                 json={"stage": "kua_ppas", "date": "2022-01-05", "amount": 1_000_000})  # fmt: skip
    assert "sudah ditarik" in refused.json()["message"], refused.text
    staff_page = (await city.client.get(f"/petugas/realisasi/2022/{line}", headers=city.auth["roads"])).text
    assert "Baris ini ditarik dari RKPD sejak ditetapkan" in staff_page  # says so, and offers no form
    assert f'action="/petugas/realisasi/2022/{line}"' not in staff_page
    csv = f"baris,tahap,nilai,persen,tanggal,catatan\r\n{line},kua_ppas,1000000,,2022-01-05,\r\n"
    before = await city.events()
    r = await city.client.post(f"{BASE}/milestones", content=csv.encode(),
                               headers={**city.auth["roads"], "Content-Type": "text/csv"})  # fmt: skip
    assert r.status_code == 422 and await city.events() == before, r.text


async def test_the_same_progress_report_sent_again_is_recorded_once(city: City) -> None:  # noqa: F811
    """Review s24: a CSV row sent six times made six identical 'Under way, 80%' entries on every page and
    feed. The same report again (day, percentage, amount, note) is refused; anything new in it is not."""
    path, report = f"{BASE}/lines/DBMSDA-002/milestones", {"stage": "pelaksanaan", "date": "2022-09-01",
                                                            "progress": 60}  # fmt: skip
    first = await city.client.post(path, json=report, headers=city.auth["roads"])
    assert first.status_code == 201, first.text
    again = await city.refused(409, path, "roads", json=report)
    assert "laporan pelaksanaan 60% tanggal 1 September 2022 ini sudah tercatat" in again.json()["message"]
    csv = "baris,tahap,nilai,persen,tanggal,catatan\r\nDBMSDA-002,pelaksanaan,,60,2022-09-01,\r\n"
    before = await city.events()
    r = await city.client.post(f"{BASE}/milestones", content=csv.encode(),
                               headers={**city.auth["roads"], "Content-Type": "text/csv"})  # fmt: skip
    assert r.status_code == 422 and await city.events() == before, r.text
    noted = await city.client.post(path, json={**report, "note": "cor beton tahap dua"}, headers=city.auth["roads"])
    assert noted.status_code == 201, noted.text
