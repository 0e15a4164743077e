"""Structure reward of the authors' code: how well-formed and how well-placed the answer's moments are.

Per JSON object of the answer: 0.2 for being a JSON object, +0.2 when it carries a valid ``start_time``,
``end_time`` and ``description``, +0.2 when ``0 <= start <= end <= duration`` (the hand-over's validity rule,
:func:`~omni_r1.answer.keyframes.segment_in_clip`), and, for those time-consistent objects, + the fraction of
(object, frame) cells of its frame interval whose ground-truth mask is non-empty. The sum is divided by the number
of JSON objects, so the reward lies in ``[0, STRUCTURE_MAX]``; no JSON object → 0.

The interval is ``[min(int(start·fps), n-1), min(int(end·fps), n-1)]``. Text fragments that do not decode as
JSON are not objects (the reference regex also counts undecodable ``{…}`` spans in the denominator).
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import accumulate

import torch
from torch import Tensor

from omni_r1.answer.keyframes import segment_in_clip, time_to_frame
from omni_r1.answer.parse import ParsedAnswer

OBJECT_REWARD = 0.2
ELEMENT_REWARD = 0.2
TIME_CONSISTENCY_REWARD = 0.2
MASK_RATIO_REWARD = 1.0
STRUCTURE_MAX = OBJECT_REWARD + ELEMENT_REWARD + TIME_CONSISTENCY_REWARD + MASK_RATIO_REWARD


def structure_reward(parsed: ParsedAnswer | None, presence: Tensor, fps: float = 2.0) -> float:
    """Structure reward of one completion, in ``[0, STRUCTURE_MAX]`` (see the module docstring).

    Args:
        parsed: the parsed answer, ``None`` when there was none.
        presence: ``(O, n)`` bool, object present at clip frame (``ClipTargets.presence``).
        fps: frame rate of the clip.

    Raises:
        ValueError: ``presence`` is not ``(O, n)`` with ``n >= 1``.
    """
    if presence.ndim != 2 or presence.shape[1] < 1:
        raise ValueError(f"presence: expected (O, n) with n >= 1 clip frames, got {tuple(presence.shape)}")
    if parsed is None or parsed.num_objects == 0:
        return 0.0
    num_objects, num_frames = presence.shape
    duration = num_frames / fps
    # Prefix sums of present objects per frame make each interval's cell count O(1).
    present_before = [0, *accumulate(int(count) for count in presence.sum(dim=0).tolist())]
    total = OBJECT_REWARD * parsed.num_objects
    for segment in parsed.segments:
        total += ELEMENT_REWARD
        if not segment_in_clip(segment, duration):
            continue
        total += TIME_CONSISTENCY_REWARD
        first = time_to_frame(segment.start, num_frames, fps)
        last = time_to_frame(segment.end, num_frames, fps)
        cells = num_objects * (last - first + 1)
        if cells > 0:
            total += MASK_RATIO_REWARD * (present_before[last + 1] - present_before[first]) / cells
    return total / parsed.num_objects


def structure_reward_batch(parsed: Sequence[ParsedAnswer | None], presence: Tensor, fps: float = 2.0) -> Tensor:
    """``(G,)`` float32 structure rewards of a group sharing one ground truth."""
    return torch.tensor([structure_reward(answer, presence, fps) for answer in parsed], dtype=torch.float32)
