"""``python -m omni_r1.predict``: both systems on one video of your own.

    python -m omni_r1.predict --video clip.mp4 --query "the dog that starts running first" \\
        --config configs/omni_r1_7b.yaml --ckpt runs/omni_r1_7b/checkpoints/last.ckpt --output runs/predict/clip

Every frame of the video is decoded (torchcodec). S1 watches the frames shown at 2 fps (at most 24, spread over the
video like the benchmarks' evaluation clips) and hears the audio track, resampled to 16 kHz mono (or ``--audio``);
with ``--task avs`` it sees the first frame and the whole audio, as on RefAVS. S2 grounds the keyframes of S1's
answer and tracks the boxes over every decoded frame. Written under ``--output``:

- ``masks/<frame>.png``: one 0/255 mask per decoded frame (``00000.png``...), at the video's size;
- ``answer.json``: the completion, the S1 frames, and per keyframe its frame index, time in seconds, rewritten
  description and boxes ``(x1, y1, x2, y2)`` in pixels;
- ``overlay.mp4``: the frames with the mask tinted in and the boxes drawn on their keyframes, at the source rate.

``--output`` must be a new or empty folder, or one a previous predict wrote (its ``.omni_r1-predict`` marker lists
the files it wrote) together with ``--overwrite``, which replaces exactly those files; anything else in the folder
stays. Any other non-empty folder is refused with exit status 2 before a model is built: predict never deletes or
replaces a file it did not write (:mod:`omni_r1.predict_output`).

The whole video is held in memory as uint8 frames (a minute of 720p at 30 fps is ~5 GB): meant for clips.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import torch
from jsonargparse import ArgumentParser
from torch import Tensor

from omni_r1.command_line import add_flag, command_arguments, command_parser, configure_logging
from omni_r1.config import resolved_config
from omni_r1.data.frame_sampling import sample_s1_indices
from omni_r1.data.io import read_audio
from omni_r1.data.layout import DatasetFormatError
from omni_r1.data.types import VideoSample
from omni_r1.data.video import grid_times
from omni_r1.inference import (
    SYSTEM_EPILOG,
    Prediction,
    add_system_arguments,
    answer,
    build_systems,
    collaborate,
    config_arguments,
    write_masks,
)
from omni_r1.predict_output import OutputFolderError, check_targets, claim_output, output_files, replace_outputs
from omni_r1.progress import Progress

SAMPLE_RATE = 16000
S1_FPS = 2.0
MAX_S1_FRAMES = 24
TASKS = ("vos", "avs")
MASK_COLOUR = (255, 48, 48)
BOX_COLOUR = (255, 230, 0)
logger = logging.getLogger("omni_r1.predict")  # by name: run as __main__, __name__ is not under omni_r1


@dataclass
class UserVideo:
    """A decoded video as a prompt: the sample both systems run on, each frame's time and the source rate."""

    sample: VideoSample
    seconds: Tensor  # (T,) float64 presentation time of every frame
    frame_rate: float


def load_audio(video: Path, audio: Path | None = None) -> Tensor | None:
    """``(L,)`` 16 kHz mono audio from ``audio`` if given, else the video's own track, else ``None``."""
    if audio is not None:
        return read_audio(audio, SAMPLE_RATE)
    from torchcodec.decoders import get_container_metadata  # deferred: loading FFmpeg is slow

    if get_container_metadata(str(video)).best_audio_stream_index is None:
        return None
    return read_audio(video, SAMPLE_RATE)


def s1_frames(seconds: Tensor, duration: float, fps: float = S1_FPS, max_frames: int = MAX_S1_FRAMES) -> Tensor:
    """Indices of the frames shown at the S1 grid times ``k / fps`` (at most ``max_frames`` of them, linspace-spaced
    as the benchmarks' evaluation clips): the last frame whose presentation time is not after the grid time."""
    grid = grid_times(duration, fps)
    picked = sample_s1_indices(len(grid), train=False, max_frames=max_frames)
    times = torch.tensor([grid[i] for i in picked.tolist()], dtype=torch.float64)
    return (torch.searchsorted(seconds.double(), times + 1e-6, right=True) - 1).clamp(min=0)


def load_video(
    path: str | Path, query: str, *, audio: str | Path | None = None, task: str = "vos", max_frames: int = MAX_S1_FRAMES
) -> UserVideo:
    """Decode every frame of ``path`` and build the prompt (no ground truth: ``masks`` has no objects).

    Raises:
        FileNotFoundError: the video or the audio file is missing.
        DatasetFormatError: the video cannot be decoded.
        ValueError: an unknown task, or ``avs`` without any audio.
    """
    from torchcodec.decoders import VideoDecoder  # deferred: loading FFmpeg is slow

    if task not in TASKS:
        raise ValueError(f"task must be one of {TASKS}, got {task!r}")
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"video not found: {path}")
    try:
        decoder = VideoDecoder(str(path), seek_mode="exact")
        batch = decoder.get_frames_in_range(0, len(decoder))
    except (RuntimeError, ValueError, IndexError) as err:
        raise DatasetFormatError(path, f"cannot decode the video ({err})") from err
    frames, seconds = batch.data, batch.pts_seconds.double()  # (T, 3, H, W) uint8, (T,)
    if frames.shape[0] == 0:
        raise DatasetFormatError(path, "the video holds no frames")
    meta = decoder.metadata
    frame_rate = float(meta.average_fps or 0.0) or S1_FPS
    duration = float(meta.duration_seconds or 0.0) or frames.shape[0] / frame_rate
    sound = load_audio(path, Path(audio) if audio is not None else None)
    if task == "avs" and sound is None:
        raise ValueError(f"--task avs listens to the audio, but {path} has no audio track: pass --audio")
    indices = torch.tensor([0]) if task == "avs" else s1_frames(seconds, duration, max_frames=max_frames)
    sample = VideoSample(
        dataset="user",
        task=task,
        video_id=path.stem,
        exp_id="query",
        expression=query,
        expression_type=0,
        frames=frames,
        frame_names=[f"{t:05d}" for t in range(frames.shape[0])],
        s1_indices=indices,
        masks=torch.zeros(0, frames.shape[0], *frames.shape[-2:], dtype=torch.bool),  # (0, T, H, W)
        audio=sound,
        sample_rate=SAMPLE_RATE,
        fps=1.0 if task == "avs" else S1_FPS,  # RefAVS shows S1 one frame (see omni_r1.data.refavs)
    )
    return UserVideo(sample, seconds, frame_rate)


def draw_box(frame: Tensor, box: Tensor, colour: tuple[int, int, int] = BOX_COLOUR, width: int = 2) -> None:
    """Outline ``box`` (``x1, y1, x2, y2``, covering ``[x1, x2) × [y1, y2)``) on a ``(3, H, W)`` frame in place."""
    height, width_px = frame.shape[-2:]
    x1, y1 = max(0, int(float(box[0]))), max(0, int(float(box[1])))
    x2, y2 = min(width_px, int(torch.ceil(box[2]))), min(height, int(torch.ceil(box[3])))
    if x1 >= x2 or y1 >= y2:
        return
    value = torch.tensor(colour, dtype=frame.dtype)[:, None, None]
    frame[:, y1 : min(y1 + width, y2), x1:x2] = value
    frame[:, max(y2 - width, y1) : y2, x1:x2] = value
    frame[:, y1:y2, x1 : min(x1 + width, x2)] = value
    frame[:, y1:y2, max(x2 - width, x1) : x2] = value


def overlay(frames: Tensor, masks: Tensor, boxes: dict[int, Tensor], alpha: float = 0.5) -> Tensor:
    """``(T, 3, H, W)`` uint8 frames with ``masks`` ``(T, H, W)`` tinted in and ``boxes`` drawn on their frames."""
    tint = torch.tensor(MASK_COLOUR, dtype=torch.float32)[None, :, None, None]
    blended = (1 - alpha) * frames.float() + alpha * tint
    out = torch.where(masks[:, None], blended, frames.float()).round().to(torch.uint8)
    for frame, frame_boxes in boxes.items():
        for box in frame_boxes:
            draw_box(out[frame], box)
    return out


def write_mp4(path: Path, frames: Tensor, frame_rate: float) -> None:
    """Encode ``(T, 3, H, W)`` uint8 frames with torchcodec; an odd size is padded by repeating the last row or
    column (H.264 in 4:2:0 needs even sides, which every player decodes)."""
    from torchcodec.encoders import VideoEncoder  # deferred: loading FFmpeg is slow

    height, width = frames.shape[-2:]
    if height % 2:
        frames = torch.cat([frames, frames[..., -1:, :]], dim=-2)
    if width % 2:
        frames = torch.cat([frames, frames[..., -1:]], dim=-1)
    VideoEncoder(frames.contiguous(), frame_rate=frame_rate).to_file(str(path))


def answer_record(video: UserVideo, prediction: Prediction, source: Path) -> dict[str, Any]:
    """``answer.json``: what S1 said and what S2 did with it, in original frames and seconds."""
    sample = video.sample
    return {
        "video": str(source),
        "query": sample.expression,
        "task": sample.task,
        "num_frames": int(sample.frames.shape[0]),
        "frame_rate": video.frame_rate,
        "s1_frames": sample.s1_indices.tolist(),
        "completion": prediction.completion,
        "keyframes": [
            {
                "frame": frame,
                "seconds": float(video.seconds[frame]),
                "description": description,
                "boxes": boxes.tolist(),
            }
            for frame, description, boxes in zip(prediction.keyframes, prediction.descriptions, prediction.boxes)
        ],
    }


def non_empty_query(text: str) -> str:
    """``--query`` as given, refused when blank: an empty instruction would still run both systems on the video."""
    if not text.strip():
        raise argparse.ArgumentTypeError("must not be empty (the referring or reasoning query)")
    return text


DESCRIPTION = """Run both systems on one video of your own: S1 picks keyframes, S2 grounds and tracks the target.

Every frame is decoded. S1 watches the frames shown at 2 fps (at most 24, spread over the video) and hears the
audio track (or --audio); with --task avs it sees the first frame and the whole audio, as on RefAVS. Written under
--output: masks/<frame>.png (0/255, one per decoded frame), answer.json (the completion, and per keyframe its frame,
time, rewritten description and boxes) and overlay.mp4 (the masks tinted in, the boxes on their keyframes).

--output must be new, empty, or a previous predict's folder together with --overwrite (which replaces only the
files that predict wrote). The whole video is held in memory: meant for clips.

Exit status: 0 with a prediction; 1 when S1's answer handed no keyframe to S2 (the outputs are still written, with
empty masks, and the completion is shown); 2 for an --output that cannot be used.

example:
  python -m omni_r1.predict --video clip.mp4 --query "the dog that starts running first" \\
      --config configs/demo_grpo.yaml --ckpt runs/demo_grpo/checkpoints/last.ckpt --output runs/predict/clip
"""
EXIT_NO_KEYFRAMES = 1
EXIT_OUTPUT_FOLDER = 2


def build_parser() -> ArgumentParser:
    parser = command_parser("python -m omni_r1.predict", DESCRIPTION, SYSTEM_EPILOG)
    parser.add_argument("--video", type=str, required=True, help="video file (mp4 or anything FFmpeg reads)")
    parser.add_argument("--audio", type=str | None, default=None, help="audio file instead of the video's own track")
    parser.add_argument("--query", type=non_empty_query, required=True, help="the referring or reasoning query")
    parser.add_argument(
        "--output", type=str, required=True, help="folder for masks/, answer.json and overlay.mp4 (see above)"
    )
    add_flag(
        parser,
        "--overwrite",
        "replace the files a previous predict wrote in --output (listed in its .omni_r1-predict marker); files it "
        "did not write are never touched, and a non-empty folder without the marker is always refused",
    )
    parser.add_argument(
        "--task", type=Literal[TASKS], default="vos", help="vos (2-fps clip) or avs (first frame + audio)"
    )
    add_system_arguments(parser)
    return parser


def no_keyframes_message(completion: str) -> str:
    """What a user is told when S1's answer hands nothing over: why the masks are empty, and the answer itself."""
    shown = completion if completion.strip() else "(empty)"
    return (
        "S1's answer handed no keyframe to the Detail system (no <answer> block with a moment inside the video), so "
        f"every mask is empty and the overlay is the input video. The completion was:\n{shown}"
    )


def main(args: list[str] | None = None) -> int:
    """Parse ``args`` (``sys.argv[1:]`` when ``None``), predict, write the outputs; returns the exit status (see
    :data:`DESCRIPTION`)."""
    configure_logging()
    own, config_flags = command_arguments(args)
    options = build_parser().parse_args(own)
    output = Path(options.output)
    try:
        previous = claim_output(output, options.overwrite)
        video = load_video(options.video, options.query, audio=options.audio, task=options.task)
        outputs = output_files(video.sample.frame_names)
        check_targets(output, outputs, previous)
    except OutputFolderError as err:
        print(f"python -m omni_r1.predict: error: {err}", file=sys.stderr)
        return EXIT_OUTPUT_FOLDER
    with Progress(4, "predict", unit="stages", interval=0.0) as bar:
        bar.update(1, done=f"decoded {len(video.sample.frame_names)} frames")
        systems = build_systems(
            resolved_config(config_arguments(options.config, options.set, config_flags)),
            ckpt=options.ckpt,
            detail_config=options.detail,
            grounder_weights=options.grounder_weights,
            device=options.device,
        )
        bar.update(1, done="built the systems")
        with torch.no_grad():
            completion = answer(systems.policy, [video.sample], options.max_new_tokens or systems.max_new_tokens)[0]
            bar.update(1, done="S1 answered")
            prediction = collaborate(systems.detail, video.sample, completion, systems.handover)
        replace_outputs(output, previous, outputs)  # a previous, longer video's masks must not stay behind
        write_masks(output / "masks", video.sample.frame_names, prediction.masks)
        record = answer_record(video, prediction, Path(options.video))
        (output / "answer.json").write_text(json.dumps(record, indent=2) + "\n")
        boxes: dict[int, Tensor] = {}  # per original frame
        for frame, frame_boxes in zip(prediction.keyframes, prediction.boxes):  # two clip frames can share a frame
            boxes[frame] = torch.cat([boxes.get(frame, torch.zeros(0, 4)), frame_boxes])
        write_mp4(output / "overlay.mp4", overlay(video.sample.frames, prediction.masks, boxes), video.frame_rate)
        bar.update(1, done="S2 tracked, outputs written")
    print(json.dumps({k: record[k] for k in ("completion", "keyframes")}, indent=2))
    print(f"wrote {len(video.sample.frame_names)} masks, answer.json and overlay.mp4 to {output}")
    if not prediction.keyframes:
        logger.error(no_keyframes_message(completion))
        return EXIT_NO_KEYFRAMES
    if not bool(prediction.masks.any()):
        logger.warning("S2 found the target on none of the %d keyframes: every mask is empty", len(boxes))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
