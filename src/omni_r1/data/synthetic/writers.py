"""File writers shared by the synthetic layouts: JPEG frames, PNG masks, WAV and MP4 media, JSON, COCO RLE.

Every layout writes through these so that the same content always gives the same bytes (JPEG quality 95, 16-bit
mono WAV at ``SAMPLE_RATE``, RLE ``counts`` as str as the official mask files store them).
"""

from __future__ import annotations

import json
import wave
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image
from pycocotools import mask as mask_utils

from omni_r1.data.synthetic.render import SAMPLE_RATE

JPEG_QUALITY = 95


def write_jpg(path: Path, picture: np.ndarray) -> None:
    """Save an ``(H, W, 3)`` uint8 picture as a JPEG."""
    Image.fromarray(picture).save(path, quality=JPEG_QUALITY)


def write_frames(folder: Path, frames: np.ndarray, name: str = "{:05d}.jpg") -> None:
    """Save ``(T, H, W, 3)`` frames as JPEGs ``name.format(t)`` in ``folder`` (created)."""
    folder.mkdir(parents=True, exist_ok=True)
    for t, frame in enumerate(frames):
        write_jpg(folder / name.format(t), frame)


def write_png(path: Path, mask: np.ndarray) -> None:
    """Save a bool mask as an 8-bit PNG of 0 / 255."""
    Image.fromarray(mask.astype(np.uint8) * 255, mode="L").save(path)


def write_wav(path: Path, samples: np.ndarray) -> None:
    """Save int16 mono samples as a 16-bit ``SAMPLE_RATE`` WAV."""
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(SAMPLE_RATE)
        out.writeframes(samples.astype("<i2").tobytes())


def write_mp4(path: Path, frames: np.ndarray, fps: float, audio: np.ndarray | None) -> None:
    """Encode ``(T, H, W, 3)`` frames (and an int16 16 kHz mono track) into an mp4 with torchcodec."""
    import torch
    from torchcodec.encoders import Encoder  # deferred: loading FFmpeg is slow and only the video writers need it

    encoder = Encoder()
    video = encoder.add_video(height=frames.shape[1], width=frames.shape[2], frame_rate=fps)
    sound = encoder.add_audio(sample_rate=SAMPLE_RATE, num_channels=1) if audio is not None else None
    with encoder.open_file(str(path)):
        video.add_frames(torch.from_numpy(frames).permute(0, 3, 1, 2).contiguous())
        if sound is not None and audio is not None:
            sound.add_samples(torch.from_numpy(audio.astype(np.float32) / 32768)[None])


def write_json(path: Path, content: Any, *, indent: int | None = None) -> None:
    """Save ``content`` as JSON (compact unless ``indent`` is given)."""
    path.write_text(json.dumps(content, indent=indent))


def encode_rle(mask: np.ndarray) -> dict[str, Any]:
    """COCO RLE of a bool mask with ``counts`` as str (JSON-serialisable), as the official mask files store it."""
    rle = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
    return {"size": [int(s) for s in rle["size"]], "counts": rle["counts"].decode("ascii")}


def encode_track(masks: Sequence[np.ndarray | None]) -> list[dict[str, Any] | None]:
    """One ``mask_dict.json`` entry: an RLE per frame, ``None`` (JSON null) where the object is absent."""
    return [None if m is None else encode_rle(m) for m in masks]
