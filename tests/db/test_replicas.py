"""Read replicas without a standby running: the setting, the LSN notation, the routing rule on the positions
cached by the background check, and which handlers may read from a standby (the running pair is
tests/e2e/test_replicas.py)."""

from __future__ import annotations

import inspect
import time
import uuid

import httpx
import pytest
from litestar.routes import HTTPRoute

from musrenbang.config import ConfigError, Settings
from musrenbang.db.replicas import (
    BEHIND,
    MAX_LAG,
    STREAMING,
    UNREACHABLE,
    ReadPools,
    Replica,
    format_lsn,
    parse_lsn,
    record_end,
)
from musrenbang.http import reads
from musrenbang.http.app import create_app
from tests.http.conftest import payload
from tests.server import Server

PRIMARY, ONE, TWO = object(), object(), object()  # stand-ins for pools: routing never touches a pool


def settings(**env: str) -> Settings:
    return Settings.from_env({"MUSRENBANG_DATA_DIR": "/tmp/unused", **env})


def test_replica_urls_are_read_as_a_comma_separated_list_and_checked() -> None:
    assert settings().replica_urls == ()
    both = settings(MUSRENBANG_REPLICA_URLS=" postgresql://u:p@r1:5432/m , postgres://u@r2/m ,")
    assert both.replica_urls == ("postgresql://u:p@r1:5432/m", "postgres://u@r2/m")
    with pytest.raises(ConfigError, match="postgresql://") as bad:
        settings(MUSRENBANG_REPLICA_URLS="mysql://u:secret@r1/m")
    assert "secret" not in str(bad.value)  # the message never shows a password
    with pytest.raises(ConfigError, match="twice"):
        settings(MUSRENBANG_REPLICA_URLS="postgresql://r1/m,postgresql://r1/m")


def test_lsn_notation_round_trips_and_anything_else_is_none() -> None:
    assert parse_lsn("16/B374D848") == (0x16 << 32) | 0xB374D848
    assert format_lsn(parse_lsn("16/B374D848") or 0) == "16/B374D848"
    for junk in (None, "", "16", "/1", "1/", "x/1", "1/2/3", "<script>", "1" * 20 + "/1"):
        assert parse_lsn(junk) is None, junk


def replica(state: str, replayed: int) -> Replica:
    r = Replica("postgresql://u:secret@r/m", ONE)  # type: ignore[arg-type]
    r.state, r.replay_lsn = state, replayed
    return r


def test_a_read_goes_to_a_streaming_standby_that_has_replayed_the_readers_last_write() -> None:
    ahead, late = replica(STREAMING, 200), replica(STREAMING, 100)
    late.pool = TWO  # type: ignore[assignment]
    pools = ReadPools(PRIMARY, [ahead, late])  # type: ignore[arg-type]
    assert pools.pool_for(150) is ONE  # only the standby that holds position 150
    assert pools.pool_for(250) is PRIMARY  # no standby holds it yet
    assert {pools.pool_for(None) for _ in range(200)} == {ONE, TWO}  # without a write of its own: either
    ahead.state, late.state = UNREACHABLE, BEHIND
    assert pools.pool_for(None) is PRIMARY and pools.pool_for(50) is PRIMARY  # skipped standbys are never used


class _Positions:
    """Stands in for ReadPools in the write hook: the primary's position, or too busy to say (None)."""

    def __init__(self, lsn: int | None) -> None:
        self.lsn = lsn

    async def primary_lsn(self, timeout: float) -> int:
        if self.lsn is None:
            raise TimeoutError
        return self.lsn


class _App:
    def __init__(self, positions: _Positions) -> None:
        self.state = {"reads": positions}


async def _cookie_after_write(lsn: int | None, held: str | None = None) -> str:
    [hook] = reads.remember_writes(settings(MUSRENBANG_REPLICA_URLS="postgresql://r1/m"))
    cookies = [(b"cookie", f"lang=id; {reads.COOKIE}={held}".encode())] if held else []
    message = {"type": "http.response.start", "status": 201, "headers": []}
    await hook(message, {"method": "POST", "path": "/usulan", "app": _App(_Positions(lsn)), "headers": cookies})
    [(name, value)] = message["headers"]
    assert name == b"set-cookie"
    return value.decode().split(";")[0].removeprefix(f"{reads.COOKIE}=")


async def test_the_read_cookie_is_the_primarys_position_and_an_unknown_one_sends_the_writer_to_the_primary() -> None:
    assert await _cookie_after_write(0x100) == "0/100"
    assert await _cookie_after_write(0x300, held="0/200") == "0/300"
    # A value above the primary's position (forged, or "primary only" after a position that could not be
    # read) is not handed back with every later write: the client would be kept off the standbys for good.
    assert await _cookie_after_write(0x300, held="FFFFFFFF/FFFFFFFF") == "0/300"
    # The primary too busy to tell its position: no standby may serve this writer for the cookie's life.
    unknown = parse_lsn(await _cookie_after_write(None))
    pools = ReadPools(PRIMARY, [replica(STREAMING, 1 << 62)])  # type: ignore[arg-type]
    assert pools.pool_for(unknown) is PRIMARY


def test_the_status_of_a_standby_hides_its_password() -> None:
    shown = replica(UNREACHABLE, 0).status(0.0)
    assert shown.url == "postgresql://u:***@r/m" and shown.state == UNREACHABLE


def test_without_replicas_no_hook_is_installed() -> None:
    assert reads.remember_writes(settings()) == []
    assert len(reads.remember_writes(settings(MUSRENBANG_REPLICA_URLS="postgresql://r1/m"))) == 1


def test_only_public_reads_may_come_from_a_standby() -> None:
    """Unsafe methods and staff screens (a handler taking the signed-in `actor`) keep the primary."""
    app = create_app(settings(), "postgresql://unused@127.0.0.1:1/unused", "00" * 32, run_projections=False)
    from_replica = []
    for route in app.routes:
        for handler in route.route_handlers if isinstance(route, HTTPRoute) else []:
            # A controller's handler holds a copy of the `Provide`: what it provides is the test.
            if getattr(handler.resolve_dependencies().get("pool"), "dependency", None) is reads.read_pool:
                from_replica.append(handler.fn.__name__)
                assert handler.http_methods <= {"GET", "HEAD"}, handler
                assert "actor" not in inspect.signature(handler.fn).parameters, handler
    assert {"track", "rkpd_page", "proposal", "rkpd_list", "kelurahan_page"} <= set(from_replica)


def test_a_standby_is_as_far_behind_as_the_newest_primary_position_it_has_replayed() -> None:
    pools = ReadPools(PRIMARY, [])  # type: ignore[arg-type]
    pools._primary_lsns.extend([(100.0, 10), (101.0, 20), (102.0, 30)])  # (when, primary's position)
    standby = replica(STREAMING, 20)
    pools._note_lag(standby)
    assert standby.lag_bytes == 10 and standby.lag_seconds(105.0) == 4.0  # it holds what the primary held at 101
    standby.replay_lsn = 30
    pools._note_lag(standby)
    assert standby.lag_bytes == 0 and standby.lag_seconds(102.5) == 0.0  # caught up at the last look
    never = replica(STREAMING, 5)  # below every position remembered: how far behind is unknown
    pools._note_lag(never)
    assert never.lag_seconds(105.0) is None and never.status(105.0).lag_seconds is None
    # ... unless the last commit it replayed says: it holds everything committed before that.
    pools._note_lag(never, committed_at=99.5)
    assert never.lag_seconds(105.0) == 5.5


def test_a_verdict_nobody_can_check_lapses_after_max_lag() -> None:
    """The primary's position unreadable (away, or too slow to answer): a caught-up standby's lag grows from
    the last comparison, and past MAX_LAG it is no longer read from."""
    pools = ReadPools(PRIMARY, [])  # type: ignore[arg-type]
    now = time.monotonic()
    pools._primary_lsns.append((now - MAX_LAG - 5, 30))
    standby = replica(STREAMING, 30)
    pools._note_lag(standby)
    assert standby.lag_bytes == 0 and standby.lag_seconds(now) == pytest.approx(MAX_LAG + 5, abs=1)
    assert pools._verdict(standby)[0] == BEHIND


def test_the_end_of_the_wal_steps_back_over_a_page_header() -> None:
    """pg_current_wal_insert_lsn() after a record that ended at a page's end lies past the next page's
    header, where no standby's replay position ever is: an idle primary kept a caught-up standby behind."""
    page, segment = 8192, 16 << 20
    assert record_end(5 * page + 24, page, segment) == 5 * page  # a short header
    assert record_end(3 * segment + 40, page, segment) == 3 * segment  # a segment's first page: a long one
    for at in (5 * page + 48, 5 * page + 40, 3 * segment + 64, 7):  # record ends (40: a continued record's)
        assert record_end(at, page, segment) == at


async def test_without_replicas_a_write_sets_no_read_cookie(app_server: Server) -> None:
    """The server of the other HTTP tests has no MUSRENBANG_REPLICA_URLS: its writes answer as before."""
    async with httpx.AsyncClient(base_url=app_server.base_url, timeout=10) as client:
        r = await client.post("/api/v1/proposals", json=payload(title="Tanpa replika"),
                              headers={"Idempotency-Key": str(uuid.uuid4())})  # fmt: skip
        assert r.status_code == 201, r.text
        assert reads.COOKIE not in r.cookies
        assert (await client.get("/health")).json()["replicas"] == []
