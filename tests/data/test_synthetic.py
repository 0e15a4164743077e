"""The synthetic writers produce the official layouts, and the files decode to exactly the generated content."""

from __future__ import annotations

import csv
import json
import wave
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from pycocotools import mask as mask_utils

from omni_r1.data.synthetic import (
    COLOURS,
    MARKER,
    TONES_HZ,
    SyntheticRefAVS,
    SyntheticReVOS,
    build_refavs,
    build_revos,
    ensure_synthetic,
    write_refavs,
    write_revos,
)


def _rows(root: Path) -> tuple[list[str], list[dict[str, str]]]:
    with open(root / "metadata.csv", newline="") as handle:
        reader = csv.DictReader(handle)
        return list(reader.fieldnames or []), list(reader)


def _png(path: Path) -> np.ndarray:
    return np.asarray(Image.open(path))


# ----------------------------------------------------------------------------------------------------- RefAVS


def test_refavs_csv_columns_splits_and_uid_rule(refavs_root: Path) -> None:
    columns, rows = _rows(refavs_root)
    assert columns == ["vid", "uid", "split", "fid", "exp"]
    assert {r["split"] for r in rows} == {"train", "val", "test_s", "test_u", "test_n"}
    for row in rows:
        folder = row["uid"].rsplit("_", 2)[0]
        if row["split"] == "test_n":
            assert row["uid"] == f"null_c-{row['vid']}_null_0"
            assert not (refavs_root / "media" / folder).exists()  # loaders must fall back to the vid column
        else:
            assert folder == row["vid"]
            assert row["uid"].split("_")[0] != row["vid"]  # names hold underscores: only rsplit finds the folder
        assert (refavs_root / "media" / row["vid"] / "audio.wav").is_file()
        assert (refavs_root / "gt_mask" / row["vid"] / f"fid_{row['fid']}").is_dir()


def test_refavs_pngs_decode_to_the_generated_masks(refavs_root: Path, refavs_data: SyntheticRefAVS) -> None:
    _, rows = _rows(refavs_root)
    assert {(r["vid"], r["fid"]) for r in rows} == set(refavs_data.gt_masks)
    for (vid, fid), masks in refavs_data.gt_masks.items():
        assert masks.shape == (10, 64, 96)
        for t in range(10):
            png = _png(refavs_root / "gt_mask" / vid / f"fid_{fid}" / f"0000{t}.png")
            assert png.dtype == np.uint8 and set(np.unique(png)) <= {0, 255}
            np.testing.assert_array_equal(png == 255, masks[t])
        is_null = vid.startswith("syn_test_n_")
        assert (masks.sum() == 0) == is_null


def test_refavs_frames_are_painted_from_the_masks(refavs_root: Path, refavs_data: SyntheticRefAVS) -> None:
    for vid, video in refavs_data.videos.items():
        union = video.masks.any(axis=0)
        assert (video.masks.sum(axis=0) <= 1).all()  # occlusion leaves each pixel to one object
        for o, shape in enumerate(video.shapes):
            assert (video.frames[video.masks[o]] == COLOURS[shape.colour]).all()
        assert (video.frames[~union] == 235).all()
        jpegs = np.stack(
            [np.asarray(Image.open(refavs_root / "media" / vid / "frames" / f"{t}.jpg")) for t in range(10)]
        )
        assert jpegs.shape == video.frames.shape == (10, 64, 96, 3)
        assert np.abs(jpegs.astype(int) - video.frames).mean() < 4  # lossy, but the same picture
        assert not (refavs_root / "media" / vid / "frames" / "10.jpg").exists()


def test_refavs_audio_is_the_tone_of_the_sounding_shape(refavs_root: Path, refavs_data: SyntheticRefAVS) -> None:
    sounding = {r["vid"]: r["exp"] for r in refavs_data.rows if r["exp"].endswith("that is making a sound")}
    for vid, expected in refavs_data.audio.items():
        with wave.open(str(refavs_root / "media" / vid / "audio.wav")) as wav:
            assert (wav.getnchannels(), wav.getsampwidth(), wav.getframerate(), wav.getnframes()) == (
                1,
                2,
                16000,
                160000,
            )
            samples = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2")
        np.testing.assert_array_equal(samples, expected)
        peak_hz = np.argmax(np.abs(np.fft.rfft(samples))) * 16000 / len(samples)
        if not vid.startswith("syn_test_n_"):  # null rows name an absent shape
            colour = sounding[vid].split()[1]
            assert peak_hz == pytest.approx(TONES_HZ[colour], abs=0.2)


def test_refavs_expressions_name_the_masked_shape(refavs_data: SyntheticRefAVS) -> None:
    for row in refavs_data.rows:
        shapes = refavs_data.videos[row["vid"]].shapes
        if row["split"] == "test_n":
            colour = row["exp"].split()[1]
            assert colour not in {s.colour for s in shapes}
        elif "silent" in row["exp"] or "making a sound" in row["exp"]:
            assert shapes[int(row["fid"])].name in row["exp"]


# ------------------------------------------------------------------------------------------------------ ReVOS


def test_revos_meta_schema_and_expression_types(revos_root: Path, revos_data: SyntheticReVOS) -> None:
    all_videos: set[str] = set()
    type_ids: set[int] = set()
    object_counts: set[int] = set()
    for split in ("train", "valid"):
        meta = json.loads((revos_root / f"meta_expressions_{split}_.json").read_text())
        assert meta == revos_data.meta[split]
        for vid, info in meta["videos"].items():
            assert set(info) == {"height", "width", "frames", "expressions"}
            assert (info["height"], info["width"]) == (64, 96)
            assert info["frames"] == [f"{t:05d}" for t in range(12)]
            assert sorted((revos_root / "JPEGImages" / vid).iterdir()) == [
                revos_root / "JPEGImages" / vid / f"{s}.jpg" for s in info["frames"]
            ]
            for exp in info["expressions"].values():
                assert set(exp) == {"exp", "obj_id", "anno_id", "type_id"}
                assert len(exp["obj_id"]) == len(exp["anno_id"])
                type_ids.add(exp["type_id"])
                object_counts.add(len(exp["anno_id"]))
        all_videos |= set(meta["videos"])
    assert not set(revos_data.meta["train"]["videos"]) & set(revos_data.meta["valid"]["videos"])
    assert all_videos == set(revos_data.videos)
    assert type_ids == {0, 1} and object_counts == {1, 2}


def test_revos_mask_dict_decodes_to_the_generated_masks(revos_root: Path, revos_data: SyntheticReVOS) -> None:
    mask_dict = json.loads((revos_root / "mask_dict.json").read_text())
    assert set(mask_dict) == {str(a) for a in revos_data.masks}
    absent = 0
    for anno, masks in revos_data.masks.items():
        assert len(mask_dict[str(anno)]) == 12
        for rle, expected in zip(mask_dict[str(anno)], masks):
            if expected is None:
                assert rle is None
                absent += 1
                continue
            assert isinstance(rle["counts"], str) and rle["size"] == [64, 96]
            decoded = mask_utils.decode({"size": rle["size"], "counts": rle["counts"].encode()})
            np.testing.assert_array_equal(decoded.astype(bool), expected)
    assert absent > 0


def test_revos_every_video_has_an_object_absent_in_some_frames(revos_data: SyntheticReVOS) -> None:
    for split in ("train", "valid"):
        for info in revos_data.meta[split]["videos"].values():
            annos = {a for exp in info["expressions"].values() for a in exp["anno_id"]}
            assert any(m is None for a in annos for m in revos_data.masks[a])
            assert all(any(m is not None for m in revos_data.masks[a]) for a in annos)


def test_revos_reasoning_targets_match_the_motion(revos_data: SyntheticReVOS) -> None:
    for split in ("train", "valid"):
        for vid, info in revos_data.meta[split]["videos"].items():
            shapes = revos_data.videos[vid].shapes
            for exp in info["expressions"].values():
                if exp["exp"] == "the object that moves fastest":
                    assert exp["obj_id"] == [int(np.argmax([s.speed for s in shapes]))]
                if "the scene" in exp["exp"]:
                    assert shapes[exp["obj_id"][0]].visible != (0, 12)


def test_revos_foreground_is_the_union_of_all_objects(revos_root: Path, revos_data: SyntheticReVOS) -> None:
    foreground = json.loads((revos_root / "mask_dict_foreground.json").read_text())
    assert set(foreground) == set(revos_data.videos)
    for vid, video in revos_data.videos.items():
        union = video.masks.any(axis=0)
        entry = foreground[vid]
        assert len(entry["masks_rle"]) == len(entry["foreground_ratio"]) == 12
        for t, rle in enumerate(entry["masks_rle"]):
            decoded = mask_utils.decode({"size": rle["size"], "counts": rle["counts"].encode()}).astype(bool)
            np.testing.assert_array_equal(decoded, union[t])
            assert entry["foreground_ratio"][t] == pytest.approx(union[t].sum() / (64 * 96))


# ---------------------------------------------------------------------------------------------- determinism


def test_builders_are_deterministic_for_a_seed() -> None:
    a, b, c = (build_revos(num_videos=2, seed=s) for s in (3, 3, 4))
    assert a.meta == b.meta
    for vid in a.videos:
        np.testing.assert_array_equal(a.videos[vid].frames, b.videos[vid].frames)
    assert any(not np.array_equal(a.videos[v].masks, c.videos[v].masks) for v in a.videos)
    r1, r2 = (build_refavs(num_videos=1, splits=("train",), seed=s) for s in (5, 5))
    assert r1.rows == r2.rows
    assert all(np.array_equal(r1.gt_masks[k], r2.gt_masks[k]) for k in r1.gt_masks)


def test_written_files_are_byte_identical_for_a_seed(tmp_path: Path) -> None:
    for name in ("a", "b"):
        write_revos(tmp_path / name, num_videos=2, num_frames=4, seed=1)
        write_refavs(tmp_path / name / "avs", num_videos=1, splits=("train", "test_n"), seed=1)
    files = sorted(p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*") if p.is_file())
    assert len(files) > 20
    for rel in files:
        assert (tmp_path / "a" / rel).read_bytes() == (tmp_path / "b" / rel).read_bytes(), rel


def test_builders_reject_unusable_arguments() -> None:
    with pytest.raises(ValueError, match="num_videos >= 2"):
        build_revos(num_videos=1)
    with pytest.raises(ValueError, match="distinct splits"):
        build_refavs(splits=("train", "train"))


# ------------------------------------------------------------------------------------------- ensure_synthetic


def test_ensure_synthetic_writes_once(tmp_path: Path) -> None:
    root = ensure_synthetic("revos", tmp_path / "r", num_videos=2, num_frames=4)
    assert json.loads((root / MARKER).read_text())["complete"] is True
    stamp = (root / "mask_dict.json").stat().st_mtime_ns
    (root / "JPEGImages" / "video_000" / "00000.jpg").unlink()  # a complete root is trusted, not re-checked
    ensure_synthetic("revos", root, num_videos=2, num_frames=4, seed=0)  # explicit default: same parameters
    assert (root / "mask_dict.json").stat().st_mtime_ns == stamp
    assert not (root / "JPEGImages" / "video_000" / "00000.jpg").exists()


def test_ensure_synthetic_redoes_a_half_written_root(tmp_path: Path) -> None:
    root = ensure_synthetic("refavs", tmp_path / "r", num_videos=1, splits=("train",))
    marker = json.loads((root / MARKER).read_text())
    (root / MARKER).write_text(json.dumps({**marker, "complete": False}))
    (root / "metadata.csv").unlink()
    ensure_synthetic("refavs", root, num_videos=1, splits=("train",))
    assert _rows(root)[1] and json.loads((root / MARKER).read_text())["complete"] is True


def test_ensure_synthetic_rewrites_for_other_parameters(tmp_path: Path) -> None:
    root = ensure_synthetic("revos", tmp_path / "r", num_videos=4, num_frames=4)
    ensure_synthetic("revos", root, num_videos=2, num_frames=4)
    assert sorted(p.name for p in (root / "JPEGImages").iterdir()) == ["video_000", "video_001"]


def test_ensure_synthetic_refuses_a_root_of_another_kind(tmp_path: Path) -> None:
    """A ReVOS DataModule pointed at a synthetic RefAVS root must not mix its layout into it."""
    root = ensure_synthetic("refavs", tmp_path / "r", num_videos=1, splits=("train",))
    before = sorted(p.relative_to(root).as_posix() for p in root.rglob("*"))
    with pytest.raises(ValueError, match=r"holds a synthetic 'refavs' dataset, not 'revos'"):
        ensure_synthetic("revos", root, num_videos=2, num_frames=4)
    assert sorted(p.relative_to(root).as_posix() for p in root.rglob("*")) == before


def test_ensure_synthetic_leaves_a_real_dataset_alone(tmp_path: Path) -> None:
    (tmp_path / "metadata.csv").write_text("vid,uid,split,fid,exp\n")
    ensure_synthetic("refavs", tmp_path)
    assert not (tmp_path / MARKER).exists() and not (tmp_path / "media").exists()
    with pytest.raises(ValueError, match="unknown synthetic dataset kind"):
        ensure_synthetic("mevis", tmp_path)
