"""The shared renderer of every synthetic layout: coloured shapes bouncing over a plain background, and their tones.

Masks are drawn first and frames are painted from them, so the ground truth is exact whatever the JPEG compression
does. Each video's randomness is keyed by its name (:func:`video_rng`), so a video's content does not depend on
which other videos or splits are written.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

COLOURS: dict[str, tuple[int, int, int]] = {
    "red": (220, 40, 40),
    "green": (40, 170, 70),
    "blue": (40, 80, 220),
    "yellow": (230, 200, 40),
    "purple": (150, 60, 190),
}
TONES_HZ: dict[str, float] = {"red": 440.0, "green": 550.0, "blue": 660.0, "yellow": 770.0, "purple": 880.0}
KINDS = ("circle", "square", "triangle")
SAMPLE_RATE = 16000
BACKGROUND = 235  # light grey, far from every colour


@dataclass(frozen=True)
class Shape:
    """One moving shape: drawn at ``start + max(0, t - moves_from) * velocity`` (bouncing off the borders) while
    ``t`` is in ``visible``; it stands still before frame ``moves_from``."""

    kind: str
    colour: str
    radius: float
    start: tuple[float, float]
    velocity: tuple[float, float]
    visible: tuple[int, int]
    moves_from: int = 0

    @property
    def name(self) -> str:
        return f"{self.colour} {self.kind}"

    @property
    def speed(self) -> float:
        return math.hypot(*self.velocity)


@dataclass
class SyntheticVideo:
    """A rendered clip: ``frames`` (T, H, W, 3) uint8 and ``masks`` (O, T, H, W) bool of the visible pixels."""

    video_id: str
    shapes: list[Shape]
    frames: np.ndarray
    masks: np.ndarray


def video_rng(seed: int, video_id: str) -> np.random.Generator:
    """The generator of one video (or picture), keyed by its name so that its content does not depend on which
    other videos or splits are written."""
    return np.random.default_rng([seed, zlib.crc32(video_id.encode())])


def _bounce(position: float, low: float, high: float) -> float:
    span = high - low
    offset = (position - low) % (2 * span)
    return low + (offset if offset <= span else 2 * span - offset)


def position(shape: Shape, t: int, height: int, width: int) -> tuple[float, float]:
    """Centre ``(cy, cx)`` of ``shape`` at frame ``t``: still before ``moves_from``, then bouncing off the borders."""
    moved = max(0, t - shape.moves_from)
    cy = _bounce(shape.start[0] + moved * shape.velocity[0], shape.radius, height - 1 - shape.radius)
    cx = _bounce(shape.start[1] + moved * shape.velocity[1], shape.radius, width - 1 - shape.radius)
    return cy, cx


def _shape_mask(kind: str, cy: float, cx: float, r: float, ys: np.ndarray, xs: np.ndarray) -> np.ndarray:
    if kind == "circle":
        return (ys - cy) ** 2 + (xs - cx) ** 2 <= r**2
    if kind == "square":
        return (np.abs(ys - cy) <= 0.85 * r) & (np.abs(xs - cx) <= 0.85 * r)
    # Upward triangle: apex at (cy - r, cx), base of width 2r at cy + r.
    return (ys >= cy - r) & (ys <= cy + r) & (np.abs(xs - cx) <= (ys - cy + r) / 2)


def render(shapes: Sequence[Shape], num_frames: int, height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """Draw masks (later shapes occlude earlier ones), then paint frames from them.

    Returns:
        ``frames`` (T, H, W, 3) uint8 on a light grey background and ``masks`` (O, T, H, W) bool.
    """
    ys, xs = np.arange(height, dtype=np.float64)[:, None], np.arange(width, dtype=np.float64)[None, :]
    masks = np.zeros((len(shapes), num_frames, height, width), dtype=bool)
    for o, s in enumerate(shapes):
        for t in range(*s.visible):
            masks[o, t] = _shape_mask(s.kind, *position(s, t, height, width), s.radius, ys, xs)
    cover = np.zeros((num_frames, height, width), dtype=bool)
    for o in reversed(range(len(shapes))):  # front to back: keep only the pixels not covered by a later shape
        masks[o] &= ~cover
        cover |= masks[o]
    frames = np.full((num_frames, height, width, 3), BACKGROUND, dtype=np.uint8)
    for o, s in enumerate(shapes):
        frames[masks[o]] = COLOURS[s.colour]
    return frames, masks


def draw_video(
    video_id: str,
    rng: np.random.Generator,
    num_frames: int,
    height: int,
    width: int,
    *,
    speeds: Sequence[float],
    absent: bool,
) -> SyntheticVideo:
    """Sample shapes until every shape stays mostly visible whenever it is on screen, then render them.

    Args:
        video_id: name of the clip.
        rng: the clip's generator (:func:`video_rng`); the draws are part of the seeded content, keep their order.
        num_frames: clip length.
        height: frame height.
        width: frame width.
        speeds: one speed (pixels per frame) per shape; their count is the number of shapes.
        absent: one shape is off screen at the start or the end of the clip.

    Raises:
        RuntimeError: no placement keeps every shape visible enough (frames too small).
    """
    count, size = len(speeds), min(height, width)
    for _ in range(100):
        kinds = rng.permutation(KINDS)[:count]
        colours = rng.permutation(list(COLOURS))[:count]
        windows = [(0, num_frames)] * count
        if absent:
            gap = int(rng.integers(1, max(num_frames // 3, 1) + 1))
            windows[int(rng.integers(count))] = (gap, num_frames) if rng.random() < 0.5 else (0, num_frames - gap)
        shapes = []
        for o in range(count):
            radius = float(rng.uniform(0.14, 0.2) * size)
            angle = float(rng.uniform(0, 2 * math.pi))
            start = (float(rng.uniform(radius, height - 1 - radius)), float(rng.uniform(radius, width - 1 - radius)))
            velocity = (speeds[o] * math.sin(angle), speeds[o] * math.cos(angle))
            shapes.append(Shape(str(kinds[o]), str(colours[o]), radius, start, velocity, windows[o]))
        frames, masks = render(shapes, num_frames, height, width)
        areas = masks.sum(axis=(2, 3))  # (O, T)
        # At least ~half of the smallest shape's area (a triangle's 2r^2) whenever the shape is on screen.
        if all(areas[o, s.visible[0] : s.visible[1]].min() >= s.radius**2 for o, s in enumerate(shapes)):
            return SyntheticVideo(video_id, shapes, frames, masks)
    raise RuntimeError(f"could not place non-occluding shapes for {video_id} at {height}x{width}; use larger frames")


def tone(colour: str, seconds: float) -> np.ndarray:
    """The int16 mono ``SAMPLE_RATE`` pure tone of a colour (``TONES_HZ``): the sound of a sounding shape."""
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    return np.round(0.3 * 32767 * np.sin(2 * math.pi * TONES_HZ[colour] * t)).astype(np.int16)
