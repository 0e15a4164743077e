"""ReVOS robustness, rounding and subset aggregation against hand-computed values; the ReVOSScore class."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from omni_r1.metrics import ReVOSScore
from omni_r1.metrics.functional import (
    j_and_f,
    revos_aggregate,
    revos_expression,
    revos_expression_accuracy,
    revos_percent,
    revos_robustness,
)


def frames(*masks: list[list[int]]) -> torch.Tensor:
    return torch.tensor(masks, dtype=torch.uint8)


def test_robustness_official_counts_each_false_positive_255_times() -> None:
    """Frame 0: 2 false-positive pixels, foreground 1000 px → 1 - 510/1000. Frame 1: 5 FP → 1 - 1275/1000 → 0."""
    target = torch.zeros(2, 40, 50, dtype=torch.bool)
    target[:, :20, :50] = True  # 1000 px object = the whole foreground
    pred = target.clone()
    pred[0, 30, 0:2] = True
    pred[1, 30, 0:5] = True
    official = revos_robustness(pred, target, target)
    assert official.dtype == torch.float64
    assert official[0].item() == pytest.approx(1 - 510 / 1000, abs=1e-9)
    assert official[1].item() == 0.0
    corrected = revos_robustness(pred, target, target, mode="corrected")
    assert corrected.tolist() == pytest.approx([1 - 2 / 1000, 1 - 5 / 1000], abs=1e-9)
    # A bool prediction is taken as the 0/255 PNG; its uint8 file values give the same result.
    assert torch.equal(official, revos_robustness(pred.to(torch.uint8) * 255, target, target))


def test_robustness_official_reproduces_uint8_arithmetic() -> None:
    """On a pixel where two objects overlap the official uint8 ``(1 - 2) * 255`` wraps to 1, not 0.

    Pixels (pred, gt count): (255, 0) → 255, (255, 1) → 0, (255, 2) → 1, (1, 0) → 1 (a 0/1 PNG counts once).
    neg = 257, pos = 4 (foreground sum) → max(0, 1 - 257 / 4) = 0; with pos = 1000 → 1 - 0.257.
    """
    pred = frames([[255, 255, 255, 1]])
    target = frames([[0, 1, 2, 0]])
    assert revos_robustness(pred, target, torch.ones(1, 1, 4, dtype=torch.uint8)).item() == 0.0
    big = torch.zeros(1, 1, 4, dtype=torch.uint8)
    big[0, 0, 0] = 250  # foreground values are summed, as the official ``foreground_mask.sum()``
    big[0, 0, 1:] = 250
    assert revos_robustness(pred, target, big).item() == pytest.approx(1 - 257 / 1000, abs=1e-9)
    # Corrected mode: only (1, 0) and (255, 0) are false positives.
    assert revos_robustness(pred, target, big, mode="corrected").item() == pytest.approx(1 - 2 / (4 + 1e-6), abs=1e-15)


def test_robustness_without_false_positives_is_one_even_on_empty_foreground() -> None:
    empty = torch.zeros(3, 5, 5, dtype=torch.bool)
    assert revos_robustness(empty, empty, empty).tolist() == [1.0, 1.0, 1.0]
    pred = empty.clone()
    pred[1, 2, 2] = True  # a hallucinated pixel where nothing is annotated: 1 - 255 / 1e-6 → 0
    assert revos_robustness(pred, empty, empty).tolist() == [1.0, 0.0, 1.0]


def test_expression_scores() -> None:
    """4×4 frames: target = left half, pred = left quarter. J = 4/8; F at r = 1 (4×4 → ceil(0.045)) is partial."""
    target = torch.zeros(2, 4, 4, dtype=torch.bool)
    target[:, :, :2] = True
    pred = torch.zeros_like(target)
    pred[:, :, :1] = True
    j, f, r = revos_expression(pred, target, target)
    assert j.item() == 0.5
    assert f.item() == j_and_f(pred, target)[1].item()
    assert r.item() == 1.0
    _, _, r_fp = revos_expression(target, pred, pred, mode="corrected")  # 4 FP px / 4 px foreground per frame
    assert r_fp.item() == pytest.approx(1 - 4 / (4 + 1e-6), abs=1e-15)


def test_percent_uses_numpy_rounding() -> None:
    # NumPy: 100 * 0.02675 = 2.675 → rint(267.5) = 268 → 2.68; Python's round(2.675, 2) gives 2.67.
    assert revos_percent(0.02675) == 2.68
    assert revos_percent(0.12345) == 12.34
    assert revos_percent(torch.tensor(1 / 3, dtype=torch.float64)) == 33.33
    assert revos_percent(0) == 0.0


def test_aggregate_hand_computed() -> None:
    """Referring: J 100, 33.33, 0 → 44.443…; reasoning: 50, 12.34 → 31.17. Overall is the mean of the two subsets."""
    summary = revos_aggregate(
        type_ids=[0, 0, 0, 1, 1],
        j=[1.0, 1 / 3, 0.0, 0.5, 0.12345],
        f=[1.0, 0.5, 0.0, 0.25, 0.02675],
        r=[1.0, 1.0, 0.0, 0.9, 0.8],
    )
    assert set(summary) == {"referring", "reason", "overall"}
    ref, rea, overall = summary["referring"], summary["reason"], summary["overall"]
    assert ref["J"] == pytest.approx((100 + 33.33 + 0) / 3, abs=1e-12)
    assert ref["F"] == pytest.approx((100 + 50 + 0) / 3, abs=1e-12)
    assert ref["JF"] == pytest.approx((ref["J"] + ref["F"]) / 2, abs=1e-12)
    assert ref["R"] == pytest.approx(200 / 3, abs=1e-12)
    assert rea["J"] == pytest.approx((50 + 12.34) / 2, abs=1e-12)
    assert rea["F"] == pytest.approx((25 + 2.68) / 2, abs=1e-12)
    assert rea["R"] == pytest.approx(85.0, abs=1e-12)
    for key in ("J", "F", "JF", "R"):
        assert overall[key] == pytest.approx((ref[key] + rea[key]) / 2, abs=1e-12)
    # Overall is not the mean over all five expressions.
    assert overall["J"] != pytest.approx((100 + 33.33 + 0 + 50 + 12.34) / 5, abs=1e-3)


def test_aggregate_empty_subset_is_nan() -> None:
    summary = revos_aggregate([0], [1.0], [1.0], [1.0])
    assert summary["referring"]["J"] == 100.0
    assert math.isnan(summary["reason"]["J"]) and math.isnan(summary["overall"]["JF"])


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: revos_aggregate([3], [1.0], [1.0], [1.0]), "type_id"),  # 2 is VISA's "nan" subset
        (lambda: revos_aggregate([0, 1], [1.0], [1.0], [1.0]), "one j, f, r"),
        (lambda: revos_robustness(torch.zeros(1, 2, 2), torch.zeros(1, 2, 2), torch.zeros(1, 2, 2)), "uint8"),
        (lambda: revos_robustness(*(torch.zeros(1, 2, 2, dtype=torch.bool),) * 3, mode="x"), "mode"),
        (
            lambda: revos_robustness(
                torch.zeros(1, 2, 2, dtype=torch.bool), torch.zeros(1, 2, 3), torch.zeros(1, 2, 2)
            ),
            "does not match",
        ),
    ],
)
def test_bad_input_raises(call, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        call()


def test_class_equals_functional_aggregate_and_counts_missing_as_zero() -> None:
    rng = np.random.default_rng(0)
    metric = ReVOSScore(robustness="corrected")
    type_ids, js, fs, rs, accs = [], [], [], [], []
    for k in range(7):
        target = torch.from_numpy(rng.random((3, 12, 16)) < 0.3)
        pred = target ^ torch.from_numpy(rng.random((3, 12, 16)) < 0.05)
        foreground = target | torch.from_numpy(rng.random((3, 12, 16)) < 0.5)
        type_id = k % 2
        if k == 4:
            metric.update(None, target, foreground, type_id)
            j = f = r = a = 0.0
        else:
            metric.update(pred, target, foreground, type_id)
            j, f, r = (v.item() for v in revos_expression(pred, target, foreground, "corrected"))
            a = revos_expression_accuracy(pred, target).item()
        type_ids.append(type_id)
        js.append(j)
        fs.append(f)
        rs.append(r)
        accs.append(a)
    got = metric.compute()
    want = revos_aggregate(type_ids, js, fs, rs, accs)
    assert set(got) == {f"{s}/{k}" for s in ("referring", "reason", "overall") for k in ("J", "F", "JF", "A", "R")}
    for subset, scores in want.items():
        for key, value in scores.items():
            assert got[f"{subset}/{key}"].item() == pytest.approx(value, abs=1e-10)
    assert 0 < want["overall"]["R"] < 100 and want["overall"]["J"] < 100


def test_class_robustness_mode_and_flags() -> None:
    target = torch.zeros(1, 10, 10, dtype=torch.bool)
    target[0, :5] = True
    pred = target.clone()
    pred[0, 9, 9] = True  # one FP pixel, foreground 50 px
    official, corrected = ReVOSScore(), ReVOSScore(robustness="corrected")
    for metric in (official, corrected):
        metric.update(pred, target, target, 0)
        metric.update(pred, target, target, 1)
    assert official.compute()["overall/R"].item() == 0.0  # max(0, 1 - 255 / 50)
    assert corrected.compute()["overall/R"].item() == 98.0  # round(100 * (1 - 1 / 50), 2)
    assert ReVOSScore.higher_is_better and not ReVOSScore.full_state_update
    with pytest.raises(ValueError, match="robustness"):
        ReVOSScore(robustness="both")
    with pytest.raises(ValueError, match="type_id"):
        official.update(pred, target, target, 3)
