"""Proposals of the app server put in a state by writing straight into the read models the pages read
(proposals, rkpd_line_progress, and for a merge proposal_timeline, as the projections write them), and put
back afterwards, so that no other test counts these states: for tests of what a page says of a state the
whole cycle would take minutes to reach."""

from __future__ import annotations

import uuid

import asyncpg
import msgspec


class ProposalStates:
    """`await states(code, status, stage)`: the proposal's status, and the stage of a line of its own (None:
    in no line); `await states.merge(duplicate, into)`: the duplicate merged as the projection records it.
    `put_back()`: each proposal touched submitted again (waiting for verification, in no line, merged into
    none), and the lines' progress and merge steps added removed."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool
        self._lines: list[str] = []
        self._touched: set[str] = set()
        self._steps: list[tuple[str, int]] = []

    async def __call__(self, code: str, status: str, stage: str | None = None) -> None:
        self._touched.add(code)
        line_id = None
        if stage is not None:
            line_id = f"S26-{uuid.uuid4().hex[:8]}"
            self._lines.append(line_id)
            await self._pool.execute(
                "INSERT INTO rkpd_line_progress (year, line_id, stage, progress, updated_at)"
                " SELECT year, $2, $3, $4, now() FROM proposals WHERE code = $1",
                code, line_id, stage, 100 if stage == "selesai" else 40,
            )  # fmt: skip
        done = await self._pool.execute("UPDATE proposals SET status = $2, rkpd_line = $3 WHERE code = $1",
                                        code, status, line_id)  # fmt: skip
        assert done == "UPDATE 1"

    async def merge(self, duplicate: str, into: str) -> None:
        self._touched.add(duplicate)
        await self._pool.execute("UPDATE proposals SET status = 'digabungkan', merged_into = $2 WHERE code = $1",
                                 duplicate, into)  # fmt: skip
        seq = await self._pool.fetchval(
            "INSERT INTO proposal_timeline (code, seq, at, kind, details)"
            " SELECT $1, max(seq) + 1, now(), 'proposal.merged', $2::jsonb FROM proposal_timeline WHERE code = $1"
            " RETURNING seq",
            duplicate, msgspec.json.encode({"into": into, "reason": "sama"}).decode(),
        )  # fmt: skip
        self._steps.append((duplicate, seq))

    async def put_back(self) -> None:
        for code, seq in self._steps:
            await self._pool.execute("DELETE FROM proposal_timeline WHERE code = $1 AND seq = $2", code, seq)
        await self._pool.execute("UPDATE proposals SET status = 'diajukan', rkpd_line = NULL, merged_into = NULL"
                                 " WHERE code = ANY($1::text[])", sorted(self._touched))  # fmt: skip
        await self._pool.execute("DELETE FROM rkpd_line_progress WHERE line_id = ANY($1::text[])", self._lines)
