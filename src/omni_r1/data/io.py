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


def _compressed_runs(counts: str | bytes, source: str) -> np.ndarray:
    """Run lengths of a compressed COCO RLE string (pycocotools' ``rleFrString``), as int64.

    pycocotools decodes a string whose runs do not sum to ``h*w`` into uninitialised memory instead of failing,
    so the runs are parsed here to check them first, vectorised over the string. Each run is a little-endian
    sequence of 5-bit chunks (character - 48, bit 0x20 = more chunks follow, bit 0x10 of the last = negative);
    from the fourth run on, each is stored as a difference to the run two places earlier.
    """
    if isinstance(counts, str):
        try:
            counts = counts.encode("latin-1")
        except UnicodeEncodeError as err:
            raise DatasetFormatError(source, f"invalid character in RLE counts at position {err.start}") from err
    if not isinstance(counts, bytes):
        raise DatasetFormatError(source, f"RLE counts must be a string, bytes or a list, got {type(counts).__name__}")
    codes = np.frombuffer(counts, dtype=np.uint8).astype(np.int64) - 48
    invalid = (codes < 0) | (codes >= 64)
    if invalid.any():
        raise DatasetFormatError(source, f"invalid character in RLE counts at position {int(np.argmax(invalid))}")
    if codes.size == 0:
        return np.zeros(0, dtype=np.int64)
    more = (codes & 0x20) != 0
    if more[-1]:  # the last run announces a chunk that never comes
        raise DatasetFormatError(source, f"invalid character in RLE counts at position {codes.size}")
    ends = np.flatnonzero(~more)  # last chunk of each run
    starts = np.concatenate([[0], ends[:-1] + 1])
    chunks = ends - starts + 1
    if chunks.max() > 12:  # 5-bit chunks past 60 bits would overflow int64; no mask has such a run
        raise DatasetFormatError(source, "RLE counts hold a run longer than 12 chunks")
    within = np.arange(codes.size) - np.repeat(starts, chunks)  # chunk position inside its run
    values = np.add.reduceat((codes & 0x1F) << (5 * within), starts)
    negative = (codes[ends] & 0x10) != 0
    values[negative] |= np.left_shift(np.int64(-1), 5 * chunks[negative])
    runs = values.copy()
    runs[1::2] = np.cumsum(values[1::2])  # run i += run i-2 from i = 3: running sums per parity
    runs[2::2] = np.cumsum(values[2::2])
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
    runs = np.array(counts, dtype=np.int64) if isinstance(counts, list) else _compressed_runs(counts, source)
    if (runs < 0).any() or int(runs.sum()) != height * width:
        raise DatasetFormatError(source, f"RLE counts do not cover a {height}x{width} mask (sum {int(runs.sum())})")
    try:
        if isinstance(counts, list):
            encoded = mask_utils.frPyObjects({"size": size, "counts": counts}, height, width)
        else:
            encoded = {"size": size, "counts": counts.encode() if isinstance(counts, str) else counts}
        array = mask_utils.decode(encoded)
    except (TypeError, ValueError, OSError) as err:
        raise DatasetFormatError(source, f"cannot decode RLE ({err})") from err
    # pycocotools returns column-major 0/1 bytes: one cast to row-major bool (casting is `!= 0`).
    return torch.from_numpy(np.array(array, dtype=bool, order="C"))


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
