"""Dana Desa in a kota (review of a city's second year): Kota Bekasi has only kelurahan, so no line of its RKPD
may be paid from Dana Desa, which goes to desa alone. The agency's line form does not offer it, the API and the
form refuse it naming the field and write nothing, and a line recorded with it before still loads and shows
(an event is never taken back). A region with desa (a kabupaten) is offered it. Through a real server on a
database of its own (tests/http/city_setup.py: six proposals forwarded to the city for RKPD 2022)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import msgspec
import pytest

from musrenbang.db.connect import create_pool
from musrenbang.domain import agency
from musrenbang.domain import rkpd as rules
from musrenbang.domain.city import City as CitySettings
from musrenbang.domain.events import RkpdLineSet
from musrenbang.eventlog.store import Append, EventStore, Metadata
from musrenbang.reference import load_regions
from musrenbang.services import city as city_service
from musrenbang.services.rkpd import city_has_desa
from musrenbang.services.rkpd_streams import RKPD
from musrenbang.services.streams import load
from tests.http.city_setup import City, city_site, form_of
from tests.http.conftest import event_count
from tests.http.test_pages import hidden
from tests.waiting import eventually

pytestmark = pytest.mark.slow

API = "/api/v1/rkpd/2022"
AGENCY_PAGE = "/petugas/perangkat-daerah?tahun=2022"
ROADS = ("Jalan lingkungan RW 03", "Penerangan jalan RW 04")
LINE = {"priority_program": 1, "sub_kegiatan_code": "1.03.10.2.01.0017", "program": "Program Penyelenggaraan Jalan",
        "kegiatan": "Penyelenggaraan Jalan Kabupaten/Kota", "sub_kegiatan": "Rehabilitasi Jalan",
        "funding_source": "dana_desa", "volume": "300", "unit": "meter", "pagu": 20_000_000,
        "output_indicator": "Panjang jalan yang direhabilitasi", "target": "300", "target_unit": "meter"}  # fmt: skip


@pytest.fixture(scope="module")
async def city(server_url: str, template_name: str) -> AsyncIterator[City]:
    accounts = {"admin": ("admin",), "dbmsda": ("opd", "--opd", "DBMSDA")}
    async with city_site(server_url, template_name, accounts, tokens=("admin", "dbmsda")) as c:
        assert (await c.api.post(f"{API}/receive", headers=c.tokens["admin"])).status_code == 200
        yield c


def _offered(page: str) -> list[str]:
    """The values of the line form's funding source choices."""
    select = re.search(r'<select name="funding_source".*?</select>', page, re.S)
    assert select, "no funding source choice"
    return re.findall(r'<option value="([^"]*)"', select.group(0))


async def test_the_line_form_of_a_kota_does_not_offer_dana_desa(city: City) -> None:
    page = await (await city.as_("dbmsda")).get(AGENCY_PAGE)
    assert page.status_code == 200, page.text
    assert _offered(page.text) == ["apbd_kota", "apbd_provinsi", "apbn", "dana_kelurahan"]  # was with dana_desa


async def test_a_line_paid_from_dana_desa_in_a_kota_is_refused_naming_the_field(city: City) -> None:
    origins = [city.codes[t] for t in ROADS]
    before = await event_count(city.pool)
    r = await city.api.post(f"{API}/lines", json={**LINE, "origins": origins}, headers=city.tokens["dbmsda"])
    assert r.status_code == 422, r.text  # was 201: a kota line promised Dana Desa
    assert list(r.json()["errors"]) == ["funding_source"], r.text
    assert "Dana Desa hanya disalurkan ke desa" in r.json()["errors"]["funding_source"]
    browser = await city.as_("dbmsda")
    page = await browser.get(AGENCY_PAGE)
    action = "/petugas/perangkat-daerah/baris?tahun=2022"
    form = form_of(page.text, action)
    sent = {"_csrf_token": hidden(page.text, "_csrf_token"), "idempotency_key": hidden(form, "idempotency_key"),
            **{k: str(v) for k, v in LINE.items()}, "origins": origins, "pagu": "20.000.000"}  # fmt: skip
    r = await browser.post(action, data=sent)
    assert r.status_code == 422, r.text
    assert 'id="funding_source-error"' in r.text and "Dana Desa hanya disalurkan ke desa" in r.text
    assert await event_count(city.pool) == before


async def test_a_line_recorded_with_dana_desa_before_still_loads_and_shows(city: City) -> None:
    """Recorded as it was before the rule (an event as the rules once wrote it): it stays, shows as Dana Desa, and
    only a change to another source saves it again."""
    origins = tuple(city.codes[t] for t in ROADS)
    store = EventStore(city.pool)
    state, head = await load(store, RKPD, rules.stream_id(2022))
    settings: CitySettings = await city_service.required(store)
    line = rules.LineInput(agency="DBMSDA", origins=origins, **{**LINE, "pagu": 20_000_000,
                                                                "funding_source": "apbd_kota"})  # fmt: skip
    [made] = rules.decide(state, rules.SetLine(line=line, priority_programs=6), agencies=settings.agencies_by_code)
    assert isinstance(made, RkpdLineSet)  # today's rules refuse Dana Desa in a kelurahan (s28): recorded as before
    events = [msgspec.structs.replace(made, line=msgspec.structs.replace(made.line, funding_source="dana_desa"))]
    await store.append(Append(rules.stream_id(2022), head, events), metadata=Metadata(actor="lama", role="admin"))
    agency_headers = city.tokens["dbmsda"]

    async def working() -> list[dict]:
        return (await city.api.get(f"{API}/working", headers=agency_headers)).json()["lines"]

    [shown] = await eventually(working, "the line recorded before in the working list")
    assert shown["line"]["funding_source"] == "dana_desa"
    line_id = shown["line"]["line_id"]
    page = await (await city.as_("dbmsda")).get(f"/petugas/perangkat-daerah/baris/{line_id}?tahun=2022")
    assert page.status_code == 200, page.text
    assert '<option value="dana_desa" selected>Dana Desa</option>' in page.text  # kept, not silently replaced
    restated = {**LINE, "origins": list(origins), "reason": ""}
    before = await event_count(city.pool)
    r = await city.api.put(f"{API}/lines/{line_id}", json=restated, headers=agency_headers)
    assert r.status_code == 422 and "funding_source" in r.json()["errors"], r.text
    assert await event_count(city.pool) == before
    r = await city.api.put(f"{API}/lines/{line_id}", json={**restated, "funding_source": "apbd_kota"},
                           headers=agency_headers)  # fmt: skip
    assert r.status_code == 200, r.text


async def test_dana_desa_is_offered_where_the_region_has_desa(database_url: str) -> None:
    pool = await create_pool(database_url, min_size=1, max_size=1)
    try:
        async with pool.acquire() as conn:
            await load_regions(conn, "32.01")  # Kabupaten Bogor, beside Kota Bekasi's regions
            assert await city_has_desa(conn, "32.01") and not await city_has_desa(conn, "32.75")
    finally:
        await pool.close()
    assert agency.DANA_DESA in agency.funding_sources(True)
    assert agency.DANA_DESA not in agency.funding_sources(False)
