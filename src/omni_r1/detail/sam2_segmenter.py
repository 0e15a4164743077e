"""SAM2 as the Detail system's segmenter: every rollout of a group tracked in one video-predictor state.

The reference code runs SAM2 once per rollout (a fresh state, every frame encoded again, through a TCP server).
Here all G rollouts of a prompt share one in-process state:

- each object gets a unique SAM2 object id: one per (rollout, keyframe, box) prompt, or one per (rollout, track)
  when prompts are linked to ground-truth objects (see :class:`~omni_r1.detail.protocols.BoxPrompt`);
- each clip frame is encoded once for the whole group, not once per rollout;
- identical objects (same prompts, same start frame) from different rollouts are tracked once and shared, which is
  common once a policy agrees with itself;
- each object keeps the start frame of its own rollout, so a rollout's masks equal what a state of its own gives
  (checked against SAM2's public API, ``batched=False``, in the tests and ``benchmarks/sam2_batched.py``).

Tracking runs in bfloat16 autocast (SAM2 keeps its memory features in bfloat16; on CPU float32 tracking fails with
"mat1 and mat2 must have the same dtype") and masks are thresholded at 0 after a cast to float, at the clip's
original resolution.
"""

from __future__ import annotations

import importlib.util
import logging
from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, get_args

import torch
from torch import Tensor

from omni_r1.detail.protocols import BoxPrompt, PromptLike, as_box_prompts, check_frames
from omni_r1.detail.sam2_video import cache_features, memory_state, propagate
from omni_r1.validation import (
    ConfigError,
    init_arguments,
    require,
    require_bool,
    require_choice,
    require_device,
    require_file,
    require_int,
    require_str,
)

log = logging.getLogger(__name__)

StartFrame = Literal["first_prompt", "first_frame"]
START_FRAMES: tuple[str, ...] = get_args(StartFrame)
Object = tuple[BoxPrompt, ...]  # the prompts of one SAM2 object, by frame


@dataclass
class SegmentStats:
    """What the last :meth:`SAM2Segmenter.segment` call did (for logs and benchmarks).

    Args:
        rollouts: rollouts in the call.
        objects: SAM2 objects the rollouts asked for.
        tracked: objects actually tracked (fewer when identical objects were shared).
        states: inference states created (1 when batched, one per prompted rollout otherwise).
    """

    rollouts: int = 0
    objects: int = 0
    tracked: int = 0
    states: int = 0


def rollout_objects(prompts: Sequence[BoxPrompt]) -> list[Object]:
    """Group one rollout's prompts into SAM2 objects: one per track, one per untracked prompt.

    Raises:
        ValueError: a track with two boxes on one frame (SAM2 takes one box per object and frame).
    """
    tracks: dict[int, list[BoxPrompt]] = {}
    objects: list[Object] = []
    for prompt in prompts:
        if prompt.track is None:
            objects.append((prompt,))
        else:
            tracks.setdefault(prompt.track, []).append(prompt)
    for track, members in tracks.items():
        frames = [prompt.frame for prompt in members]
        if len(set(frames)) != len(frames):
            raise ValueError(f"track {track} has several boxes on one frame {sorted(frames)}; SAM2 takes one")
        objects.append(tuple(sorted(members, key=lambda prompt: prompt.frame)))
    return objects


class SAM2Segmenter:
    """The ``sam2`` package's video predictor behind the :class:`~omni_r1.detail.protocols.Segmenter` protocol.

    Args:
        config: sam2 hydra config name (``configs/sam2.1/sam2.1_hiera_l.yaml`` in the paper).
        checkpoint: weights file (``sam2.1_hiera_large.pt``); ``None`` keeps random weights (tests, benchmarks).
        image_size: square input size of the image encoder (1024 for the released weights; a multiple of 32).
        device: ``"cuda"``, ``"cpu"``...; ``None`` picks CUDA when available.
        bidirectional: after the forward pass, track backwards from each rollout's start frame to frame 0 (only
            does something with ``start="first_prompt"``; the authors' server has this backward pass commented out).
        start: where each rollout's forward pass starts. ``"first_frame"`` (default, the authors' behaviour: their
            SAM2 server adds every box, then calls ``propagate_in_video(start_frame_idx=0)`` once, forward only) tracks
            from clip frame 0, so frames before the first keyframe get masks too (SAM2 attends to the later prompted
            frames as memory). ``"first_prompt"`` (the kit's former default, SAM2's own default) starts at the
            rollout's first prompted frame: earlier frames stay empty in R_G and in evaluation unless
            ``bidirectional``.
        batched: all rollouts in one state (the kit's way); ``False`` runs one state per rollout through SAM2's
            public API (the reference code's way; for ablations and as the test oracle).
        dedup: track identical objects of different rollouts once (batched mode).
        autocast: run tracking under bfloat16 autocast (needed on CPU, the reference code's choice on GPU).
        max_cached_frames: clips up to this length get every frame's image features cached for the whole call
            (each frame encoded once); longer videos cache only the prompted frames (memory bound).
        seed: torch seed of the random weights when ``checkpoint`` is ``None``.
        predictor: an already built ``SAM2VideoPredictor`` (then ``config``, ``checkpoint``, ``image_size``,
            ``device`` and ``seed`` are not used).
    """

    def __init__(
        self,
        config: str = "configs/sam2.1/sam2.1_hiera_t.yaml",
        checkpoint: str | None = None,
        image_size: int = 1024,
        device: str | None = None,
        bidirectional: bool = False,
        start: StartFrame = "first_frame",
        batched: bool = True,
        dedup: bool = True,
        autocast: bool = True,
        max_cached_frames: int = 64,
        seed: int = 0,
        predictor: Any | None = None,
    ) -> None:
        SAM2Segmenter.validate_init_args(init_arguments(locals()))
        if predictor is None:
            predictor = build_predictor(config, checkpoint, image_size, device, seed)
        if predictor.fill_hole_area > 0 and importlib.util.find_spec("sam2._C") is None:
            # Without sam2's CUDA extension the hole filling is skipped with a warning on every frame anyway.
            predictor.fill_hole_area = 0
        self.predictor = predictor
        self.bidirectional = bidirectional
        self.start = start
        self.batched = batched
        self.dedup = dedup
        self.autocast = autocast
        self.max_cached_frames = max_cached_frames
        self.last_stats = SegmentStats()

    @classmethod
    def validate_init_args(cls, args: Mapping[str, Any]) -> None:
        """Raise :class:`~omni_r1.validation.ConfigError` for a value that would fail while (or after) SAM2 loads:
        a config sam2 does not ship, a missing checkpoint file, an image size the encoder cannot take."""
        if args.get("predictor") is None:  # the build settings are used only without a ready predictor
            _require_sam2_config("config", args.get("config"))
            require_file("checkpoint", args.get("checkpoint"), optional=True, note="the SAM2 release's .pt weights")
            size = args.get("image_size")
            require_int("image_size", size, minimum=32)
            require(size % 32 == 0, "image_size", size, "must be a positive multiple of 32 (the encoder's stride)")
            require_device("device", args.get("device"))
            require_int("seed", args.get("seed"), minimum=0)
        for flag in ("bidirectional", "batched", "dedup", "autocast"):
            require_bool(flag, args.get(flag))
        require_choice("start", args.get("start"), START_FRAMES)
        require_int("max_cached_frames", args.get("max_cached_frames"), minimum=0, note="0 caches prompted frames only")

    @property
    def device(self) -> torch.device:
        return self.predictor.device

    def to(self, device: str | torch.device) -> SAM2Segmenter:
        """Move the predictor (e.g. to the training module's device in ``setup``)."""
        self.predictor.to(device)
        return self

    def _context(self) -> AbstractContextManager:
        return torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.autocast)

    def segment(self, frames: Tensor, prompts: Sequence[Sequence[PromptLike]]) -> list[Tensor]:
        """See :meth:`omni_r1.detail.protocols.Segmenter.segment`; masks are returned on the CPU."""
        num_frames, height, width = check_frames(frames)
        objects = [rollout_objects(as_box_prompts(p, num_frames, r)) for r, p in enumerate(prompts)]
        starts = [self._start(rollout) for rollout in objects]
        empty = torch.zeros(len(objects), num_frames, height, width, dtype=torch.bool)
        self.last_stats = SegmentStats(rollouts=len(objects), objects=sum(len(rollout) for rollout in objects))
        with torch.inference_mode(), self._context():
            if self.batched:
                masks = self._segment_batched(frames, objects, starts, empty)
            else:
                masks = self._segment_each(frames, objects, starts, empty)
        return list(masks)

    def _start(self, objects: list[Object]) -> int:
        if self.start == "first_frame" or not objects:
            return 0
        return min(prompt.frame for obj in objects for prompt in obj)

    def _add_prompts(self, state: dict, objects: Sequence[Object]) -> None:
        for obj_id, obj in enumerate(objects):
            for prompt in obj:
                box = torch.tensor(prompt.box, dtype=torch.float32)
                self.predictor.add_new_points_or_box(state, frame_idx=prompt.frame, obj_id=obj_id, box=box)

    def _segment_batched(self, frames: Tensor, objects: list[list[Object]], starts: list[int], masks: Tensor) -> Tensor:
        """All rollouts in one state; ``masks`` ``(G, n, H, W)`` is filled and returned."""
        unique: dict[tuple, int] = {}
        owners: list[list[int]] = []  # per tracked object, the rollouts that asked for it
        tracked: list[Object] = []
        tracked_starts: list[int] = []
        for rollout, (rollout_objects_, start) in enumerate(zip(objects, starts)):
            for number, obj in enumerate(rollout_objects_):
                key = (start, tuple((p.frame, p.box) for p in obj)) if self.dedup else (rollout, number)
                if key not in unique:
                    unique[key] = len(tracked)
                    tracked.append(obj)
                    tracked_starts.append(start)
                    owners.append([])
                owners[unique[key]].append(rollout)
        self.last_stats.tracked = len(tracked)
        if not tracked:
            return masks
        self.last_stats.states = 1
        num_frames = frames.shape[0]
        state = memory_state(self.predictor, frames)
        if num_frames <= self.max_cached_frames:
            cache_features(self.predictor, state, range(num_frames))
        else:
            cache_features(self.predictor, state, sorted({p.frame for obj in tracked for p in obj}))
        self._add_prompts(state, tracked)
        self._union(propagate(self.predictor, state, tracked_starts), owners, masks)
        if self.bidirectional:
            backward = torch.zeros_like(masks)
            self._union(propagate(self.predictor, state, tracked_starts, reverse=True), owners, backward)
            for rollout, start in enumerate(starts):
                if start > 0:  # the backward pass re-tracks frames 0..start, as in a state of the rollout's own
                    masks[rollout, : start + 1] = backward[rollout, : start + 1]
        return masks

    @staticmethod
    def _union(results: Any, owners: list[list[int]], masks: Tensor) -> None:
        for frame, indices, logits in results:
            binary = (logits[:, 0].float() > 0).cpu()  # (k, H, W)
            for row, obj_idx in enumerate(indices.tolist()):
                for rollout in owners[obj_idx]:
                    masks[rollout, frame] |= binary[row]

    def _segment_each(self, frames: Tensor, objects: list[list[Object]], starts: list[int], masks: Tensor) -> Tensor:
        """One state per rollout through SAM2's public API, as the reference code does."""
        self.last_stats.tracked = self.last_stats.objects
        for rollout, (rollout_objects_, start) in enumerate(zip(objects, starts)):
            if not rollout_objects_:
                continue
            self.last_stats.states += 1
            state = memory_state(self.predictor, frames)
            self._add_prompts(state, rollout_objects_)
            per_object: dict[tuple[int, int], Tensor] = {}  # a later pass overwrites, as a per-frame dict would
            passes = [False, True] if self.bidirectional else [False]
            for reverse in passes:
                for frame, obj_ids, logits in self.predictor.propagate_in_video(
                    state, start_frame_idx=start, reverse=reverse
                ):
                    for row, obj_id in enumerate(obj_ids):
                        per_object[(obj_id, frame)] = (logits[row, 0].float() > 0).cpu()
            for (_, frame), mask in per_object.items():
                masks[rollout, frame] |= mask
        return masks


def _require_sam2_config(key: str, value: Any) -> None:
    """``value`` names a config the installed ``sam2`` package ships (its hydra configs live inside the package:
    ``configs/sam2.1/sam2.1_hiera_l.yaml``); not checked when ``sam2`` is not installed (building fails then)."""
    require_str(key, value, note="a sam2 config name such as configs/sam2.1/sam2.1_hiera_l.yaml")
    spec = importlib.util.find_spec("sam2")
    if spec is None or not spec.submodule_search_locations:
        return
    package = Path(next(iter(spec.submodule_search_locations)))
    if not (package / value).is_file():
        configs = (package / "configs").glob("sam2*/sam2*.yaml")
        shipped = sorted(str(p.relative_to(package)) for p in configs if "training" not in p.parent.name)
        raise ConfigError(key, value, f"not a config of the installed sam2 package; it has {', '.join(shipped)}")


def build_predictor(config: str, checkpoint: str | None, image_size: int, device: str | None, seed: int) -> Any:
    """A ``SAM2VideoPredictor`` in eval mode; random weights (seeded) when ``checkpoint`` is ``None``.

    Raises:
        ValueError: an image size that is not a positive multiple of 32.
    """
    if image_size <= 0 or image_size % 32:
        raise ValueError(f"SAM2Segmenter: image_size must be a positive multiple of 32, got {image_size}")
    from sam2.build_sam import build_sam2_video_predictor  # hydra import: only when a predictor is built

    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    if checkpoint is None:
        log.warning("SAM2Segmenter: no checkpoint given, using random weights (tests and benchmarks only)")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return build_sam2_video_predictor(
            config, ckpt_path=checkpoint, device=device, hydra_overrides_extra=[f"++model.image_size={image_size}"]
        )
