"""Decisions never freeze stale data.

Some commands decide from a read model: opening a forum freezes its agenda from the accepted proposals
(or what the forums below forwarded), the city level takes up what the kecamatan forums forwarded. A read
model may be behind the log (a worker busy, an older transaction still open, a projection failing), and
what such a command freezes is forever. So before reading, the service waits for the read models it reads
to reach the log's head as it is now, and refuses with a clear message if they cannot within the timeout.

The services do not know how read models are kept: whatever is passed as `ReadModels` (the projection
runner) knows how to wait for them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from musrenbang.domain.errors import N_, DomainError

FRESH_TIMEOUT = 10.0
UNDER_LOCK_FRESH = 2.0
"""Seconds a decision holding a lock waits for the read models to reach the log once more: they were brought
there before the lock (with no connection held), so this covers only what committed just before the lock
was granted (a forum opened, a merge), which its own request waits to see applied."""


class ReadModels(Protocol):
    async def wait_for_head(self, names: Sequence[str], timeout: float = FRESH_TIMEOUT) -> bool:
        """True once the named read models have applied everything the log holds now; False on timeout."""
        ...


class ReadModelBehind(DomainError):
    """The read models a decision needs are behind the log; nothing was decided. Try again shortly."""

    code = "behind"


async def require_fresh(read_models: ReadModels, names: Sequence[str], timeout: float = FRESH_TIMEOUT) -> None:
    if not await read_models.wait_for_head(names, timeout):
        raise ReadModelBehind(
            N_("data sedang diperbarui dan belum lengkap, jadi belum dapat dipakai untuk keputusan ini;"
               " coba lagi dalam beberapa detik")  # fmt: skip
        )
