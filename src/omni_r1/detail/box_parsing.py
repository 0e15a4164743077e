"""Boxes out of a grounder's text: ``bbox_2d`` JSON → ``(m, 4)`` boxes in original-frame pixels.

A grounder is a VLM decoding greedily, and its text is anything from clean JSON to a truncated list, markdown
fences or nonsense. The boxes are therefore found by pattern rather than by decoding the JSON: every
``"bbox_2d": [x1, y1, x2, y2]`` occurrence counts, wherever it sits, and text without one gives no box. Parsing
never raises; its work is bounded by :data:`MAX_SCAN_CHARS` and :data:`MAX_BOXES`.

Qwen2.5-VL style grounders answer in the absolute pixel coordinates of the image *after* the processor resized
it, so the boxes are scaled back by ``original / resized`` per axis, clipped to the frame and dropped when nothing
of them is left (a box with no area overlaps nothing and cannot prompt a segmenter).
"""

from __future__ import annotations

import math
import re

import torch
from torch import Tensor

MAX_SCAN_CHARS = 16_384
MAX_BOXES = 32

_NUMBER = r"\s*([-+]?(?:\d{1,32}(?:\.\d{0,32})?|\.\d{1,32})(?:[eE][-+]?\d{1,4})?)\s*"
_BBOX = re.compile(r"""["']?bbox_2d["']?\s*[:=]\s*\[""" + ",".join([_NUMBER] * 4) + r"\]")


def parse_bbox_2d(text: str, max_boxes: int = MAX_BOXES) -> Tensor:
    """Every ``bbox_2d`` box written in ``text``, in the coordinates the text uses.

    Corners are reordered so that ``x1 <= x2`` and ``y1 <= y2`` (a box written right-to-left still names the same
    rectangle); boxes with a non-finite coordinate are skipped.

    Args:
        text: the grounder's decoded output (any string; only the first :data:`MAX_SCAN_CHARS` characters are read).
        max_boxes: keep at most this many boxes, in writing order.

    Returns:
        ``(m, 4)`` float64 boxes ``(x1, y1, x2, y2)``; ``(0, 4)`` when none was found.
    """
    boxes = []
    if not isinstance(text, str):
        return torch.zeros(0, 4, dtype=torch.float64)
    for match in _BBOX.finditer(text[:MAX_SCAN_CHARS]):
        x1, y1, x2, y2 = (float(value) for value in match.groups())
        if not all(math.isfinite(value) for value in (x1, y1, x2, y2)):
            continue
        boxes.append((min(x1, x2), min(y1, y2), max(x1, x2), max(y1, y2)))
        if len(boxes) >= max_boxes:
            break
    return torch.tensor(boxes, dtype=torch.float64).reshape(-1, 4)


def rescale_boxes(boxes: Tensor, resized_hw: tuple[int, int], original_hw: tuple[int, int]) -> Tensor:
    """Boxes from the resized image's pixels to the original frame's, clipped, without empty boxes.

    Args:
        boxes: ``(m, 4)`` boxes in the pixel coordinates of an image of size ``resized_hw``.
        resized_hw: ``(h, w)`` of the image the grounder saw.
        original_hw: ``(H, W)`` of the original frame.

    Returns:
        ``(k, 4)`` float32 boxes, ``k <= m``, inside ``[0, W] × [0, H]`` with positive area.

    Raises:
        ValueError: a non-positive size, or boxes that are not ``(m, 4)``.
    """
    if min(*resized_hw, *original_hw) <= 0:
        raise ValueError(f"rescale_boxes: sizes must be positive, got resized {resized_hw} and original {original_hw}")
    if boxes.ndim != 2 or boxes.shape[1] != 4:
        raise ValueError(f"rescale_boxes: expected (m, 4) boxes, got {tuple(boxes.shape)}")
    (h, w), (height, width) = resized_hw, original_hw
    scale = torch.tensor([width / w, height / h, width / w, height / h], dtype=torch.float64)
    limit = torch.tensor([width, height, width, height], dtype=torch.float64)
    scaled = torch.minimum((boxes.double() * scale).clamp(min=0), limit)
    keep = (scaled[:, 2] > scaled[:, 0]) & (scaled[:, 3] > scaled[:, 1])
    return scaled[keep].float()
