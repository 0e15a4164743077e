"""``python -m omni_r1.fit`` end to end on the demo config: data written, model built, trained, resumable."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
import torch

from omni_r1.checkpoint import SafeCheckpointIO
from omni_r1.data.layout import DatasetLayoutError
from omni_r1.fit import main

REPO = Path(__file__).resolve().parents[1]
DEMO = str(REPO / "configs" / "demo.yaml")
FAST = ["--trainer.max_steps", "2", "--trainer.val_check_interval", "2", "--trainer.enable_progress_bar", "false"]


@pytest.mark.integration
def test_demo_config_trains_writes_artifacts_and_resumes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # the demo's relative paths (data/, runs/) land in tmp_path
    cli = main(["--config", DEMO, *FAST])
    assert cli.trainer.global_step == 2
    assert isinstance(cli.trainer.strategy.checkpoint_io, SafeCheckpointIO)  # atomic saves, damage named on load
    assert (tmp_path / "data/synthetic/revos/meta_expressions_train_.json").is_file()  # synthetic data written
    ckpt = tmp_path / "runs/demo/checkpoints/last.ckpt"
    assert ckpt.is_file()
    assert (tmp_path / "runs/demo/logs/version_0/config.yaml").is_file()
    summary = json.loads((tmp_path / "runs/demo/logs/version_0/summary.json").read_text())  # said at the end
    assert summary["stage"] == "SFTModule" and summary["paths"]["checkpoint"].endswith("last.ckpt")
    assert "train/loss" in summary["metrics"] and (tmp_path / "runs/demo/logs/version_0/plots.png").is_file()
    rows = list(csv.DictReader(open(tmp_path / "runs/demo/logs/version_0/metrics.csv")))
    losses = [float(r["train/loss"]) for r in rows if r.get("train/loss")]
    assert len(losses) == 2 and all(torch.isfinite(torch.tensor(losses)))
    assert any(r.get("val/loss") for r in rows)

    resumed = main(["--config", DEMO, *FAST, "--trainer.max_steps", "3", "--ckpt_path", str(ckpt)])
    assert resumed.trainer.global_step == 3


@pytest.mark.integration
def test_missing_dataset_root_names_the_path_and_layout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    missing = tmp_path / "nowhere" / "ReVOS"
    with pytest.raises(DatasetLayoutError) as error:
        main(["--config", DEMO, *FAST, "--data.init_args.synthetic", "false", "--data.init_args.root", str(missing)])
    message = str(error.value)
    assert str(missing) in message and "JPEGImages" in message and "mask_dict.json" in message


@pytest.mark.integration
def test_sft_on_a_mixture_validates_every_dataset(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A mixture serves one validation loader per dataset; the SFT module logs a loss for each."""
    from omni_r1.data.synthetic import write_refcocog

    monkeypatch.chdir(tmp_path)
    write_refcocog(tmp_path / "refcocog", num_images=6, seed=0)
    data = tmp_path / "mixture.yaml"
    data.write_text(
        "class_path: omni_r1.data.mixture.MixtureDataModule\n"
        "init_args:\n"
        "  datasets:\n"
        "    revos: {class_path: omni_r1.data.revos.ReVOSDataModule,"
        " init_args: {root: data/synthetic/revos, synthetic: true, min_frames: 4, max_frames: 4}}\n"
        "    refcocog: {class_path: omni_r1.data.refcocog.RefCOCOgDataModule, init_args: {root: refcocog}}\n"
        "  batch_size: 2\n"
    )
    cli = main(["--config", DEMO, *FAST, "--data", str(data), "--trainer.limit_val_batches", "1"])
    assert cli.trainer.global_step == 2
    rows = list(csv.DictReader(open(tmp_path / "runs/demo/logs/version_0/metrics.csv")))
    for k in (0, 1):
        assert any(r.get(f"val/loss/dataloader_idx_{k}") for r in rows)
