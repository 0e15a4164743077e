"""refCOCOg in the standard REFER layout, as one-frame grounding prompts for the Detail system's skill reward.

Each prompt is a :class:`~omni_r1.data.types.VideoSample` with ``task="grounding"``, one frame (the COCO image at
original resolution), ``s1_indices = [0]`` and the referred object's mask ``(1, 1, H, W)`` rasterised from its COCO
segmentation (polygons or RLE); the rewards derive the ground-truth box from that mask. Training draws one of a
referred object's sentences per access (from ``(seed, epoch, index)``); evaluation yields every sentence.

The paper trains on Seg-Zero's 2,000-image subset of the umd train split; :class:`~omni_r1.data.mixture.
MixtureDataModule`'s ``num_samples`` draws such a subset (seeded) from the full split.

``refs(umd).p`` is a Python pickle, and unpickling can run arbitrary code. The loader therefore reads it only from
the dataset folder the user configured, and with an unpickler that refuses every global: the REFER files hold only
lists, dicts, strings and numbers, so a file that names any class or function is rejected instead of executed.
"""

from __future__ import annotations

import json
import pickle
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from pycocotools import mask as mask_utils
from torch.utils.data import Dataset

from omni_r1.data.datamodule import SplitDataModule, shared_arguments, split_arguments
from omni_r1.data.integrity import (
    CheckLevel,
    Problem,
    Report,
    Requirement,
    check_requirements,
    found,
    image_size,
    rle_problem,
    valid_indices,
)
from omni_r1.data.io import decode_rle, read_frames
from omni_r1.data.layout import DatasetFormatError, require_paths
from omni_r1.data.types import VideoSample
from omni_r1.validation import init_arguments, require_choice, require_str

# The splits of each refs variant of refCOCOg (REFER): the umd partition has a test split, Google's has not.
SPLITS_BY: dict[str, tuple[str, ...]] = {"umd": ("train", "val", "test"), "google": ("train", "val")}
SplitBy = Literal[tuple(SPLITS_BY)]
RefCOCOgSplit = Literal["train", "val", "test"]  # the splits of any split_by; which ones exist is checked per split_by

LAYOUT = """\
<root>/
├── train2014/COCO_train2014_<12-digit image id>.jpg   COCO 2014 train images (instances.json file_name)
└── refcocog/
    ├── instances.json   {"images": [{"id", "file_name", "height", "width"}], "annotations": [{"id", "image_id",
    │                     "category_id", "segmentation": polygons or RLE, "bbox"}], "categories": [...]}
    └── refs(umd).p      pickle: [{"ref_id", "ann_id", "image_id", "split", "sentences": [{"sent", "sent_id"}]}]"""


class _RefsUnpickler(pickle.Unpickler):
    """Unpickler that loads only built-in containers and scalars: any global reference is refused."""

    def __init__(self, file: Any, path: Path) -> None:
        super().__init__(file, encoding="utf-8")
        self.path = path

    def find_class(self, module: str, name: str) -> Any:
        raise DatasetFormatError(
            self.path,
            f"refuses to unpickle the global {module}.{name}: REFER refs files hold only lists, dicts, strings and "
            "numbers, so this file is not one (it could run code when loaded)",
        )


def load_refs(path: str | Path) -> list[dict[str, Any]]:
    """Read and check a REFER ``refs(<split_by>).p`` pickle without executing anything it names.

    Raises:
        DatasetFormatError: the file is not a pickle of ref dicts with ``ref_id``, ``ann_id``, ``image_id``,
            ``split`` and a non-empty ``sentences`` list of dicts holding a ``sent`` string.
    """
    path = Path(path)
    try:
        with open(path, "rb") as handle:
            refs = _RefsUnpickler(handle, path).load()
    except DatasetFormatError:
        raise
    except (pickle.UnpicklingError, EOFError, UnicodeDecodeError, ValueError, TypeError) as err:
        raise DatasetFormatError(path, f"not a readable REFER refs pickle ({err})") from err
    if not isinstance(refs, list):
        raise DatasetFormatError(path, f"expected a list of refs, got {type(refs).__name__}")
    for i, ref in enumerate(refs):
        keys = ("ref_id", "ann_id", "image_id", "split", "sentences")
        if not isinstance(ref, dict) or any(k not in ref for k in keys):
            raise DatasetFormatError(f"{path}[{i}]", f"expected a dict with keys {list(keys)}")
        sentences = ref["sentences"]
        if not isinstance(sentences, list) or not sentences:
            raise DatasetFormatError(f"{path}[{i}]", "expected a non-empty 'sentences' list")
        if not all(isinstance(s, dict) and isinstance(s.get("sent"), str) for s in sentences):
            raise DatasetFormatError(f"{path}[{i}]", "every sentence must be a dict with a 'sent' string")
    return refs


def load_instances(path: str | Path) -> tuple[dict[int, dict[str, Any]], dict[int, dict[str, Any]]]:
    """Images and annotations of a COCO ``instances.json``, each by id.

    Raises:
        DatasetFormatError: the file is not JSON, or lacks ``images`` / ``annotations`` entries with their keys.
    """
    path = Path(path)
    try:
        content = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise DatasetFormatError(path, f"not valid JSON ({err})") from err
    if not isinstance(content, dict) or not isinstance(content.get("images"), list):
        raise DatasetFormatError(path, "expected an object with 'images' and 'annotations' lists")
    if not isinstance(content.get("annotations"), list):
        raise DatasetFormatError(path, "expected an object with 'images' and 'annotations' lists")
    image_keys, ann_keys = ("id", "file_name", "height", "width"), ("id", "image_id", "segmentation")
    for key, entries, keys in (
        ("images", content["images"], image_keys),
        ("annotations", content["annotations"], ann_keys),
    ):
        for i, entry in enumerate(entries):
            if not isinstance(entry, dict) or any(k not in entry for k in keys):
                raise DatasetFormatError(f"{path}[{key}][{i}]", f"expected keys {list(keys)}")
    return {int(im["id"]): im for im in content["images"]}, {int(a["id"]): a for a in content["annotations"]}


def segmentation_problem(segmentation: Any, height: int, width: int, level: CheckLevel) -> str | None:
    """Why a COCO segmentation cannot be rasterised on a ``height`` x ``width`` image, or ``None``."""
    if isinstance(segmentation, list):
        if not segmentation or not all(
            isinstance(poly, list) and len(poly) >= 6 and len(poly) % 2 == 0 for poly in segmentation
        ):
            return "polygons must be a non-empty list of [x1, y1, x2, y2, ...] lists with at least 3 points"
        if not all(isinstance(v, int | float) for poly in segmentation for v in poly):
            return "polygon coordinates must be numbers"
        return None
    if segmentation is None:
        return "segmentation is null"
    return rle_problem(segmentation, height, width, level)


def decode_segmentation(segmentation: Any, height: int, width: int, *, source: str) -> torch.Tensor:
    """``(H, W)`` bool mask of a COCO segmentation (polygons, uncompressed or compressed RLE)."""
    problem = segmentation_problem(segmentation, height, width, "open")
    if problem:
        raise DatasetFormatError(source, problem)
    if isinstance(segmentation, list):
        rle = mask_utils.merge(mask_utils.frPyObjects(segmentation, height, width))
        return torch.from_numpy(np.ascontiguousarray(mask_utils.decode(rle) != 0))
    return decode_rle(segmentation, height, width, source=source)


@dataclass(frozen=True)
class _Item:
    ref: int  # index into the split's refs
    sentence: int | None  # fixed sentence (evaluation) or None (drawn per access in training)


class RefCOCOgDataset(Dataset[VideoSample]):
    """The referred objects of one refCOCOg split as one-frame grounding prompts.

    Args:
        root: dataset root (holds the image folder and ``refcocog/``).
        split: value of the refs' ``split`` field (umd: ``train``, ``val``, ``test``).
        train: one prompt per referred object with a sentence drawn per access, or one prompt per sentence.
        seed: seed of the training sentence draws (a draw depends on ``(seed, epoch, index)`` only).
        split_by: refs file variant (``refs(<split_by>).p``; ``umd`` or ``google``).
        image_dir: folder of the COCO images, relative to ``root``.
        skip_invalid: drop the prompts whose image or annotation is missing or broken (and log how many).
        check_level: how thoroughly files are checked on construction, or ``None`` to skip the check.

    Raises:
        DatasetLayoutError: ``instances.json``, the refs file or an image is missing.
        DatasetFormatError: an annotation file is malformed, or a ref names an unknown image / annotation.
    """

    name = "refCOCOg"
    task = "grounding"

    def __init__(
        self,
        root: str | Path,
        split: str = "train",
        train: bool = True,
        seed: int = 0,
        *,
        split_by: str = "umd",
        image_dir: str = "train2014",
        skip_invalid: bool = False,
        check_level: CheckLevel | None = "exists",
    ) -> None:
        self.root = Path(root)
        self.split, self.train, self.seed, self.epoch = split, train, seed, 0
        self.image_dir = self.root / image_dir
        refs_path = self.root / "refcocog" / f"refs({split_by}).p"
        instances_path = self.root / "refcocog" / "instances.json"
        require_paths(self.name, self.root, [instances_path, refs_path], LAYOUT)
        all_refs = load_refs(refs_path)
        self.images, self.annotations = load_instances(instances_path)
        self.refs = [ref for ref in all_refs if ref["split"] == split]
        if not self.refs:
            found_splits = sorted({str(ref["split"]) for ref in all_refs})
            raise DatasetFormatError(refs_path, f"no refs with split {split!r}; splits present: {found_splits}")
        for ref in self.refs:
            if int(ref["ann_id"]) not in self.annotations or int(ref["image_id"]) not in self.images:
                raise DatasetFormatError(
                    refs_path,
                    f"ref {ref['ref_id']} names ann_id {ref['ann_id']} / image_id {ref['image_id']}, which "
                    f"{instances_path} does not hold",
                )
        self.items = [
            _Item(r, None if train else s)
            for r, ref in enumerate(self.refs)
            for s in ([0] if train else range(len(ref["sentences"])))
        ]
        self.report: Report | None = None
        if check_level is not None:
            self.report = self.check(check_level)
            self.items = [self.items[i] for i in valid_indices(self.report, skip_invalid, LAYOUT)]

    def _image(self, ref: dict[str, Any]) -> dict[str, Any]:
        return self.images[int(ref["image_id"])]

    def check(self, level: CheckLevel, workers: int = 8) -> Report:
        """Check images and segmentations at ``level`` (image sizes against ``instances.json`` from ``"open"`` on)."""
        groups = [
            [Requirement(self.image_dir / self._image(self.refs[i.ref])["file_name"], "image")] for i in self.items
        ]
        outcome, bad = check_requirements(groups, level, workers)
        problems = [p for p in outcome.values() if p is not None]
        checked: dict[int, bool] = {}
        for index, item in enumerate(self.items):
            ref = self.refs[item.ref]
            ann_id = int(ref["ann_id"])
            if ann_id not in checked:
                image = self._image(ref)
                height, width = int(image["height"]), int(image["width"])
                where = f"{self.root / 'refcocog' / 'instances.json'}[annotations][id={ann_id}]"
                detail = segmentation_problem(self.annotations[ann_id]["segmentation"], height, width, level)
                requirement = groups[index][0]
                if detail is None and level != "exists" and outcome[requirement] is None:
                    size = image_size(requirement.path)
                    if size != (height, width):
                        detail = f"image {requirement.path.name} is {size}, instances.json says ({height}, {width})"
                if detail:
                    problems.append(Problem("invalid", where, detail))
                checked[ann_id] = detail is None
            if not checked[ann_id]:
                bad.add(index)
        counts: dict[str, int | str] = {
            "images": found(outcome, "image", self.image_dir, len({int(r["image_id"]) for r in self.refs})),
            "refs (objects)": len(self.refs),
            "sentences": sum(len(r["sentences"]) for r in self.refs),
            "prompts": len(self.items),
            "masks (segmentations)": f"{sum(checked.values())} / {len(checked)}",
        }
        return Report(self.name, self.split, self.root, len(self.items), counts, problems, bad)

    def set_epoch(self, epoch: int) -> None:
        """Draw new training sentences for a new epoch (like ``DistributedSampler.set_epoch``)."""
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> VideoSample:
        item = self.items[index]
        ref = self.refs[item.ref]
        sentence = item.sentence
        if sentence is None:
            state = np.random.SeedSequence([self.seed, self.epoch, index]).generate_state(1)[0]
            sentence = int(state) % len(ref["sentences"])
        image = self._image(ref)
        path = self.image_dir / image["file_name"]
        frames = read_frames([path])  # (1, 3, H, W)
        height, width = frames.shape[-2:]
        if (height, width) != (int(image["height"]), int(image["width"])):
            raise DatasetFormatError(
                path, f"image is {(height, width)}, instances.json says {image['height'], image['width']}"
            )
        ann_id = int(ref["ann_id"])
        mask = decode_segmentation(
            self.annotations[ann_id]["segmentation"], height, width, source=f"instances.json[annotations][id={ann_id}]"
        )
        chosen = ref["sentences"][sentence]
        return VideoSample(
            dataset="refcocog",
            task=self.task,
            video_id=Path(image["file_name"]).stem,
            exp_id=str(chosen.get("sent_id", f"{ref['ref_id']}_{sentence}")),
            expression=chosen["sent"],
            expression_type=0,
            frames=frames,
            frame_names=[Path(image["file_name"]).stem],
            s1_indices=torch.tensor([0]),
            masks=mask[None, None],  # (1, 1, H, W)
            obj_ids=[ann_id],
            audio=None,
            fps=1.0,
        )


class RefCOCOgDataModule(SplitDataModule):
    """refCOCOg grounding prompts (the Detail system's skill data) as lists of one-frame ``VideoSample``.

    Args:
        root: dataset root in the REFER layout.
        train_split: refs split used for fitting.
        val_split: refs split used for validation.
        test_split: refs split used for testing.
        split_by: refs file variant (``umd`` as in the paper, or ``google``).
        image_dir: folder of the COCO train2014 images, relative to ``root``.
        batch_size: prompts per batch.
        num_workers: dataloader worker processes.
        seed: seed of the sentence draws and the shuffle order.
        skip_invalid: skip prompts whose image or segmentation is missing or broken (logging how many).
        check_level: file check run in ``setup()`` (``"exists"``, ``"open"``, ``"decode"``).
    """

    def __init__(
        self,
        root: str,
        train_split: RefCOCOgSplit = "train",
        val_split: RefCOCOgSplit = "val",
        test_split: RefCOCOgSplit = "test",
        split_by: SplitBy = "umd",
        image_dir: str = "train2014",
        batch_size: int = 1,
        num_workers: int = 0,
        seed: int = 0,
        skip_invalid: bool = False,
        check_level: CheckLevel = "open",
    ) -> None:
        args = init_arguments(locals())
        RefCOCOgDataModule.validate_init_args(args)
        super().__init__(splits=split_arguments(args), **shared_arguments(args))
        self.options: dict[str, Any] = {"split_by": split_by, "image_dir": image_dir}

    @classmethod
    def validate_init_args(cls, args: Mapping[str, Any]) -> None:
        """Raise :class:`~omni_r1.validation.ConfigError` for a refs variant or split the REFER release does not
        have (``umd``: train / val / test; ``google``: train / val), or a loader or check setting out of range."""
        require_choice("split_by", args.get("split_by"), SPLITS_BY)  # first: it decides the split names
        super().validate_init_args(args)
        require_str("image_dir", args.get("image_dir"), note="the COCO images' folder, relative to root")

    @classmethod
    def split_choices(cls, name: str, args: Mapping[str, Any]) -> tuple[str, ...]:
        return SPLITS_BY[args["split_by"]]

    def build(self, part: str) -> RefCOCOgDataset:
        train = part == "train"
        return RefCOCOgDataset(self.root, self.splits[part], train, self.seed, **self.options, **self.checks)
