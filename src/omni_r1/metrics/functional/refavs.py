"""RefAVS (Ref-AVS Bench) scores as the official Ref-AVS code computes them.

Reading of the official code (``scripts/train.py`` ``test``, ``utils/metric/utility.py``, ``datasets/
dataset_refavs.py``; ``Eval_Fmeasure`` is AVSBench's):

- Evaluation size 256×256. Ground truth: ``cv2.imread`` (BGR), ``cv2.resize(mask, (256, 256))`` (bilinear),
  grey, ``> 0``. Predictions are the model's 256×256 logits; every metric applies ``sigmoid`` first, so the
  functions here take probabilities.
- A batch is 4 csv rows in file order (``DataLoader(batch_size=4, shuffle=False)``, the last one may be shorter)
  × 10 frames, flattened to N frames.
- J (``mask_iou``): ``pred = prob > 0.4``; per frame ``inter / (union + 1e-7)``; a frame with empty ground truth
  scores ``inter = #pixels where both are background`` over ``union = H·W``; the batch value is
  ``sum(per frame) / N`` (float32).
- F (``Eval_Fmeasure``): thresholds ``linspace(0, 1 - 1e-10, 255)`` in float32 (the last one rounds to 1.0);
  per frame ``prec = tp / (#(prob >= th) + 1e-20)``, ``recall = tp / (#gt + 1e-20)``,
  ``f = 1.3 · prec · recall / (0.3 · prec + recall)`` with NaN → 0; frames with empty ground truth are skipped;
  the curves of the remaining frames are added in float32 frame by frame and divided by their count; the batch
  value is the maximum over thresholds, or 0.0 when no frame has ground truth. At ``th = 0`` every pixel counts as
  predicted, so even an empty prediction gets ``f(gt fraction, recall 1) > 0`` there.
- null split (``test_n``) S (``metric_s_for_null``): per batch ``sqrt(#(prob > 0.5) / #pixels)`` over all its
  frames (float32); lower is better.
- Across batches: ``J`` is the mean of the batch values accumulated in float32, ``F`` in Python floats, ``S`` is
  ``np.mean`` of the float32 batch values. The tables report J and F in percent.

Bit-level notes: the per-frame counts are exact integers, so J's per-frame values and the whole F curve equal the
official float32 ones on any device; only the order of J's float32 sum over the N frames of a batch may differ
from CUDA's. The GT resize is computed in float64 and rounded like OpenCV's uint8 output (value >= 0.5 means
non-zero); OpenCV interpolates in 11-bit fixed point, so a pixel whose interpolated value lies within about 0.1
grey level of 0.5 can differ. Such pixels only arise at mask edges and are rare.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

EVAL_SIZE = 256
FRAMES_PER_ROW = 10
ROWS_PER_BATCH = 4
J_THRESHOLD = 0.4
NULL_THRESHOLD = 0.5
BETA2 = 0.3
NUM_THRESHOLDS = 255
_IOU_EPS = 1e-7
_PR_EPS = 1e-20


def _check(probs: Tensor, target: Tensor | None = None) -> Tensor:
    if not isinstance(probs, Tensor) or (target is not None and not isinstance(target, Tensor)):
        raise TypeError("probs and target must be torch.Tensor")
    if probs.ndim != 3:
        raise ValueError(f"probs must be (N, H, W), got shape {tuple(probs.shape)}")
    if target is not None and target.shape != probs.shape:
        raise ValueError(f"target shape {tuple(target.shape)} does not match probs shape {tuple(probs.shape)}")
    return probs.to(torch.float32)


def refavs_resize(values: Tensor, size: int = EVAL_SIZE) -> Tensor:
    """Bilinear resize of ``(N, H, W)`` values to ``size × size`` in float64.

    Half-pixel centres and edge clamping, without antialiasing: the sampling of ``cv2.resize(..., INTER_LINEAR)``.
    """
    if values.ndim != 3:
        raise ValueError(f"expected (N, H, W) values, got shape {tuple(values.shape)}")
    resized = F.interpolate(values[:, None].to(torch.float64), size=(size, size), mode="bilinear", align_corners=False)
    return resized[:, 0]


def refavs_target(masks: Tensor, size: int = EVAL_SIZE) -> Tensor:
    """Ground truth at the evaluation size: grey values resized bilinearly, rounded to uint8, then ``> 0``.

    Args:
        masks: ``(N, H, W)`` grey values as stored in the PNG (uint8), or bool masks (taken as 0/255).
        size: evaluation size.

    Returns:
        ``(N, size, size)`` bool.
    """
    values = masks.to(torch.uint8) * 255 if masks.dtype == torch.bool else masks
    return refavs_resize(values, size) >= 0.5


def refavs_frame_iou(probs: Tensor, target: Tensor, threshold: float = J_THRESHOLD) -> Tensor:
    """Per-frame J of ``mask_iou``: IoU of ``probs > threshold``; empty-GT frames score the background fraction.

    Args:
        probs: ``(N, H, W)`` foreground probabilities.
        target: ``(N, H, W)`` ground truth; non-zero is foreground.
        threshold: foreground threshold (official 0.4).

    Returns:
        ``(N,)`` float32.
    """
    pred = _check(probs, target) > threshold
    target = target.to(pred.device) != 0
    inter = (pred & target).sum(dim=(-2, -1)).float()
    union = (pred | target).sum(dim=(-2, -1)).float()
    empty = ~target.any(dim=(-2, -1))
    inter = torch.where(empty, (~pred & ~target).sum(dim=(-2, -1)).float(), inter)
    union = torch.where(empty, torch.full_like(union, pred.shape[-2] * pred.shape[-1]), union)
    return inter / (union + _IOU_EPS)


def refavs_batch_iou(probs: Tensor, target: Tensor, threshold: float = J_THRESHOLD) -> Tensor:
    """J of one official batch: the mean of :func:`refavs_frame_iou` over its frames (float32 scalar)."""
    frames = refavs_frame_iou(probs, target, threshold)
    return frames.sum() / frames.numel()


def refavs_fmeasure_curves(
    probs: Tensor, target: Tensor, num_thresholds: int = NUM_THRESHOLDS, beta2: float = BETA2
) -> tuple[Tensor, Tensor]:
    """Per-frame F-beta curves of ``Eval_Fmeasure`` over its thresholds.

    Counts of ``prob >= th`` come from sorted probabilities instead of one full-frame comparison per threshold;
    they are exact integers, so the float32 ratios are the official ones.

    Args:
        probs: ``(N, H, W)`` foreground probabilities.
        target: ``(N, H, W)`` ground truth; non-zero is foreground.
        num_thresholds: number of thresholds in ``linspace(0, 1 - 1e-10)`` (official 255).
        beta2: β² of the F-measure (official 0.3).

    Returns:
        ``(N, num_thresholds)`` float32 curves and ``(N,)`` bool: which frames have ground truth (only those
        enter the official mean).
    """
    probs = _check(probs, target).flatten(1)  # (N, P)
    target = (target.to(probs.device) != 0).flatten(1)
    thresholds = torch.linspace(0, 1 - 1e-10, num_thresholds, device=probs.device)  # float32, as the official
    queries = thresholds.expand(probs.shape[0], -1).contiguous()

    def count_at_least(values: Tensor) -> Tensor:  # (N, thresholds): #(value >= th) per frame
        ordered = values.sort(dim=1).values
        return values.shape[1] - torch.searchsorted(ordered, queries, side="left")

    predicted = count_at_least(probs).float()
    true_pos = count_at_least(torch.where(target, probs, float("-inf"))).float()
    positives = target.sum(dim=1, keepdim=True).float()
    precision = true_pos / (predicted + _PR_EPS)
    recall = true_pos / (positives + _PR_EPS)
    curves = (1 + beta2) * precision * recall / (beta2 * precision + recall)
    curves = torch.where(curves != curves, 0.0, curves)  # NaN (precision = recall = 0) → 0, as the official
    return curves, target.any(dim=1)


def refavs_batch_fmeasure(probs: Tensor, target: Tensor) -> float:
    """F of one official batch: the maximum over thresholds of the mean curve of its frames with ground truth.

    Returns:
        A Python float (the official ``.item()`` of a float32); 0.0 when no frame has ground truth.
    """
    curves, has_gt = refavs_fmeasure_curves(probs, target)
    total: Tensor | None = None
    for curve in curves[has_gt]:  # frame by frame in float32, as the official loop adds them
        total = curve if total is None else total + curve
    if total is None:
        return 0.0
    return (total / int(has_gt.sum())).max().item()


def refavs_null_s(probs: Tensor, threshold: float = NULL_THRESHOLD) -> Tensor:
    """S of one null-split batch: ``sqrt(#(prob > threshold) / #pixels)`` over all its frames (float32 scalar)."""
    probs = _check(probs)
    return torch.sqrt((probs > threshold).sum() / probs.numel())


def refavs_batches(num_rows: int, rows_per_batch: int = ROWS_PER_BATCH) -> list[range]:
    """Row ranges of the official evaluation batches (csv order, last batch possibly shorter)."""
    if num_rows < 0 or rows_per_batch < 1:
        raise ValueError(f"need num_rows >= 0 and rows_per_batch >= 1, got {num_rows}, {rows_per_batch}")
    return [range(s, min(s + rows_per_batch, num_rows)) for s in range(0, num_rows, rows_per_batch)]


def refavs_aggregate(batch_j: Sequence[Tensor | float], batch_f: Sequence[float]) -> dict[str, float]:
    """Official means over batches, in percent: J accumulated in float32, F in Python floats.

    Args:
        batch_j: per-batch J (:func:`refavs_batch_iou`).
        batch_f: per-batch F (:func:`refavs_batch_fmeasure`).

    Returns:
        ``{"J", "F", "JF"}`` in percent.
    """
    if len(batch_j) != len(batch_f) or not len(batch_j):
        raise ValueError(f"need one J and one F per batch and at least one batch, got {len(batch_j)}, {len(batch_f)}")
    j_total = torch.zeros((), dtype=torch.float32)
    for value in batch_j:
        j_total = j_total + torch.as_tensor(value, dtype=torch.float32).cpu()
    j = (j_total / len(batch_j)).item()
    f = sum(float(value) for value in batch_f) / len(batch_f)
    return {"J": 100 * j, "F": 100 * f, "JF": 100 * (j + f) / 2}


def refavs_null_aggregate(batch_s: Sequence[Tensor | float]) -> dict[str, float]:
    """Official null-split S: ``np.mean`` of the float32 batch values (a fraction; lower is better)."""
    if not len(batch_s):
        raise ValueError("need at least one batch")
    values = np.array([float(s) for s in batch_s], dtype=np.float32)
    return {"S": float(values.mean())}
