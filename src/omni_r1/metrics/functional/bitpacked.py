"""DAVIS J and F on bit-packed masks: 64 pixels per int64 word, every step exact integer arithmetic.

The official F dilates both boundary maps with a disk over the whole frame (``cv2.dilate``), one byte per pixel.
Here each frame row is packed into int64 words (bit ``j`` of word ``k`` is column ``64k + j``), so one tensor
operation handles 64 pixels per element:

- horizontal shifts are bit shifts with a carry from the neighbouring word, vertical shifts are row slices;
- the disk is the union of its horizontal chords, so the dilation is a few doubling steps along the row
  (``[-h, h]`` from ``[-g, g]`` by ORing shifts of ``±(h - g)``), one stored level per distinct chord half-width,
  and then one OR of a row-shifted level per disk row;
- pixel counts are SWAR population counts, summed per frame.

Frames are processed in chunks that keep the working set in cache, with every intermediate written into a
preallocated workspace: at this size the cost of an operation is mostly its memory traffic and allocation.
Rows carry at least ``radius`` spare bits past the last column, so a dilation never spills into the next row and
the spare bits (always zero in the masks and their boundaries) never count.
"""

from __future__ import annotations

import math
import sys
from typing import NamedTuple

import torch
from torch import Tensor

_M1, _M2, _M4, _BYTES = 0x5555555555555555, 0x3333333333333333, 0x0F0F0F0F0F0F0F0F, 0x0101010101010101
# w · _GATHER moves bit 0 of byte i (a 0/1 pixel) to bit 56 + i: the top byte packs 8 pixels in column order.
_GATHER = 0x0102040810204080
_CHUNK_WORDS = 1 << 16  # packed words per mask and chunk: ~0.5 MiB per workspace slot stays in cache


class FrameCounts(NamedTuple):
    """Per-frame pixel counts J and F are ratios of, each ``(T,)`` int64."""

    intersection: Tensor  # |P ∧ G|
    union: Tensor  # |P ∨ G|, counted as |P ⊕ G| + |P ∧ G|
    pred_boundary: Tensor  # |Bp|, B = the official ``_seg2bmap`` boundary
    target_boundary: Tensor  # |Bg|
    pred_matched: Tensor  # |Bp ∧ dil(Bg)|, dil = zero-padded dilation by the disk dx² + dy² <= r²
    target_matched: Tensor  # |Bg ∧ dil(Bp)|


def _low_bits(n: int) -> int:
    """int64 with the ``n`` lowest bits set (``n`` in 0..64), as a signed value torch accepts."""
    value = (1 << n) - 1
    return value - (1 << 64) if value >= 1 << 63 else value


def _bit(j: int) -> int:
    return _low_bits(j + 1) ^ _low_bits(j)


def frame_counts(pred: Tensor, target: Tensor, radius: int | None) -> FrameCounts:
    """Count, per frame, the pixels the DAVIS J and F ratios are made of.

    Args:
        pred: ``(T, H, W)`` predicted masks of any dtype; any non-zero value is foreground.
        target: ``(T, H, W)`` ground truth on the same device.
        radius: boundary tolerance r in pixels, or ``None`` to count only what J needs (the boundary counts are
            then zeros).

    Returns:
        :class:`FrameCounts` of ``(T,)`` int64 tensors on ``pred``'s device.
    """
    if sys.byteorder != "little":  # pragma: no cover - every supported platform is little-endian
        raise RuntimeError("bit-packed DAVIS metrics assume a little-endian host")
    frames, height, width = pred.shape
    words = -(-(width + (radius or 0)) // 64)
    chunk = max(1, min(frames, _CHUNK_WORDS // (height * words)))
    space = _Workspace(chunk, height, width, words, radius, pred.device)
    counts = torch.zeros(len(FrameCounts._fields), frames, dtype=torch.int64, device=pred.device)
    for first in range(0, frames, chunk):
        last = min(first + chunk, frames)
        space.count(pred[first:last], target[first:last], counts[:, first:last])
    intersection, exclusive, *boundary = counts
    return FrameCounts(intersection, exclusive + intersection, *boundary)


class _Workspace:
    """Preallocated buffers for one chunk of frames; :meth:`count` fills them in place."""

    def __init__(
        self, chunk: int, height: int, width: int, words: int, radius: int | None, device: torch.device
    ) -> None:
        self.width, self.radius = width, radius
        new = dict(dtype=torch.int64, device=device)
        shape = (chunk, height, words)
        # Zeroed once: columns past `width` are never written, so they stay background in every chunk.
        self.pixels = torch.zeros(2, chunk, height, words * 64, dtype=torch.bool, device=device)
        self.product = torch.empty(2, chunk, height, words * 8, **new)
        self.masks = torch.empty(2, *shape, **new)
        # Counted slots: P ∧ G, P ⊕ G, Bp, Bg, Bp ∧ dil(Bg), Bg ∧ dil(Bp).
        self.slots = torch.empty(6 if radius is not None else 2, *shape, **new)
        self.scratch = torch.empty_like(self.slots)
        if radius is None:
            return
        self.tmp = torch.empty(2, *shape, **new)
        self.out = torch.empty(2, *shape, **new)
        self.last_column = torch.zeros(words, **new)
        self.last_column[(width - 1) // 64] = _bit((width - 1) % 64)
        self.half_widths = [math.isqrt(radius * radius - dy * dy) for dy in range(radius + 1)]
        self.levels = {h: torch.empty(2, *shape, **new) for h in set(self.half_widths)}

    def count(self, pred: Tensor, target: Tensor, counts: Tensor) -> None:
        n = pred.shape[0]
        masks, slots = self.masks[:, :n], self.slots[:, :n]
        self._pack(pred, target, masks)
        torch.bitwise_and(masks[0], masks[1], out=slots[0])
        torch.bitwise_xor(masks[0], masks[1], out=slots[1])
        if self.radius is not None:
            tmp, out, bounds = self.tmp[:, :n], self.out[:, :n], slots[2:4]
            _boundary(masks, self.last_column, bounds, tmp)
            self._dilate(bounds, out, tmp)
            torch.bitwise_and(bounds[0], out[1], out=slots[4])
            torch.bitwise_and(bounds[1], out[0], out=slots[5])
        counts[: len(slots)] = _popcount_frames(slots, self.scratch[:, :n])

    def _pack(self, pred: Tensor, target: Tensor, masks: Tensor) -> None:
        """Binarise (copying into a bool buffer is ``!= 0``) and pack 8 pixels per byte, 64 per word."""
        n = pred.shape[0]
        pixels, product = self.pixels[:, :n], self.product[:, :n]
        pixels[0, ..., : self.width].copy_(pred)
        pixels[1, ..., : self.width].copy_(target)
        torch.mul(pixels.view(torch.int64), _GATHER, out=product)  # (2, n, H, words * 8): 8 pixels each
        masks.view(torch.uint8).copy_(product.view(torch.uint8)[..., 7::8])  # top bytes, little-endian order

    def _dilate(self, bounds: Tensor, out: Tensor, tmp: Tensor) -> None:
        """Disk dilation of both boundary maps into ``out``: horizontal chord levels, then one OR per disk row."""
        n, height = bounds.shape[1], bounds.shape[2]
        level, reach = bounds, 0
        for half in sorted(self.levels):
            stored = self.levels[half][:, :n]
            stored.copy_(level)
            while reach < half:
                step = min(half - reach, 2 * reach + 1)  # [-reach, reach] + {-step, 0, step} is still an interval
                tmp.copy_(stored)
                _or_shifted(stored, tmp, step, toward_higher=True, scratch=out)
                _or_shifted(stored, tmp, step, toward_higher=False, scratch=out)
                reach += step
            level = stored
        out.copy_(self.levels[self.half_widths[0]][:, :n])
        for dy in range(1, min(self.radius, height - 1) + 1):
            chord = self.levels[self.half_widths[dy]][:, :n]
            out[:, :, dy:] |= chord[:, :, :-dy]
            out[:, :, :-dy] |= chord[:, :, dy:]


def _boundary(masks: Tensor, last_column: Tensor, bounds: Tensor, east: Tensor) -> None:
    """The official ``_seg2bmap`` of packed masks: a pixel differs from its east, south or south-east neighbour.

    The last row compares only east, the last column only south: that is the 2×2 rule with the image edge
    replicated, which is what ``east`` gets at the last column (its own value) and the last row gets from itself.
    """
    _shift(masks, 1, toward_higher=False, out=east, scratch=bounds)
    east |= masks & last_column
    torch.bitwise_xor(masks, east, out=bounds)  # east change; the whole answer on the last row
    rows = bounds[:, :, :-1]
    rows |= masks[:, :, :-1] ^ masks[:, :, 1:]  # south change
    rows |= masks[:, :, :-1] ^ east[:, :, 1:]  # south-east change


def _shift(x: Tensor, step: int, toward_higher: bool, out: Tensor, scratch: Tensor) -> None:
    """``out`` = the packed rows of ``x`` moved ``step`` columns right (``toward_higher``) or left, zero-filled."""
    out.zero_()
    _or_shifted(out, x, step, toward_higher, scratch)


def _or_shifted(acc: Tensor, x: Tensor, step: int, toward_higher: bool, scratch: Tensor) -> None:
    """``acc |= x`` moved ``step`` columns along its rows (bits past the row's last word are dropped)."""
    n = x.shape[-1]
    q, b = divmod(step, 64)
    if q >= n:
        return
    if toward_higher:  # column c receives column c - step
        src, dst = x[..., : n - q], acc[..., q:]
        if b == 0:
            dst |= src
            return
        buf = scratch[..., q:]
        torch.bitwise_left_shift(src, b, out=buf)
        dst |= buf
        if q + 1 < n:  # the top b bits of the word below carry into the bottom of this one
            carry = scratch[..., q + 1 :]
            torch.bitwise_right_shift(x[..., : n - q - 1], 64 - b, out=carry)
            carry &= _low_bits(b)
            acc[..., q + 1 :] |= carry
    else:  # column c receives column c + step
        src, dst = x[..., q:], acc[..., : n - q]
        if b == 0:
            dst |= src
            return
        buf = scratch[..., : n - q]
        torch.bitwise_right_shift(src, b, out=buf)
        buf &= _low_bits(64 - b)  # arithmetic shift: clear the copies of the sign bit
        dst |= buf
        if q + 1 < n:
            carry = scratch[..., : n - q - 1]
            torch.bitwise_left_shift(x[..., q + 1 :], 64 - b, out=carry)
            acc[..., : n - q - 1] |= carry


def _popcount_frames(x: Tensor, scratch: Tensor) -> Tensor:
    """Set bits per frame of ``(S, T, H, n)`` words as ``(S, T)`` int64; a SWAR population count, in place."""
    torch.bitwise_right_shift(x, 1, out=scratch)
    scratch &= _M1
    x -= scratch  # 2-bit counts
    torch.bitwise_right_shift(x, 2, out=scratch)
    scratch &= _M2
    x &= _M2
    x += scratch  # 4-bit counts
    torch.bitwise_right_shift(x, 4, out=scratch)
    x += scratch
    x &= _M4  # byte counts (<= 8)
    x *= _BYTES  # the top byte collects the word's count (<= 64); the wrapped-off high product bits are unused
    x >>= 56
    return x.flatten(2).sum(-1)
