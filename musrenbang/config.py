"""Settings: read from the environment once, at the edge (CLI or app factory), then passed in explicitly."""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import SplitResult, parse_qs, urlsplit

import msgspec
import platformdirs

from musrenbang.db.connect import redact

MAX_WORKERS = 64
"""Server processes at most: each holds a pool of up to 20 connections and its own projection and outbox
workers, so even 64 need a PostgreSQL configured far above its default 100 connections."""

WHOLE_NUMBER = re.compile(r"\s*[+-]?[0-9]+\s*")
"""A whole number in the digits 0-9 only: int() also reads other scripts' digits ("٢" is 2)."""
_DECIMAL = re.compile(r"\s*[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)\s*")


class ConfigError(Exception):
    """A setting has a value the program cannot use; the message says which and why."""


class TrustedProxies(msgspec.Struct, frozen=True):
    """Which reverse proxies in front of the server are trusted to say who the client is
    (`MUSRENBANG_TRUST_PROXY`): a number of proxies (`1`: one proxy, whose `X-Forwarded-For` entry names
    the client), or the networks they live in (`10.0.0.0/8,192.168.1.5`). Nothing by default: the address
    of the connection itself counts, and `X-Forwarded-For` is ignored."""

    hops: int = 0
    networks: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return self.hops > 0 or bool(self.networks)

    @classmethod
    def parse(cls, raw: str) -> TrustedProxies:
        text = raw.strip().lower()
        if text in ("", "0", "false", "no", "off"):
            return cls()
        if text in ("true", "yes", "on"):
            return cls(hops=1)
        if text.isascii() and text.isdigit():
            if not 1 <= int(text) <= 10:
                raise ConfigError("MUSRENBANG_TRUST_PROXY: between 1 and 10 proxies")
            return cls(hops=int(text))
        networks = []
        for part in text.split(","):
            try:
                networks.append(str(ipaddress.ip_network(part.strip(), strict=False)))
            except ValueError:
                raise ConfigError(f"MUSRENBANG_TRUST_PROXY: {part.strip()!r} is neither a number of proxies nor a"
                                  " network such as 10.0.0.0/8") from None  # fmt: skip
        return cls(networks=tuple(networks))


LOG_LEVELS = ("debug", "info", "warning", "error", "critical")
"""MUSRENBANG_LOG_LEVEL's values (any case): the server's (granian's) names for Python's levels."""


class Settings(msgspec.Struct, frozen=True, kw_only=True):
    """Everything the server and the commands need to know about their surroundings.

    `database_url` None means: use the bundled PostgreSQL kept in `data_dir`.
    """

    database_url: str | None = None
    # Streaming standbys of that database for public reads (db/replicas.py); none: every read is the primary's.
    # They hold passwords: print them only through `db.connect.redact`.
    replica_urls: tuple[str, ...] = ()
    data_dir: Path
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 1
    # Projection workers poll this often even when no notification arrives (notifications are hints).
    poll_interval: float = 5.0
    log_level: str = "info"
    # Signs CSRF tokens and derives revision secrets; shared by all processes. When unset, `serve`
    # takes the one kept in the database (generated on first start).
    secret_key: str | None = None
    # New proposals accepted per client address per hour (retries of the same submission don't count).
    submissions_per_hour: int = 30
    # The proxies trusted to name the client in X-Forwarded-For (and the scheme in X-Forwarded-Proto).
    trust_proxy: TrustedProxies = TrustedProxies()
    # The address the public reaches the site at, for every absolute link (a Berita Acara's QR code):
    # configuration, never the request's Host header. Default: where `serve` listens.
    public_url: str = ""
    # Seconds between seals of the whole log (eventlog/seal.py); 0 turns sealing off.
    seal_interval: float = 60.0
    # Seconds between the server's own checks of every chain and seal (eventlog/verifications.py), the
    # first soon after start; 0 turns them off.
    verify_interval: float = 21600.0
    # Where messages to residents go (musrenbang/delivery/): an SMTP server for e-mail
    # (smtp://user:pass@host:587, smtps://…:465, ?from=addr), and an HTTP gateway for SMS and WhatsApp.
    # None: that channel is not configured and its messages wait in the outbox. They hold passwords:
    # print them only through `db.connect.redact`.
    smtp_url: str | None = None
    sms_gateway_url: str | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: object) -> Settings:
        """Settings from `MUSRENBANG_*` variables; explicit `overrides` (CLI options) win when not None."""
        env = os.environ if env is None else env
        if "MUSRENBANG_DATABASE_URL" in env and not env["MUSRENBANG_DATABASE_URL"].strip():
            # `MUSRENBANG_DATABASE_URL=$DB_URL` with DB_URL unset: taken as unset, the site ran on a new
            # bundled database of its own, beside the one the operator meant.
            raise ConfigError("MUSRENBANG_DATABASE_URL is set but empty: give the database's URL, or unset it to"
                              " use the bundled database")  # fmt: skip
        values: dict[str, object] = {
            "database_url": env.get("MUSRENBANG_DATABASE_URL") or None,
            "replica_urls": _replica_urls(env.get("MUSRENBANG_REPLICA_URLS", "")),
            "data_dir": Path(env.get("MUSRENBANG_DATA_DIR") or default_data_dir()),
            "host": env.get("MUSRENBANG_HOST", "127.0.0.1"),
            "port": _int(env, "MUSRENBANG_PORT", 8000),
            "workers": _int(env, "MUSRENBANG_WORKERS", 1),
            "poll_interval": _float(env, "MUSRENBANG_POLL_INTERVAL", 5.0),
            "log_level": env.get("MUSRENBANG_LOG_LEVEL", "info").strip().lower() or "info",
            "secret_key": env.get("MUSRENBANG_SECRET_KEY") or None,
            "submissions_per_hour": _int(env, "MUSRENBANG_SUBMISSIONS_PER_HOUR", 30),
            "trust_proxy": TrustedProxies.parse(env.get("MUSRENBANG_TRUST_PROXY", "")),
            "public_url": env.get("MUSRENBANG_PUBLIC_URL", ""),
            "seal_interval": _float(env, "MUSRENBANG_SEAL_INTERVAL", 60.0),
            "verify_interval": _float(env, "MUSRENBANG_VERIFY_INTERVAL", 21600.0),
            "smtp_url": env.get("MUSRENBANG_SMTP_URL", "").strip() or None,
            "sms_gateway_url": env.get("MUSRENBANG_SMS_GATEWAY_URL", "").strip() or None,
        }
        values.update({k: v for k, v in overrides.items() if v is not None})
        if isinstance(values["data_dir"], str):
            values["data_dir"] = Path(values["data_dir"])
        settings = cls(**values)  # type: ignore[arg-type]  # each value has its field's type (built above)
        if not 0 < settings.port < 65536:
            raise ConfigError(f"port {settings.port} is outside 1-65535")
        if not 1 <= settings.workers <= MAX_WORKERS:
            raise ConfigError(f"MUSRENBANG_WORKERS must be between 1 and {MAX_WORKERS} (server processes),"
                              f" got {settings.workers}")  # fmt: skip
        if settings.submissions_per_hour < 1:
            raise ConfigError("MUSRENBANG_SUBMISSIONS_PER_HOUR must be at least 1")
        if settings.seal_interval < 0:
            raise ConfigError("MUSRENBANG_SEAL_INTERVAL must be 0 (off) or more seconds")
        if settings.verify_interval < 0:
            raise ConfigError("MUSRENBANG_VERIFY_INTERVAL must be 0 (off) or more seconds")
        if settings.poll_interval <= 0:
            raise ConfigError("MUSRENBANG_POLL_INTERVAL must be more than 0 seconds")
        if settings.log_level not in LOG_LEVELS:
            raise ConfigError(f"MUSRENBANG_LOG_LEVEL must be one of {', '.join(LOG_LEVELS)}, got"
                              f" {settings.log_level!r}")  # fmt: skip
        if settings.secret_key is not None and len(settings.secret_key) < 32:
            raise ConfigError("MUSRENBANG_SECRET_KEY must be at least 32 characters")
        if settings.smtp_url is not None:
            _check_smtp_url(settings.smtp_url)
        if settings.sms_gateway_url is not None:
            _check_gateway_url(settings.sms_gateway_url)
        return msgspec.structs.replace(settings, public_url=_public_url(settings))

    @property
    def photos_per_hour(self) -> int:
        """Photos decoded per client address per hour (each decode counts, a retry too): three photos for
        each submission allowed, and one more try for each."""
        return 4 * self.submissions_per_hour

    @property
    def over_https(self) -> bool:
        """Whether the public reaches the site over HTTPS (then cookies are Secure and HSTS is sent)."""
        return self.public_url.startswith("https://")


def secret_bytes(secret: str) -> bytes:
    """The key a secret stands for: the bytes it spells in hex (the secret generated on first start is
    hex), else its UTF-8 bytes (MUSRENBANG_SECRET_KEY may be any 32 characters or more, a passphrase too:
    read as hex only, such a key stopped every server process as it started)."""
    try:
        return bytes.fromhex(secret)
    except ValueError:
        return secret.encode()


def _public_url(settings: Settings) -> str:
    """`MUSRENBANG_PUBLIC_URL` checked (http or https, a host, no path), or where `serve` listens."""
    raw = settings.public_url.strip().rstrip("/")
    if not raw:
        host = "localhost" if settings.host in ("0.0.0.0", "::", "") else settings.host
        host = f"[{host}]" if ":" in host else host
        return f"http://{host}:{settings.port}"
    parts = urlsplit(raw)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.path or parts.query or parts.fragment:
        raise ConfigError(f"MUSRENBANG_PUBLIC_URL must look like https://musrenbang.example.go.id, got {raw!r}")
    return raw


def _replica_urls(raw: str) -> tuple[str, ...]:
    """`MUSRENBANG_REPLICA_URLS`: PostgreSQL URLs separated by commas (blanks around them ignored)."""
    urls = tuple(part.strip() for part in raw.split(",") if part.strip())
    for url in urls:
        shown = redact(url)
        parts = _split(url, "MUSRENBANG_REPLICA_URLS", shown)
        if parts.scheme not in ("postgresql", "postgres") or not (parts.hostname or "host=" in parts.query):
            raise ConfigError(f"MUSRENBANG_REPLICA_URLS: each must look like postgresql://user:password@replica1:5432/"
                              f"musrenbang, got {shown!r}")  # fmt: skip
    if len(set(urls)) != len(urls):
        raise ConfigError("MUSRENBANG_REPLICA_URLS names the same replica twice")
    return urls


def _check_smtp_url(url: str) -> None:
    """`MUSRENBANG_SMTP_URL`: smtp:// (STARTTLS when offered) or smtps:// (TLS from the start), a host, a
    port if any, and nothing but `?from=` after it. The message never shows the password."""
    shown = redact(url)
    parts = _split(url, "MUSRENBANG_SMTP_URL", shown)
    if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
        raise ConfigError(f"MUSRENBANG_SMTP_URL must look like smtp://user:password@mail.example.go.id:587 or"
                          f" smtps://…:465, got {shown!r}")  # fmt: skip
    if parts.path not in ("", "/") or parts.fragment:
        raise ConfigError(f"MUSRENBANG_SMTP_URL takes no path, got {shown!r}")
    query = parse_qs(parts.query, keep_blank_values=True)
    if set(query) - {"from"} or len(query.get("from", [])) > 1:
        raise ConfigError(f"MUSRENBANG_SMTP_URL takes only ?from=address after the host, got {shown!r}")
    sender = query.get("from", ["x@y"])[0]
    if sender.count("@") != 1 or not all(sender.split("@")) or any(c in sender for c in " <>,\r\n"):
        raise ConfigError(f"MUSRENBANG_SMTP_URL: ?from= must be one e-mail address, got {sender!r}")


def _check_gateway_url(url: str) -> None:
    """`MUSRENBANG_SMS_GATEWAY_URL`: http(s), a host; credentials (HTTP Basic) only over HTTPS, unless
    the gateway runs on this machine."""
    shown = redact(url)
    parts = _split(url, "MUSRENBANG_SMS_GATEWAY_URL", shown)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.fragment:
        raise ConfigError(f"MUSRENBANG_SMS_GATEWAY_URL must look like https://user:password@sms.example.id/kirim,"
                          f" got {shown!r}")  # fmt: skip
    if parts.scheme == "http" and (parts.username or parts.password) and not is_local_host(parts.hostname):
        raise ConfigError(f"MUSRENBANG_SMS_GATEWAY_URL: the password would cross the network in clear; use"
                          f" https:// for {parts.hostname}")  # fmt: skip


def _split(url: str, name: str, shown: str) -> SplitResult:
    try:
        parts = urlsplit(url)
        _ = parts.port  # a port that is not a number raises here
    except ValueError:
        raise ConfigError(f"{name} is not a URL I can read: {shown!r}") from None
    return parts


def is_local_host(host: str) -> bool:
    """Whether `host` is this machine (a name or a loopback address), where traffic never crosses a network."""
    if host.lower() in ("localhost", "localhost.localdomain"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def default_data_dir() -> Path:
    """Per-user data directory (e.g. ~/.local/share/musrenbang) for the bundled database."""
    return Path(platformdirs.user_data_dir("musrenbang", appauthor=False))


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    if not WHOLE_NUMBER.fullmatch(raw):
        raise ConfigError(f"{name} must be a whole number written with the digits 0-9, got {raw!r}")
    return int(raw)


def _float(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    if not _DECIMAL.fullmatch(raw):  # float() also reads "٥", "nan" and "inf"
        raise ConfigError(f"{name} must be a number written with the digits 0-9, got {raw!r}")
    return float(raw)
