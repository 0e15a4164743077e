"""The training bar of a step-bounded run counts optimizer steps up to ``max_steps`` (not ``Epoch 3/-2``), and the
kit's CLI puts it in place of Lightning's rich bar."""

from __future__ import annotations

from pathlib import Path

import pytest
from lightning.pytorch import Callback, LightningModule, Trainer
from lightning.pytorch.demos.boring_classes import BoringDataModule, BoringModel

from omni_r1.callbacks.progress_bar import StepProgressBar
from omni_r1.cli import OmniR1CLI


class Seen(Callback):
    """What the bar shows after every training batch: ``(description, completed, total)``."""

    def __init__(self) -> None:
        self.shown: list[tuple[str, float, float | None]] = []

    def on_train_batch_end(self, trainer: Trainer, pl_module: LightningModule, *args: object) -> None:
        bar = trainer.progress_bar_callback
        task = bar.progress.tasks[bar.train_progress_bar_id]
        self.shown.append((task.description.strip(), task.completed, task.total))


def test_a_step_bounded_run_counts_steps_across_epochs(tmp_path: Path) -> None:
    seen = Seen()
    trainer = Trainer(
        max_steps=5, limit_train_batches=2, limit_val_batches=0, logger=False, enable_checkpointing=False,
        enable_model_summary=False, callbacks=[StepProgressBar(), seen], default_root_dir=tmp_path,
    )  # fmt: skip
    trainer.fit(BoringModel(), datamodule=BoringDataModule())
    assert trainer.current_epoch >= 2  # 5 steps over epochs of 2 batches: the bar is never reset
    assert seen.shown == [("step", float(step), 5.0) for step in range(1, 6)]


def test_an_epoch_bounded_run_keeps_lightnings_bar(tmp_path: Path) -> None:
    seen = Seen()
    trainer = Trainer(
        max_epochs=2, limit_train_batches=2, limit_val_batches=0, logger=False, enable_checkpointing=False,
        enable_model_summary=False, callbacks=[StepProgressBar(), seen], default_root_dir=tmp_path,
    )  # fmt: skip
    trainer.fit(BoringModel(), datamodule=BoringDataModule())
    assert [s[0] for s in seen.shown] == ["Epoch 0/1"] * 2 + ["Epoch 1/1"] * 2


def test_the_cli_replaces_lightnings_rich_bar(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    args = ["--trainer.max_steps", "1", "--trainer.logger", "false", "--trainer.default_root_dir", str(tmp_path)]
    cli = OmniR1CLI(BoringModel, BoringDataModule, run=False, args=args)
    assert type(cli.trainer.progress_bar_callback) is StepProgressBar
    quiet = OmniR1CLI(BoringModel, BoringDataModule, run=False, args=[*args, "--trainer.enable_progress_bar", "false"])
    assert quiet.trainer.progress_bar_callback is None
