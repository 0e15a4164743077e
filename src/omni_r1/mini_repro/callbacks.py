"""The one validation number SFT model selection reads when validation runs over several loaders."""

from __future__ import annotations

from typing import Any

import lightning as L
import torch

MEAN_KEY = "val/loss_mean"


class MeanValidationLoss(L.Callback):
    """Logs ``val/loss_mean``: the mean over validation loaders of each loader's mean batch loss.

    A mixture validates each dataset on its own loader, so its validation loss comes as one number per dataset;
    "trained to its best validation loss" needs one, which ``ModelCheckpoint(monitor="val/loss_mean")`` reads.
    The datasets weigh equally, whatever their sizes. The losses are the ones ``validation_step`` returns,
    gathered batch by batch, so the number is this validation's and never a previous one's.
    """

    def __init__(self) -> None:
        self.sums: dict[int, list[float]] = {}

    def on_validation_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.sums = {}

    def on_validation_batch_end(
        self,
        trainer: L.Trainer,
        pl_module: L.LightningModule,
        outputs: Any,
        batch: Any,
        batch_idx: int,
        dataloader_idx: int = 0,
    ) -> None:
        loss = outputs.get("loss") if isinstance(outputs, dict) else outputs
        if loss is not None:
            total = self.sums.setdefault(dataloader_idx, [0.0, 0.0])
            total[0] += float(loss)
            total[1] += 1

    def on_validation_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        means = [total / count for total, count in self.sums.values() if count]
        if means:
            pl_module.log(MEAN_KEY, torch.tensor(sum(means) / len(means)), prog_bar=True, logger=True)
