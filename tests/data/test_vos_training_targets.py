"""Which ReVOS / MeViS expressions training sees, and with which targets, as the authors' loader does.

The authors' ``VideoReVOSDataset`` (MeViS derives from it) skips expressions whose ``obj_id`` is empty, never reads
``type_id``, and keeps an expression with more than ``select_number=3`` targets with 3 of them drawn without
replacement. Each case is a synthetic root with expressions added to its meta file by hand:

- ``empty``: no target (``obj_id == anno_id == []``);
- ``five``: five targets, anno ids borrowed from the split's other videos (same frame count and size);
- ``nan``: a type-2 expression with one target (ReVOS only; MeViS has no ``type_id``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import torch

from omni_r1.data.io import decode_rle
from omni_r1.data.mevis import MeViSDataModule
from omni_r1.data.revos import ReVOSDataModule
from omni_r1.data.synthetic import write_mevis, write_revos

NUM_FRAMES, HEIGHT, WIDTH = 4, 32, 48


@dataclass
class Case:
    """A root with the hand-added expressions; ``make`` builds its DataModule from keyword overrides."""

    name: str
    root: Path
    video: str  # the training video that holds the added expressions
    five: list[int]  # the anno ids of "five"
    mask_dict: dict[str, Any]
    module: type

    def make(self, **kwargs: Any) -> ReVOSDataModule | MeViSDataModule:
        return self.module(str(self.root), min_frames=NUM_FRAMES, max_frames=NUM_FRAMES, **kwargs)


def add_expressions(meta_path: Path, mask_path: Path, type_ids: bool, valid_meta: Path | None) -> tuple[str, list]:
    meta = json.loads(meta_path.read_text())
    videos = meta["videos"]
    video = sorted(videos)[0]
    annos = sorted({a for info in videos.values() for e in info["expressions"].values() for a in e["anno_id"]})
    assert len(annos) >= 5 and set(map(str, annos)) <= set(json.loads(mask_path.read_text()))
    extra = {"type_id": 0} if type_ids else {}
    expressions = videos[video]["expressions"]
    expressions["empty"] = {"exp": "the object nobody drew", "obj_id": [], "anno_id": [], **extra}
    expressions["five"] = {"exp": "all five shapes", "obj_id": list(range(5)), "anno_id": annos[:5], **extra}
    if type_ids:
        expressions["nan"] = {**expressions["0"], "type_id": 2}
    meta_path.write_text(json.dumps(meta))
    if valid_meta is not None:  # one target-less expression to evaluate on, too
        valid = json.loads(valid_meta.read_text())
        first = sorted(valid["videos"])[0]
        valid["videos"][first]["expressions"]["empty"] = {"exp": "nothing", "obj_id": [], "anno_id": [], **extra}
        valid_meta.write_text(json.dumps(valid))
    return video, annos[:5]


@pytest.fixture(scope="module", params=["revos", "mevis"])
def case(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Case:
    folder = tmp_path_factory.mktemp(request.param)
    size = {"num_frames": NUM_FRAMES, "height": HEIGHT, "width": WIDTH}
    if request.param == "revos":
        root = write_revos(folder, num_videos=6, **size)
        meta, masks = root / "meta_expressions_train_.json", root / "mask_dict.json"
        video, five = add_expressions(meta, masks, True, root / "meta_expressions_valid_.json")
        return Case("revos", root, video, five, json.loads(masks.read_text()), ReVOSDataModule)
    root = write_mevis(folder, num_videos=9, **size)
    meta, masks = root / "train" / "meta_expressions.json", root / "train" / "mask_dict.json"
    video, five = add_expressions(meta, masks, False, root / "valid_u" / "meta_expressions.json")
    return Case("mevis", root, video, five, json.loads(masks.read_text()), MeViSDataModule)


def train_set(case: Case, **kwargs: Any):
    dm = case.make(**kwargs)
    dm.setup("fit")
    return dm.dataset("train")


def exp_ids(dataset) -> set[tuple[str, str]]:
    return {(item.video, item.exp_id) for item in dataset.items}


def test_targetless_expressions_are_skipped_in_training_only(case: Case) -> None:
    dm = case.make()
    dm.setup("fit")
    train, val = dm.dataset("train"), dm.dataset("val")
    assert (case.video, "empty") not in exp_ids(train)
    assert any(item.exp_id == "empty" for item in val.items)  # evaluation keeps them: the official scripts score them
    assert (case.video, "empty") in exp_ids(train_set(case, skip_targetless=False))  # the kit's former behaviour
    if case.name == "revos":  # the authors' loader never reads type_id: type 2 is trained on
        assert (case.video, "nan") in exp_ids(train)


def test_more_than_max_objects_keeps_a_seeded_three_object_subset(case: Case) -> None:
    train = train_set(case)  # defaults: max_objects 3, over_max_objects "subset"
    index = next(i for i, item in enumerate(train.items) if (item.video, item.exp_id) == (case.video, "five"))
    sample = train[index]
    assert len(sample.obj_ids) == 3 == sample.masks.shape[0]
    assert set(sample.obj_ids) < set(case.five)
    assert sample.obj_ids == sorted(sample.obj_ids, key=case.five.index)  # drawn without replacement, meta order
    for mask, anno in zip(sample.masks, sample.obj_ids):
        rles = case.mask_dict[str(anno)]
        want = torch.stack([decode_rle(rles[int(stem)], HEIGHT, WIDTH) for stem in sample.frame_names])
        assert torch.equal(mask, want)

    # Deterministic per (seed, epoch, expression): a fresh dataset in which the expression sits at another index
    # (the target-less one is kept in front of it) draws the same objects; other seeds and epochs draw anew.
    shifted = train_set(case, skip_targetless=False)
    moved = next(i for i, item in enumerate(shifted.items) if (item.video, item.exp_id) == (case.video, "five"))
    assert moved != index and shifted[moved].obj_ids == sample.obj_ids
    draws = {tuple(train_set(case, seed=seed)[index].obj_ids) for seed in range(6)}
    train.set_epoch(1)
    draws.add(tuple(train[index].obj_ids))
    assert len(draws) > 1

    dropped = train_set(case, over_max_objects="drop")  # the kit's former behaviour
    assert (case.video, "five") not in exp_ids(dropped)
    assert exp_ids(dropped) == exp_ids(train) - {(case.video, "five")}
    every = train_set(case, max_objects=None)
    assert len(every[index].obj_ids) == 5


def test_bad_keys_are_config_errors(case: Case) -> None:
    with pytest.raises(ValueError, match="over_max_objects"):
        case.make(over_max_objects="sample")
    with pytest.raises(ValueError, match="skip_targetless"):
        case.make(skip_targetless="yes")
