"""The 7B recipe's precision keeps float32 master weights: AdamW at lr 1e-6 moves them, and a checkpoint keeps them.

The module is built from ``configs/omni_r1_7b.yaml`` + ``experiments/tiny/recipe_on_cpu.yaml`` (the recipe's
precision ``bf16-mixed``, policy ``dtype``, AdamW lr 1e-6 and weight decay; only the model size and the device are
the tiny CPU ones). The Detail system is dropped and the reward is the completion length, so that the advantages
are non-zero: the update, not the reward, is what is tested.

At lr 1e-6 an AdamW step moves each weight by about 1e-6. A bf16 weight of magnitude 0.02 has a spacing of 1.2e-4,
so that step rounds away; float32's spacing there is 1.9e-9. Elements whose gradient is exactly zero (embedding
rows of tokens absent from the batch) only decay by lr·wd = 1e-8 of themselves, below either resolution: they are
left out of the fractions.
"""

from __future__ import annotations

from pathlib import Path

import lightning as L
import pytest
import torch
from lightning.pytorch.callbacks import ModelCheckpoint

from omni_r1.config import instantiate_model, resolved_config
from omni_r1.data.revos import ReVOSDataModule
from omni_r1.rewards import HierarchicalReward
from omni_r1.rewards.output import RewardOutput

REPO = Path(__file__).resolve().parents[2]
RECIPE = [
    "--config",
    str(REPO / "configs/omni_r1_7b.yaml"),
    "--config",
    str(REPO / "experiments/tiny/recipe_on_cpu.yaml"),
]


class LengthReward(HierarchicalReward):
    """Characters per completion: a random policy's two completions then differ, so advantages are ±1."""

    def __call__(self, completions, sample, details=None, num_tokens=None, image_hw=None, handovers=None):
        value = torch.tensor([float(len(c)) for c in completions])
        return RewardOutput(total=value, terms={"length_chars": value})


def _recipe(*overrides: str) -> tuple[L.LightningModule, str]:
    """The recipe's module (Detail system dropped, length reward) and its trainer precision."""
    config = resolved_config([*RECIPE, *overrides])
    model = config["model"]
    model["init_args"]["detail"] = None
    module = instantiate_model(model)
    module.reward = LengthReward()
    return module, config["trainer"]["precision"]


def _trainer(precision: str, steps: int, root: Path, **kwargs) -> L.Trainer:
    return L.Trainer(
        accelerator="cpu",
        devices=1,
        precision=precision,
        max_steps=steps,
        logger=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        default_root_dir=root,
        **kwargs,
    )


def _data(root: Path) -> ReVOSDataModule:
    return ReVOSDataModule(root=str(root), batch_size=1, min_frames=4, max_frames=6)


def _trainable(module: L.LightningModule) -> dict[str, torch.Tensor]:
    return {n: p.detach().clone() for n, p in module.policy.named_parameters() if p.requires_grad}


def _moved_fraction(module: L.LightningModule, trainer: L.Trainer, before: dict[str, torch.Tensor]) -> float:
    """Of the trainable elements that had a non-zero gradient (AdamW's first moment), the fraction that changed."""
    optimizer = trainer.optimizers[0]
    moved = graded = 0
    for name, param in module.policy.named_parameters():
        if not param.requires_grad:
            continue
        had_gradient = optimizer.state[param]["exp_avg"] != 0
        moved += int((had_gradient & (param.detach() != before[name])).sum())
        graded += int(had_gradient.sum())
    assert graded > 0.5 * sum(p.numel() for p in before.values())  # most elements had a gradient
    return moved / graded


def test_one_step_at_lr_1e_6_moves_the_float32_master_weights_and_resumes(synthetic_revos_root, tmp_path):
    L.seed_everything(0)
    module, precision = _recipe()
    assert precision == "bf16-mixed"  # the recipe's own precision: bf16 compute ...
    before = _trainable(module)
    assert {p.dtype for p in before.values()} == {torch.float32}  # ... on float32 weights
    checkpoints = ModelCheckpoint(dirpath=tmp_path / "ckpt", save_last=True, save_top_k=0)
    trainer = _trainer(precision, 1, tmp_path, callbacks=[checkpoints])
    trainer.fit(module, datamodule=_data(synthetic_revos_root))
    assert trainer.optimizers[0].param_groups[0]["lr"] <= 1e-6  # the recipe's AdamW
    assert module.last_experience.advantages.abs().min() > 0
    assert trainer.callback_metrics["train/grad_norm"] > 0  # the pre-clip norm of the kit's clipping
    fraction = _moved_fraction(module, trainer, before)
    print(f"float32 master weights, 1 step: {fraction:.2%} moved")
    assert fraction >= 0.99

    resumed, _ = _recipe()
    again = _trainer(precision, 1, tmp_path)
    again.fit(resumed, datamodule=_data(synthetic_revos_root), ckpt_path=str(tmp_path / "ckpt" / "last.ckpt"))
    trained, restored = dict(module.policy.named_parameters()), dict(resumed.policy.named_parameters())
    for name, param in restored.items():
        assert param.dtype == trained[name].dtype and torch.equal(param, trained[name]), name
    for name in before:  # the AdamW moments come back too
        saved, loaded = trainer.optimizers[0].state[trained[name]], again.optimizers[0].state[restored[name]]
        assert all(torch.equal(saved[k], loaded[k]) for k in ("exp_avg", "exp_avg_sq")), name


@pytest.mark.slow
def test_bf16_weights_round_the_updates_away(synthetic_revos_root, tmp_path):
    L.seed_everything(0)
    module, precision = _recipe("--model.init_args.policy.init_args.dtype", "bfloat16")  # the former recipe
    before = _trainable(module)
    assert {p.dtype for p in before.values()} == {torch.bfloat16}
    trainer = _trainer(precision, 10, tmp_path, enable_checkpointing=False)
    trainer.fit(module, datamodule=_data(synthetic_revos_root))
    assert trainer.global_step == 10
    fraction = _moved_fraction(module, trainer, before)
    print(f"bf16 weights, 10 steps: {fraction:.2%} moved")
    assert fraction < 0.1, f"{fraction:.1%} of the bf16 weights moved in ten steps"  # about 2 %
