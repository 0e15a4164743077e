"""Boxes: IoU, ground-truth boxes from masks, and Hungarian matching of predicted to ground-truth boxes.

Boxes are ``(x1, y1, x2, y2)`` floats in pixels with continuous extent: a box covers ``[x1, x2) × [y1, y2)`` and its
area is ``(x2 - x1) * (y2 - y1)``. A mask's box therefore ends one past its last pixel, so a one-pixel object
has area 1 instead of a degenerate zero-area box. (The reference code uses inclusive ``+1`` areas on both sides;
the difference shrinks with object size.) A box that is non-finite or has no positive area overlaps nothing:
its IoU with anything is 0, never NaN.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from scipy.optimize import linear_sum_assignment
from torch import Tensor

BoxLike = Tensor | Sequence[float]
BoxesLike = Tensor | Sequence[Sequence[float]]


def as_boxes(boxes: BoxesLike, name: str = "boxes") -> Tensor:
    """``(m, 4)`` float64 tensor from a tensor or a list of 4-sequences (values are not checked).

    Raises:
        ValueError: the input is not ``m`` rows of 4 numbers.
    """
    try:
        tensor = torch.as_tensor(boxes, dtype=torch.float64)
    except (TypeError, ValueError, RuntimeError, OverflowError) as error:
        raise ValueError(f"{name}: expected m boxes of 4 numbers (x1, y1, x2, y2), got {boxes!r}") from error
    if tensor.numel() == 0:
        return tensor.reshape(0, 4)
    if tensor.ndim != 2 or tensor.shape[1] != 4:
        raise ValueError(f"{name}: expected shape (m, 4), got {tuple(tensor.shape)}")
    return tensor


def _valid(boxes: Tensor) -> Tensor:
    """``(m,)`` rows that are finite with positive, finite area."""
    width = boxes[:, 2] - boxes[:, 0]
    height = boxes[:, 3] - boxes[:, 1]
    area = width * height
    return torch.isfinite(boxes).all(dim=1) & (width > 0) & (height > 0) & torch.isfinite(area)


def box_iou_matrix(a: BoxesLike, b: BoxesLike) -> Tensor:
    """``(m, g)`` float64 IoU of every box of ``a`` against every box of ``b``, in ``[0, 1]``; invalid boxes give 0."""
    a, b = as_boxes(a, "a"), as_boxes(b, "b")
    valid = _valid(a)[:, None] & _valid(b)[None, :]  # (m, g)
    a = torch.where(_valid(a)[:, None], a, torch.zeros_like(a))
    b = torch.where(_valid(b)[:, None], b, torch.zeros_like(b))
    top_left = torch.maximum(a[:, None, :2], b[None, :, :2])  # (m, g, 2)
    bottom_right = torch.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = (bottom_right - top_left).clamp(min=0).prod(dim=-1)
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    union = area_a[:, None] + area_b[None, :] - inter
    iou = torch.where(valid & (union > 0), inter / union.clamp(min=torch.finfo(torch.float64).tiny), 0.0)
    return torch.nan_to_num(iou, nan=0.0, posinf=0.0).clamp(0.0, 1.0)


def box_iou(a: BoxLike, b: BoxLike) -> float:
    """IoU of two boxes in ``[0, 1]``; 0 when either is non-finite or has no area."""
    return float(box_iou_matrix(as_box(a, "a"), as_box(b, "b"))[0, 0])


def as_box(box: BoxLike, name: str = "box") -> Tensor:
    """``(1, 4)`` tensor of one box given as a tensor of 4 values or a 4-sequence."""
    try:
        tensor = torch.as_tensor(box, dtype=torch.float64)
    except (TypeError, ValueError, RuntimeError, OverflowError) as error:
        raise ValueError(f"{name}: expected one box of 4 numbers (x1, y1, x2, y2), got {box!r}") from error
    if tensor.numel() != 4:
        raise ValueError(f"{name}: expected one box of 4 numbers (x1, y1, x2, y2), got shape {tuple(tensor.shape)}")
    return tensor.reshape(1, 4)


def masks_to_boxes_or_empty(masks: Tensor) -> tuple[Tensor, Tensor]:
    """Boxes of binary masks, with a flag for empty masks instead of the garbage box of an empty mask.

    Any non-zero pixel is foreground. The box of a non-empty mask is ``(x_min, y_min, x_max + 1, y_max + 1)``
    (continuous extent, see the module docstring); an empty mask gets an all-zero box and ``present = False``.

    Args:
        masks: ``(..., H, W)`` masks of any dtype.

    Returns:
        ``(..., 4)`` float32 boxes and ``(...)`` bool presence.

    Raises:
        ValueError: fewer than two dimensions.
    """
    if masks.ndim < 2:
        raise ValueError(f"masks_to_boxes_or_empty expects (..., H, W) masks, got shape {tuple(masks.shape)}")
    foreground = masks != 0
    rows = foreground.any(dim=-1)  # (..., H)
    cols = foreground.any(dim=-2)  # (..., W)
    present = rows.any(dim=-1)

    def extent(hits: Tensor) -> tuple[Tensor, Tensor]:
        positions = torch.arange(hits.shape[-1], device=hits.device)
        low = torch.where(hits, positions, hits.shape[-1]).amin(dim=-1)
        high = torch.where(hits, positions, -1).amax(dim=-1) + 1
        return low, high

    x1, x2 = extent(cols)
    y1, y2 = extent(rows)
    boxes = torch.stack([x1, y1, x2, y2], dim=-1).to(torch.float32)
    return torch.where(present[..., None], boxes, torch.zeros_like(boxes)), present


def matched_ious(pred: BoxesLike, gt: BoxesLike) -> Tensor:
    """``(g,)`` IoU of each ground-truth box with its predicted box under the IoU-maximising one-to-one matching.

    Hungarian matching (``scipy.optimize.linear_sum_assignment``) on the ``(g, m)`` IoU matrix; ground-truth
    boxes left without a prediction (``m < g``) score 0, surplus predictions are ignored here.
    """
    iou = box_iou_matrix(gt, pred)  # (g, m)
    scores = torch.zeros(iou.shape[0], dtype=torch.float64)
    if iou.numel() == 0:
        return scores
    rows, cols = linear_sum_assignment(iou.numpy(), maximize=True)
    scores[torch.as_tensor(rows)] = iou[torch.as_tensor(rows), torch.as_tensor(cols)]
    return scores
