"""``python -m omni_r1.mini_repro run`` end to end on a shrunken copy of experiments/mini_repro (slow tier): every
stage runs through the kit's commands, the tables and the chart are written, and a second start skips it all."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import pytest
import yaml

from omni_r1.mini_repro.__main__ import main

EXPERIMENT = Path(__file__).resolve().parents[2] / "experiments" / "mini_repro"


def _shrink(folder: Path) -> None:
    settings = yaml.safe_load((folder / "experiment.yaml").read_text())
    settings.update(seeds=[0], jobs=2, data={"train_clips": 2, "val_clips": 1, "test_clips": 1, "seed": 0})
    (folder / "experiment.yaml").write_text(yaml.safe_dump(settings))
    for name, trainer in (
        ("sft_referring.yaml", {"max_steps": 3, "val_check_interval": 2}),
        ("sft.yaml", {"max_steps": 4, "val_check_interval": 2}),
        ("grpo.yaml", {"max_steps": 2}),
    ):
        config = yaml.safe_load((folder / name).read_text())
        config["trainer"].update(trainer)
        if name != "sft.yaml":
            config["trainer"]["callbacks"][0]["init_args"]["every_n_train_steps"] = 1
        (folder / name).write_text(yaml.safe_dump(config, sort_keys=False))


@pytest.mark.slow
def test_the_whole_run_on_a_shrunken_experiment(tmp_path: Path) -> None:
    experiment = tmp_path / "experiment"
    shutil.copytree(EXPERIMENT, experiment)
    _shrink(experiment)
    out = tmp_path / "run"
    args = ["run", "--out", str(out), "--experiment", str(experiment)]
    assert main(args) == 0
    results = json.loads((out / "results.json").read_text())
    assert set(results) == {"untrained", "SFT", "R_K+R_A+R_G", "reference answers", "spread references"}
    assert all("overall/JF" in figures["0"] for figures in results.values())
    table = (out / "table.md").read_text()
    assert "| SFT→GRPO | 1 |" in table and (out / "chart.png").stat().st_size > 0
    assert "| reference answers (what SFT imitates) | 1 |" in table and "paired by seed" in table
    assert "best constant answer on the audio prompts" in table
    assert (out / "seed0" / "sft_referring" / "policy" / "config.json").is_file()  # stage 1 exported for stage 2
    seen = json.loads((out / "results_seen.json").read_text())  # in distribution: the same rows, no null split
    assert set(seen) == set(results) and all(math.isnan(f["0"]["null/S"]) for f in seen.values())
    assert "In distribution" in table and (out / "chart_seen.png").stat().st_size > 0
    assert (out / "seed0" / "sft" / "policy" / "config.json").is_file()  # best.ckpt exported for GRPO
    assert main(args) == 0  # everything finished: skipped
    timings = json.loads((out / "timings.json").read_text())  # the second start finished nothing: no record
    assert len(timings) == 1 and timings[0]["grids"] == [] and timings[0]["wall_seconds"] > 0
    assert json.loads((out / "results.json").read_text()) == results
