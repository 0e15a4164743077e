"""Readers, S1 frame sampling and the RefAVS / ReVOS DataModules on tiny synthetic roots."""

from __future__ import annotations

import csv
import json
import re
import wave
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from omni_r1.data.frame_sampling import sample_s1_indices
from omni_r1.data.io import decode_rle, read_audio, read_frames, read_mask_png
from omni_r1.data.layout import DatasetFormatError, DatasetLayoutError
from omni_r1.data.refavs import RefAVSDataModule, RefAVSDataset
from omni_r1.data.revos import ReVOSDataModule, ReVOSDataset
from omni_r1.data.synthetic import SyntheticRefAVS, SyntheticReVOS, encode_rle
from omni_r1.data.types import VideoSample

# -------------------------------------------------------------------------------------------------------- io


def test_read_frames_and_masks(refavs_root: Path, refavs_data: SyntheticRefAVS) -> None:
    frames = read_frames([refavs_root / "media" / "syn_val_00" / "frames" / f"{t}.jpg" for t in (0, 3)])
    assert frames.shape == (2, 3, 64, 96) and frames.dtype == torch.uint8
    reference = refavs_data.videos["syn_val_00"].frames[[0, 3]]  # (2, H, W, 3)
    assert (frames.permute(0, 2, 3, 1).int() - torch.from_numpy(reference).int()).abs().float().mean() < 4
    mask = read_mask_png(refavs_root / "gt_mask" / "syn_val_00" / "fid_0" / "00003.png")
    assert mask.dtype == torch.bool
    assert torch.equal(mask, torch.from_numpy(refavs_data.gt_masks[("syn_val_00", "0")][3]))


def test_read_mask_png_treats_any_nonzero_value_as_object(tmp_path: Path) -> None:
    palette = np.array([[0, 0, 2], [1, 0, 0]], dtype=np.uint8)
    Image.fromarray(palette, mode="L").save(tmp_path / "m.png")
    rgb = np.zeros((2, 3, 3), dtype=np.uint8)
    rgb[1, 2, 1] = 7
    Image.fromarray(rgb).save(tmp_path / "rgb.png")
    assert read_mask_png(tmp_path / "m.png").tolist() == [[False, False, True], [True, False, False]]
    assert read_mask_png(tmp_path / "rgb.png").tolist() == [[False, False, False], [False, False, True]]


def test_readers_name_missing_and_corrupt_files(tmp_path: Path, refavs_root: Path) -> None:
    good = refavs_root / "media" / "syn_val_00" / "frames" / "0.jpg"
    truncated = tmp_path / "cut.jpg"
    truncated.write_bytes(good.read_bytes()[:300])
    with pytest.raises(DatasetFormatError, match=re.escape(str(truncated))):
        read_frames([good, truncated])
    with pytest.raises(FileNotFoundError, match=re.escape(str(tmp_path / "none.jpg"))):
        read_frames([tmp_path / "none.jpg"])
    small = tmp_path / "small.jpg"
    Image.new("RGB", (8, 8)).save(small)
    with pytest.raises(DatasetFormatError, match="differs from the clip's first frame"):
        read_frames([good, small])
    with pytest.raises(FileNotFoundError, match="none.png"):
        read_mask_png(tmp_path / "none.png")
    (tmp_path / "bad.wav").write_bytes(b"RIFF0000WAVEjunk")
    with pytest.raises(DatasetFormatError, match="bad.wav"):
        read_audio(tmp_path / "bad.wav")
    with pytest.raises(FileNotFoundError, match="none.wav"):
        read_audio(tmp_path / "none.wav")


def test_decode_rle_roundtrip_null_and_bad_input() -> None:
    mask = np.zeros((5, 7), dtype=bool)
    mask[1:3, 2:6] = True
    rle = encode_rle(mask)
    assert torch.equal(decode_rle(rle, 5, 7), torch.from_numpy(mask))
    uncompressed = {"size": [5, 7], "counts": [11, 2, 3, 2, 3, 2, 3, 2, 7]}  # column-major runs of `mask`
    assert torch.equal(decode_rle(uncompressed, 5, 7), torch.from_numpy(mask))
    assert not decode_rle(None, 5, 7).any() and decode_rle(None, 5, 7).shape == (5, 7)
    with pytest.raises(DatasetFormatError, match=r"m\.json\[3\]\[0\].*RLE size \[5, 7\] does not match .*\[4, 7\]"):
        decode_rle(rle, 4, 7, source="m.json[3][0]")
    with pytest.raises(DatasetFormatError, match="do not cover a 5x7 mask"):
        decode_rle({"size": [5, 7], "counts": rle["counts"][:-1]}, 5, 7)
    with pytest.raises(DatasetFormatError, match="invalid character"):
        decode_rle({"size": [5, 7], "counts": "~~"}, 5, 7)
    with pytest.raises(DatasetFormatError, match="expected a COCO RLE dict"):
        decode_rle({"counts": "x"}, 5, 7)


def test_read_audio_is_mono_float_at_16k(refavs_root: Path, refavs_data: SyntheticRefAVS) -> None:
    audio = read_audio(refavs_root / "media" / "syn_val_00" / "audio.wav")
    assert audio.dtype == torch.float32 and audio.shape == (160000,)
    expected = torch.from_numpy(refavs_data.audio["syn_val_00"].astype(np.float32) / 32768)
    torch.testing.assert_close(audio, expected, atol=1e-6, rtol=0)


@pytest.mark.parametrize(("right_gain", "peak"), [(1.0, 0.5), (0.0, 0.25)])
def test_read_audio_averages_channels_and_resamples(tmp_path: Path, right_gain: float, peak: float) -> None:
    t = np.arange(8000) / 8000
    left = np.round(0.5 * 32767 * np.sin(2 * np.pi * 500 * t)).astype("<i2")
    with wave.open(str(tmp_path / "stereo.wav"), "wb") as out:
        out.setnchannels(2)
        out.setsampwidth(2)
        out.setframerate(8000)
        out.writeframes(np.stack([left, (left * right_gain).astype("<i2")], axis=1).tobytes())
    audio = read_audio(tmp_path / "stereo.wav")
    assert audio.shape == (16000,) and audio.dtype == torch.float32  # 1 s at 8 kHz resampled to 16 kHz
    assert audio.abs().max().item() == pytest.approx(peak, abs=0.01)  # channel mean, as librosa's mono


# -------------------------------------------------------------------------------------------------- sampling


def test_eval_sampling_is_linspace_capped_at_max_frames() -> None:
    # 30 frames -> 24 indices at spacing 29/23, rounded half up (hand-computed).
    expected = [0, 1, 3, 4, 5, 6, 8, 9, 10, 11, 13, 14, 15, 16, 18, 19, 20, 21, 23, 24, 25, 26, 28, 29]
    assert sample_s1_indices(30, train=False).tolist() == expected
    assert sample_s1_indices(13, train=False).tolist() == list(range(13))  # short video: every frame, no pad
    assert sample_s1_indices(5, train=False, max_frames=3).tolist() == [0, 2, 4]


def test_train_sampling_short_video_uses_every_frame_padded_to_even() -> None:
    assert sample_s1_indices(7, train=True, generator=torch.Generator().manual_seed(0)).tolist() == [
        0,
        1,
        2,
        3,
        4,
        5,
        6,
        6,
    ]
    assert sample_s1_indices(5, train=True, min_frames=3, max_frames=3).tolist() == [0, 2, 4, 4]


@settings(max_examples=200, deadline=None)
@given(
    num_frames=st.integers(1, 200),
    min_frames=st.integers(1, 30),
    extra=st.integers(0, 10),
    seed=st.integers(0, 2**31),
)
def test_train_sampling_properties(num_frames: int, min_frames: int, extra: int, seed: int) -> None:
    max_frames = min_frames + extra
    indices = sample_s1_indices(
        num_frames,
        train=True,
        min_frames=min_frames,
        max_frames=max_frames,
        generator=torch.Generator().manual_seed(seed),
    )
    again = sample_s1_indices(
        num_frames,
        train=True,
        min_frames=min_frames,
        max_frames=max_frames,
        generator=torch.Generator().manual_seed(seed),
    )
    assert torch.equal(indices, again)
    assert indices.dtype == torch.int64 and len(indices) % 2 == 0
    unique = len(torch.unique(indices))
    assert indices[0] == 0 and (indices.diff() >= 0).all()
    assert indices[-1] == (num_frames - 1 if unique > 1 else 0)  # linspace spans the video (a 1-frame draw: frame 0)
    if num_frames > max_frames:
        assert min_frames <= unique <= max_frames  # no two linspace points round to the same frame
    else:
        assert unique <= num_frames
    assert len(indices) - unique <= 1  # at most the one even-count pad repeats


def test_train_sampling_draws_the_whole_range() -> None:
    generator = torch.Generator().manual_seed(0)
    counts = {len(sample_s1_indices(100, train=True, generator=generator)) for _ in range(300)}
    assert counts == {16, 18, 20, 22, 24}  # f in U[16, 24], odd f padded


def test_sampling_rejects_bad_bounds() -> None:
    with pytest.raises(ValueError, match="num_frames"):
        sample_s1_indices(0, train=True)
    with pytest.raises(ValueError, match="min_frames <= max_frames"):
        sample_s1_indices(10, train=True, min_frames=9, max_frames=8)


# ---------------------------------------------------------------------------------------------------- RefAVS


def _check_refavs_sample(sample: VideoSample, data: SyntheticRefAVS, root: Path) -> None:
    row = next(r for r in data.rows if r["uid"] == sample.exp_id)
    assert (sample.dataset, sample.task, sample.video_id, sample.expression) == (
        "refavs",
        "avs",
        row["vid"],
        row["exp"],
    )
    assert sample.frames.shape == (10, 3, 64, 96) and sample.frames.dtype == torch.uint8
    assert sample.masks.shape == (1, 10, 64, 96) and sample.masks.dtype == torch.bool
    assert torch.equal(sample.masks[0], torch.from_numpy(data.gt_masks[(row["vid"], row["fid"])]))
    assert sample.s1_indices.tolist() == [0] and sample.fps == 1.0 and sample.duration == 1.0
    assert sample.audio is not None and sample.audio.shape == (160000,) and sample.audio.dtype == torch.float32
    assert sample.frame_names == [str(t) for t in range(10)] and sample.obj_ids == [int(row["fid"])]


def test_refavs_datamodule_batches(refavs_root: Path, refavs_data: SyntheticRefAVS) -> None:
    dm = RefAVSDataModule(str(refavs_root), batch_size=2)
    dm.setup("fit")
    rows = {split: sum(r["split"] == split for r in refavs_data.rows) for split in ("train", "val")}
    assert (len(dm.datasets["train"]), len(dm.datasets["val"])) == (rows["train"], rows["val"])
    batch = next(iter(dm.train_dataloader()))
    assert isinstance(batch, list) and len(batch) == 2
    for sample in batch + next(iter(dm.val_dataloader())):
        _check_refavs_sample(sample, refavs_data, refavs_root)
    assert next(iter(dm.train_dataloader()))[0].exp_id == batch[0].exp_id  # seeded shuffle


def test_refavs_null_split_reads_from_the_vid_folder(refavs_root: Path, refavs_data: SyntheticRefAVS) -> None:
    dm = RefAVSDataModule(str(refavs_root), test_split="test_n")
    dm.setup("test")
    samples = [s for batch in dm.test_dataloader() for s in batch]
    assert len(samples) == 2
    for sample in samples:
        assert sample.exp_id.startswith("null_c-") and sample.video_id.startswith("syn_test_n_")
        assert not sample.masks.any()
        _check_refavs_sample(sample, refavs_data, refavs_root)


def test_refavs_synthetic_option_writes_the_demo_root(tmp_path: Path) -> None:
    dm = RefAVSDataModule(str(tmp_path / "demo"), test_split="test_u", synthetic=True, seed=3)
    dm.prepare_data()
    dm.setup("test")
    sample = next(iter(dm.test_dataloader()))[0]
    assert sample.video_id.startswith("syn_test_u_") and sample.masks.any()


def test_refavs_missing_frame_is_named(refavs_copy: Path) -> None:
    frame = refavs_copy / "media" / "syn_train_01" / "frames" / "7.jpg"
    frame.unlink()
    dm = RefAVSDataModule(str(refavs_copy))
    with pytest.raises(DatasetLayoutError, match=re.escape(str(frame))) as info:
        dm.setup("fit")
    assert isinstance(info.value, FileNotFoundError)
    assert "1 missing path(s)" in str(info.value) and "Expected layout" in str(info.value)
    assert "metadata.csv" in str(info.value)  # the tree diagram
    RefAVSDataset(refavs_copy, "val")  # other splits still load


def test_refavs_row_pointing_to_a_missing_folder_is_named(refavs_copy: Path) -> None:
    with open(refavs_copy / "metadata.csv", "a", newline="") as handle:
        csv.writer(handle).writerow(["ghost_vid", "ghost_vid_0_0", "train", "0", "the ghost"])
    with pytest.raises(DatasetLayoutError) as info:
        RefAVSDataModule(str(refavs_copy)).setup("fit")
    assert info.value.missing == [refavs_copy / "media" / "ghost_vid", refavs_copy / "gt_mask" / "ghost_vid" / "fid_0"]
    assert str(refavs_copy / "media" / "ghost_vid") in str(info.value)


def test_refavs_many_missing_files_are_counted(refavs_copy: Path) -> None:
    for t in range(10):
        (refavs_copy / "gt_mask" / "syn_train_00" / "fid_0" / f"0000{t}.png").unlink()
    (refavs_copy / "media" / "syn_train_00" / "audio.wav").unlink()
    with pytest.raises(DatasetLayoutError, match=r"11 missing path\(s\)[\s\S]*and 6 more"):
        RefAVSDataset(refavs_copy, "train")


def test_refavs_missing_root_csv_columns_and_split(tmp_path: Path, refavs_copy: Path) -> None:
    with pytest.raises(DatasetLayoutError, match=re.escape(str(tmp_path / "nowhere"))):
        RefAVSDataset(tmp_path / "nowhere", "train")
    csv_path = refavs_copy / "metadata.csv"
    with pytest.raises(DatasetFormatError, match="no rows with split 'test_x'.*'test_n'"):
        RefAVSDataset(refavs_copy, "test_x")
    csv_path.write_text(csv_path.read_text().replace("fid", "fidx", 1))
    with pytest.raises(DatasetFormatError, match=r"metadata\.csv: missing column\(s\) \['fid'\]"):
        RefAVSDataset(refavs_copy, "train")
    csv_path.unlink()
    with pytest.raises(DatasetLayoutError, match=re.escape(str(csv_path))):
        RefAVSDataModule(str(refavs_copy)).setup("fit")


# ----------------------------------------------------------------------------------------------------- ReVOS


def _expected_masks(data: SyntheticReVOS, anno_ids: list[int], frames: list[int]) -> torch.Tensor:
    out = np.zeros((len(anno_ids), len(frames), 64, 96), dtype=bool)
    for o, anno in enumerate(anno_ids):
        for t, i in enumerate(frames):
            if data.masks[anno][i] is not None:
                out[o, t] = data.masks[anno][i]
    return torch.from_numpy(out)


def test_revos_train_batches_hold_only_the_clip(revos_root: Path, revos_data: SyntheticReVOS) -> None:
    dm = ReVOSDataModule(str(revos_root), batch_size=3, min_frames=4, max_frames=7)
    dm.setup("fit")
    expressions = sum(len(v["expressions"]) for v in revos_data.meta["train"]["videos"].values())
    assert len(dm.datasets["train"]) == expressions
    samples = [s for batch in dm.train_dataloader() for s in batch]
    assert len(samples) == expressions
    for sample in samples:
        n = len(sample.s1_indices)
        assert n % 2 == 0 and 4 <= n <= 8 and torch.equal(sample.s1_indices, torch.arange(n))
        assert sample.frames.shape == (n, 3, 64, 96) and sample.frames.dtype == torch.uint8
        kept = [int(name) for name in sample.frame_names]
        assert kept == sorted(kept) and kept[0] == 0 and kept[-1] == 11
        meta = revos_data.meta["train"]["videos"][sample.video_id]["expressions"][sample.exp_id]
        assert sample.obj_ids == meta["anno_id"] and sample.expression_type == meta["type_id"]
        assert sample.masks.shape == (len(meta["anno_id"]), n, 64, 96)
        assert torch.equal(sample.masks, _expected_masks(revos_data, meta["anno_id"], kept))
        reference = torch.from_numpy(revos_data.videos[sample.video_id].frames[kept]).permute(0, 3, 1, 2)
        assert (sample.frames.int() - reference.int()).abs().float().mean() < 4
        assert (sample.task, sample.fps, sample.audio) == ("vos", 2.0, None)


def test_revos_eval_batches_hold_every_frame(revos_root: Path, revos_data: SyntheticReVOS) -> None:
    dm = ReVOSDataModule(str(revos_root), min_frames=4, max_frames=5)  # min_frames <= max_frames, as training needs
    dm.setup("validate")
    samples = [s for batch in dm.val_dataloader() for s in batch]
    expected_ids = [
        (v, e) for v, info in sorted(revos_data.meta["valid"]["videos"].items()) for e in info["expressions"]
    ]
    assert [(s.video_id, s.exp_id) for s in samples] == expected_ids
    for sample in samples:
        assert sample.frames.shape == (12, 3, 64, 96) and sample.frame_names == [f"{t:05d}" for t in range(12)]
        assert sample.s1_indices.tolist() == [0, 3, 6, 8, 11]  # linspace(0, 11, 5) = 0, 2.75, 5.5, 8.25, 11
        assert torch.equal(sample.masks, _expected_masks(revos_data, sample.obj_ids, list(range(12))))
    assert any(not s.masks[o, t].any() for s in samples for o in range(len(s.obj_ids)) for t in range(12))
    assert {len(s.obj_ids) for s in samples} == {1, 2}
    dm.setup("test")
    assert [s.exp_id for s in next(iter(dm.test_dataloader()))] == [samples[0].exp_id]


def test_revos_type_filter_and_deterministic_clips(revos_root: Path) -> None:
    def clips(seed: int, num_workers: int = 0) -> list[list[str]]:
        dm = ReVOSDataModule(str(revos_root), min_frames=3, max_frames=9, seed=seed, type_ids=[1])
        dm.num_workers = num_workers
        dm.setup("fit")
        batches = list(dm.train_dataloader())
        assert all(s.expression_type == 1 for b in batches for s in b)
        return [s.frame_names for b in batches for s in b]

    first = clips(0)
    assert clips(0) == first and clips(0, num_workers=1) == first  # worker processes draw the same clips
    assert clips(1) != first


def test_revos_synthetic_option_writes_the_demo_root(tmp_path: Path) -> None:
    dm = ReVOSDataModule(str(tmp_path / "demo"), synthetic=True, type_ids=[0])
    dm.prepare_data()
    dm.setup("fit")
    sample = next(iter(dm.train_dataloader()))[0]
    assert sample.frames.shape == (12, 3, 64, 96) and sample.expression_type == 0  # 12 < 16 frames: all kept


def test_revos_missing_frame_and_meta_are_named(revos_copy: Path) -> None:
    frame = revos_copy / "JPEGImages" / "video_002" / "00005.jpg"
    frame.unlink()
    with pytest.raises(DatasetLayoutError, match=re.escape(str(frame))) as info:
        ReVOSDataModule(str(revos_copy)).setup("fit")
    assert "Expected layout" in str(info.value) and "mask_dict.json" in str(info.value)
    ReVOSDataset(revos_copy, "valid", train=False)  # video_002 is a training video
    meta = revos_copy / "meta_expressions_valid_.json"
    meta.unlink()
    with pytest.raises(DatasetLayoutError, match=re.escape(str(meta))):
        ReVOSDataModule(str(revos_copy)).setup("validate")


def test_revos_missing_video_folder_is_named_once(revos_copy: Path) -> None:
    for path in sorted((revos_copy / "JPEGImages" / "video_001").iterdir()):
        path.unlink()
    (revos_copy / "JPEGImages" / "video_001").rmdir()
    with pytest.raises(DatasetLayoutError) as info:
        ReVOSDataset(revos_copy, "valid", train=False)
    assert info.value.missing == [revos_copy / "JPEGImages" / "video_001"]


def test_revos_bad_mask_entries(revos_copy: Path) -> None:
    mask_path = revos_copy / "mask_dict.json"
    masks = json.loads(mask_path.read_text())
    masks["2"] = masks["2"][:-1]
    mask_path.write_text(json.dumps(masks))
    with pytest.raises(DatasetFormatError, match=r"anno_id 2 of video video_000 .*expected 12 entries"):
        ReVOSDataset(revos_copy, "train")
    first = next(i for i, m in enumerate(masks["1"]) if m is not None)
    masks["2"] = masks["1"]
    masks["1"][first] = encode_rle(np.zeros((32, 96), dtype=bool))
    mask_path.write_text(json.dumps(masks))
    dataset = ReVOSDataset(revos_copy, "train", train=False)
    index = next(i for i, item in enumerate(dataset.items) if 1 in item.anno_ids)
    with pytest.raises(DatasetFormatError, match=rf"mask_dict\.json\[1\]\[{first}\].*RLE size \[32, 96\]"):
        dataset[index]
    mask_path.write_text("{not json")
    with pytest.raises(DatasetFormatError, match="not valid JSON"):
        ReVOSDataset(revos_copy, "train")
    with pytest.raises(ValueError, match="split must be one of"):
        ReVOSDataset(revos_copy, "test")


def _reference_runs(text: str) -> list[int] | None:
    """pycocotools' ``rleFrString`` transcribed one character at a time; ``None`` for a malformed string."""
    runs: list[int] = []
    pos = 0
    while pos < len(text):
        value, shift, more = 0, 0, True
        while more:
            if pos >= len(text) or not 48 <= ord(text[pos]) < 112:
                return None
            chunk = ord(text[pos]) - 48
            value |= (chunk & 0x1F) << (5 * shift)
            more = bool(chunk & 0x20)
            pos += 1
            shift += 1
            if not more and chunk & 0x10:
                value |= -1 << (5 * shift)
        if len(runs) > 2:
            value += runs[-2]
        runs.append(value)
    return runs


def test_compressed_runs_equal_the_character_loop() -> None:
    """Encoded random masks parse to their runs; random strings parse alike or fail alike."""
    from pycocotools import mask as mask_utils

    from omni_r1.data.io import _compressed_runs

    rng = np.random.default_rng(0)
    for _ in range(200):
        h, w = int(rng.integers(1, 60)), int(rng.integers(1, 60))
        mask = np.asfortranarray(rng.random((h, w)) < rng.choice([0.0, 0.05, 0.5, 1.0]))
        text = mask_utils.encode(mask.astype(np.uint8))["counts"].decode()
        assert _compressed_runs(text, "t").tolist() == _reference_runs(text)
        assert int(_compressed_runs(text, "t").sum()) == h * w
    alphabet = [chr(c) for c in range(40, 120)]
    for _ in range(2000):
        text = "".join(rng.choice(alphabet, size=int(rng.integers(0, 12))))
        want = _reference_runs(text)
        if want is None:
            with pytest.raises(DatasetFormatError, match="invalid character"):
                _compressed_runs(text, "t")
        else:
            assert _compressed_runs(text, "t").tolist() == want, text
    with pytest.raises(DatasetFormatError, match="position 1"):
        _compressed_runs("0\u20ac", "t")
