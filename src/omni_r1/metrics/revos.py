"""ReVOS J, F, J&F, pixel accuracy A and robustness R per subset as a torchmetrics ``Metric``."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor
from torchmetrics import Metric

from omni_r1.metrics.functional.revos import (
    ACCURACY_MODES,
    NAN_SUBSET,
    NAN_TYPE,
    ROBUSTNESS_MODES,
    SUBSETS,
    TYPE_IDS,
    revos_expression,
    revos_expression_accuracy,
    revos_percent,
)

_SCORES = ("J", "F", "R", "A")  # columns of the state tensors
_ROWS = {**SUBSETS, NAN_SUBSET: NAN_TYPE}  # subset name -> type_id


class ReVOSScore(Metric):
    """The official ReVOS summary, accumulated one expression per ``update``.

    Each expression's J, F, A and R are rounded to two decimals in percent before they are summed, as the official
    script does, and the summary is the per-subset mean with ``overall`` the mean of the referring and reasoning
    subsets. Type-2 expressions (VISA's ``is_nan``) are scored but kept out of those means; they are reported as
    the ``nan`` subset once one was added. The sums are added in update order rather than with NumPy's pairwise
    summation, so a summary can differ from :func:`~omni_r1.metrics.functional.revos.revos_aggregate` in the last
    bits (about 1e-13). Only sums and counts are kept, so states reduce across processes with a plain sum.

    Args:
        robustness: ``"official"`` (false positives weigh 255, as published) or ``"corrected"``.
        bound_th: boundary tolerance of F.
        accuracy: pixel-accuracy mode: ``"official"`` (the stored 0/255 prediction against the 0/1 ground truth,
            as VISA's ``get_r2vos_accuracy`` on the published files) or ``"corrected"`` (foreground against
            foreground).
        kwargs: forwarded to :class:`torchmetrics.Metric`.
    """

    is_differentiable = False
    higher_is_better = True
    full_state_update = False
    plot_lower_bound = 0.0
    plot_upper_bound = 100.0

    sums: Tensor
    counts: Tensor

    def __init__(
        self, robustness: str = "official", bound_th: float = 0.008, accuracy: str = "official", **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        if robustness not in ROBUSTNESS_MODES:
            raise ValueError(f"robustness must be one of {ROBUSTNESS_MODES}, got {robustness!r}")
        if accuracy not in ACCURACY_MODES:
            raise ValueError(f"accuracy must be one of {ACCURACY_MODES}, got {accuracy!r}")
        self.robustness = robustness
        self.bound_th = bound_th
        self.accuracy = accuracy
        # Rows: type_id 0, 1, 2; columns: J, F, R, A (rounded percent).
        rows, columns = len(TYPE_IDS), len(_SCORES)
        self.add_state("sums", default=torch.zeros(rows, columns, dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("counts", default=torch.zeros(rows, dtype=torch.long), dist_reduce_fx="sum")

    def update(self, pred: Tensor | None, target: Tensor, foreground: Tensor, type_id: int) -> None:
        """Add one expression.

        Args:
            pred: ``(T, H, W)`` prediction (uint8 PNG values or bool), or ``None`` for a missing prediction, which
                scores 0 as in the official script.
            target: ``(T, H, W)`` ground truth (bool, or the uint8 object count).
            foreground: ``(T, H, W)`` union of every annotated object of the video.
            type_id: 0 referring, 1 reasoning, 2 VISA's "nan" (scored, in no official mean).
        """
        if type_id not in TYPE_IDS:
            raise ValueError(f"type_id must be 0 (referring), 1 (reasoning) or 2 (nan), got {type_id!r}")
        if pred is None:
            scores = [0.0] * len(_SCORES)
        else:
            j, f, r = revos_expression(pred, target, foreground, self.robustness, self.bound_th)
            a = revos_expression_accuracy(pred, target, self.accuracy)
            scores = [revos_percent(v) for v in (j, f, r, a)]
        self.sums[TYPE_IDS.index(type_id)] += torch.tensor(scores, dtype=torch.float64, device=self.sums.device)
        self.counts[TYPE_IDS.index(type_id)] += 1

    def compute(self) -> dict[str, Tensor]:
        """``{"<subset>/<score>"}`` for subsets referring, reason, overall (and nan, once a type-2 expression was
        added) and scores J, F, JF, A, R (percent).

        A subset without expressions is NaN, and so is ``overall`` then, as in the official script.
        """
        means = self.sums / self.counts[:, None]  # (3, 4): NaN rows for empty subsets
        subsets: dict[str, dict[str, Tensor]] = {}
        for name, type_id in _ROWS.items():
            j, f, r, a = means[TYPE_IDS.index(type_id)]
            subsets[name] = {"J": j, "F": f, "JF": (j + f) / 2, "A": a, "R": r}
        nan = subsets.pop(NAN_SUBSET)
        subsets["overall"] = {k: (subsets["referring"][k] + subsets["reason"][k]) / 2 for k in subsets["referring"]}
        if self.counts[TYPE_IDS.index(NAN_TYPE)] > 0:
            subsets[NAN_SUBSET] = nan
        return {f"{name}/{key}": value for name, scores in subsets.items() for key, value in scores.items()}
