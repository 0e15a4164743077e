"""AVHBench judge accuracy (plus precision, recall, F1 and yes-ratio) as a torchmetrics ``Metric``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor
from torchmetrics import Metric

from omni_r1.metrics.functional.avhbench import (
    avhbench_confusion,
    avhbench_scores_from_confusion,
    label_tensor,
    parse_yes_no,
)


class AVHBenchScore(Metric):
    """Yes/no judge scores accumulated over batches of answers; the states are the four confusion counts.

    Args:
        kwargs: forwarded to :class:`torchmetrics.Metric`.
    """

    is_differentiable = False
    higher_is_better = True
    full_state_update = False
    plot_lower_bound = 0.0
    plot_upper_bound = 1.0

    confusion: Tensor

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.add_state("confusion", default=torch.zeros(4, dtype=torch.long), dist_reduce_fx="sum")

    def update(self, answers: Sequence[str] | Tensor, labels: Sequence[str | bool] | Tensor) -> None:
        """Add a batch.

        Args:
            answers: model outputs (read with POPE's rule) or an ``(N,)`` bool tensor of "said yes".
            labels: ``"Yes"`` / ``"No"`` labels, bools, or an ``(N,)`` bool tensor.
        """
        said_yes = answers if isinstance(answers, Tensor) else torch.tensor([parse_yes_no(a) for a in answers])
        self.confusion += avhbench_confusion(said_yes.bool(), label_tensor(labels)).to(self.confusion.device)

    def compute(self) -> dict[str, Tensor]:
        """``{"accuracy", "precision", "recall", "f1", "yes_ratio"}`` as float64 fractions."""
        return avhbench_scores_from_confusion(self.confusion)
