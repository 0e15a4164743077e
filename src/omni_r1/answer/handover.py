"""The Global → Detail hand-over, computed once per completion and read by both the Detail system and the reward.

A completion is parsed once (:func:`~omni_r1.answer.parse.parse_answer`) and its moments are mapped to keyframes
once (:func:`~omni_r1.answer.keyframes.select_keyframes`) with one :class:`HandoverConfig` (K0 and the keyframe
mode). The resulting :class:`Handover` is what the Detail system grounds and segments, and what the keyframe
rewards (R_num, R_div, R_sal) and the structure reward score, so the two systems cannot disagree about which
frames were handed over.

Per task:

- ``"vos"`` (ReVOS, MeViS): the keyframes of the parsed moments (at most K0, see :mod:`omni_r1.answer.keyframes`);
  with ``drop_invalid_segments`` a completion without a moment inside the clip hands nothing over, so it is not
  grounded and scores R_num = R_div = R_A = R_G = 0 (the authors skip grounding for it).
- ``"avs"`` (RefAVS): frame 0 with the first moment's description, or — RefAVS answers may be the rewritten
  description as plain text — the answer block's text; nothing when that is empty.
- other tasks (refCOCOg grounding, QA): the parse only; nothing is handed to a Detail system.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from omni_r1.answer.keyframes import KEYFRAME_MODES, Keyframe, KeyframeMode, KeyframeSelection, select_keyframes
from omni_r1.answer.parse import ParsedAnswer, first_answer_block, parse_answer
from omni_r1.data.types import VideoSample
from omni_r1.validation import require_bool, require_choice, require_int


@dataclass(frozen=True)
class HandoverConfig:
    """How answers become keyframes: the one place K0, the keyframe mode and the validity rule are set.

    The defaults are the authors' (``time_reward_multi_time`` in ``load_datasets/revos.py``); the kit's former
    behaviour is ``keyframe_mode="start", drop_invalid_segments=False``.

    Args:
        max_keyframes: K0, the most keyframes handed over per completion (4 in the paper), also R_num's turning
            point and the number of moments in SFT reference answers.
        keyframe_mode: ``"interval"`` (every frame of each moment's interval, the first K0 unique frames in
            ascending order: the authors' code, default) or ``"start"`` (one frame per moment, from its start time:
            SPEC §1, the kit's former default).
        drop_invalid_segments: moments failing ``0 <= start <= end <= clip duration`` are dropped before anything
            is handed over or scored by R_num / R_div, and a completion with no valid moment is not grounded
            (authors, default). ``False`` hands every parsed moment over, clamped into the clip (kit's former).
    """

    max_keyframes: int = 4
    keyframe_mode: KeyframeMode = "interval"
    drop_invalid_segments: bool = True

    def __post_init__(self) -> None:
        self.validate_init_args(
            {
                "max_keyframes": self.max_keyframes,
                "keyframe_mode": self.keyframe_mode,
                "drop_invalid_segments": self.drop_invalid_segments,
            }
        )

    @classmethod
    def validate_init_args(cls, args: Mapping[str, Any]) -> None:
        require_int("max_keyframes", args.get("max_keyframes"), minimum=1)
        require_choice("keyframe_mode", args.get("keyframe_mode"), KEYFRAME_MODES)
        require_bool("drop_invalid_segments", args.get("drop_invalid_segments"))


@dataclass(frozen=True)
class Handover:
    """One completion's hand-over.

    Attributes:
        parsed: the parsed answer, or ``None`` when the completion holds no valid answer block.
        selection: the keyframe selection of the parsed moments (VOS; empty for other tasks). R_num, R_div and
            R_sal read it.
        keyframes: what the Detail system receives: S1-clip indices with their rewritten descriptions.
    """

    parsed: ParsedAnswer | None
    selection: KeyframeSelection = field(default_factory=KeyframeSelection)
    keyframes: list[Keyframe] = field(default_factory=list)

    @property
    def indices(self) -> list[int]:
        """S1-clip indices of the handed-over keyframes."""
        return [keyframe.index for keyframe in self.keyframes]


def _avs_description(completion: str, parsed: ParsedAnswer | None) -> str:
    if parsed is not None and parsed.segments:
        return parsed.segments[0].description
    return (first_answer_block(completion) or "").strip()


def make_handover(completion: str, sample: VideoSample, config: HandoverConfig) -> Handover:
    """The hand-over of one completion of ``sample`` (see the module docstring); never raises on the text.

    Raises:
        ValueError: a VOS sample whose clip cannot hold a keyframe (no frames, a non-positive fps).
    """
    parsed = parse_answer(completion)
    if sample.task == "vos":
        selection = select_keyframes(
            parsed,
            len(sample.s1_indices),
            sample.fps,
            max_keyframes=config.max_keyframes,
            mode=config.keyframe_mode,
            drop_invalid=config.drop_invalid_segments,
        )
        return Handover(parsed, selection, list(selection.keyframes))
    if sample.task == "avs":
        description = _avs_description(completion, parsed)
        keyframes = [Keyframe(0, description)] if description.strip() else []
        return Handover(parsed, KeyframeSelection(max_keyframes=config.max_keyframes), keyframes)
    return Handover(parsed, KeyframeSelection(max_keyframes=config.max_keyframes))


def make_handovers(completions: Sequence[str], sample: VideoSample, config: HandoverConfig) -> list[Handover]:
    """One :class:`Handover` per completion of ``sample``."""
    return [make_handover(text, sample, config) for text in completions]
