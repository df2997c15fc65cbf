"""Settings: read from the environment once, at the edge (CLI or app factory), then passed in explicitly."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import msgspec
import platformdirs


class ConfigError(Exception):
    """A setting has a value the program cannot use; the message says which and why."""


class Settings(msgspec.Struct, frozen=True, kw_only=True):
    """Everything the server and the commands need to know about their surroundings.

    `database_url` None means: use the bundled PostgreSQL kept in `data_dir`.
    """

    database_url: str | None = None
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
    # Behind a reverse proxy, take the client address from X-Forwarded-For.
    trust_proxy: bool = False
    # Seconds between seals of the whole log (eventlog/seal.py); 0 turns sealing off.
    seal_interval: float = 60.0

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: object) -> Settings:
        """Settings from `MUSRENBANG_*` variables; explicit `overrides` (CLI options) win when not None."""
        env = os.environ if env is None else env
        values: dict[str, object] = {
            "database_url": env.get("MUSRENBANG_DATABASE_URL") or None,
            "data_dir": Path(env.get("MUSRENBANG_DATA_DIR") or default_data_dir()),
            "host": env.get("MUSRENBANG_HOST", "127.0.0.1"),
            "port": _int(env, "MUSRENBANG_PORT", 8000),
            "workers": _int(env, "MUSRENBANG_WORKERS", 1),
            "poll_interval": _float(env, "MUSRENBANG_POLL_INTERVAL", 5.0),
            "log_level": env.get("MUSRENBANG_LOG_LEVEL", "info"),
            "secret_key": env.get("MUSRENBANG_SECRET_KEY") or None,
            "submissions_per_hour": _int(env, "MUSRENBANG_SUBMISSIONS_PER_HOUR", 30),
            "trust_proxy": env.get("MUSRENBANG_TRUST_PROXY", "").lower() in ("1", "true", "yes"),
            "seal_interval": _float(env, "MUSRENBANG_SEAL_INTERVAL", 60.0),
        }
        values.update({k: v for k, v in overrides.items() if v is not None})
        if isinstance(values["data_dir"], str):
            values["data_dir"] = Path(values["data_dir"])
        settings = cls(**values)  # type: ignore[arg-type]  # each value has its field's type (built above)
        if not 0 < settings.port < 65536:
            raise ConfigError(f"port {settings.port} is outside 1-65535")
        if settings.workers < 1:
            raise ConfigError("workers must be at least 1")
        if settings.submissions_per_hour < 1:
            raise ConfigError("MUSRENBANG_SUBMISSIONS_PER_HOUR must be at least 1")
        if settings.seal_interval < 0:
            raise ConfigError("MUSRENBANG_SEAL_INTERVAL must be 0 (off) or more seconds")
        if settings.poll_interval <= 0:
            raise ConfigError("MUSRENBANG_POLL_INTERVAL must be more than 0 seconds")
        if settings.secret_key is not None and len(settings.secret_key) < 32:
            raise ConfigError("MUSRENBANG_SECRET_KEY must be at least 32 characters")
        return settings


def default_data_dir() -> Path:
    """Per-user data directory (e.g. ~/.local/share/musrenbang) for the bundled database."""
    return Path(platformdirs.user_data_dir("musrenbang", appauthor=False))


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw in (None, ""):
        return default
    try:
        return int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a whole number, got {raw!r}") from None


def _float(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    if raw in (None, ""):
        return default
    try:
        return float(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number, got {raw!r}") from None
