"""Every kecamatan is a perangkat daerah (issue 14, part 3): set up with the city's other agencies, and
added — as a recorded change of the settings — to a city set up before they were."""

from __future__ import annotations

import msgspec

from musrenbang.db.connect import create_pool
from musrenbang.eventlog.store import EventStore, Metadata
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
    finally:
        await pool.close()
