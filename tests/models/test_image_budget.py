"""Images get their own pixel budget: the authors' image path allows up to 1600·28·28, a video frame 128·28·28."""

from __future__ import annotations

import torch

from omni_r1.models.global_system import GlobalSystem
from omni_r1.models.preprocess import AUTHORS_IMAGE_MAX_PIXELS, PixelBudget, image_budget

FRAMES = PixelBudget(min_pixels=2 * 28 * 28, max_pixels=4 * 28 * 28)


def test_default_image_budget_is_the_authors() -> None:
    assert image_budget(FRAMES, None) == PixelBudget(min_pixels=2 * 28 * 28, max_pixels=AUTHORS_IMAGE_MAX_PIXELS)
    assert image_budget(FRAMES, FRAMES) == FRAMES  # the kit's former behaviour


def test_images_are_resized_with_their_budget_videos_with_theirs(refavs_batch) -> None:
    sample = refavs_batch[0]  # RefAVS: S1 sees the first frame as an image
    h, w = sample.frames.shape[-2:]
    assert h * w > 4 * 28 * 28  # larger than the frame budget, so the two budgets give different sizes
    former = GlobalSystem("tiny://qwen2.5-omni", pixels=FRAMES, image_pixels=FRAMES)
    authors = GlobalSystem("tiny://qwen2.5-omni", pixels=FRAMES)
    (small,) = former.model_image_sizes(former.prompt_inputs([sample]))
    (large,) = authors.model_image_sizes(authors.prompt_inputs([sample]))
    assert small[0] * small[1] <= 4 * 28 * 28 < large[0] * large[1] <= AUTHORS_IMAGE_MAX_PIXELS
    assert torch.equal(torch.tensor(former.pixels.as_size()["longest_edge"]), torch.tensor(4 * 28 * 28))
