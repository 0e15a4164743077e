"""Reading prediction (and RefAVS ground-truth) PNGs the way the official scripts read them.

The official scripts read masks with OpenCV as 8-bit grey values (``cv2.IMREAD_GRAYSCALE``, or colour then
``COLOR_BGR2GRAY``): a 0/255 PNG gives 0/255, which matters for ReVOS robustness (false positives weigh the grey
value) and for RefAVS (the value divided by 255 is the probability). Greyscale and 1-bit PNGs are read exactly;
colour and palette PNGs are converted with Pillow's luma weights, which can differ from OpenCV's by one grey level
(no effect on J and F, where any non-zero value is foreground); 16-bit PNGs keep their high byte, as OpenCV does.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError
from torch import Tensor

from omni_r1.data.layout import DatasetFormatError


def read_grey_png(path: str | Path) -> Tensor:
    """One PNG as ``(H, W)`` uint8 grey values.

    Raises:
        FileNotFoundError: the file does not exist.
        DatasetFormatError: the file cannot be decoded.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"mask not found: {path}")
    try:
        with Image.open(path) as image:
            image.load()
            if image.mode in ("I;16", "I;16B", "I;16L", "I"):
                array = (np.asarray(image, dtype=np.int64) >> 8).clip(0, 255).astype(np.uint8)
            else:
                array = np.asarray(image if image.mode == "L" else image.convert("L"))
    except (OSError, UnidentifiedImageError, ValueError) as err:
        raise DatasetFormatError(path, f"cannot decode mask image ({err})") from err
    return torch.from_numpy(np.array(array, dtype=np.uint8))  # a writable copy


def read_sequence(folder: Path, names: Sequence[str], size: tuple[int, int] | None = None) -> Tensor | None:
    """The ``<folder>/<name>.png`` masks of one expression as ``(T, H, W)`` uint8, or ``None`` if any is missing.

    A missing file makes the whole expression a missing prediction (scored 0), as in the official scripts.

    Args:
        folder: the expression's prediction folder.
        names: file stems in frame order.
        size: required ``(H, W)``; ``None`` takes the first mask's size.

    Raises:
        DatasetFormatError: a mask cannot be decoded or has another size than required.
    """
    paths = [folder / f"{name}.png" for name in names]
    if not all(path.is_file() for path in paths):
        return None
    masks = []
    for path in paths:
        mask = read_grey_png(path)
        wanted = size or (masks[0].shape if masks else mask.shape)
        if tuple(mask.shape) != tuple(wanted):
            raise DatasetFormatError(
                path, f"prediction size {tuple(mask.shape)} differs from the frame size {tuple(wanted)} (H, W)"
            )
        masks.append(mask)
    return torch.stack(masks)
