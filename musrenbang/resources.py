"""Where the files that ship with the package live.

`web/` and `migrations/` sit at the top of the repository and are copied into the wheel as
`musrenbang/web` and `musrenbang/migrations`; an editable install or a source checkout reads them from the
repository instead.
"""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def _shipped(name: str) -> Path:
    inside = _PACKAGE / name
    if inside.is_dir():
        return inside
    return _PACKAGE.parent / name


def web_dir() -> Path:
    return _shipped("web")


def templates_dir() -> Path:
    return web_dir() / "templates"


def static_dir() -> Path:
    return web_dir() / "static"


def migrations_dir() -> Path:
    return _shipped("migrations")
