"""The boundary F lookup (binary search at boundary pixels) against full-frame disk dilation.

``disk_dilation`` is checked against scipy in ``test_davis.py``; here the F-measure, which only looks the dilation up
at boundary pixels, must give the same counts on the cases that exercise its parts: large noisy frames (many
lookups, processed in chunks), matches found only on the disk's outer rows (past the probe rows), radius 0 and
radii larger than the frame.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from omni_r1.metrics.functional import boundary_f_measure, boundary_map, boundary_radius, disk_dilation


def dense_f(pred: torch.Tensor, target: torch.Tensor, bound_th: float = 0.008) -> torch.Tensor:
    """F from full-frame dilations, in the official order of operations."""
    radius = boundary_radius(pred.shape[-2], pred.shape[-1], bound_th)
    pred_b, target_b = boundary_map(pred), boundary_map(target)
    n_pred, n_target = pred_b.sum(dim=(-2, -1)).double(), target_b.sum(dim=(-2, -1)).double()
    precision = (pred_b & disk_dilation(target_b, radius)).sum(dim=(-2, -1)).double() / n_pred
    recall = (target_b & disk_dilation(pred_b, radius)).sum(dim=(-2, -1)).double() / n_target
    precision = torch.where(n_pred == 0, 1.0, precision)
    recall = torch.where(n_target == 0, 1.0, recall)
    f = 2 * precision * recall / (precision + recall)
    return torch.where(precision + recall == 0, 0.0, f)


def test_large_noisy_frames_use_several_chunks() -> None:
    """Half the pixels of a 480×854 noise frame are boundary: ~17 lookups each, far more than one chunk."""
    rng = np.random.default_rng(0)
    pred = torch.from_numpy(rng.random((2, 480, 854)) < 0.5)
    target = torch.from_numpy(rng.random((2, 480, 854)) < 0.02)
    assert boundary_map(pred).sum() * 17 > 2 * (1 << 20)
    got = boundary_f_measure(pred, target)
    assert torch.equal(got, dense_f(pred, target))
    assert ((got > 0) & (got < 1)).all()


@pytest.mark.parametrize(("offset", "want"), [(1, 1.0), (4, 1.0), (5, 1.0), (8, 1.0), (9, 0.5), (10, 0.0)])
def test_vertical_offsets_around_the_radius(offset: int, want: float) -> None:
    """Dots ``offset`` rows apart in 480×854 frames (r = 8; the probe rows are 0 and ±4).

    A dot at row y has boundary pixels in rows y - 1 and y, so the closest boundary rows are ``offset - 1`` apart:
    all four pixels on each side match up to 8 rows, half of them at 9 (F = 0.5), none at 10.
    """
    pred = torch.zeros(1, 480, 854, dtype=torch.bool)
    target = torch.zeros_like(pred)
    pred[0, 200, 300] = True
    target[0, 200 + offset, 300] = True
    assert boundary_f_measure(pred, target).item() == want


@pytest.mark.parametrize("bound_th", [0.0, 1, 2, 5, 0.5, 40])
def test_radii_from_zero_to_beyond_the_frame(bound_th: float) -> None:
    rng = np.random.default_rng(int(bound_th * 10))
    for t, h, w in [(3, 9, 13), (2, 1, 17), (2, 17, 1), (1, 30, 30)]:
        pred = torch.from_numpy(rng.random((t, h, w)) < 0.3)
        target = torch.from_numpy(rng.random((t, h, w)) < 0.3)
        assert torch.equal(boundary_f_measure(pred, target, bound_th), dense_f(pred, target, bound_th))
