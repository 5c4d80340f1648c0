"""The service imports only what its run-time dependencies install: `./scripts/run` and the
image install `pyproject.toml`'s `dependencies`, not the dev extra the suite runs with, so a
module imported from `app/` but installed only for the tests would pass here and fail to
start on a fresh machine (as `httpx` once did, for the worker)."""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parent.parent


def imported_modules() -> dict[str, Path]:
    """Top-level modules that app/ imports at module level or in functions, with a file
    that imports each."""
    found: dict[str, Path] = {}
    for path in sorted((ROOT / "app").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                found.setdefault(name.split(".")[0], path)
    return found


def normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def run_time_distributions() -> set[str]:
    """The distributions that installing the project brings: its dependencies, with their
    extras, and theirs, transitively (as installed here)."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    pending = [Requirement(r) for r in project["project"]["dependencies"]]
    seen: set[str] = set()
    while pending:
        requirement = pending.pop()
        name = normal(requirement.name)
        if name in seen:
            continue
        seen.add(name)
        try:
            requires = metadata.requires(requirement.name) or []
        except metadata.PackageNotFoundError:
            continue
        for raw in requires:
            needed = Requirement(raw)
            wanted = [{"extra": extra} for extra in requirement.extras] or [{"extra": ""}]
            if needed.marker is None or any(needed.marker.evaluate(env) for env in wanted):
                pending.append(needed)
    return seen


def test_every_module_the_service_imports_is_a_run_time_dependency() -> None:
    installed = run_time_distributions()
    providers = metadata.packages_distributions()
    missing = {}
    for module, path in imported_modules().items():
        if module in sys.stdlib_module_names or module in {"app", "__future__"}:
            continue
        distributions = {normal(d) for d in providers.get(module, [])}
        if not distributions & installed:
            missing[module] = str(path.relative_to(ROOT))
    assert missing == {}, f"imported by app/ but not a run-time dependency: {missing}"


def test_the_check_sees_a_dev_only_module() -> None:
    """The check itself: pytest is installed here, but only by the dev extra."""
    providers = metadata.packages_distributions()
    assert not {normal(d) for d in providers["pytest"]} & run_time_distributions()
    assert {normal(d) for d in providers["httpx"]} & run_time_distributions()
