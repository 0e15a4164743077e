"""R_A, RefAVS box IoU and R_G against hand-computed values on the conftest clip."""

from __future__ import annotations

import math

import pytest
import torch

from omni_r1.rewards import (
    ClipTargets,
    box_matching_reward,
    box_matching_reward_batch,
    mask_reward,
    mask_reward_batch,
    refavs_box_reward,
    refavs_box_reward_batch,
)
from omni_r1.rewards.grounding import authors_resized_hw

OBJ0 = [1.0, 1.0, 4.0, 3.0]
OBJ1 = [4.0, 4.0, 8.0, 8.0]


def test_box_reward_hand_value(targets: ClipTargets) -> None:
    # Frame 0: only object 0, found exactly (IoU 1); the second box is within O = 2, so no penalty.
    # Frame 2: both objects, one box covering half of object 1 (IoU 8/16); object 0 unmatched → 0.
    boxes = [[OBJ0, [0, 0, 8, 8]], [[4, 4, 8, 6]]]
    assert box_matching_reward(boxes, [0, 2], targets) == pytest.approx((1 + 0.5 + 0) / 3)


def test_more_boxes_than_objects_are_penalised(targets: ClipTargets) -> None:
    boxes = [[OBJ1, [0, 0, 1, 1], [0, 0, 2, 2]]]  # 3 boxes for O = 2 objects at K = 1 keyframe
    assert box_matching_reward(boxes, [4], targets) == pytest.approx(1 - 0.5 * 1 / (2 * 1))


def test_only_the_first_o_boxes_are_matched(targets: ClipTargets) -> None:
    # Frame 4 shows only object 1, O = 2. The grounder writes two decoys first and the exact box third: the
    # authors keep the first O = 2 boxes for matching (IoU 0) and count the third as surplus.
    boxes = [[[0, 0, 1, 1], [0, 0, 2, 2], OBJ1]]
    assert box_matching_reward(boxes, [4], targets) == pytest.approx(0 - 0.5 * 1 / (2 * 1))
    # the kit's former R_A matched every box: the exact third box scored
    assert box_matching_reward(boxes, [4], targets, first_boxes_only=False) == pytest.approx(1 - 0.5 * 1 / (2 * 1))
    batch = box_matching_reward_batch([boxes], [[4]], targets, first_boxes_only=False)
    torch.testing.assert_close(batch, torch.tensor([0.75]))


def test_absent_objects_are_not_cells(targets: ClipTargets) -> None:
    # Object 0 is absent from frame 4: its box matches nothing but costs nothing (2 boxes ≤ O).
    assert box_matching_reward([[OBJ1, OBJ0]], [4], targets) == pytest.approx(1.0)


def test_no_keyframes_no_cells_and_degenerate_boxes(targets: ClipTargets) -> None:
    assert box_matching_reward([], [], targets) == 0.0
    empty = ClipTargets.from_masks(torch.zeros(2, 6, 8, 8, dtype=torch.bool))
    assert box_matching_reward([[OBJ0]], [0], empty) == 0.0
    bad = [[math.nan, 0, 1, 1], [0, 0, math.inf, 1], [3, 3, 1, 1]]
    assert box_matching_reward([bad], [2], targets) == pytest.approx(0 - 0.5 * 1 / 2)
    assert box_matching_reward([torch.zeros(0, 4)], [2], targets) == 0.0


def test_no_target_objects(targets: ClipTargets) -> None:
    none = ClipTargets.from_masks(torch.zeros(0, 6, 8, 8, dtype=torch.bool))
    assert box_matching_reward([[OBJ0, OBJ1]], [1], none) == pytest.approx(-0.5 * 2 / 1)


def test_box_reward_input_errors(targets: ClipTargets) -> None:
    with pytest.raises(ValueError, match="keyframes"):
        box_matching_reward([[OBJ0]], [0, 1], targets)
    with pytest.raises(ValueError, match="outside"):
        box_matching_reward([[OBJ0]], [6], targets)
    with pytest.raises(ValueError, match=r"keyframe 0"):
        box_matching_reward([[[1, 2, 3]]], [0], targets)


def test_box_reward_batch(targets: ClipTargets) -> None:
    batch = box_matching_reward_batch([[[OBJ0]], []], [[0], []], targets)
    torch.testing.assert_close(batch, torch.tensor([1.0, 0.0]))


def test_refavs_box_reward() -> None:
    gt = torch.zeros(4, 4, dtype=torch.bool)
    gt[0:2, 0:2] = True  # box (0, 0, 2, 2)
    assert refavs_box_reward([0, 0, 2, 4], gt) == pytest.approx(0.5)
    assert refavs_box_reward(None, gt) == 0.0
    assert refavs_box_reward([math.nan] * 4, gt) == 0.0
    empty = torch.zeros(4, 4, dtype=torch.bool)
    # Authors: IoU with their dummy box, which the grounder's resize of a 4×4 frame (to 224×224) sends far away.
    assert refavs_box_reward(None, empty) == 0.0
    assert refavs_box_reward([0, 0, 2, 2], empty) == 0.0
    # The kit's former rule: no box on an empty ground truth is a match.
    assert refavs_box_reward(None, empty, empty_target="no_box") == 1.0
    assert refavs_box_reward([0, 0, 2, 2], empty, empty_target="no_box") == 0.0
    torch.testing.assert_close(refavs_box_reward_batch([[0, 0, 2, 2], None], gt), torch.tensor([1.0, 0.0]))
    with pytest.raises(ValueError, match=r"\(H, W\)"):
        refavs_box_reward(None, torch.zeros(1, 4, 4))
    with pytest.raises(ValueError, match="empty_target"):
        refavs_box_reward(None, empty, empty_target="zero")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("height", "width", "resized", "no_box"),
    [
        # a = 1 - |1 - r_w|, b = 1 - |1 - r_h|, IoU = ab / (2 - ab) with the authors' smart_resize
        (360, 640, (364, 644), (2 - 644 / 640) * (2 - 364 / 360)),  # enlarged slightly: a = 2 - r
        (1080, 1920, (812, 1484), (1484 / 1920) * (812 / 1080)),  # shrunk: a = r; float floor 840 → 812 as theirs
        (24, 32, (196, 280), 0.0),  # enlarged > 2x to reach 64·28² pixels: no overlap
    ],
)
def test_refavs_empty_ground_truth_is_the_authors_dummy_box(
    height: int, width: int, resized: tuple[int, int], no_box: float
) -> None:
    assert authors_resized_hw(height, width) == resized
    empty = torch.zeros(height, width, dtype=torch.bool)
    expected = no_box / (2 - no_box)
    assert refavs_box_reward(None, empty) == pytest.approx(expected)
    assert refavs_box_reward([10, 10, 200, 200], empty) == 0.0  # any real box misses the dummy box


def test_mask_reward_hand_value() -> None:
    pred = torch.zeros(3, 2, 2, dtype=torch.bool)
    gt = torch.zeros(3, 2, 2, dtype=torch.bool)
    # frame 0: both empty → 1; frame 1: 1 of 2 union pixels → 0.5; frame 2: prediction on empty truth → 0
    pred[1, 0, 0] = True
    gt[1, 0, :] = True
    pred[2, 1, 1] = True
    assert mask_reward(pred, gt) == pytest.approx(0.5)
    assert mask_reward(pred.float() * 0.3, gt.to(torch.uint8) * 255) == pytest.approx(0.5)  # non-zero = foreground
    torch.testing.assert_close(mask_reward_batch([gt, pred], gt), torch.tensor([1.0, 0.5]))


def test_mask_reward_edges() -> None:
    assert mask_reward(torch.zeros(0, 2, 2), torch.zeros(0, 2, 2)) == 0.0
    with pytest.raises(ValueError, match="resize"):
        mask_reward(torch.zeros(3, 4, 4), torch.zeros(3, 2, 2))
