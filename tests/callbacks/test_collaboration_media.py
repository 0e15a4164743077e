"""The collaboration strip is readable: panels enlarged, boxes and masks drawn, the description as a caption."""

from __future__ import annotations

import torch

from omni_r1.answer.outputs import DetailOutput
from omni_r1.callbacks.collaboration_media import CAPTION_LINES, MIN_PANEL_HEIGHT, caption, collaboration_strip


def test_strip_has_one_enlarged_captioned_panel_per_keyframe(revos_batch) -> None:
    sample = revos_batch[0]
    n = len(sample.s1_indices)
    h, w = sample.frames.shape[-2:]
    box = torch.tensor([[2.0, 2.0, w / 2, h / 2]])
    detail = DetailOutput(keyframes=[0, n - 1], boxes=[box, torch.zeros(0, 4)], masks=torch.zeros(n, h, w, dtype=bool))
    strip = collaboration_strip(sample, detail, ["the red square", "the blue circle"])
    factor = -(-MIN_PANEL_HEIGHT // h)
    band = 14 * CAPTION_LINES + 6
    assert strip.dtype == torch.uint8 and strip.shape == (3, h * factor + band, 2 * w * factor)
    first = strip[:, : h * factor, : w * factor]
    red = (first[0] == 255) & (first[1] == 0) & (first[2] == 0)
    assert red.any()  # the grounder's box, drawn on the enlarged frame
    assert (strip[:, h * factor :, :] < 128).any()  # caption text (dark pixels on the white band)


def test_caption_band_without_text_is_blank() -> None:
    panel = torch.zeros(3, 10, 40, dtype=torch.uint8)
    blank, written = caption(panel, ""), caption(panel, "a long description " * 5)
    assert blank.shape == written.shape and bool((blank[:, 10:] == 255).all())
    assert not bool((written[:, 10:] == 255).all())
