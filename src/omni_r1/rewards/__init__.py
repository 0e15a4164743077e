"""Answer parsing, the Global → Detail keyframe hand-over and every term of the hierarchical reward."""

from __future__ import annotations

from omni_r1.answer.keyframes import (
    Keyframe,
    KeyframeSelection,
    keyframes_from_answer,
    select_keyframes,
    time_to_frame,
)
from omni_r1.answer.outputs import DetailOutput
from omni_r1.answer.parse import ParsedAnswer, Segment, first_answer_block, parse_answer, parse_timestamp
from omni_r1.data.boxes import box_iou, box_iou_matrix, masks_to_boxes_or_empty, matched_ious
from omni_r1.data.targets import ClipTargets
from omni_r1.rewards.format import format_reward, format_reward_batch, matches_think_answer
from omni_r1.rewards.grounding import (
    box_matching_reward,
    box_matching_reward_batch,
    refavs_box_reward,
    refavs_box_reward_batch,
)
from omni_r1.rewards.hierarchical import HierarchicalReward
from omni_r1.rewards.keyframe_quality import (
    div_reward,
    div_reward_batch,
    num_reward,
    num_reward_batch,
    saliency_reward,
    saliency_reward_batch,
)
from omni_r1.rewards.length import length_bonus, length_bonus_batch
from omni_r1.rewards.mask import mask_reward, mask_reward_batch
from omni_r1.rewards.output import RewardOutput
from omni_r1.rewards.refcocog import GroundingAnswer, parse_grounding_answer, refcocog_reward, refcocog_reward_batch
from omni_r1.rewards.structure import structure_reward, structure_reward_batch
from omni_r1.rewards.weights import RewardWeights

__all__ = [
    "ClipTargets",
    "DetailOutput",
    "GroundingAnswer",
    "HierarchicalReward",
    "Keyframe",
    "KeyframeSelection",
    "ParsedAnswer",
    "RewardOutput",
    "RewardWeights",
    "Segment",
    "box_iou",
    "box_iou_matrix",
    "box_matching_reward",
    "box_matching_reward_batch",
    "div_reward",
    "div_reward_batch",
    "first_answer_block",
    "format_reward",
    "format_reward_batch",
    "keyframes_from_answer",
    "length_bonus",
    "length_bonus_batch",
    "mask_reward",
    "mask_reward_batch",
    "masks_to_boxes_or_empty",
    "matched_ious",
    "matches_think_answer",
    "num_reward",
    "num_reward_batch",
    "parse_answer",
    "parse_grounding_answer",
    "parse_timestamp",
    "refavs_box_reward",
    "refavs_box_reward_batch",
    "refcocog_reward",
    "refcocog_reward_batch",
    "saliency_reward",
    "saliency_reward_batch",
    "select_keyframes",
    "structure_reward",
    "structure_reward_batch",
    "time_to_frame",
]
