"""The domain stays pure: it imports only the standard library, msgspec and itself."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import musrenbang.domain

ALLOWED = {"msgspec", "musrenbang"}
IO_MODULES = {"asyncio", "socket", "subprocess", "os", "io", "pathlib", "shutil", "http", "urllib", "sqlite3",
              "time", "random", "uuid", "secrets", "logging"}
"""Input and output, and what differs from one call to the next (the clock, chance, fresh ids): a rule
is given today, or an id, by the service that calls it, so that the same command decides the same."""


def imported_top_level_names(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if node.module.startswith("musrenbang.") and not node.module.startswith("musrenbang.domain"):
                names.add(node.module)
            names.add(node.module.split(".")[0])
    return names


def test_domain_imports_no_io_and_nothing_outside_itself() -> None:
    for path in Path(musrenbang.domain.__file__).parent.glob("*.py"):
        names = imported_top_level_names(path)
        outside = {n for n in names if n.startswith("musrenbang.")}
        assert not outside, f"{path.name} imports {outside}"
        third_party = {n for n in names if n not in sys.stdlib_module_names and n not in ALLOWED}
        assert not third_party, f"{path.name} imports {third_party}"
        assert not names & IO_MODULES, f"{path.name} imports I/O modules {names & IO_MODULES}"
