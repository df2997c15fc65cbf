"""Who the client is behind our proxies, and how much one client may do per hour (new proposals, photos
decoded), counted in PostgreSQL so that every server process shares the count."""

from __future__ import annotations

import ipaddress
import uuid

import asyncpg
from litestar import Request

from musrenbang.config import TrustedProxies
from musrenbang.domain.errors import N_, DomainError


class RateLimited(DomainError):
    code = "rate_limited"


def client_address(request: Request, trust_proxy: TrustedProxies) -> str:
    """The client's address, as far as it can be trusted (at most 64 characters: it becomes a key of the
    rate_limits and login throttle tables)."""
    peer = request.client.host if request.client else "unknown"
    forwarded = [hop.strip() for value in request.headers.getall("x-forwarded-for", []) for hop in value.split(",")]
    return pick_client([_without_port(hop) for hop in forwarded if hop], peer, trust_proxy)[:64]


def _without_port(hop: str) -> str:
    """A hop as an address: some proxies write `1.2.3.4:5555` or `[2001:db8::1]:443`."""
    if hop.startswith("[") and "]" in hop:
        return hop[1 : hop.index("]")]
    if hop.count(":") == 1:
        return hop.split(":", 1)[0]
    return hop


def limit_key(address: str) -> str:
    """The address as the limits count it: an IPv6 address by its /64, the block one household or phone
    is given (one client picks any address inside it at will); anything else as it is."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is None:
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip.ipv4_mapped or ip) if isinstance(ip, ipaddress.IPv6Address) else str(ip)


def pick_client(forwarded: list[str], peer: str, trust: TrustedProxies) -> str:
    """Who the client is, from the `X-Forwarded-For` hops and the connection's own address.

    Each proxy appends the address it received the request from, so only the right end of the list is
    written by proxies we trust; anything to the left of it was sent by the client and can be anything.
    The client is therefore the rightmost hop that is not one of our proxies: with `hops` proxies, the one
    that many places from the right of [*forwarded, peer]; with trusted `networks`, the first address from
    the right outside them.

        >>> pick_client(["6.6.6.6", "10.1.2.3"], "192.168.0.9", TrustedProxies(hops=1))
        '10.1.2.3'
    """
    chain = [*forwarded, peer]
    if not trust:
        return peer
    if trust.networks:
        networks = [ipaddress.ip_network(n) for n in trust.networks]
        for hop in reversed(chain):
            if not _inside(hop, networks):
                return hop
        return chain[0]
    return chain[max(len(chain) - 1 - trust.hops, 0)]


def _inside(address: str, networks: list[ipaddress.IPv4Network | ipaddress.IPv6Network]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False  # not an address: not one of our proxies
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped  # ::ffff:10.0.0.1, how a dual-stack socket shows an IPv4 proxy
    return any(ip in n for n in networks)


async def count_submission(pool: asyncpg.Pool, address: str, request_key: str, per_hour: int) -> None:
    """Count the submission `request_key` from `address`; raise RateLimited when `per_hour` distinct
    submissions from that address were already counted this hour. Two requests racing for the last
    place may both get it: a limit against floods, not an exact quota."""
    if not await _count(pool, f"submit:{limit_key(address)}", request_key, per_hour):
        raise RateLimited(N_("terlalu banyak usulan dari alamat ini dalam satu jam; silakan coba lagi nanti"))


async def count_photo_decode(pool: asyncpg.Pool, address: str, per_hour: int) -> None:
    """Count one photo about to be decoded for `address` (every decode counts, retries too: each costs up
    to a second of a core); raise RateLimited beyond `per_hour`."""
    if not await _count(pool, f"photos:{limit_key(address)}", uuid.uuid4().hex, per_hour):
        raise RateLimited(N_("terlalu banyak foto dari alamat ini dalam satu jam; silakan coba lagi nanti"))


async def count_attempt(pool: asyncpg.Pool, what: str, address: str, per_hour: int) -> None:
    """Count one attempt at `what` (a form that could be used to try guesses) from `address`; raise
    RateLimited beyond `per_hour`."""
    if not await _count(pool, f"{what}:{limit_key(address)}", uuid.uuid4().hex, per_hour):
        raise RateLimited(N_("terlalu banyak percobaan dari alamat ini dalam satu jam; silakan coba lagi nanti"))


async def _count(pool: asyncpg.Pool, bucket: str, request_key: str, per_hour: int) -> bool:
    allowed, first = await pool.fetchrow(_COUNT, bucket, request_key, per_hour)
    if first:  # the first of this bucket's window: forget windows that are over
        await pool.execute(_FORGET)
    if not allowed:
        # Twins of one request (a client sending it again before the first answer) race past `seen`, whose
        # snapshot predates the first twin's commit; one refused because its twins filled the window is
        # still the request already counted. Asked again with a snapshot of now: only on a refusal.
        allowed = await pool.fetchval(_SEEN, bucket, request_key)
    return bool(allowed)


# One round trip, whatever the window already holds: a retry keeps its place (its key is recorded); a new
# key bumps the window's count while it has room, and only then is recorded (refusals are not, so a
# window never holds more than the limit). The count's row is locked for this statement only. Two twins
# of one request arriving at the same instant both bump it: a double tap may cost one place more.
_COUNT = """
WITH seen AS (
    SELECT 1 FROM rate_limits
    WHERE bucket = $1 AND window_start = date_trunc('hour', now()) AND request_key = $2
), bumped AS (
    INSERT INTO rate_limit_windows AS w (bucket, window_start, n)
    SELECT $1, date_trunc('hour', now()), 1
    WHERE NOT EXISTS (SELECT 1 FROM seen) AND $3 > 0
    ON CONFLICT (bucket, window_start) DO UPDATE SET n = w.n + 1 WHERE w.n < $3
    RETURNING n
), recorded AS (
    INSERT INTO rate_limits (bucket, window_start, request_key)
    SELECT $1, date_trunc('hour', now()), $2
    WHERE EXISTS (SELECT 1 FROM bumped)
    ON CONFLICT (bucket, window_start, request_key) DO UPDATE SET first_seen = rate_limits.first_seen
    RETURNING 1
)
SELECT EXISTS (SELECT 1 FROM seen) OR EXISTS (SELECT 1 FROM recorded) AS allowed,
       coalesce((SELECT n FROM bumped) = 1, false) AS first
"""

_SEEN = """
SELECT EXISTS (SELECT 1 FROM rate_limits
               WHERE bucket = $1 AND window_start = date_trunc('hour', now()) AND request_key = $2)
"""

_FORGET = """
WITH keys AS (DELETE FROM rate_limits WHERE window_start < now() - interval '2 hours')
DELETE FROM rate_limit_windows WHERE window_start < now() - interval '2 hours'
"""
