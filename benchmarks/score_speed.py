"""Scoring a ReVOS prediction folder end to end: ``evaluate score`` against the official script's per-expression loop.

    python benchmarks/score_speed.py [--videos 6 --frames 30 --height 480 --width 854 --repeats 3]

Both sides read the same files: ``meta_expressions_valid_.json``, ``mask_dict.json`` and
``mask_dict_foreground.json`` of a synthetic ReVOS root at 480×854, and one 0/255 PNG per frame and expression
(the ground truth shifted by a few pixels with a ragged edge). The reference follows the official
``eval_revos.py`` for one expression at a time: PNGs read as 8-bit grey (``cv2.imread`` when OpenCV is installed,
else Pillow), objects decoded with pycocotools and added in uint8, ``db_eval_iou``, ``db_eval_boundary`` with
``cv2.dilate`` (``jf_speed.py``'s reference) and the uint8 robustness sum. The official script spreads videos over
worker processes; the reference runs in one process here, and so does the kit unless ``--workers`` says otherwise,
so the default ratio is per core of work. Each side runs ``--repeats`` times, interleaved, and the fastest counts.

The last line is ``speedup=<reference seconds / kit seconds> max_abs_diff=<largest |kit - reference|>`` over every
expression's rounded J, F and R (percent).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from jf_speed import cv2, reference_f, reference_j
from PIL import Image
from pycocotools import mask as cocomask

from omni_r1.data.synthetic import build_revos, expression_target, write_revos
from omni_r1.evaluate.vos import score_revos


def write_predictions(root: Path, out: Path, videos: int, frames: int, height: int, width: int) -> None:
    """One PNG per frame of every valid expression: its ground truth shifted, with a ragged edge."""
    rng = np.random.default_rng(0)
    data = build_revos(num_videos=videos, num_frames=frames, height=height, width=width, seed=0)
    for video, info in data.meta["valid"]["videos"].items():
        for exp_id in info["expressions"]:
            pred = np.roll(expression_target(data, "valid", video, exp_id), shift=(3, -5), axis=(1, 2))
            pred ^= (pred ^ np.roll(pred, 1, axis=2)) & (rng.random(pred.shape) < 0.3)
            folder = out / video / exp_id
            folder.mkdir(parents=True, exist_ok=True)
            for name, mask in zip(info["frames"], pred):
                Image.fromarray(mask.astype(np.uint8) * 255).save(folder / f"{name}.png")


def read_grey(path: Path) -> np.ndarray:
    if cv2 is not None:
        return cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
    return np.asarray(Image.open(path).convert("L"))


def reference(root: Path, predictions: Path) -> dict[str, tuple[float, float, float]]:
    """``(J, F, R)`` in rounded percent per expression, one expression at a time as the official loop."""
    meta = json.loads((root / "meta_expressions_valid_.json").read_text())["videos"]
    mask_dict = json.loads((root / "mask_dict.json").read_text())
    foreground = json.loads((root / "mask_dict_foreground.json").read_text())
    scores = {}
    for video, info in meta.items():
        for exp_id, expression in info["expressions"].items():
            folder = predictions / video / exp_id
            pred = np.stack([read_grey(folder / f"{frame}.png") for frame in info["frames"]])
            gt = np.zeros_like(pred)
            fg = np.zeros_like(pred)
            for i in range(len(info["frames"])):
                for anno in expression["anno_id"]:
                    rle = mask_dict[str(anno)][i]
                    if rle:
                        gt[i] += cocomask.decode(rle)
                fg[i] = cocomask.decode(foreground[video]["masks_rle"][i])
            j = np.array([reference_j(g, p) for g, p in zip(gt, pred)]).mean()
            f = np.array([reference_f(p, g) for g, p in zip(gt, pred)]).mean()
            r = np.array([max(1 - ((1 - g) * p).sum() / (q.sum() + 1e-6), 0.0) for g, p, q in zip(gt, pred, fg)])
            scores[f"{video}/{exp_id}"] = tuple(float(np.round(100 * v, 2)) for v in (j, f, r.mean()))
    return scores


def kit(root: Path, predictions: Path, workers: int = 1) -> dict[str, tuple[float, float, float]]:
    _, rows = score_revos(root, "valid", predictions, workers=workers)
    return {f"{row['video']}/{row['exp_id']}": (row["J"], row["F"], row["R"]) for row in rows}


def main(argv: list[str] | None = None) -> float:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--videos", type=int, default=6, help="synthetic videos (every second one is in valid)")
    parser.add_argument("--frames", type=int, default=30)
    parser.add_argument("--height", type=int, default=480)
    parser.add_argument("--width", type=int, default=854)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--workers", type=int, default=1, help="evaluate score's worker processes")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory() as tmp:
        root, predictions = Path(tmp) / "revos", Path(tmp) / "pred"
        write_revos(root, num_videos=args.videos, num_frames=args.frames, height=args.height, width=args.width)
        write_predictions(root, predictions, args.videos, args.frames, args.height, args.width)
        ours, theirs = kit(root, predictions, args.workers), reference(root, predictions)
        diff = max(abs(a - b) for key in theirs for a, b in zip(ours[key], theirs[key]))
        backend = f"cv2 {cv2.__version__}" if cv2 is not None else "Pillow + scipy (no OpenCV)"
        print(f"reference reads and dilates with {backend}")
        print(
            f"expressions={len(theirs)} frames={args.frames} size={args.height}x{args.width} "
            f"torch_threads={torch.get_num_threads()}"
        )
        ref_s = kit_s = float("inf")
        for _ in range(args.repeats):  # interleaved, so both sides see the same background load
            start = time.perf_counter()
            reference(root, predictions)
            ref_s = min(ref_s, time.perf_counter() - start)
            start = time.perf_counter()
            kit(root, predictions, args.workers)
            kit_s = min(kit_s, time.perf_counter() - start)
    print(f"reference {ref_s:.3f} s   kit (evaluate score, {args.workers} worker(s)) {kit_s:.3f} s")
    speedup = ref_s / kit_s
    print(f"speedup={speedup:.2f} max_abs_diff={diff:.3g}")
    return speedup


if __name__ == "__main__":
    main()
