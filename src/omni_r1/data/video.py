"""Decoding the S1 clip of an ``.mp4`` (or any FFmpeg-readable video) with torchcodec.

S1 sees a video at 2 fps: the video is put on a grid of timestamps ``k / fps`` (``k < floor(duration * fps)``),
then :func:`~omni_r1.data.frame_sampling.sample_s1_indices` picks the clip from the grid exactly as it does for JPEG
folders (training: ``f ~ U[min, max]`` linspace-spaced and padded to even; evaluation: at most ``max_frames``).
Only the picked frames are decoded, so an hour-long Video-MME video costs 24 seeks, not 90,000 frames.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor

from omni_r1.data.frame_sampling import sample_s1_indices
from omni_r1.data.layout import DatasetFormatError


@dataclass(frozen=True)
class VideoInfo:
    """Header facts of a video stream: ``duration`` in seconds, frame count, frame size and average rate."""

    duration: float
    num_frames: int
    height: int
    width: int
    fps: float


def _decoder(path: Path):  # noqa: ANN202 - torchcodec's VideoDecoder, imported lazily
    from torchcodec.decoders import VideoDecoder  # deferred: loading FFmpeg is slow and only videos need it

    if not path.is_file():
        raise FileNotFoundError(f"video not found: {path}")
    try:
        return VideoDecoder(str(path), seek_mode="approximate")
    except (RuntimeError, ValueError) as err:
        raise DatasetFormatError(path, f"cannot open video ({err})") from err


def probe_video(path: str | Path) -> VideoInfo:
    """Read the header of a video.

    Raises:
        FileNotFoundError: the file is missing.
        DatasetFormatError: the file is not a readable video or holds no frames.
    """
    path = Path(path)
    meta = _decoder(path).metadata
    duration = float(meta.duration_seconds or 0.0)
    if duration <= 0 or not meta.num_frames:
        raise DatasetFormatError(path, "the video holds no frames")
    return VideoInfo(duration, int(meta.num_frames), int(meta.height), int(meta.width), float(meta.average_fps or 0))


def grid_times(duration: float, fps: float = 2.0) -> list[float]:
    """Timestamps ``k / fps`` of the S1 grid over a video of ``duration`` seconds (at least one, at 0 s)."""
    if duration <= 0 or fps <= 0:
        raise ValueError(f"need a positive duration and fps, got {duration}, {fps}")
    count = max(1, math.floor(duration * fps + 1e-6))
    return [k / fps for k in range(count)]


def clip_times(
    duration: float,
    *,
    train: bool,
    min_frames: int = 16,
    max_frames: int = 24,
    fps: float = 2.0,
    generator: torch.Generator | None = None,
) -> list[float]:
    """Timestamps of the S1 clip of a video: the grid of :func:`grid_times`, sampled like a JPEG folder."""
    grid = grid_times(duration, fps)
    picked = sample_s1_indices(
        len(grid), train=train, min_frames=min_frames, max_frames=max_frames, generator=generator
    ).tolist()
    return [grid[i] for i in picked]


def read_video_frames(path: str | Path, times: list[float]) -> Tensor:
    """Decode the frames shown at ``times`` (seconds); a repeated time (the even-count pad) is decoded once.

    Returns:
        ``(len(times), 3, H, W)`` uint8.

    Raises:
        FileNotFoundError: the file is missing.
        DatasetFormatError: the video cannot be decoded at those times.
    """
    path = Path(path)
    if not times:
        raise ValueError("read_video_frames needs at least one timestamp")
    decoder = _decoder(path)
    unique = sorted(set(times))
    end = float(decoder.metadata.end_stream_seconds or decoder.metadata.duration_seconds or 0.0)
    # A grid time at the very end can fall past the last frame's display interval: clamp into the stream.
    safe = [min(t, max(0.0, end - 1e-3)) for t in unique]
    try:
        batch = decoder.get_frames_played_at(seconds=safe)
    except (RuntimeError, ValueError, IndexError) as err:
        raise DatasetFormatError(path, f"cannot decode frames at {safe[:4]}... ({err})") from err
    frames = batch.data  # (U, 3, H, W)
    return frames[[unique.index(t) for t in times]].contiguous()
