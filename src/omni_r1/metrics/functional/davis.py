"""DAVIS region similarity J and boundary F-measure, vectorised over frames.

Every number equals the official ``davis2017-evaluation`` script (``db_eval_iou`` / ``db_eval_boundary``)
bit for bit: ReVOS, MeViS and ReasonVOS tables are computed with it, so a kit metric that differs in the last
digit would make the reproduced numbers incomparable. All counting is done in integers or on exact 0/1 values;
only the final ratios are float64, computed in the same order as the official code, and sequence means use
NumPy's summation order as the official ``ndarray.mean()`` does.

Speed: the official F dilates both boundary maps with a disk over the whole frame. Only the dilation's value *at
boundary pixels* is ever read, so :func:`boundary_f_measure` looks it up there instead: for each boundary pixel and
each row of the disk, one binary search in the sorted list of the other map's boundary pixels says whether that
row's chord holds one. The work grows with the boundary length (a few thousand pixels per frame), not with the
frame area times the disk size, and it is all integer arithmetic, so the result is the same on any device.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor


def _as_frames(pred: Tensor, target: Tensor) -> tuple[Tensor, Tensor]:
    """Check shapes and binarise: any non-zero pixel is foreground, as ``astype(bool)`` in the official code."""
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
    target = target.to(pred.device)
    # A bool tensor is already binary; `!= 0` on it would cost a full pass through a type promotion.
    return (pred if pred.dtype == torch.bool else pred != 0), (target if target.dtype == torch.bool else target != 0)


def region_similarity(pred: Tensor, target: Tensor) -> Tensor:
    """Per-frame Jaccard index J (DAVIS ``db_eval_iou``).

    Args:
        pred: ``(T, H, W)`` or ``(H, W)`` predicted masks; any non-zero value is foreground.
        target: ground-truth masks of the same shape.

    Returns:
        ``(T,)`` float64 on ``pred``'s device; frames whose union is empty score 1 (nothing to find, nothing found).
    """
    pred, target = _as_frames(pred, target)
    inter = _count(pred & target)
    union = _count(pred | target)
    return torch.where(union == 0, torch.ones_like(union), inter / union)


def _count(mask: Tensor) -> Tensor:
    """Foreground pixels per frame as float64. Summing the bytes in int32 is about twice as fast as a bool sum
    (which widens every element to int64); a frame has far fewer than 2³¹ pixels."""
    return mask.view(torch.uint8).flatten(1).sum(dim=1, dtype=torch.int32).double()


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
    dense (2r+1)² convolution or unfold would need far more for 480p frames). :func:`boundary_f_measure` reads the
    dilation only at boundary pixels and does not build it; this full map is its dense counterpart.
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


_QUERY_CHUNK = 1 << 20  # (point, disk row) lookups per step: bounds memory for noise-like masks with huge boundaries


def _near_any_row(centres: Tensor, table: Tensor, rows: list[int], row_stride: int, radius: int) -> Tensor:
    """Whether a key of ``table`` lies on one of the disk's chords ``rows`` around each of ``centres``.

    Args:
        centres: ``(K,)`` keys of the pixels to test.
        table: sorted keys to look for, ending with a sentinel larger than any chord end.
        rows: disk row offsets ``dy`` to test.
        row_stride: key distance between vertically adjacent pixels.
        radius: disk radius r.

    Returns:
        ``(K,)`` bool.
    """
    dy = torch.tensor(rows, device=centres.device)
    half = torch.tensor([math.isqrt(radius * radius - d * d) for d in rows], device=centres.device)
    start, stop = dy * row_stride - half, dy * row_stride + half + 1  # (D,) chord [start, stop) around a centre
    near = torch.empty(centres.shape, dtype=torch.bool, device=centres.device)
    step = max(1, _QUERY_CHUNK // len(rows))
    for first in range(0, centres.numel(), step):
        centre = centres[first : first + step, None]  # (K, 1)
        found = table[torch.searchsorted(table, centre + start)]  # (K, D): first key at or after the chord start
        near[first : first + step] = (found < centre + stop).any(dim=1)
    return near


def _count_near(
    points: tuple[Tensor, Tensor, Tensor], others: tuple[Tensor, Tensor, Tensor], shape: torch.Size, radius: int
) -> Tensor:
    """Per frame, how many of ``points`` have one of ``others`` within the disk ``{dx² + dy² <= r²}``.

    This is ``|src_b ∧ dil(dst_b)|`` of the official code evaluated only where ``src_b`` is set. Pixels are keyed
    by their row-major index in a frame padded by ``r`` rows and ``r + 1`` columns on each side, so for every disk
    row ``dy`` the chord ``|dx| <= isqrt(r² - dy²)`` is one contiguous key interval that never wraps into another
    row or frame. ``others`` come from ``nonzero`` in row-major order, so their keys are sorted and one binary
    search per (point, disk row) finds the first key at or after the chord's start. Three probe rows settle most
    pixels of a reasonable prediction (its boundary runs within a few pixels of the target's); only the rest are
    tested against all ``2r + 1`` rows.

    Args:
        points: ``(t, y, x)`` index vectors of the pixels to test.
        others: ``(t, y, x)`` index vectors of the pixels to look for.
        shape: ``(T, H, W)`` of the frames.
        radius: disk radius r.

    Returns:
        ``(T,)`` int64 counts.
    """
    frames, height, width = shape
    device = points[0].device
    row_stride, frame_rows = width + 2 * radius + 2, height + 2 * radius

    def keys(t: Tensor, y: Tensor, x: Tensor) -> Tensor:
        return (t * frame_rows + y + radius) * row_stride + x + radius + 1

    # A sentinel past every chord end lets "first key at or after the start" be read without a bounds check.
    sentinel = torch.tensor([frames * frame_rows * row_stride], device=device)
    table = torch.cat([keys(*others), sentinel])
    centres = keys(*points)
    probe = sorted({0, -((radius + 1) // 2), (radius + 1) // 2})
    near = _near_any_row(centres, table, probe, row_stride, radius)
    rest = (~near).nonzero().squeeze(1)
    if rest.numel():
        near[rest] = _near_any_row(centres[rest], table, list(range(-radius, radius + 1)), row_stride, radius)
    return torch.bincount(points[0][near], minlength=frames)


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
    radius = boundary_radius(pred.shape[-2], pred.shape[-1], bound_th)
    pred_points = boundary_map(pred).nonzero(as_tuple=True)
    target_points = boundary_map(target).nonzero(as_tuple=True)
    frames = pred.shape[0]
    n_pred = torch.bincount(pred_points[0], minlength=frames).double()
    n_target = torch.bincount(target_points[0], minlength=frames).double()
    precision = _count_near(pred_points, target_points, pred.shape, radius).double() / n_pred
    recall = _count_near(target_points, pred_points, pred.shape, radius).double() / n_target
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
    j_frames = region_similarity(pred, target)
    if j_frames.numel() == 0:
        # The mean of no frames is NaN, which would silently poison every average it enters.
        raise ValueError(f"a sequence needs at least one frame, got masks of shape {tuple(pred.shape)}")
    f_frames = boundary_f_measure(pred, target, bound_th)
    j, f = _numpy_mean(j_frames), _numpy_mean(f_frames)
    return j, f, (j + f) / 2


def _numpy_mean(values: Tensor) -> Tensor:
    """Frame mean with NumPy's own (pairwise) summation, as the official scripts' ``ndarray.mean()``.

    ``torch.mean`` adds in a different order and differs in the last bit about a third of the time; that could
    flip a ReVOS score rounded to two decimals. Copying T floats to the host once per sequence costs nothing.
    """
    return torch.tensor(values.cpu().numpy().mean(), dtype=torch.float64, device=values.device)
