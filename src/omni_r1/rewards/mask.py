"""R_G: the segmentation reward of the collaboration, from the Detail system's propagated masks.

The mean over every clip frame of J (DAVIS region similarity) between the union of predicted masks and the union
of ground-truth masks; any non-zero pixel is foreground and a frame where both are empty scores 1. It is the
only term that sees the whole clip rather than the keyframes, so it rewards keyframes and descriptions from which
the segmenter can track the target everywhere. Range ``[0, 1]``.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor


def mask_reward(pred: Tensor, gt: Tensor) -> float:
    """R_G of one rollout, in ``[0, 1]``; a clip without frames gives 0.

    Args:
        pred: ``(n, H, W)`` union of predicted masks per clip frame, at the ground truth's resolution.
        gt: ``(n, H, W)`` union of ground-truth masks per clip frame.

    Raises:
        ValueError: the two are not both ``(n, H, W)`` of the same shape.
    """
    if pred.ndim != 3 or pred.shape != gt.shape:
        raise ValueError(
            f"mask_reward: predicted masks {tuple(pred.shape)} must be (n, H, W) like the ground truth "
            f"{tuple(gt.shape)}; resize predictions to the original resolution first"
        )
    if pred.shape[0] == 0:
        return 0.0
    pred, gt = (pred != 0).flatten(1), (gt != 0).flatten(1)  # (n, H*W)
    inter = (pred & gt).sum(dim=1).double()
    union = (pred | gt).sum(dim=1).double()
    per_frame = torch.where(union > 0, inter / union.clamp(min=1), 1.0)
    return float(per_frame.mean())


def mask_reward_batch(preds: Sequence[Tensor], gt: Tensor) -> Tensor:
    """``(G,)`` float32 R_G of a group sharing one ground truth."""
    return torch.tensor([mask_reward(pred, gt) for pred in preds], dtype=torch.float32)
