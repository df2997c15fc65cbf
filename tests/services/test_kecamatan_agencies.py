"""Every kecamatan is a perangkat daerah (issue 14, part 3): set up with the city's other agencies, and
added — as a recorded change of the settings — to a city set up before they were."""

from __future__ import annotations

import msgspec

from musrenbang.audit import against
from musrenbang.db.connect import create_pool
from musrenbang.domain import city
from musrenbang.domain.events import CityAgency
from musrenbang.eventlog.store import EventStore, Metadata
from musrenbang.projections import all_projections
from musrenbang.projections import city as city_views
from musrenbang.projections.runner import ProjectionRunner
from musrenbang.reference import city_settings
from musrenbang.services import bootstrap
from musrenbang.services import city as city_service


async def test_a_city_set_up_before_gets_its_kecamatan_as_agencies_once(empty_database_url: str) -> None:
    pool = await create_pool(empty_database_url, min_size=1, max_size=2)
    try:
        store = EventStore(pool)
        async with pool.acquire() as conn:
            await bootstrap.migrate(conn)
        fresh = city_settings()
        assert sum(1 for a in fresh.agencies if a.kecamatan) == 12  # Kota Bekasi's twelve, from the start
        before = msgspec.structs.replace(fresh, agencies=tuple(a for a in fresh.agencies if not a.kecamatan))
        await city_service.configure(store, before, Metadata(actor="uji", role="system"))
        for _ in range(2):  # every start; only the first changes anything
            state = await bootstrap.set_up_city(store)
        timur = [a for a in state.agencies if a.kecamatan == "32.75.01"]
        assert [(a.code, a.name, a.urusan) for a in timur] == [("KEC_BEKASI_TIMUR", "Kecamatan Bekasi Timur",
                                                                ("7.01",))]  # fmt: skip
        assert await pool.fetchval("SELECT count(*) FROM events WHERE event_type = 'city.configured'") == 2
        # The read model pages decide with knows them too.
        await ProjectionRunner(pool, all_projections()).catch_up_all()
        async with pool.acquire() as conn:
            read = await city_views.settings(conn)
        assert {a.code: a.kecamatan for a in read.agencies}["KEC_BEKASI_TIMUR"] == "32.75.01"
    finally:
        await pool.close()


def test_a_kecamatan_the_settings_list_already_is_tagged_not_added_twice() -> None:
    listed = msgspec.structs.replace(city_settings(), agencies=(
        CityAgency(code="DISDIK", name="Dinas Pendidikan", urusan=("1.01",)),
        CityAgency(code="KEC_BEKASI_TIMUR", name="Kecamatan Bekasi Timur", urusan=("7.01",)),
    ))  # fmt: skip
    upgraded = city.with_kecamatan(listed, [("32.75.01", "Bekasi Timur"), ("32.75.02", "Bekasi Barat")])
    assert [(a.code, a.kecamatan) for a in upgraded.agencies] == [
        ("DISDIK", ""), ("KEC_BEKASI_TIMUR", "32.75.01"), ("KEC_BEKASI_BARAT", "32.75.02")]
    assert city.with_kecamatan(upgraded, [("32.75.01", "Bekasi Timur")]) is upgraded  # nothing to do: same


def test_an_auditor_recomputing_against_a_server_reads_a_renja_lines_reason() -> None:
    item = {"id": "DBMSDA-009", "agency": "DBMSDA", "origins": [], "locations": [{"kode": "32.75.01.1001"}],
            "priority_program": 1, "sub_kegiatan_code": "1.03.10.2.01.0017", "nomenclature": "x", "program": "p",
            "kegiatan": "k", "sub_kegiatan": "s", "funding_source": "apbd_kota", "volume": "1", "unit": "km",
            "pagu": 5, "output_indicator": "o", "target": "1", "target_unit": "km", "renja_reason": "Renstra"}
    assert against._line(item).renja_reason == "Renstra"
