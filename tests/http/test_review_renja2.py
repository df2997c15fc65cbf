"""Review of the agencies' Renja screens at the Forum Perangkat Daerah (`/petugas/perangkat-daerah`), second
round, through a real server on a database of its own (tests/http/city_setup.py): Bappeda's line form that
names no agency, a line withdrawn in another tab, and bounds that did not say where they lie. The tests run
in order on one history."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import pytest

from tests.http.city_setup import KELURAHAN, City, city_site, form_of
from tests.http.conftest import event_count
from tests.http.test_city_pages import line_form
from tests.http.test_pages import hidden

pytestmark = pytest.mark.slow

AGENCY = "/petugas/perangkat-daerah"
NEW_LINE = f"{AGENCY}/baris?tahun=2022"
RENJA = {"renja_reason": "Renstra DBMSDA: pemeliharaan saluran"}


@pytest.fixture(scope="module")
async def city(server_url: str, template_name: str) -> AsyncIterator[City]:
    """Bappeda has taken up the kecamatan's results: the proposals wait for DBMSDA and DINKES."""
    accounts = {"admin": ("admin",), "dbmsda": ("opd", "--opd", "DBMSDA")}
    async with city_site(server_url, template_name, accounts) as c:
        admin = await c.as_("admin")
        csrf = hidden((await admin.get("/petugas/rkpd/2022")).text, "_csrf_token")
        assert (await admin.post("/petugas/rkpd/2022/terima", data={"_csrf_token": csrf})).status_code == 303
        yield c


def _renja_line(page: str, **changes: object) -> dict[str, object]:
    """The new line's form of `page` filled in as a Renja line (no proposal), with its hidden fields."""
    form = form_of(page, NEW_LINE)
    return {**line_form(form, [], **RENJA), **changes}


async def _lines(city: City) -> list[str]:
    return [r["line_id"] for r in await city.pool.fetch("SELECT line_id FROM rkpd_lines ORDER BY line_id")]


def _error(page: str, field: str) -> str:
    found = re.search(rf'id="{field}-error"[^>]*>([^<]*)<', page)
    assert found, f"no error shown for {field}"
    return found.group(1)


async def test_bappedas_line_form_that_names_no_agency_is_refused_and_records_nothing(city: City) -> None:
    """Bappeda's "Buat baris" without its hidden `opd` (or naming no agency of the city) recorded the line
    for the first agency of the city: right for which page to show, wrong for what to write."""
    admin = await city.as_("admin")
    page = (await admin.get(f"{AGENCY}?opd=DBMSDA")).text
    body = _renja_line(page)
    assert body["opd"] == "DBMSDA"
    before, lines = await event_count(city.pool), await _lines(city)
    for opd in (None, "", "BUKAN-DINAS"):
        sent = {k: v for k, v in body.items() if k != "opd"} | ({} if opd is None else {"opd": opd})
        r = await admin.post(NEW_LINE, data={**sent, "idempotency_key": f"{body['idempotency_key']}-{opd}"})
        assert r.status_code == 400, (opd, r.status_code, r.text[-600:])
        assert "tidak menyebut perangkat daerah yang dikenal" in r.text
    assert await event_count(city.pool) == before and await _lines(city) == lines
    # The form as the page made it still makes the line, for the agency it names.
    assert (await admin.post(NEW_LINE, data=body)).status_code == 303
    assert await _lines(city) == [*lines, "DBMSDA-001"]
    # An agency's own account needs no `opd`: its line is its own.
    dbmsda = await city.as_("dbmsda")
    own = _renja_line((await dbmsda.get(AGENCY)).text)
    del own["opd"]
    assert (await dbmsda.post(NEW_LINE, data=own)).status_code == 303
    assert await _lines(city) == [*lines, "DBMSDA-001", "DBMSDA-002"]


async def test_a_line_withdrawn_in_another_tab_says_so_and_nothing_is_written(city: City) -> None:
    """A tab left open on a line withdrawn meanwhile (in another tab, or by Bappeda) answered a bare "halaman
    tidak ditemukan" when reloaded, saved or withdrawn again."""
    client = await city.as_("dbmsda")
    url = f"{AGENCY}/baris/DBMSDA-002?tahun=2022"
    withdraw = f"{AGENCY}/baris/DBMSDA-002/tarik?tahun=2022"
    stale = (await client.get(url)).text
    other = (await client.get(url)).text
    sent = {"_csrf_token": hidden(other, "_csrf_token"), "opd": "DBMSDA", "reason": "digabung dengan baris lain",
            "idempotency_key": hidden(form_of(other, withdraw), "idempotency_key")}  # fmt: skip
    assert (await client.post(withdraw, data=sent)).status_code == 303
    before = await event_count(city.pool)
    edit = {**line_form(form_of(stale, url), [], **RENJA, pagu="31 juta"),
            "version": hidden(form_of(stale, url), "version")}  # fmt: skip
    again = {**sent, "idempotency_key": hidden(form_of(stale, withdraw), "idempotency_key"), "reason": "lagi"}
    admin = await city.as_("admin")
    for who, answer in (
        ("reloaded", await client.get(url)),
        ("saved", await client.post(url, data=edit)),
        ("withdrawn again", await client.post(withdraw, data=again)),
        ("opened by Bappeda", await admin.get(url)),
    ):
        assert answer.status_code == 410, (who, answer.status_code, answer.text[-600:])
        assert "Baris DBMSDA-002 sudah ditarik; tidak ada yang diubah" in answer.text, who
        assert 'id="l-DBMSDA-001"' in answer.text, who  # the agency's page, with the lines it has now
    assert await event_count(city.pool) == before
    assert await _lines(city) == ["DBMSDA-001"]
    # A line that never was is still not found.
    assert (await client.get(f"{AGENCY}/baris/DBMSDA-999?tahun=2022")).status_code == 404
    assert (await client.post(f"{AGENCY}/baris/DBMSDA-999/tarik?tahun=2022", data=again)).status_code == 404
    assert await event_count(city.pool) == before


async def test_a_line_out_of_bounds_is_told_where_the_bounds_lie(city: City) -> None:
    """A pagu or a volume too large was told "pagu harus lebih dari nol dan masuk akal" or "volume berupa angka
    lebih dari nol", too many places "lokasi berupa kode kelurahan atau desa": none said where the limit lies."""
    client = await city.as_("dbmsda")
    page = (await client.get(AGENCY)).text
    before = await event_count(city.pool)
    r = await client.post(NEW_LINE, data=_renja_line(page, pagu="2.000 miliar", volume="60.000.000.000",
                                                     target="60.000.000.000", program="p" * 501))  # fmt: skip
    assert r.status_code == 422, r.text[-600:]
    assert _error(r.text, "pagu") == "pagu harus lebih dari nol dan paling banyak Rp 1.000.000.000.000"
    assert _error(r.text, "volume") == "volume berupa angka lebih dari nol dan paling banyak 50.000.000.000"
    assert _error(r.text, "target").startswith("target berupa angka lebih dari nol dan paling banyak 50.000.000.000")
    assert _error(r.text, "program") == "terlalu panjang: paling banyak 500 huruf"
    assert 'value="2.000 miliar"' in r.text  # what was typed is kept
    # A place named over and over (the form sends them back as hidden fields) is one of the places counted.
    r = await client.post(NEW_LINE, data=_renja_line(page, locations=[KELURAHAN] * 201))
    assert r.status_code == 422, r.text[-600:]
    assert _error(r.text, "locations") == "paling banyak 200 lokasi"
    assert await event_count(city.pool) == before
