"""From grounded boxes to segmenter prompts: one object per box, or boxes linked to ground-truth objects.

Two layouts, a config choice of the collaboration step (SPEC §1):

- ``per_box`` (the paper's batched pass): every box at every keyframe is a SAM2 object of its own; a rollout's
  mask is the union of its objects.
- ``per_object`` (the reference code's per-rollout server): at each keyframe the boxes are matched one-to-one to
  the ground-truth objects visible there (Hungarian matching on IoU, scipy), and the boxes matched to one object
  form one track, i.e. one SAM2 object prompted at several keyframes. Boxes left without an object are dropped,
  as in the reference code. Training-time only: it needs the ground truth.
"""

from __future__ import annotations

from collections.abc import Sequence

from scipy.optimize import linear_sum_assignment
from torch import Tensor

from omni_r1.data.boxes import as_boxes, box_iou_matrix
from omni_r1.data.targets import ClipTargets
from omni_r1.detail.protocols import BoxPrompt


def _box(row: Tensor) -> tuple[float, float, float, float]:
    x1, y1, x2, y2 = (float(v) for v in row)
    return x1, y1, x2, y2


def per_box_prompts(boxes: Sequence[Tensor], keyframes: Sequence[int]) -> list[BoxPrompt]:
    """Every box its own object, prompted at its keyframe."""
    return [BoxPrompt(frame, _box(row)) for frame, rows in zip(keyframes, boxes, strict=True) for row in as_boxes(rows)]


def per_object_prompts(boxes: Sequence[Tensor], keyframes: Sequence[int], targets: ClipTargets) -> list[BoxPrompt]:
    """Boxes linked to ground-truth objects: track ``o`` holds the boxes matched to object ``o`` per keyframe.

    Args:
        boxes: per keyframe, ``(m_k, 4)`` boxes in original-frame pixels.
        keyframes: the keyframes' indices in the clip of ``targets``.
        targets: the prompt's reduced ground truth (boxes and presence per object and clip frame).

    Returns:
        Prompts with ``track`` set to the matched object's index; unmatched boxes and objects absent from a
        keyframe give none.
    """
    prompts = []
    for frame, rows in zip(keyframes, boxes, strict=True):
        pred = as_boxes(rows, f"boxes at keyframe {frame}")
        present = targets.presence[:, frame].nonzero().flatten()  # objects visible at this keyframe
        if pred.shape[0] == 0 or present.numel() == 0:
            continue
        iou = box_iou_matrix(pred, targets.boxes[present, frame])  # (m, present)
        for row, col in zip(*linear_sum_assignment(iou.numpy(), maximize=True)):
            prompts.append(BoxPrompt(frame, _box(pred[row]), int(present[col])))
    return prompts
