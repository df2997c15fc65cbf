"""The `musrenbang` command: one module per area adds its commands to the group.

server: serve, demo, migrate, db · operations: status, replay, backup, restore · audit: verify, export ·
staff: user · pabulib: pabulib import/export · planning: setup, cycle open/list/window/advance · outbox:
outbox retry. Shared helpers (settings, the database, failures a person can fix) are in common.py; every
command without a `--data-dir` of its own gets common.py's.
"""

from musrenbang.cli import audit, operations, outbox, pabulib, planning, server, staff  # noqa: F401  (register commands)
from musrenbang.cli.common import with_data_dir_everywhere
from musrenbang.cli.group import main

with_data_dir_everywhere(main)

__all__ = ["main"]
