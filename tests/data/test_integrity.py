"""File validators, reports and skipping of the integrity checks, and the mp4 clip reader, on small real files."""

from __future__ import annotations

import logging
import re
import wave
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from omni_r1.data.integrity import (
    Problem,
    Report,
    Requirement,
    check_requirements,
    requirement_problem,
    rle_problem,
    valid_indices,
)
from omni_r1.data.layout import DatasetFormatError, DatasetLayoutError
from omni_r1.data.synthetic import _write_mp4, encode_rle
from omni_r1.data.video import clip_times, grid_times, probe_video, read_video_frames


def _jpeg(path: Path, seed: int = 0) -> Path:
    array = np.random.default_rng(seed).integers(0, 255, (48, 64, 3), dtype=np.uint8)
    Image.fromarray(array).save(path, quality=90)
    return path


def _wav(path: Path, samples: np.ndarray) -> Path:
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(16000)
        out.writeframes(samples.astype("<i2").tobytes())
    return path


def _problem(path: Path, kind: str, level: str) -> str | None:
    problem = requirement_problem(Requirement(path, kind), level)  # type: ignore[arg-type]
    return None if problem is None else f"{problem.kind}: {problem.detail}"


# ---------------------------------------------------------------------------------------------- validators


@pytest.mark.parametrize("level", ["open", "decode"])
def test_truncated_images_are_unreadable_at_open_and_decode(tmp_path: Path, level: str) -> None:
    good = _jpeg(tmp_path / "good.jpg")
    cut = tmp_path / "cut.jpg"
    cut.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    Image.fromarray(np.random.default_rng(0).integers(0, 2, (48, 64), dtype=np.uint8) * 255).save(tmp_path / "good.png")
    cut_png = tmp_path / "cut.png"
    cut_png.write_bytes((tmp_path / "good.png").read_bytes()[: (tmp_path / "good.png").stat().st_size // 2])
    (tmp_path / "text.jpg").write_text("not an image")
    assert _problem(good, "image", level) is None and _problem(tmp_path / "good.png", "image", level) is None
    for broken in (cut, cut_png, tmp_path / "text.jpg"):
        assert re.match(r"unreadable: cannot decode image", _problem(broken, "image", level) or ""), broken
    assert _problem(cut, "image", "exists") is None  # existence only


def test_jpeg_with_bytes_after_its_end_marker_is_decoded_to_be_sure(tmp_path: Path) -> None:
    padded = _jpeg(tmp_path / "padded.jpg")
    padded.write_bytes(padded.read_bytes() + b"trailing camera data")
    assert _problem(padded, "image", "open") is None  # no end marker at the end, but it decodes


def test_missing_empty_and_folder_requirements(tmp_path: Path) -> None:
    (tmp_path / "empty.wav").write_bytes(b"")
    (tmp_path / "dir.jpg").mkdir()
    assert _problem(tmp_path / "none.jpg", "image", "exists") == "missing: "
    assert _problem(tmp_path / "empty.wav", "audio", "open") == "unreadable: empty file"
    assert _problem(tmp_path / "empty.wav", "audio", "exists") is None
    assert _problem(tmp_path / "dir.jpg", "image", "open") == "unreadable: expected a file, found a folder"
    assert _problem(tmp_path / "dir.jpg", "dir", "open") is None
    assert _problem(tmp_path / "nodir", "dir", "exists") == "missing: "


def test_wav_validation(tmp_path: Path) -> None:
    tone = np.round(8000 * np.sin(np.arange(1600) / 5)).astype(np.int16)
    good = _wav(tmp_path / "good.wav", tone)
    silent_header = _wav(tmp_path / "zero.wav", np.zeros(0, dtype=np.int16))
    cut = tmp_path / "cut.wav"
    cut.write_bytes(good.read_bytes()[:1000])  # header still announces 1600 samples
    assert _problem(good, "audio", "open") is None and _problem(good, "audio", "decode") is None
    assert _problem(silent_header, "audio", "open") == "unreadable: the WAV file holds no audio samples"
    assert _problem(silent_header, "audio", "decode") is not None
    assert (
        _problem(cut, "audio", "open")
        == "unreadable: truncated: the header announces 1600 samples the file does not hold"
    )
    (tmp_path / "junk.wav").write_bytes(b"RIFF0000WAVEjunk")
    assert (_problem(tmp_path / "junk.wav", "audio", "open") or "").startswith("unreadable: cannot decode audio")


def test_video_validation_and_missing_audio_track(tmp_path: Path) -> None:
    frames = np.full((6, 32, 48, 3), 90, dtype=np.uint8)
    _write_mp4(tmp_path / "silent.mp4", frames, 3.0, None)
    assert _problem(tmp_path / "silent.mp4", "video", "open") is None
    assert _problem(tmp_path / "silent.mp4", "video", "decode") is None
    assert (_problem(tmp_path / "silent.mp4", "audio", "open") or "").startswith("unreadable: cannot decode audio")
    cut = tmp_path / "cut.mp4"
    cut.write_bytes((tmp_path / "silent.mp4").read_bytes()[:300])
    assert (_problem(cut, "video", "open") or "").startswith("unreadable: cannot decode video")


def test_rle_validation_levels() -> None:
    mask = np.zeros((5, 7), dtype=bool)
    mask[1:3, 2:6] = True
    rle = encode_rle(mask)
    assert rle_problem(None, 5, 7, "open") is None and rle_problem(rle, 5, 7, "decode") is None
    assert rle_problem(rle, 4, 7, "open") == "RLE size [5, 7] does not match the frame size [4, 7]"
    assert (rle_problem([1, 2], 5, 7, "open") or "").startswith("expected a COCO RLE dict")
    short = {"size": [5, 7], "counts": rle["counts"][:-1]}
    assert rle_problem(short, 5, 7, "exists") is None  # "exists" checks sizes only
    for level in ("open", "decode"):  # runs 11,2,3,2,3,2,3,2 (the 7 cut)
        assert rle_problem(short, 5, 7, level) == "RLE counts do not cover a 5x7 mask (sum 28)"
    assert rle_problem({"size": [5, 7], "counts": [11, 2, 3]}, 5, 7, "decode") == (
        "RLE counts do not cover a 5x7 mask (sum 16)"
    )
    assert (rle_problem({"size": [5, 7], "counts": "~~"}, 5, 7, "decode") or "").startswith("RLE counts do not decode")


# ---------------------------------------------------------------------------------------- checks and reports


def test_check_requirements_checks_each_file_once_and_flags_every_prompt(tmp_path: Path) -> None:
    a, b, c = _jpeg(tmp_path / "a.jpg"), tmp_path / "b.jpg", _jpeg(tmp_path / "c.jpg", 1)
    groups = [[Requirement(a, "image"), Requirement(b, "image")], [Requirement(b, "image")], [Requirement(c, "image")]]
    for level, workers in (("exists", 8), ("open", 1), ("open", 4), ("decode", 4)):
        outcome, bad = check_requirements(groups, level, workers)  # type: ignore[arg-type]
        assert list(outcome) == [Requirement(a, "image"), Requirement(b, "image"), Requirement(c, "image")]
        assert bad == {0, 1} and outcome[Requirement(b, "image")] == Problem("missing", str(b))
    with pytest.raises(ValueError, match="check level must be one of"):
        check_requirements(groups, "deep")  # type: ignore[arg-type]


def _report(problems: list[Problem], bad: set[int], num_items: int = 4) -> Report:
    return Report("Toy", "train", Path("/data/toy"), num_items, {"frames": "3 / 4"}, problems, bad)


def test_report_raises_missing_paths_first_then_unreadable_files() -> None:
    unreadable = Problem("unreadable", "/data/toy/a.jpg", "cannot decode image (truncated)")
    missing = [Problem("missing", f"/data/toy/{n}.jpg") for n in "bc"]
    with pytest.raises(DatasetLayoutError) as info:
        _report([unreadable, *missing], {0, 1}).raise_for_problems("<root>/...")
    assert info.value.missing == [Path("/data/toy/b.jpg"), Path("/data/toy/c.jpg")]
    assert "Toy root '/data/toy'" in str(info.value) and "2 missing path(s)" in str(info.value)
    invalid = [Problem("invalid", f"m.json[{k}]", "RLE size [1, 2] does not match") for k in range(7)]
    with pytest.raises(DatasetFormatError) as err:
        _report([unreadable, *invalid], {0}).raise_for_problems("")
    text = str(err.value)
    assert text.startswith("/data/toy/a.jpg: unreadable: cannot decode image (truncated)\n7 more problem(s):")
    assert "m.json[4]" in text and "m.json[5]" not in text and "... and 2 more" in text
    _report([], set()).raise_for_problems("")  # nothing to raise


def test_report_lines_list_counts_and_every_problem() -> None:
    problems = [Problem("missing", f"/data/toy/{k}.jpg") for k in range(9)]
    lines = _report(problems, {1, 2}).lines()
    assert lines[0] == "Toy  split=train  root=/data/toy"
    assert re.fullmatch(r"  frames\s+3 / 4", lines[1])
    assert lines[2] == "  9 problem(s), 2 of 4 prompt(s) affected:"
    assert lines[3:] == [f"    missing    /data/toy/{k}.jpg" for k in range(9)]  # all listed, not truncated
    assert _report([], set()).lines()[-1] == "  complete: nothing missing or unreadable"


def test_valid_indices_skips_and_logs(caplog: pytest.LogCaptureFixture) -> None:
    problems = [Problem("unreadable", "/data/toy/a.jpg", "bad"), Problem("missing", "/data/toy/b.jpg")]
    assert valid_indices(_report([], set()), False, "") == [0, 1, 2, 3]
    with pytest.raises(DatasetLayoutError):
        valid_indices(_report(problems, {1, 3}), False, "")
    with caplog.at_level(logging.WARNING, logger="omni_r1.data.integrity"):
        assert valid_indices(_report(problems, {1, 3}), True, "") == [0, 2]
    assert "Toy split 'train': skipped 2 of 4 prompts" in caplog.text and "2 problem(s)" in caplog.text
    with pytest.raises(DatasetFormatError, match="all 2 prompts need a missing or unreadable file"):
        valid_indices(_report(problems, {0, 1}, num_items=2), True, "")


# ------------------------------------------------------------------------------------------------ mp4 clips


def test_grid_and_clip_times_follow_the_2fps_rule() -> None:
    assert grid_times(2.6) == [0.0, 0.5, 1.0, 1.5, 2.0]  # floor(2.6 * 2) = 5 grid points
    assert grid_times(0.2) == [0.0]  # a very short video still shows one frame
    assert grid_times(3.0, fps=1.0) == [0.0, 1.0, 2.0]
    assert clip_times(2.6, train=False, max_frames=3) == [0.0, 1.0, 2.0]  # linspace(0, 4, 3) over the grid
    assert clip_times(2.6, train=False) == [0.0, 0.5, 1.0, 1.5, 2.0]
    assert clip_times(2.6, train=True, min_frames=3, max_frames=3) == [0.0, 1.0, 2.0, 2.0]  # padded to even
    with pytest.raises(ValueError, match="positive duration"):
        grid_times(0.0)


def test_read_video_frames_decodes_the_frames_shown_at_each_time(tmp_path: Path) -> None:
    levels = np.array([20, 60, 100, 140, 180, 220], dtype=np.uint8)  # one grey level per frame, 4 fps
    frames = np.repeat(levels[:, None, None, None], 32 * 48 * 3, axis=1).reshape(6, 32, 48, 3)
    _write_mp4(tmp_path / "v.mp4", frames, 4.0, None)
    info = probe_video(tmp_path / "v.mp4")
    assert (info.num_frames, info.height, info.width) == (6, 32, 48) and info.duration == pytest.approx(1.5)
    clip = read_video_frames(tmp_path / "v.mp4", [0.0, 0.5, 1.0, 1.0, 1.5])
    assert clip.shape == (5, 3, 32, 48) and clip.dtype == torch.uint8
    # 0 s, 0.5 s, 1.0 s show frames 0, 2, 4; 1.5 s is the end of the stream: clamped into the last frame
    np.testing.assert_allclose(clip.float().mean(dim=(1, 2, 3)).numpy(), [20, 100, 180, 180, 220], atol=3)
    with pytest.raises(FileNotFoundError, match="none.mp4"):
        read_video_frames(tmp_path / "none.mp4", [0.0])
    (tmp_path / "bad.mp4").write_bytes(b"\x00" * 100)
    with pytest.raises(DatasetFormatError, match="bad.mp4"):
        probe_video(tmp_path / "bad.mp4")
