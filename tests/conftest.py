"""Test databases on a real PostgreSQL: the bundled server by default, or the server at
MUSRENBANG_DATABASE_URL. Each test gets a fresh database cloned from a template built by running the
same migrations users run."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest

from musrenbang.db.bundled import BundledDatabase
from musrenbang.db.connect import connect, create_database, create_pool, ensure_database
from musrenbang.db.migrations import migrate
from musrenbang.eventlog.store import EventStore
from musrenbang.reference import load_regions
from tests.server import Server, serving

EXTERNAL_URL = os.environ.get("MUSRENBANG_DATABASE_URL")


def pytest_configure(config: pytest.Config) -> None:
    """The programs the tests start take Ctrl-C as from a terminal, however the suite itself was started.
    A command run in the background of a shell without job control (`cmd &` in a script) starts with SIGINT
    ignored, and every program it starts inherits that: a test's Ctrl-C would be lost on them (seen by
    hand: `musrenbang demo` started so plays on to its end after SIGINT, as it should for a background
    job). Python's own handler is caught, not ignored, so the programs the tests start get the default."""
    if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


def pytest_xdist_auto_num_workers(config: pytest.Config) -> int | None:
    """`-n auto` (pyproject's addopts): one worker more than the cores, up to `--maxprocesses`. A worker
    spends much of its time waiting (on the server processes it started, the database, Chromium): on two
    cores, three workers ran the whole suite in 11.7 min, where two had taken 15.5-16.7 min in the CI runs
    of the day before (a noisy host; the workers' clients used 1.55 of the two cores).
    PYTEST_XDIST_AUTO_NUM_WORKERS still decides when set (None: pytest-xdist's own reading of it)."""
    if os.environ.get("PYTEST_XDIST_AUTO_NUM_WORKERS"):
        return None
    return len(os.sched_getaffinity(0)) + 1


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark the tests that drive Chromium as `browser`: what they check is the pages, whichever PostgreSQL
    serves them, so CI's second pass (an external server) leaves them out (see pyproject's markers). Mark
    those that reach no database of the tests' server as `no_database`: that pass would run them unchanged.

    Then the longest files first (the fuzzing, then the end-to-end files): pytest-xdist hands files to its
    workers in this order, and a long file handed out last keeps one worker busy while the others idle."""
    for item in items:
        fixtures = getattr(item, "fixturenames", ())
        if "browser" in fixtures:
            item.add_marker(pytest.mark.browser)
        if "server_url" not in fixtures:  # every database the tests make comes through it (closure included)
            item.add_marker(pytest.mark.no_database)

    weight: dict[str, int] = {}
    for item in items:
        mine = 0 if item.get_closest_marker("fuzz") else 1 if item.get_closest_marker("slow") else 2
        weight[str(item.path)] = min(mine, weight.get(str(item.path), 2))
    items.sort(key=lambda item: weight[str(item.path)])  # stable: a file's tests stay together, in their order


def with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


@pytest.fixture(scope="session")
def server_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A URL on the PostgreSQL server the tests use (its database part is replaced per test)."""
    if EXTERNAL_URL:
        yield EXTERNAL_URL
        return
    bundled = BundledDatabase(tmp_path_factory.mktemp("bundled"))
    url = bundled.start()
    yield url
    bundled.stop()


async def _admin(server_url: str) -> asyncpg.Connection:
    await ensure_database(server_url)
    return await asyncpg.connect(server_url)


@pytest.fixture(scope="session")
async def template_name(server_url: str) -> AsyncIterator[str]:
    name = f"mtest_template_{os.getpid()}"
    admin = await _admin(server_url)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
        await create_database(admin, name)
        conn = await connect(with_database(server_url, name))
        try:
            await migrate(conn)
            await load_regions(conn)
        finally:
            await conn.close()
        yield name
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


@contextlib.asynccontextmanager
async def _throwaway_database(server_url: str, template: str | None) -> AsyncIterator[str]:
    """A new database (copied from `template`, or empty), dropped afterwards."""
    name = f"mtest_{uuid.uuid4().hex[:12]}"
    admin = await _admin(server_url)
    try:
        await create_database(admin, name, template=template)
        yield with_database(server_url, name)
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


@pytest.fixture
async def database_url(server_url: str, template_name: str) -> AsyncIterator[str]:
    """A fresh, migrated database with the reference regions and an empty event log."""
    async with _throwaway_database(server_url, template_name) as url:
        yield url


@pytest.fixture
async def empty_database_url(server_url: str) -> AsyncIterator[str]:
    """A database with nothing in it, not even the migrations."""
    async with _throwaway_database(server_url, None) as url:
        yield url


@pytest.fixture
async def pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    p = await create_pool(database_url, min_size=1, max_size=20)
    yield p
    await p.close()


@pytest.fixture
def store(pool: asyncpg.Pool) -> EventStore:
    return EventStore(pool)


@pytest.fixture
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def cli_env(database_url: str) -> dict[str, str]:
    """Environment for running `musrenbang` as a subprocess against the test database."""
    env = dict(os.environ)
    env["MUSRENBANG_DATABASE_URL"] = database_url
    return env


# --- one real server process for the HTTP and browser tests ------------------------------------------

SUBMISSIONS_PER_HOUR = 5


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
    with serving(app_database, workers=2, extra_env={
        "MUSRENBANG_TRUST_PROXY": "1",
        "MUSRENBANG_SUBMISSIONS_PER_HOUR": str(SUBMISSIONS_PER_HOUR),
    }) as server:  # fmt: skip
        yield server


@pytest.fixture(scope="session")
async def app_pool(app_database: str, app_server: Server) -> AsyncIterator[asyncpg.Pool]:
    pool = await create_pool(app_database, min_size=1, max_size=5)
    yield pool
    await pool.close()


REPO = Path(__file__).resolve().parent.parent


# --- a second server whose database holds one complete cycle (tests/history.py) -----------------------


@pytest.fixture(scope="session")
async def city_database(server_url: str, template_name: str) -> AsyncIterator[str]:
    """A database with the complete small cycle of tests/history.py (adopted RKPD 2022). Tests that
    change the city level must use their own database: this one is shared, read mostly."""
    from tests import history

    async with _throwaway_database(server_url, template_name) as url:
        pool = await create_pool(url, min_size=1, max_size=5)
        try:
            await history.build(pool, EventStore(pool))
        finally:
            await pool.close()
        yield url


@pytest.fixture(scope="session")
def city_server(city_database: str) -> Iterator[Server]:
    with serving(city_database, extra_env={"MUSRENBANG_TRUST_PROXY": "1"}) as server:
        yield server
