"""Regenerate constraints.txt: the exact version of every package that `pip install '.[test]'` installs
(and so of everything the plain `pip install .` installs), so that a fresh install gets the versions the
tests last passed with instead of whatever is newest that day.

    python tools/update_constraints.py            # rewrite constraints.txt
    python tools/update_constraints.py --check    # exit 1 if a fresh resolution differs from it

It makes a throwaway virtual environment with this Python, installs there the project's dependencies
and its `test` extra as pyproject.toml lists them (the newest versions they and HOLDS below allow),
and writes that environment's `pip freeze` (without musrenbang itself) under a header. Nothing is
installed into the interpreter that runs it, and nothing is built in the work tree.

An upgrade is then one deliberate step: run this, run the tests against the new pins
(`pip install -c constraints.txt '.[test]' && pytest`), and commit constraints.txt with the change.
When a new release breaks the tests, hold it back in HOLDS with the reason, and drop the hold once a
fixed release is out.
"""

from __future__ import annotations

import argparse
import difflib
import re
import subprocess
import sys
import tempfile
import textwrap
import tomllib
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CONSTRAINTS = ROOT / "constraints.txt"
EXTRAS = ("test",)

# Upper bounds for releases known to break the tests: requirement -> why.
HOLDS = {
    "pytest<9.2": "pytest 9.2 replaced the private Node._nodeid with a structured NodeId (pytest PR 14758); "
    "schemathesis 4.32.5's schemathesis.pytest.from_fixture still reads and writes request.node._nodeid, "
    "so tests/http/test_fuzz*.py fail with AttributeError: 'Function' object has no attribute '_nodeid'",
}


def requirements() -> list[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    reqs = list(project["dependencies"])
    for extra in EXTRAS:
        reqs += project["optional-dependencies"][extra]
    return reqs


def resolve() -> list[str]:
    """`pip freeze` of a new virtual environment holding the requirements."""
    with tempfile.TemporaryDirectory(prefix="musrenbang-constraints-") as tmp:
        env_dir = Path(tmp) / "venv"
        venv.EnvBuilder(with_pip=True, clear=True).create(env_dir)
        pip = [str(env_dir / "bin" / "python"), "-m", "pip"]
        holds = Path(tmp) / "holds.txt"
        holds.write_text("".join(f"{req}\n" for req in HOLDS))
        subprocess.run([*pip, "install", "--quiet", "-c", str(holds), *requirements()], check=True)
        subprocess.run([*pip, "check"], check=True)
        frozen = subprocess.run([*pip, "freeze"], check=True, capture_output=True, text=True).stdout
    skip = {"musrenbang"}
    lines = [line for line in frozen.splitlines() if line and not line.startswith("#")]
    return sorted((line for line in lines if name(line) not in skip), key=name)


def name(pin: str) -> str:
    """The normalised project name of a `name==version` line."""
    return re.sub(r"[-_.]+", "-", pin.split("==")[0]).lower()


def render(pins: list[str]) -> str:
    version = ".".join(map(str, sys.version_info[:2]))
    header = [
        "# Exact versions of everything `pip install '.[test]'` installs (a superset of the plain",
        "# `pip install .`), so that every fresh install gets the set the tests last passed with:",
        "#",
        "#     pip install -c constraints.txt '.[test]'      (or -c constraints.txt . without the tests)",
        "#",
        "# Generated, do not edit by hand: `python tools/update_constraints.py` resolves pyproject.toml's",
        "# dependencies and `test` extra in a throwaway virtual environment (newest versions allowed) and",
        f"# writes its `pip freeze` here; made with CPython {version} on Linux x86_64. To upgrade, run it, run the",
        "# tests with the new pins, commit this file. To hold a package back, add it to HOLDS in that script.",
    ]
    if HOLDS:
        header.append("# Held back now:")
        for req, why in HOLDS.items():
            header += textwrap.wrap(f"{req}: {why}", 108, initial_indent="#   ", subsequent_indent="#       ")
    return "\n".join(header + pins) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="compare with constraints.txt instead of writing it")
    args = parser.parse_args()
    text = render(resolve())
    if args.check:
        old = CONSTRAINTS.read_text() if CONSTRAINTS.exists() else ""
        if old == text:
            print("constraints.txt is up to date")
            return 0
        diff = difflib.unified_diff(old.splitlines(True), text.splitlines(True), "constraints.txt", "fresh resolution")
        sys.stdout.writelines(diff)
        return 1
    CONSTRAINTS.write_text(text)
    print(f"wrote {CONSTRAINTS.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
