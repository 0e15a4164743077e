"""The weight-free segmenter: box masks carried to every frame from the nearest prompted keyframe.

It stands in for SAM2 where no segmentation weights are wanted (CPU demos, tests, the ablation "what if the
segmenter added nothing beyond the boxes"). It is exact and instant, and it keeps the contract of every
segmenter: one ``(n, H, W)`` bool mask per rollout over the whole clip.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from omni_r1.detail.protocols import PromptLike, as_box_prompts, check_frames


def box_mask(box: Sequence[float], height: int, width: int) -> Tensor:
    """``(H, W)`` bool mask of the pixels whose centre lies in the box.

    A box covers ``[x1, x2) × [y1, y2)`` (continuous extent, as in :mod:`omni_r1.data.boxes`), so the box of a
    mask, ``(x_min, y_min, x_max + 1, y_max + 1)``, fills back exactly the mask's bounding rectangle.
    """
    x1, y1, x2, y2 = (float(v) for v in box)
    cols = torch.arange(width, dtype=torch.float64) + 0.5
    rows = torch.arange(height, dtype=torch.float64) + 0.5
    inside_x = (cols >= x1) & (cols < x2)
    inside_y = (rows >= y1) & (rows < y2)
    return inside_y[:, None] & inside_x[None, :]


class BoxSegmenter:
    """Every frame of a rollout gets the union of the boxes prompted at its nearest prompted frame.

    Ties between an earlier and a later prompted frame go to the earlier one. Track ids are ignored: boxes are
    already the whole answer of this segmenter.
    """

    def segment(self, frames: Tensor, prompts: Sequence[Sequence[PromptLike]]) -> list[Tensor]:
        """See :meth:`omni_r1.detail.protocols.Segmenter.segment`."""
        num_frames, height, width = check_frames(frames)
        masks = []
        for rollout, rollout_prompts in enumerate(prompts):
            checked = as_box_prompts(rollout_prompts, num_frames, rollout)
            if not checked:
                masks.append(torch.zeros(num_frames, height, width, dtype=torch.bool))
                continue
            keyframes = sorted({prompt.frame for prompt in checked})
            per_keyframe = torch.zeros(len(keyframes), height, width, dtype=torch.bool)  # (k, H, W)
            for prompt in checked:
                per_keyframe[keyframes.index(prompt.frame)] |= box_mask(prompt.box, height, width)
            distance = (torch.arange(num_frames)[:, None] - torch.tensor(keyframes)[None, :]).abs()  # (n, k)
            masks.append(per_keyframe[distance.argmin(dim=1)])  # argmin takes the first, i.e. earlier, on ties
        return masks
