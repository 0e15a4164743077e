"""Which frames of a video the Global system (S1) sees.

The paper states that training clips hold 8-24 uniformly spaced frames; the authors' released code instead draws
the frame count ``f ~ U[16, 24]``, takes ``f`` linspace-spaced frames when the video is longer (else every frame)
and pads the count to even. The kit follows the code (defaults ``min_frames=16``, ``max_frames=24``); set
``min_frames=8`` for the paper's range. The even count matters because Qwen2.5-Omni merges frames in temporal
pairs (temporal patch size 2): an odd clip would have its last frame duplicated silently inside the processor,
shifting the clip duration the timestamps are read against. Evaluation shows S1 at most 24 linspace-spaced frames
(SAM2 still runs over every frame).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import Tensor

from omni_r1.validation import require, require_int


def _linspace_indices(num_frames: int, count: int) -> Tensor:
    """``count`` evenly spaced indices over ``[0, num_frames - 1]``, rounded half up (no banker's rounding)."""
    return torch.floor(torch.linspace(0, num_frames - 1, count, dtype=torch.float64) + 0.5).long()


def validate_frame_range(args: Mapping[str, Any], *, train: bool = True) -> None:
    """Check the ``min_frames`` / ``max_frames`` arguments of a DataModule (see :func:`sample_s1_indices`).

    Args:
        args: the constructor's arguments.
        train: whether the training draw uses ``min_frames`` (evaluation-only modules need ``max_frames`` only).

    Raises:
        ConfigError: a count below 1, or ``min_frames > max_frames`` where training draws from the range.
    """
    require_int("max_frames", args.get("max_frames"), minimum=1)
    if not train:
        return
    lowest = args.get("min_frames")
    require_int("min_frames", lowest, minimum=1)
    highest = args["max_frames"]
    allowed = f"must be <= max_frames ({highest}): training draws the S1 clip length from [min_frames, max_frames]"
    require(lowest <= highest, "min_frames", lowest, allowed)


def sample_s1_indices(
    num_frames: int,
    *,
    train: bool,
    min_frames: int = 16,
    max_frames: int = 24,
    generator: torch.Generator | None = None,
) -> Tensor:
    """Pick the frame indices of the clip shown to S1.

    Args:
        num_frames: length of the video in frames.
        train: training draws the frame count at random and pads it to even; evaluation is deterministic.
        min_frames: lower bound of the training frame-count draw.
        max_frames: upper bound of the training draw and the evaluation cap.
        generator: random source for the training draw (pass a seeded one for reproducible clips).

    Returns:
        ``(n,)`` int64 indices, non-decreasing, within ``[0, num_frames)``. Training: ``n`` is
        ``min(f, num_frames)`` rounded up to even (the pad repeats the last index); evaluation:
        ``n = min(num_frames, max_frames)``.

    Raises:
        ValueError: ``num_frames < 1`` or the bounds are not ``1 <= min_frames <= max_frames``.
    """
    if num_frames < 1:
        raise ValueError(f"num_frames must be >= 1, got {num_frames}")
    if max_frames < 1 or (train and not 1 <= min_frames <= max_frames):
        raise ValueError(f"need 1 <= min_frames <= max_frames, got min_frames={min_frames}, max_frames={max_frames}")
    if not train:
        if num_frames > max_frames:
            return _linspace_indices(num_frames, max_frames)
        return torch.arange(num_frames)
    count = int(torch.randint(min_frames, max_frames + 1, (1,), generator=generator))
    indices = _linspace_indices(num_frames, count) if num_frames > count else torch.arange(num_frames)
    if len(indices) % 2:
        indices = torch.cat([indices, indices[-1:]])
    return indices
