"""Staff accounts: argon2id password hashes, sessions and API tokens kept as hashes in PostgreSQL (so
they work across server processes and end for real on logout), and retries slowed per username and
address after failures (and, over every address, per username: services/login_throttle.py)."""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
import hashlib
import re
import secrets
import unicodedata

import asyncpg
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from musrenbang.domain import bounds
from musrenbang.domain.access import ROLES, Actor
from musrenbang.domain.errors import N_, DomainError, Message, ValidationFailed
from musrenbang.services import city as city_service

BROWSER_TTL = dt.timedelta(hours=12)
API_TTL = dt.timedelta(hours=8)
FORGET_AFTER = dt.timedelta(hours=1)
"""A quiet hour after the last attempt, and the count of failures starts again."""
_hasher = PasswordHasher()  # argon2id with the library's current recommended parameters
_USERNAME = re.compile(r"^[a-z0-9._-]{3,40}$")


class NotAuthenticated(DomainError):
    code = "unauthenticated"


class TooManyAttempts(DomainError):
    code = "rate_limited"

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


def typed_username(text: str) -> str:
    """The username a sign-in means by what was typed: a phone capitalises the first letter and its keyboard
    adds a space after a word, and neither can be part of a username (lowercase ASCII, `add_user`); so
    `" Admin "` and full-width `ａｄｍｉｎ` sign in as `admin`, and every spelling of one username shares its
    throttles (login_throttle.py) instead of each getting budgets of its own."""
    return unicodedata.normalize("NFKC", text).strip().lower()


def token_hash(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


async def add_user(
    conn: asyncpg.Connection,
    username: str,
    password: str,
    role: str,
    region: str | None,
    opd: str | None,
    *,
    dapil: str | None = None,
    name: str | None = None,
    faction: str | None = None,
) -> None:
    """A staff account; an `opd` account names one of the city's perangkat daerah, a facilitator one of
    its kelurahan, desa or kecamatan, a DPRD member (`dprd`) their daerah pemilihan (one of the city's,
    when its settings name them), and the name and faction their pokir are published with."""
    errors: dict[str, str | Message] = {}
    if not _USERNAME.match(username):
        errors["username"] = N_("nama pengguna 3-40 huruf kecil, angka, titik, garis bawah atau tanda hubung")
    if role not in ROLES:
        errors["role"] = N_("peran tidak dikenal")
    if problem := _password_problem(password):
        errors["password"] = problem
    dapil, name, faction = await _scope(conn, role, region, opd, dapil, name, faction, errors)
    if role == "dprd" and not name and "name" not in errors:  # a member's pokir are published under it
        errors["name"] = N_("anggota DPRD memerlukan nama, yang tercantum pada pokok pikirannya")
    if errors:
        raise ValidationFailed(errors)
    try:
        await conn.execute(
            "INSERT INTO users (username, password_hash, role, region, opd, dapil, name, faction)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            username, _hasher.hash(password), role, region if role == "facilitator" else None,
            opd if role == "opd" else None, dapil if role == "dprd" else None, name, faction,
        )  # fmt: skip
    except asyncpg.UniqueViolationError:
        raise DomainError(N_("nama pengguna sudah dipakai")) from None


async def _scope(
    conn: asyncpg.Connection,
    role: str,
    region: str | None,
    opd: str | None,
    dapil: str | None,
    name: str | None,
    faction: str | None,
    errors: dict[str, str | Message],
) -> tuple[str | None, str | None, str | None]:
    """What an account of `role` acts for, checked against the city's settings as they are now (a new
    account and one moved to a successor agency or dapil alike): a facilitator's region, an `opd` account's
    agency code, a DPRD member's dapil, name and faction (returned cleaned). What is wrong goes into
    `errors`."""
    city = await city_service.current_on(conn)
    agencies = [a.code for a in city.agencies]
    if role == "facilitator" and not region:
        errors["region"] = N_("fasilitator memerlukan wilayah (kode kelurahan atau kecamatan)")
    if role == "opd" and opd not in agencies:
        errors["opd"] = Message(N_("akun OPD memerlukan kode perangkat daerah yang dikenal: %(codes)s"),
                                codes=", ".join(agencies))  # fmt: skip
    member = _member(role, dapil, name, faction, [d.name for d in city.dapil], errors)
    if region and not await conn.fetchval(
        "SELECT true FROM regions WHERE kode = $1 AND tingkat IN ('kelurahan', 'desa', 'kecamatan')", region
    ):
        errors["region"] = N_("kode wilayah tidak dikenal")
    return member


async def rename_user(conn: asyncpg.Connection, username: str, *, name: str | None,
                      faction: str | None = None) -> str | None:  # fmt: skip
    """Correct the name an account is shown by (a DPRD member's: what their pokir publish from now on), and a
    member's faction. Returns the role (None: no such account). What was published before keeps the name
    it was published with: the log holds it. A name is required of a member, as `add_user` requires it."""
    async with conn.transaction():
        row = await conn.fetchrow("SELECT role, name, faction FROM users WHERE username = $1 FOR UPDATE", username)
        if row is None:
            return None
        errors: dict[str, str | Message] = {}
        if faction is not None and row["role"] != "dprd":
            errors["faction"] = N_("fraksi hanya untuk akun anggota DPRD")
        # Cleaned as `add_user` cleans them (role "" : only the name and faction, the dapil stays as it is).
        _, cleaned_name, cleaned_faction = _member("", None, name, faction, [], errors)
        if row["role"] == "dprd" and not cleaned_name and "name" not in errors:
            errors["name"] = N_("anggota DPRD memerlukan nama, yang tercantum pada pokok pikirannya")
        if errors:
            raise ValidationFailed(errors)
        await conn.execute("UPDATE users SET name = $2, faction = $3 WHERE username = $1", username, cleaned_name,
                           cleaned_faction if faction is not None else row["faction"])  # fmt: skip
        return str(row["role"])


async def move_user(conn: asyncpg.Connection, username: str, *, region: str | None = None, opd: str | None = None,
                    dapil: str | None = None) -> tuple[str, str] | None:  # fmt: skip
    """Let an account act for another region (a facilitator), agency (`opd`) or dapil (`dprd`): a
    reorganisation that retires an agency code or redraws the dapil moves its people to the successor, and
    their accounts, names and history stay theirs. Returns the account's role and its new scope as stored
    (None: no such account).
    Ends the account's sessions and tokens, as a new password does: a page still open would otherwise act
    for the new scope with what was read for the old one. Past events keep the scope they were made in
    (they name the agency or region in their own fields)."""
    async with conn.transaction():
        row = await conn.fetchrow("SELECT role, name, faction FROM users WHERE username = $1 FOR UPDATE", username)
        if row is None:
            return None
        role = row["role"]
        given = {"region": region, "opd": opd, "dapil": dapil}
        wanted = {"facilitator": "region", "opd": "opd", "dprd": "dapil"}.get(role)
        if wanted is None:
            raise ValidationFailed({"role": Message(N_("akun %(role)s tidak terikat pada wilayah, perangkat daerah"
                                                       " atau dapil: tidak ada yang dipindahkan"), role=role)})
        if given[wanted] is None or any(v is not None for k, v in given.items() if k != wanted):
            raise ValidationFailed({wanted: Message(N_("akun %(role)s dipindahkan dengan --%(option)s saja"),
                                                    role=role, option=wanted)})  # fmt: skip
        errors: dict[str, str | Message] = {}
        dapil, _, _ = await _scope(conn, role, region, opd, dapil, row["name"], row["faction"], errors)
        if errors:
            raise ValidationFailed(errors)
        await conn.execute("UPDATE users SET region = $2, opd = $3, dapil = $4 WHERE username = $1", username,
                           region, opd, dapil)  # fmt: skip
        await conn.execute("UPDATE sessions SET revoked_at = now() WHERE username = $1 AND revoked_at IS NULL",
                           username)  # fmt: skip
    return role, region or opd or f"dapil {dapil}"


def _member(
    role: str,
    dapil: str | None,
    name: str | None,
    faction: str | None,
    dapil_names: list[str],
    errors: dict[str, str | Message],
) -> tuple[str | None, str | None, str | None]:
    """A DPRD member's daerah pemilihan (one of the city's, when its settings name them), name and faction,
    cleaned as their pokir will carry them (domain/pokir.pokir_from): what is wrong goes into `errors`."""
    cleaned: dict[str, str | None] = {}
    for field, value, limit in (("dapil", dapil, 60), ("name", name, bounds.NAME), ("faction", faction, bounds.NAME)):
        try:
            cleaned[field] = bounds.clean_text(value, max_length=limit) or None if value is not None else None
        except ValueError as exc:
            errors[field], cleaned[field] = exc.args[0], None
    if role == "dprd" and "dapil" not in errors:
        if not cleaned["dapil"]:
            errors["dapil"] = N_("anggota DPRD memerlukan daerah pemilihan (--dapil)")
        elif dapil_names and cleaned["dapil"] not in dapil_names:
            errors["dapil"] = Message(N_("daerah pemilihan tidak dikenal: %(names)s"), names=", ".join(dapil_names))
    return cleaned["dapil"], cleaned["name"], cleaned["faction"]


PASSWORD_MAX = 200
"""The longest password the sign-in page and /api/v1/auth/token take (http/auth.py): a longer one could be
set, and never used."""


def _password_problem(password: str) -> str | None:
    """What is wrong with a new password, the same for a new account and a changed password: too short, too
    long to sign in with, only spaces, or characters no sign-in form sends (NUL, control characters)."""
    if len(password) < 10:
        return N_("kata sandi paling sedikit 10 karakter")
    if len(password) > PASSWORD_MAX:
        return Message(N_("terlalu panjang: paling banyak %(max)d huruf"), max=PASSWORD_MAX)
    if not password.strip():
        return N_("wajib diisi")
    if any(unicodedata.category(c) in ("Cc", "Cs") for c in password):
        return N_("berisi karakter yang tidak diizinkan")
    return None


async def set_password(conn: asyncpg.Connection, username: str, password: str) -> bool:
    """A new password for an account (False: no such account), ending its sessions and tokens in the
    same transaction: whoever held the old password, or a session opened with it, is signed out. A
    disabled account stays disabled. The username's login budget starts again (its owner, given the new
    password, gets in at once: a guesser does not know it), and no address counts as one it signed in
    from: one that did with a stolen password is no longer spared the budget (login_throttle.py)."""
    if problem := _password_problem(password):
        raise ValidationFailed({"password": problem})
    async with conn.transaction():
        status = await conn.execute("UPDATE users SET password_hash = $2 WHERE username = $1", username,
                                    _hasher.hash(password))  # fmt: skip
        await conn.execute(
            "UPDATE sessions SET revoked_at = now() WHERE username = $1 AND revoked_at IS NULL", username
        )
        await conn.execute("DELETE FROM login_account_throttle WHERE username = $1", username)
        await conn.execute("DELETE FROM login_known_clients WHERE username = $1", username)
    return status == "UPDATE 1"


async def list_users(conn: asyncpg.Connection) -> list[asyncpg.Record]:
    return await conn.fetch("SELECT username, role, region, opd, dapil, name, faction, disabled_at, created_at"
                            " FROM users ORDER BY username")  # fmt: skip


def _actor(row: asyncpg.Record) -> Actor:
    return Actor(username=row["username"], role=row["role"], region=row["region"], opd=row["opd"], dapil=row["dapil"])


async def member(conn: asyncpg.Connection, username: str) -> asyncpg.Record | None:
    """A DPRD member's account as their pokir publish it (name, faction, daerah pemilihan)."""
    return await conn.fetchrow("SELECT username, coalesce(name, username) AS name, coalesce(faction, '') AS faction,"
                               " dapil FROM users WHERE username = $1 AND role = 'dprd'", username)  # fmt: skip


async def disable_user(conn: asyncpg.Connection, username: str) -> bool:
    async with conn.transaction():
        status = await conn.execute(
            "UPDATE users SET disabled_at = now() WHERE username = $1 AND disabled_at IS NULL", username
        )
        await conn.execute(
            "UPDATE sessions SET revoked_at = now() WHERE username = $1 AND revoked_at IS NULL", username
        )
        await conn.execute("DELETE FROM login_account_throttle WHERE username = $1", username)
        await conn.execute("DELETE FROM login_known_clients WHERE username = $1", username)
    return status == "UPDATE 1"


async def enable_user(conn: asyncpg.Connection, username: str) -> bool:
    """A disabled account may sign in again (False: no such disabled account), with the password it had;
    nothing it held before is given back (`disable_user` ended its sessions and tokens)."""
    status = await conn.execute(
        "UPDATE users SET disabled_at = NULL WHERE username = $1 AND disabled_at IS NOT NULL", username
    )
    return status == "UPDATE 1"


async def is_disabled(conn: asyncpg.Connection, username: str) -> bool:
    return bool(await conn.fetchval("SELECT disabled_at IS NOT NULL FROM users WHERE username = $1", username))


async def login(
    pool: asyncpg.Pool, username: str, password: str, client: str, kind: str
) -> tuple[str, dt.datetime, Actor]:
    """A new session or API token for correct credentials.

    Wrong passwords slow down the next attempt *for this username from this address* (migration 0020:
    free for the first four, then a delay doubling from 1 s to 15 min): nobody can lock someone else's
    account, and a shared address (a NAT, a proxy) does not slow down its users of other usernames.
    `client` is the address as the limits count it (an IPv6 address by its /64). Each attempt first
    reserves its place with one statement on the (username, address) row — counting itself as a failure
    until the password proves right — so concurrent guesses cannot pass the count. An unknown username
    costs the same password check as a known one: the answer's timing does not tell whether it exists.
    """
    key = f"{username}|{client}"
    async with pool.acquire() as conn:
        failures = await conn.fetchval(_RESERVE, key, FORGET_AFTER)
        if failures is None:
            wait = await conn.fetchval(
                "SELECT ceil(extract(epoch FROM next_try - clock_timestamp()))::int FROM login_throttle WHERE key = $1",
                key,
            )
            seconds = max(1, wait or 1)
            raise TooManyAttempts(Message(N_("terlalu banyak percobaan masuk yang gagal; coba lagi dalam %(seconds)d"
                                             " detik"), seconds=seconds), retry_after=seconds)  # fmt: skip
        row = await conn.fetchrow(
            "SELECT username, password_hash, role, region, opd, dapil FROM users WHERE username = $1"
            " AND disabled_at IS NULL",
            username,
        )
    stored = row["password_hash"] if row is not None else _dummy_hash()
    # Off the event loop: a password check takes tens of milliseconds of CPU on purpose.
    if not await asyncio.to_thread(_verify, stored, password) or row is None:
        # Rows of keys quiet for FORGET_AFTER are forgotten here too (and on every success): guesses at
        # made-up usernames never succeed, and must not make the table grow without end.
        await pool.execute("DELETE FROM login_throttle WHERE last_try < now() - $1::interval", FORGET_AFTER)
        raise NotAuthenticated(N_("nama pengguna atau kata sandi salah"))
    token = secrets.token_urlsafe(32)
    expires = dt.datetime.now(dt.UTC) + (API_TTL if kind == "api" else BROWSER_TTL)
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute("DELETE FROM login_throttle WHERE key = $1 OR last_try < now() - $2::interval", key,
                           FORGET_AFTER)  # fmt: skip
        await conn.execute(
            "INSERT INTO sessions (token_hash, username, kind, expires_at) VALUES ($1, $2, $3, $4)",
            token_hash(token), username, kind, expires,
        )  # fmt: skip
    return token, expires, _actor(row)


# One statement, so that concurrent attempts take turns on the row: an attempt is let through only when
# the row's next_try has come, and it moves next_try on (counting itself as a failure) before the next one
# can look. A quiet FORGET_AFTER starts the count again.
# The clock is read when the statement runs (clock_timestamp()), not when its transaction began (now()):
# an attempt that waited for a concurrent one's row lock must compare against the time after the wait,
# or it would find next_try (the other's "now") still ahead and be refused while no delay is due.
_RESERVE = """
INSERT INTO login_throttle AS t (key, failures, next_try, last_try)
VALUES ($1, 1, clock_timestamp() + login_delay(1), clock_timestamp())
ON CONFLICT (key) DO UPDATE SET
    failures = CASE WHEN t.last_try < clock_timestamp() - $2::interval THEN 1 ELSE t.failures + 1 END,
    next_try = clock_timestamp()
               + login_delay(CASE WHEN t.last_try < clock_timestamp() - $2::interval THEN 1 ELSE t.failures + 1 END),
    last_try = clock_timestamp()
WHERE t.next_try <= clock_timestamp()
RETURNING failures
"""


@functools.cache
def _dummy_hash() -> str:
    """A hash with the same cost as every real one, to check passwords of unknown usernames against."""
    return _hasher.hash(secrets.token_urlsafe(16))


def _verify(stored: str, password: str) -> bool:
    try:
        return _hasher.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return False


async def actor_for(pool: asyncpg.Pool, token: str) -> Actor | None:
    row = await pool.fetchrow(
        "SELECT u.username, u.role, u.region, u.opd, u.dapil FROM sessions s JOIN users u USING (username)"
        " WHERE s.token_hash = $1 AND s.revoked_at IS NULL AND s.expires_at > now() AND u.disabled_at IS NULL",
        token_hash(token),
    )
    return None if row is None else _actor(row)


async def revoke(pool: asyncpg.Pool, token: str) -> None:
    await pool.execute("UPDATE sessions SET revoked_at = now() WHERE token_hash = $1 AND revoked_at IS NULL",
                       token_hash(token))  # fmt: skip
