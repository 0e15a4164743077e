"""AVHBench judge questions and the VideoQA JSONL format, read from real mp4 / wav / JPEG files."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
import torch

from omni_r1.data.avhbench import JUDGE_TASKS, AVHBenchDataModule, AVHBenchDataset
from omni_r1.data.layout import DatasetFormatError, DatasetLayoutError
from omni_r1.data.qa_entries import answer_index, parse_entry
from omni_r1.data.records import QASample
from omni_r1.data.synthetic import TONES_HZ, SyntheticAVHBench, SyntheticVideoQA, write_mp4
from omni_r1.data.videoqa import VideoQADataModule, VideoQADataset


def _peak_hz(audio: torch.Tensor) -> float:
    spectrum = np.abs(np.fft.rfft(audio.numpy()))
    return float(np.argmax(spectrum) * 16000 / len(audio))


# --------------------------------------------------------------------------------------------------- AVHBench


def test_avhbench_judge_questions_with_clip_and_audio(avhbench_root: Path, avhbench_data: SyntheticAVHBench) -> None:
    dm = AVHBenchDataModule(str(avhbench_root), batch_size=4)
    dm.setup("validate")
    samples: list[QASample] = [s for batch in dm.val_dataloader() for s in batch]
    expected = [(stem, k, r) for stem, records in avhbench_data.qa.items() for k, r in enumerate(records)]
    judge = [(stem, k, r) for stem, k, r in expected if r["task"] in JUDGE_TASKS]
    assert len(samples) == len(judge) == 12  # captioning is not a judge task
    for sample, (stem, k, record) in zip(samples, judge):
        assert (sample.dataset, sample.task, sample.sample_id) == ("avhbench", "qa", f"{stem}/{k}")
        assert (sample.question, sample.category, sample.video_id) == (
            record["text"],
            record["task"],
            record["video_id"],
        )
        assert sample.options == ["yes", "no"] and sample.is_yes_no
        assert sample.answer == record["label"].lower()
        assert sample.frames is not None and sample.frames.shape == (4, 3, 64, 96)  # 2 s at 2 fps
        assert sample.fps == 2.0 and sample.duration == 2.0
        assert sample.audio is not None and sample.audio.dtype == torch.float32
        assert 31000 < sample.audio.shape[0] < 34000  # 2 s at 16 kHz (+ the AAC encoder's priming)
        colour = avhbench_data.sounds[sample.video_id]
        assert _peak_hz(sample.audio) == pytest.approx(TONES_HZ[colour], abs=2)  # the swap clip's tone is another
    assert [s.sample_id for s in next(iter(dm.test_dataloader()))] == [s.sample_id for s in samples[:4]]
    with pytest.raises(ValueError, match="no training split"):
        dm.train_dataloader()


def test_avhbench_task_filter_and_format_errors(avhbench_copy: Path) -> None:
    only = AVHBenchDataset(avhbench_copy, ("AV Matching",))
    assert len(only) == 4 and {e.category for e in only.entries} == {"AV Matching"}
    with pytest.raises(ValueError, match="judge tasks must be a non-empty subset"):
        AVHBenchDataset(avhbench_copy, ("AV Captioning",))
    path = avhbench_copy / "json" / "00002.json"
    records = json.loads(path.read_text())
    records[1]["label"] = "Maybe"
    path.write_text(json.dumps(records))
    with pytest.raises(
        DatasetFormatError, match=re.escape(f"{path}[1]: judge label must be 'Yes' or 'No', got 'Maybe'")
    ):
        AVHBenchDataset(avhbench_copy)
    del records[1]["label"]
    path.write_text(json.dumps(records))
    with pytest.raises(DatasetFormatError, match=r"\[1\]: expected a record with fields \['video_id', 'task', 'text'"):
        AVHBenchDataset(avhbench_copy)
    path.write_text("{")
    with pytest.raises(DatasetFormatError, match="not valid JSON"):
        AVHBenchDataset(avhbench_copy)


def test_avhbench_missing_and_silent_videos(avhbench_copy: Path) -> None:
    video = avhbench_copy / "video" / "00001_swap.mp4"
    video.unlink()
    with pytest.raises(DatasetLayoutError, match=re.escape(str(video))):
        AVHBenchDataModule(str(avhbench_copy)).setup("test")
    write_mp4(video, np.full((8, 64, 96, 3), 100, dtype=np.uint8), 4.0, None)  # back, but without an audio track
    with pytest.raises(DatasetFormatError, match=rf"{re.escape(str(video))}: unreadable: cannot decode audio"):
        AVHBenchDataModule(str(avhbench_copy)).setup("test")
    AVHBenchDataModule(str(avhbench_copy), check_level="exists").setup("test")  # existence alone passes
    dm = AVHBenchDataModule(str(avhbench_copy), skip_invalid=True)
    dm.setup("test")
    assert len(dm.datasets["test"]) == 11  # the one question on the swapped clip is skipped


# ---------------------------------------------------------------------------------------------------- VideoQA


def test_videoqa_reads_the_three_media_forms(videoqa_root: Path, videoqa_data: SyntheticVideoQA) -> None:
    dm = VideoQADataModule(str(videoqa_root), dataset_name="toyqa", max_frames=4)
    dm.setup("test")
    samples = {s.sample_id: s for batch in dm.test_dataloader() for s in batch}
    entries = {e["id"]: e for e in videoqa_data.entries}
    assert set(samples) == set(entries)
    video = videoqa_data.videos["qa_000"]  # 3 s at 4 fps: 12 frames
    sound = samples["qa_000_sound"]  # mp4 with its own audio track: grid of 6 times, capped at 4 by linspace
    assert sound.frames is not None and sound.frames.shape == (4, 3, 64, 96) and sound.fps == pytest.approx(4 / 3)
    assert sound.answer_letter == entries["qa_000_sound"]["answer"] and sound.dataset == "toyqa"
    assert sound.audio is not None and abs(sound.audio.shape[0] - 48000) < 2000
    colour = video.shapes["ABCD".index(sound.answer_letter)].colour
    assert _peak_hz(sound.audio) == pytest.approx(TONES_HZ[colour], abs=2)
    # linspace(0, 5, 4) = 0, 1.67, 3.33, 5 over the grid 0, 0.5, ..., 2.5 s picks 0, 1.0, 1.5, 2.5 s: frames 0, 4, 6, 10
    rendered = torch.from_numpy(video.frames).permute(0, 3, 1, 2).float()  # (12, 3, H, W)
    nearest = [int((rendered - frame.float()).abs().mean(dim=(1, 2, 3)).argmin()) for frame in sound.frames]
    assert nearest == [0, 4, 6, 10]
    image = samples["qa_000_image"]  # image + wav
    assert image.frames is not None and image.frames.shape == (1, 3, 64, 96) and image.duration == 0.0
    assert image.answer == video.shapes[0].colour and image.audio is not None and image.audio.shape == (16000,)
    count = samples["qa_000_count"]  # JPEG frame folder at 4 fps, no audio
    assert count.audio is None and count.answer == f"({'ABCD'[len(video.shapes) - 1]}) {len(video.shapes)}"
    assert count.frames is not None and count.frames.shape == (4, 3, 64, 96)
    for t, index in enumerate([0, 4, 6, 10]):  # the same grid times, as files 00000, 00004, 00006, 00010
        assert (count.frames[t].float() - rendered[index]).abs().mean() < 4, t
    assert count.lettered_options() == ["(A) 1", "(B) 2", "(C) 3", "(D) 4"]


def test_videoqa_answers_and_format_errors(tmp_path: Path) -> None:
    options = ["A. red", "B. blue", "green"]
    assert [answer_index(a, options, "x") for a in ("B", "(c)", "b.", 0, "green", "B. blue", " GREEN ")] == [
        1,
        2,
        1,
        0,
        2,
        1,
        2,
    ]
    for bad in ("D", 3, True, "purple", None):
        with pytest.raises(DatasetFormatError, match="x: answer"):
            answer_index(bad, options, "x")
    good = {"id": 1, "question": "q?", "options": ["a", "b"], "answer": "A", "video": "v.mp4", "audio": "video"}
    entry = parse_entry(tmp_path, good, "f.jsonl:1")
    assert entry.audio == entry.video == tmp_path / "v.mp4" and entry.sample_id == "1"
    cases = {
        "missing key(s) ['answer']": {k: v for k, v in good.items() if k != "answer"},
        "'options' must be a list": {**good, "options": ["only one"]},
        "'audio': 'video' needs a 'video' file": {k: v for k, v in good.items() if k != "video"},
        "a question needs at least one of 'video', 'image', 'audio'": {
            "id": 2,
            "question": "q",
            "options": ["a", "b"],
            "answer": 0,
        },
        "'video_fps' must be a positive number": {**good, "video_fps": 0},
    }
    for message, record in cases.items():
        with pytest.raises(DatasetFormatError, match=re.escape(f"f.jsonl:1: {message}")):
            parse_entry(tmp_path, record, "f.jsonl:1")
    (tmp_path / "test.jsonl").write_text(json.dumps(good) + "\n\n" + json.dumps(good) + "\n")
    with pytest.raises(DatasetFormatError, match=r"ids must be unique; repeated: \['1'\]"):
        VideoQADataset(tmp_path, check_level=None)
    (tmp_path / "test.jsonl").write_text(json.dumps(good) + "\nnot json\n")
    with pytest.raises(DatasetFormatError, match=r"test\.jsonl:2: not valid JSON"):
        VideoQADataset(tmp_path, check_level=None)
    with pytest.raises(DatasetLayoutError, match="train.jsonl"):
        VideoQADataset(tmp_path, "train.jsonl")


def test_videoqa_missing_media_are_listed(videoqa_root: Path, tmp_path: Path) -> None:
    lines = (videoqa_root / "test.jsonl").read_text().splitlines()
    moved = [json.loads(line) for line in lines]
    for entry in moved:
        for key in ("video", "image"):
            if key in entry:
                entry[key] = str(videoqa_root / entry[key])
        if entry.get("audio") not in (None, "video"):
            entry["audio"] = str(videoqa_root / entry["audio"])
    moved[1]["image"] = str(tmp_path / "gone.jpg")
    (tmp_path / "test.jsonl").write_text("\n".join(json.dumps(e) for e in moved))
    with pytest.raises(DatasetLayoutError) as info:
        VideoQADataModule(str(tmp_path)).setup("test")
    assert info.value.missing == [tmp_path / "gone.jpg"]
    dm = VideoQADataModule(str(tmp_path), skip_invalid=True)
    dm.setup("test")
    assert [e.sample_id for e in dm.datasets["test"].entries] == [moved[0]["id"], moved[2]["id"]]
