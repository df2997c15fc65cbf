"""Signing in, with wrong passwords counted per username over every address as well as per username and
address (services/accounts.py).

The per-address throttle alone gave an attacker with many addresses (the 65,536 /64s of one IPv6 /48,
a botnet) four free guesses at one username from each. So every username also has a budget over all
addresses: `ACCOUNT_ATTEMPTS` attempts in a window of `ACCOUNT_WINDOW` that starts with the first of them.
Once it is spent, that username is refused (429, "coba lagi dalam N menit") until the window is over,
before any password is checked: at most 40 guesses an hour at one account, however many addresses guess.

Why this cannot lock the real user out:

- The refusal is short and bounded: it ends with the window (15 minutes at most after the window's first
  attempt), and attempts refused meanwhile do not count or move it on. An attacker can spend the budget
  again as each window opens, but cannot make one refusal last longer; for as long as one keeps doing so,
  the way in is the next point.
- An address where the account signed in successfully in the last `KNOWN_FOR` (an IPv6 address by its
  /64) is not subject to it, neither counted nor refused: the staff member at their office, home or usual
  phone network still gets in while someone elsewhere spends the budget. From there only the per-address
  throttle applies, as before, to whoever shares that address.
- The budget is well above what a person mistyping uses (the per-address throttle already slows one
  address after four failures); a correct password, and an attempt the per-address throttle turned away
  before any password was tried, give their place back.

Unknown usernames are counted exactly like real ones (the row is the username as typed, whether or not an
account has it), and a refusal comes before any account is looked up, so the throttle does not tell
whether a username exists; the password check of an unknown username still costs what a real one does
(accounts.login). Only a correct password records a known address, so an attacker cannot make one.

Every count lives in PostgreSQL (migration 0039), shared by all server processes; each attempt reserves
its place with one statement, so concurrent guesses from many addresses cannot slip past the budget.
Rows of windows that are over are deleted on every wrong password, and known addresses older than
`KNOWN_FOR` on every sign-in, so neither table grows without end.
"""

from __future__ import annotations

import datetime as dt
import math

import asyncpg

from musrenbang.domain.access import Actor
from musrenbang.domain.errors import N_, Message
from musrenbang.services import accounts

ACCOUNT_ATTEMPTS = 10
"""Attempts at one username, from addresses it has not signed in from, in one window."""
ACCOUNT_WINDOW = dt.timedelta(minutes=15)
KNOWN_FOR = dt.timedelta(days=30)
"""How long an address where an account signed in stays exempt from that account's budget."""


class AccountThrottled(accounts.TooManyAttempts):
    """The username's budget over all addresses is spent (429, with Retry-After)."""


async def login(
    pool: asyncpg.Pool, username: str, password: str, client: str, kind: str, *, now: dt.datetime | None = None
) -> tuple[str, dt.datetime, Actor]:
    """`accounts.login` (per username and address) behind the per-username budget. `client` is the address
    as the limits count it (ratelimit.limit_key); `now` stands in for the database's clock (tests). The
    username is taken as `accounts.typed_username` reads it, before anything counts it."""
    username = accounts.typed_username(username)
    window = await _reserve(pool, username, client, now)
    try:
        signed_in = await accounts.login(pool, username, password, client, kind)
    except accounts.NotAuthenticated:
        # A wrong password (or no such account): the attempt stays counted.
        await pool.execute("DELETE FROM login_account_throttle"
                           " WHERE window_start <= coalesce($1::timestamptz, now()) - $2::interval", now,
                           ACCOUNT_WINDOW)  # fmt: skip
        raise
    except accounts.TooManyAttempts:
        # Refused by the per-address throttle: no password was tried, the place is given back. (An attempt
        # that failed otherwise, a database gone away, stays counted: the cautious side.)
        if window is not None:
            await _give_back(pool, username, window)
        raise
    async with pool.acquire() as conn, conn.transaction():
        if window is not None:
            await _give_back(conn, username, window)
        await conn.execute("DELETE FROM login_known_clients"
                           " WHERE last_success < coalesce($1::timestamptz, now()) - $2::interval", now,
                           KNOWN_FOR)  # fmt: skip
        await conn.execute(_KNOWN, username, client, now)
    return signed_in


async def _reserve(pool: asyncpg.Pool, username: str, client: str, now: dt.datetime | None) -> dt.datetime | None:
    """Count this attempt in `username`'s window (the window's start, to give it back by), or None from an
    address where the account signed in of late; raise AccountThrottled when the window's budget is spent."""
    row = await pool.fetchrow(_RESERVE, username, client, now, ACCOUNT_WINDOW, ACCOUNT_ATTEMPTS, KNOWN_FOR)
    if row["known"]:
        return None
    if row["reserved"] is not None:
        return row["reserved"]
    seconds = max(1, math.ceil(row["wait"] if row["wait"] is not None else ACCOUNT_WINDOW.total_seconds()))
    raise AccountThrottled(
        Message(N_("terlalu banyak percobaan masuk untuk akun ini; coba lagi dalam %(minutes)d menit"),
                minutes=math.ceil(seconds / 60)),
        retry_after=seconds,
    )  # fmt: skip


async def _give_back(conn: asyncpg.Pool | asyncpg.Connection, username: str, window: dt.datetime) -> None:
    """Uncount an attempt that did not try a wrong password, if its window is still the current one."""
    await conn.execute("UPDATE login_account_throttle SET failures = failures - 1"
                       " WHERE username = $1 AND window_start = $2 AND failures > 0", username, window)  # fmt: skip


# One statement: an address where the account signed in within KNOWN_FOR ($6) reserves nothing; any other
# takes a place in the username's window while it has room ($5), or starts a new window once the last is
# over ($4). The row is locked for this statement only, so concurrent attempts take turns on it. `clock` is
# read once ($3 in tests): the proposed row's window_start (EXCLUDED) carries it into the update. `wait`
# reads the window as it was before this statement: for a refusal, unchanged (None only when a concurrent
# attempt created the row meanwhile).
_RESERVE = """
WITH clock AS MATERIALIZED (
    SELECT coalesce($3::timestamptz, clock_timestamp()) AS now
), known AS (
    SELECT 1 FROM login_known_clients, clock
    WHERE username = $1 AND client = $2 AND last_success > clock.now - $6::interval
), reserved AS (
    INSERT INTO login_account_throttle AS t (username, window_start, failures)
    SELECT $1, clock.now, 1 FROM clock WHERE NOT EXISTS (SELECT 1 FROM known)
    ON CONFLICT (username) DO UPDATE SET
        window_start = CASE WHEN t.window_start <= excluded.window_start - $4::interval
                            THEN excluded.window_start ELSE t.window_start END,
        failures = CASE WHEN t.window_start <= excluded.window_start - $4::interval THEN 1 ELSE t.failures + 1 END
    WHERE t.window_start <= excluded.window_start - $4::interval OR t.failures < $5
    RETURNING t.window_start
)
SELECT EXISTS (SELECT 1 FROM known) AS known,
       (SELECT window_start FROM reserved) AS reserved,
       (SELECT extract(epoch FROM t.window_start + $4::interval - clock.now)::float8
        FROM login_account_throttle t, clock WHERE t.username = $1) AS wait
"""

_KNOWN = """
INSERT INTO login_known_clients (username, client, last_success)
VALUES ($1, $2, coalesce($3::timestamptz, now()))
ON CONFLICT (username, client) DO UPDATE SET last_success = excluded.last_success
"""
