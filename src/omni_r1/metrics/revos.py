"""ReVOS J, F, J&F and robustness R per subset as a torchmetrics ``Metric``."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor
from torchmetrics import Metric

from omni_r1.metrics.functional.revos import ROBUSTNESS_MODES, SUBSETS, revos_expression, revos_percent


class ReVOSScore(Metric):
    """The official ReVOS summary, accumulated one expression per ``update``.

    Each expression's J, F and R are rounded to two decimals in percent before they are summed, as the official
    script does, and the summary is the per-subset mean with ``overall`` the mean of the two subsets. The sums
    are added in update order rather than with NumPy's pairwise summation, so a summary can differ from
    :func:`~omni_r1.metrics.functional.revos.revos_aggregate` in the last bits (about 1e-13). Only sums and counts
    are kept, so states reduce across processes with a plain sum.

    Args:
        robustness: ``"official"`` (false positives weigh 255, as published) or ``"corrected"``.
        bound_th: boundary tolerance of F.
        kwargs: forwarded to :class:`torchmetrics.Metric`.
    """

    is_differentiable = False
    higher_is_better = True
    full_state_update = False
    plot_lower_bound = 0.0
    plot_upper_bound = 100.0

    sums: Tensor
    counts: Tensor

    def __init__(self, robustness: str = "official", bound_th: float = 0.008, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if robustness not in ROBUSTNESS_MODES:
            raise ValueError(f"robustness must be one of {ROBUSTNESS_MODES}, got {robustness!r}")
        self.robustness = robustness
        self.bound_th = bound_th
        # Rows: referring, reason; columns: J, F, R (rounded percent).
        self.add_state("sums", default=torch.zeros(2, 3, dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("counts", default=torch.zeros(2, dtype=torch.long), dist_reduce_fx="sum")

    def update(self, pred: Tensor | None, target: Tensor, foreground: Tensor, type_id: int) -> None:
        """Add one expression.

        Args:
            pred: ``(T, H, W)`` prediction (uint8 PNG values or bool), or ``None`` for a missing prediction, which
                scores 0 as in the official script.
            target: ``(T, H, W)`` ground truth (bool, or the uint8 object count).
            foreground: ``(T, H, W)`` union of every annotated object of the video.
            type_id: 0 referring, 1 reasoning.
        """
        if type_id not in SUBSETS.values():
            raise ValueError(f"type_id must be 0 (referring) or 1 (reasoning), got {type_id!r}")
        if pred is None:
            scores = [0.0, 0.0, 0.0]
        else:
            scores = [
                revos_percent(v) for v in revos_expression(pred, target, foreground, self.robustness, self.bound_th)
            ]
        self.sums[type_id] += torch.tensor(scores, dtype=torch.float64, device=self.sums.device)
        self.counts[type_id] += 1

    def compute(self) -> dict[str, Tensor]:
        """``{"<subset>/<score>"}`` for subsets referring, reason, overall and scores J, F, JF, R (percent).

        A subset without expressions is NaN, and so is ``overall`` then, as in the official script.
        """
        means = self.sums / self.counts[:, None]  # (2, 3): NaN rows for empty subsets
        subsets: dict[str, dict[str, Tensor]] = {}
        for name, (j, f, r) in zip(("referring", "reason"), means):
            subsets[name] = {"J": j, "F": f, "JF": (j + f) / 2, "R": r}
        subsets["overall"] = {k: (subsets["referring"][k] + subsets["reason"][k]) / 2 for k in ("J", "F", "JF", "R")}
        return {f"{name}/{key}": value for name, scores in subsets.items() for key, value in scores.items()}
