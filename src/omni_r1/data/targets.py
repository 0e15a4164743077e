"""Ground truth of one prompt over the S1 clip, reduced once and shared by its G completions.

Every VOS reward looks at the ground truth through the frames the Global system saw (the 2-fps clip): the
structure reward at per-(object, frame) presence, R_sal at per-frame union areas, R_A at per-(object, frame)
boxes, R_G at union masks. Computing these once per prompt keeps the per-completion rewards cheap.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from torch import Tensor

from omni_r1.data.boxes import masks_to_boxes_or_empty
from omni_r1.data.types import VideoSample


@dataclass(frozen=True, eq=False)
class ClipTargets:
    """Reduced ground truth of one prompt; build it with :meth:`from_masks` or :meth:`from_sample`.

    Args:
        presence: ``(O, n)`` bool, object ``o`` has a non-empty mask at clip frame ``t``.
        union: ``(n, H, W)`` bool union of all target objects per clip frame.
        union_area: ``(n,)`` float32 foreground pixels of ``union``.
        boxes: ``(O, n, 4)`` float32 ground-truth boxes (all-zero where the object is absent).
        fps: frame rate of the clip; ``duration = n / fps``.
    """

    presence: Tensor
    union: Tensor
    union_area: Tensor
    boxes: Tensor
    fps: float = 2.0

    @property
    def num_objects(self) -> int:
        """O, the number of target objects of the prompt."""
        return self.presence.shape[0]

    @property
    def num_frames(self) -> int:
        """n, the number of frames of the S1 clip."""
        return self.union.shape[0]

    @property
    def duration(self) -> float:
        """Seconds of the clip the Global system saw."""
        return self.num_frames / self.fps

    @classmethod
    def from_masks(cls, masks: Tensor, fps: float = 2.0) -> ClipTargets:
        """Reduce ``(O, n, H, W)`` ground-truth masks of the clip frames (any non-zero pixel is foreground).

        Raises:
            ValueError: masks that are not 4-D, a clip without frames, or a non-positive fps.
        """
        if masks.ndim != 4:
            raise ValueError(f"ground-truth masks: expected (O, n, H, W) over the S1 clip, got {tuple(masks.shape)}")
        if masks.shape[1] < 1:
            raise ValueError("ground-truth masks: the S1 clip has no frames")
        if not (math.isfinite(fps) and fps > 0):
            raise ValueError(f"fps must be a positive finite frame rate, got {fps}")
        foreground = masks != 0
        union = foreground.any(dim=0)  # (n, H, W)
        boxes, presence = masks_to_boxes_or_empty(foreground)  # (O, n, 4), (O, n)
        return cls(
            presence=presence,
            union=union,
            union_area=union.flatten(1).sum(dim=1).float(),
            boxes=boxes,
            fps=float(fps),
        )

    @classmethod
    def from_sample(cls, sample: VideoSample) -> ClipTargets:
        """Ground truth of ``sample`` at its S1 clip frames (``sample.masks[:, sample.s1_indices]``)."""
        if sample.masks.ndim != 4:
            raise ValueError(
                f"VideoSample {sample.video_id}/{sample.exp_id}: masks must be (O, T, H, W), "
                f"got {tuple(sample.masks.shape)}"
            )
        indices = sample.s1_indices.long()
        if indices.numel() and (indices.min() < 0 or indices.max() >= sample.masks.shape[1]):
            raise ValueError(
                f"VideoSample {sample.video_id}/{sample.exp_id}: s1_indices must lie in [0, {sample.masks.shape[1]})"
            )
        return cls.from_masks(sample.masks[:, indices], fps=sample.fps)
