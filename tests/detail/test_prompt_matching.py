"""Boxes → segmenter prompts: one object per box, or Hungarian-linked to ground-truth objects."""

from __future__ import annotations

import torch

from omni_r1.data.targets import ClipTargets
from omni_r1.detail import BoxPrompt, per_box_prompts, per_object_prompts


def targets() -> ClipTargets:
    """Two objects over 3 frames of 10×10: object 0 at rows/cols 0–3 everywhere, object 1 at 5–8 on frames 1–2."""
    masks = torch.zeros(2, 3, 10, 10, dtype=torch.bool)
    masks[0, :, 0:4, 0:4] = True
    masks[1, 1:, 5:9, 5:9] = True
    return ClipTargets.from_masks(masks)


def test_per_box_prompts() -> None:
    boxes = [torch.tensor([[0.0, 0, 4, 4], [5, 5, 9, 9]]), torch.zeros(0, 4), torch.tensor([[1.0, 1, 2, 2]])]
    assert per_box_prompts(boxes, [0, 1, 2]) == [
        BoxPrompt(0, (0.0, 0.0, 4.0, 4.0)),
        BoxPrompt(0, (5.0, 5.0, 9.0, 9.0)),
        BoxPrompt(2, (1.0, 1.0, 2.0, 2.0)),
    ]


def test_per_object_links_by_hungarian_iou() -> None:
    near1, near0, extra = [5.0, 5, 9, 8], [0.0, 0, 4, 3], [0.0, 6, 2, 9]
    boxes = [
        torch.tensor([extra, near0]),  # frame 0: only object 0 is visible; the better box wins, the other is dropped
        torch.tensor([near1, near0, extra]),  # frame 1: listed in swapped order; the extra box is dropped
        torch.zeros(0, 4),  # frame 2: no box, no prompt
    ]
    prompts = per_object_prompts(boxes, [0, 1, 2], targets())
    assert sorted(prompts) == sorted(
        [
            BoxPrompt(0, tuple(near0), 0),
            BoxPrompt(1, tuple(near1), 1),
            BoxPrompt(1, tuple(near0), 0),
        ]
    )


def test_per_object_keeps_a_poor_match() -> None:
    # One box, one visible object, no overlap: the assignment still links them (the reference code does too).
    prompts = per_object_prompts([torch.tensor([[6.0, 0, 9, 3]])], [0], targets())
    assert prompts == [BoxPrompt(0, (6.0, 0.0, 9.0, 3.0), 0)]
