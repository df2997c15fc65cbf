"""A proposal lives in one year at a time. Review s24: a line withdrawn after adoption left its proposals
undecided, so proposable again for the next year; one was carried on, then put into a new line of its old
year and adopted again, counted in both years. Now a line refuses a proposal carried on, and a carry-over
refuses a proposal that is in a line (unless the budget year dropped that line), each checking the log
under the year's city-level lock (services/rkpd.py, services/proposals.py). On the history's database
(tests/history.py: DBMSDA-002, from a0, a1 and b0, under way; RKPD 2023 taking proposals)."""

from __future__ import annotations

import asyncio

import msgspec
import pytest

from musrenbang.db.connect import create_pool
from musrenbang.domain import proposal as p
from musrenbang.domain import rkpd as r
from musrenbang.domain.errors import DomainError, ValidationFailed
from musrenbang.eventlog.store import Append, EventStore, Metadata
from musrenbang.projections import all_projections
from musrenbang.projections.runner import ProjectionRunner
from musrenbang.services import city as city_service
from musrenbang.services.locks import RKPD_LOCK
from musrenbang.services.proposals import ProposalService
from musrenbang.services.rkpd import RkpdService
from musrenbang.services.rkpd_streams import RKPD
from musrenbang.services.streams import load
from tests import history
from tests.waiting import waiting_for_lock

META = Metadata(actor="bappeda", role="admin")
LINE = r.LineInput(agency="DBMSDA", origins=(), priority_program=1, sub_kegiatan_code="1.03.10.2.01.0017",
                   program="Program Penyelenggaraan Jalan", kegiatan="Penyelenggaraan Jalan Kabupaten/Kota",
                   sub_kegiatan="Rehabilitasi Jalan", funding_source="apbd_kota", volume="300", unit="m",
                   pagu=9_000_000, output_indicator="Panjang jalan yang direhabilitasi", target="300",
                   target_unit="m")  # fmt: skip


def _line_of(origin: str) -> r.SetLine:
    return r.SetLine(line=msgspec.structs.replace(LINE, origins=(origin,)), priority_programs=6, reason="dipecah",
                     by_agency="DBMSDA")  # fmt: skip


async def _carry(proposals: ProposalService, earlier: str, key: str) -> p.Submitted:  # type: ignore[name-defined]
    content = await proposals.validate(p.ProposalInput(
        kelurahan=history.KELURAHAN_A, rw="4", rt="1", kind="fisik", bidang="infrastruktur", title="Jalan lagi",
        problem="Jalan rusak, belum tertangani", solution="Rehabilitasi jalan", beneficiaries="60", volume="10",
        unit="meter", estimated_cost="10 juta", address="Jl. Uji",
    ), year=history.NEXT_YEAR)  # fmt: skip
    return await proposals.submit(content, p.validate_proposer("Sri Wahyuningsih Lestari", "0812-9988-7766"),
                                  idempotency_key=key, request_fingerprint=key, year=history.NEXT_YEAR,
                                  carried_from=earlier)  # fmt: skip


async def test_a_proposal_is_carried_on_or_put_in_a_line_never_both(server_url: str, template_name: str) -> None:
    async with history.database(server_url, template_name) as (url, built):
        pool = await create_pool(url, min_size=1, max_size=5)
        try:
            store = EventStore(pool)
            runner = ProjectionRunner(pool, all_projections())
            proposals, rkpd = ProposalService(pool, store, b"k" * 32, runner), RkpdService(pool, store, runner)
            a0, a1 = built.codes[0], built.codes[1]
            await rkpd.execute(2022, r.WithdrawLine(line_id="DBMSDA-002", reason="dipecah"), META)  # an amendment
            await runner.catch_up_all()

            # Carried on first: no line of 2022 takes it any more.
            carried = await _carry(proposals, a0, "carry-a0")
            before = await pool.fetchval("SELECT count(*) FROM events")
            with pytest.raises(ValidationFailed) as refused:
                await rkpd.execute(2022, _line_of(a0), META)
            assert f"sudah diusulkan lagi sebagai {carried.code}" in str(refused.value.errors.get("origins"))
            assert await pool.fetchval("SELECT count(*) FROM events") == before

            # Put in a line while a carry-over of it, checked already on the read models, waits for the lock.
            async with pool.acquire() as conn:
                setting = conn.transaction()
                await setting.start()
                await conn.execute("SELECT pg_advisory_xact_lock($1, $2)", RKPD_LOCK, 2022)  # as a line's setting
                carrying = asyncio.create_task(_carry(proposals, a1, "carry-a1"))
                assert await waiting_for_lock(pool, RKPD_LOCK, 2022), "the carry-over did not wait for the lock"
                state, head = await load(store, RKPD, r.stream_id(2022), conn)
                city = await city_service.required(store, conn)
                events = r.decide(state, _line_of(a1), agencies=city.agencies_by_code)
                await store.append(Append(r.stream_id(2022), head, events), metadata=META, conn=conn)
                await setting.commit()
            with pytest.raises(DomainError, match="masuk baris RKPD DBMSDA-00[0-9] tahun 2022: tidak diusulkan lagi"):
                await carrying
            assert await pool.fetchval("SELECT count(*) FROM events") == before + 1  # the line's event only
        finally:
            await pool.close()
