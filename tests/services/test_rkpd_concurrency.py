"""Agencies working at once on a year's city level (one stream): nothing lost, nothing doubled, no line
id given twice, and retried commands written once."""

from __future__ import annotations

import asyncio

import asyncpg

from musrenbang.domain import rkpd as r
from musrenbang.domain.events import CityItem
from musrenbang.eventlog.store import EventStore, Metadata
from musrenbang.projections import all_projections
from musrenbang.projections.runner import ProjectionRunner
from musrenbang.services.rkpd import RkpdService
from tests.cycles import open_test_cycle

AGENCIES = ("DBMSDA", "DINKES", "DISDIK", "DLH")
CODES = {"DBMSDA": "1.03.10.2.01.0017", "DINKES": "1.02.02.2.01.0001", "DISDIK": "1.01.02.2.01.0009",
         "DLH": "2.11.03.2.01.0001"}  # fmt: skip


def line(agency: str, code: str) -> r.LineInput:
    return r.LineInput(agency=agency, origins=(code,), priority_program=1, sub_kegiatan_code=CODES[agency],
                       program="Program", kegiatan="Kegiatan", sub_kegiatan="Sub-kegiatan", funding_source="apbd_kota",
                       volume="1", unit="paket", pagu=1_000_000, output_indicator="Paket terlaksana", target="1",
                       target_unit="paket")  # fmt: skip


async def test_agencies_mapping_at_once_lose_nothing_and_never_share_an_id(
    store: EventStore, pool: asyncpg.Pool
) -> None:
    await open_test_cycle(store)
    rkpd = RkpdService(pool, store, ProjectionRunner(pool, all_projections()))
    items = tuple(
        CityItem(
            code=f"{agency[:3]}{n:05d}",
            title=f"Usulan {n}",
            kelurahan="32.75.01.1001",
            bidang="infrastruktur",
            cost=1_000_000,
            agency=agency,
            forum_id="KEC",
        )  # fmt: skip
        for agency in AGENCIES
        for n in range(10)
    )
    await rkpd.execute(2022, r.ReceiveProposals(year=2022, items=items), Metadata(role="admin"))

    async def map_one(item: CityItem) -> None:
        command = r.SetLine(line=line(item.agency, item.code), priority_programs=6, by_agency=item.agency)
        await rkpd.execute(2022, command, Metadata(actor=item.agency.lower(), role="opd"))

    await asyncio.gather(*(map_one(i) for i in items))
    state = await rkpd.load(2022)
    assert len(state.lines) == 40
    assert sorted(state.line_of) == sorted(i.code for i in items)
    for agency in AGENCIES:
        ids = sorted(x for x in state.lines if x.startswith(agency + "-"))
        assert ids == [f"{agency}-{n:03d}" for n in range(1, 11)]
    assert await pool.fetchval("SELECT count(*) FROM events WHERE stream_id = 'rkpd-2022'") == 41


async def test_a_retried_command_is_written_once_even_when_the_retries_race(
    store: EventStore, pool: asyncpg.Pool
) -> None:
    await open_test_cycle(store)
    rkpd = RkpdService(pool, store, ProjectionRunner(pool, all_projections()))
    item = CityItem(code="A0000001", title="Usulan", kelurahan="32.75.01.1001", bidang="infrastruktur", cost=1,
                    agency="DBMSDA", forum_id="KEC")  # fmt: skip
    await rkpd.execute(2022, r.ReceiveProposals(year=2022, items=(item,)), Metadata(role="admin"))
    command = r.SetLine(line=line("DBMSDA", item.code), priority_programs=6)
    results = await asyncio.gather(*(rkpd.execute(2022, command, Metadata(role="opd", fingerprint="same"),
                                                  idempotency_key="line-once") for _ in range(8)),
                                   return_exceptions=True)  # fmt: skip
    assert all(not isinstance(x, BaseException) for x in results), results
    assert len({x.positions for x in results}) == 1  # type: ignore[union-attr]
    assert await pool.fetchval("SELECT count(*) FROM events WHERE event_type = 'rkpd.line_set'") == 1
