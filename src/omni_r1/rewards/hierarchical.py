"""The hierarchical reward R = Σ_i w_i·term_i over one prompt's group of G completions.

Which terms a prompt gets depends on its task (``VideoSample.task``):

- ``"vos"`` (ReVOS, MeViS): format, structure, R_num, R_div, R_sal (from the completion and the ground truth), R_A
  (``box``, from the Detail system's boxes) and R_G (``mask``, from its propagated masks).
- ``"avs"`` (RefAVS): format and the frame-0 box IoU (``refavs``) of the first box the grounder gave for the
  rollout's first keyframe (frame 0); a completion without a non-empty answer block scores 0 there, as in the
  reference.
- ``"grounding"`` (refCOCOg skill data): format and the refCOCOg reward of the completion itself, against the
  target's box and (by default) its two inscribed-circle points.

The length bonus (``length``, on by default as in both authors' scripts: ``--len_control true``) applies to every
task when token counts are given; its "accuracy" is the weighted sum of the task terms other than format, as in
the authors' trainer where format is a separate reward (``rewards_per_func[:, 0]``).

A term whose inputs are missing (no detail outputs, no predicted masks, no token counts) is left out of the
result when its weight is 0 and is an error otherwise, so a run cannot silently train on a reward it did not
compute. Every term is returned on its own, unweighted, for logging.

Nothing pays for nothing (``docs/rewards_for_nothing.md`` tabulates every term): a rollout that gives the
segmenter no box scores R_G = 0 (the authors make no SAM2 call then), and by default (``pay_for_nothing=False``)
an empty answer block earns no format reward, a VOS completion that hands no keyframe over earns no structure
credit (hence no length bonus), and a segmentation with no foreground in any frame earns R_G = 0 rather than the
DAVIS J of its target-absent frames. ``pay_for_nothing=True`` restores the authors' values of those three.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import fields
from typing import Any, Literal, get_args

import torch
from torch import Tensor

from omni_r1.answer.handover import Handover, HandoverConfig, make_handovers
from omni_r1.answer.outputs import DetailOutput
from omni_r1.answer.parse import first_answer_block
from omni_r1.data.boxes import as_boxes, masks_to_boxes_or_empty
from omni_r1.data.points import inscribed_circle_points
from omni_r1.data.targets import ClipTargets
from omni_r1.data.types import VideoSample
from omni_r1.rewards.format import format_reward_batch
from omni_r1.rewards.grounding import EMPTY_TARGETS, EmptyTarget, box_matching_reward_batch, refavs_box_reward
from omni_r1.rewards.keyframe_quality import div_reward_batch, num_reward_batch, saliency_reward_batch
from omni_r1.rewards.length import length_bonus_batch
from omni_r1.rewards.mask import mask_reward
from omni_r1.rewards.output import RewardOutput
from omni_r1.rewards.refcocog import refcocog_reward_batch
from omni_r1.rewards.structure import structure_reward_batch
from omni_r1.rewards.weights import RewardWeights
from omni_r1.validation import (
    ConfigError,
    as_arguments,
    init_arguments,
    require,
    require_bool,
    require_choice,
    require_int,
    require_number,
)

TASK_TERMS: dict[str, tuple[str, ...]] = {
    "vos": ("format", "structure", "num", "div", "sal", "box", "mask"),
    "avs": ("format", "refavs"),
    "grounding": ("format", "refcocog"),
}

# Terms whose weight may be negative: a negative length weight is a length penalty. Every other term is a score
# the policy should raise (the paper's weights are all >= 0); a negative weight would train it to fail.
SIGNED_TERMS = ("length",)

RefCOCOgPoints = Literal["inscribed_circles", "box_centres"]
REFCOCOG_POINTS: tuple[str, ...] = get_args(RefCOCOgPoints)


class HierarchicalReward:
    """Composes the reward terms of a prompt's group (see the module docstring).

    Args:
        weights: a :class:`RewardWeights`, a ``{term: weight}`` mapping, or ``None`` for the defaults. Weights are
            finite and ``>= 0`` (``length`` may be negative: a length penalty).
        length_min_tokens: shortest completion earning the length bonus (320, the authors' trainer).
        length_max_tokens: longest completion earning the length bonus (750, the authors' trainer).
        length_accuracy_threshold: accuracy a completion must exceed to earn the length bonus (0.1, authors).
        first_boxes_only: R_A matches only the grounder's first O boxes per keyframe, O = the prompt's target
            objects (the authors' ``grounding2sam_process_reward``, default); ``False`` matches every box (the
            kit's former R_A). Surplus boxes are penalised either way.
        refavs_empty_target: how a RefAVS prompt with an empty frame-0 ground truth is scored: ``"dummy_box"``
            (the authors' IoU against their dummy box, default) or ``"no_box"`` (no box scores 1, the kit's
            former rule); see :mod:`omni_r1.rewards.grounding`.
        refcocog_points: ground-truth points of the refCOCOg reward: ``"inscribed_circles"`` (the two
            inscribed-circle centres of the target's mask, as Seg-Zero and the authors' ``segzero.py``, default)
            or ``"box_centres"`` (no points: box centres stand in, the kit's former reward).
        pay_for_nothing: ``False`` (the kit's default): a reward never pays for a completion that does nothing:
            ``format`` is 0 for an empty ``<answer>`` block, ``structure`` is 0 for a VOS completion with no valid
            moment (no keyframe handed over), and ``mask`` is 0 for predicted masks with no foreground in any
            clip frame. ``True``: the authors' values (``format_reward``'s regex alone; ``time_reward_multi_time``
            credits every JSON object; ``cal_metric``'s DAVIS J scores an empty prediction 1 on every
            target-absent frame), which pay e.g. 0.75 × α_G for a track that lost the target on a clip where it
            shows in 2 of 8 frames. Either way a rollout with no box for the segmenter scores ``mask`` 0, as the
            authors' (they make no SAM2 call without a valid box).
    """

    def __init__(
        self,
        weights: RewardWeights | Mapping[str, float] | None = None,
        length_min_tokens: int = 320,
        length_max_tokens: int = 750,
        length_accuracy_threshold: float = 0.1,
        first_boxes_only: bool = True,
        refavs_empty_target: EmptyTarget = "dummy_box",
        refcocog_points: RefCOCOgPoints = "inscribed_circles",
        pay_for_nothing: bool = False,
    ) -> None:
        HierarchicalReward.validate_init_args(init_arguments(locals()))
        if weights is None:
            weights = RewardWeights()
        elif not isinstance(weights, RewardWeights):
            weights = RewardWeights.from_mapping(weights)
        self.weights = weights
        self.length_min_tokens = length_min_tokens
        self.length_max_tokens = length_max_tokens
        self.length_accuracy_threshold = length_accuracy_threshold
        self.first_boxes_only = first_boxes_only
        self.refavs_empty_target = refavs_empty_target
        self.refcocog_points = refcocog_points
        self.pay_for_nothing = pay_for_nothing

    @classmethod
    def validate_init_args(cls, args: Mapping[str, Any]) -> None:
        """Raise :class:`~omni_r1.validation.ConfigError` for an unknown term, a weight that is not finite (or
        negative where the term is a score) or a length-bonus range."""
        weights = args.get("weights")
        table = as_arguments(weights) if weights is not None else {}
        require(table is not None, "weights", weights, "must be a {term: weight} mapping or null")
        terms = [item.name for item in fields(RewardWeights)]
        for name, value in table.items():
            if name not in terms:
                allowed = f"unknown reward terms are errors; the terms: {', '.join(terms)}"
                raise ConfigError(f"weights.{name}", value, allowed)
            minimum = None if name in SIGNED_TERMS else 0
            require_number(f"weights.{name}", value, minimum=minimum)
            require(math.isfinite(value), f"weights.{name}", value, "must be finite")
        shortest = args.get("length_min_tokens")
        require_int("length_min_tokens", shortest, minimum=0)
        require_int("length_max_tokens", args.get("length_max_tokens"), minimum=shortest, note="length_min_tokens")
        threshold = args.get("length_accuracy_threshold")
        require_number("length_accuracy_threshold", threshold)
        require(math.isfinite(threshold), "length_accuracy_threshold", threshold, "must be finite")
        require_bool("first_boxes_only", args.get("first_boxes_only"))
        require_choice("refavs_empty_target", args.get("refavs_empty_target"), EMPTY_TARGETS)
        require_choice("refcocog_points", args.get("refcocog_points"), REFCOCOG_POINTS)
        require_bool("pay_for_nothing", args.get("pay_for_nothing", False))

    def __call__(
        self,
        completions: Sequence[str],
        sample: VideoSample,
        details: Sequence[DetailOutput] | None = None,
        num_tokens: Sequence[int] | Tensor | None = None,
        image_hw: tuple[int, int] | None = None,
        handovers: Sequence[Handover] | None = None,
    ) -> RewardOutput:
        """Rewards of the G completions of ``sample``.

        Args:
            completions: the G decoded completions.
            sample: the prompt they answer.
            details: one :class:`DetailOutput` per completion (VOS and RefAVS), or ``None``.
            num_tokens: completion lengths in tokens for the length bonus, or ``None``.
            image_hw: ``(h, w)`` of the image a grounding completion's coordinates refer to; the ground-truth
                box is rescaled to it (``None``: original resolution).
            handovers: one :class:`~omni_r1.answer.handover.Handover` per completion, the same the Detail system
                ran on (the GRPO step makes them once); ``None`` makes them here with the default
                :class:`~omni_r1.answer.handover.HandoverConfig` (K0 = 4, ``interval``, invalid moments dropped).

        Raises:
            ValueError: an unknown task, mismatched lengths, or a weighted term whose inputs are missing.
        """
        if sample.task not in TASK_TERMS:
            raise ValueError(
                f"VideoSample {sample.video_id}: task {sample.task!r} has no reward; expected {sorted(TASK_TERMS)}"
            )
        if details is not None and len(details) != len(completions):
            raise ValueError(f"{len(details)} detail outputs for {len(completions)} completions")
        if handovers is not None and len(handovers) != len(completions):
            raise ValueError(f"{len(handovers)} hand-overs for {len(completions)} completions")
        targets = ClipTargets.from_sample(sample)
        terms = {"format": format_reward_batch(completions)}
        if not self.pay_for_nothing:
            answered = [bool((first_answer_block(text) or "").strip()) for text in completions]
            terms["format"] = terms["format"] * torch.tensor(answered, dtype=torch.float32)
        if sample.task == "vos":
            if handovers is None:
                handovers = make_handovers(completions, sample, HandoverConfig())
            terms.update(self._vos_terms(handovers, targets, details))
        elif sample.task == "avs":
            terms.update(self._avs_terms(completions, targets, details))
        else:
            terms.update(self._grounding_terms(completions, targets, image_hw))
        accuracy = sum(
            (getattr(self.weights, name) * value for name, value in terms.items() if name != "format"),
            torch.zeros(len(completions)),
        )
        if self._available("length", num_tokens is not None, "no token counts were given") and num_tokens is not None:
            terms["length"] = length_bonus_batch(
                num_tokens,
                accuracy,
                self.length_min_tokens,
                self.length_max_tokens,
                self.length_accuracy_threshold,
            )
        total = sum(
            (getattr(self.weights, name) * value for name, value in terms.items()), torch.zeros(len(completions))
        )
        return RewardOutput(total=total.float(), terms=terms)

    def _available(self, name: str, available: bool, missing: str) -> bool:
        """Whether to compute term ``name``; raises when its inputs are missing but it carries weight."""
        weight = getattr(self.weights, name)
        if not available and weight != 0:
            raise ValueError(
                f"reward term {name!r} has weight {weight} but {missing}; provide it or set the weight to 0"
            )
        return available

    def _vos_terms(
        self, handovers: Sequence[Handover], targets: ClipTargets, details: Sequence[DetailOutput] | None
    ) -> dict[str, Tensor]:
        selections = [handover.selection for handover in handovers]
        terms = {
            "structure": structure_reward_batch([h.parsed for h in handovers], targets.presence, targets.fps),
            "num": num_reward_batch(selections),
            "div": div_reward_batch(selections),
            "sal": saliency_reward_batch([selection.indices for selection in selections], targets.union_area),
        }
        if not self.pay_for_nothing:
            handed = torch.tensor([bool(h.keyframes) for h in handovers], dtype=torch.float32)
            terms["structure"] = terms["structure"] * handed
        if self._available("box", details is not None, "no detail outputs were given"):
            terms["box"] = box_matching_reward_batch(
                [detail.boxes for detail in details],
                [detail.keyframes for detail in details],
                targets,
                first_boxes_only=self.first_boxes_only,
            )
        # A rollout that gave the segmenter no box (nothing handed over, or the grounder found nothing) scores
        # R_G = 0: the authors make no SAM2 call then, and its empty masks must not earn J = 1 on absent frames.
        masks_known = details is not None and all(d.masks is not None or not _prompted(d) for d in details)
        missing = "no detail outputs were given" if details is None else "a rollout with boxes has no masks"
        if self._available("mask", masks_known, missing):
            terms["mask"] = torch.tensor([self._mask_term(d, targets) for d in details], dtype=torch.float32)
        return terms

    def _mask_term(self, detail: DetailOutput, targets: ClipTargets) -> float:
        """R_G of one rollout: 0 without a box prompt, 0 for an all-empty track unless ``pay_for_nothing``."""
        if not _prompted(detail) or detail.masks is None:
            return 0.0
        if not self.pay_for_nothing and not bool(detail.masks.any()):
            return 0.0
        return mask_reward(detail.masks, targets.union)

    def _avs_terms(
        self, completions: Sequence[str], targets: ClipTargets, details: Sequence[DetailOutput] | None
    ) -> dict[str, Tensor]:
        if not self._available("refavs", details is not None, "no detail outputs were given"):
            return {}
        values = []
        for text, detail in zip(completions, details, strict=True):
            if not (first_answer_block(text) or "").strip():
                values.append(0.0)
                continue
            boxes = as_boxes(detail.boxes[0], "RefAVS frame-0 boxes") if detail.boxes else torch.zeros(0, 4)
            values.append(
                refavs_box_reward(boxes[0] if boxes.shape[0] else None, targets.union[0], self.refavs_empty_target)
            )
        return {"refavs": torch.tensor(values, dtype=torch.float32)}

    def _grounding_terms(
        self, completions: Sequence[str], targets: ClipTargets, image_hw: tuple[int, int] | None
    ) -> dict[str, Tensor]:
        box, present = masks_to_boxes_or_empty(targets.union[0])
        if not bool(present):
            raise ValueError("grounding sample has an empty ground-truth mask at frame 0; refCOCOg needs a target")
        points = inscribed_circle_points(targets.union[0]) if self.refcocog_points == "inscribed_circles" else None
        if image_hw is not None:
            height, width = targets.union.shape[-2:]
            sx, sy = image_hw[1] / width, image_hw[0] / height
            box = box * torch.tensor([sx, sy] * 2)
            if points is not None:
                points = tuple((x * sx, y * sy) for x, y in points)
        return {"refcocog": refcocog_reward_batch(completions, box, points)}


def _prompted(detail: DetailOutput) -> bool:
    """Whether the rollout gave the segmenter at least one box (the authors' ``has_valid_bbox``)."""
    return any(as_boxes(boxes, "detail boxes").shape[0] > 0 for boxes in detail.boxes)
