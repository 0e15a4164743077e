"""The Global → Detail contract: the answer format, its parser, the keyframe hand-over and the shared records.

Everything both systems and the rewards agree on lives here, below all of them: the timestamp format and the
reference answers the SFT stage writes, :func:`parse_answer` (never raises on a completion), the keyframe selection
and the :class:`Handover` made once per completion.
"""

from __future__ import annotations

from omni_r1.answer.handover import Handover, HandoverConfig, make_handover, make_handovers
from omni_r1.answer.keyframes import Keyframe, KeyframeSelection, keyframes_from_answer, select_keyframes, time_to_frame
from omni_r1.answer.outputs import DetailOutput
from omni_r1.answer.parse import ParsedAnswer, Segment, first_answer_block, parse_answer, parse_timestamp
from omni_r1.answer.timestamps import format_timestamp

__all__ = [
    "DetailOutput",
    "Handover",
    "HandoverConfig",
    "Keyframe",
    "KeyframeSelection",
    "ParsedAnswer",
    "Segment",
    "first_answer_block",
    "format_timestamp",
    "keyframes_from_answer",
    "make_handover",
    "make_handovers",
    "parse_answer",
    "parse_timestamp",
    "select_keyframes",
    "time_to_frame",
]
