"""ReVOS scores as the official VISA / ReVOS evaluation script (``eval_revos.py``) computes them.

What the official script does, per expression of ``meta_expressions_valid_.json``:

- ground truth: the expression's objects decoded from ``mask_dict.json`` and *added* in uint8 (overlapping
  objects count 2); the prediction: ``<pred>/<video>/<exp_id>/<frame>.png`` read as 8-bit greyscale (0/255);
- ``j``, ``f``: DAVIS ``db_eval_iou`` / ``db_eval_boundary`` frame means over all frames of the video;
- ``r`` (robustness): per frame ``max(1 - neg / (pos + 1e-6), 0)`` with ``neg = ((1 - gt) * pred).sum()`` in
  uint8 and ``pos`` the pixel count of the video's foreground (``mask_dict_foreground.json``: the union of every
  annotated object), then the frame mean. Because the PNG holds 255 for foreground, each false-positive pixel
  counts 255 times (``official``); ``corrected`` counts it once: ``neg = |pred ∧ ¬gt|``;
- a missing video folder or prediction file, or any other error, scores ``j = f = a = r = 0`` for the expression;
- ``a`` (pixel accuracy, ``get_r2vos_accuracy``): per frame ``mean(gt == pred)`` on those uint8 values, then the
  frame mean. With 0/255 predictions against 0/1 ground truth only true-negative pixels agree (``official``);
  ``corrected`` compares foreground with foreground;
- ``J = round(100 * j, 2)`` and likewise ``F``, ``A``, ``R`` (NumPy rounding of a float64), *then* means over the
  expressions of type 0 (``referring``) and type 1 (``reason``); ``JF = (J + F) / 2`` per subset, and ``overall``
  is the mean of the two subsets' values (not a mean over all expressions);
- type 2 (VISA's ``is_nan``) expressions are scored like the others and written to the per-expression table, but
  left out of every mean. The kit reports their means as a subset of its own, ``nan``, next to (never inside)
  ``overall``.

Ambiguities, and what the kit does: the official script averages the subsets in the order its worker processes
finish, which changes the last bit of a mean; the kit uses the order of the meta file. Robustness is a mean over
all frames of the video, including frames where the target is absent (that is where hallucinated masks show).
The official summary JSON has no entry for type 2 at all; the ``nan`` subset is the kit's addition (present only
when the meta file has such expressions), computed exactly like the other subsets.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import Tensor

from omni_r1.metrics.functional.davis import _numpy_mean, j_and_f
from omni_r1.metrics.functional.sums import frame_sums

ROBUSTNESS_MODES = ("official", "corrected")
ACCURACY_MODES = ("official", "corrected")
SUBSETS = {"referring": 0, "reason": 1}  # the subsets of the official means; ``overall`` is their mean
NAN_SUBSET, NAN_TYPE = "nan", 2  # VISA's ``is_nan`` expressions: scored, reported apart, in no official mean
TYPE_IDS = (*SUBSETS.values(), NAN_TYPE)
_EPS = 1e-6  # the official denominator guard


def _frames(name: str, masks: Tensor, shape: torch.Size | None) -> Tensor:
    if not isinstance(masks, Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(masks).__name__}")
    masks = masks.unsqueeze(0) if masks.ndim == 2 else masks
    if masks.ndim != 3:
        raise ValueError(f"{name} must be (T, H, W) or (H, W), got shape {tuple(masks.shape)}")
    if shape is not None and masks.shape != shape:
        raise ValueError(f"{name} shape {tuple(masks.shape)} does not match pred shape {tuple(shape)}")
    return masks


def _as_stored(name: str, masks: Tensor, scale: int) -> Tensor:
    """uint8 values as the official script holds them: uint8 unchanged, bool as 0/``scale``."""
    if masks.dtype == torch.uint8:
        return masks
    if masks.dtype == torch.bool:
        return masks.to(torch.uint8) * scale
    raise ValueError(f"mode 'official' needs {name} as uint8 values (as read from files) or bool, got {masks.dtype}")


def revos_robustness(pred: Tensor, target: Tensor, foreground: Tensor, mode: str = "official") -> Tensor:
    """Per-frame robustness ``max(0, 1 - FP / |foreground|)`` of one expression.

    Args:
        pred: ``(T, H, W)`` prediction. ``official``: uint8 values as read from the PNG (0/255), or bool masks,
            taken as the 0/255 PNG the kit writes. ``corrected``: any non-zero value is foreground.
        target: ground truth: bool, or the uint8 per-pixel object count the official script builds by adding the
            objects' masks (its uint8 wrap-around on overlaps is reproduced in ``official`` mode).
        foreground: the video's foreground (union of all annotated objects): bool or uint8.
        mode: ``"official"`` (false positives weigh 255, as the published numbers) or ``"corrected"``.

    Returns:
        ``(T,)`` float64 in [0, 1].
    """
    if mode not in ROBUSTNESS_MODES:
        raise ValueError(f"robustness mode must be one of {ROBUSTNESS_MODES}, got {mode!r}")
    pred = _frames("pred", pred, None)
    target = _frames("target", target, pred.shape).to(pred.device)
    foreground = _frames("foreground", foreground, pred.shape).to(pred.device)
    if mode == "official":
        # uint8 arithmetic wraps exactly like the official NumPy uint8 arrays; only the sums are widened.
        false_pos = (1 - _as_stored("target", target, 1)) * _as_stored("pred", pred, 255)
        neg = frame_sums(false_pos)
        pos = frame_sums(_as_stored("foreground", foreground, 1))
    else:
        neg = frame_sums((pred != 0) & (target == 0))
        pos = frame_sums(foreground != 0)
    return (1 - neg.double() / (pos.double() + _EPS)).clamp(min=0.0)


def revos_expression(
    pred: Tensor, target: Tensor, foreground: Tensor, mode: str = "official", bound_th: float = 0.008
) -> tuple[Tensor, Tensor, Tensor]:
    """Frame-mean ``j``, ``f`` and robustness ``r`` of one expression, as fractions (float64 scalars).

    Args:
        pred: ``(T, H, W)`` prediction (see :func:`revos_robustness` for the dtypes ``official`` accepts).
        target: ``(T, H, W)`` ground truth (bool or uint8 object count).
        foreground: ``(T, H, W)`` union of every annotated object of the video.
        mode: robustness mode, ``"official"`` or ``"corrected"``.
        bound_th: boundary tolerance of F.
    """
    j, f, _ = j_and_f(pred, target, bound_th)
    r = _numpy_mean(revos_robustness(pred, target, foreground, mode))
    return j, f, r


def revos_accuracy(pred: Tensor, target: Tensor, mode: str = "official") -> Tensor:
    """Per-frame pixel accuracy ``A = mean(gt == pred)`` of one expression (VISA's ``get_r2vos_accuracy``).

    Args:
        pred: ``(T, H, W)`` prediction. ``official``: uint8 values as read from the PNG (0/255), or bool masks,
            taken as the 0/255 PNG the kit writes. ``corrected``: any non-zero value is foreground.
        target: ground truth: bool, or the uint8 per-pixel object count the official script builds.
        mode: ``"official"`` compares the stored values, as the published script does (a 255 prediction never
            equals a 1 in the ground truth, so only true negatives count), or ``"corrected"``: foreground
            against foreground.

    Returns:
        ``(T,)`` float64 in [0, 1]: agreeing pixels over pixels, as NumPy's mean of a bool frame.
    """
    if mode not in ACCURACY_MODES:
        raise ValueError(f"accuracy mode must be one of {ACCURACY_MODES}, got {mode!r}")
    pred = _frames("pred", pred, None)
    target = _frames("target", target, pred.shape).to(pred.device)
    if mode == "official":
        agree = _as_stored("target", target, 1) == _as_stored("pred", pred, 255)
    else:
        agree = (pred != 0) == (target != 0)
    return frame_sums(agree).double() / (agree.shape[1] * agree.shape[2])


def revos_expression_accuracy(pred: Tensor, target: Tensor, mode: str = "official") -> Tensor:
    """Frame-mean pixel accuracy ``a`` of one expression as a fraction (float64 scalar; NumPy's frame mean)."""
    return _numpy_mean(revos_accuracy(pred, target, mode))


def revos_percent(value: float | Tensor) -> float:
    """``round(100 * value, 2)`` as the official script evaluates it on a NumPy float64.

    NumPy rounds by scaling and ``rint`` (``2.675 → 2.68``), Python's ``round`` on a float rounds the exact binary
    value (``2.675 → 2.67``); the official per-expression numbers are NumPy's.
    """
    value = value.item() if isinstance(value, Tensor) else value
    return float(np.round(np.float64(100) * np.float64(value), 2))


def _mean(values: list[float]) -> float:
    # NaN for an empty subset, as the official np.mean gives (without its RuntimeWarning).
    return float(np.array(values, dtype=np.float64).mean()) if values else float("nan")


def revos_aggregate(
    type_ids: Sequence[int],
    j: Sequence[float],
    f: Sequence[float],
    r: Sequence[float],
    a: Sequence[float] | None = None,
) -> dict[str, dict[str, float]]:
    """The official summary from per-expression fractions: rounded percents averaged per subset.

    Args:
        type_ids: per expression, 0 (referring), 1 (reasoning) or 2 (VISA's "nan": in no official mean).
        j: per-expression frame-mean J as a fraction (0 for a missing prediction).
        f: per-expression frame-mean F.
        r: per-expression robustness.
        a: per-expression pixel accuracy; ``None`` leaves ``A`` out of the summary.

    Returns:
        ``{"referring" | "reason" | "overall": {"J", "F", "JF", "R"(, "A")}}`` in percent, plus ``"nan"`` with the
        same keys when some expression has type 2 (those never enter ``referring``, ``reason`` or ``overall``). A
        subset without expressions gives NaN (and so does ``overall``), as in the official script.
    """
    columns = {"J": j, "F": f, "R": r, **({"A": a} if a is not None else {})}
    lengths = [len(type_ids), *(len(values) for values in columns.values())]
    if len(set(lengths)) != 1:
        raise ValueError(f"need one {', '.join(k.lower() for k in columns)} per expression, got {lengths}")
    types = [int(t) for t in type_ids]
    unknown = sorted(set(types) - set(TYPE_IDS))
    if unknown:
        raise ValueError(f"ReVOS type_id must be 0 (referring), 1 (reasoning) or 2 (nan), got {unknown}")
    rounded = {key: [revos_percent(v) for v in values] for key, values in columns.items()}

    def subset(type_id: int) -> dict[str, float]:
        rows = [i for i, t in enumerate(types) if t == type_id]
        means = {key: _mean([rounded[key][i] for i in rows]) for key in columns}
        return {"J": means["J"], "F": means["F"], "JF": (means["J"] + means["F"]) / 2, **means}

    summary = {name: subset(type_id) for name, type_id in SUBSETS.items()}
    referring, reason = summary["referring"], summary["reason"]
    summary["overall"] = {key: (referring[key] + reason[key]) / 2 for key in referring}
    if NAN_TYPE in types:
        summary[NAN_SUBSET] = subset(NAN_TYPE)
    return summary
