"""Making a fresh database ready to serve: schema, reference regions, the first planning cycle."""

from __future__ import annotations

import datetime as dt
import secrets

import asyncpg

from musrenbang.db.migrations import migrate
from musrenbang.domain import cycle
from musrenbang.eventlog import order
from musrenbang.eventlog.store import EventStore, Metadata
from musrenbang.reference import load_regions
from musrenbang.services.cycles import CYCLE
from musrenbang.services.streams import execute

# The first cycle the platform serves: Kota Bekasi's RKPD 2022 as announced at its kick-off on
# 19 January 2021 (DOMAIN.md).
RKPD_2022 = cycle.StartCycle(
    year=2022,
    region="32.75",
    theme="Peningkatan Nilai Tambah dan Daya Saing Perekonomian melalui Pembangunan Industri Kreatif",
    priority_programs=(
        "Penguatan dan pengembangan ekonomi kreatif kota",
        "Pengembangan iklim dan kemampuan entrepreneurship masyarakat",
        "Pemberdayaan sumber daya ekonomi lokal dan pasar domestik",
        "Peningkatan iklim usaha Kota Bekasi dan peluang kerja",
        "Pengelolaan rantai pasok sembako melalui teknologi digital",
        "Pembentukan Bekasi city startup dan pengembangan wirausaha industri kreatif berbasis komunitas",
    ),
    kickoff_on=dt.date(2021, 1, 19),
)


async def start_first_cycle(store: EventStore) -> None:
    """Open the RKPD 2022 cycle through the event log, once, however many servers start at once."""
    await execute(
        store,
        CYCLE,
        cycle.stream_id(RKPD_2022.year),
        RKPD_2022,
        metadata=Metadata(actor="system", role="system"),
        idempotency_key=f"bootstrap:cycle:{RKPD_2022.year}",
    )


async def server_secret(conn: asyncpg.Connection) -> str:
    """The secret all server processes share, generated on the first start (hex)."""
    await conn.execute(
        "INSERT INTO server_secrets (name, value) VALUES ('main', $1) ON CONFLICT (name) DO NOTHING",
        secrets.token_bytes(32),
    )
    value = await conn.fetchval("SELECT value FROM server_secrets WHERE name = 'main'")
    return value.hex()


async def prepare(conn: asyncpg.Connection, store: EventStore) -> list[str]:
    """Migrate, rebase the log's order if it came from another cluster, load reference data and open the
    first cycle; returns the migrations applied now."""
    applied = await migrate(conn)
    await order.rebase(conn)  # before anything appends: a restored log's order must come first
    await load_regions(conn)
    await start_first_cycle(store)
    return applied
