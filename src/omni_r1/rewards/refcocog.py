"""refCOCOg grounding-skill reward (the Seg-Zero reward the paper adds to keep the model's S2 grounding skill).

For a grounding completion whose answer is ``{"bbox_2d": [x1, y1, x2, y2], "points_1": [x, y], "points_2": [x,
y]}``::

    R = max(0, IoU − 0.5)·2 (+0.4 if IoU > 0.5)
        + clip((150 − point distance)·0.02, 0, 1)
        + clip((30 − box L1)·0.05, 0, 1)
        + strict format

so R lies in ``[0, 4.4]``. Definitions, with every coordinate in the pixel frame of the image the model saw:

- box L1: the mean absolute difference of the four coordinates of the predicted and ground-truth boxes.
- point distance: with ground-truth points (the two inscribed-circle centres of the target's mask,
  :func:`~omni_r1.data.points.inscribed_circle_points`, as Seg-Zero and the authors' ``segzero_reward`` in
  ``load_datasets/segzero.py``), the mean distance of the predicted ``points_1``/``points_2`` to them under the
  better of the two pairings, counted only when both predicted points lie inside the predicted box. Without them
  (the kit's former stand-in), the Euclidean distance between the centres of the predicted and ground-truth boxes.
- strict format: 1 when the first JSON object of the answer has ``bbox_2d`` (4 numbers), ``points_1`` and
  ``points_2`` (2 numbers each).

As in the reference, only the first ``<answer>`` block and its first JSON object are read; a term whose inputs are
missing (no box, no points) contributes 0. The grounding prompt (:data:`omni_r1.models.prompts.GROUNDING_TEMPLATE`)
asks for exactly this object, so an answer that gives the box alone scores at most 2.4.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from omni_r1.answer.parse import first_answer_block, iter_json_values, json_objects
from omni_r1.data.boxes import BoxLike, as_box, box_iou

Point = tuple[float, ...]
REFCOCOG_MAX = 4.4
_MAX_ABS_INT = 10**15


@dataclass(frozen=True)
class GroundingAnswer:
    """The first JSON object of a grounding answer.

    Args:
        box: the first ``*bbox*`` key's 4 finite numbers, or ``None``.
        points: the first two ``*points*`` keys' 2 finite numbers each, or ``None``.
        strict_format: the object has ``bbox_2d``, ``points_1`` and ``points_2`` of the right sizes.
    """

    box: tuple[float, ...] | None = None
    points: tuple[Point, Point] | None = None
    strict_format: bool = False


def _numbers(value: object, size: int) -> tuple[float, ...] | None:
    if not isinstance(value, list) or len(value) != size:
        return None
    numbers = []
    for item in value:
        if isinstance(item, bool) or not isinstance(item, int | float):
            return None
        if isinstance(item, int) and abs(item) > _MAX_ABS_INT:  # float() of a huge int overflows
            return None
        if not math.isfinite(float(item)):
            return None
        numbers.append(float(item))
    return tuple(numbers)


def parse_grounding_answer(text: str) -> GroundingAnswer:
    """Box, points and strict-format flag of the first JSON object of the first answer block; never raises."""
    block = first_answer_block(text)
    obj = next((o for value in iter_json_values(block or "") for o in json_objects(value)), None)
    if obj is None:
        return GroundingAnswer()
    box_key = next((key for key in obj if "bbox" in key.lower()), None)
    box = _numbers(obj.get(box_key), 4) if box_key is not None else None
    point_values = [_numbers(obj[key], 2) for key in obj if "points" in key.lower()][:2]
    first, second = (point_values + [None, None])[:2]
    points = (first, second) if first is not None and second is not None else None
    strict = (
        _numbers(obj.get("bbox_2d"), 4) is not None
        and _numbers(obj.get("points_1"), 2) is not None
        and _numbers(obj.get("points_2"), 2) is not None
    )
    return GroundingAnswer(box=box, points=points, strict_format=strict)


def _inside(point: Point, box: Sequence[float]) -> bool:
    return box[0] <= point[0] <= box[2] and box[1] <= point[1] <= box[3]


def point_distance(answer: GroundingAnswer, gt_box: Tensor, gt_points: tuple[Point, Point] | None) -> float | None:
    """Point distance of the module docstring, or ``None`` when the answer lacks what it needs."""
    if answer.box is None:
        return None
    if gt_points is None:
        (x1, y1, x2, y2), (g1, h1, g2, h2) = answer.box, gt_box.tolist()
        return math.dist(((x1 + x2) / 2, (y1 + y2) / 2), ((g1 + g2) / 2, (h1 + h2) / 2))
    if answer.points is None or not all(_inside(point, answer.box) for point in answer.points):
        return None
    (p, q), (a, b) = answer.points, gt_points
    return min(math.dist(p, a) + math.dist(q, b), math.dist(p, b) + math.dist(q, a)) / 2


def _clip01(value: float) -> float:
    return min(1.0, max(0.0, value)) if math.isfinite(value) else 0.0


def refcocog_reward(completion: str, gt_box: BoxLike, gt_points: tuple[Point, Point] | None = None) -> float:
    """refCOCOg reward of one grounding completion, in ``[0, REFCOCOG_MAX]`` (see the module docstring).

    Args:
        completion: the full grounding completion (``<think>…</think><answer>{…}</answer>``).
        gt_box: ground-truth box in the pixel frame of the image the model saw.
        gt_points: the two ground-truth points in that frame, or ``None`` to use box centres.

    Raises:
        ValueError: ``gt_box`` is not 4 numbers.
    """
    gt = as_box(gt_box, "gt_box").reshape(4)
    answer = parse_grounding_answer(completion)
    iou = box_iou(answer.box, gt) if answer.box is not None else 0.0
    iou_term = max(0.0, iou - 0.5) * 2 + (0.4 if iou > 0.5 else 0.0)
    distance = point_distance(answer, gt, gt_points)
    point_term = _clip01((150.0 - distance) * 0.02) if distance is not None else 0.0
    box_term = 0.0
    if answer.box is not None:
        box_l1 = sum(abs(p - g) for p, g in zip(answer.box, gt.tolist())) / 4
        box_term = _clip01((30.0 - box_l1) * 0.05)
    return iou_term + point_term + box_term + (1.0 if answer.strict_format else 0.0)


def refcocog_reward_batch(
    completions: Sequence[str], gt_box: BoxLike, gt_points: tuple[Point, Point] | None = None
) -> Tensor:
    """``(G,)`` float32 refCOCOg rewards of a group sharing one ground truth."""
    return torch.tensor([refcocog_reward(text, gt_box, gt_points) for text in completions], dtype=torch.float32)
