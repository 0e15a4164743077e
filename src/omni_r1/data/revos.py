"""ReVOS in its official layout: one prompt per (video, expression).

Training keeps only the S1 clip in memory: ``frames`` holds the 16-24 sampled frames (with the even-count pad)
and ``s1_indices`` is ``arange(n)``: rewards are computed on the clip the policy saw, and keeping the rest (a long
720p video is hundreds of MB as uint8) would make memory grow with video length. Evaluation keeps every frame
(SAM2 and the metrics run at full length) and ``s1_indices`` picks at most ``max_frames`` of them for S1.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from omni_r1.data.datamodule import SplitDataModule, shared_arguments
from omni_r1.data.decode import decode_rles_into, empty_for_transfer, read_clip_frames
from omni_r1.data.frame_sampling import sample_s1_indices, validate_frame_range
from omni_r1.data.integrity import (
    CheckLevel,
    Report,
    valid_indices,
)
from omni_r1.data.layout import DatasetFormatError, require_paths
from omni_r1.data.synthetic import ensure_synthetic
from omni_r1.data.types import VideoSample
from omni_r1.data.vos_checks import check_vos_files
from omni_r1.data.vos_expressions import (
    OVER_MAX_OBJECTS,
    ExpressionItem,
    OverMaxObjects,
    expression_item,
    expression_key,
    validate_expression_filters,
)
from omni_r1.data.vos_meta import check_meta_videos, read_json, read_mask_dict
from omni_r1.validation import init_arguments, require, require_bool

SPLITS = ("train", "valid")
LAYOUT = """\
<root>/
├── JPEGImages/<video>/<frame>.jpg
├── meta_expressions_{train,valid}_.json   {"videos": {<video>: {"frames": [<frame>, ...], "expressions":
│                                            {<id>: {"exp", "obj_id": [..], "anno_id": [..], "type_id": 0|1|2}}}}}
├── mask_dict.json                         {"<anno_id>": [COCO RLE or null per frame]}
└── mask_dict_foreground.json              {<video>: {"masks_rle": [..], "foreground_ratio": [..]}}"""


def load_meta(root: str | Path, split: str) -> dict[str, dict[str, Any]]:
    """The ``videos`` mapping of ``meta_expressions_<split>_.json``, with its schema checked.

    Raises:
        DatasetLayoutError: the root or the file is missing.
        DatasetFormatError: a required key is missing or has the wrong type.
    """
    path = Path(root) / f"meta_expressions_{split}_.json"
    require_paths("ReVOS", root, [path], LAYOUT)
    return check_meta_videos(path, read_json(path))


def load_mask_dict(
    root: str | Path, *, dataset: str = "ReVOS", layout: str = LAYOUT
) -> dict[str, list[dict[str, Any] | None]]:
    """``mask_dict.json``: per annotation id, one COCO RLE (or null) per frame (ReVOS's defaults of
    :func:`~omni_r1.data.vos_meta.read_mask_dict`)."""
    return read_mask_dict(root, dataset=dataset, layout=layout)


def _index_files(root: Path, split: str) -> list[Path]:
    return [root / f"meta_expressions_{split}_.json", root / "mask_dict.json"]


class ReVOSDataset(Dataset[VideoSample]):
    """The (video, expression) prompts of one ReVOS split, checked against the layout on construction.

    Args:
        root: dataset root.
        split: ``"train"`` or ``"valid"`` (selects ``meta_expressions_<split>_.json``).
        train: training sampling (random clip, frames cut to the clip) or evaluation (all frames, fixed clip).
        min_frames: lower bound of the training clip length draw.
        max_frames: upper bound of the training draw and evaluation cap of the S1 clip.
        seed: seed of the training clip draws; a prompt's draw depends on ``(seed, epoch, index)`` only, so it is
            the same in any worker process.
        type_ids: keep only expressions with these ``type_id`` (0 referring, 1 reasoning, 2 VISA's "nan");
            ``None`` keeps all, as the authors' training loader (it never reads ``type_id``). Files without
            ``type_id`` count as referring.
        mask_dict: an already loaded ``mask_dict.json`` (the DataModule shares one between splits; it is large).
        max_objects: at most this many target objects per prompt (the authors' ``select_number=3``); ``None``
            keeps every target. What happens to an expression with more is ``over_max_objects``.
        over_max_objects: ``"subset"`` (the authors' way) keeps such an expression with ``max_objects`` of its
            targets drawn without replacement, anew per ``(seed, epoch, video, exp_id)`` (the authors draw with
            NumPy's global generator at every access); ``"drop"`` (the kit's former way) leaves it out.
        skip_targetless: leave out expressions with an empty ``obj_id`` (or no ``anno_id``), which would reward
            predicting nothing. ``None`` (default) skips them when ``train``, as the authors' training loader, and
            keeps them for evaluation, where the official scripts score them; ``False`` keeps them.
        per_video: one prompt per video instead of per expression; each access draws one of the video's
            expressions from ``(seed, epoch, index)`` (the paper's "each item draws one expression").
        skip_invalid: drop the prompts that need a missing or unreadable file (and log how many) instead of stopping.
        check_level: how thoroughly files are checked on construction (``"exists"``, ``"open"``, ``"decode"``; see
            :mod:`omni_r1.data.integrity`), or ``None`` to skip the check (the checker then calls :meth:`check`).
            Mask lists always need one entry per frame; RLE sizes and run lengths are checked from ``"open"`` on.

    Raises:
        DatasetLayoutError: a video folder or frame file is missing (all of them are listed).
        DatasetFormatError: a meta file is malformed, or an ``anno_id`` has no (or a wrong-length) mask entry.
    """

    name = "ReVOS"
    dataset_name = "revos"
    task = "vos"
    splits: tuple[str, ...] = SPLITS
    layout = LAYOUT

    def __init__(
        self,
        root: str | Path,
        split: str = "train",
        train: bool = True,
        min_frames: int = 16,
        max_frames: int = 24,
        seed: int = 0,
        *,
        type_ids: list[int] | None = None,
        mask_dict: dict[str, list[dict[str, Any] | None]] | None = None,
        max_objects: int | None = None,
        over_max_objects: OverMaxObjects = "subset",
        skip_targetless: bool | None = None,
        per_video: bool = False,
        skip_invalid: bool = False,
        check_level: CheckLevel | None = "exists",
    ) -> None:
        if split not in self.splits:
            raise ValueError(f"{self.name} split must be one of {self.splits}, got {split!r}")
        if over_max_objects not in OVER_MAX_OBJECTS:
            raise ValueError(f"over_max_objects must be one of {OVER_MAX_OBJECTS}, got {over_max_objects!r}")
        self.root = Path(root)
        self.split, self.train, self.seed, self.epoch = split, train, seed, 0
        self.min_frames, self.max_frames = min_frames, max_frames
        self.max_objects, self.over_max_objects = max_objects, over_max_objects
        self.videos, self.mask_dict = self._load(mask_dict)
        self.items = [
            expression_item(vid, exp_id, exp)
            for vid, info in sorted(self.videos.items())
            for exp_id, exp in info["expressions"].items()
        ]
        if type_ids is not None:
            self.items = [item for item in self.items if item.type_id in type_ids]
        skip_targetless = train if skip_targetless is None else skip_targetless
        if skip_targetless:
            self.items = [item for item in self.items if not item.targetless]
        if max_objects is not None and over_max_objects == "drop":
            self.items = [item for item in self.items if len(item.anno_ids) <= max_objects]
        if not self.items:
            raise DatasetFormatError(
                self._meta_path(),
                f"no expressions (type_ids={type_ids}, max_objects={max_objects}, over_max_objects="
                f"{over_max_objects!r}, skip_targetless={skip_targetless})",
            )
        self.report: Report | None = None
        if check_level is not None:
            self.report = self.check(check_level)
            self.items = [self.items[i] for i in valid_indices(self.report, skip_invalid, self.layout)]
        self.groups = self._group(per_video)

    # ------------------------------------------------------------------ layout hooks (MeViS overrides them)
    def _meta_path(self) -> Path:
        return self.root / f"meta_expressions_{self.split}_.json"

    def _mask_path(self) -> Path:
        return self.root / "mask_dict.json"

    def _load(
        self, mask_dict: dict[str, list[dict[str, Any] | None]] | None
    ) -> tuple[dict[str, dict[str, Any]], dict[str, list[dict[str, Any] | None]]]:
        """The split's ``videos`` mapping and the mask dictionary."""
        require_paths("ReVOS", self.root, _index_files(self.root, self.split), LAYOUT)
        return load_meta(self.root, self.split), load_mask_dict(self.root) if mask_dict is None else mask_dict

    def _frame_dir(self, vid: str) -> Path:
        return self.root / "JPEGImages" / vid

    # ------------------------------------------------------------------ checks
    def _group(self, per_video: bool) -> list[list[int]]:
        """Item indices behind each dataset index: one each, or all of a video's expressions."""
        if not per_video:
            return [[i] for i in range(len(self.items))]
        by_video: dict[str, list[int]] = {}
        for i, item in enumerate(self.items):
            by_video.setdefault(item.video, []).append(i)
        return list(by_video.values())

    def check(self, level: CheckLevel, workers: int = 8) -> Report:
        """Check frames, mask lists and (from ``"open"`` on) RLEs at ``level``; never raises for a broken entry."""
        return check_vos_files(self, level, workers)

    def set_epoch(self, epoch: int) -> None:
        """Draw new training clips for a new epoch (like ``DistributedSampler.set_epoch``).

        Lightning only reaches samplers: :class:`~omni_r1.data.mixture.MixtureSampler` forwards its epoch here; a
        plain ReVOS loader keeps epoch 0's clips (the paper's recipe trains a single epoch).
        """
        self.epoch = epoch

    def _generator(self, index: int) -> torch.Generator:
        state = np.random.SeedSequence([self.seed, self.epoch, index]).generate_state(1)[0]
        return torch.Generator().manual_seed(int(state))

    def __len__(self) -> int:
        return len(self.groups)

    def _item(self, index: int) -> ExpressionItem:
        group = self.groups[index]
        if len(group) == 1:
            return self.items[group[0]]
        state = np.random.SeedSequence([self.seed, self.epoch, index, 1]).generate_state(1)[0]
        return self.items[group[int(state) % len(group)]]

    def _targets(self, item: ExpressionItem) -> tuple[int, ...]:
        """The item's ``anno_id`` targets, cut to ``max_objects`` by a seeded draw without replacement (kept in
        meta order) when ``over_max_objects`` is ``"subset"``."""
        if self.max_objects is None or len(item.anno_ids) <= self.max_objects:
            return item.anno_ids
        entropy = [self.seed, self.epoch, expression_key(item.video, item.exp_id), 2]
        picked = np.random.default_rng(np.random.SeedSequence(entropy)).choice(
            len(item.anno_ids), self.max_objects, replace=False
        )
        return tuple(item.anno_ids[i] for i in sorted(picked.tolist()))

    def __getitem__(self, index: int) -> VideoSample:
        item = self._item(index)
        anno_ids = self._targets(item)
        stems = self.videos[item.video]["frames"]
        clip = sample_s1_indices(
            len(stems),
            train=self.train,
            min_frames=self.min_frames,
            max_frames=self.max_frames,
            generator=self._generator(index) if self.train else None,
        )
        kept = clip.tolist() if self.train else list(range(len(stems)))
        # Decoded straight into the tensors handed over (see omni_r1.data.decode): a 720p clip is tens of MB, and
        # re-decoding the one padded frame is cheaper than copying the clip to repeat it.
        frames = read_clip_frames([self._frame_dir(item.video) / f"{stems[i]}.jpg" for i in kept])  # (T, 3, H, W)
        height, width = frames.shape[-2:]
        masks = empty_for_transfer((len(anno_ids), len(kept), height, width), torch.bool)  # (O, T, H, W)
        for o, anno in enumerate(anno_ids):
            rles = self.mask_dict[str(anno)]
            decode_rles_into(masks[o], [rles[i] for i in kept], [f"mask_dict.json[{anno}][{i}]" for i in kept])
        return VideoSample(
            dataset=self.dataset_name,
            task=self.task,
            video_id=item.video,
            exp_id=item.exp_id,
            expression=item.expression,
            expression_type=item.type_id,
            frames=frames,
            frame_names=[stems[i] for i in kept],
            s1_indices=torch.arange(len(kept)) if self.train else clip,
            masks=masks,
            obj_ids=list(anno_ids),
            audio=None,
            fps=2.0,
        )


class ReVOSDataModule(SplitDataModule):
    """ReVOS as lists of :class:`VideoSample`: ``train`` split for fitting, ``valid`` for validation and test.

    Args:
        root: dataset root in the official layout.
        batch_size: prompts per batch.
        num_workers: dataloader worker processes.
        min_frames: lower bound of the training S1 clip length (paper: 8, released code: 16).
        max_frames: upper bound of the training clip and the evaluation cap of S1 frames.
        synthetic: write a small synthetic root at ``root`` in ``prepare_data`` when it has no data (demo path).
        seed: seed of the synthetic data, the training clip draws and the shuffle order.
        type_ids: keep only these expression types (0 referring, 1 reasoning, 2 VISA's "nan"); ``None`` (default)
            keeps all of them, in training as the authors' loader (it never reads ``type_id``) and in evaluation
            (the official script scores type 2 and reports it apart).
        max_objects: training targets per prompt (default 3, the authors' ``select_number=3``); ``None`` keeps every
            target. Evaluation always keeps every expression with all of its targets.
        over_max_objects: a training expression with more targets than ``max_objects``: ``"subset"`` (default, the
            authors') keeps it with ``max_objects`` of them drawn per ``(seed, epoch, expression)``; ``"drop"`` (the
            kit's former behaviour) leaves it out.
        skip_targetless: training leaves out expressions without a target (empty ``obj_id``), as the authors'
            loader (default ``True``; ``False`` trains on them, R_G then rewards predicting nothing). Evaluation
            always keeps them.
        per_video: training items are videos, each access drawing one of its expressions (the paper counts its
            2,600 VOS training items in videos); evaluation always iterates every expression.
        skip_invalid: skip prompts whose frames or masks are missing or unreadable (logging how many) instead of
            stopping.
        check_level: file check run in ``setup()``: ``"exists"``, ``"open"`` (headers, end markers, RLEs) or
            ``"decode"`` (full decode; slow on the full dataset). The checker CLI runs the same checks.
    """

    def __init__(
        self,
        root: str,
        batch_size: int = 1,
        num_workers: int = 0,
        min_frames: int = 16,
        max_frames: int = 24,
        synthetic: bool = False,
        seed: int = 0,
        type_ids: list[int] | None = None,
        max_objects: int | None = 3,
        over_max_objects: OverMaxObjects = "subset",
        skip_targetless: bool = True,
        per_video: bool = False,
        skip_invalid: bool = False,
        check_level: CheckLevel = "open",
    ) -> None:
        args = init_arguments(locals())
        ReVOSDataModule.validate_init_args(args)
        # Test and predict serve the validation split: the benchmark's labelled split is ``valid``.
        super().__init__(splits={"train": "train", "val": "valid", "test": "valid"}, **shared_arguments(args))
        self.frames = {"min_frames": min_frames, "max_frames": max_frames}
        self.synthetic = synthetic
        self.type_ids = type_ids
        self.train_options = {
            "max_objects": max_objects,
            "over_max_objects": over_max_objects,
            "skip_targetless": skip_targetless,
            "per_video": per_video,
        }
        self._mask_dict: dict[str, list[dict[str, Any] | None]] | None = None

    @classmethod
    def validate_init_args(cls, args: Mapping[str, Any]) -> None:
        """Raise :class:`~omni_r1.validation.ConfigError` for a value that would fail in ``setup()`` or at the first
        training batch (``min_frames > max_frames``), or silently select nothing (``type_ids: []``)."""
        super().validate_init_args(args)
        validate_frame_range(args)
        require_bool("synthetic", args.get("synthetic"))
        type_ids = args.get("type_ids")
        ok = type_ids is None or (
            isinstance(type_ids, (list, tuple))
            and bool(type_ids)
            and all(isinstance(t, int) and not isinstance(t, bool) and t >= 0 for t in type_ids)
        )
        require(
            ok, "type_ids", type_ids, "must be a non-empty list of expression types (0 referring, 1 reasoning, 2 nan)"
        )
        validate_expression_filters(args)

    def prepare_data(self) -> None:
        if self.synthetic:
            ensure_synthetic("revos", self.root, seed=self.seed)

    def dataset(self, part: str) -> Dataset[Any]:
        """The dataset of ``part``; ``test`` is the validation dataset itself (built once)."""
        return super().dataset("val" if part == "test" else part)

    def build(self, part: str) -> ReVOSDataset:
        train = part == "train"
        split = self.splits[part]
        require_paths("ReVOS", self.root, _index_files(self.root, split), LAYOUT)
        if self._mask_dict is None:  # one mask_dict.json for every split (it is large): read once, shared
            self._mask_dict = load_mask_dict(self.root)
        return ReVOSDataset(
            self.root,
            split,
            train,
            seed=self.seed,
            type_ids=self.type_ids,
            mask_dict=self._mask_dict,
            **self.frames,
            **(self.train_options if train else {}),
            **self.checks,
        )
