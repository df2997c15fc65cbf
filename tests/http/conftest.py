"""HTTP tests share one real server process (tests/conftest.py: app_server), so each test works with
its own proposals (by code) and its own client address (X-Forwarded-For, trusted there) for the rate
limit."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator

import asyncpg
import httpx
import pytest

from musrenbang.db.connect import create_pool
from tests.conftest import SUBMISSIONS_PER_HOUR, Server  # noqa: F401  (re-exported for the tests)
from tests.rkpd_site import Site

_addresses = itertools.count(1)


@pytest.fixture
def address() -> str:
    """A client address of this test's own, for the per-address submission limit."""
    n = next(_addresses)
    return f"10.{n // 65536 % 256}.{n // 256 % 256}.{n % 256}"


@pytest.fixture
async def client(app_server: Server, address: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=app_server.base_url, headers={"X-Forwarded-For": address}, timeout=30) as c:
        yield c


PROPOSER = {"name": "Siti Rahmawati Kusumo", "phone": "0813-9876-5432"}


def payload(**changes: object) -> dict[str, object]:
    body: dict[str, object] = {
        "kelurahan": "32.75.01.1001",
        "rw": 5,
        "rt": 3,
        "kind": "fisik",
        "bidang": "infrastruktur",
        "title": "Perbaikan saluran air",
        "problem": "Saluran tersumbat sehingga banjir setiap hujan deras",
        "solution": "Normalisasi dan perbaikan saluran sepanjang 150 meter",
        "beneficiaries": 300,
        "volume": 150,
        "unit": "meter",
        "estimated_cost": 25_000_000,
        "address": "Jl. Melati, depan masjid",
        "proposer": PROPOSER,
    }
    body.update(changes)
    return body


async def event_count(pool: asyncpg.Pool) -> int:
    return await pool.fetchval("SELECT count(*) FROM events")


# --- a module's RKPD site (tests/rkpd_site.py): each module using these defines its own `site` ------------


@pytest.fixture
async def web(site: Site) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the requesting module's `site` (a module with another kind of site defines its own)."""
    async with httpx.AsyncClient(base_url=site.server.base_url, timeout=30) as c:
        yield c


@pytest.fixture
async def db(site: Site) -> AsyncIterator[asyncpg.Pool]:
    pool = await create_pool(site.database_url, min_size=1, max_size=2)
    yield pool
    await pool.close()
