"""A training bar in optimizer steps for step-bounded runs.

The kit's runs stop at ``max_steps``; Lightning then sets ``max_epochs = -1`` and its rich bar counts batches of
the current epoch under ``Epoch 74/-2``, which says neither how far the run is nor how long it has left. Here the
training bar counts optimizer steps over the whole run (``step 120/450``, with elapsed and remaining time); runs
bounded by epochs keep Lightning's bar unchanged.
"""

from __future__ import annotations

from typing import Any

import lightning as L
from lightning.pytorch.callbacks import RichProgressBar
from lightning.pytorch.utilities.types import STEP_OUTPUT


class StepProgressBar(RichProgressBar):
    """Lightning's rich bar, counting optimizer steps up to ``max_steps`` when the run is bounded by steps."""

    def _by_steps(self) -> bool:
        return self.trainer.max_steps > 0

    def _get_train_description(self, current_epoch: int) -> str:
        if not self._by_steps():
            return super()._get_train_description(current_epoch)
        return f"{'step':{len(self.validation_description)}}"  # as wide as the "Validation" bar's label

    def _initialize_train_progress_bar_id(self) -> None:
        if not self._by_steps():
            return super()._initialize_train_progress_bar_id()
        self.train_progress_bar_id = self._add_task(self.trainer.max_steps, self._get_train_description(0))
        self._update(self.train_progress_bar_id, self.trainer.global_step)  # a resumed run starts part-way

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if not self._by_steps():
            return super().on_train_epoch_start(trainer, pl_module)
        if not self.is_disabled and self.progress is not None and self.train_progress_bar_id is None:
            self._initialize_train_progress_bar_id()  # one bar for the whole run, never reset per epoch
        self.refresh()

    def on_train_batch_end(
        self, trainer: L.Trainer, pl_module: L.LightningModule, outputs: STEP_OUTPUT, batch: Any, batch_idx: int
    ) -> None:
        if not self._by_steps():
            return super().on_train_batch_end(trainer, pl_module, outputs, batch, batch_idx)
        if not self.is_disabled and self.train_progress_bar_id is None:
            self._initialize_train_progress_bar_id()
        self._update(self.train_progress_bar_id, trainer.global_step)
        self._update_metrics(trainer, pl_module)
        self.refresh()
