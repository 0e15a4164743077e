"""VISA's pixel accuracy A and its type-2 ("nan") expressions: scored, reported apart, in no official mean."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from omni_r1.metrics import ReVOSScore
from omni_r1.metrics.functional import revos_accuracy, revos_aggregate, revos_expression_accuracy


def test_accuracy_official_compares_stored_values() -> None:
    """One 2×4 frame. Ground truth as object counts, prediction as the 0/255 PNG the kit writes.

    gt   0 1 1 0 | 0 0 2 0        pred 0 255 255 255 | 0 0 255 0
    official: equal where both are 0 → 4 of 8 = 0.5 (a 255 never equals a 1 or a 2);
    corrected: foreground vs foreground → only the (0, 255) pixel disagrees → 7/8.
    """
    target = torch.tensor([[[0, 1, 1, 0], [0, 0, 2, 0]]], dtype=torch.uint8)
    pred = torch.tensor([[[0, 1, 1, 1], [0, 0, 1, 0]]], dtype=torch.bool)
    official = revos_accuracy(pred, target)
    assert official.dtype == torch.float64 and official.tolist() == [0.5]
    assert torch.equal(official, revos_accuracy(pred.to(torch.uint8) * 255, target))  # the PNG's values
    assert revos_accuracy(pred, target, mode="corrected").tolist() == [7 / 8]
    with pytest.raises(ValueError, match="accuracy mode"):
        revos_accuracy(pred, target, mode="both")


def test_expression_accuracy_is_the_frame_mean() -> None:
    """Frame 0 as above (0.5); frame 1 all background on both sides (1.0) → 0.75, as ``accs.mean()``."""
    target = torch.tensor([[[0, 1, 1, 0], [0, 0, 2, 0]], [[0] * 4, [0] * 4]], dtype=torch.uint8)
    pred = torch.tensor([[[0, 1, 1, 1], [0, 0, 1, 0]], [[0] * 4, [0] * 4]], dtype=torch.bool)
    assert revos_expression_accuracy(pred, target).item() == 0.75


def test_aggregate_reports_type_2_apart() -> None:
    """Referring J 100, 50; reasoning 20; nan 10, 30. The nan rows change no official mean."""
    type_ids = [0, 2, 0, 1, 2]
    j = [1.0, 0.1, 0.5, 0.2, 0.3]
    f, r, a = j, [1.0] * 5, [0.9, 0.8, 0.7, 0.6, 0.5]
    summary = revos_aggregate(type_ids, j, f, r, a)
    without = revos_aggregate([0, 0, 1], [1.0, 0.5, 0.2], [1.0, 0.5, 0.2], [1.0] * 3, [0.9, 0.7, 0.6])
    assert set(summary) == {"referring", "reason", "overall", "nan"}
    for subset in ("referring", "reason", "overall"):
        assert summary[subset] == without[subset]
    assert summary["referring"]["J"] == 75.0 and summary["reason"]["A"] == 60.0
    assert summary["nan"] == pytest.approx({"J": 20.0, "F": 20.0, "JF": 20.0, "R": 100.0, "A": 65.0}, abs=1e-12)
    assert summary["overall"]["A"] == pytest.approx((80.0 + 60.0) / 2, abs=1e-12)
    assert "nan" not in without and "A" not in revos_aggregate([0], [1.0], [1.0], [1.0])["referring"]


def test_class_reports_the_nan_subset_once_it_has_one() -> None:
    rng = np.random.default_rng(1)
    with_nan, without = ReVOSScore(), ReVOSScore()
    for k in range(6):
        target = torch.from_numpy(rng.random((2, 8, 10)) < 0.3)
        pred = target ^ torch.from_numpy(rng.random((2, 8, 10)) < 0.1)
        type_id = k % 3
        with_nan.update(pred, target, target, type_id)
        if type_id != 2:
            without.update(pred, target, target, type_id)
    got, reference = with_nan.compute(), without.compute()
    assert not any(key.startswith("nan/") for key in reference)
    assert {key for key in got if key.startswith("nan/")} == {f"nan/{k}" for k in ("J", "F", "JF", "A", "R")}
    for key, value in reference.items():
        assert torch.equal(got[key], value), key  # the type-2 expressions are in no official mean
    assert not any(math.isnan(v.item()) for v in got.values())
    with pytest.raises(ValueError, match="accuracy"):
        ReVOSScore(accuracy="both")
