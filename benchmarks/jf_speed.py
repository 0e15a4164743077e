"""DAVIS J and F speed: the kit's torch implementation against a DAVIS-style numpy reference, in one run.

    python benchmarks/jf_speed.py [--frames 30 --height 480 --width 854 --repeats 5]

The reference follows the official ``davis2017-evaluation`` code frame by frame (``db_eval_iou``, ``_seg2bmap``,
dilation of both boundary maps by a disk, ``f_measure``). It dilates with ``cv2.dilate`` as the official code does
when OpenCV is installed (``pip install omni_r1[bench]``); otherwise with ``scipy.ndimage.binary_dilation`` and the
same disk, which gives identical masks but is slower than OpenCV. The first output line names the backend.
Masks are moving ellipses at 480×854 (the DAVIS / ReVOS size, r = 8) and a prediction that is
shifted and has a ragged edge, read as 0/255 uint8 like PNG files. Each side is timed ``--repeats`` times,
interleaved, and the fastest run counts (the least disturbed by other load on the machine).

The last line is ``speedup=<reference seconds / kit seconds on CPU> max_abs_diff=<largest |kit - reference|>``
over every per-frame J and F value. With a CUDA device a ``cuda_speedup=...`` line comes just before it.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import numpy as np
import torch
from scipy.ndimage import binary_dilation

try:  # the official code's dilation
    import cv2
except ImportError:  # pragma: no cover - optional
    cv2 = None

from omni_r1.metrics.functional import region_and_boundary

# ---------------------------------------------------------------- DAVIS-style reference (numpy + scipy) ------


def reference_j(target: np.ndarray, pred: np.ndarray) -> float:
    """``db_eval_iou`` on one frame."""
    target, pred = target.astype(bool), pred.astype(bool)
    union = np.sum(target | pred)
    return 1.0 if union == 0 else float(np.sum(target & pred) / union)


def reference_seg2bmap(seg: np.ndarray) -> np.ndarray:
    """``_seg2bmap`` at the mask's own size."""
    seg = seg.astype(bool)
    east, south, south_east = np.zeros_like(seg), np.zeros_like(seg), np.zeros_like(seg)
    east[:, :-1] = seg[:, 1:]
    south[:-1, :] = seg[1:, :]
    south_east[:-1, :-1] = seg[1:, 1:]
    bmap = seg ^ east | seg ^ south | seg ^ south_east
    bmap[-1, :] = seg[-1, :] ^ east[-1, :]
    bmap[:, -1] = seg[:, -1] ^ south[:, -1]
    bmap[-1, -1] = 0
    return bmap


def reference_disk(radius: int) -> np.ndarray:
    """``skimage.morphology.disk``: the pixels with dx² + dy² <= r²."""
    grid = np.arange(-radius, radius + 1)
    x, y = np.meshgrid(grid, grid)
    return (x**2 + y**2) <= radius**2


def reference_dilate(mask: np.ndarray, disk: np.ndarray) -> np.ndarray:
    """``cv2.dilate`` with the disk (official), or scipy's binary dilation when OpenCV is missing."""
    if cv2 is not None:
        return cv2.dilate(mask.astype(np.uint8), disk.astype(np.uint8)).astype(bool)
    return binary_dilation(mask, structure=disk)


def reference_f(pred: np.ndarray, target: np.ndarray, bound_th: float = 0.008) -> float:
    """``f_measure`` on one frame."""
    radius = int(np.ceil(bound_th * np.linalg.norm(pred.shape)))
    pred_b, target_b = reference_seg2bmap(pred), reference_seg2bmap(target)
    disk = reference_disk(radius)
    pred_dil = reference_dilate(pred_b, disk)
    target_dil = reference_dilate(target_b, disk)
    n_pred, n_target = np.sum(pred_b), np.sum(target_b)
    if n_pred == 0 and n_target > 0:
        precision, recall = 1.0, 0.0
    elif n_pred > 0 and n_target == 0:
        precision, recall = 0.0, 1.0
    elif n_pred == 0 and n_target == 0:
        precision, recall = 1.0, 1.0
    else:
        precision = np.sum(pred_b & target_dil) / float(n_pred)
        recall = np.sum(target_b & pred_dil) / float(n_target)
    if precision + recall == 0:
        return 0.0
    return 2 * precision * recall / (precision + recall)


def reference(pred: np.ndarray, target: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-frame J and F of a ``(T, H, W)`` sequence, one frame at a time as the official script loops."""
    j = np.array([reference_j(t, p) for p, t in zip(pred, target)])
    f = np.array([reference_f(p, t) for p, t in zip(pred, target)])
    return j, f


# ---------------------------------------------------------------- data and timing -----------------------------


def make_masks(frames: int, height: int, width: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Two moving ellipses per frame, and a prediction shifted by a few pixels with a ragged edge (0/255 uint8)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:height, :width]
    target = np.zeros((frames, height, width), dtype=bool)
    centres = rng.uniform(0.2, 0.8, size=(2, 2)) * (height, width)
    radii = rng.uniform(0.08, 0.25, size=(2, 2)) * (height, width)
    velocity = rng.uniform(-4, 4, size=(2, 2))
    for t in range(frames):
        for (cy, cx), (ry, rx), (vy, vx) in zip(centres, radii, velocity):
            target[t] |= ((yy - cy - t * vy) / ry) ** 2 + ((xx - cx - t * vx) / rx) ** 2 <= 1
    pred = np.roll(target, shift=(3, -5), axis=(1, 2))
    edge = pred ^ np.roll(pred, 1, axis=2)
    pred ^= edge & (rng.random(pred.shape) < 0.3)
    return pred.astype(np.uint8) * 255, target.astype(np.uint8) * 255


def fastest(fn: Callable[[], object], repeats: int, sync: Callable[[], None] = lambda: None) -> float:
    best = float("inf")
    for _ in range(repeats):
        sync()
        start = time.perf_counter()
        fn()
        sync()
        best = min(best, time.perf_counter() - start)
    return best


def kit(pred: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-frame J and F from one packing of the masks, as ``JAndF`` and ``evaluate score`` compute them."""
    return region_and_boundary(pred, target)


def main(argv: list[str] | None = None) -> float:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=30)
    parser.add_argument("--height", type=int, default=480)
    parser.add_argument("--width", type=int, default=854)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    args = parser.parse_args(argv)
    if args.threads is not None:
        torch.set_num_threads(args.threads)  # the reference runs on one core; --threads 1 compares per core

    pred_np, target_np = make_masks(args.frames, args.height, args.width, args.seed)
    pred, target = torch.from_numpy(pred_np), torch.from_numpy(target_np)
    ref_j, ref_f = reference(pred_np, target_np)
    j, f = kit(pred, target)
    diff = max(np.abs(j.numpy() - ref_j).max(), np.abs(f.numpy() - ref_f).max())
    backend = f"numpy + cv2 {cv2.__version__} (official)" if cv2 is not None else "numpy + scipy.ndimage"
    print(f"reference backend: {backend}")
    print(f"frames={args.frames} size={args.height}x{args.width} torch_threads={torch.get_num_threads()}")
    partial = int(np.sum((ref_f > 0) & (ref_f < 1)))
    print(f"mean J={ref_j.mean():.4f} F={ref_f.mean():.4f} (0 < F < 1 on {partial} of {args.frames} frames)")

    ref_s = cpu_s = float("inf")
    for _ in range(args.repeats):  # interleaved, so both sides see the same background load
        ref_s = min(ref_s, fastest(lambda: reference(pred_np, target_np), 1))
        cpu_s = min(cpu_s, fastest(lambda: kit(pred, target), 1))
    print(f"reference ({backend}) {ref_s:.4f} s   kit (torch, CPU) {cpu_s:.4f} s")

    if torch.cuda.is_available():
        pred_cuda, target_cuda = pred.cuda(), target.cuda()
        j_cuda, f_cuda = kit(pred_cuda, target_cuda)
        diff = max(diff, (j_cuda.cpu() - j).abs().max().item(), (f_cuda.cpu() - f).abs().max().item())
        cuda_s = fastest(lambda: kit(pred_cuda, target_cuda), args.repeats, torch.cuda.synchronize)
        print(f"kit (torch, {torch.cuda.get_device_name()}) {cuda_s:.4f} s")
        print(f"cuda_speedup={ref_s / cuda_s:.2f}")
    speedup = ref_s / cpu_s
    print(f"speedup={speedup:.2f} max_abs_diff={diff:.3g}")
    return speedup


if __name__ == "__main__":
    main()
