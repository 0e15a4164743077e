"""The collaboration step: the Global system's answers executed by the Detail system, for a whole group.

For one prompt and its G completions:

1. each completion's :class:`~omni_r1.answer.handover.Handover` (made once, by the caller, with the run's one
   :class:`~omni_r1.answer.handover.HandoverConfig`) gives at most K0 keyframes of the S1 clip, each with its
   rewritten description (RefAVS: frame 0 with the answer's description);
2. the grounder boxes every distinct (keyframe, description) request once, in one batched call: greedy grounders
   answer a repeated request identically, and rollouts of a group repeat each other often;
3. VOS only: the boxes become prompts (one object per box, or boxes linked to ground-truth objects) and the
   segmenter tracks all rollouts in one call over the S1 clip.

The result is one :class:`~omni_r1.answer.outputs.DetailOutput` per completion, exactly what
``HierarchicalReward(completions, sample, handovers=..., details=...)`` consumes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any, Literal, get_args

import torch
from torch import Tensor, nn

from omni_r1.answer.handover import Handover
from omni_r1.answer.keyframes import Keyframe
from omni_r1.answer.outputs import DetailOutput
from omni_r1.data.boxes import masks_to_boxes_or_empty
from omni_r1.data.targets import ClipTargets
from omni_r1.data.types import VideoSample
from omni_r1.detail.matching import per_box_prompts, per_object_prompts
from omni_r1.detail.protocols import BoxPrompt, Grounder, Segmenter
from omni_r1.validation import init_arguments, require, require_choice, require_int

ObjectPrompts = Literal["per_box", "per_object"]
OBJECT_PROMPTS: tuple[str, ...] = get_args(ObjectPrompts)


def _on_cpu(sample: VideoSample) -> VideoSample:
    """The sample with frames and masks on the CPU, where processors, matching and rewards work (a model moves
    its inputs to its own device); a no-op for a sample that is already there."""
    return replace(sample, frames=sample.frames.cpu(), masks=sample.masks.cpu(), s1_indices=sample.s1_indices.cpu())


class DetailSystem:
    """Grounder + segmenter behind one call per group.

    Args:
        grounder: boxes for (keyframe, description) requests.
        segmenter: masks from box prompts over the S1 clip; ``None`` skips segmentation (masks stay ``None``,
            so the reward's ``mask`` term must then have weight 0).
        object_prompts: ``"per_box"`` (every box a segmenter object, the paper's batched pass) or ``"per_object"``
            (boxes Hungarian-matched to ground-truth objects per keyframe and tracked as one object each, the
            reference code's layout; needs ground-truth masks), see :mod:`omni_r1.detail.matching`.
        max_description_chars: descriptions are cut to this length before grounding (a sampled answer can hold
            kilobytes of text; a grounding prompt need not).
    """

    def __init__(
        self,
        grounder: Grounder,
        segmenter: Segmenter | None = None,
        object_prompts: ObjectPrompts = "per_box",
        max_description_chars: int = 512,
    ) -> None:
        DetailSystem.validate_init_args(init_arguments(locals()))
        self.grounder = grounder
        self.segmenter = segmenter
        self.object_prompts = object_prompts
        self.max_description_chars = max_description_chars

    @classmethod
    def validate_init_args(cls, args: Mapping[str, Any]) -> None:
        """Raise :class:`~omni_r1.validation.ConfigError` for a missing grounder or an unknown prompt layout."""
        require(args.get("grounder") is not None, "grounder", None, "a grounder is required (boxes for keyframes)")
        require_choice("object_prompts", args.get("object_prompts"), OBJECT_PROMPTS)
        require_int("max_description_chars", args.get("max_description_chars"), minimum=1)

    def bind(self, policy: nn.Module, frozen: nn.Module | None = None) -> DetailSystem:
        """Hand the policy (and a frozen reference copy) to a grounder that grounds with it."""
        bind = getattr(self.grounder, "bind", None)
        if callable(bind):
            bind(policy, frozen)
        return self

    # ------------------------------------------------------------------ the step
    def run(self, sample: VideoSample, handovers: Sequence[Handover]) -> list[DetailOutput]:
        """One :class:`DetailOutput` per completion's hand-over: keyframes (S1-clip indices), boxes per keyframe in
        original pixels and, for VOS with a segmenter, ``(n, H, W)`` bool masks over the S1 clip.

        Raises:
            ValueError: a task without a Detail system, a grounder answer of the wrong shape, or ``per_object``
                prompts on a sample without ground-truth objects.
        """
        sample = _on_cpu(sample)
        clip = sample.frames[sample.s1_indices.long()]  # (n, 3, H, W)
        if sample.task not in ("vos", "avs"):
            raise ValueError(
                f"VideoSample {sample.video_id}: the Detail system runs on 'vos' and 'avs' prompts, got {sample.task!r}"
            )
        handed = [handover.keyframes for handover in handovers]
        targets = ClipTargets.from_sample(sample) if self._needs_targets() else None
        boxes = self._ground(sample, clip, handed, targets)
        outputs = [
            DetailOutput(keyframes=[k.index for k in frames], boxes=rollout_boxes)
            for frames, rollout_boxes in zip(handed, boxes)
        ]
        if sample.task == "vos" and self.segmenter is not None:
            prompts = [self._prompts(output, targets, sample) for output in outputs]
            masks = self.segmenter.segment(clip, prompts)
            for output, mask in zip(outputs, masks, strict=True):
                output.masks = mask if output.keyframes else None
        return outputs

    def segment_video(self, sample: VideoSample, outputs: Sequence[DetailOutput]) -> list[Tensor]:
        """``(T, H, W)`` masks over the *whole* video (evaluation): keyframes mapped back to original frames.

        Raises:
            ValueError: no segmenter.
        """
        if self.segmenter is None:
            raise ValueError("DetailSystem.segment_video needs a segmenter")
        sample = _on_cpu(sample)
        targets = ClipTargets.from_sample(sample) if self.object_prompts == "per_object" else None
        original = sample.s1_indices.long().tolist()
        prompts = [
            [p._replace(frame=original[p.frame]) for p in self._prompts(output, targets, sample)] for output in outputs
        ]
        return self.segmenter.segment(sample.frames, prompts)

    # ------------------------------------------------------------------ parts
    def _needs_targets(self) -> bool:
        return bool(getattr(self.grounder, "needs_ground_truth", False)) or self.object_prompts == "per_object"

    def _ground(
        self, sample: VideoSample, clip: Tensor, handed: list[list[Keyframe]], targets: ClipTargets | None
    ) -> list[list[Tensor]]:
        """Boxes per rollout and keyframe; each distinct (keyframe, description) is grounded once."""
        requests: dict[tuple[int, str], int] = {}
        for frames in handed:
            for keyframe in frames:
                requests.setdefault((keyframe.index, keyframe.description[: self.max_description_chars]), len(requests))
        keys = list(requests)
        if not keys:
            return [[] for _ in handed]
        gt_boxes = None
        if getattr(self.grounder, "needs_ground_truth", False):
            gt_boxes = [self._gt_boxes(sample.task, targets, index) for index, _ in keys]
        found = self.grounder.ground(
            [clip[index] for index, _ in keys], [text for _, text in keys], task=sample.task, gt_boxes=gt_boxes
        )
        if len(found) != len(keys):
            raise ValueError(f"grounder returned {len(found)} box sets for {len(keys)} requests")
        for boxes in found:
            if boxes.ndim != 2 or boxes.shape[1] != 4:
                raise ValueError(f"grounder returned boxes of shape {tuple(boxes.shape)}; expected (m, 4)")
        return [
            [found[requests[(k.index, k.description[: self.max_description_chars])]] for k in frames]
            for frames in handed
        ]

    @staticmethod
    def _gt_boxes(task: str, targets: ClipTargets, index: int) -> Tensor:
        """Ground truth an oracle grounder returns: RefAVS the union's box, VOS the visible objects' boxes."""
        if task == "avs":
            box, present = masks_to_boxes_or_empty(targets.union[index])
            return box[None] if bool(present) else torch.zeros(0, 4)
        return targets.boxes[targets.presence[:, index], index]

    def _prompts(self, output: DetailOutput, targets: ClipTargets | None, sample: VideoSample) -> list[BoxPrompt]:
        if self.object_prompts == "per_box":
            return per_box_prompts(output.boxes, output.keyframes)
        if targets is None or targets.num_objects == 0:
            raise ValueError(
                f"VideoSample {sample.video_id}/{sample.exp_id}: object_prompts='per_object' links boxes to "
                "ground-truth objects, but the sample has none; use 'per_box'"
            )
        return per_object_prompts(output.boxes, output.keyframes, targets)
