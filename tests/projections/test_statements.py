"""`Statements` sends a batch's writes grouped by SQL, ahead of other rows' writes but never ahead of a
write to the same row, nor of a write whose rows it does not know."""

from __future__ import annotations

import asyncpg

from musrenbang.projections import COPY_FROM, Statements, insert_rows

INSERT = "INSERT INTO t (k, v) VALUES ($1, $2)"
TIMES_TEN = "UPDATE t SET v = v * 10 WHERE k = $1"
PLUS_ONE = "UPDATE t SET v = v + 1 WHERE k = $1"


async def _values(conn: asyncpg.Connection) -> dict[str, int]:
    return dict(await conn.fetch("SELECT k, v FROM t ORDER BY k"))


async def test_rows_of_other_keys_join_earlier_runs_and_each_row_keeps_its_order(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute("CREATE TEMP TABLE t (k text PRIMARY KEY, v int NOT NULL)")
        writes = Statements(conn)
        for k, v in (("a", 1), ("b", 2)):
            await writes.add_for([k], INSERT, k, v)
            await writes.add_for([k], TIMES_TEN, k)
        await writes.add_for(["a"], PLUS_ONE, "a")  # after a's ×10: (1 × 10) + 1, not (1 + 1) × 10
        await writes.add_for(["c"], INSERT, "c", 3)
        await writes.add_for(["c"], TIMES_TEN, "c")
        await writes.add_for(["b"], PLUS_ONE, "b")
        # Seven writes of three kinds, interleaved: one run per kind.
        assert writes.pending_runs == 3
        await writes.flush()
        assert await _values(conn) == {"a": 11, "b": 21, "c": 30}


async def test_a_write_of_unknown_rows_holds_back_every_later_write(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute("CREATE TEMP TABLE t (k text PRIMARY KEY, v int NOT NULL)")
        writes = Statements(conn)
        await writes.add_for(["a"], INSERT, "a", 1)
        await writes.add("UPDATE t SET v = 0")
        await writes.add_for(["b"], INSERT, "b", 2)  # must not join the first INSERT run, before the reset
        assert writes.pending_runs == 3
        await writes.flush()
        assert await _values(conn) == {"a": 0, "b": 2}


async def test_many_rows_go_by_copy_and_a_few_by_insert_alike(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute("CREATE TEMP TABLE t (k text PRIMARY KEY, v int NOT NULL, d jsonb NOT NULL)")
        many = [(f"m{i:04}", i, b'{"i": %d}' % i) for i in range(COPY_FROM)]
        await insert_rows(conn, "t", ("k", "v", "d"), many)
        await insert_rows(conn, "t", ("k", "v", "d"), [("few", 7, b'{"few": true}')])
        rows = await conn.fetch("SELECT k, v, d::text AS d FROM t ORDER BY k")
        assert len(rows) == COPY_FROM + 1
        assert (rows[0]["k"], rows[0]["v"], rows[0]["d"]) == ("few", 7, '{"few": true}')
        assert (rows[-1]["k"], rows[-1]["v"], rows[-1]["d"]) == (f"m{COPY_FROM - 1:04}", COPY_FROM - 1,
                                                                 f'{{"i": {COPY_FROM - 1}}}')  # fmt: skip
