"""The two small interfaces of the Detail system (S2) and the box prompt that links them.

A *grounder* turns (image, description) pairs into boxes; a *segmenter* turns box prompts at keyframes into
masks over a clip. Both are batched over the whole group of a prompt: the collaboration step hands every rollout's
requests to one call, so an implementation can share work between rollouts (one SAM2 pass, one generate call).
Any class with the right methods plugs in (the paper's ablations swap both parts), no inheritance needed.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Sequence
from typing import NamedTuple, Protocol, runtime_checkable

import torch
from torch import Tensor


class BoxPrompt(NamedTuple):
    """One box prompt of one rollout.

    Args:
        frame: index of the prompted frame in the clip handed to the segmenter.
        box: ``(x1, y1, x2, y2)`` in the clip's original pixels.
        track: prompts of one rollout that share a track are one object prompted at several frames (boxes linked
            to the same ground-truth object); ``None`` makes the prompt an object of its own.
    """

    frame: int
    box: tuple[float, float, float, float]
    track: int | None = None


PromptLike = BoxPrompt | tuple[int, Sequence[float] | Tensor] | tuple[int, Sequence[float] | Tensor, int | None]


@runtime_checkable
class Grounder(Protocol):
    """Boxes for descriptions on images, batched.

    Attributes:
        needs_ground_truth: whether :meth:`ground` reads ``gt_boxes`` (oracle ablations); model grounders set it
            to ``False`` and are never shown the ground truth.
    """

    needs_ground_truth: bool

    def ground(
        self,
        images: Sequence[Tensor],
        descriptions: Sequence[str],
        *,
        task: str = "vos",
        gt_boxes: Sequence[Tensor] | None = None,
    ) -> list[Tensor]:
        """``(m_i, 4)`` float32 boxes ``(x1, y1, x2, y2)`` in each image's own pixels.

        Args:
            images: ``(3, H_i, W_i)`` uint8 images at original resolution.
            descriptions: one description per image.
            task: ``"vos"`` (ground every referred object) or ``"avs"`` (the one sounding object).
            gt_boxes: ``(o_i, 4)`` ground-truth boxes of the objects visible in each image, given only when
                :attr:`needs_ground_truth` is set.
        """
        ...


@runtime_checkable
class Segmenter(Protocol):
    """Masks over a clip from box prompts, for all rollouts of a group at once."""

    def segment(self, frames: Tensor, prompts: Sequence[Sequence[PromptLike]]) -> list[Tensor]:
        """One ``(n, H, W)`` bool mask per rollout: the union of its prompted objects over every clip frame.

        Args:
            frames: ``(n, 3, H, W)`` uint8 clip at original resolution.
            prompts: per rollout, its box prompts (:class:`BoxPrompt` or ``(frame, box[, track])`` tuples); a
                rollout without prompts gets an all-false mask.
        """
        ...


def as_box_prompts(prompts: Sequence[PromptLike], num_frames: int, rollout: int) -> list[BoxPrompt]:
    """Validated :class:`BoxPrompt` objects of one rollout with float32-exact box values.

    Float32 is what the segmenters compute in, so two prompts are the same prompt exactly when these values are.

    Raises:
        ValueError: a prompt that is not ``(frame, box[, track])``, a frame outside the clip, or a box that is not
            4 finite numbers with ``x1 < x2`` and ``y1 < y2`` (the message names the rollout and the prompt).
    """
    out = []
    for prompt in prompts:
        try:
            frame, box, *rest = prompt
            track = rest[0] if rest else None
            values = torch.as_tensor(box, dtype=torch.float32).reshape(-1).tolist()
        except (TypeError, ValueError, RuntimeError) as error:
            message = f"rollout {rollout}: prompt {prompt!r} is not (frame, (x1, y1, x2, y2)[, track])"
            raise ValueError(message) from error
        if len(values) != 4 or not all(math.isfinite(v) for v in values):
            raise ValueError(f"rollout {rollout}: box {box!r} must be 4 finite numbers (x1, y1, x2, y2)")
        if not (values[0] < values[2] and values[1] < values[3]):
            raise ValueError(f"rollout {rollout}: box {values} has no area (need x1 < x2 and y1 < y2)")
        index = _as_index(frame)
        if index is None or not 0 <= index < num_frames:
            raise ValueError(f"rollout {rollout}: prompt frame {frame!r} must be an integer in [0, {num_frames})")
        if track is not None and (isinstance(track, bool) or not isinstance(track, int)):
            raise ValueError(f"rollout {rollout}: track {track!r} must be an int or None")
        out.append(BoxPrompt(index, tuple(values), track))
    return out


def _as_index(value: object) -> int | None:
    """``value`` as an int if it is an integer (Python, numpy or a 0-d integer tensor) and not a bool."""
    if isinstance(value, bool):
        return None
    try:
        return operator.index(value)
    except TypeError:
        return None


def check_frames(frames: Tensor) -> tuple[int, int, int]:
    """``(n, H, W)`` of a uint8 ``(n, 3, H, W)`` clip.

    Raises:
        ValueError: any other shape or dtype.
    """
    if frames.ndim != 4 or frames.shape[1] != 3 or frames.dtype != torch.uint8:
        raise ValueError(f"segmenter frames must be (n, 3, H, W) uint8, got {tuple(frames.shape)} {frames.dtype}")
    return frames.shape[0], frames.shape[2], frames.shape[3]
