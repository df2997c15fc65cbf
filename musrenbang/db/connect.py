"""Connections to PostgreSQL, with the codecs the event log relies on and errors a person can act on."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Awaitable, Callable
from typing import TypeVar
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from musrenbang.db.errors import DatabaseError

T = TypeVar("T")

SERVER_SETTINGS = {
    "application_name": "musrenbang",
    # One forgotten open transaction would hold back pg_snapshot_xmin and so stall every projection
    # (see eventlog/store.py); PostgreSQL ends such a session after this long.
    "idle_in_transaction_session_timeout": "60000",
}
CONNECT_TIMEOUT = 10.0


async def init_connection(conn: asyncpg.Connection) -> None:
    """jsonb travels as raw JSON bytes: msgspec decodes them straight into typed events, and the bytes we
    hash are the bytes we store."""
    await conn.set_type_codec(
        "jsonb",
        schema="pg_catalog",
        format="binary",
        encoder=lambda value: b"\x01" + (value if isinstance(value, bytes) else value.encode()),
        decoder=lambda data: data[1:],
    )


async def connect(url: str, *, application_name: str | None = None) -> asyncpg.Connection:
    """A connection of its own (not pooled); `application_name` shows what it is for in pg_stat_activity."""
    settings = dict(SERVER_SETTINGS)
    if application_name is not None:
        settings["application_name"] = application_name
    conn = await _friendly(url, asyncpg.connect(url, timeout=CONNECT_TIMEOUT, server_settings=settings))
    await init_connection(conn)
    return conn


async def _reset_on_release(conn: asyncpg.Connection) -> None:
    """What a connection must not carry back into the pool. asyncpg's default reset sends
    `pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *; RESET ALL` on every release: a second round trip
    for every query. This code sets no session state on pooled connections (advisory locks are released
    explicitly, LISTEN uses its own connection), so only an open transaction needs undoing."""
    if conn.is_in_transaction():
        await conn.execute("ROLLBACK")


ACQUIRE_TIMEOUT = 10.0


class Pool(asyncpg.Pool):
    """asyncpg's pool, except that waiting for a free connection gives up after `acquire_timeout` seconds
    (TimeoutError) when the caller names no timeout. asyncpg waits forever by default: with every pooled
    connection busy (a slow query, a flood), requests would pile up behind them without an answer, where
    a 503 with Retry-After lets clients and the load balancer know (http/errors.py)."""

    acquire_timeout = ACQUIRE_TIMEOUT

    def acquire(self, *, timeout: float | None = None):  # asyncpg returns its own context manager
        return super().acquire(timeout=self.acquire_timeout if timeout is None else timeout)


async def create_pool(
    url: str,
    *,
    min_size: int = 2,
    max_size: int = 10,
    acquire_timeout: float = ACQUIRE_TIMEOUT,
    command_timeout: float | None = None,
    pool_class: type[Pool] = Pool,
) -> asyncpg.Pool:
    # asyncpg.create_pool with our Pool class: the same arguments and defaults it passes.
    pool = pool_class(
        url,
        command_timeout=command_timeout,
        connection_class=asyncpg.Connection,
        record_class=asyncpg.Record,
        min_size=min_size,
        max_size=max_size,
        max_queries=50000,
        max_inactive_connection_lifetime=300.0,
        loop=None,
        timeout=CONNECT_TIMEOUT,
        server_settings=SERVER_SETTINGS,
        init=init_connection,
        reset=_reset_on_release,
    )
    pool.acquire_timeout = acquire_timeout
    return await _friendly(url, pool)


class _ReconnectsInOneLine(logging.Filter):
    """asyncpg logs every failed try to reconnect a pool's idle connections with its whole traceback, every
    few seconds per pool while the database is away: one line naming the error says as much, and leaves
    the log readable for what else happens then (`/health` says the database is unreachable)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and record.exc_info[1] is not None:
            problem = record.exc_info[1]
            record.msg, record.args = f"{record.getMessage()}: {type(problem).__name__}: {problem}", None
            record.exc_info = record.exc_text = None
        return True


logging.getLogger("asyncpg.pool").addFilter(_ReconnectsInOneLine())


async def created_if_missing(url: str) -> None:
    """Create the database `url` names on a server of the operator's (MUSRENBANG_DATABASE_URL) when the server
    says it has none, as on the bundled server's first run. Any other problem is left to the command's own
    connection, which says it as before; a user who may not create databases is told so by PostgreSQL."""
    if not await database_missing(url):
        return
    try:
        await ensure_database(url)
    except asyncpg.InsufficientPrivilegeError as exc:
        raise DatabaseError(f"database does not exist at {redact(url)}, and this user may not create it ({exc}):"
                            " create it with `createdb`, or ask the server's administrator") from None


async def database_missing(url: str) -> bool:
    """Whether the server at `url` answers that it has no database of that name. Any other problem (a URL
    that is no URL, a port out of range, no server) is False here: the command's own connection says it."""
    try:
        conn = await asyncpg.connect(url, timeout=CONNECT_TIMEOUT)
    except asyncpg.InvalidCatalogNameError:
        return True
    except Exception:
        return False
    await conn.close()
    return False


async def ensure_database(url: str) -> None:
    """Create the database named in `url` if the server does not have it yet (bundled server's first run)."""
    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    maintenance = urlunsplit(parts._replace(path="/postgres"))
    conn = await _friendly(url, asyncpg.connect(maintenance, timeout=CONNECT_TIMEOUT))
    try:
        if not await conn.fetchval("SELECT true FROM pg_database WHERE datname = $1", name):
            # Another process starting at the same moment may have created it first: PostgreSQL says so with
            # DuplicateDatabaseError, or, when both passed its own check at once, with the unique index of
            # pg_database (UniqueViolationError; three `cycle list` on a new data directory met it).
            with contextlib.suppress(asyncpg.DuplicateDatabaseError, asyncpg.UniqueViolationError):
                await create_database(conn, name)
    finally:
        await conn.close()


async def create_database(admin: asyncpg.Connection, name: str, *, template: str | None = None) -> None:
    """Create database `name`, a copy of `template` when one is named. A new empty one, on PostgreSQL 17
    or later, compares and sorts text by code point with PostgreSQL's own C.UTF-8 (and knows upper and
    lower case beyond ASCII): the same order on every machine, so what the tests checked is what a city
    runs, and no upgrade of the operating system's C library can misorder its text indexes. On an older
    server it takes the server's defaults, which its administrator chose."""
    quoted = '"' + name.replace('"', '""') + '"'
    if template is not None:
        clause = ' TEMPLATE "' + template.replace('"', '""') + '"'
    elif admin.get_server_version().major >= 17:  # the `builtin` provider came with 17
        clause = " TEMPLATE template0 ENCODING 'UTF8' LOCALE_PROVIDER builtin BUILTIN_LOCALE 'C.UTF-8'"
    else:
        clause = ""
    await admin.execute(f"CREATE DATABASE {quoted}{clause}")


QUERY_SECRETS = ("password", "sslpassword")
"""Parameters of a PostgreSQL URL's query that carry a secret (`?password=…` works as well as `user:pw@`)."""


def redact(url: str) -> str:
    """The URL without its password (in the user part or in the query), for messages and logs."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparseable URL>"
    redacted = parts
    if parts.password:
        redacted = redacted._replace(netloc=parts.netloc.replace(f":{parts.password}@", ":***@"))
    if parts.query:
        pairs = parts.query.split("&")
        hidden = [f"{p.partition('=')[0]}=***" if p.partition("=")[0] in QUERY_SECRETS else p for p in pairs]
        redacted = redacted._replace(query="&".join(hidden))
    return url if redacted == parts else urlunsplit(redacted)


async def _friendly(url: str, pending: Awaitable[T]) -> T:
    where = redact(url)
    try:
        return await pending
    except asyncpg.InvalidCatalogNameError as exc:
        raise DatabaseError(f"database does not exist at {where}: {exc}") from None
    except (asyncpg.InvalidPasswordError, asyncpg.InvalidAuthorizationSpecificationError) as exc:
        raise DatabaseError(f"PostgreSQL refused the login at {where}: {exc}") from None
    except socket.gaierror:
        raise DatabaseError(f"the database host in {where} cannot be found (check the host name)") from None
    except (ConnectionRefusedError, FileNotFoundError):
        raise DatabaseError(
            f"no PostgreSQL server answers at {where} (is it running, and are host and port right?)"
        ) from None
    except TimeoutError:
        raise DatabaseError(f"connecting to {where} timed out after {CONNECT_TIMEOUT:.0f} s") from None
    except OSError as exc:
        raise DatabaseError(f"cannot reach PostgreSQL at {where}: {exc.strerror or exc}") from None
    except (ValueError, OverflowError, asyncpg.ClientConfigurationError) as exc:  # OverflowError: port 99999
        raise DatabaseError(f"not a usable PostgreSQL URL ({where}): {exc}") from None
    except asyncpg.PostgresError as exc:
        raise DatabaseError(f"PostgreSQL at {where} refused the connection: {exc}") from None


async def with_connection(url: str, work: Callable[[asyncpg.Connection], Awaitable[T]]) -> T:
    conn = await connect(url)
    try:
        return await work(conn)
    finally:
        await conn.close()


async def close_pool(pool: asyncpg.Pool, grace: float) -> None:
    """Close `pool`, but not wait for ever on a connection some task never gives back: at shutdown the
    process is stopping, and PostgreSQL rolls back whatever such a connection still had open."""
    try:
        async with asyncio.timeout(grace):
            await pool.close()
    except TimeoutError:
        logging.getLogger(__name__).warning(
            "connections still borrowed after %.0f s at shutdown: closing them", grace
        )
        pool.terminate()
