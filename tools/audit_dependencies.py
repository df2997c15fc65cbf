"""Audit the project's installed dependencies for known vulnerabilities (CI runs it after mypy).

    python tools/audit_dependencies.py

What it audits: every package constraints.txt pins (pyproject.toml's dependencies and its `test` extra,
resolved by tools/update_constraints.py), at the version installed in the interpreter that runs this
script: in CI, the environment `.ci/run` has just made with `pip install -c constraints.txt '.[test]'`.
Not musrenbang itself, nor any other package installed from a local directory or in editable mode
(PyPI knows nothing of them, and a PyPI project of the same name would be someone else's), and not the
other packages the machine's interpreter happens to hold (pip, the image's own tools): they are no part
of what the project installs.

pip-audit (pinned with the test extra) asks PyPI's vulnerability data (the `pypi` service: PyPI's JSON
API, the registry pip installs from) about each `name==version`, with `--no-deps --disable-pip`: nothing
is resolved or installed again, the versions audited are the installed ones.

Every known vulnerability is printed (package, version, id and aliases, fixed versions). Exit status:

    0  no known vulnerability, or only ones without a fixed release (printed as warnings: there is
       nothing to upgrade to yet; every run looks again)
    1  a vulnerability with a fixed release: raise the pin (in pyproject.toml's lower bound or by
       regenerating constraints.txt with tools/update_constraints.py), run the tests, commit
    2  the audit could not be done: pip-audit is missing or failed, or the vulnerability service could
       not be reached, answered with an error, or had no answer for some package ("not found on PyPI"
       for a package pip installed from PyPI means the service did not answer, not that the package is
       safe: pip-audit would only skip it). CI fails then too, loudly rather than passing as if the
       audit were clean; the message says it was the service and not a vulnerability, so the fix is to
       run CI again once PyPI's JSON API answers. With --allow-unreachable that case prints the same
       message as a warning and exits 0 instead (a vulnerability with a fix still exits 1).

The `pypi` service reads https://pypi.org/pypi/NAME/VERSION/json. A network that lets pip reach PyPI's
simple index but not that JSON API (some proxies serve only what pip needs) gives "not found" for every
package, hence exit 2 there.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CONSTRAINTS = ROOT / "constraints.txt"
SELF = "musrenbang"
SERVICE = "pypi"
# Words in pip-audit's error output that mean the vulnerability service, not pip-audit, failed.
SERVICE_TROUBLE = re.compile(
    r"ConnectionError|ConnectTimeout|ReadTimeout|Timeout|ServiceError|HTTPError|Max retries|"
    r"Could not connect|not redirecting|Name or service not known|Temporary failure in name resolution|"
    r"Connection refused|SSLError|ProxyError|pypi\.org",
    re.IGNORECASE,
)


def name(text: str) -> str:
    """A project name normalised (PEP 503), as constraints.txt and pip-audit's report may spell it."""
    return re.sub(r"[-_.]+", "-", text).lower()


def pinned() -> dict[str, str]:
    """constraints.txt as normalised name -> pinned version."""
    pins = {}
    for line in CONSTRAINTS.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if "==" in line:
            project, version = line.split("==", 1)
            pins[name(project)] = version.strip()
    return pins


def local(dist: importlib.metadata.Distribution) -> bool:
    """Installed from a directory on this machine (editable or not), not from an index."""
    try:
        direct = json.loads(dist.read_text("direct_url.json") or "{}")
    except ValueError:
        return False
    return "dir_info" in direct or str(direct.get("url", "")).startswith("file:")


def audited() -> tuple[list[str], list[str]]:
    """`name==version` of each pinned package as installed here, and notes on the pins that are not."""
    requirements, notes = [], []
    for project, version in sorted(pinned().items()):
        if project == SELF:
            continue
        try:
            dist = importlib.metadata.distribution(project)
        except importlib.metadata.PackageNotFoundError:
            notes.append(f"{project}=={version} is pinned but not installed here: not audited")
            continue
        if local(dist):
            notes.append(f"{project} is installed from a local directory: not audited")
            continue
        if dist.version != version:
            notes.append(f"{project}: pinned {version}, installed {dist.version}; auditing the installed one")
        requirements.append(f"{project}=={dist.version}")
    return requirements, notes


def run_pip_audit(requirements: list[str]) -> dict | str:
    """pip-audit's JSON report, or why there is none."""
    with tempfile.TemporaryDirectory(prefix="musrenbang-audit-") as tmp:
        listed, report = Path(tmp) / "requirements.txt", Path(tmp) / "report.json"
        listed.write_text("".join(f"{r}\n" for r in requirements))
        command = [sys.executable, "-m", "pip_audit", "--requirement", str(listed), "--no-deps", "--disable-pip",
                   "--vulnerability-service", SERVICE, "--format", "json", "--output", str(report),
                   "--progress-spinner", "off", "--timeout", "30"]  # fmt: skip
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=1800)
        except subprocess.TimeoutExpired:
            return "pip-audit did not finish within 30 minutes (the vulnerability service did not answer)"
        output = (done.stderr + done.stdout).strip()
        if done.returncode in (0, 1) and report.exists():
            try:
                return json.loads(report.read_text())
            except ValueError:
                pass
        if "No module named pip_audit" in output:
            return "pip-audit is not installed: pip install -c constraints.txt '.[test]'"
        tail = "\n".join(output.splitlines()[-15:])
        if SERVICE_TROUBLE.search(output):
            return (f"the vulnerability service ({SERVICE}: PyPI's JSON API) could not be reached or answered with"
                    f" an error, so nothing was audited; this is not a vulnerability finding. Run it again once"
                    f" the service answers. pip-audit exited {done.returncode}:\n{tail}")  # fmt: skip
        return f"pip-audit failed (exit {done.returncode}) before it could report; nothing was audited:\n{tail}"


def unreachable(message: str, allow: bool) -> int:
    """The audit could not be done: exit 2, or 0 with a warning under --allow-unreachable."""
    if allow:
        print(f"WARNING: dependency audit not done (allowed by --allow-unreachable): {message}", file=sys.stderr)
        return 0
    print(f"error: dependency audit not done: {message}", file=sys.stderr)
    return 2


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--allow-unreachable",
        action="store_true",
        help="exit 0 with a warning (instead of 2) when the vulnerability service cannot be used",
    )
    args = parser.parse_args()
    requirements, notes = audited()
    for note in notes:
        print(f"note: {note}")
    if not requirements:
        print("error: none of the packages constraints.txt pins is installed here; nothing to audit", file=sys.stderr)
        return 2
    print(f"Auditing {len(requirements)} installed packages pinned in constraints.txt ({SERVICE} service) ...",
          flush=True)  # fmt: skip
    report = run_pip_audit(requirements)
    if isinstance(report, str):
        return unreachable(report, args.allow_unreachable)
    dependencies = report.get("dependencies", [])
    skipped = [d for d in dependencies if "skip_reason" in d]
    checked = [d for d in dependencies if "skip_reason" not in d]
    fixable = unfixable = 0
    for dep in checked:
        for vuln in dep.get("vulns", []):
            ids = ", ".join([vuln["id"], *vuln.get("aliases", [])])
            fixes = vuln.get("fix_versions") or []
            if fixes:
                fixable += 1
                print(f"VULNERABLE: {dep['name']} {dep['version']}: {ids}; fixed in {', '.join(fixes)}")
            else:
                unfixable += 1
                print(f"warning: {dep['name']} {dep['version']}: {ids}; no fixed release yet")
    if len(skipped) < len(dependencies):
        for dep in skipped:
            print(f"not audited: {dep['name']}: {dep['skip_reason']}")
    if fixable:
        print(f"{fixable} known vulnerabilities with a fixed release (and {unfixable} without one) in"
              f" {len(checked)} packages checked: raise those pins (tools/update_constraints.py)",
              file=sys.stderr)  # fmt: skip
        return 1
    if skipped:
        return unreachable(
            f"the vulnerability service ({SERVICE}: PyPI's JSON API) had no answer for {len(skipped)} of the"
            f" {len(dependencies)} packages (pip-audit's \"not found on PyPI\", though pip installed each of them"
            " from PyPI), so their versions were not checked; this is not a vulnerability finding. Run it again"
            " once https://pypi.org/pypi/NAME/VERSION/json answers from this machine."
            + (f" The {len(checked)} packages it did answer for have no known vulnerability with a fixed release"
               f" ({unfixable} without one)." if checked else ""),
            args.allow_unreachable,
        )  # fmt: skip
    print(f"No known vulnerability with a fixed release in {len(checked)} packages"
          + (f" ({unfixable} without a fixed release yet, listed above)" if unfixable else ""))  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
