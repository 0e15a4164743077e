"""Fast decoding of a clip's frames and RLE masks, for the video loaders' hot path.

A 24-frame 720p clip is 66 MB of pixels, and on a small machine a memory copy of it costs about as much as decoding
its JPEGs, so this path avoids every copy it can:

- JPEGs decode with libjpeg-turbo through ``torchvision.io`` into HWC buffers, copied once into a ``(T, H, W, 3)``
  tensor that is returned as a channels-last ``(T, 3, H, W)`` view. Making it CHW-contiguous would be a strided
  transpose costing as much as the decode; every consumer (processors, SAM2, metrics) accepts the strided view.
- Inside a DataLoader worker, outputs are allocated in shared memory, so handing them to the main process costs no
  further copy (otherwise the worker's pickler copies each tensor into shared memory).
- The RLEs of one object decode in one pycocotools call; each is validated first (pycocotools decodes an RLE whose
  runs do not cover the frame into garbage instead of failing).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from pycocotools import mask as mask_utils
from torch import Tensor
from torch.utils.data import get_worker_info

from omni_r1.data.integrity import rle_problem
from omni_r1.data.layout import DatasetFormatError


def empty_for_transfer(shape: Sequence[int], dtype: torch.dtype) -> Tensor:
    """An uninitialised tensor, in shared memory when called inside a DataLoader worker."""
    if get_worker_info() is None:
        return torch.empty(tuple(shape), dtype=dtype)
    numel = int(np.prod(shape))
    storage = torch.UntypedStorage._new_shared(numel * torch.empty(0, dtype=dtype).element_size())
    return torch.empty(0, dtype=dtype).set_(storage, 0, tuple(shape))


def _decode(path: Path) -> Tensor:
    from torchvision.io import ImageReadMode, decode_image  # deferred: torchvision is only needed on this path

    if not path.is_file():
        raise FileNotFoundError(f"frame not found: {path}")
    data = torch.frombuffer(bytearray(path.read_bytes()), dtype=torch.uint8)
    try:
        return decode_image(data, mode=ImageReadMode.RGB).permute(1, 2, 0)  # (H, W, 3) view of the decoder's buffer
    except RuntimeError as err:
        raise DatasetFormatError(path, f"cannot decode frame image ({str(err).splitlines()[-1]})") from err


def read_clip_frames(paths: Sequence[str | Path]) -> Tensor:
    """Decode the frames of one clip (JPEG, PNG, WebP or GIF).

    Returns:
        ``(T, 3, H, W)`` uint8, channels-last in memory.

    Raises:
        FileNotFoundError: a frame is missing.
        DatasetFormatError: a frame does not decode, or its size differs from the first frame's.
    """
    if not paths:
        raise ValueError("read_clip_frames needs at least one path")
    paths = [Path(p) for p in paths]
    first = _decode(paths[0])
    out = empty_for_transfer((len(paths), *first.shape), torch.uint8)  # (T, H, W, 3)
    out[0] = first
    for t, path in enumerate(paths[1:], start=1):
        frame = _decode(path)
        if frame.shape != first.shape:
            raise DatasetFormatError(
                path,
                f"frame size {tuple(frame.shape[:2])} differs from the clip's first frame {tuple(first.shape[:2])}",
            )
        out[t] = frame
    return out.permute(0, 3, 1, 2)  # (T, 3, H, W), channels-last


def decode_rles_into(out: Tensor, rles: Sequence[dict[str, Any] | None], sources: Sequence[str]) -> None:
    """Decode one object's per-frame RLEs into ``out`` (``(T, H, W)`` bool; a ``None`` entry decodes to empty).

    Raises:
        DatasetFormatError: an entry is malformed or its size or runs do not fit ``H x W`` (named by its source).
    """
    height, width = out.shape[-2:]
    empty = mask_utils.frPyObjects({"size": [height, width], "counts": [height * width]}, height, width)
    encoded = []
    for rle, source in zip(rles, sources, strict=True):
        if rle is None:
            encoded.append(empty)
            continue
        problem = rle_problem(rle, height, width, "decode")
        if problem:
            raise DatasetFormatError(source, problem)
        counts = rle["counts"]
        if isinstance(counts, list):
            encoded.append(mask_utils.frPyObjects({"size": [height, width], "counts": counts}, height, width))
        else:
            encoded.append({"size": [height, width], "counts": counts.encode() if isinstance(counts, str) else counts})
    decoded = torch.from_numpy(mask_utils.decode(encoded))  # (H, W, T) uint8 0/1 in Fortran order
    out.view(torch.uint8).copy_(decoded.permute(2, 0, 1))  # one transposing pass; 0/1 bytes are valid bools
