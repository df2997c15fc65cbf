"""One real server process (granian, the real app) on its own database for the HTTP tests.

Tests share it, so each test works with its own proposals (by code) and its own client address
(X-Forwarded-For, trusted here) for the rate limit.
"""

from __future__ import annotations

import itertools
import socket
import uuid
from collections.abc import AsyncIterator, Iterator

import asyncpg
import httpx
import pytest

from musrenbang.db.connect import create_pool
from tests.conftest import _admin, with_database
from tests.server import Server

SUBMISSIONS_PER_HOUR = 5
_addresses = itertools.count(1)


@pytest.fixture(scope="session")
async def app_database(server_url: str, template_name: str) -> AsyncIterator[str]:
    name = f"mtest_app_{uuid.uuid4().hex[:8]}"
    admin = await _admin(server_url)
    await admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template_name}"')
    yield with_database(server_url, name)
    await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    await admin.close()


@pytest.fixture(scope="session")
def app_server(app_database: str) -> Iterator[Server]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = Server(port, database_url=app_database, workers=2, extra_env={
        "MUSRENBANG_TRUST_PROXY": "1",
        "MUSRENBANG_SUBMISSIONS_PER_HOUR": str(SUBMISSIONS_PER_HOUR),
    })  # fmt: skip
    try:
        server.wait_healthy()
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
async def app_pool(app_database: str, app_server: Server) -> AsyncIterator[asyncpg.Pool]:
    pool = await create_pool(app_database, min_size=1, max_size=5)
    yield pool
    await pool.close()


@pytest.fixture
def address() -> str:
    """A client address of this test's own, for the per-address submission limit."""
    n = next(_addresses)
    return f"10.{n // 65536 % 256}.{n // 256 % 256}.{n % 256}"


@pytest.fixture
async def client(app_server: Server, address: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        base_url=app_server.base_url, headers={"X-Forwarded-For": address}, timeout=30
    ) as c:
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
