"""Idempotency keys: safe to reuse by mistake, impossible to collide across people.

A client retrying a command sends the same `Idempotency-Key`, and gets the first attempt's result back
instead of a second effect. So that a key can never return somebody else's result, or the result of a
different command:

- the key is scoped to the signed-in account (`staff:{username}:{key}`): two people using the same key
  are two commands;
- the command carries a fingerprint of what it asks — method, path (which names the forum, proposal or
  year), account and the decoded body — and a key sent again with a different fingerprint answers 409 and
  writes nothing (eventlog/store.py compares them);
- a key sent by the public (the proposal form, `POST /api/v1/proposals`) is scoped as `warga:{key}`
  (`resident_key`): it can never be a staff account's, nor one the demo or an import chose, so nobody
  can take another's key before them (a resident's `staff:admin:K1` made the admin's next command with
  key K1 answer 409).
"""

from __future__ import annotations

import hashlib
from typing import Annotated

import msgspec
from litestar import Request
from litestar.params import HeaderParameter

from musrenbang.domain.access import Actor
from musrenbang.eventlog.store import Metadata

OptionalKey = Annotated[
    str | None,
    HeaderParameter(
        name="Idempotency-Key",
        required=False,
        max_length=200,
        description="Any unique string per command (e.g. a UUID): sent again with the same command, the first"
        " result comes back and nothing is done twice; with a different command, 409.",
    ),
]


def resident_key(key: str) -> str:
    """The key a member of the public sent, in their own scope (see above)."""
    return f"warga:{key}"


def keyed(request: Request, actor: Actor, key: str | None, body: object = None) -> tuple[str | None, Metadata]:
    """The scoped key (None without a key) and the metadata, with the request's fingerprint, for a staff
    command."""
    if key is None:
        return None, Metadata(actor=actor.username, role=actor.role)
    asked = [request.method, request.url.path, actor.username, msgspec.to_builtins(body)]
    fingerprint = hashlib.sha256(msgspec.json.encode(asked, order="sorted")).hexdigest()
    return f"staff:{actor.username}:{key}", Metadata(actor=actor.username, role=actor.role, fingerprint=fingerprint)
