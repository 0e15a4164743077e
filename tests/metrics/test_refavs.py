"""RefAVS J, F-beta and null S against a loop transcription of the official code and hand-computed values."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from omni_r1.metrics import RefAVSNullScore, RefAVSScore
from omni_r1.metrics.functional import (
    refavs_aggregate,
    refavs_batch_fmeasure,
    refavs_batch_iou,
    refavs_batches,
    refavs_fmeasure_curves,
    refavs_frame_iou,
    refavs_null_aggregate,
    refavs_null_s,
    refavs_target,
)

# ------------------------------------------------ the official utilities, written out as loops on logits ------


def official_mask_iou(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    n, num_pixels = logits.shape[0], logits.shape[-1] * logits.shape[-2]
    no_obj = target.sum(2).sum(1) == 0
    pred = (torch.sigmoid(logits) > 0.4).int()
    inter = (pred * target).sum(2).sum(1)
    union = torch.max(pred, target).sum(2).sum(1)
    inter_no_obj = ((1 - target) * (1 - pred)).sum(2).sum(1)
    inter[no_obj] = inter_no_obj[no_obj]
    union[no_obj] = num_pixels
    return torch.sum(inter / (union + 1e-7)) / n


def official_fmeasure(logits: torch.Tensor, gt: torch.Tensor, pr_num: int = 255) -> float:
    pred = torch.sigmoid(logits)
    avg_f, img_num, score = 0.0, 0, torch.zeros(pr_num)
    for i in range(pred.shape[0]):
        if torch.mean(gt[i]) == 0.0:
            continue
        prec, recall = torch.zeros(pr_num), torch.zeros(pr_num)
        thresholds = torch.linspace(0, 1 - 1e-10, pr_num)
        for k in range(pr_num):
            y_temp = (pred[i] >= thresholds[k]).float()
            tp = (y_temp * gt[i]).sum()
            prec[k], recall[k] = tp / (y_temp.sum() + 1e-20), tp / (gt[i].sum() + 1e-20)
        f_score = (1 + 0.3) * prec * recall / (0.3 * prec + recall)
        f_score[f_score != f_score] = 0
        avg_f += f_score
        img_num += 1
        score = avg_f / img_num
    return score.max().item()


def official_null_s(logits: torch.Tensor) -> torch.Tensor:
    pred = (torch.sigmoid(logits) > 0.5).int()
    return torch.sqrt(torch.sum(pred.view(-1)) / pred.view(-1).shape[0])


def random_batch(rng: np.random.Generator, n: int, size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Logits of blobs near the target (some frames with empty ground truth, some confident, some not)."""
    yy, xx = np.mgrid[:size, :size]
    target = np.zeros((n, size, size), dtype=np.float32)
    logits = np.zeros((n, size, size), dtype=np.float32)
    for i in range(n):
        cy, cx, r = rng.uniform(0, size), rng.uniform(0, size), rng.uniform(2, size / 2)
        if rng.random() < 0.8:
            target[i] = ((yy - cy) ** 2 + (xx - cx) ** 2 <= r**2).astype(np.float32)
        dist = np.sqrt((yy - cy - rng.normal(0, 2)) ** 2 + (xx - cx - rng.normal(0, 2)) ** 2)
        logits[i] = (r - dist) * rng.uniform(0.1, 3) + rng.normal(0, 1, (size, size))
    return torch.from_numpy(logits), torch.from_numpy(target)


# ------------------------------------------------ equality with the transcription -----------------------------


def test_batches_equal_official_code() -> None:
    rng = np.random.default_rng(0)
    for n in (1, 3, 20):
        logits, target = random_batch(rng, n, 32)
        probs = torch.sigmoid(logits)
        assert torch.equal(refavs_batch_iou(probs, target), official_mask_iou(logits, target))
        assert refavs_batch_fmeasure(probs, target) == official_fmeasure(logits, target)
        assert torch.equal(refavs_null_s(probs), official_null_s(logits))
    # Binary 0/1 probabilities, as decoded from 0/255 PNGs, hit the thresholds' edges exactly.
    masks = (torch.from_numpy(rng.random((4, 16, 16))) < 0.3).float()
    logits = torch.where(masks > 0, torch.tensor(40.0), torch.tensor(-40.0))  # sigmoid: exactly 1.0 and ~4e-18
    truth = masks.clone()
    truth[0] = 0
    assert refavs_batch_fmeasure(masks, truth) == official_fmeasure(logits, truth)


def test_frame_iou_hand_computed() -> None:
    """4×4 frames. Frame 0: gt 4 px, pred 2 of them + 1 outside → 2 / 5. Frame 1: empty gt, pred 3 px → 13 / 16."""
    probs = torch.zeros(2, 4, 4)
    target = torch.zeros(2, 4, 4)
    target[0, 0, :4] = 1
    probs[0, 0, :2] = 0.9
    probs[0, 3, 3] = 0.41
    probs[0, 2, 2] = 0.4  # not > 0.4
    probs[1, 1, :3] = 1.0
    got = refavs_frame_iou(probs, target)
    assert got.dtype == torch.float32
    assert got.tolist() == pytest.approx([2 / 5, 13 / 16], rel=1e-6)
    assert refavs_batch_iou(probs, target).item() == pytest.approx((2 / 5 + 13 / 16) / 2, rel=1e-6)


def test_fmeasure_hand_computed_on_binary_prediction() -> None:
    """gt 4 of 16 px; binary pred covers 2 of them + 1 more. th = 0 takes every pixel: P = 1/4, R = 1 → 1.3·P/(0.3·P
    + 1) = 0.3023; any th > 0: P = 2/3, R = 1/2 → 1.3·(1/3)/(0.2 + 0.5) = 0.6190. The batch takes the maximum."""
    probs = torch.zeros(1, 4, 4)
    target = torch.zeros(1, 4, 4)
    target[0, 0] = 1
    probs[0, 0, :2] = 1
    probs[0, 3, 3] = 1
    curves, has_gt = refavs_fmeasure_curves(probs, target)
    assert curves.shape == (1, 255) and has_gt.tolist() == [True]
    assert curves[0, 0].item() == pytest.approx(1.3 * 0.25 / (0.3 * 0.25 + 1), rel=1e-6)
    assert curves[0, 1:].tolist() == pytest.approx([1.3 * (1 / 3) / 0.7] * 254, rel=1e-6)
    assert refavs_batch_fmeasure(probs, target) == pytest.approx(1.3 * (1 / 3) / 0.7, rel=1e-6)
    # Adding a frame with empty ground truth changes nothing (it is skipped); a batch of only such frames scores 0.
    probs2, target2 = torch.cat([probs, torch.ones(1, 4, 4)]), torch.cat([target, torch.zeros(1, 4, 4)])
    assert refavs_batch_fmeasure(probs2, target2) == refavs_batch_fmeasure(probs, target)
    assert refavs_batch_fmeasure(torch.ones(2, 4, 4), torch.zeros(2, 4, 4)) == 0.0


def test_null_s_hand_computed() -> None:
    probs = torch.zeros(2, 4, 4)
    probs[0, 0, 0] = 0.51
    probs[1, 0, 0] = 0.5  # not > 0.5
    assert refavs_null_s(probs).item() == pytest.approx(np.sqrt(1 / 32), rel=1e-6)
    assert refavs_null_s(torch.ones(2, 4, 4)).item() == 1.0


def test_target_resize_rounds_like_uint8() -> None:
    """2×2 → 4×4 with half-pixel centres: weights of the top-left source pixel are 1, .75, .25, 0 per axis.

    A 0/255 mask keeps every pixel with a non-zero weight (0.0625 · 255 = 15.9 rounds to 16); a 0/1 mask keeps only
    those whose value rounds to 1 (weight >= 0.5).
    """
    mask = torch.tensor([[[255, 0], [0, 0]]], dtype=torch.uint8)
    want_255 = [[1, 1, 1, 0], [1, 1, 1, 0], [1, 1, 1, 0], [0, 0, 0, 0]]
    assert refavs_target(mask, size=4).int().tolist() == [want_255]
    assert refavs_target(mask.bool(), size=4).int().tolist() == [want_255]
    want_1 = [[1, 1, 0, 0], [1, 1, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0]]
    assert refavs_target(mask // 255, size=4).int().tolist() == [want_1]
    assert refavs_target(torch.zeros(3, 64, 96, dtype=torch.uint8)).shape == (3, 256, 256)


def test_batches_and_aggregates() -> None:
    assert refavs_batches(9) == [range(0, 4), range(4, 8), range(8, 9)]
    assert refavs_batches(0) == []
    summary = refavs_aggregate([torch.tensor(0.5), torch.tensor(0.25)], [0.2, 0.4])
    assert summary == pytest.approx({"J": 37.5, "F": 30.0, "JF": 33.75})
    assert refavs_null_aggregate([torch.tensor(0.25), 0.75]) == {"S": 0.5}
    with pytest.raises(ValueError, match="at least one batch"):
        refavs_aggregate([], [])
    with pytest.raises(ValueError, match=r"\(N, H, W\)"):
        refavs_frame_iou(torch.zeros(4, 4), torch.zeros(4, 4))
    with pytest.raises(ValueError, match="does not match"):
        refavs_frame_iou(torch.zeros(1, 4, 4), torch.zeros(1, 4, 5))


def test_classes_equal_functional() -> None:
    rng = np.random.default_rng(1)
    score, null = RefAVSScore(), RefAVSNullScore()
    batch_j, batch_f, batch_s = [], [], []
    for n in (8, 8, 3):
        logits, target = random_batch(rng, n, 24)
        probs = torch.sigmoid(logits)
        score.update(probs, target)
        null.update(probs)
        batch_j.append(refavs_batch_iou(probs, target))
        batch_f.append(refavs_batch_fmeasure(probs, target))
        batch_s.append(refavs_null_s(probs))
    got, want = score.compute(), refavs_aggregate(batch_j, batch_f)
    for key in ("J", "F", "JF"):
        assert got[key].item() == pytest.approx(want[key], abs=1e-5)
    assert 0 < want["F"] < 100 and 0 < want["J"] < 100
    assert null.compute().item() == pytest.approx(refavs_null_aggregate(batch_s)["S"], abs=1e-6)
    assert RefAVSNullScore.higher_is_better is False and RefAVSScore.higher_is_better is True
