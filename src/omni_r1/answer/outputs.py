"""What the Detail system made of one rollout's hand-over: keyframes, boxes and masks, read by the rewards."""

from __future__ import annotations

from dataclasses import dataclass, field

from torch import Tensor


@dataclass
class DetailOutput:
    """What the Detail system produced for one rollout; the collaboration code fills one per completion.

    Args:
        keyframes: S1-clip indices the grounder ran on, i.e. the hand-over of
            :func:`~omni_r1.answer.keyframes.select_keyframes`; empty when the completion handed nothing over.
        boxes: per keyframe, the ``(m_k, 4)`` predicted boxes ``(x1, y1, x2, y2)`` in original-frame pixels.
        masks: ``(n, H, W)`` union of the propagated masks over the S1 clip frames at original resolution, or
            ``None`` when no segmenter ran.
    """

    keyframes: list[int] = field(default_factory=list)
    boxes: list[Tensor] = field(default_factory=list)
    masks: Tensor | None = None

    def __post_init__(self) -> None:
        if len(self.boxes) != len(self.keyframes):
            raise ValueError(f"DetailOutput: {len(self.boxes)} box lists for {len(self.keyframes)} keyframes")
