"""Hand-over from the Global to the Detail system: answer moments → keyframe indices of the 2-fps clip.

A timestamp ``t`` maps to frame ``min(int(t * fps), n - 1)`` of the S1 clip (negative times to 0). With
``drop_invalid`` (the authors' ``time_reward_multi_time``), a segment that is not inside the clip, i.e. fails
``0 <= start <= end <= n / fps`` (:func:`segment_in_clip`), contributes nothing: it is neither handed over nor
counted by R_num / R_div. Which frames a kept segment contributes depends on ``mode``:

- ``"interval"`` (the authors' code): every frame from the start frame to the end frame.
- ``"start"`` (SPEC §1, the kit's former default): one frame per segment, from its start time.

The contributed frames of all kept segments, repeats included, form :attr:`KeyframeSelection.raw_indices`; R_num
counts its unique values and R_div its repeats, before the cap. The keyframes handed to the Detail system are the
first ``max_keyframes`` (K0 = 4) unique indices in ascending order (the authors' ``np.unique(...)[:4]``), each
labelled with the description of the first kept segment (in writing order) whose frame range contains it. A
segment's range is ``[start frame, max(start frame, end frame)]``, so a reversed segment (kept only without
``drop_invalid``) covers one frame.

K0, the mode and ``drop_invalid`` have no defaults here: they are set in one place,
:class:`~omni_r1.answer.handover.HandoverConfig`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal

from omni_r1.answer.parse import ParsedAnswer, Segment

KeyframeMode = Literal["interval", "start"]
KEYFRAME_MODES: tuple[str, ...] = ("interval", "start")


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
        raw_indices: every frame contributed by every kept segment, in writing order, repeats included.
        segment_lengths: frames covered by each kept segment (``end frame - start frame + 1``, at least 1).
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


def segment_in_clip(segment: Segment, duration: float) -> bool:
    """Whether a moment lies inside a clip of ``duration`` seconds: ``0 <= start <= end <= duration``.

    The authors' validity rule (``start_seconds > end_seconds or end_seconds > total_duration`` drops a moment;
    their timestamp pattern cannot express a negative time, the kit's parser can, hence ``0 <=``). The structure
    reward's time-consistency bonus uses the same rule.
    """
    return 0.0 <= segment.start <= segment.end <= duration


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
    *,
    max_keyframes: int,
    mode: KeyframeMode,
    drop_invalid: bool,
) -> KeyframeSelection:
    """Keyframes plus the raw frame list and segment lengths of one parsed answer (see the module docstring).

    Args:
        parsed: output of :func:`~omni_r1.answer.parse.parse_answer`; ``None`` gives an empty selection.
        num_frames: frames ``n`` of the S1 clip.
        fps: frame rate the S1 clip is presented at.
        max_keyframes: K0, the most keyframes handed over.
        mode: ``"interval"`` or ``"start"``.
        drop_invalid: leave out the segments that are not inside the clip (:func:`segment_in_clip`).

    Raises:
        ValueError: a clip or cap that cannot hold a keyframe, or an unknown mode.
    """
    _check_clip(num_frames, fps, max_keyframes, mode)
    if parsed is None:
        return KeyframeSelection(max_keyframes=max_keyframes)
    duration = num_frames / fps
    segments = [s for s in parsed.segments if segment_in_clip(s, duration)] if drop_invalid else parsed.segments
    ranges = []
    for segment in segments:
        first = time_to_frame(segment.start, num_frames, fps)
        ranges.append((first, max(first, time_to_frame(segment.end, num_frames, fps))))
    if mode == "start":
        raw = [first for first, _ in ranges]
    else:
        raw = [index for first, last in ranges for index in range(first, last + 1)]
    keyframes = []
    for index in sorted(set(raw))[:max_keyframes]:
        owner = next(seg for seg, (first, last) in zip(segments, ranges) if first <= index <= last)
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
    *,
    max_keyframes: int,
    mode: KeyframeMode,
    drop_invalid: bool,
) -> list[Keyframe]:
    """The at most K0 unique, ascending keyframes handed to the Detail system (see :func:`select_keyframes`)."""
    selection = select_keyframes(
        parsed, num_frames, fps, max_keyframes=max_keyframes, mode=mode, drop_invalid=drop_invalid
    )
    return selection.keyframes
