"""Readers for the media files of the official layouts: JPEG frames, PNG masks, COCO RLE masks and WAV audio.

Each reader fails loudly with the path (or JSON locator) in the message: a truncated JPEG or an RLE of the wrong
size deep inside a dataloader worker is otherwise hard to trace back to a file.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError
from pycocotools import mask as mask_utils
from torch import Tensor

from omni_r1.data.layout import DatasetFormatError


def _require_file(path: Path, what: str) -> None:
    if not path.is_file():
        raise FileNotFoundError(f"{what} not found: {path}")


def _load_image(path: Path, what: str) -> np.ndarray:
    _require_file(path, what)
    try:
        with Image.open(path) as image:
            image.load()
            return np.asarray(image.convert("RGB") if what == "frame" else image)
    except (OSError, UnidentifiedImageError, ValueError) as err:
        raise DatasetFormatError(path, f"cannot decode {what} image ({err})") from err


def _compressed_runs(counts: str | bytes, source: str) -> list[int]:
    """Run lengths of a compressed COCO RLE string (pycocotools' ``rleFrString``).

    pycocotools decodes a string whose runs do not sum to ``h*w`` into uninitialised memory instead of failing,
    so the runs are parsed here to check them first.
    """
    text = counts.decode("latin-1") if isinstance(counts, bytes) else counts
    if not isinstance(text, str):
        raise DatasetFormatError(source, f"RLE counts must be a string, bytes or a list, got {type(counts).__name__}")
    runs: list[int] = []
    pos = 0
    while pos < len(text):
        value, shift, more = 0, 0, True
        while more:
            if pos >= len(text) or not 48 <= ord(text[pos]) < 112:
                raise DatasetFormatError(source, f"invalid character in RLE counts at position {pos}")
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


def read_frames(paths: Sequence[str | Path]) -> Tensor:
    """Read RGB frames of one clip.

    Args:
        paths: image files in temporal order; all must share one size.

    Returns:
        ``(T, 3, H, W)`` uint8 tensor.

    Raises:
        FileNotFoundError: a frame is missing.
        DatasetFormatError: a frame cannot be decoded or its size differs from the first frame's.
    """
    if not paths:
        raise ValueError("read_frames needs at least one path")
    arrays: list[np.ndarray] = []
    for path in map(Path, paths):
        array = _load_image(path, "frame")
        if arrays and array.shape != arrays[0].shape:
            raise DatasetFormatError(
                path, f"frame size {array.shape[:2]} differs from the clip's first frame {arrays[0].shape[:2]}"
            )
        arrays.append(array)
    return torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2).contiguous()  # (T, 3, H, W)


def read_mask_png(path: str | Path) -> Tensor:
    """Read a mask PNG where any non-zero pixel (in any channel or palette index) is the object.

    Returns:
        ``(H, W)`` bool tensor.
    """
    array = _load_image(Path(path), "mask")
    if array.ndim == 3:
        array = array.any(axis=-1)
    return torch.from_numpy(np.ascontiguousarray(array != 0))


def decode_rle(rle: Mapping[str, Any] | None, height: int, width: int, *, source: str = "<rle>") -> Tensor:
    """Decode one COCO RLE mask; ``None`` (object absent in that frame) decodes to an empty mask.

    Args:
        rle: ``{"size": [h, w], "counts": str | bytes | list[int]}`` or ``None``.
        height: expected mask height (the frame's).
        width: expected mask width.
        source: locator used in error messages, e.g. ``"mask_dict.json[12][3]"``.

    Returns:
        ``(H, W)`` bool tensor.

    Raises:
        DatasetFormatError: the RLE is malformed or its size is not ``[height, width]``.
    """
    if rle is None:
        return torch.zeros(height, width, dtype=torch.bool)
    if not isinstance(rle, Mapping) or "size" not in rle or "counts" not in rle:
        raise DatasetFormatError(source, f"expected a COCO RLE dict with 'size' and 'counts' or null, got {rle!r:.80}")
    size = [int(s) for s in rle["size"]]
    if size != [height, width]:
        raise DatasetFormatError(source, f"RLE size {size} does not match the frame size [{height}, {width}]")
    counts = rle["counts"]
    runs = list(counts) if isinstance(counts, list) else _compressed_runs(counts, source)
    if any(int(r) < 0 for r in runs) or sum(int(r) for r in runs) != height * width:
        raise DatasetFormatError(source, f"RLE counts do not cover a {height}x{width} mask (sum {sum(runs)})")
    try:
        if isinstance(counts, list):
            encoded = mask_utils.frPyObjects({"size": size, "counts": counts}, height, width)
        else:
            encoded = {"size": size, "counts": counts.encode() if isinstance(counts, str) else counts}
        array = mask_utils.decode(encoded)
    except (TypeError, ValueError, OSError) as err:
        raise DatasetFormatError(source, f"cannot decode RLE ({err})") from err
    return torch.from_numpy(np.ascontiguousarray(array != 0))


def read_audio(path: str | Path, sample_rate: int = 16000) -> Tensor:
    """Read an audio file as mono float32 at ``sample_rate``.

    Channels are averaged here rather than by FFmpeg (``num_channels=1``): FFmpeg's down-mix scales each channel
    by 1/sqrt(2), so a stereo file with equal channels comes out 1.41x louder than the channel mean that the
    reference pipeline (``librosa.load(..., sr=16000)``, mono by mean) feeds to the Whisper feature extractor.

    Returns:
        ``(L,)`` float32 waveform.

    Raises:
        FileNotFoundError: the file is missing.
        DatasetFormatError: the file cannot be decoded.
    """
    from torchcodec.decoders import AudioDecoder  # deferred: loading FFmpeg is slow and only audio needs it

    path = Path(path)
    _require_file(path, "audio")
    try:
        samples = AudioDecoder(str(path), sample_rate=sample_rate).get_all_samples()
    except (RuntimeError, ValueError) as err:
        raise DatasetFormatError(path, f"cannot decode audio ({err})") from err
    return samples.data.to(torch.float32).mean(dim=0)  # (C, L) -> (L,)
