"""DAVIS J and F on bit-packed masks: 64 pixels per int64 word, every step exact integer arithmetic.

The official F dilates both boundary maps with a disk over the whole frame (``cv2.dilate``), one byte per pixel.
Here each frame row is packed into int64 words (bit ``j`` of word ``k`` is column ``64k + j``), so one tensor
operation handles 64 pixels per element:

- horizontal shifts are bit shifts with a carry from the neighbouring word, vertical shifts are row slices;
- the disk is the union of its horizontal chords, so the dilation is a few doubling steps along the row
  (``[-h, h]`` from ``[-g, g]`` by ORing shifts of ``±(h - g)``) through every chord half-width, each step kept
  as a level, and then one OR of a row-shifted level per disk row;
- pixel counts are SWAR population counts, summed per frame.

Frames are processed in chunks that keep the working set in cache, cut to the box that holds foreground, with
every intermediate written into a preallocated workspace: at this size the cost of an operation is mostly its
memory traffic and allocation.
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
_LANES16, _WORDS16 = 0x00FF00FF00FF00FF, 0x0001000100010001
# w · _GATHER moves bit 0 of byte i (a 0/1 pixel) to bit 56 + i: the top byte packs 8 pixels in column order.
_GATHER = 0x0102040810204080
# Packed words per mask in a chunk, and in a packing step within it. On a CPU they keep the working set in cache
# (~0.5 MiB per workspace slot, 1 MiB of bytes per packing step); a GPU wants fewer, larger kernels.
_CHUNK_WORDS, _PACK_WORDS = 1 << 16, 1 << 14
_GPU_CHUNK_WORDS = 1 << 22


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
    on_cpu = pred.device.type == "cpu"
    chunk = max(1, min(frames, (_CHUNK_WORDS if on_cpu else _GPU_CHUNK_WORDS) // (height * words)))
    pack_frames = max(1, min(chunk, _PACK_WORDS // (height * words))) if on_cpu else chunk
    space = _Workspace(chunk, pack_frames, height, width, words, radius, pred.device)
    counts = torch.zeros(len(FrameCounts._fields), frames, dtype=torch.int64, device=pred.device)
    for first in range(0, frames, chunk):
        last = min(first + chunk, frames)
        space.count(pred[first:last], target[first:last], counts[:, first:last])
    intersection, exclusive, *boundary = counts
    return FrameCounts(intersection, exclusive + intersection, *boundary)


class _Workspace:
    """Preallocated buffers for one chunk of frames; :meth:`count` fills them in place.

    After packing, the work is confined to the chunk's content box (rows and words holding any foreground, plus
    the margins the boundary and dilation rules need) and done in compact buffers of that shape: background far
    from both masks has no boundary and adds nothing to any count.
    """

    def __init__(
        self,
        chunk: int,
        pack_frames: int,
        height: int,
        width: int,
        words: int,
        radius: int | None,
        device: torch.device,
    ) -> None:
        self.width, self.radius, self.pack_frames = width, radius, pack_frames
        # Zeroed once: columns past `width` are only written by the multiply, inside the last partial byte group.
        self.pixels = torch.zeros(2, self.pack_frames, height, words * 64, dtype=torch.bool, device=device)
        self.packed = torch.empty(2, chunk, height, words, dtype=torch.int64, device=device)
        self.last_column = torch.zeros(words, dtype=torch.int64, device=device)
        self.last_column[(width - 1) // 64] = _bit((width - 1) % 64)
        self.half_widths = [math.isqrt(radius * radius - dy * dy) for dy in range(radius + 1)] if radius else [0]
        # Flat storage, viewed at each chunk's box shape so every operation runs on contiguous memory.
        size = chunk * height * words
        counted = 6 if radius is not None else 2  # P ∧ G, P ⊕ G, Bp, Bg, Bp ∧ dil(Bg), Bg ∧ dil(Bp)
        self.storage = {
            name: torch.empty(slots * size, dtype=torch.int64, device=device)
            for name, slots in [("slots", counted), ("scratch", counted), ("masks", 2), ("tmp", 2), ("out", 2)]
        }
        self.storage.update(
            {f"level{h}": torch.empty(2 * size, dtype=torch.int64, device=device) for h in _chain(self.half_widths)}
        )

    def _buffer(self, name: str, *shape: int) -> Tensor:
        return self.storage[name][: math.prod(shape)].view(shape)

    def count(self, pred: Tensor, target: Tensor, counts: Tensor) -> None:
        n = pred.shape[0]
        packed = self.packed[:, :n]
        self._pack(pred, target, packed)
        box = self._content_box(packed)
        if box is None:  # no foreground in the chunk: every count is zero
            counts.zero_()
            return
        rows, cols = box
        shape = (n, rows.stop - rows.start, cols.stop - cols.start)
        counted = 2 if self.radius is None else 6
        slots, scratch = self._buffer("slots", counted, *shape), self._buffer("scratch", counted, *shape)
        masks = self._buffer("masks", 2, *shape)
        masks.copy_(packed[..., rows, cols])
        torch.bitwise_and(masks[0], masks[1], out=slots[0])
        torch.bitwise_xor(masks[0], masks[1], out=slots[1])
        if self.radius is not None:
            tmp, out, bounds = self._buffer("tmp", 2, *shape), self._buffer("out", 2, *shape), slots[2:4]
            _boundary(masks, self.last_column[cols], bounds, tmp)
            self._dilate(bounds, out, tmp)
            torch.bitwise_and(bounds[0], out[1], out=slots[4])
            torch.bitwise_and(bounds[1], out[0], out=slots[5])
        counts[:counted] = _popcount_frames(slots, scratch)

    def _pack(self, pred: Tensor, target: Tensor, packed: Tensor) -> None:
        """Binarise (copying into a bool buffer is ``!= 0``) and pack 8 pixels per byte, 64 per word."""
        width, step = self.width, self.pack_frames
        for first in range(0, pred.shape[0], step):
            n = min(step, pred.shape[0] - first)
            pixels = self.pixels[:, :n]
            pixels[0, ..., :width].copy_(pred[first : first + n])
            pixels[1, ..., :width].copy_(target[first : first + n])
            if width % 8:  # the multiply below left products in the padding bytes of the last group
                pixels[..., width : width - width % 8 + 8].zero_()
            words = pixels.view(torch.int64)  # (2, n, H, words * 8): 8 pixels each
            words *= _GATHER
            packed[:, first : first + n].view(torch.uint8).copy_(words.view(torch.uint8)[..., 7::8])

    def _content_box(self, packed: Tensor) -> tuple[slice, slice] | None:
        """Rows and words to work on: the foreground's box over the chunk, grown by what the rules reach.

        One row above and one word to the left hold boundary pixels of the background next to the foreground;
        one row below makes the box's last row background (whose boundary then needs no south neighbour) unless it
        is the image's. The dilation's doubling steps read up to ``radius`` columns past any boundary pixel, so
        ``ceil(radius / 64)`` more words go on each side.
        """
        height, words = packed.shape[-2:]
        union = torch.bitwise_or(packed[0], packed[1], out=self._buffer("tmp", *packed.shape[1:]))
        occupied = union.ne(0).any(dim=0)  # (H, words)
        rows, cols = occupied.any(dim=1).nonzero(), occupied.any(dim=0).nonzero()
        if rows.numel() == 0:
            return None
        top, bottom, left, right = torch.cat([rows[[0, -1]], cols[[0, -1]]]).flatten().tolist()
        if self.radius is None:
            return slice(top, bottom + 1), slice(left, right + 1)
        reach = -(-self.radius // 64)
        return (
            slice(max(top - 1, 0), min(bottom + 2, height)),
            slice(max(left - 1 - reach, 0), min(right + 1 + reach, words)),
        )

    def _dilate(self, bounds: Tensor, out: Tensor, scratch: Tensor) -> None:
        """Disk dilation of both boundary maps into ``out``: horizontal chord levels, then one OR per disk row."""
        height = bounds.shape[2]
        level, reach = bounds, 0
        for half in sorted(set(self.half_widths)):
            while reach < half:
                step = min(half - reach, 2 * reach + 1)  # [-reach, reach] + {-step, 0, step} is still an interval
                # Each step writes a fresh buffer, so the levels the disk rows need stay as they are.
                wider = self._buffer(f"level{reach + step}", *bounds.shape)
                _dilate_row_step(level, step, wider, scratch)
                level, reach = wider, reach + step
        out.copy_(self._level(bounds, 0))
        for dy in range(1, min(self.radius, height - 1) + 1):
            chord = self._level(bounds, dy)
            out[:, :, dy:] |= chord[:, :, :-dy]
            out[:, :, :-dy] |= chord[:, :, dy:]

    def _level(self, bounds: Tensor, dy: int) -> Tensor:
        half = self.half_widths[dy]
        return bounds if half == 0 else self._buffer(f"level{half}", *bounds.shape)


def _chain(half_widths: list[int]) -> list[int]:
    """Every reach the horizontal doubling steps pass through on the way to the disk's chord half-widths."""
    reaches, reach = [], 0
    for half in sorted(set(half_widths)):
        while reach < half:
            reach += min(half - reach, 2 * reach + 1)
            reaches.append(reach)
    return reaches


def _dilate_row_step(x: Tensor, step: int, out: Tensor, scratch: Tensor) -> None:
    """``out`` = ``x`` OR ``x`` moved ``step`` columns right OR ``x`` moved ``step`` columns left, along packed rows.

    ``x`` must be a dilation by ``[-a, a]`` with ``step <= 2a + 1`` (the doubling steps), which lets the in-word part
    of the left move skip clearing the sign bit's copies: they land on the top ``step`` bits only when bit 63 is
    set, and every column within ``step`` of a set column is set in the exact result anyway.
    """
    if step >= 64:
        out.copy_(x)
        _or_shifted(out, x, step, toward_higher=True, scratch=scratch)
        _or_shifted(out, x, step, toward_higher=False, scratch=scratch)
        return
    torch.bitwise_left_shift(x, step, out=out)
    out |= x
    torch.bitwise_right_shift(x, step, out=scratch)  # arithmetic: see above
    out |= scratch
    carry = scratch[..., 1:]  # top bits of the word to the left, into the bottom of this one
    torch.bitwise_right_shift(x[..., :-1], 64 - step, out=carry)
    carry &= _low_bits(step)
    out[..., 1:] |= carry
    carry = scratch[..., :-1]  # bottom bits of the word to the right, into the top of this one
    torch.bitwise_left_shift(x[..., 1:], 64 - step, out=carry)
    out[..., :-1] |= carry


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
    if x.shape[-1] <= 31:  # add a row's words lane by lane (<= 248 a byte), then fold its 8 lanes on 1/n the data
        rows = x.sum(-1)
        rows = (rows & _LANES16) + ((rows >> 8) & _LANES16)  # four 16-bit lanes
        return ((rows * _WORDS16) >> 48).sum(-1)  # the top lane collects the four (<= 1984)
    x *= _BYTES  # the top byte collects the word's eight (<= 64); the wrapped-off high product bits are unused
    x >>= 56
    return x.flatten(2).sum(-1)
