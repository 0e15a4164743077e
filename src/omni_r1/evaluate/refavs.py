"""Scoring a RefAVS prediction folder as the official Ref-AVS test loop does.

Prediction layout: ``<predictions>/<video>/<uid>/<i>.png`` for the 10 frames ``i = 0..9`` of each csv row, where
``<video>`` is the row's media folder (``uid.rsplit('_', 2)[0]``, or the ``vid`` column for null-split rows, as
the dataset reader resolves it) and ``<uid>`` the row's ``uid``: several rows can refer to the same object, so
predictions are kept per row, not per ``fid``. A PNG's grey value divided by 255 is the foreground probability
(a 0/255 mask gives probabilities 0 and 1); masks are 256×256, the official evaluation size, or the frame's
original size, which is resized bilinearly to 256×256 as probabilities.

A row without its 10 PNGs is scored as an all-background prediction on the seen / unseen splits (J = 0 on its
frames that show the object) and as an all-foreground one on the null split (the worst S), so leaving
predictions out never raises a score. The official loop has no notion of a missing prediction.
"""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from omni_r1.data import refavs
from omni_r1.data.layout import DatasetFormatError, require_paths
from omni_r1.evaluate.masks import read_grey_png, read_sequence
from omni_r1.metrics.functional.refavs import (
    EVAL_SIZE,
    refavs_aggregate,
    refavs_batch_fmeasure,
    refavs_batches,
    refavs_frame_iou,
    refavs_null_aggregate,
    refavs_null_s,
    refavs_resize,
    refavs_target,
)

NULL_SPLIT = "test_n"


def _ground_truth(root: Path, folder: str, row: dict[str, str]) -> Tensor:
    """``(10, H, W)`` uint8 grey values of a row's ground-truth PNGs, at their original size."""
    mask_dir = root / "gt_mask" / folder / f"fid_{row['fid']}"
    paths = [mask_dir / f"{t:05d}.png" for t in range(refavs.NUM_FRAMES)]
    require_paths("RefAVS", root, paths, refavs.LAYOUT)
    masks = [read_grey_png(path) for path in paths]
    for path, mask in zip(paths, masks):
        if mask.shape != masks[0].shape:
            raise DatasetFormatError(
                path, f"mask size {tuple(mask.shape)} differs from frame 0's {tuple(masks[0].shape)}"
            )
    return torch.stack(masks)


def _probabilities(folder: Path, frame_size: tuple[int, int], fill: float) -> tuple[Tensor, bool]:
    """``(10, 256, 256)`` float32 probabilities of a row's prediction PNGs, and whether they were missing."""
    values = read_sequence(folder, [str(t) for t in range(refavs.NUM_FRAMES)])
    if values is None:
        return torch.full((refavs.NUM_FRAMES, EVAL_SIZE, EVAL_SIZE), fill, dtype=torch.float32), True
    probs = values.float() / 255
    size = tuple(probs.shape[-2:])
    if size == (EVAL_SIZE, EVAL_SIZE):
        return probs, False
    if size == frame_size:
        return refavs_resize(probs).float(), False
    raise DatasetFormatError(
        folder / "0.png", f"prediction size {size} is neither {EVAL_SIZE}x{EVAL_SIZE} nor the frame size {frame_size}"
    )


def score_refavs(
    root: str | Path, split: str, predictions: str | Path, exclude: Collection[tuple[str, str]] = ()
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Score ``predictions`` against the csv rows of RefAVS ``split``.

    Args:
        root: RefAVS root in the official layout.
        split: csv split (``test_s`` seen, ``test_u`` unseen, ``test_n`` null, or ``val``).
        predictions: folder holding ``<video>/<uid>/<i>.png``.
        exclude: ``(video folder, uid)`` of rows left out (their ground truth is broken); the official batches are
            then formed over the remaining rows.

    Returns:
        The summary (``{"J", "F", "JF"}`` in percent, or ``{"S"}`` as a fraction for the null split) and one row
        per csv row (``video, uid, fid, exp, batch``, then ``J`` and ``F`` in percent, ``F`` empty when the row's
        ground truth is empty, or ``S``; and ``missing``).
    """
    root, predictions = Path(root), Path(predictions)
    rows = [r for r in refavs.read_metadata(root, split) if (refavs.video_folder(root, r), r["uid"]) not in exclude]
    null = split == NULL_SPLIT
    batch_j: list[Tensor] = []
    batch_f: list[float] = []
    batch_s: list[Tensor] = []
    table: list[dict[str, Any]] = []
    for b, batch in enumerate(refavs_batches(len(rows))):
        probs, targets = [], []
        for i in batch:
            row = rows[i]
            folder = refavs.video_folder(root, row)
            truth = _ground_truth(root, folder, row)
            target = refavs_target(truth)
            prob, missing = _probabilities(predictions / folder / row["uid"], tuple(truth.shape[-2:]), float(null))
            probs.append(prob)
            targets.append(target)
            entry: dict[str, Any] = {
                "video": folder,
                "uid": row["uid"],
                "fid": row["fid"],
                "exp": row["exp"],
                "batch": b,
            }
            if null:
                entry["S"] = refavs_null_s(prob).item()
            else:
                entry["J"] = 100 * refavs_frame_iou(prob, target).double().mean().item()
                entry["F"] = 100 * refavs_batch_fmeasure(prob, target) if target.any() else None
            table.append({**entry, "missing": missing})
        batch_probs, batch_target = torch.cat(probs), torch.cat(targets)  # (N, 256, 256), N = 10 × rows
        if null:
            batch_s.append(refavs_null_s(batch_probs))
        else:
            frames = refavs_frame_iou(batch_probs, batch_target)
            batch_j.append(frames.sum() / frames.numel())
            batch_f.append(refavs_batch_fmeasure(batch_probs, batch_target))
    summary = refavs_null_aggregate(batch_s) if null else refavs_aggregate(batch_j, batch_f)
    return summary, table
