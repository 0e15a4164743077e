"""Every YAML under configs/ and experiments/ parses through the real CLI; bad keys fail before any model loads."""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest
import yaml

from omni_r1.fit import main

REPO = Path(__file__).resolve().parents[1]
DEMO = REPO / "configs" / "demo.yaml"
GROUPS = ("model", "data", "trainer")


@pytest.fixture
def empty_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A model cache of this test's own: anything a parse builds or downloads would land here."""
    cache = tmp_path / "cache"
    cache.mkdir()
    monkeypatch.setenv("OMNI_R1_CACHE", str(cache))
    return cache


def _config_files() -> list[Path]:
    """Training configs; sweep grids (lists of overrides) are checked by tests/test_sweep.py."""
    files = [*REPO.glob("configs/**/*.yaml"), *REPO.glob("experiments/**/*.yaml")]
    # Sweep grids and the mini reproduction's stage files are not fit configs: omni_r1.sweep and omni_r1.mini_repro
    # read them (tests/test_sweep.py, tests/mini_repro/).
    skip = {"sweeps", "mini_repro"}
    return sorted(p for p in files if not skip.intersection(p.relative_to(REPO).parts))


def header_command(path: Path) -> list[str]:
    """The ``python -m omni_r1.fit`` arguments in a config's first line (every runnable config starts with it)."""
    first = path.read_text().splitlines()[0]
    prefix = "# python -m omni_r1.fit "
    if not first.startswith(prefix):
        return []
    words = shlex.split(first[len(prefix) :].split("  ")[0].strip())
    return [str(REPO / w) if w.endswith(".yaml") else w for w in words]


def _args_for(path: Path) -> list[str]:
    """CLI arguments that parse ``path`` in context: group files slot into the demo; runnable configs use the
    command in their header (so the header is checked too); other overlays stack on the demo."""
    group = path.parent.name
    if path.parent.parent == REPO / "configs" and group in GROUPS:
        return ["--config", str(DEMO), f"--{group}", str(path)]
    if header := header_command(path):
        assert str(path) in header, f"{path}: the header command does not run this file"
        return header
    return ["--config", str(DEMO), "--config", str(path)]


@pytest.mark.parametrize(
    "path",
    [p for p in _config_files() if not (p.parent.name in GROUPS and p.parent.parent == REPO / "configs")],
    ids=lambda p: str(p.relative_to(REPO)),
)
def test_runnable_configs_are_headed_by_their_command(path: Path) -> None:
    assert header_command(path), f"{path} must start with '# python -m omni_r1.fit --config …'"


@pytest.mark.parametrize("path", _config_files(), ids=lambda p: str(p.relative_to(REPO)))
def test_every_config_parses(path: Path, capsys: pytest.CaptureFixture, empty_cache: Path) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main([*_args_for(path), "--print_config"])
    assert exit_info.value.code in (0, None)
    printed = yaml.safe_load(capsys.readouterr().out)
    assert {"trainer", "model", "data"} <= set(printed)
    assert not any(empty_cache.iterdir())  # parsing never builds or loads a model


def test_configs_cover_the_demo_and_the_paper_scale():
    names = {p.relative_to(REPO).as_posix() for p in _config_files()}
    assert {"configs/demo.yaml", "configs/sft_7b.yaml", "configs/model/sft_tiny.yaml"} <= names


@pytest.mark.parametrize(
    "bad",
    [
        ["--model.init_args.no_such_key", "1"],
        ["--model.init_args.policy.init_args.pixles.max_pixels", "10"],
        ["--trainer.max_stepz", "3"],
        ["--data.init_args.batch_size", "two"],
    ],
)
def test_unknown_or_mistyped_key_is_rejected_before_any_model_loads(
    bad: list[str], capsys: pytest.CaptureFixture, empty_cache: Path
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--config", str(DEMO), *bad])
    assert exit_info.value.code not in (0, None)
    err = capsys.readouterr().err
    assert bad[0].lstrip("-").split(".")[-1] in err or "batch_size" in err
    assert not any(empty_cache.iterdir())
