"""DAVIS region similarity J and boundary F-measure, vectorised over frames.

Every number equals the official ``davis2017-evaluation`` script (``db_eval_iou`` / ``db_eval_boundary``)
bit for bit: ReVOS, MeViS and ReasonVOS tables are computed with it, so a kit metric that differs in the last
digit would make the reproduced numbers incomparable. All counting is done in integers or on exact 0/1 values;
only the final ratios are float64, computed in the same order as the official code, and sequence means use
NumPy's summation order as the official ``ndarray.mean()`` does.

Speed: the official F dilates both boundary maps with a disk over the whole frame, one byte per pixel. The kit
packs 64 pixels into each int64 word and dilates, intersects and counts the packed rows
(:mod:`omni_r1.metrics.functional.bitpacked`), so each tensor operation does 64 pixels' work; it is all integer
arithmetic, so the result is the same on any device. J and F share one packing in :func:`region_and_boundary`.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

from omni_r1.metrics.functional.bitpacked import FrameCounts, frame_counts


def _as_frames(pred: Tensor, target: Tensor) -> tuple[Tensor, Tensor]:
    """Check shapes and bring both to ``(T, H, W)`` on ``pred``'s device (binarised later, while packing)."""
    if not isinstance(pred, Tensor) or not isinstance(target, Tensor):
        raise TypeError(f"pred and target must be torch.Tensor, got {type(pred).__name__} and {type(target).__name__}")
    if pred.shape != target.shape:
        raise ValueError(f"pred shape {tuple(pred.shape)} does not match target shape {tuple(target.shape)}")
    if pred.ndim == 2:
        pred, target = pred.unsqueeze(0), target.unsqueeze(0)
    if pred.ndim != 3:
        raise ValueError(f"masks must be (T, H, W) or (H, W), got shape {tuple(pred.shape)}")
    if pred.shape[-2] == 0 or pred.shape[-1] == 0:
        raise ValueError(f"masks must have at least one pixel per frame, got shape {tuple(pred.shape)}")
    return pred, target.to(pred.device)


def region_similarity(pred: Tensor, target: Tensor) -> Tensor:
    """Per-frame Jaccard index J (DAVIS ``db_eval_iou``).

    Args:
        pred: ``(T, H, W)`` or ``(H, W)`` predicted masks; any non-zero value is foreground.
        target: ground-truth masks of the same shape.

    Returns:
        ``(T,)`` float64 on ``pred``'s device; frames whose union is empty score 1 (nothing to find, nothing found).
    """
    return _jaccard(frame_counts(*_as_frames(pred, target), radius=None))


def region_and_boundary(pred: Tensor, target: Tensor, bound_th: float = 0.008) -> tuple[Tensor, Tensor]:
    """Per-frame J and F together: one packing of the masks serves both (what every evaluation needs).

    Args:
        pred: ``(T, H, W)`` or ``(H, W)`` predicted masks; any non-zero value is foreground.
        target: ground-truth masks of the same shape.
        bound_th: boundary tolerance passed to :func:`boundary_radius`.

    Returns:
        ``(J, F)``, each ``(T,)`` float64, equal to :func:`region_similarity` and :func:`boundary_f_measure`.
    """
    pred, target = _as_frames(pred, target)
    counts = frame_counts(pred, target, boundary_radius(pred.shape[-2], pred.shape[-1], bound_th))
    return _jaccard(counts), _f_measure(counts)


def _jaccard(counts: FrameCounts) -> Tensor:
    union = counts.union.double()
    return torch.where(union == 0, torch.ones_like(union), counts.intersection.double() / union)


def boundary_radius(height: int, width: int, bound_th: float = 0.008) -> int:
    """Dilation radius in pixels: a fraction of the image diagonal, or an absolute radius when ``bound_th >= 1``.

    Args:
        height: frame height in pixels.
        width: frame width in pixels.
        bound_th: tolerance as a fraction of the diagonal (< 1) or in pixels (>= 1, must be a whole number).

    Returns:
        The radius r of the disk ``{dx² + dy² <= r²}``; 8 for a 480×854 frame at the default 0.008.
    """
    if not bound_th >= 0:
        raise ValueError(f"bound_th must be >= 0, got {bound_th}")
    if bound_th >= 1:
        # The official code then builds skimage.disk(bound_th) directly; a fractional radius would give an
        # even-sized kernel whose anchor depends on OpenCV internals, so only whole pixel counts are accepted.
        if bound_th != int(bound_th):
            raise ValueError(f"bound_th >= 1 is a radius in pixels and must be a whole number, got {bound_th}")
        return int(bound_th)
    # np.linalg.norm(shape) is sqrt(H² + W²) in float64; math.sqrt of the exact integer sum rounds identically.
    return math.ceil(bound_th * math.sqrt(height * height + width * width))


def boundary_map(masks: Tensor) -> Tensor:
    """One-pixel-wide boundaries of ``(T, H, W)`` bool masks (the official ``_seg2bmap`` at the mask's own size).

    A pixel is boundary when it differs from its east, south or south-east neighbour (zero beyond the image);
    the last row compares only east, the last column only south, and the bottom-right pixel is never boundary.
    """
    bmap = torch.zeros_like(masks)
    inner = masks[:, :-1, :-1]
    # Slices instead of zero-filled shifted copies: the same comparisons with three fewer full-frame passes.
    bmap[:, :-1, :-1] = (inner ^ masks[:, :-1, 1:]) | (inner ^ masks[:, 1:, :-1]) | (inner ^ masks[:, 1:, 1:])
    bmap[:, :-1, -1] = masks[:, :-1, -1] ^ masks[:, 1:, -1]
    bmap[:, -1, :-1] = masks[:, -1, :-1] ^ masks[:, -1, 1:]
    return bmap


def disk_dilation(masks: Tensor, radius: int) -> Tensor:
    """Binary dilation of ``(T, H, W)`` bool masks by the disk ``{dx² + dy² <= r²}`` with zero padding.

    The disk is split into its horizontal chords: row offset ``dy`` spans ``|dx| <= isqrt(r² - dy²)``. Each chord
    is a sliding-window count from one integer prefix sum along the width, then shifted by ``dy``. Everything is
    integer or bool, so the result is exact on any device, and memory stays O(T·H·W) whatever the radius (a
    dense (2r+1)² convolution or unfold would need far more for 480p frames). The metrics dilate bit-packed rows
    instead (:mod:`omni_r1.metrics.functional.bitpacked`); this byte-per-pixel map is their dense counterpart.
    """
    if masks.ndim != 3 or masks.dtype != torch.bool:
        raise ValueError(f"disk_dilation expects (T, H, W) bool masks, got {masks.dtype} of shape {tuple(masks.shape)}")
    if radius == 0:
        return masks.clone()
    height, width = masks.shape[-2:]
    # One leading zero makes prefix[i] the sum of padded[:i]; r zeros each side give the window's zero padding.
    padded = F.pad(masks.to(torch.int32), (radius + 1, radius))  # (T, H, W + 2r + 1)
    prefix = padded.cumsum(dim=-1, dtype=torch.int32)
    out = torch.zeros_like(masks)
    offsets_by_half_width: dict[int, list[int]] = {}
    for dy in range(radius + 1):
        offsets_by_half_width.setdefault(math.isqrt(radius * radius - dy * dy), []).append(dy)
    for half, offsets in offsets_by_half_width.items():
        # Sum of masks[..., x - half : x + half + 1] for every column x, with zeros outside the frame.
        chord = (
            prefix[..., radius + 1 + half : radius + 1 + half + width]
            - prefix[..., radius - half : radius - half + width]
        ) > 0
        for dy in offsets:
            if dy >= height:
                continue
            if dy == 0:
                out |= chord
                continue
            out[:, : height - dy] |= chord[:, dy:]
            out[:, dy:] |= chord[:, : height - dy]
    return out


def boundary_f_measure(pred: Tensor, target: Tensor, bound_th: float = 0.008) -> Tensor:
    """Per-frame boundary F-measure (DAVIS ``db_eval_boundary``), at the masks' own resolution.

    Args:
        pred: ``(T, H, W)`` or ``(H, W)`` predicted masks; any non-zero value is foreground.
        target: ground-truth masks of the same shape.
        bound_th: boundary tolerance, a fraction of the image diagonal (< 1) or a whole number of pixels (>= 1).

    Returns:
        ``(T,)`` float64 on ``pred``'s device. Both boundaries empty → 1; exactly one empty → 0.
    """
    pred, target = _as_frames(pred, target)
    return _f_measure(frame_counts(pred, target, boundary_radius(pred.shape[-2], pred.shape[-1], bound_th)))


def _f_measure(counts: FrameCounts) -> Tensor:
    n_pred, n_target = counts.pred_boundary.double(), counts.target_boundary.double()
    precision = counts.pred_matched.double() / n_pred
    recall = counts.target_matched.double() / n_target
    # Official special cases: no predicted boundary → precision 1, no target boundary → recall 1. The other ratio
    # then has nothing to match against and is already 0, which gives F = 0 for one empty side and 1 for both.
    precision = torch.where(n_pred == 0, 1.0, precision)
    recall = torch.where(n_target == 0, 1.0, recall)
    denom = precision + recall
    f = 2 * precision * recall / denom
    return torch.where(denom == 0, torch.zeros_like(f), f)


def j_and_f(pred: Tensor, target: Tensor, bound_th: float = 0.008) -> tuple[Tensor, Tensor, Tensor]:
    """Frame-mean J, frame-mean F and their average J&F for one sequence (one video / expression).

    Args:
        pred: ``(T, H, W)`` or ``(H, W)`` predicted masks; any non-zero value is foreground.
        target: ground-truth masks of the same shape.
        bound_th: boundary tolerance passed to :func:`boundary_f_measure`.

    Returns:
        ``(J, F, JF)`` float64 scalars, fractions in [0, 1].
    """
    j_frames, f_frames = region_and_boundary(pred, target, bound_th)
    if j_frames.numel() == 0:
        # The mean of no frames is NaN, which would silently poison every average it enters.
        raise ValueError(f"a sequence needs at least one frame, got masks of shape {tuple(pred.shape)}")
    j, f = _numpy_mean(j_frames), _numpy_mean(f_frames)
    return j, f, (j + f) / 2


def _numpy_mean(values: Tensor) -> Tensor:
    """Frame mean with NumPy's own (pairwise) summation, as the official scripts' ``ndarray.mean()``.

    ``torch.mean`` adds in a different order and differs in the last bit about a third of the time; that could
    flip a ReVOS score rounded to two decimals. Copying T floats to the host once per sequence costs nothing.
    """
    return torch.tensor(values.cpu().numpy().mean(), dtype=torch.float64, device=values.device)
