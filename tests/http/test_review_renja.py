"""Review of the agencies' Renja screens at the Forum Perangkat Daerah (`/petugas/perangkat-daerah`), through a
real server on a database of its own (tests/http/city_setup.py): forms sent twice, a stale tab, errors shown
in the wrong form or not read with their field. The tests run in order on one history."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import msgspec
import pytest

from tests.http.city_setup import KELURAHAN, City, city_site, form_of
from tests.http.conftest import event_count
from tests.http.test_city_pages import line_form
from tests.http.test_pages import hidden
from tests.http.test_staff import PASSWORD

pytestmark = pytest.mark.slow

AGENCY = "/petugas/perangkat-daerah"
RENJA = {
    "origins": [], "renja_reason": "Renstra DBMSDA: pemeliharaan saluran", "priority_program": 1,
    "sub_kegiatan_code": "1.03.03.2.01.0005", "program": "Program Pengelolaan Sumber Daya Air",
    "kegiatan": "Pengelolaan dan Pengembangan Sistem Drainase", "sub_kegiatan": "Pemeliharaan Saluran Drainase",
    "funding_source": "apbd_kota", "volume": "300", "unit": "meter", "pagu": 30_000_000,
    "output_indicator": "Panjang saluran yang dipelihara", "target": "300", "target_unit": "meter",
}  # fmt: skip


@pytest.fixture(scope="module")
async def city(server_url: str, template_name: str) -> AsyncIterator[City]:
    """Bappeda has taken up the kecamatan's results: six proposals wait for DBMSDA and DINKES."""
    accounts = {"admin": ("admin",), "dbmsda": ("opd", "--opd", "DBMSDA"), "dinkes": ("opd", "--opd", "DINKES")}
    async with city_site(server_url, template_name, accounts) as c:
        admin = await c.as_("admin")
        csrf = hidden((await admin.get("/petugas/rkpd/2022")).text, "_csrf_token")
        r = await admin.post("/petugas/rkpd/2022/terima", data={"_csrf_token": csrf})
        assert r.status_code == 303
        yield c


def _fields(form: str) -> dict[str, str]:
    """The hidden fields of one form, as a browser sends them back."""
    names = ("_csrf_token", "idempotency_key", "opd", "version")
    return {name: hidden(form, name) for name in names if f'name="{name}"' in form}


def _line(form: str, origins: list[str], **changes: str) -> dict[str, object]:
    """A line form as an operator fills it in (tests/http/test_city_pages.py), with all its hidden fields."""
    return {**line_form(form, origins, **changes), **_fields(form)}


async def _events(city: City) -> int:
    return await event_count(city.pool)


async def test_a_proposal_passed_or_declined_by_a_double_tap_answers_as_the_first_time(city: City) -> None:
    """The second tap of "Alihkan" answered 403 (the proposal was another agency's by then) and of "Nyatakan
    tidak diakomodasi" 409 (declined already), each for what had just worked."""
    client = await city.as_("dbmsda")
    page = (await client.get(AGENCY)).text
    for title, action, body in (
        ("Penerangan jalan RW 04", "alihkan", {"to_agency": "DISPERKIMTAN", "reason": "penerangan jalan lingkungan"}),
        ("Turap kali RW 05", "tolak", {"reason": "sudah dianggarkan tahun berjalan"}),
    ):
        url = f"{AGENCY}/usulan/{city.codes[title]}/{action}?tahun=2022"
        sent = {**_fields(form_of(page, url)), **body}
        before = await _events(city)
        first = await client.post(url, data=sent)
        second = await client.post(url, data=sent)
        assert first.status_code == second.status_code == 303, (action, second.status_code, second.text[-600:])
        assert first.headers["location"] == second.headers["location"]
        assert await _events(city) == before + 1
        # The same form from another agency's account is not taken for a retry of it.
        dinkes = await city.as_("dinkes")
        token = hidden((await dinkes.get(AGENCY)).text, "_csrf_token")
        assert (await dinkes.post(url, data={**sent, "_csrf_token": token})).status_code == 403
        assert await _events(city) == before + 1
        # Back, another reason, sent again: nothing more is done, and the page says so in Indonesian.
        again = await client.post(url, data={**sent, "reason": "alasan lain"})
        assert again.status_code == 409, again.text[-600:]
        assert "formulir ini sudah terkirim sebelumnya" in again.text and "Idempotency" not in again.text
        assert await _events(city) == before + 1
    assert await city.pool.fetchval("SELECT agency FROM rkpd_items WHERE code = $1",
                                    city.codes["Penerangan jalan RW 04"]) == "DISPERKIMTAN"  # fmt: skip


async def test_a_line_form_sent_twice_makes_one_line_and_sent_again_changed_says_which(city: City) -> None:
    """A new line's form sent again after a change (Back, edit, send) answered a bare 409 page about an
    "Idempotency-Key", with everything typed lost."""
    client = await city.as_("dbmsda")
    page = (await client.get(AGENCY)).text
    url = f"{AGENCY}/baris?tahun=2022"
    body = _line(form_of(page, url), [city.codes["Perbaikan saluran RW 01"]])
    before = await _events(city)
    first = await client.post(url, data=body)
    second = await client.post(url, data=body)
    assert first.status_code == second.status_code == 303, second.text[-600:]
    assert await _events(city) == before + 1
    assert await city.pool.fetchval("SELECT count(*) FROM rkpd_lines") == 1
    again = await client.post(url, data={**body, "pagu": "19 juta"})
    assert again.status_code == 409
    assert "formulir ini sudah terkirim dan membuat baris DBMSDA-001" in again.text
    assert 'value="19 juta"' in again.text and "Idempotency" not in again.text  # what was typed is kept
    assert await _events(city) == before + 1


async def test_a_stale_tab_does_not_undo_a_change_made_in_another(city: City) -> None:
    """Two tabs on the same line: the second to save silently put back what the first had changed."""
    client = await city.as_("dbmsda")
    url = f"{AGENCY}/baris/DBMSDA-001?tahun=2022"
    origins = [city.codes["Perbaikan saluran RW 01"]]
    tab_a = (await client.get(url)).text
    tab_b = (await client.get(url)).text
    changed = _line(form_of(tab_b, url), origins, pagu="21 juta")
    first = await client.post(url, data=changed)
    assert first.status_code == 303
    assert (await client.post(url, data=changed)).status_code == 303  # the same save, tapped twice
    before = await _events(city)
    stale = await client.post(url, data=_line(form_of(tab_a, url), origins, pagu="20 juta", volume="150"))
    assert stale.status_code == 409, stale.text[-600:]
    assert "baris ini sudah diubah sejak halaman ini dibuka" in stale.text
    assert "Rp 21.000.000" in stale.text  # the line as it is now
    assert 'value="20 juta"' in stale.text and 'value="150"' in stale.text  # what was typed, kept
    assert await _events(city) == before
    assert await city.pool.fetchval("SELECT (line->>'pagu')::bigint FROM rkpd_lines WHERE line_id = 'DBMSDA-001'") \
        == 21_000_000  # fmt: skip
    # Seen the change: saving again overwrites it on purpose.
    again = await client.post(url, data=_line(form_of(stale.text, url), origins, pagu="20 juta"))
    assert again.status_code == 303, again.text[-600:]
    assert await city.pool.fetchval("SELECT (line->>'pagu')::bigint FROM rkpd_lines WHERE line_id = 'DBMSDA-001'") \
        == 20_000_000  # fmt: skip
    # Saved, then Back, another pagu, sent again: said so, with the line as it is now; then saved on purpose.
    sent = _line(form_of((await client.get(url)).text, url), origins, pagu="22 juta")
    assert (await client.post(url, data=sent)).status_code == 303
    back = await client.post(url, data={**sent, "pagu": "23 juta"})
    assert back.status_code == 409, back.text[-600:]
    assert "formulir ini sudah terkirim dan menyimpan baris DBMSDA-001" in back.text and "Rp 22.000.000" in back.text
    assert 'value="23 juta"' in back.text
    assert (await client.post(url, data=_line(form_of(back.text, url), origins, pagu="23 juta"))).status_code == 303
    assert await city.pool.fetchval("SELECT (line->>'pagu')::bigint FROM rkpd_lines WHERE line_id = 'DBMSDA-001'") \
        == 23_000_000  # fmt: skip


async def test_a_mistake_in_one_form_shows_with_that_form_only_and_is_read_with_its_field(city: City) -> None:
    """A reason missing when passing a proposal on was shown in the new line's form as well (its "Alasan
    perubahan", with a second `reason-error`); the errors of the pass, decline and withdraw forms were not
    tied to their fields (aria-describedby), nor the origins' to their fieldset."""
    client = await city.as_("dbmsda")
    page = (await client.get(AGENCY)).text
    code = city.codes["Jalan lingkungan RW 03"]
    for action, field in (("alihkan", f"pass-reason-{code}"), ("tolak", f"decline-reason-{code}")):
        url = f"{AGENCY}/usulan/{code}/{action}?tahun=2022"
        r = await client.post(url, data={**_fields(form_of(page, url)), "to_agency": "DISPERKIMTAN", "reason": " "})
        assert r.status_code == 422
        assert "error" not in form_of(r.text, f"{AGENCY}/baris?tahun=2022")  # the line form has no mistake
        assert re.search(rf'id="{field}"[^>]*aria-describedby="{field}-error"', r.text)
        assert f'id="{field}-error"' in r.text and "tulis alasannya" in r.text
    url = f"{AGENCY}/usulan/{code}/alihkan?tahun=2022"
    r = await client.post(url, data={**_fields(form_of(page, url)), "to_agency": "", "reason": "x"})
    assert re.search(rf'id="to-{code}"[^>]*aria-describedby="to-{code}-error"', r.text)
    assert f'id="to-{code}-error"' in r.text
    line_url = f"{AGENCY}/baris?tahun=2022"
    r = await client.post(line_url, data=_line(form_of(page, line_url), []))
    assert r.status_code == 422
    assert re.search(r'id="origins" aria-describedby="origins-hint origins-error"', r.text)
    edit = (await client.get(f"{AGENCY}/baris/DBMSDA-001?tahun=2022")).text
    withdraw = f"{AGENCY}/baris/DBMSDA-001/tarik?tahun=2022"
    r = await client.post(withdraw, data={**_fields(form_of(edit, withdraw)), "reason": ""})
    assert r.status_code == 422
    assert re.search(r'id="withdraw-reason"[^>]*aria-describedby="withdraw-reason-error"', r.text)
    assert 'id="withdraw-reason-error"' in r.text


async def test_a_line_withdrawn_by_a_double_tap_answers_as_the_first_time(city: City) -> None:
    """The second tap of "Tarik baris" answered 404: the line was gone, withdrawn by the first."""
    client = await city.as_("dbmsda")
    edit = (await client.get(f"{AGENCY}/baris/DBMSDA-001?tahun=2022")).text
    url = f"{AGENCY}/baris/DBMSDA-001/tarik?tahun=2022"
    sent = {**_fields(form_of(edit, url)), "reason": "digabung dengan baris lain"}
    before = await _events(city)
    first = await client.post(url, data=sent)
    second = await client.post(url, data=sent)
    assert first.status_code == second.status_code == 303, second.text[-600:]
    assert first.headers["location"] == second.headers["location"]
    assert await _events(city) == before + 1
    assert "Baris DBMSDA-001 ditarik" in (await client.get(second.headers["location"])).text


async def test_a_renja_line_given_proposals_on_its_page_takes_their_places(city: City) -> None:
    """A Renja line (with the places it serves) turned into a line from proposals on its page: refused with
    "perbaiki isian yang ditandai" and nothing marked, since its places went back as hidden fields."""
    client = await city.as_("dbmsda")
    login = {"username": city.users["dbmsda"], "password": PASSWORD}
    bearer = (await client.post("/api/v1/auth/token", json=login)).json()["token"]
    renja = {**RENJA, "locations": ["32.75.01.1002"]}
    r = await client.post("/api/v1/rkpd/2022/lines", json=renja, headers={"Authorization": f"Bearer {bearer}"})
    assert r.status_code == 201, r.text
    line_id = r.json()["line_id"]
    url = f"{AGENCY}/baris/{line_id}?tahun=2022"
    edit = (await client.get(url)).text
    assert 'name="locations" value="32.75.01.1002"' in edit
    form = form_of(edit, url)
    body = _line(form, [city.codes["Perbaikan saluran RW 02"]], renja_reason="")
    body["locations"] = re.findall(r'name="locations" value="([^"]+)"', form)
    r = await client.post(url, data=body)
    assert r.status_code == 303, re.findall(r'class="error"[^>]*>[^<]*', r.text)
    places = await city.pool.fetchval("SELECT line->'locations' FROM rkpd_lines WHERE line_id = $1", line_id)
    assert msgspec.json.decode(places) == [KELURAHAN]  # the proposal's kelurahan
