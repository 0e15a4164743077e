"""Hand-over from the Global to the Detail system: answer moments → keyframe indices of the 2-fps clip.

A timestamp ``t`` maps to frame ``min(int(t * fps), n - 1)`` of the S1 clip (negative times to 0). Which frames a
segment contributes depends on ``mode``:

- ``"start"`` (the kit's default, SPEC §1): one frame per segment, from its start time.
- ``"interval"`` (the authors' code): every frame from the start frame to the end frame.

The contributed frames of all segments, repeats included, form :attr:`KeyframeSelection.raw_indices`; R_num
counts its unique values and R_div its repeats, before the cap. The keyframes handed to the Detail system are the
first ``max_keyframes`` (K0 = 4) unique indices in ascending order, each labelled with the description of the first
segment (in writing order) whose frame range contains it. A segment's range is ``[start frame, max(start frame,
end frame)]``, so a reversed segment covers one frame.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal

from omni_r1.answer.parse import ParsedAnswer

KeyframeMode = Literal["start", "interval"]
KEYFRAME_MODES: tuple[str, ...] = ("start", "interval")


@dataclass(frozen=True)
class Keyframe:
    """One frame handed to the Detail system.

    Args:
        index: position in the S1 clip (``0 .. n-1``), not in the original video.
        description: the rewritten description the grounder is prompted with at this frame.
    """

    index: int
    description: str


@dataclass(frozen=True)
class KeyframeSelection:
    """Everything the keyframe rewards need from one completion.

    Args:
        keyframes: at most ``max_keyframes`` unique keyframes, ascending.
        raw_indices: every frame contributed by every segment, in writing order, repeats included.
        segment_lengths: frames covered by each segment (``end frame - start frame + 1``, at least 1).
        max_keyframes: the cap K0 used for ``keyframes``; R_num is defined relative to it.
    """

    keyframes: list[Keyframe] = field(default_factory=list)
    raw_indices: list[int] = field(default_factory=list)
    segment_lengths: list[int] = field(default_factory=list)
    max_keyframes: int = 4

    @property
    def indices(self) -> list[int]:
        """Clip indices of the selected keyframes."""
        return [keyframe.index for keyframe in self.keyframes]

    @property
    def num_unique(self) -> int:
        """U of R_num: unique frames over all segments, before the K0 cap."""
        return len(set(self.raw_indices))

    @property
    def num_duplicates(self) -> int:
        """Repeated frames over all segments (each extra occurrence counts once), penalised by R_div."""
        return len(self.raw_indices) - self.num_unique


def time_to_frame(seconds: float, num_frames: int, fps: float = 2.0) -> int:
    """Clip frame of a timestamp: ``min(int(seconds * fps), num_frames - 1)``, negative (or NaN) → 0.

    Clamping happens before ``int`` so that huge finite times never overflow.
    """
    position = seconds * fps
    if not position > 0:  # also catches NaN
        return 0
    if position >= num_frames - 1:
        return num_frames - 1
    return int(position)


def _check_clip(num_frames: int, fps: float, max_keyframes: int, mode: str) -> None:
    if num_frames < 1:
        raise ValueError(f"num_frames must be >= 1 (frames of the S1 clip), got {num_frames}")
    if not (math.isfinite(fps) and fps > 0):
        raise ValueError(f"fps must be a positive finite frame rate, got {fps}")
    if max_keyframes < 1:
        raise ValueError(f"max_keyframes must be >= 1, got {max_keyframes}")
    if mode not in KEYFRAME_MODES:
        raise ValueError(f"keyframe mode must be one of {KEYFRAME_MODES}, got {mode!r}")


def select_keyframes(
    parsed: ParsedAnswer | None,
    num_frames: int,
    fps: float = 2.0,
    max_keyframes: int = 4,
    mode: KeyframeMode = "start",
) -> KeyframeSelection:
    """Keyframes plus the raw frame list and segment lengths of one parsed answer (see the module docstring).

    Args:
        parsed: output of :func:`~omni_r1.answer.parse.parse_answer`; ``None`` gives an empty selection.
        num_frames: frames ``n`` of the S1 clip.
        fps: frame rate the S1 clip is presented at.
        max_keyframes: K0, the most keyframes handed over.
        mode: ``"start"`` or ``"interval"``.

    Raises:
        ValueError: a clip or cap that cannot hold a keyframe, or an unknown mode.
    """
    _check_clip(num_frames, fps, max_keyframes, mode)
    if parsed is None:
        return KeyframeSelection(max_keyframes=max_keyframes)
    ranges = []
    for segment in parsed.segments:
        first = time_to_frame(segment.start, num_frames, fps)
        ranges.append((first, max(first, time_to_frame(segment.end, num_frames, fps))))
    if mode == "start":
        raw = [first for first, _ in ranges]
    else:
        raw = [index for first, last in ranges for index in range(first, last + 1)]
    keyframes = []
    for index in sorted(set(raw))[:max_keyframes]:
        owner = next(seg for seg, (first, last) in zip(parsed.segments, ranges) if first <= index <= last)
        keyframes.append(Keyframe(index=index, description=owner.description))
    return KeyframeSelection(
        keyframes=keyframes,
        raw_indices=raw,
        segment_lengths=[last - first + 1 for first, last in ranges],
        max_keyframes=max_keyframes,
    )


def keyframes_from_answer(
    parsed: ParsedAnswer | None,
    num_frames: int,
    fps: float = 2.0,
    max_keyframes: int = 4,
    mode: KeyframeMode = "start",
) -> list[Keyframe]:
    """The at most K0 unique, ascending keyframes handed to the Detail system (see :func:`select_keyframes`)."""
    return select_keyframes(parsed, num_frames, fps=fps, max_keyframes=max_keyframes, mode=mode).keyframes
