"""The package's layers are checked, not just drawn: ``[tool.importlinter]`` in pyproject.toml, run here.

The negative cases copy the package, add one forbidden import (the Detail system importing the rewards, the data
layer importing a model, the GRPO maths importing the module it is driven by) and expect the contract to break.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
LINT = "import sys; from importlinter.cli import lint_imports; sys.exit(lint_imports(no_cache=True, no_logo=True))"


def _lint(root: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(root / "src"))
    return subprocess.run([sys.executable, "-c", LINT], cwd=root, env=env, capture_output=True, text=True)


def test_the_package_keeps_its_layers() -> None:
    result = _lint(REPO)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "KEPT" in result.stdout


@pytest.mark.parametrize(
    ("module", "forbidden"),
    [
        ("detail/system.py", "omni_r1.rewards.hierarchical"),  # siblings: detail and rewards never import each other
        ("rewards/mask.py", "omni_r1.detail.system"),
        ("data/types.py", "omni_r1.models.rollouts"),  # data is the bottom: nothing upward
        ("answer/parse.py", "omni_r1.rewards.format"),
        ("grpo/loss.py", "omni_r1.training.grpo_module"),  # the maths does not know the module that drives it
        ("models/policy.py", "omni_r1.grpo.advantages"),  # nor is it imported by the parts it drives
    ],
)
def test_an_upward_import_breaks_the_contract(tmp_path: Path, module: str, forbidden: str) -> None:
    skip = shutil.ignore_patterns("__pycache__")
    shutil.copytree(REPO / "src" / "omni_r1", tmp_path / "src" / "omni_r1", ignore=skip)
    shutil.copy(REPO / "pyproject.toml", tmp_path / "pyproject.toml")
    target = tmp_path / "src" / "omni_r1" / module
    target.write_text(target.read_text() + f"\nimport {forbidden}  # noqa\n")
    result = _lint(tmp_path)
    assert result.returncode != 0, result.stdout
    assert "BROKEN" in result.stdout and forbidden in result.stdout


def test_no_module_is_over_400_lines() -> None:
    """Files with one purpose: a module that outgrows 400 lines is split (see docs/architecture.md)."""
    lines = {str(p.relative_to(REPO)): len(p.read_text().splitlines()) for p in (REPO / "src").rglob("*.py")}
    long = {path: n for path, n in lines.items() if n > 400}
    assert not long, long
