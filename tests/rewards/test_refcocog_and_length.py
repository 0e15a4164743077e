"""refCOCOg grounding reward and the optional length bonus against hand-computed values."""

from __future__ import annotations

import json
import math

import pytest
import torch

from omni_r1.rewards import (
    length_bonus,
    length_bonus_batch,
    parse_grounding_answer,
    refcocog_reward,
    refcocog_reward_batch,
)

GT = (10.0, 10.0, 50.0, 50.0)


def grounding(
    box: list[float], p1: list[float] | None = None, p2: list[float] | None = None, key: str = "bbox_2d"
) -> str:
    obj: dict[str, object] = {key: box}
    if p1 is not None:
        obj["points_1"], obj["points_2"] = p1, p2
    return f"<think>look</think><answer>{json.dumps(obj)}</answer>"


def test_perfect_answer_scores_the_maximum() -> None:
    assert refcocog_reward(grounding([10, 10, 50, 50], [20, 20], [40, 40]), GT) == pytest.approx(4.4)


def test_partial_terms() -> None:
    # IoU 400/2800 → 0; centre distance 30 → clipped 1; box L1 (30+0+30+0)/4 = 15 → 0.75; strict format → 1.
    assert refcocog_reward(grounding([40, 10, 80, 50], [45, 20], [60, 40]), GT) == pytest.approx(0 + 1 + 0.75 + 1)
    # IoU 0.6 → 0.2 + 0.4; centres 10 apart → 1; L1 5 → 1; no points → not strict.
    assert refcocog_reward(grounding([20, 10, 60, 50]), GT) == pytest.approx(0.6 + 1 + 1)
    # Far box: centres (150, 30) vs (30, 30) → (150 − 120)·0.02 = 0.6; everything else 0 but the format.
    assert refcocog_reward(grounding([130, 10, 170, 50], [140, 20], [150, 40]), GT) == pytest.approx(0.6 + 1)


def test_ground_truth_points_use_the_better_pairing() -> None:
    text = grounding([40, 10, 80, 50], [45, 20], [60, 40])
    gt_points = ((200.0, 20.0), (200.0, 40.0))
    # pairing 1: 155 + 140 = 295, pairing 2: ≈ 297.7 → distance 147.5 → (150 − 147.5)·0.02 = 0.05
    assert refcocog_reward(text, GT, gt_points) == pytest.approx(0 + 0.05 + 0.75 + 1)
    outside = grounding([40, 10, 80, 50], [5, 20], [60, 40])  # points_1 outside the predicted box
    assert refcocog_reward(outside, GT, gt_points) == pytest.approx(0 + 0 + 0.75 + 1)


def test_loose_keys_and_missing_answers() -> None:
    assert refcocog_reward(grounding([10, 10, 50, 50], key="bbox"), GT) == pytest.approx(1.4 + 1 + 1)
    assert refcocog_reward("<answer>nothing here</answer>", GT) == 0.0
    assert refcocog_reward(grounding([10, 10, 50, 50]).replace("<answer>", ""), GT) == 0.0
    assert refcocog_reward(grounding([math.nan, 10, 50, 50]), GT) == 0.0  # NaN literal in the JSON
    assert refcocog_reward(grounding([10, 10, 50, 10**400]), GT) == 0.0


def test_parse_grounding_answer() -> None:
    answer = parse_grounding_answer(grounding([1, 2, 3, 4], [1, 2], [3, 4]))
    assert (answer.box, answer.points, answer.strict_format) == ((1, 2, 3, 4), ((1, 2), (3, 4)), True)
    assert parse_grounding_answer("<answer>[" + json.dumps({"bbox_2d": [1, 2, 3, 4]}) + "]</answer>").box == (
        1,
        2,
        3,
        4,
    )
    assert not parse_grounding_answer(grounding([1, 2, 3], [1, 2], [3, 4])).strict_format


def test_refcocog_batch_and_bad_ground_truth() -> None:
    batch = refcocog_reward_batch([grounding([10, 10, 50, 50]), ""], GT)
    torch.testing.assert_close(batch, torch.tensor([3.4, 0.0]))
    with pytest.raises(ValueError, match="gt_box"):
        refcocog_reward("", (1, 2, 3))


@pytest.mark.parametrize(
    ("tokens", "accuracy", "expected"),
    [(320, 0.5, 1.0), (750, 0.11, 1.0), (319, 0.5, 0.0), (751, 0.5, 0.0), (500, 0.1, 0.0), (500, math.nan, 0.0)],
)
def test_length_bonus(tokens: int, accuracy: float, expected: float) -> None:
    assert length_bonus(tokens, accuracy) == expected


def test_length_bonus_needs_two_accurate_completions() -> None:
    torch.testing.assert_close(length_bonus_batch([400, 400, 900], [0.5, 0.0, 0.9]), torch.tensor([1.0, 0.0, 0.0]))
    torch.testing.assert_close(length_bonus_batch([400, 400], [0.5, 0.0]), torch.zeros(2))
    with pytest.raises(ValueError, match="token counts"):
        length_bonus_batch([400], [0.5, 0.5])
