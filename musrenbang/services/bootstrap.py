"""Making a database ready to serve: schema, the city (set up on the first start with Kota Bekasi's
settings when `musrenbang setup` was not run first), and its regions.

No cycle is opened here: Bappeda opens each year's (`musrenbang cycle open`, or the staff page).
"""

from __future__ import annotations

import hashlib
import secrets

import asyncpg
import msgspec

from musrenbang.db.migrations import migrate
from musrenbang.domain import city
from musrenbang.eventlog import order
from musrenbang.eventlog.store import EventStore, Metadata
from musrenbang.reference import DEFAULT_REGION, city_regions, city_settings, load_regions
from musrenbang.services import city as city_service
from musrenbang.services import cycles

SYSTEM = Metadata(actor="system", role="system")


async def set_up_city(store: EventStore, settings: city.ConfigureCity | None = None,
                      metadata: Metadata = SYSTEM) -> city.City:  # fmt: skip
    """The city in force: `settings` recorded when given (a change, or another region on a database not
    set up yet; refused for another region once it is), else the one set up, else Kota Bekasi's. Many
    servers starting at once record the default once (one idempotency key)."""
    current = await city_service.current(store)
    if settings is not None:
        await city_service.configure(store, settings, metadata)
    elif not current.exists:
        await city_service.configure(store, city_settings(), metadata, idempotency_key="bootstrap:city")
    else:
        await _upgrade(store, current, metadata)
    return await city_service.required(store)


async def _upgrade(store: EventStore, current: city.City, metadata: Metadata) -> None:
    """Settings recorded before kecamatan were agencies get them, and Kota Bekasi's before daerah pemilihan
    were settings gets its own, as one recorded change. Keyed by what it makes true: a kecamatan the
    national table gains later is added in its turn, and many servers starting at once record it once."""
    kecamatan = [(r.kode, r.nama) for r in city_regions(current.region) if r.tingkat == "kecamatan"]
    command = city.as_command(current)
    upgraded = city.with_kecamatan(command, kecamatan)
    if not current.dapil and current.region == DEFAULT_REGION:
        upgraded = msgspec.structs.replace(upgraded, dapil=city_settings().dapil)
    if upgraded == command:
        return
    tagged = " ".join(sorted(f"{a.code}={a.kecamatan}" for a in upgraded.agencies if a.kecamatan))
    tagged += " " + " ".join(f"{d.name}={','.join(d.kecamatan)}" for d in upgraded.dapil)
    key = f"bootstrap:settings:{current.region}:{hashlib.sha256(tagged.encode()).hexdigest()[:16]}"
    await city_service.configure(store, upgraded, metadata, idempotency_key=key)


async def server_secret(conn: asyncpg.Connection) -> str:
    """The secret all server processes share, generated on the first start (hex)."""
    await conn.execute(
        "INSERT INTO server_secrets (name, value) VALUES ('main', $1) ON CONFLICT (name) DO NOTHING",
        secrets.token_bytes(32),
    )
    value = await conn.fetchval("SELECT value FROM server_secrets WHERE name = 'main'")
    return value.hex()


async def prepare(conn: asyncpg.Connection, store: EventStore, settings: city.ConfigureCity | None = None) -> list[str]:
    """Migrate, rebase the log's order if it came from another cluster, set the city up (or record new
    `settings`) and load its regions; returns the migrations applied now."""
    applied = await migrate(conn)
    await order.rebase(conn)  # before anything appends: a restored log's order must come first
    state = await set_up_city(store, settings)
    cycles.use_timezone(state.timezone)
    await load_regions(conn, state.region)
    await cycles.record_earlier_adoptions(store, SYSTEM)
    return applied
