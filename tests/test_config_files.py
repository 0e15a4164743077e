"""Config files are read before the CLI parses them: a YAML error names its file, line and column."""

from __future__ import annotations

from pathlib import Path

import pytest

from omni_r1.config_files import ConfigFileError, check_config_files
from omni_r1.fit import run

REPO = Path(__file__).resolve().parents[1]


def test_yaml_error_in_a_group_file_names_that_file_and_line(tmp_path: Path) -> None:
    (tmp_path / "trainer").mkdir()
    (tmp_path / "trainer" / "t.yaml").write_text("max_steps: 3\ncallbacks: [1, 2\nprecision: 32-true\n")
    top = tmp_path / "top.yaml"
    top.write_text("seed_everything: 0\ntrainer: trainer/t.yaml\n")
    with pytest.raises(ConfigFileError) as error:
        check_config_files(["--config", str(top)])
    assert error.value.path == str(tmp_path / "trainer" / "t.yaml")
    assert error.value.line == 3 and "t.yaml:3:" in str(error.value)


def test_missing_config_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigFileError, match="nowhere.yaml: config file not found"):
        check_config_files([f"--config={tmp_path / 'nowhere.yaml'}"])


def test_every_shipped_config_reads(tmp_path: Path) -> None:
    for path in [*(REPO / "configs").rglob("*.yaml"), *(REPO / "experiments").rglob("*.yaml")]:
        check_config_files(["--config", str(path)])


def test_fit_reports_a_yaml_error_in_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("trainer:\n  max_steps: [1, 2\nmodel: x\n")
    assert run(["--config", str(bad)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and str(bad) in err[0] and "YAML syntax error" in err[0]
