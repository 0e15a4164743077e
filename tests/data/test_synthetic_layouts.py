"""The MeViS, refCOCOg, AVHBench and VideoQA writers produce their published layouts with exact content."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import numpy as np
import pytest
from pycocotools import mask as mask_utils

from omni_r1.data.synthetic import (
    AVHBENCH_TASKS,
    MEVIS_SPLITS,
    SyntheticAVHBench,
    SyntheticMeViS,
    SyntheticRefCOCOg,
    SyntheticVideoQA,
    build_mevis,
    build_refcocog,
)


def test_mevis_layout_and_schema(mevis_root: Path, mevis_data: SyntheticMeViS) -> None:
    assert sorted(p.name for p in mevis_root.iterdir()) == sorted(MEVIS_SPLITS)
    for split in MEVIS_SPLITS:
        meta = json.loads((mevis_root / split / "meta_expressions.json").read_text())
        assert meta == mevis_data.meta[split] and len(meta["videos"]) == 2
        for vid, info in meta["videos"].items():
            assert set(info) == {"expressions", "vid_id", "frames"}  # no height / width
            assert sorted((mevis_root / split / "JPEGImages" / vid).iterdir())[0].name == "00000.jpg"
            keys = {"exp"} if split == "valid" else {"exp", "obj_id", "anno_id"}  # no type_id
            assert all(set(e) == keys for e in info["expressions"].values())
        assert (mevis_root / split / "mask_dict.json").exists() == (split != "valid")
    mask_dict = json.loads((mevis_root / "train" / "mask_dict.json").read_text())
    absent = 0
    for anno, rles in mask_dict.items():
        for rle, expected in zip(rles, mevis_data.masks[int(anno)], strict=True):
            if expected is None:
                absent += rle is None
                continue
            decoded = mask_utils.decode({"size": rle["size"], "counts": rle["counts"].encode()}).astype(bool)
            np.testing.assert_array_equal(decoded, expected)
    assert absent > 0
    assert build_mevis(num_videos=3, seed=2).meta == build_mevis(num_videos=3, seed=2).meta
    with pytest.raises(ValueError, match="num_videos >= 3"):
        build_mevis(num_videos=2)


def test_refcocog_refer_layout(refcocog_root: Path, refcocog_data: SyntheticRefCOCOg) -> None:
    with open(refcocog_root / "refcocog" / "refs(umd).p", "rb") as handle:
        refs = pickle.load(handle)  # the stdlib pickle REFER's own loader uses
    assert refs == refcocog_data.refs and {r["split"] for r in refs} == {"train", "val", "test"}
    instances = json.loads((refcocog_root / "refcocog" / "instances.json").read_text())
    assert set(instances) == {"info", "images", "annotations", "categories"}
    images = {im["id"]: im for im in instances["images"]}
    for ann in instances["annotations"]:
        image = images[ann["image_id"]]
        assert (refcocog_root / "train2014" / image["file_name"]).is_file()
        segmentation = ann["segmentation"]
        if isinstance(segmentation, list):
            rle = mask_utils.merge(mask_utils.frPyObjects(segmentation, image["height"], image["width"]))
        else:
            rle = {"size": segmentation["size"], "counts": segmentation["counts"].encode()}
        np.testing.assert_array_equal(mask_utils.decode(rle).astype(bool), refcocog_data.masks[ann["id"]])
        assert ann["area"] == refcocog_data.masks[ann["id"]].sum() > 0
    masks = [refcocog_data.masks[a["id"]] for a in instances["annotations"] if a["image_id"] == 500]
    assert not np.logical_and(*masks[:2]).any()  # shapes never overlap
    for ref in refs:
        assert ref["ann_id"] in refcocog_data.masks and len(ref["sentences"]) == 2
    assert build_refcocog(num_images=3, seed=1).refs == build_refcocog(num_images=3, seed=1).refs


def test_avhbench_v0_layout(avhbench_root: Path, avhbench_data: SyntheticAVHBench) -> None:
    assert sorted(p.name for p in (avhbench_root / "json").iterdir()) == ["00001.json", "00002.json"]
    assert sorted(p.name for p in (avhbench_root / "video").iterdir()) == [
        "00001.mp4",
        "00001_swap.mp4",
        "00002.mp4",
        "00002_swap.mp4",
    ]
    for stem, expected in avhbench_data.qa.items():
        records = json.loads((avhbench_root / "json" / f"{stem}.json").read_text())
        assert records == expected
        assert all(set(r) == {"video_id", "task", "text", "label"} for r in records)
        assert {r["task"] for r in records} == set(AVHBENCH_TASKS)
        judge = [r["label"] for r in records if r["task"] != "AV Captioning"]
        assert sorted(set(judge)) == ["No", "Yes"]
    assert all(avhbench_data.sounds[v] != avhbench_data.sounds[f"{v}_swap"] for v in avhbench_data.qa)


def test_videoqa_jsonl(videoqa_root: Path, videoqa_data: SyntheticVideoQA) -> None:
    lines = [json.loads(line) for line in (videoqa_root / "test.jsonl").read_text().splitlines()]
    assert lines == videoqa_data.entries and len(lines) == 3
    for entry in lines:
        for key in ("video", "image"):
            if key in entry:
                assert (videoqa_root / entry[key]).exists()
        assert entry.get("audio") in (None, "video") or (videoqa_root / entry["audio"]).is_file()
    assert len(list((videoqa_root / "frames" / "qa_000").iterdir())) == 12
