"""Both paper recipes run end to end on CPU when shrunk to tiny parts (experiments/tiny/recipe_on_cpu.yaml)."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
import torch

from omni_r1.data.synthetic import write_mevis, write_refcocog
from omni_r1.fit import main

REPO = Path(__file__).resolve().parents[1]
TINY = str(REPO / "experiments" / "tiny" / "recipe_on_cpu.yaml")


@pytest.mark.integration
@pytest.mark.parametrize("recipe", ["omni_r1_7b_qlora_24gb.yaml", "omni_r1_7b.yaml"])
def test_recipe_runs_on_tiny_parts(recipe: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    write_mevis(tmp_path / "data/synthetic/mevis", num_videos=3, num_frames=8)
    write_refcocog(tmp_path / "data/synthetic/refcoco", num_images=3)
    cli = main(["--config", str(REPO / "configs" / recipe), "--config", TINY])
    assert cli.trainer.global_step == 2
    module = cli.model
    # the recipe's own parts, not the demo's: SAM2 segmenter, hierarchical weights of the authors' script
    assert type(module.detail.segmenter).__name__ == "SAM2Segmenter"
    assert module.reward.weights.mask == 2.0 and module.reward.weights.sal == 0.0
    assert module.policy.has_adapters == ("qlora" in recipe)
    # the recipe's precision (bf16 autocast on CPU, not 32-true) on float32 trainable (master) weights
    assert cli.trainer.precision == "bf16-mixed"
    assert {p.dtype for p in module.policy.parameters() if p.requires_grad} == {torch.float32}
    log_dir = Path(cli.trainer.log_dir)
    rows = list(csv.DictReader(open(log_dir / "metrics.csv")))
    assert {"train/reward", "train/kl"} <= set(rows[0])
    assert list((log_dir / "media").glob("collaboration_step*.png"))  # the systems' strip is drawn
    assert (log_dir / "completions.jsonl").is_file()
