"""Box rewards of the Detail system's output: R_A for VOS keyframes and the RefAVS frame-0 box IoU.

R_A (SPEC §3). At each keyframe the predicted boxes are matched one-to-one to the ground-truth boxes of the
objects present there (Hungarian on IoU). With ``first_boxes_only`` (the authors' ``grounding2sam_process_reward``
in ``load_datasets/revos.py``, default) only the grounder's first O boxes, in the order it wrote them, are
candidates, O being the prompt's number of target objects; otherwise every box is (the kit's former R_A). The IoU
part is the mean matched IoU over all (present object, keyframe) cells, pooled over keyframes, with ground-truth
boxes left unmatched scoring 0; objects absent from a keyframe are not cells. The penalty is ``−0.5·E / (O·K)``
where E counts, per keyframe, the boxes beyond the prompt's O target objects (as the reference counts them:
against all O objects, not only those present at that keyframe) and K is the number of keyframes. R_A is therefore
at most 1 and at least ``−0.5·E / (max(O, 1)·K)``; no keyframes → 0. A prompt without target objects (O = 0)
counts every box as surplus and divides by 1.

RefAVS: the IoU of the Detail system's box for the rewritten description on frame 0 with the ground-truth box of
frame 0, in ``[0, 1]``; no box scores 0. An empty ground truth at frame 0 (a silent or absent target) is scored
as ``empty_target`` says:

- ``"dummy_box"`` (the authors' ``refavs_grounding_process_reward`` and ``iou`` in ``load_datasets/refavs.py``,
  default): the empty mask's box is the dummy ``(−1, −1, −1, −1)`` scaled into the grounder's resized pixels, a
  missing prediction is the dummy ``(−1, −1, −1, −1)`` too, and their IoU is the authors' ``+1``-pixel IoU. A
  predicted box therefore scores about 0, and no box scores ``a·b / (2 − a·b)`` with ``a = max(0, 1 − |1 − r_w|)``
  and ``b`` likewise for ``r_h``, the grounder's resize ratios (their image budget, 64·28²–1600·28² pixels): 1 for
  a frame the grounder does not resize, 0.966 for 640×360, 0.410 for 1920×1080, 0 for a frame it enlarges
  twofold or more.
- ``"no_box"`` (the kit's former rule): no box scores 1 and a box 0, mirroring "both empty → 1" of the mask
  metrics.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Literal, get_args

import torch
from torch import Tensor

from omni_r1.data.boxes import BoxesLike, BoxLike, as_box, as_boxes, box_iou, masks_to_boxes_or_empty, matched_ious
from omni_r1.data.targets import ClipTargets

EXTRA_BOX_PENALTY = 0.5
EmptyTarget = Literal["dummy_box", "no_box"]
EMPTY_TARGETS: tuple[str, ...] = get_args(EmptyTarget)
# The authors' grounder resizes images with qwen_omni_utils' smart_resize: factor 28, 64·28² to 1600·28² pixels.
AUTHORS_IMAGE_FACTOR = 28
AUTHORS_IMAGE_PIXELS = (64 * 28 * 28, 1600 * 28 * 28)


def box_matching_reward(
    boxes: Sequence[BoxesLike],
    keyframes: Sequence[int],
    targets: ClipTargets,
    extra_box_penalty: float = EXTRA_BOX_PENALTY,
    first_boxes_only: bool = True,
) -> float:
    """R_A of one rollout (bounds in the module docstring).

    Args:
        boxes: per keyframe, the ``(m_k, 4)`` predicted boxes in original-frame pixels, in the grounder's order.
        keyframes: clip indices the boxes were predicted at, aligned with ``boxes``.
        targets: the prompt's reduced ground truth.
        extra_box_penalty: the 0.5 of the surplus-box penalty.
        first_boxes_only: match only the first O boxes of each keyframe (authors) instead of all (kit's former).

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
        candidates = pred[:num_objects] if first_boxes_only else pred
        matched += float(matched_ious(candidates, gt).sum())
        cells += gt.shape[0]
        surplus += max(0, pred.shape[0] - num_objects)
    mean_iou = matched / cells if cells else 0.0
    return mean_iou - extra_box_penalty * surplus / (max(num_objects, 1) * len(keyframes))


def authors_resized_hw(height: int, width: int) -> tuple[int, int]:
    """``(h, w)`` the authors' grounder resizes an ``height`` × ``width`` image to (qwen_omni_utils'
    ``smart_resize`` with their image budget): sides multiples of 28, rounded (Python's ``round``), then scaled
    down or up into 64·28²–1600·28² pixels."""
    factor, (min_pixels, max_pixels) = AUTHORS_IMAGE_FACTOR, AUTHORS_IMAGE_PIXELS
    h_bar = max(factor, round(height / factor) * factor)
    w_bar = max(factor, round(width / factor) * factor)
    if h_bar * w_bar > max_pixels:
        beta = math.sqrt(height * width / max_pixels)
        h_bar = math.floor(height / beta / factor) * factor
        w_bar = math.floor(width / beta / factor) * factor
    elif h_bar * w_bar < min_pixels:
        beta = math.sqrt(min_pixels / (height * width))
        h_bar = math.ceil(height * beta / factor) * factor
        w_bar = math.ceil(width * beta / factor) * factor
    return h_bar, w_bar


def _inclusive_iou(a: Sequence[float], b: Sequence[float]) -> float:
    """The authors' box IoU (``iou`` in ``load_datasets/refavs.py``): corners inclusive, ``+1`` on every side."""
    inter = max(0.0, min(a[2], b[2]) - max(a[0], b[0]) + 1) * max(0.0, min(a[3], b[3]) - max(a[1], b[1]) + 1)
    union = (a[2] - a[0] + 1) * (a[3] - a[1] + 1) + (b[2] - b[0] + 1) * (b[3] - b[1] + 1) - inter
    return inter / union if union > 0 and math.isfinite(inter / union) else 0.0


def _dummy_box_iou(pred_box: BoxLike | None, height: int, width: int) -> float:
    """The authors' score of an empty RefAVS ground truth (module docstring, ``"dummy_box"``)."""
    resized_h, resized_w = authors_resized_hw(height, width)
    ry, rx = resized_h / height, resized_w / width
    gt = (-rx, -ry, -rx, -ry)  # generate_bbox's dummy [-1, -1, -1, -1] times the resize scale
    if pred_box is None:
        return _inclusive_iou((-1.0, -1.0, -1.0, -1.0), gt)
    x1, y1, x2, y2 = as_box(pred_box, "pred_box").reshape(4).tolist()
    return _inclusive_iou((x1 * rx, y1 * ry, x2 * rx, y2 * ry), gt)  # the grounder answers in resized pixels


def refavs_box_reward(pred_box: BoxLike | None, gt_mask: Tensor, empty_target: EmptyTarget = "dummy_box") -> float:
    """RefAVS reward in ``[0, 1]``: IoU of the predicted frame-0 box with the box of the frame-0 ground truth.

    Args:
        pred_box: the Detail system's box ``(x1, y1, x2, y2)`` on frame 0, ``None`` when it gave none.
        gt_mask: ``(H, W)`` ground-truth union mask of frame 0.
        empty_target: how an empty ``gt_mask`` is scored: ``"dummy_box"`` (authors) or ``"no_box"`` (kit's
            former), see the module docstring.

    Raises:
        ValueError: ``gt_mask`` is not 2-D or ``empty_target`` unknown.
    """
    if gt_mask.ndim != 2:
        raise ValueError(f"refavs_box_reward: gt_mask must be (H, W), got {tuple(gt_mask.shape)}")
    if empty_target not in EMPTY_TARGETS:
        raise ValueError(f"refavs_box_reward: empty_target must be one of {EMPTY_TARGETS}, got {empty_target!r}")
    gt_box, present = masks_to_boxes_or_empty(gt_mask)
    if not bool(present):
        if empty_target == "no_box":
            return 1.0 if pred_box is None else 0.0
        return _dummy_box_iou(pred_box, *gt_mask.shape)
    return 0.0 if pred_box is None else box_iou(pred_box, gt_box)


def box_matching_reward_batch(
    boxes: Sequence[Sequence[BoxesLike]],
    keyframes: Sequence[Sequence[int]],
    targets: ClipTargets,
    first_boxes_only: bool = True,
) -> Tensor:
    """``(G,)`` float32 R_A of a group sharing one ground truth."""
    values = [
        box_matching_reward(rollout, indices, targets, first_boxes_only=first_boxes_only)
        for rollout, indices in zip(boxes, keyframes, strict=True)
    ]
    return torch.tensor(values, dtype=torch.float32)


def refavs_box_reward_batch(
    pred_boxes: Sequence[BoxLike | None], gt_mask: Tensor, empty_target: EmptyTarget = "dummy_box"
) -> Tensor:
    """``(G,)`` float32 RefAVS rewards of a group sharing one frame-0 ground truth."""
    values = [refavs_box_reward(box, gt_mask, empty_target) for box in pred_boxes]
    return torch.tensor(values, dtype=torch.float32)
