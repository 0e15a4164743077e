"""MeViS and refCOCOg DataModules (exact ground truth, splits, format errors) and ReVOS's training-item options."""

from __future__ import annotations

import json
import pickle
import re
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import torch

from omni_r1.data.layout import DatasetFormatError, DatasetLayoutError
from omni_r1.data.mevis import MeViSDataModule, MeViSDataset
from omni_r1.data.refcocog import RefCOCOgDataModule, RefCOCOgDataset, load_refs
from omni_r1.data.revos import ReVOSDataset
from omni_r1.data.synthetic import SyntheticMeViS, SyntheticRefCOCOg, SyntheticReVOS, encode_rle

# ------------------------------------------------------------------------------------------------------ MeViS


def _mevis_masks(data: SyntheticMeViS, annos: list[int], frames: list[int]) -> torch.Tensor:
    out = np.zeros((len(annos), len(frames), 64, 96), dtype=bool)
    for o, anno in enumerate(annos):
        for t, i in enumerate(frames):
            if data.masks[anno][i] is not None:
                out[o, t] = data.masks[anno][i]
    return torch.from_numpy(out)


def test_mevis_train_and_valid_u_masks_are_exact(mevis_root: Path, mevis_data: SyntheticMeViS) -> None:
    dm = MeViSDataModule(str(mevis_root), batch_size=2, min_frames=4, max_frames=6)
    dm.setup("fit")
    train = [s for batch in dm.train_dataloader() for s in batch]
    val = [s for batch in dm.val_dataloader() for s in batch]
    for split, samples in (("train", train), ("valid_u", val)):
        meta = mevis_data.meta[split]["videos"]
        assert len(samples) == sum(len(v["expressions"]) for v in meta.values())
        for sample in samples:
            exp = meta[sample.video_id]["expressions"][sample.exp_id]
            kept = [int(name) for name in sample.frame_names]
            assert (sample.dataset, sample.task, sample.expression_type) == ("mevis", "vos", 0)
            assert sample.expression == exp["exp"] and sample.obj_ids == exp["anno_id"]
            assert torch.equal(sample.masks, _mevis_masks(mevis_data, exp["anno_id"], kept))
    assert all(4 <= len(s.frame_names) <= 6 for s in train)
    assert all(s.frame_names == [f"{t:05d}" for t in range(10)] for s in val)  # evaluation: every frame
    assert any(s.masks.shape[0] == 2 for s in train + val)


def test_mevis_valid_has_expressions_but_empty_masks(mevis_root: Path, mevis_data: SyntheticMeViS) -> None:
    dm = MeViSDataModule(str(mevis_root), test_split="valid")
    dm.setup("test")
    samples = [s for batch in dm.test_dataloader() for s in batch]
    meta = mevis_data.meta["valid"]["videos"]
    assert sorted((s.video_id, s.exp_id) for s in samples) == sorted(
        (v, e) for v in meta for e in meta[v]["expressions"]
    )
    for sample in samples:
        assert sample.masks.shape == (0, 10, 64, 96) and sample.obj_ids == []
        assert sample.union_masks.shape == (10, 64, 96) and not sample.union_masks.any()
    assert not (mevis_root / "valid" / "mask_dict.json").exists()


def test_mevis_layout_and_schema_errors(mevis_copy: Path) -> None:
    (mevis_copy / "valid_u" / "mask_dict.json").unlink()
    with pytest.raises(DatasetLayoutError, match=re.escape(str(mevis_copy / "valid_u" / "mask_dict.json"))) as info:
        MeViSDataModule(str(mevis_copy)).setup("validate")
    assert "MeViS" in str(info.value) and "valid_u/" in str(info.value)  # the expected tree
    meta_path = mevis_copy / "train" / "meta_expressions.json"
    meta = json.loads(meta_path.read_text())
    vid = next(iter(meta["videos"]))
    del meta["videos"][vid]["expressions"]["0"]["anno_id"]
    meta_path.write_text(json.dumps(meta))
    with pytest.raises(DatasetFormatError, match=rf"\[{vid}\]\[0\]: expected keys 'exp' \(str\) and 'anno_id'"):
        MeViSDataset(mevis_copy, "train")
    with pytest.raises(ValueError, match="MeViS split must be one of"):
        MeViSDataset(mevis_copy, "test")


def test_mevis_wrong_size_rle_stops_setup_or_is_skipped(mevis_copy: Path, caplog: pytest.LogCaptureFixture) -> None:
    mask_path = mevis_copy / "train" / "mask_dict.json"
    masks = json.loads(mask_path.read_text())
    anno = min(masks, key=int)
    t = next(i for i, m in enumerate(masks[anno]) if m is not None)
    masks[anno][t] = encode_rle(np.zeros((32, 96), dtype=bool))
    mask_path.write_text(json.dumps(masks))
    locator = re.escape(f"{mask_path}[{anno}][{t}]")
    with pytest.raises(
        DatasetFormatError, match=rf"{locator}: invalid: RLE size \[32, 96\] does not match .*\[64, 96\]"
    ):
        MeViSDataModule(str(mevis_copy)).setup("fit")
    dm = MeViSDataModule(str(mevis_copy), skip_invalid=True)
    with caplog.at_level("WARNING"):
        dm.setup("fit")
    full = MeViSDataset(mevis_copy, "train", check_level="exists")  # sizes are not read at "exists"
    kept = dm.datasets["train"]
    assert 0 < len(kept) < len(full) and all(int(anno) not in item.anno_ids for item in kept.items)
    assert f"skipped {len(full) - len(kept)} of {len(full)} prompts" in caplog.text


# ------------------------------------------------------------------------------------ ReVOS training options


def test_revos_max_objects_and_per_video_items(revos_root: Path, revos_data: SyntheticReVOS) -> None:
    single = ReVOSDataset(revos_root, "train", max_objects=1, over_max_objects="drop")  # the kit's former way
    assert all(len(item.anno_ids) == 1 for item in single.items) and len(single) < len(ReVOSDataset(revos_root))
    per_video = ReVOSDataset(revos_root, "train", per_video=True, min_frames=4, max_frames=4)
    videos = revos_data.meta["train"]["videos"]
    assert len(per_video) == len(videos)
    drawn: dict[str, set[str]] = {}
    for epoch in range(12):
        per_video.set_epoch(epoch)
        for index in range(len(per_video)):
            sample = per_video[index]
            drawn.setdefault(sample.video_id, set()).add(sample.exp_id)
    assert all(drawn[v] <= set(videos[v]["expressions"]) and len(drawn[v]) > 1 for v in videos)
    again = ReVOSDataset(revos_root, "train", per_video=True, min_frames=4, max_frames=4)
    again.set_epoch(11)
    assert [again[i].exp_id for i in range(len(again))] == [per_video[i].exp_id for i in range(len(per_video))]


# --------------------------------------------------------------------------------------------------- refCOCOg


def test_refcocog_masks_are_exact_and_eval_yields_every_sentence(
    refcocog_root: Path, refcocog_data: SyntheticRefCOCOg
) -> None:
    dm = RefCOCOgDataModule(str(refcocog_root), batch_size=3)
    dm.setup("fit")
    val = [s for batch in dm.val_dataloader() for s in batch]
    refs = [r for r in refcocog_data.refs if r["split"] == "val"]
    assert sorted(s.exp_id for s in val) == sorted(str(x["sent_id"]) for r in refs for x in r["sentences"])
    train = [s for batch in dm.train_dataloader() for s in batch]
    assert len(train) == sum(r["split"] == "train" for r in refcocog_data.refs)  # one prompt per referred object
    for sample in train + val:
        ann_id = sample.obj_ids[0]
        image_id = next(r["image_id"] for r in refcocog_data.refs if r["ann_id"] == ann_id)
        assert (sample.dataset, sample.task, sample.s1_indices.tolist(), sample.fps) == (
            "refcocog",
            "grounding",
            [0],
            1.0,
        )
        assert sample.frames.shape == (1, 3, 64, 96) and sample.masks.shape == (1, 1, 64, 96)
        assert torch.equal(sample.masks[0, 0], torch.from_numpy(refcocog_data.masks[ann_id]))
        picture = torch.from_numpy(refcocog_data.images[image_id]).permute(2, 0, 1)
        assert (sample.frames[0].int() - picture.int()).abs().float().mean() < 4
        sentences = {x["sent"] for r in refcocog_data.refs if r["ann_id"] == ann_id for x in r["sentences"]}
        assert sample.expression in sentences and sample.video_id == f"COCO_train2014_{image_id:012d}"
    polygons = sum(isinstance(a["segmentation"], list) for a in refcocog_data.instances["annotations"])
    assert 0 < polygons < len(refcocog_data.instances["annotations"])  # both COCO segmentation forms are read


def test_refcocog_training_sentence_draws_are_seeded_per_epoch(refcocog_root: Path) -> None:
    def draws(seed: int, epochs: range) -> list[str]:
        dataset = RefCOCOgDataset(refcocog_root, "train", seed=seed)
        out = []
        for epoch in epochs:
            dataset.set_epoch(epoch)
            out += [dataset[i].expression for i in range(len(dataset))]
        return out

    assert draws(0, range(6)) == draws(0, range(6))
    assert draws(0, range(6)) != draws(1, range(6))
    assert Counter(w.split()[-1] in {"left", "right", "middle"} for w in draws(0, range(6))).keys() == {True, False}


def test_refcocog_refs_pickle_is_never_executed(refcocog_copy: Path, tmp_path: Path) -> None:
    marker = tmp_path / "pwned"

    class Exploit:
        def __reduce__(self) -> tuple:
            return (Path.touch, (marker,))

    refs_path = refcocog_copy / "refcocog" / "refs(umd).p"
    refs_path.write_bytes(pickle.dumps([Exploit()], protocol=2))
    with pytest.raises(
        DatasetFormatError, match=r"refs\(umd\)\.p: refuses to unpickle the global __builtin__\.getattr"
    ):
        RefCOCOgDataset(refcocog_copy, "train")
    assert not marker.exists()
    refs_path.write_bytes(pickle.dumps([{"ref_id": 1}], protocol=2))
    with pytest.raises(DatasetFormatError, match=r"refs\(umd\)\.p\[0\]: expected a dict with keys"):
        load_refs(refs_path)
    refs_path.write_bytes(b"not a pickle")
    with pytest.raises(DatasetFormatError, match="not a readable REFER refs pickle"):
        load_refs(refs_path)


def test_refcocog_layout_errors(refcocog_copy: Path, refcocog_data: SyntheticRefCOCOg) -> None:
    image = refcocog_copy / "train2014" / refcocog_data.instances["images"][1]["file_name"]  # image 501: a val image
    image.unlink()
    with pytest.raises(DatasetLayoutError, match=re.escape(str(image))):
        RefCOCOgDataModule(str(refcocog_copy)).setup("validate")
    RefCOCOgDataset(refcocog_copy, "train")  # other splits still load
    with pytest.raises(
        DatasetFormatError, match=r"no refs with split 'testB'; splits present: \['test', 'train', 'val'\]"
    ):
        RefCOCOgDataset(refcocog_copy, "testB")
    instances_path = refcocog_copy / "refcocog" / "instances.json"
    instances = json.loads(instances_path.read_text())
    instances["images"][0]["height"] = 60  # image 500 (train) no longer matches its file
    instances_path.write_text(json.dumps(instances))
    with pytest.raises(DatasetFormatError, match=r"image COCO_train2014_000000000500\.jpg is \(64, 96\), instances"):
        RefCOCOgDataModule(str(refcocog_copy)).setup("fit")
    instances["annotations"] = instances["annotations"][1:]
    instances_path.write_text(json.dumps(instances))
    with pytest.raises(DatasetFormatError, match=r"ref 0 names ann_id 100 / image_id 500, which .* does not hold"):
        RefCOCOgDataset(refcocog_copy, "train")
    (refcocog_copy / "refcocog" / "refs(umd).p").unlink()
    with pytest.raises(DatasetLayoutError, match=re.escape("refs(umd).p")):
        RefCOCOgDataset(refcocog_copy, "train")
