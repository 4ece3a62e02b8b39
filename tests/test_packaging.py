"""The service image's dependencies: a lock file with hashes that covers the package's runtime, serve and postgres
requirements, used by the Dockerfile (issue 22)."""

from __future__ import annotations

import re
import tomllib

from conftest import REPO


def _name(requirement: str) -> str:
    return re.split(r"[\s\[<>=!~;]", requirement.strip(), maxsplit=1)[0].lower().replace("_", "-")


def test_the_lock_pins_every_runtime_and_serve_dependency_with_hashes():
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    extras = project["optional-dependencies"]
    wanted = {_name(r) for r in project["dependencies"] + extras["serve"] + extras["postgres"]}
    lock = (REPO / "requirements" / "serve.lock").read_text(encoding="utf-8")
    pinned = dict(re.findall(r"^([A-Za-z0-9_.-]+)==(\S+) \\$", lock, flags=re.MULTILINE))
    assert wanted <= {name.lower() for name in pinned}, sorted(wanted - {name.lower() for name in pinned})
    assert pinned["torch"].endswith("+cpu")
    entries = re.split(r"\n(?=[A-Za-z0-9])", lock.split("\n", 2)[2])
    assert all("--hash=sha256:" in entry for entry in entries if "==" in entry)


def test_the_dockerfile_installs_from_the_lock():
    dockerfile = (REPO / "Dockerfile").read_text(encoding="utf-8")
    assert "--require-hashes" in dockerfile and "-r requirements/serve.lock" in dockerfile
    assert 'pip install --no-deps --no-build-isolation ".[serve,postgres]"' in dockerfile
