"""DAVIS J / F against an independent numpy + scipy implementation of the official definitions, and edge cases."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.ndimage import binary_dilation

from omni_r1.metrics.functional import (
    boundary_f_measure,
    boundary_map,
    boundary_radius,
    disk_dilation,
    j_and_f,
    region_similarity,
)

# ---------------------------------------------------------------- numpy reference (no torch) ---------------------


def ref_j(pred: np.ndarray, target: np.ndarray) -> np.ndarray:
    """``db_eval_iou``: |P∩G| / |P∪G| per frame, 1 where the union is empty."""
    pred, target = pred.astype(bool), target.astype(bool)
    inter = np.sum(pred & target, axis=(-2, -1))
    union = np.sum(pred | target, axis=(-2, -1))
    with np.errstate(invalid="ignore"):
        j = inter / union
    j[union == 0] = 1
    return j


def ref_seg2bmap(seg: np.ndarray) -> np.ndarray:
    """``_seg2bmap`` at the mask's own size: XOR with east / south / south-east, zero beyond the image."""
    seg = seg.astype(bool)
    e, s, se = np.zeros_like(seg), np.zeros_like(seg), np.zeros_like(seg)
    e[:, :-1] = seg[:, 1:]
    s[:-1, :] = seg[1:, :]
    se[:-1, :-1] = seg[1:, 1:]
    b = (seg ^ e) | (seg ^ s) | (seg ^ se)
    b[-1, :] = seg[-1, :] ^ e[-1, :]
    b[:, -1] = seg[:, -1] ^ s[:, -1]
    b[-1, -1] = False
    return b


def ref_disk(radius: float) -> np.ndarray:
    """skimage ``disk``: {(dx, dy) : dx² + dy² <= r²} on the grid -r..r."""
    grid = np.arange(-radius, radius + 1)
    x, y = np.meshgrid(grid, grid)
    return (x**2 + y**2) <= radius**2


def ref_f_frame(pred: np.ndarray, target: np.ndarray, bound_th: float) -> float:
    """``f_measure`` for one frame, with scipy's zero-padded binary dilation in place of cv2.dilate."""
    radius = bound_th if bound_th >= 1 else np.ceil(bound_th * np.linalg.norm(pred.shape))
    pred_b, target_b = ref_seg2bmap(pred), ref_seg2bmap(target)
    disk = ref_disk(radius)
    pred_dil = binary_dilation(pred_b, structure=disk, border_value=0)
    target_dil = binary_dilation(target_b, structure=disk, border_value=0)
    n_pred, n_target = np.sum(pred_b), np.sum(target_b)
    if n_pred == 0 and n_target > 0:
        precision, recall = 1, 0
    elif n_pred > 0 and n_target == 0:
        precision, recall = 0, 1
    elif n_pred == 0 and n_target == 0:
        precision, recall = 1, 1
    else:
        precision = np.sum(pred_b & target_dil) / float(n_pred)
        recall = np.sum(target_b & pred_dil) / float(n_target)
    if precision + recall == 0:
        return 0.0
    return 2 * precision * recall / (precision + recall)


def ref_f(pred: np.ndarray, target: np.ndarray, bound_th: float = 0.008) -> np.ndarray:
    return np.array([ref_f_frame(p, t, bound_th) for p, t in zip(pred, target)], dtype=np.float64)


# ---------------------------------------------------------------- random masks -----------------------------------


def random_blobs(rng: np.random.Generator, t: int, h: int, w: int) -> np.ndarray:
    """Unions of random ellipses and rectangles, some of them cut by the image border."""
    yy, xx = np.mgrid[:h, :w]
    masks = np.zeros((t, h, w), dtype=bool)
    for i in range(t):
        for _ in range(rng.integers(0, 4)):
            cy, cx = rng.uniform(-0.2 * h, 1.2 * h), rng.uniform(-0.2 * w, 1.2 * w)
            ry, rx = rng.uniform(0.3, max(h, 2) / 1.5), rng.uniform(0.3, max(w, 2) / 1.5)
            if rng.random() < 0.5:
                masks[i] |= ((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2 <= 1
            else:
                masks[i] |= (np.abs(yy - cy) <= ry) & (np.abs(xx - cx) <= rx)
    return masks


def random_noise(rng: np.random.Generator, t: int, h: int, w: int) -> np.ndarray:
    density = rng.choice([0.0, 0.02, 0.1, 0.5, 0.9, 1.0])
    return rng.random((t, h, w)) < density


def random_pair(rng: np.random.Generator, t: int, h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
    """A target and a prediction that is independent, noisy, shifted or identical, so F spans (0, 1)."""
    target = random_blobs(rng, t, h, w) if rng.random() < 0.75 else random_noise(rng, t, h, w)
    kind = rng.integers(0, 4)
    if kind == 0:
        pred = random_blobs(rng, t, h, w) if rng.random() < 0.75 else random_noise(rng, t, h, w)
    elif kind == 1:
        pred = target ^ (rng.random(target.shape) < rng.choice([0.01, 0.05, 0.2]))
    elif kind == 2:
        pred = np.roll(target, shift=(int(rng.integers(-3, 4)), int(rng.integers(-3, 4))), axis=(1, 2))
    else:
        pred = target.copy()
    return pred, target


# ---------------------------------------------------------------- equality with the reference --------------------


def test_random_masks_equal_reference() -> None:
    """1000 random batches of 1-4 frames up to 40×40, radii from 0 to beyond the frame, compared bit for bit."""
    rng = np.random.default_rng(0)
    f_values = []
    for _ in range(1000):
        t, h, w = int(rng.integers(1, 5)), int(rng.integers(1, 41)), int(rng.integers(1, 41))
        bound_th = float(rng.choice([0.008, 0.008, 0.0, 0.05, 0.1, 0.3, 1, 2, 3, 5]))
        pred, target = random_pair(rng, t, h, w)
        j = region_similarity(torch.from_numpy(pred), torch.from_numpy(target))
        f = boundary_f_measure(torch.from_numpy(pred), torch.from_numpy(target), bound_th)
        assert j.dtype == f.dtype == torch.float64
        assert torch.equal(j, torch.from_numpy(ref_j(pred, target))), (t, h, w)
        assert torch.equal(f, torch.from_numpy(ref_f(pred, target, bound_th))), (t, h, w, bound_th)
        f_values.append(f)
    f_all = torch.cat(f_values)
    # The comparison is only meaningful if partial matches, perfect matches and misses all occur.
    assert ((f_all > 0) & (f_all < 1)).sum() > 700
    assert (f_all == 1).sum() > 200 and (f_all == 0).sum() > 70


def test_full_resolution_frames_equal_reference() -> None:
    """480×854 (r = 8) and its transpose, blobs with perturbed predictions."""
    rng = np.random.default_rng(1)
    for h, w in [(480, 854), (854, 480)]:
        target = random_blobs(rng, 2, h, w)
        target[0, 100:300, 200:400] = True
        target[1, 150:250, 50:300] = True
        pred = np.stack([np.roll(target[0], (5, -9), axis=(0, 1)), target[1] ^ (rng.random((h, w)) < 0.001)])
        f = boundary_f_measure(torch.from_numpy(pred), torch.from_numpy(target))
        assert torch.equal(f, torch.from_numpy(ref_f(pred, target)))
        assert torch.equal(
            region_similarity(torch.from_numpy(pred), torch.from_numpy(target)), torch.from_numpy(ref_j(pred, target))
        )
        assert ((f > 0) & (f < 1)).all()


@pytest.mark.parametrize("radius", [0, 1, 2, 3, 8, 13, 50, 70])
def test_disk_dilation_equals_scipy(radius: int) -> None:
    rng = np.random.default_rng(radius)
    masks = rng.random((3, 23, 31)) < 0.03
    masks[1] = False
    masks[2, 0, 0] = masks[2, -1, -1] = True
    got = disk_dilation(torch.from_numpy(masks), radius)
    want = np.stack([binary_dilation(m, structure=ref_disk(radius), border_value=0) for m in masks])
    assert got.dtype == torch.bool
    assert torch.equal(got, torch.from_numpy(want))


def test_boundary_map_equals_reference() -> None:
    rng = np.random.default_rng(2)
    for h, w in [(1, 1), (1, 7), (7, 1), (2, 2), (9, 13)]:
        masks = rng.random((4, h, w)) < 0.5
        want = np.stack([ref_seg2bmap(m) for m in masks])
        assert torch.equal(boundary_map(torch.from_numpy(masks)), torch.from_numpy(want))


# ---------------------------------------------------------------- hand-computed cases ----------------------------


def test_radius() -> None:
    assert boundary_radius(480, 854) == 8
    assert boundary_radius(1, 1) == 1  # ceil(0.008·√2)
    assert boundary_radius(1080, 1920) == 18  # ceil(17.62)
    assert boundary_radius(480, 854, bound_th=0.0) == 0
    assert boundary_radius(480, 854, bound_th=3) == 3
    assert boundary_radius(480, 854, bound_th=3.0) == 3


def test_both_empty_scores_one() -> None:
    empty = torch.zeros(2, 6, 7, dtype=torch.bool)
    assert torch.equal(region_similarity(empty, empty), torch.ones(2, dtype=torch.float64))
    assert torch.equal(boundary_f_measure(empty, empty), torch.ones(2, dtype=torch.float64))


def test_full_frames() -> None:
    """A full frame has no boundary (the image border is not one), so F = 1 even against an empty prediction."""
    full, empty = torch.ones(1, 5, 8, dtype=torch.bool), torch.zeros(1, 5, 8, dtype=torch.bool)
    assert not boundary_map(full).any()
    assert region_similarity(full, full).item() == 1.0
    assert boundary_f_measure(full, full).item() == 1.0
    assert region_similarity(empty, full).item() == 0.0
    assert boundary_f_measure(empty, full).item() == 1.0


def test_one_side_empty_boundary_scores_zero() -> None:
    target = torch.zeros(1, 10, 10, dtype=torch.bool)
    target[0, 3:6, 3:6] = True
    empty = torch.zeros_like(target)
    assert boundary_f_measure(empty, target).item() == 0.0
    assert boundary_f_measure(target, empty).item() == 0.0
    assert region_similarity(empty, target).item() == 0.0


def test_single_pixel_masks() -> None:
    """10×10 → r = 1 (a plus-shaped disk). A pixel at (2, x) has boundary pixels at columns x-1 and x in rows 1-2."""

    def dot(x: int) -> torch.Tensor:
        m = torch.zeros(10, 10, dtype=torch.bool)
        m[2, x] = True
        return m

    assert boundary_map(dot(2).unsqueeze(0))[0].nonzero().tolist() == [[1, 1], [1, 2], [2, 1], [2, 2]]
    assert boundary_f_measure(dot(2), dot(2)).item() == 1.0
    # Columns {1, 2} vs {3, 4}: only column 2 and column 3 are within one pixel of the other side → P = R = 1/2.
    assert boundary_f_measure(dot(2), dot(4)).item() == 0.5
    assert region_similarity(dot(2), dot(4)).item() == 0.0
    # Columns {1, 2} vs {4, 5}: two pixels apart → P = R = 0.
    assert boundary_f_measure(dot(2), dot(5)).item() == 0.0


def test_one_by_one_images() -> None:
    one, zero = torch.ones(1, 1), torch.zeros(1, 1)
    assert region_similarity(one, zero).tolist() == [0.0]
    assert region_similarity(one, one).tolist() == [1.0]
    assert region_similarity(zero, zero).tolist() == [1.0]
    # A single pixel is the bottom-right corner, never a boundary: F is always 1.
    assert boundary_f_measure(one, zero).tolist() == [1.0]


def test_one_row_and_one_column_images() -> None:
    """pred = cols 1-3, target = cols 3-6 of a 1×12 row: boundaries {0, 3} and {2, 6}, r = 1.

    P = |{3}| / 2, R = |{2}| / 2 → F = 0.5; J = 1 / 6. The 12×1 column is the same case rotated.
    """
    pred, target = torch.zeros(1, 12, dtype=torch.bool), torch.zeros(1, 12, dtype=torch.bool)
    pred[0, 1:4] = True
    target[0, 3:7] = True
    assert boundary_map(pred.unsqueeze(0))[0, 0].nonzero().flatten().tolist() == [0, 3]
    assert boundary_map(target.unsqueeze(0))[0, 0].nonzero().flatten().tolist() == [2, 6]
    for p, t in [(pred, target), (pred.T, target.T)]:
        assert boundary_f_measure(p, t).tolist() == [0.5]
        assert region_similarity(p, t).tolist() == [1 / 6]


def test_non_bool_inputs_match_bool() -> None:
    rng = np.random.default_rng(3)
    target = random_blobs(rng, 3, 17, 19)
    target[:, 4:12, 5:15] = True
    pred = target ^ (rng.random(target.shape) < 0.1)
    pred_t, target_t = torch.from_numpy(pred), torch.from_numpy(target)
    want_j, want_f = region_similarity(pred_t, target_t), boundary_f_measure(pred_t, target_t)
    assert ((want_f > 0) & (want_f < 1)).any()
    variants = [
        (pred_t.to(torch.uint8) * 255, target_t.to(torch.uint8) * 255),
        (pred_t.float() * 0.7, target_t.double() * 0.2),
        (pred_t.long() * -3, target_t.to(torch.int32)),
    ]
    for p, t in variants:
        assert torch.equal(region_similarity(p, t), want_j)
        assert torch.equal(boundary_f_measure(p, t), want_f)


def test_two_dim_input_gives_one_frame() -> None:
    pred, target = torch.zeros(6, 6), torch.zeros(6, 6)
    pred[1:3, 1:4] = 1
    target[1:4, 1:4] = 1
    j, f = region_similarity(pred, target), boundary_f_measure(pred, target)
    assert j.shape == f.shape == (1,)
    assert j.item() == 6 / 9
    assert torch.equal(f, boundary_f_measure(pred[None], target[None]))


def test_j_and_f_is_numpy_frame_mean() -> None:
    """The sequence score is ``ndarray.mean()`` of the frame scores, bit for bit, as in the official scripts."""
    rng = np.random.default_rng(4)
    for t in [1, 3, 9, 17, 40]:
        pred, target = random_pair(rng, t, 12, 15)
        j, f, jf = j_and_f(torch.from_numpy(pred), torch.from_numpy(target), bound_th=2)
        assert j.item() == ref_j(pred, target).mean()
        assert f.item() == ref_f(pred, target, 2).mean()
        assert jf.item() == (j.item() + f.item()) / 2
        assert j.dtype == f.dtype == jf.dtype == torch.float64 and j.ndim == 0


@pytest.mark.parametrize(
    ("pred", "target", "match"),
    [
        (torch.zeros(2, 4, 4), torch.zeros(2, 4, 5), "does not match"),
        (torch.zeros(1, 2, 4, 4), torch.zeros(1, 2, 4, 4), r"\(T, H, W\)"),
        (torch.zeros(4), torch.zeros(4), r"\(T, H, W\)"),
        (torch.zeros(2, 0, 4), torch.zeros(2, 0, 4), "at least one pixel"),
    ],
)
def test_bad_shapes_raise(pred: torch.Tensor, target: torch.Tensor, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        region_similarity(pred, target)
    with pytest.raises(ValueError, match=match):
        boundary_f_measure(pred, target)


def test_bad_arguments_raise() -> None:
    masks = torch.zeros(1, 4, 4)
    with pytest.raises(ValueError, match="whole number"):
        boundary_f_measure(masks, masks, bound_th=1.5)
    with pytest.raises(ValueError, match=">= 0"):
        boundary_f_measure(masks, masks, bound_th=-0.1)
    with pytest.raises(ValueError, match="at least one frame"):
        j_and_f(torch.zeros(0, 4, 4), torch.zeros(0, 4, 4))
    with pytest.raises(ValueError, match="bool masks"):
        disk_dilation(torch.zeros(1, 4, 4), 2)
    with pytest.raises(TypeError, match="torch.Tensor"):
        region_similarity(np.zeros((1, 4, 4)), masks)  # type: ignore[arg-type]


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_equals_cpu() -> None:
    rng = np.random.default_rng(5)
    for h, w in [(37, 23), (480, 854)]:
        pred, target = (torch.from_numpy(a) for a in random_pair(rng, 3, h, w))
        j = region_similarity(pred.cuda(), target.cuda())
        f = boundary_f_measure(pred.cuda(), target.cuda())
        assert j.device.type == f.device.type == "cuda"
        assert torch.equal(j.cpu(), region_similarity(pred, target))
        assert torch.equal(f.cpu(), boundary_f_measure(pred, target))
        assert all(v.device.type == "cuda" for v in j_and_f(pred.cuda(), target.cuda()))
