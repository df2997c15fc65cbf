"""Nothing points back up: each layer of musrenbang/ imports only the layers before it (README, "Where
things live"): domain → eventlog → projections → delivery → services → http and cli. The domain's own
purity (no I/O at all) is tests/domain/test_purity.py's."""

from __future__ import annotations

import ast
from pathlib import Path

import musrenbang

ROOT = Path(musrenbang.__file__).parent
NOT_BELOW = {
    "domain": {"eventlog", "projections", "delivery", "services", "http", "cli", "db", "demo", "audit"},
    "eventlog": {"projections", "delivery", "services", "http", "cli", "demo", "audit"},
    "projections": {"delivery", "services", "http", "cli", "demo", "audit"},
    "delivery": {"services", "http", "cli", "demo", "audit"},
    "services": {"http", "cli", "demo", "audit"},
    "http": {"cli", "demo"},
    "audit": {"projections", "services", "http", "cli", "demo"},
}
"""For each layer, the packages it must not import (those after it, and the command line)."""


def imported_packages(path: Path) -> set[str]:
    """The musrenbang packages a module imports, wherever in it (imports inside functions count too)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names if node.module == "musrenbang"]
        found.update(n.split(".")[1] for n in names if n.startswith("musrenbang.") and n.count(".") >= 1)
    return found


def test_no_layer_imports_one_after_it() -> None:
    wrong = []
    for layer, forbidden in NOT_BELOW.items():
        for path in sorted((ROOT / layer).glob("*.py")):
            if reached := imported_packages(path) & forbidden:
                wrong.append(f"{layer}/{path.name} imports {sorted(reached)}")
    assert not wrong, "\n".join(wrong)


def test_the_check_sees_an_import_that_points_up(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text("def f():\n    from musrenbang.http import app\n    import musrenbang.services.cycles\n")
    assert imported_packages(module) == {"http", "services"}
