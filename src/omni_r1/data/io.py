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


def _counts_bytes(counts: Any) -> bytes:
    """The bytes of a compressed RLE ``counts`` value; raises ``ValueError`` with what is wrong otherwise."""
    if isinstance(counts, str):
        try:
            return counts.encode("latin-1")
        except UnicodeEncodeError as err:
            raise ValueError(f"invalid character in RLE counts at position {err.start}") from err
    if not isinstance(counts, bytes):
        raise ValueError(f"RLE counts must be a string, bytes or a list, got {type(counts).__name__}")
    return counts


def _parse_compressed(blobs: Sequence[bytes]) -> tuple[np.ndarray, np.ndarray, dict[int, str]]:
    """Run lengths of many compressed COCO RLE strings in one vectorised pass (pycocotools' ``rleFrString``).

    Each run is a little-endian sequence of 5-bit chunks (character - 48, bit 0x20 = more chunks follow, bit 0x10
    of the last = negative); from the fourth run on, each is stored as a difference to the run two places earlier.
    Parsing all strings of an object (or a whole video) together keeps the per-call overhead of NumPy off the
    ``open`` check, which runs over every RLE of a split.

    Returns:
        The runs of every string, concatenated in order; the index of the string each run belongs to; and, per
        string that does not parse, why (its runs are then meaningless).
    """
    count = len(blobs)
    lengths = np.fromiter(map(len, blobs), dtype=np.int64, count=count)
    first_byte = np.cumsum(lengths) - lengths

    def owner_of(positions: np.ndarray) -> np.ndarray:
        return np.searchsorted(first_byte, positions, side="right") - 1

    codes = np.frombuffer(b"".join(blobs), dtype=np.uint8) - np.uint8(48)  # below "0" wraps to >= 208
    errors: dict[int, str] = {}
    invalid = codes >= 64
    if invalid.any():
        where = np.flatnonzero(invalid)
        owners, first = np.unique(owner_of(where), return_index=True)
        for s, position in zip(owners.tolist(), where[first].tolist()):
            errors[s] = f"invalid character in RLE counts at position {position - first_byte[s]}"
        codes = np.where(invalid, np.uint8(0), codes)  # parse on, so the other strings are still checked
    more = (codes & 0x20) != 0
    last = (first_byte + lengths - 1)[lengths > 0]
    for s in owner_of(last[more[last]]).tolist():  # the last run announces a chunk that never comes
        errors.setdefault(s, f"invalid character in RLE counts at position {lengths[s]}")
    more[last] = False  # no run continues into the next string
    ends = np.flatnonzero(~more)  # last chunk of each run
    runs_per_string = np.diff(np.searchsorted(ends, np.concatenate([first_byte, [codes.size]])))
    owner = np.repeat(np.arange(count), runs_per_string)
    if ends.size == 0:
        return np.zeros(0, dtype=np.int64), owner, errors
    starts = np.concatenate([[0], ends[:-1] + 1])
    chunks = ends - starts + 1
    if chunks.max() > 12:  # 5-bit chunks past 60 bits overflow int64; no mask has such a run
        for s in np.unique(owner[chunks > 12]).tolist():
            errors.setdefault(s, "RLE counts hold a run longer than 12 chunks")
        chunks = np.minimum(chunks, 12)
    low = codes & np.uint8(0x1F)
    values = low[starts].astype(np.int64)
    longer = np.flatnonzero(chunks > 1)
    for k in range(1, int(chunks.max())):  # few runs need more than one or two chunks
        values[longer] |= low[starts[longer] + k].astype(np.int64) << (5 * k)
        longer = longer[chunks[longer] > k + 1]
    negative = np.flatnonzero(codes[ends] & np.uint8(0x10))
    values[negative] |= np.left_shift(np.int64(-1), 5 * chunks[negative])
    # Run i += run i-2 from i = 3: running sums over runs 1, 3, 5... and 2, 4, 6... of each string, taken as one
    # cumulative sum per parity minus its value just before the string's first run (int64 wraps on overflow, the
    # differences stay exact modulo 2**64: a garbage string yields a garbage, rejected, total and never an error).
    first_run = np.cumsum(runs_per_string) - runs_per_string
    position = np.arange(ends.size) - np.repeat(first_run, runs_per_string)
    odd = (position & 1).astype(bool)
    even = ~odd & (position > 0)
    summed = []
    for chain in (odd, even):
        total = np.cumsum(np.where(chain, values, 0))
        before = np.concatenate([[0], total])[first_run]  # the chain's sum before each string
        summed.append(total - np.repeat(before, runs_per_string))
    return np.where(odd, summed[0], np.where(even, summed[1], values)), owner, errors


def _compressed_runs(counts: str | bytes, source: str) -> np.ndarray:
    """Run lengths of one compressed COCO RLE string, as int64.

    pycocotools decodes a string whose runs do not sum to ``h*w`` into uninitialised memory instead of failing,
    so the runs are parsed here to check them first (see :func:`_parse_compressed`).

    Raises:
        DatasetFormatError: the string holds an invalid character or an unfinished or overlong run.
    """
    try:
        blob = _counts_bytes(counts)
    except ValueError as err:
        raise DatasetFormatError(source, str(err)) from err
    runs, _, errors = _parse_compressed([blob])
    if errors:
        raise DatasetFormatError(source, errors[0])
    return runs


def compressed_run_totals(counts: Sequence[Any]) -> tuple[np.ndarray, np.ndarray, dict[int, str]]:
    """Sum and smallest run length of each compressed RLE ``counts`` string, all parsed in one pass.

    A string is a valid ``h`` x ``w`` mask exactly when it parses, its smallest run is not negative and its sum is
    ``h * w``: what the ``open`` check asks of every RLE before pycocotools may decode it.

    Args:
        counts: the ``counts`` values (``str`` or ``bytes``; anything else is reported in the errors).

    Returns:
        ``(totals, minimums, errors)``: int64 arrays with one entry per string (0 for a string without runs) and,
        by index, why a string does not parse (its entries are then meaningless).
    """
    blobs: list[bytes] = []
    errors: dict[int, str] = {}
    for i, value in enumerate(counts):
        try:
            blobs.append(_counts_bytes(value))
        except ValueError as err:
            errors[i] = str(err)
            blobs.append(b"")
    runs, owner, parse_errors = _parse_compressed(blobs)
    for i, why in parse_errors.items():
        errors.setdefault(i, why)
    totals = np.zeros(len(blobs), dtype=np.int64)
    minimums = np.zeros(len(blobs), dtype=np.int64)
    if runs.size:
        heads = np.flatnonzero(np.concatenate([[True], owner[1:] != owner[:-1]]))
        totals[owner[heads]] = np.add.reduceat(runs, heads)
        minimums[owner[heads]] = np.minimum.reduceat(runs, heads)
    return totals, minimums, errors


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
