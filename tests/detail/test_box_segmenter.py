"""The weight-free BoxSegmenter and the prompt checks every segmenter shares."""

from __future__ import annotations

import pytest
import torch

from omni_r1.data.boxes import masks_to_boxes_or_empty
from omni_r1.detail import BoxPrompt, BoxSegmenter, box_mask


def test_box_mask_by_hand() -> None:
    expected = torch.zeros(5, 6, dtype=torch.bool)
    expected[1:3, 1:4] = True
    assert torch.equal(box_mask((1, 1, 4, 3), 5, 6), expected)
    # Pixel centres 0.5 and 1.5 lie in [0.4, 2.5); only the centre 1.5 lies in [0.6, 2.4).
    fractional = torch.zeros(4, 4, dtype=torch.bool)
    fractional[1, 0:2] = True
    assert torch.equal(box_mask((0.4, 0.6, 2.5, 2.4), 4, 4), fractional)
    assert not box_mask((10, 10, 20, 20), 4, 4).any()


def test_box_of_a_mask_fills_back_its_rectangle() -> None:
    mask = torch.zeros(7, 9, dtype=torch.bool)
    mask[2, 3] = mask[5, 6] = True
    box, present = masks_to_boxes_or_empty(mask)
    assert bool(present)
    rectangle = torch.zeros_like(mask)
    rectangle[2:6, 3:7] = True
    assert torch.equal(box_mask(box.tolist(), 7, 9), rectangle)


def test_nearest_keyframe_masks_by_hand() -> None:
    frames = torch.zeros(5, 3, 4, 6, dtype=torch.uint8)
    a, b, c = (0, 0, 2, 2), (3, 1, 6, 4), (0, 2, 1, 4)
    prompts = [
        [BoxPrompt(1, a), (3, b), (3, torch.tensor(c))],  # frames 0, 1, 2 (tie → earlier) from 1; 3, 4 from 3
        [(4, a, 7)],
        [],
    ]
    masks = BoxSegmenter().segment(frames, prompts)
    assert [m.shape for m in masks] == [(5, 4, 6)] * 3 and all(m.dtype == torch.bool for m in masks)
    first, later = box_mask(a, 4, 6), box_mask(b, 4, 6) | box_mask(c, 4, 6)
    assert torch.equal(masks[0], torch.stack([first, first, first, later, later]))
    assert torch.equal(masks[1], first.expand(5, 4, 6))
    assert not masks[2].any()


@pytest.mark.parametrize(
    ("prompt", "message"),
    [
        ((5, (0, 0, 1, 1)), r"rollout 1: prompt frame 5 must be an integer in \[0, 5\)"),
        ((1.0, (0, 0, 1, 1)), "must be an integer"),
        ((True, (0, 0, 1, 1)), "must be an integer"),
        ((1, (0, 0, 1)), "4 finite numbers"),
        ((1, (0, 0, float("nan"), 1)), "4 finite numbers"),
        ((1, (2, 0, 1, 1)), "no area"),
        ((1, (0, 0, 1, 1), "a"), "track"),
        ((1,), "is not"),
    ],
)
def test_bad_prompts_name_the_rollout(prompt: tuple, message: str) -> None:
    frames = torch.zeros(5, 3, 4, 6, dtype=torch.uint8)
    with pytest.raises(ValueError, match=message):
        BoxSegmenter().segment(frames, [[], [prompt]])


def test_bad_frames() -> None:
    with pytest.raises(ValueError, match=r"\(n, 3, H, W\) uint8"):
        BoxSegmenter().segment(torch.zeros(5, 3, 4, 6), [[]])
