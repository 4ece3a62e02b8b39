"""The dependency rule (docs/architecture.md): training, the service and benchmarks import cur_nlp, never the reverse,
and no runtime module imports from a layer above it. The contracts live in pyproject.toml ([tool.importlinter])."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def test_import_contracts_are_kept():
    # in a subprocess: import-linter reconfigures logging (disabling existing loggers) in the process it runs in
    script = ("import sys; from importlinter.cli import lint_imports; "
              f"sys.exit(lint_imports(config_filename={str(REPO / 'pyproject.toml')!r}, no_cache=True, no_logo=True))")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]


@pytest.mark.parametrize("path", sorted((REPO / "cur_nlp").rglob("*.py")), ids=lambda p: str(p.relative_to(REPO)))
def test_runtime_names_no_outer_package(path):
    """Also bare names, which import-linter cannot see because they are not installed packages."""
    outer = {"training", "serve", "benchmarks", "cur_nlp_training", "cur_nlp_serve", "tests"}
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [a.name for a in node.names if a.name.split(".")[0] in outer]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found += [node.module] if node.module.split(".")[0] in outer else []
    assert not found, f"{path.name} imports {found}"


def test_nothing_installs_as_a_bare_training_or_serve_package():
    import tomllib

    setuptools = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]
    assert not {"training", "serve"} & {p.split(".")[0] for p in setuptools["packages"]}
    assert setuptools["package-dir"] == {"cur_nlp_training": "training", "cur_nlp_serve": "serve"}
