"""Adopting the RKPD over a kecamatan's pagu indikatif (review of a city's second year): it went through with no
question. Now the staff forms that adopt (closing Musrenbang Kota, adopting a change) name each kecamatan over
its pagu and by how much, and adopt only with the box ticked; the API refuses (422, `confirm_over_pagu`, naming
them) unless the request confirms. Within the pagu nothing more is asked. Through a real server on a database of
its own (tests/http/city_setup.py: Kecamatan Bekasi Timur, ceiling Rp 100 juta, six proposals forwarded). The
tests run in order on one history."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import pytest

from tests.http.city_setup import City, city_site, form_of
from tests.http.conftest import event_count
from tests.http.test_pages import hidden

pytestmark = pytest.mark.slow

API = "/api/v1/rkpd/2022"
PAGE = "/petugas/rkpd/2022"
KOTA = f"{API}/forums/musrenbang_kota"
POSYANDU = "Posyandu RW 06"
LINE = {"priority_program": 3, "sub_kegiatan_code": "1.03.03.2.01.0005",
        "program": "Program Pengelolaan Sumber Daya Air", "kegiatan": "Pengelolaan Sistem Drainase",
        "sub_kegiatan": "Rehabilitasi Saluran Drainase Lingkungan",
        "funding_source": "apbd_kota", "volume": "200", "unit": "meter", "pagu": 150_000_000,
        "output_indicator": "Panjang saluran", "target": "200", "target_unit": "meter"}  # fmt: skip
SCHEDULE = {"held_on": "2021-03-10", "place": "Aula Bappelitbangda", "chair": "Sekretaris Daerah",
            "participants": [{"name": "Perwakilan DBMSDA", "kind": "agency", "represents": "DBMSDA"}],
            "agenda": ["Pembukaan"]}  # fmt: skip


@pytest.fixture(scope="module")
async def city(server_url: str, template_name: str) -> AsyncIterator[City]:
    """Every proposal decided (the five of DBMSDA in one line of Rp 150 juta: Rp 50 juta over Bekasi Timur's
    pagu), the Forum Perangkat Daerah closed and the Musrenbang Kota scheduled."""
    accounts = {"admin": ("admin",), "dbmsda": ("opd", "--opd", "DBMSDA")}
    async with city_site(server_url, template_name, accounts, tokens=("admin", "dbmsda")) as c:
        admin = c.tokens["admin"]
        assert (await c.api.post(f"{API}/receive", headers=admin)).status_code == 200
        roads = [code for title, code in c.codes.items() if title != POSYANDU]
        r = await c.api.post(f"{API}/lines", json={**LINE, "origins": roads}, headers=c.tokens["dbmsda"])
        assert r.status_code == 201, r.text
        r = await c.api.post(f"{API}/proposals/{c.codes[POSYANDU]}/decline", json={"reason": "sudah dianggarkan"},
                             headers=admin)  # fmt: skip
        assert r.status_code == 200, r.text
        for forum in ("forum_pd", "musrenbang_kota"):
            assert (await c.api.post(f"{API}/forums/{forum}", json=SCHEDULE, headers=admin)).status_code == 200
        r = await c.api.post(f"{API}/forums/forum_pd/close", json={"minutes": "Disepakati."}, headers=admin)
        assert r.status_code == 200, r.text
        yield c


async def _adoptions(city: City) -> int:
    return int(await city.pool.fetchval("SELECT count(*) FROM events WHERE event_type = 'rkpd.adopted'"))


async def _revise(city: City, pagu: int) -> None:
    roads = [code for title, code in city.codes.items() if title != POSYANDU]
    change = {**LINE, "origins": roads, "pagu": pagu, "reason": "harga satuan"}
    r = await city.api.put(f"{API}/lines/DBMSDA-001", json=change, headers=city.tokens["dbmsda"])
    assert r.status_code == 200, r.text


def _fields(page: str, action: str, **typed: str) -> dict[str, str]:
    """The hidden fields of the form posting to `action`, with what is typed (or ticked)."""
    form = form_of(page, action)
    hidden_fields = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', form))
    return {"_csrf_token": hidden(page, "_csrf_token"), **hidden_fields, **typed}


async def test_closing_musrenbang_kota_over_a_pagu_through_the_api_needs_a_confirmation(city: City) -> None:
    before = await event_count(city.pool)
    r = await city.api.post(f"{KOTA}/close", json={"minutes": "RKPD disepakati."}, headers=city.tokens["admin"])
    assert r.status_code == 422, r.text  # was 200: adopted Rp 50 juta over Bekasi Timur's pagu, nothing asked
    said = r.json()["errors"]["confirm_over_pagu"]
    assert "melebihi pagu indikatif kecamatan" in said and "32.75.01 +Rp 50.000.000" in said, said
    assert await event_count(city.pool) == before


async def test_the_staff_page_names_each_kecamatan_over_its_pagu_and_adopts_only_when_ticked(city: City) -> None:
    admin = await city.as_("admin")
    review = await admin.get(PAGE)
    action = PAGE + "/forum/musrenbang_kota/tutup"
    form = form_of(review.text, action)
    assert "Bekasi Timur: lebih Rp 50.000.000" in form and 'name="confirm_over_pagu"' in form
    before = await event_count(city.pool)
    r = await admin.post(action, data=_fields(review.text, action, minutes="RKPD disepakati."))
    assert r.status_code == 422, r.text
    assert 'id="musrenbang_kota-confirm_over_pagu-error"' in r.text and "32.75.01 +Rp 50.000.000" in r.text
    assert await event_count(city.pool) == before
    ticked = _fields(review.text, action, minutes="RKPD disepakati.", confirm_over_pagu="1")
    assert (await admin.post(action, data=ticked)).status_code == 303
    assert await _adoptions(city) == 1


async def test_adopting_a_change_over_a_pagu_through_the_api_needs_confirm_over_pagu(city: City) -> None:
    await _revise(city, 130_000_000)
    before = await event_count(city.pool)
    r = await city.api.post(f"{API}/adopt", json={"note": "perubahan"}, headers=city.tokens["admin"])
    assert r.status_code == 422, r.text
    assert "32.75.01 +Rp 30.000.000" in r.json()["errors"]["confirm_over_pagu"], r.text
    assert await event_count(city.pool) == before
    r = await city.api.post(f"{API}/adopt", json={"note": "perubahan", "confirm_over_pagu": True},
                            headers=city.tokens["admin"])  # fmt: skip
    assert r.status_code == 200, r.text
    assert await _adoptions(city) == 2


async def test_the_adoption_form_asks_only_while_a_kecamatan_is_over_its_pagu(city: City) -> None:
    await _revise(city, 120_000_000)
    admin = await city.as_("admin")
    review = await admin.get(PAGE)
    action = PAGE + "/tetapkan"
    assert "Bekasi Timur: lebih Rp 20.000.000" in form_of(review.text, action)
    before = await event_count(city.pool)
    r = await admin.post(action, data=_fields(review.text, action, note="perubahan kedua"))
    assert r.status_code == 422 and 'id="confirm_over_pagu-error"' in r.text, r.text
    assert await event_count(city.pool) == before
    await _revise(city, 90_000_000)  # within the pagu: adopted as before, nothing more asked
    review = await admin.get(PAGE)
    assert 'name="confirm_over_pagu"' not in review.text and "lebih Rp" not in review.text
    r = await admin.post(action, data=_fields(review.text, action, note="perubahan ketiga"))
    assert r.status_code == 303, r.text
    assert await _adoptions(city) == 3
