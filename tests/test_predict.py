"""``python -m omni_r1.predict``: decoding a user video into a prompt, the outputs, and the overlay video."""

from __future__ import annotations

import json
import math
import wave
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torch import Tensor

from omni_r1.detail.box_segmenter import BoxSegmenter
from omni_r1.detail.system import DetailSystem
from omni_r1.inference import collaborate
from omni_r1.predict import EXIT_NO_KEYFRAMES, answer_record, load_video, main, overlay, write_mp4

CONFIGS = Path(__file__).resolve().parents[1] / "configs"
TINY_KEY, TINY_MODEL = "model.init_args.policy.init_args.model_name_or_path", "tiny://qwen2.5-omni"
TINY = f"{TINY_KEY}={TINY_MODEL}"  # the deprecated --set form, still read
NUM_FRAMES, FPS, HEIGHT, WIDTH = 10, 5.0, 48, 64  # 2 s of video: frame t is shown at t / 5 s


def write_clip(path: Path, *, audio: bool = True, num_frames: int = NUM_FRAMES) -> Path:
    """A red square moving right over grey, with a 440 Hz tone (16 kHz mono) when ``audio``."""
    from torchcodec.encoders import Encoder

    frames = torch.full((num_frames, 3, HEIGHT, WIDTH), 200, dtype=torch.uint8)
    for t in range(num_frames):
        frames[t, :, 10:26, 4 * t : 4 * t + 16] = torch.tensor([200, 30, 30], dtype=torch.uint8)[:, None, None]
    encoder = Encoder()
    video = encoder.add_video(height=HEIGHT, width=WIDTH, frame_rate=FPS)
    sound = encoder.add_audio(sample_rate=16000, num_channels=1) if audio else None
    with encoder.open_file(str(path)):
        video.add_frames(frames)
        if sound is not None:
            sound.add_samples(0.3 * torch.sin(2 * math.pi * 440 * torch.arange(32000) / 16000)[None].float())
    return path


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_clip(tmp_path_factory.mktemp("clip") / "clip.mp4")


def decoded_frame_count(path: Path) -> int:
    from torchcodec.decoders import VideoDecoder

    decoder = VideoDecoder(str(path), seek_mode="exact")
    return decoder.get_frames_in_range(0, len(decoder)).data.shape[0]


def test_load_video_samples_s1_at_2_fps_and_reads_the_audio(clip: Path, tmp_path: Path) -> None:
    """Grid times 0, 0.5, 1.0, 1.5 s fall in the frames shown from 0, 0.4, 1.0 and 1.4 s: frames 0, 2, 5, 7."""
    video = load_video(clip, "the red square")
    sample = video.sample
    assert sample.frames.shape == (NUM_FRAMES, 3, HEIGHT, WIDTH) and sample.masks.shape == (0, NUM_FRAMES, 48, 64)
    assert sample.s1_indices.tolist() == [0, 2, 5, 7] and sample.fps == 2.0 and sample.task == "vos"
    assert video.seconds.tolist() == pytest.approx([t / FPS for t in range(NUM_FRAMES)])
    assert video.frame_rate == FPS
    assert abs(sample.audio.shape[0] - 32000) < 1600  # 2 s at 16 kHz, up to the codec's padding
    avs = load_video(clip, "the sounding object", task="avs").sample
    assert avs.s1_indices.tolist() == [0] and avs.fps == 1.0
    wav = tmp_path / "one_second.wav"
    with wave.open(str(wav), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(16000)
        out.writeframes(np.zeros(16000, dtype="<i2").tobytes())
    assert load_video(clip, "q", audio=wav).sample.audio.shape == (16000,)
    silent = write_clip(tmp_path / "silent.mp4", audio=False)
    assert load_video(silent, "q").sample.audio is None
    with pytest.raises(ValueError, match="no audio track"):
        load_video(silent, "q", task="avs")
    with pytest.raises(FileNotFoundError, match="nowhere.mp4"):
        load_video(tmp_path / "nowhere.mp4", "q")


def test_main_writes_masks_answer_and_overlay_for_every_frame(
    clip: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The tiny random policy's answer hands no keyframe over: the outputs are written all the same (empty masks),
    the completion is shown and the exit status is 1, so a script can tell an empty prediction from a real one."""
    out = tmp_path / "out"
    args = ["--video", str(clip), "--query", "the red square", "--config", str(CONFIGS / "demo_grpo.yaml")]
    args += [f"--{TINY_KEY}", TINY_MODEL, "--output", str(out), "--max_new_tokens", "8", "--device", "cpu"]
    assert main(args) == EXIT_NO_KEYFRAMES
    completion = json.loads((out / "answer.json").read_text())["completion"]
    err = capsys.readouterr().err
    assert "S1's answer handed no keyframe to the Detail system" in err and "every mask is empty" in err
    assert f"The completion was:\n{completion or '(empty)'}" in err
    masks = sorted((out / "masks").iterdir())
    assert [p.name for p in masks] == [f"{t:05d}.png" for t in range(NUM_FRAMES)]
    for png in masks:
        with Image.open(png) as image:
            assert image.mode == "L" and image.size == (WIDTH, HEIGHT)
    record = json.loads((out / "answer.json").read_text())
    assert record["num_frames"] == NUM_FRAMES and record["s1_frames"] == [0, 2, 5, 7]
    assert record["query"] == "the red square" and isinstance(record["completion"], str)
    assert isinstance(record["keyframes"], list)
    assert decoded_frame_count(out / "overlay.mp4") == NUM_FRAMES


class FixedBoxGrounder:
    """S2 stand-in that answers every request with one box, so a user video (no ground truth) gets boxes."""

    needs_ground_truth = False

    def ground(
        self, images: Sequence[Tensor], descriptions: Sequence[str], *, task: str = "vos", gt_boxes: object = None
    ) -> list[Tensor]:
        return [torch.tensor([[4.0, 10.0, 20.0, 26.0]]) for _ in images]


def test_keyframes_in_frames_and_seconds_and_the_overlay(clip: Path) -> None:
    """ "00:01.00" is clip frame 2 = original frame 5, shown at 1.0 s; the box segmenter repeats the box everywhere."""
    video = load_video(clip, "the red square")
    completion = '<think>.</think><answer>{"start_time": "00:01.00", "end_time": "00:01.00", "description": "sq"}'
    prediction = collaborate(DetailSystem(FixedBoxGrounder(), BoxSegmenter()), video.sample, completion + "</answer>")
    record = answer_record(video, prediction, clip)
    assert record["keyframes"] == [
        {"frame": 5, "seconds": pytest.approx(1.0), "description": "sq", "boxes": [[4.0, 10.0, 20.0, 26.0]]}
    ]
    assert prediction.masks.shape == (NUM_FRAMES, HEIGHT, WIDTH)
    assert prediction.masks[:, 10:26, 4:20].all() and prediction.masks.sum() == NUM_FRAMES * 16 * 16
    frames = torch.full((2, 3, 8, 8), 100, dtype=torch.uint8)
    masks = torch.zeros(2, 8, 8, dtype=torch.bool)
    masks[:, 3, 3] = True
    drawn = overlay(frames, masks, {1: torch.tensor([[1.0, 1.0, 7.0, 7.0]])})
    assert drawn[0, :, 3, 3].tolist() == [178, 74, 74]  # round(0.5 · 100 + 0.5 · (255, 48, 48))
    assert drawn[0, :, 0, 0].tolist() == [100, 100, 100]
    assert drawn[1, :, 1, 1].tolist() == [255, 230, 0] and drawn[1, :, 6, 4].tolist() == [255, 230, 0]  # outline
    assert drawn[1, :, 4, 4].tolist() == [100, 100, 100]  # inside the 2-pixel outline


def test_write_mp4_pads_odd_sizes_and_keeps_every_frame(tmp_path: Path) -> None:
    frames = torch.randint(0, 256, (7, 3, 33, 47), dtype=torch.uint8)
    write_mp4(tmp_path / "odd.mp4", frames, frame_rate=3.0)
    assert decoded_frame_count(tmp_path / "odd.mp4") == 7


# ------------------------------------------------------------------------------------------- the --output folder
def predict_args(video: Path, out: Path, *extra: str) -> list[str]:
    """In the spelling of earlier versions (``--set``, ``--max-new-tokens``), which predict still reads."""
    args = ["--video", str(video), "--query", "the red square", "--config", str(CONFIGS / "demo_grpo.yaml")]
    return [*args, "--set", TINY, "--output", str(out), "--max-new-tokens", "8", "--device", "cpu", *extra]


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` with its bytes."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_a_foreign_output_folder_is_refused_and_left_as_it_was(
    clip: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    (out / "masks").mkdir(parents=True)
    (out / "masks" / "00000.png").write_bytes(b"a mask predict did not write")
    (out / "notes.txt").write_text("keep me")
    before = snapshot(out)
    for extra in ((), ("--overwrite",)):  # --overwrite never extends to a folder predict did not write
        assert main(predict_args(clip, out, *extra)) == 2
        assert f"--output {out} is not empty and was not written by omni_r1.predict" in capsys.readouterr().err
        assert snapshot(out) == before
    (tmp_path / "a_file").write_text("x")
    assert main(predict_args(clip, tmp_path / "a_file")) == 2
    assert "is a file, not a folder" in capsys.readouterr().err


def test_overwrite_replaces_only_the_files_a_previous_predict_wrote(
    clip: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    out.mkdir()  # an empty folder is as good as a new one
    assert main(predict_args(clip, out)) == EXIT_NO_KEYFRAMES  # written, with empty masks (the tiny policy)
    marker = json.loads((out / ".omni_r1-predict").read_text())
    assert marker["files"] == [f"masks/{t:05d}.png" for t in range(NUM_FRAMES)] + ["answer.json", "overlay.mp4"]
    (out / "masks" / "notes.txt").write_text("mine")
    (out / "mine.txt").write_text("mine too")
    short = write_clip(tmp_path / "short.mp4", num_frames=6)
    capsys.readouterr()
    assert main(predict_args(short, out)) == 2
    assert f"--output {out} holds a previous prediction: pass --overwrite" in capsys.readouterr().err
    assert main(predict_args(short, out, "--overwrite")) == EXIT_NO_KEYFRAMES
    names = sorted(p.name for p in (out / "masks").iterdir())
    assert names == [f"{t:05d}.png" for t in range(6)] + ["notes.txt"]  # the longer video's masks are gone
    assert (out / "masks" / "notes.txt").read_text() == "mine" and (out / "mine.txt").read_text() == "mine too"
    assert json.loads((out / "answer.json").read_text())["num_frames"] == 6
    assert len(json.loads((out / ".omni_r1-predict").read_text())["files"]) == 6 + 2
    (out / "masks" / "00007.png").write_bytes(b"not listed in the marker")  # where the 10-frame run would write
    before = snapshot(out)
    capsys.readouterr()
    assert main(predict_args(clip, out, "--overwrite")) == 2
    assert f"{out / 'masks' / '00007.png'} is in the way and was not written by omni_r1.predict" in (
        capsys.readouterr().err
    )
    assert snapshot(out) == before
