"""The ground truth of a synthetic ReVOS / MeViS expression, as a scorer compares predictions with it."""

from __future__ import annotations

import numpy as np

from omni_r1.data.synthetic.mevis import SyntheticMeViS
from omni_r1.data.synthetic.revos import SyntheticReVOS


def expression_target(data: SyntheticReVOS | SyntheticMeViS, split: str, video: str, exp_id: str) -> np.ndarray:
    """``(T, H, W)`` bool union of one expression's objects: the ground truth a scorer compares predictions with.

    Args:
        data: built ReVOS or MeViS content.
        split: split of ``video`` in ``data.meta``.
        video: video id.
        exp_id: expression id within the video.
    """
    anno_ids = data.meta[split]["videos"][video]["expressions"][exp_id]["anno_id"]
    union = np.zeros(data.videos[video].masks.shape[1:], dtype=bool)  # (T, H, W)
    for anno in anno_ids:
        for t, mask in enumerate(data.masks[anno]):
            if mask is not None:
                union[t] |= mask
    return union
