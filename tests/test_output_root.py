"""One key moves a run: ``--trainer.default_root_dir X`` puts every output under X, and a second run in the same
folder replaces ``last.ckpt`` (the README's evaluate / predict commands load the latest run)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from omni_r1.checkpoint import read_checkpoint
from omni_r1.fit import main

REPO = Path(__file__).resolve().parents[1]
DEMO = str(REPO / "configs" / "demo.yaml")
FAST = ["--trainer.val_check_interval", "2", "--trainer.enable_progress_bar", "false"]
FAST += ["--trainer.limit_val_batches", "1"]


@pytest.mark.integration
def test_default_root_dir_moves_every_output_and_last_ckpt_is_the_latest_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "data").mkdir()  # inputs (the synthetic dataset) are written here, outputs must not be
    root = tmp_path / "elsewhere" / "run"
    main(["--config", DEMO, *FAST, "--trainer.max_steps", "2", "--trainer.default_root_dir", str(root)])
    outside = sorted(p.name for p in tmp_path.iterdir())
    assert outside == ["data", "elsewhere"], outside  # no runs/ folder: logs, checkpoints, policy all under root
    assert (root / "checkpoints" / "last.ckpt").is_file() and (root / "policy" / "config.json").is_file()
    assert (root / "logs" / "version_0" / "config.yaml").is_file()
    assert (root / "logs" / "version_0" / "plots.png").is_file()
    hparams = yaml.safe_load((root / "logs" / "version_0" / "hparams.yaml").read_text())
    assert hparams["model.init_args.optimizer.init_args.lr"] == 0.005  # the whole config, for grouping runs
    assert hparams["model.init_args.policy.init_args.model_name_or_path"] == "tiny://qwen2.5-omni"

    main(["--config", DEMO, *FAST, "--trainer.max_steps", "3", "--trainer.default_root_dir", str(root)])
    assert sorted(p.name for p in (root / "checkpoints").iterdir()) == ["last.ckpt"]  # never last-v1.ckpt
    assert read_checkpoint(root / "checkpoints" / "last.ckpt")["global_step"] == 3  # the second run's
    assert (root / "logs" / "version_1" / "summary.json").is_file()


def test_every_config_leaf_is_a_hyperparameter() -> None:
    from omni_r1.callbacks.config_logging import flatten_config
    from omni_r1.config import resolved_config

    flat = flatten_config(resolved_config(["--config", str(REPO / "configs" / "demo_grpo.yaml")]))
    prefix = "model.init_args.reward.init_args.weights."
    weights = {k.removeprefix(prefix): v for k, v in flat.items() if k.startswith(prefix)}
    assert {"format", "num", "div", "sal", "box", "mask"} <= set(weights)
    assert flat["model.init_args.num_generations"] == 4 and flat["model.init_args.beta"] == 0.04
    assert flat["model.init_args.handover.max_keyframes"] == 4
