"""Box IoU, mask → box conversion and Hungarian matching."""

from __future__ import annotations

import itertools
import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from omni_r1.rewards import box_iou, box_iou_matrix, masks_to_boxes_or_empty, matched_ious


def test_iou_hand_values() -> None:
    assert box_iou((0, 0, 2, 2), (0, 0, 2, 4)) == pytest.approx(0.5)
    assert box_iou((0, 0, 2, 2), (1, 1, 3, 3)) == pytest.approx(1 / 7)
    assert box_iou((0, 0, 1, 1), (2, 2, 3, 3)) == 0.0
    assert box_iou(torch.tensor([1.0, 1.0, 4.0, 3.0]), (1, 1, 4, 3)) == pytest.approx(1.0)


@pytest.mark.parametrize(
    "bad",
    [
        (0, 0, 0, 5),  # zero width
        (3, 3, 1, 1),  # inverted
        (math.nan, 0, 2, 2),
        (0, 0, math.inf, 2),
        (-1e308, -1e308, 1e308, 1e308),  # finite corners, infinite area
    ],
)
def test_degenerate_boxes_give_zero(bad: tuple[float, ...]) -> None:
    assert box_iou(bad, (0, 0, 2, 2)) == 0.0
    assert box_iou((0, 0, 2, 2), bad) == 0.0


def test_matrix_shape_and_empty_inputs() -> None:
    assert box_iou_matrix([[0, 0, 1, 1]] * 3, [[0, 0, 1, 1]] * 2).shape == (3, 2)
    assert box_iou_matrix([], [[0, 0, 1, 1]]).shape == (0, 1)


def test_malformed_boxes_are_an_error() -> None:
    with pytest.raises(ValueError, match=r"\(m, 4\)"):
        box_iou_matrix([[0, 0, 1]], [[0, 0, 1, 1]])
    with pytest.raises(ValueError, match="4 numbers"):
        box_iou((0, 0, 1), (0, 0, 1, 1))


def test_masks_to_boxes_or_empty() -> None:
    masks = torch.zeros(3, 5, 6, dtype=torch.uint8)
    masks[0, 1:3, 2:5] = 1
    masks[2, 4, 0] = 7  # one pixel, non-zero is foreground
    boxes, present = masks_to_boxes_or_empty(masks)
    torch.testing.assert_close(boxes, torch.tensor([[2.0, 1.0, 5.0, 3.0], [0.0, 0.0, 0.0, 0.0], [0.0, 4.0, 1.0, 5.0]]))
    assert present.tolist() == [True, False, True]


def test_masks_to_boxes_keeps_leading_dims() -> None:
    boxes, present = masks_to_boxes_or_empty(torch.ones(2, 3, 4, 5, dtype=torch.bool))
    assert boxes.shape == (2, 3, 4) and present.shape == (2, 3)
    torch.testing.assert_close(boxes[1, 2], torch.tensor([0.0, 0.0, 5.0, 4.0]))


def test_hungarian_beats_greedy() -> None:
    # Matching gt A first to its best box P0 (IoU 90/110) would leave gt B with P1 (IoU 65/115), total 1.38;
    # the optimum pairs A–P1 (80/100) and B–P0 (95/105).
    gt = [[0, 0, 10, 10], [1.5, 0, 11.5, 10]]
    pred = [[1, 0, 11, 10], [0, 0, 8, 10]]
    scores = matched_ious(pred, gt)
    torch.testing.assert_close(scores, torch.tensor([80 / 100, 95 / 105], dtype=torch.float64))
    assert float(scores.sum()) > 90 / 110 + 65 / 115


def test_unmatched_ground_truth_scores_zero() -> None:
    scores = matched_ious([[0, 0, 2, 2]], [[0, 0, 2, 2], [5, 5, 6, 6]])
    torch.testing.assert_close(scores, torch.tensor([1.0, 0.0], dtype=torch.float64))
    assert matched_ious(torch.zeros(0, 4), [[0, 0, 1, 1]]).tolist() == [0.0]


coordinate = st.floats(0, 20, allow_nan=False)
box = st.tuples(coordinate, coordinate, coordinate, coordinate)


@settings(max_examples=150, deadline=None, derandomize=True)
@given(st.lists(box, min_size=1, max_size=4), st.lists(box, min_size=1, max_size=4))
def test_matching_is_optimal(pred: list, gt: list) -> None:
    iou = box_iou_matrix(gt, pred)
    g, m = iou.shape
    best = max(
        sum(float(iou[i, j]) for i, j in zip(range(g), perm) if j is not None)
        for perm in itertools.permutations(list(range(m)) + [None] * g, g)
    )
    assert float(matched_ious(pred, gt).sum()) == pytest.approx(best, abs=1e-9)
