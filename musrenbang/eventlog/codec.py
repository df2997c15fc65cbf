"""Bytes of events: how data is stored, and the canonical form the hash chain is computed over.

The canonical form of an event is the compact JSON array
`[stream_id, stream_version, event_id, event_type, recorded_at, data, metadata]` with object keys sorted.
It can be recomputed from any copy of the log (the database, an exported file) without this program,
which is what lets an auditor check the chain independently.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid
from typing import Any

import msgspec

from musrenbang.domain.events import EVENT_TYPES, Event

GENESIS_HASH = bytes(32)
"""The "previous hash" of a stream's first event."""

_encoder = msgspec.json.Encoder(order="sorted")
_decoders = {tag: msgspec.json.Decoder(cls) for tag, cls in EVENT_TYPES.items()}


class UnknownEventType(Exception):
    pass


def encode(value: Any) -> bytes:
    """Compact JSON with sorted keys: the stored and the hashed form are the same bytes."""
    return _encoder.encode(value)


def decode_event(event_type: str, data: bytes) -> Event:
    try:
        decoder = _decoders[event_type]
    except KeyError:
        raise UnknownEventType(f"this program does not know event type {event_type!r}") from None
    return decoder.decode(data)


def canonical(
    stream_id: str,
    stream_version: int,
    event_id: uuid.UUID,
    event_type: str,
    recorded_at: dt.datetime,
    data: bytes,
    metadata: bytes,
) -> bytes:
    """Canonical bytes of one event, from already canonical `data` and `metadata` JSON."""
    head = _encoder.encode([stream_id, stream_version, str(event_id), event_type, recorded_at])
    return b"".join((head[:-1], b",", data, b",", metadata, b"]"))


def recanonicalize(raw_json: bytes | str) -> bytes:
    """Canonical bytes of JSON read back from jsonb (which reorders keys and adds spaces)."""
    return _encoder.encode(msgspec.json.decode(raw_json))


def chain_hash(previous: bytes, canonical_bytes: bytes) -> bytes:
    return hashlib.sha256(previous + canonical_bytes).digest()
