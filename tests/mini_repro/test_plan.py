"""The mini reproduction's plan with extra grids (Table 4, variants): each extra sweep runs after the main one into
the same folder, a point two grids share is evaluated once, after the sweep that trains it, and the report tables
each grid beside SFT and the main run."""

from __future__ import annotations

from pathlib import Path

import pytest

from omni_r1.mini_repro.__main__ import _grid_tables
from omni_r1.mini_repro.plan import MAIN_GRPO, SFT, Settings, plan
from omni_r1.mini_repro.results import METRICS

EXPERIMENT = Path(__file__).resolve().parents[2] / "experiments" / "mini_repro"


def _deps(settings: Settings) -> dict[str, list[str]]:
    return {job.name: job.deps for job in plan(settings)}


def test_extra_grids_run_after_the_main_sweep_and_share_its_point(tmp_path: Path) -> None:
    settings = Settings.read(EXPERIMENT, tmp_path, seeds=[0], grids=["table4", "variants", "grpo_grid"])
    assert settings.grids == ("table4", "variants")  # the main grid always runs; it is not an extra one
    deps = _deps(settings)
    assert deps["grpo/seed0"] == ["export/seed0"]
    assert deps["grpo-table4/seed0"] == ["grpo/seed0"] and deps["grpo-variants/seed0"] == ["grpo-table4/seed0"]
    # the full reward is in the main grid and in Table 4: trained (and evaluated) once, by the main sweep
    assert settings.grpo_policies().count(MAIN_GRPO) == 1
    assert deps[f"eval/{MAIN_GRPO}/seed0"] == ["grpo/seed0"]
    assert deps["eval/R_G/seed0"] == ["grpo-table4/seed0"]
    assert deps["eval_seen/entropy_coef=0.01/seed0"] == ["grpo-variants/seed0"]
    commands = {job.name: job for job in plan(settings)}["grpo-variants/seed0"].commands()
    assert str(EXPERIMENT / "variants.yaml") in commands[0]
    assert commands[0][commands[0].index("--out") + 1] == str(tmp_path / "seed0" / "grpo")


def test_without_extra_grids_only_the_main_point_trains(tmp_path: Path) -> None:
    settings = Settings.read(EXPERIMENT, tmp_path, seeds=[0, 1])
    assert settings.grpo_policies() == [MAIN_GRPO]
    names = {job.name for job in plan(settings)}
    assert {"grpo/seed0", "grpo/seed1"} <= names and not any(n.startswith("grpo-") for n in names)


def test_an_unknown_grid_names_the_missing_file(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="table5.yaml"):
        Settings.read(EXPERIMENT, tmp_path, grids=["table5"])


def test_a_grids_table_puts_sft_and_the_main_run_first(tmp_path: Path) -> None:
    settings = Settings.read(EXPERIMENT, tmp_path, seeds=[0, 1], grids=["variants"])

    def figures(offset: float) -> dict[int, dict[str, float]]:
        return {seed: {key: offset + seed for key, _, _ in METRICS} for seed in (0, 1)}

    held_out = {SFT: figures(10.0), "entropy_coef=0.01": figures(30.0), MAIN_GRPO: figures(20.0)}
    held_text, seen_text = _grid_tables(settings, "variants", held_out, {SFT: figures(1.0)})
    rows = [line.split(" | ")[0].strip("| ") for line in held_text.splitlines() if line.startswith("| ")][1:]
    assert rows == [SFT, MAIN_GRPO, "entropy_coef=0.01"]  # paper sampling has no figures: no row
    assert "| entropy_coef=0.01 | 2 | 30.5 ± 6.4 |" in held_text  # mean of 30 and 31, t(0.975, 1) × 0.5 = 6.35
    assert "GRPO variants" in held_text and "in distribution" in seen_text
    assert (tmp_path / "variants.png").stat().st_size > 0 and (tmp_path / "variants_seen.png").stat().st_size > 0
