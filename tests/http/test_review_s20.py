"""Small findings of the s20 reviews, through the real server."""

from __future__ import annotations

import uuid

import httpx

from tests.cycles import open_test_cycle_at
from tests.http.conftest import payload
from tests.http.test_staff import KELURAHAN
from tests.server import serving


async def test_a_later_years_proposal_is_not_offered_again_for_an_earlier_year(database_url: str) -> None:
    """`/usulan/baru?lanjutan=KODE&tahun=2022` rendered the whole form "for RKPD 2022" for a 2023 proposal;
    the refusal came only on sending, after the typing."""
    open_test_cycle_at(database_url, 2022)
    open_test_cycle_at(database_url, 2023)  # both taking proposals, as a window moved by mistake can make it
    with serving(database_url) as server:
        async with httpx.AsyncClient(base_url=server.base_url, timeout=30) as client:
            r = await client.post("/api/v1/proposals", json=payload(kelurahan=KELURAHAN, year=2023),
                                  headers={"Idempotency-Key": str(uuid.uuid4())})  # fmt: skip
            assert r.status_code == 201, r.text
            code = r.json()["code"]
            r = await client.get(f"/usulan/baru?lanjutan={code}&tahun=2022")
            assert r.status_code == 422, r.text
            assert f"usulan {code} dari tahun 2023 hanya dapat diusulkan lagi untuk tahun sesudahnya" in r.text
            assert 'name="carried_from"' not in r.text
