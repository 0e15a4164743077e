"""RefAVS J, F (seen / unseen splits) and null-split S as torchmetrics ``Metric`` classes.

The official scores are means over evaluation *batches* (4 csv rows × 10 frames), not over frames or rows: F takes
a maximum over thresholds of a batch's mean curve, which does not decompose over rows. So one ``update`` is one
official batch; feeding other batch sizes gives a different (non-official) number.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor
from torchmetrics import Metric

from omni_r1.metrics.functional.refavs import refavs_batch_fmeasure, refavs_batch_iou, refavs_null_s


class RefAVSScore(Metric):
    """J, F and J&F (percent) of the seen / unseen splits, one official batch per ``update``.

    Batch values are summed in float64 here (the official code adds J in float32), so results agree with
    :func:`~omni_r1.metrics.functional.refavs.refavs_aggregate` to about 1e-6 percent.

    Args:
        kwargs: forwarded to :class:`torchmetrics.Metric`.
    """

    is_differentiable = False
    higher_is_better = True
    full_state_update = False
    plot_lower_bound = 0.0
    plot_upper_bound = 100.0

    j_sum: Tensor
    f_sum: Tensor
    batches: Tensor

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.add_state("j_sum", default=torch.tensor(0.0, dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("f_sum", default=torch.tensor(0.0, dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("batches", default=torch.tensor(0, dtype=torch.long), dist_reduce_fx="sum")

    def update(self, probs: Tensor, target: Tensor) -> None:
        """Add one official batch.

        Args:
            probs: ``(N, 256, 256)`` foreground probabilities (``sigmoid`` of logits) of the batch's frames.
            target: ``(N, 256, 256)`` ground truth at the evaluation size
                (:func:`~omni_r1.metrics.functional.refavs.refavs_target`).
        """
        self.j_sum += refavs_batch_iou(probs, target).to(self.j_sum)
        self.f_sum += refavs_batch_fmeasure(probs, target)
        self.batches += 1

    def compute(self) -> dict[str, Tensor]:
        """``{"J", "F", "JF"}`` in percent (float64 scalars)."""
        j, f = 100 * self.j_sum / self.batches, 100 * self.f_sum / self.batches
        return {"J": j, "F": f, "JF": (j + f) / 2}


class RefAVSNullScore(Metric):
    """Null-split S: the mean over official batches of ``sqrt(predicted foreground fraction)``; lower is better.

    Args:
        kwargs: forwarded to :class:`torchmetrics.Metric`.
    """

    is_differentiable = False
    higher_is_better = False
    full_state_update = False
    plot_lower_bound = 0.0
    plot_upper_bound = 1.0

    s_sum: Tensor
    batches: Tensor

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.add_state("s_sum", default=torch.tensor(0.0, dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("batches", default=torch.tensor(0, dtype=torch.long), dist_reduce_fx="sum")

    def update(self, probs: Tensor) -> None:
        """Add one official batch of ``(N, 256, 256)`` foreground probabilities."""
        self.s_sum += refavs_null_s(probs).to(self.s_sum)
        self.batches += 1

    def compute(self) -> Tensor:
        """S as a fraction (float64 scalar)."""
        return self.s_sum / self.batches
