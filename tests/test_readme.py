"""The README's promises a newcomer relies on: the curl walk-through works when pasted, the
pinned dependencies cover what the service needs, the licence is there, and no build
output is kept in git."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tomllib

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from app.config import Settings
from app.main import PROJECT_ROOT, create_app
from tests.api import free_port, live_server
from tests.databases import BOOTSTRAP_TOKEN

README = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")


def walk_through() -> str:
    section = README.split("## A walk-through with curl", 1)[1].split("\n## ", 1)[0]
    match = re.search(r"```sh\n(.*?)```", section, re.DOTALL)
    assert match, "the walk-through has a sh block"
    return match.group(1)


@pytest.mark.commits
@pytest.mark.skipif(not (shutil.which("curl") and shutil.which("jq")), reason="curl and jq")
def test_the_curl_walk_through_works_as_pasted(settings: Settings) -> None:
    """Every line as written, run by bash with errors stopping it; only the line that starts
    the service is left out: the test serves the same app on a port of its own, and the
    walk-through's own wait finds it there."""
    lines = walk_through().splitlines()
    starts = [line for line in lines if line.startswith("./scripts/run")]
    assert len(starts) == 1, "the walk-through starts the service once"
    script = "\n".join(line for line in lines if line not in starts)
    assert "USER=" not in script.replace("$USER", ""), "USER is the shell's own variable"
    port = free_port()
    with live_server(create_app(settings), port):
        env = {**os.environ, "PORT": str(port)}
        # The bootstrap token the walk-through generates is not the served app's: the test
        # keeps the test's, so that the app knows it.
        script = script.replace(
            'export GPO_BOOTSTRAP_ADMIN_TOKEN="gpo_$(python3 -c',
            f'export GPO_BOOTSTRAP_ADMIN_TOKEN="{BOOTSTRAP_TOKEN}" # "gpo_$(python3 -c',
            1,
        )
        done = subprocess.run(  # noqa: S603 - the README's own lines
            ["bash", "-euo", "pipefail", "-c", script],  # noqa: S607 - bash from PATH
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    assert done.returncode == 0, done.stdout + done.stderr
    # The opened problem, then its timeline: created, then moved to open.
    assert '"status": "open"' in done.stdout
    assert '"reference": "P-' in done.stdout
    assert done.stdout.index('"kind": "problem.create"') < done.stdout.index(
        '"kind": "problem.transition"'
    )


def test_the_pins_cover_every_run_time_dependency_within_its_range() -> None:
    project = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    pins: dict[str, str] = {}
    for line in (PROJECT_ROOT / "constraints.txt").read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, version = line.partition("==")
            assert version, f"{line!r} is not pinned with =="
            pins[canonicalize_name(name)] = version.strip()
    for dependency in project["project"]["dependencies"]:
        requirement = Requirement(dependency)
        name = canonicalize_name(requirement.name)
        assert name in pins, f"{requirement.name} is not pinned: run ./scripts/lock"
        assert requirement.specifier.contains(pins[name], prereleases=True), (
            f"{requirement.name}=={pins[name]} is outside {requirement.specifier}: "
            "run ./scripts/lock"
        )


def test_the_licence_is_the_eupl_and_the_project_says_so() -> None:
    licence = (PROJECT_ROOT / "LICENSE").read_text(encoding="utf-8")
    assert licence.startswith("EUROPEAN UNION PUBLIC LICENCE v. 1.2")
    project = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert project["project"]["license"] == "EUPL-1.2"


@pytest.mark.skipif(not (PROJECT_ROOT / ".git").exists(), reason="a git checkout")
def test_no_build_output_is_kept_in_git() -> None:
    tracked = subprocess.run(
        ["git", "ls-files"],  # noqa: S607 - git from PATH
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    outputs = [
        path
        for path in tracked
        if re.search(r"(\.egg-info/|__pycache__/|\.pyc$|\.sqlite3|^var/|^build/|^dist/)", path)
    ]
    assert outputs == []
