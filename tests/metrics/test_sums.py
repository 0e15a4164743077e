"""Per-frame byte sums against the widened sum, on the sizes and values that exercise the lane arithmetic."""

from __future__ import annotations

import pytest
import torch

from omni_r1.metrics.functional.sums import frame_sums


@pytest.mark.parametrize(("height", "width"), [(1, 1), (3, 5), (7, 9), (64, 32), (480, 854), (17, 2049)])
def test_equals_the_widened_sum(height: int, width: int) -> None:
    generator = torch.Generator().manual_seed(height * width)
    masks = torch.randint(0, 256, (3, height, width), dtype=torch.uint8, generator=generator)
    masks[1] = 255  # every lane at its largest value, over more than one 256-word block at 480x854
    masks[2] = 0
    assert torch.equal(frame_sums(masks), masks.sum(dim=(1, 2), dtype=torch.int64))


def test_bool_views_and_other_dtypes() -> None:
    masks = torch.rand(4, 33, 47) < 0.4
    assert torch.equal(frame_sums(masks), masks.sum(dim=(1, 2)))
    assert torch.equal(frame_sums(masks[:, ::2]), masks[:, ::2].sum(dim=(1, 2)))  # non-contiguous
    values = torch.randint(0, 1000, (2, 5, 6), dtype=torch.int32)
    assert torch.equal(frame_sums(values), values.sum(dim=(1, 2), dtype=torch.int64))
