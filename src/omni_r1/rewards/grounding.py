"""Box rewards of the Detail system's output: R_A for VOS keyframes and the RefAVS frame-0 box IoU.

R_A (SPEC §3). At each keyframe the predicted boxes are matched one-to-one to the ground-truth boxes of the
objects present there (Hungarian on IoU). The IoU part is the mean matched IoU over all (present object, keyframe)
cells, pooled over keyframes, with ground-truth boxes left unmatched scoring 0; objects absent from a keyframe are
not cells. The penalty is ``−0.5·E / (O·K)`` where E counts, per keyframe, the boxes beyond the prompt's O target
objects (as the reference counts them: against all O objects, not only those present at that keyframe) and K is
the number of keyframes. R_A is therefore at most 1 and at least ``−0.5·E / (max(O, 1)·K)``; no keyframes → 0.
A prompt without target objects (O = 0) counts every box as surplus and divides by 1.

RefAVS: the IoU of the Detail system's box for the rewritten description on frame 0 with the ground-truth box of
frame 0, in ``[0, 1]``. With an empty ground truth at frame 0 (a silent or absent target), predicting no box
scores 1 and predicting one scores 0, mirroring "both empty → 1" of the mask metrics.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from omni_r1.data.boxes import BoxesLike, BoxLike, as_boxes, box_iou, masks_to_boxes_or_empty, matched_ious
from omni_r1.data.targets import ClipTargets

EXTRA_BOX_PENALTY = 0.5


def box_matching_reward(
    boxes: Sequence[BoxesLike],
    keyframes: Sequence[int],
    targets: ClipTargets,
    extra_box_penalty: float = EXTRA_BOX_PENALTY,
) -> float:
    """R_A of one rollout (bounds in the module docstring).

    Args:
        boxes: per keyframe, the ``(m_k, 4)`` predicted boxes in original-frame pixels.
        keyframes: clip indices the boxes were predicted at, aligned with ``boxes``.
        targets: the prompt's reduced ground truth.
        extra_box_penalty: the 0.5 of the surplus-box penalty.

    Raises:
        ValueError: ``boxes`` and ``keyframes`` differ in length, a keyframe outside the clip, or a box list
            that is not ``(m, 4)``.
    """
    if len(boxes) != len(keyframes):
        raise ValueError(f"box_matching_reward: {len(boxes)} box lists for {len(keyframes)} keyframes")
    if not keyframes:
        return 0.0
    num_objects = targets.num_objects
    matched, cells, surplus = 0.0, 0, 0
    for index, frame_boxes in zip(keyframes, boxes):
        if not 0 <= index < targets.num_frames:
            raise ValueError(f"keyframe index {index} lies outside the S1 clip [0, {targets.num_frames})")
        pred = as_boxes(frame_boxes, f"boxes at keyframe {index}")
        gt = targets.boxes[targets.presence[:, index], index]  # (present objects, 4)
        matched += float(matched_ious(pred, gt).sum())
        cells += gt.shape[0]
        surplus += max(0, pred.shape[0] - num_objects)
    mean_iou = matched / cells if cells else 0.0
    return mean_iou - extra_box_penalty * surplus / (max(num_objects, 1) * len(keyframes))


def refavs_box_reward(pred_box: BoxLike | None, gt_mask: Tensor) -> float:
    """RefAVS reward in ``[0, 1]``: IoU of the predicted frame-0 box with the box of the frame-0 ground truth.

    Args:
        pred_box: the Detail system's box ``(x1, y1, x2, y2)`` on frame 0, ``None`` when it gave none.
        gt_mask: ``(H, W)`` ground-truth union mask of frame 0.
    """
    if gt_mask.ndim != 2:
        raise ValueError(f"refavs_box_reward: gt_mask must be (H, W), got {tuple(gt_mask.shape)}")
    gt_box, present = masks_to_boxes_or_empty(gt_mask)
    if not bool(present):
        return 1.0 if pred_box is None else 0.0
    return 0.0 if pred_box is None else box_iou(pred_box, gt_box)


def box_matching_reward_batch(
    boxes: Sequence[Sequence[BoxesLike]], keyframes: Sequence[Sequence[int]], targets: ClipTargets
) -> Tensor:
    """``(G,)`` float32 R_A of a group sharing one ground truth."""
    values = [box_matching_reward(rollout, indices, targets) for rollout, indices in zip(boxes, keyframes, strict=True)]
    return torch.tensor(values, dtype=torch.float32)


def refavs_box_reward_batch(pred_boxes: Sequence[BoxLike | None], gt_mask: Tensor) -> Tensor:
    """``(G,)`` float32 RefAVS rewards of a group sharing one frame-0 ground truth."""
    return torch.tensor([refavs_box_reward(box, gt_mask) for box in pred_boxes], dtype=torch.float32)
