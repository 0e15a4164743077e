"""Exact per-frame sums of byte masks, eight pixels per int64 addition.

``uint8.sum(dtype=torch.int64)`` widens every byte before adding, which makes a frame sum of a 480p video cost as
much as a full J&F evaluation. Here each int64 word holds eight bytes: its even and odd bytes are split into four
16-bit lanes each, up to 256 words are added lane by lane (256 · 255 < 2¹⁶, so no lane carries into the next), and
only those partial sums are folded into totals. Integer throughout, so the result equals the widened sum exactly.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

_EVEN_BYTES = 0x00FF00FF00FF00FF
_LOW16, _LOW32 = 0x0000FFFF0000FFFF, 0xFFFFFFFF
_WORDS_PER_SUM = 256  # words added per lane before folding: 256 · 255 = 65280 fits a 16-bit lane
_BLOCK_WORDS = 1 << 16  # words per block of frames on a CPU (0.5 MiB): the temporaries stay in cache


def frame_sums(masks: Tensor) -> Tensor:
    """``masks.sum((1, 2))`` as int64 for ``(T, H, W)`` uint8 or bool masks (other dtypes: a plain sum).

    Args:
        masks: ``(T, H, W)`` values to add per frame.

    Returns:
        ``(T,)`` int64 on ``masks``' device.
    """
    frames = masks.shape[0]
    flat = masks.reshape(frames, -1)
    if flat.dtype == torch.bool:
        flat = flat.view(torch.uint8)
    if flat.dtype != torch.uint8:
        return flat.sum(dim=1, dtype=torch.int64)
    if flat.shape[1] % 8 or not flat.is_contiguous():
        flat = F.pad(flat, (0, -flat.shape[1] % 8)).contiguous()  # zeros add nothing
    words = flat.view(torch.int64)  # (T, n/8): eight bytes each
    total = torch.zeros(frames, dtype=torch.int64, device=masks.device)
    step = max(1, _BLOCK_WORDS // words.shape[1]) if masks.device.type == "cpu" else frames
    for first in range(0, frames, step):  # blocks of frames whose temporaries stay in cache
        total[first : first + step] = _word_sums(words[first : first + step])
    return total


def _word_sums(words: Tensor) -> Tensor:
    """Byte sums of each row of ``(T, m)`` int64 words."""
    frames = words.shape[0]
    full = words.shape[1] // _WORDS_PER_SUM * _WORDS_PER_SUM
    total = torch.zeros(frames, dtype=torch.int64, device=words.device)
    for lanes in (words & _EVEN_BYTES, (words >> 8) & _EVEN_BYTES):  # four 16-bit lanes of bytes each
        partial = torch.cat(
            [
                lanes[:, :full].reshape(frames, -1, _WORDS_PER_SUM).sum(dim=-1),
                lanes[:, full:].sum(dim=-1, keepdim=True),
            ],
            dim=1,
        )  # (T, k) lane sums <= 65280
        partial = (partial & _LOW16) + ((partial >> 16) & _LOW16)  # two 32-bit lanes
        total += ((partial & _LOW32) + ((partial >> 32) & _LOW32)).sum(dim=-1)
    return total
