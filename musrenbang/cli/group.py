"""The `musrenbang` command group; each module of this package adds its commands to it."""

from __future__ import annotations

import click


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """Musrenbang: participatory development planning on an append-only event log.

    Uses the PostgreSQL server at MUSRENBANG_DATABASE_URL when it is set; otherwise starts the bundled
    server with its data in MUSRENBANG_DATA_DIR (default: a per-user data directory).
    """
