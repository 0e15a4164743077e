"""DAVIS J&F as a torchmetrics ``Metric``: the mean over sequences of per-sequence frame means."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor
from torchmetrics import Metric
from torchmetrics.utilities.plot import _AX_TYPE, _PLOT_OUT_TYPE

from omni_r1.metrics.functional.davis import j_and_f


class JAndF(Metric):
    """Region similarity J, boundary F and J&F averaged over sequences (videos or expressions).

    Each ``update`` is one sequence: its frames are averaged first, then sequences are averaged with equal weight,
    which is how MeViS / ReasonVOS / DAVIS report J&F (a long video does not outweigh a short one). Only sums and a
    count are kept, so states reduce across processes with a plain sum. Results are fractions, not percent.

    Args:
        bound_th: boundary tolerance of F, a fraction of the image diagonal (< 1) or a whole number of pixels.
        kwargs: forwarded to :class:`torchmetrics.Metric` (``sync_on_compute``, ``dist_sync_fn``, ...).
    """

    is_differentiable = False
    higher_is_better = True
    full_state_update = False
    plot_lower_bound = 0.0
    plot_upper_bound = 1.0

    j_sum: Tensor
    f_sum: Tensor
    count: Tensor

    def __init__(self, bound_th: float = 0.008, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.bound_th = bound_th
        self.add_state("j_sum", default=torch.tensor(0.0, dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("f_sum", default=torch.tensor(0.0, dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("count", default=torch.tensor(0, dtype=torch.long), dist_reduce_fx="sum")

    def update(self, pred: Tensor, target: Tensor) -> None:
        """Add one sequence.

        Args:
            pred: ``(T, H, W)`` predicted masks of one video / expression (``(H, W)`` is one frame); non-zero = fg.
            target: ground-truth masks of the same shape.
        """
        j, f, _ = j_and_f(pred, target, self.bound_th)
        self.j_sum += j.to(self.j_sum.device)
        self.f_sum += f.to(self.f_sum.device)
        self.count += 1

    def compute(self) -> dict[str, Tensor]:
        """Return ``{"J", "F", "JF"}`` as float64 scalars; NaN before any update (torchmetrics also warns)."""
        j = self.j_sum / self.count
        f = self.f_sum / self.count
        return {"J": j, "F": f, "JF": (j + f) / 2}

    def plot(
        self, val: dict[str, Tensor] | Sequence[dict[str, Tensor]] | None = None, ax: _AX_TYPE | None = None
    ) -> _PLOT_OUT_TYPE:
        """Plot J, F and J&F of one result or a sequence of results (e.g. one per epoch); needs matplotlib."""
        return self._plot(val, ax)
