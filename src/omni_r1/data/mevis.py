"""MeViS in its official layout: one prompt per (video, expression), read like ReVOS.

MeViS uses ReVOS's schema without ``height`` / ``width`` / ``type_id`` (frame sizes come from the JPEGs; every
expression counts as referring), with one folder per split. The ``valid`` split is the online-evaluation split:
its annotations are withheld, so its expressions carry no ``anno_id``, it has no ``mask_dict.json``, and its
samples have empty ``masks`` (``(0, T, H, W)``); predictions on it can only be scored by the official server.
``valid_u`` has masks and is the split the paper reports.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from omni_r1.data.datamodule import SplitDataModule, shared_arguments, split_arguments
from omni_r1.data.frame_sampling import validate_frame_range
from omni_r1.data.integrity import CheckLevel
from omni_r1.data.layout import require_paths
from omni_r1.data.revos import ReVOSDataset
from omni_r1.data.vos_expressions import OverMaxObjects, validate_expression_filters
from omni_r1.data.vos_meta import check_meta_videos, read_json, read_mask_dict
from omni_r1.validation import init_arguments

SPLITS = ("train", "valid_u", "valid")
UNANNOTATED = ("valid",)
MeViSSplit = Literal[SPLITS]
LAYOUT = """\
<root>/
├── train/
│   ├── JPEGImages/<video>/<frame>.jpg
│   ├── meta_expressions.json   {"videos": {<video>: {"frames": [<frame>, ...], "expressions":
│   │                              {<id>: {"exp", "obj_id": [..], "anno_id": [..]}}}}}
│   └── mask_dict.json          {"<anno_id>": [COCO RLE or null per frame]}
├── valid_u/                    same as train
└── valid/                      JPEGImages/ and meta_expressions.json only (annotations withheld)"""


class MeViSDataset(ReVOSDataset):
    """The (video, expression) prompts of one MeViS split; see :class:`~omni_r1.data.revos.ReVOSDataset` for the
    sampling, checking and the remaining arguments.

    Args:
        root: dataset root (holding ``train/``, ``valid_u/``, ``valid/``).
        split: ``"train"``, ``"valid_u"`` or ``"valid"`` (no masks: samples get empty ``masks``).
    """

    name = "MeViS"
    dataset_name = "mevis"
    splits = SPLITS
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
        mask_dict: dict[str, list[dict[str, Any] | None]] | None = None,
        max_objects: int | None = None,
        over_max_objects: OverMaxObjects = "subset",
        skip_targetless: bool | None = None,
        per_video: bool = False,
        skip_invalid: bool = False,
        check_level: CheckLevel | None = "exists",
    ) -> None:
        self.dataset_root = Path(root)
        super().__init__(
            self.dataset_root / split,
            split,
            train,
            min_frames,
            max_frames,
            seed,
            mask_dict=mask_dict,
            max_objects=max_objects,
            over_max_objects=over_max_objects,
            skip_targetless=skip_targetless,
            per_video=per_video,
            skip_invalid=skip_invalid,
            check_level=check_level,
        )

    def _meta_path(self) -> Path:
        return self.root / "meta_expressions.json"

    def _load(
        self, mask_dict: dict[str, list[dict[str, Any] | None]] | None
    ) -> tuple[dict[str, dict[str, Any]], dict[str, list[dict[str, Any] | None]]]:
        annotated = self.split not in UNANNOTATED
        files = [self._meta_path()] + ([self._mask_path()] if annotated and mask_dict is None else [])
        require_paths(self.name, self.dataset_root, [self.root, *files], LAYOUT)
        videos = check_meta_videos(self._meta_path(), read_json(self._meta_path()), require_annos=annotated)
        if not annotated:
            return videos, {}
        return videos, read_mask_dict(self.root, dataset=self.name, layout=LAYOUT) if mask_dict is None else mask_dict


class MeViSDataModule(SplitDataModule):
    """MeViS splits as lists of :class:`~omni_r1.data.types.VideoSample`.

    Args:
        root: dataset root in the official layout.
        train_split: split used for fitting.
        val_split: split used for validation (``valid_u``: the one with public masks).
        test_split: split used for testing (``valid_u``; ``valid`` yields empty masks for server submission).
        batch_size: prompts per batch.
        num_workers: dataloader worker processes.
        min_frames: lower bound of the training S1 clip length (paper: 8, released code: 16).
        max_frames: upper bound of the training clip and the evaluation cap of S1 frames.
        seed: seed of the training clip draws and the shuffle order.
        max_objects: training targets per prompt (default 3, the authors' ``select_number=3``); ``None`` keeps every
            target. Evaluation always keeps every expression with all of its targets.
        over_max_objects: a training expression with more targets than ``max_objects``: ``"subset"`` (default, the
            authors') keeps it with ``max_objects`` of them drawn per ``(seed, epoch, expression)``; ``"drop"`` (the
            kit's former behaviour) leaves it out.
        skip_targetless: training leaves out expressions without a target (empty ``obj_id``), as the authors'
            loader (default ``True``; ``False`` trains on them). Evaluation always keeps them.
        per_video: training items are videos, each access drawing one of its expressions.
        skip_invalid: skip prompts whose frames or masks are missing or unreadable (logging how many) instead of
            stopping.
        check_level: file check run in ``setup()`` (``"exists"``, ``"open"``, ``"decode"``); the checker CLI runs
            the same checks.
    """

    split_names = SPLITS

    def __init__(
        self,
        root: str,
        train_split: MeViSSplit = "train",
        val_split: MeViSSplit = "valid_u",
        test_split: MeViSSplit = "valid_u",
        batch_size: int = 1,
        num_workers: int = 0,
        min_frames: int = 16,
        max_frames: int = 24,
        seed: int = 0,
        max_objects: int | None = 3,
        over_max_objects: OverMaxObjects = "subset",
        skip_targetless: bool = True,
        per_video: bool = False,
        skip_invalid: bool = False,
        check_level: CheckLevel = "open",
    ) -> None:
        args = init_arguments(locals())
        MeViSDataModule.validate_init_args(args)
        super().__init__(splits=split_arguments(args), **shared_arguments(args))
        self.options: dict[str, Any] = {"min_frames": min_frames, "max_frames": max_frames, "seed": seed}
        self.train_options = {
            "max_objects": max_objects,
            "over_max_objects": over_max_objects,
            "skip_targetless": skip_targetless,
            "per_video": per_video,
        }

    @classmethod
    def validate_init_args(cls, args: Mapping[str, Any]) -> None:
        """Raise :class:`~omni_r1.validation.ConfigError` for a split MeViS does not have (or training on the split
        without masks), a frame range, filter, loader or check setting."""
        super().validate_init_args(args)
        validate_frame_range(args)
        validate_expression_filters(args)

    @classmethod
    def split_choices(cls, name: str, args: Mapping[str, Any]) -> tuple[str, ...]:
        """Training needs masks for its rewards: not the split whose annotations are withheld."""
        if name == "train_split":
            return tuple(s for s in SPLITS if s not in UNANNOTATED)
        return super().split_choices(name, args)

    def build(self, part: str) -> MeViSDataset:
        train = part == "train"
        extra = self.train_options if train else {}
        return MeViSDataset(self.root, self.splits[part], train=train, **self.options, **extra, **self.checks)
