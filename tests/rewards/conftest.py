"""Small synthetic ground truth shared by the reward tests.

Clip of n = 6 frames at 2 fps (3 s), 8×8 pixels, two target objects:

- object 0 at frames 0–3, rows 1–2 × cols 1–3 (area 6, box (1, 1, 4, 3));
- object 1 at frames 2–5, rows 4–7 × cols 4–7 (area 16, box (4, 4, 8, 8)).

Union areas per frame: 6, 6, 22, 22, 16, 16.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch

from omni_r1.data.types import VideoSample
from omni_r1.rewards import ClipTargets


def clip_masks() -> torch.Tensor:
    """``(2, 6, 8, 8)`` bool masks described in the module docstring."""
    masks = torch.zeros(2, 6, 8, 8, dtype=torch.bool)
    masks[0, 0:4, 1:3, 1:4] = True
    masks[1, 2:6, 4:8, 4:8] = True
    return masks


def video_sample(task: str = "vos", masks: torch.Tensor | None = None) -> VideoSample:
    """A sample whose S1 clip is every other frame of a 12-frame video; the odd frames hold decoy masks.

    The decoys (full-frame masks) make any reward that forgets ``s1_indices`` visibly wrong.
    """
    clip = clip_masks() if masks is None else masks
    objects, frames, height, width = clip.shape
    full = torch.ones(objects, 2 * frames, height, width, dtype=torch.bool)
    full[:, 0::2] = clip
    return VideoSample(
        dataset="synthetic",
        task=task,
        video_id="vid",
        exp_id="0",
        expression="the target",
        expression_type=0,
        frames=torch.zeros(2 * frames, 3, height, width, dtype=torch.uint8),
        frame_names=[f"{i:05d}" for i in range(2 * frames)],
        s1_indices=torch.arange(0, 2 * frames, 2),
        masks=full,
        obj_ids=list(range(objects)),
    )


@pytest.fixture
def masks() -> torch.Tensor:
    return clip_masks()


@pytest.fixture
def targets() -> ClipTargets:
    return ClipTargets.from_masks(clip_masks(), fps=2.0)


@pytest.fixture
def make_sample() -> Callable[..., VideoSample]:
    return video_sample
