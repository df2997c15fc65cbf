"""Staff accounts: argon2id password hashes, sessions and API tokens kept as hashes in PostgreSQL (so
they work across server processes and end for real on logout), and slowed retries after failures."""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import secrets

import asyncpg
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from musrenbang.domain.access import ROLES, Actor
from musrenbang.domain.agency import AGENCIES
from musrenbang.domain.errors import N_, DomainError, Message, ValidationFailed

BROWSER_TTL = dt.timedelta(hours=12)
API_TTL = dt.timedelta(hours=8)
FAILURE_WINDOW = dt.timedelta(minutes=15)
FAILURES_ALLOWED = 5
_hasher = PasswordHasher()  # argon2id with the library's current recommended parameters
_USERNAME = re.compile(r"^[a-z0-9._-]{3,40}$")


class NotAuthenticated(DomainError):
    code = "unauthenticated"


class TooManyAttempts(DomainError):
    code = "rate_limited"


def token_hash(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


async def add_user(
    conn: asyncpg.Connection, username: str, password: str, role: str, region: str | None, opd: str | None
) -> None:
    errors: dict[str, str] = {}
    if not _USERNAME.match(username):
        errors["username"] = N_("nama pengguna 3-40 huruf kecil, angka, titik, garis bawah atau tanda hubung")
    if role not in ROLES:
        errors["role"] = N_("peran tidak dikenal")
    if len(password) < 10:
        errors["password"] = N_("kata sandi paling sedikit 10 karakter")
    if role == "facilitator" and not region:
        errors["region"] = N_("fasilitator memerlukan wilayah (kode kelurahan atau kecamatan)")
    if role == "opd" and opd not in AGENCIES:
        errors["opd"] = Message(N_("akun OPD memerlukan kode perangkat daerah yang dikenal: %(codes)s"),
                                codes=", ".join(AGENCIES))  # fmt: skip
    if region and not await conn.fetchval(
        "SELECT true FROM regions WHERE kode = $1 AND tingkat IN ('kelurahan', 'kecamatan')", region
    ):
        errors["region"] = N_("kode wilayah tidak dikenal")
    if errors:
        raise ValidationFailed(errors)
    try:
        await conn.execute(
            "INSERT INTO users (username, password_hash, role, region, opd) VALUES ($1, $2, $3, $4, $5)",
            username, _hasher.hash(password), role, region if role == "facilitator" else None,
            opd if role == "opd" else None,
        )  # fmt: skip
    except asyncpg.UniqueViolationError:
        raise DomainError(N_("nama pengguna sudah dipakai")) from None


async def list_users(conn: asyncpg.Connection) -> list[asyncpg.Record]:
    return await conn.fetch("SELECT username, role, region, opd, disabled_at, created_at FROM users ORDER BY username")


async def disable_user(conn: asyncpg.Connection, username: str) -> bool:
    async with conn.transaction():
        status = await conn.execute(
            "UPDATE users SET disabled_at = now() WHERE username = $1 AND disabled_at IS NULL", username
        )
        await conn.execute(
            "UPDATE sessions SET revoked_at = now() WHERE username = $1 AND revoked_at IS NULL", username
        )
    return status == "UPDATE 1"


async def login(
    pool: asyncpg.Pool, username: str, password: str, client: str, kind: str
) -> tuple[str, dt.datetime, Actor]:
    """A new session or API token for correct credentials. After FAILURES_ALLOWED failures within
    FAILURE_WINDOW for the username or the client address, refuse without checking the password."""
    keys = [f"user:{username}", f"addr:{client}"]
    async with pool.acquire() as conn:
        recent = await conn.fetchval(
            "SELECT max(n) FROM (SELECT count(*) AS n FROM login_failures WHERE key = ANY($1::text[])"
            " AND at > now() - $2::interval GROUP BY key) AS counts",
            keys, FAILURE_WINDOW,
        )  # fmt: skip
        if recent is not None and recent >= FAILURES_ALLOWED:
            raise TooManyAttempts(N_("terlalu banyak percobaan masuk yang gagal; coba lagi dalam 15 menit"))
        row = await conn.fetchrow(
            "SELECT username, password_hash, role, region, opd FROM users WHERE username = $1 AND disabled_at IS NULL",
            username,
        )
        if row is None or not _verify(row["password_hash"], password):
            await conn.executemany("INSERT INTO login_failures (key) VALUES ($1)", [(k,) for k in keys])
            raise NotAuthenticated(N_("nama pengguna atau kata sandi salah"))
        await conn.execute("DELETE FROM login_failures WHERE key = $1 OR at < now() - $2::interval", keys[0],
                           FAILURE_WINDOW)  # fmt: skip
        token = secrets.token_urlsafe(32)
        expires = dt.datetime.now(dt.UTC) + (API_TTL if kind == "api" else BROWSER_TTL)
        await conn.execute(
            "INSERT INTO sessions (token_hash, username, kind, expires_at) VALUES ($1, $2, $3, $4)",
            token_hash(token), username, kind, expires,
        )  # fmt: skip
    return token, expires, Actor(username=row["username"], role=row["role"], region=row["region"], opd=row["opd"])


def _verify(stored: str, password: str) -> bool:
    try:
        return _hasher.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return False


async def actor_for(pool: asyncpg.Pool, token: str) -> Actor | None:
    row = await pool.fetchrow(
        "SELECT u.username, u.role, u.region, u.opd FROM sessions s JOIN users u USING (username)"
        " WHERE s.token_hash = $1 AND s.revoked_at IS NULL AND s.expires_at > now() AND u.disabled_at IS NULL",
        token_hash(token),
    )
    return (
        None if row is None else Actor(username=row["username"], role=row["role"], region=row["region"], opd=row["opd"])
    )


async def revoke(pool: asyncpg.Pool, token: str) -> None:
    await pool.execute("UPDATE sessions SET revoked_at = now() WHERE token_hash = $1 AND revoked_at IS NULL",
                       token_hash(token))  # fmt: skip
