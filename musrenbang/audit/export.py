"""`musrenbang export events`: the whole log, in global order, as JSON Lines (format: see __init__.py).

Streams: one consistent snapshot (a read-only repeatable-read transaction), read through a server-side
cursor in batches and written as it comes, so a log of millions of events is never held in memory.
Personal data: the log itself holds none (a proposal carries only a reference to its proposer's contact);
the export adds, for each `proposal.submitted`, a salted hash of the proposer's phone number.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import uuid
from collections.abc import Callable
from typing import BinaryIO

import asyncpg
import msgspec

from musrenbang.config import secret_bytes
from musrenbang.domain import values
from musrenbang.eventlog import codec

FORMAT = "musrenbang-events"
VERSION = 2
"""2 adds each event's order key (`order`), which the seals follow."""
READABLE_VERSIONS = (1, 2)
BATCH = 5000


class Header(msgspec.Struct, kw_only=True):
    format: str
    version: int
    events: int
    last_position: int
    canonical: str = "[stream, version, event_id, type, recorded_at, data, metadata] as compact JSON, keys sorted"
    hash: str = "sha256(previous hash of the stream || canonical bytes); before a stream's first event: 32 zero bytes"
    proposer: str = "proposal.submitted only, not hashed: HMAC-SHA256 of the proposer's phone under a secret salt"
    seals: str = ("log.sealed events: sha256('musrenbang seal v1\\n' || previous seal hash || the chain hashes of"
                  " every event after the previous seal up to (up_to_tx, position), in (order, position) order)")


class Line(msgspec.Struct, kw_only=True, omit_defaults=True):
    """One event. `data` and `metadata` are the canonical JSON, embedded as they are."""

    position: int
    order: int | None = None
    """The event's order key (transaction id and offset, eventlog/order.py): seals follow (order, position)."""
    stream: str
    version: int
    event_id: uuid.UUID
    type: str
    recorded_at: dt.datetime
    data: msgspec.Raw
    metadata: msgspec.Raw
    hash: str
    proposer: str | None = None


# The proposer's phone for proposal.submitted only: CASE makes sure the uuid cast is evaluated for no other
# event, and the lookup goes through proposer_contacts' primary key.
_EVENTS = """
SELECT e.global_position, e.tx, e.stream_id, e.stream_version, e.event_id, e.event_type, e.recorded_at, e.data,
       e.metadata, e.hash,
       CASE WHEN e.event_type = 'proposal.submitted' THEN
           (SELECT c.phone FROM proposer_contacts c WHERE c.ref = (e.data->>'proposer_ref')::uuid)
       END AS phone
  FROM events e
 ORDER BY e.global_position
"""


def proposer_salt(server_secret_hex: str) -> bytes:
    """The salt for proposers' hashes: derived from the server secret, so it is stable across exports
    and never written anywhere."""
    return hmac.new(secret_bytes(server_secret_hex), b"musrenbang export: proposer salt v1", hashlib.sha256).digest()


def proposer_digest(salt: bytes, phone: str) -> str:
    try:
        normalised = values.normalize_phone(phone)
    except ValueError:
        normalised = "".join(phone.split())
    return hmac.new(salt, normalised.encode(), hashlib.sha256).hexdigest()


async def export_events(
    conn: asyncpg.Connection,
    out: BinaryIO,
    server_secret_hex: str,
    on_progress: Callable[[int], None] | None = None,
) -> Header:
    """Write the log to `out`; returns the header written. `conn` must use the jsonb codec of
    db/connect.py (raw bytes)."""
    salt = proposer_salt(server_secret_hex)
    encoder = msgspec.json.Encoder()
    buffer = bytearray()
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        count, last = await conn.fetchrow("SELECT count(*), coalesce(max(global_position), 0) FROM events")
        header = Header(format=FORMAT, version=VERSION, events=count, last_position=last)
        out.write(encoder.encode(header) + b"\n")
        written = 0
        async for r in conn.cursor(_EVENTS, prefetch=BATCH):
            phone = r["phone"]
            line = Line(
                position=r["global_position"],
                order=r["tx"],
                stream=r["stream_id"],
                version=r["stream_version"],
                event_id=r["event_id"],
                type=r["event_type"],
                recorded_at=r["recorded_at"],
                data=msgspec.Raw(codec.recanonicalize(r["data"])),
                metadata=msgspec.Raw(codec.recanonicalize(r["metadata"])),
                hash=bytes(r["hash"]).hex(),
                proposer=proposer_digest(salt, phone) if phone is not None else None,
            )
            encoder.encode_into(line, buffer, -1)
            buffer += b"\n"
            written += 1
            if written % BATCH == 0:
                out.write(buffer)
                buffer.clear()
                if on_progress is not None:
                    on_progress(BATCH)
        out.write(buffer)
        if on_progress is not None and written % BATCH:
            on_progress(written % BATCH)
    return header
