"""The sounding-shapes task: a world in which a query needs the frames, the audio and the Detail system.

Three shapes of distinct colour and kind move over a plain background. Each starts moving at its own frame and
may be on screen in only part of the clip. Each object has its own sound, a tone set by its colour
(:data:`~omni_r1.data.synthetic.render.TONES_HZ`) beating at a rhythm set by its kind (:data:`RHYTHM_HZ`), and it
sounds only in some seconds. Queries come in four types:

- ``referring``: the object by its looks ("the red circle");
- ``temporal``: by when it moves or is seen ("the shape that starts moving last", "the shape that appears late"):
  the answer needs the right frames;
- ``audio``: by its sound ("the object making the highest sound", "the first object to make a sound"): the
  answer needs the audio;
- ``null``: an object the clip does not hold ("the green square" where the green shape is a circle).

Clips come in two forms, one per official layout they are written in (:mod:`~omni_r1.data.synthetic.sounding_layouts`):
video clips (ReVOS layout, no audio track: referring and temporal queries) and audio-visual clips (RefAVS layout:
every object on screen at frame 0, the first frame and the audio are what S1 gets: audio and null queries).

Held-out clips hold colour/kind pairs, hence sounds, that training clips never show (:data:`HELD_OUT_PAIRS`): a
policy that memorised "the red one is the circle" fails there. Shapes never touch, so a colour and a shape word
pick out exactly one object (:func:`find_shapes`, which the weight-free grounder of the Detail system uses).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from omni_r1.data.synthetic.render import (
    COLOURS,
    KINDS,
    SAMPLE_RATE,
    TONES_HZ,
    Shape,
    SyntheticVideo,
    render,
)

FRAMES = 10  # RefAVS clips hold 10 frames at 1 fps; the video clips use the same length
HEIGHT, WIDTH = 64, 96
SECONDS = 10  # one frame per second: a frame index is a second of audio
RHYTHM_HZ: dict[str, float] = {"circle": 0.0, "square": 2.0, "triangle": 4.0}  # 0: a steady tone
# One (colour, kind) pair per colour never appears in training clips; held-out clips hold at least one of them.
HELD_OUT_PAIRS: frozenset[tuple[str, str]] = frozenset(
    (colour, kind) for c, colour in enumerate(COLOURS) for k, kind in enumerate(KINDS) if (c + k) % 3 == 0
)
QueryType = Literal["referring", "temporal", "audio", "null"]
QUERY_TYPES: tuple[str, ...] = ("referring", "temporal", "audio", "null")
ClipForm = Literal["video", "audio_visual"]

# A pixel belongs to a palette colour when it lies this close to it (RGB distance): JPEG noise stays well inside,
# the other palette colours and the background well outside.
COLOUR_TOLERANCE = 80.0
MIN_SHAPE_PIXELS = 12


@dataclass(frozen=True)
class SoundingObject:
    """One object of a clip: its shape (looks, motion, visibility) and the seconds ``[start, end)`` it sounds in
    (``None``: silent)."""

    shape: Shape
    sounding: tuple[int, int] | None

    @property
    def name(self) -> str:
        """``"red circle"``: the words a correct single-image description uses."""
        return self.shape.name


@dataclass(frozen=True)
class Query:
    """One query of a clip: its text, type and target objects (indices into the clip's objects; none for null)."""

    text: str
    type: QueryType
    targets: tuple[int, ...]


@dataclass
class SoundingClip:
    """A rendered clip with its objects, its audio (int16 mono, ``SECONDS`` long; silence for video clips) and
    its queries."""

    video: SyntheticVideo
    objects: list[SoundingObject]
    audio: np.ndarray
    queries: list[Query] = field(default_factory=list)
    form: ClipForm = "video"


# ---------------------------------------------------------------------------------------------- sound
def object_sound(obj: SoundingObject, seconds: int = SECONDS) -> np.ndarray:
    """float64 waveform of one object: its colour's tone, gated at its kind's rhythm, in its sounding seconds."""
    t = np.arange(seconds * SAMPLE_RATE) / SAMPLE_RATE
    if obj.sounding is None:
        return np.zeros_like(t)
    start, end = obj.sounding
    wave = np.sin(2 * math.pi * TONES_HZ[obj.shape.colour] * t)
    rate = RHYTHM_HZ[obj.shape.kind]
    gate = np.ones_like(t) if rate == 0 else (np.floor(t * 2 * rate) % 2 == 0).astype(np.float64)
    return wave * gate * ((t >= start) & (t < end))


def mix(objects: Sequence[SoundingObject], seconds: int = SECONDS) -> np.ndarray:
    """int16 mono ``SAMPLE_RATE`` audio of the clip: the objects' sounds added, never clipping."""
    total = sum((object_sound(obj, seconds) for obj in objects), np.zeros(seconds * SAMPLE_RATE))
    return np.round(0.3 * 32767 * total / max(1, len(objects))).astype(np.int16)


# ---------------------------------------------------------------------------------------------- looks
def colour_map(image: np.ndarray, tolerance: float = COLOUR_TOLERANCE) -> dict[str, np.ndarray]:
    """Per palette colour, the ``(H, W)`` bool pixels of an ``(H, W, 3)`` uint8 image within ``tolerance``."""
    pixels = image.astype(np.float64)
    return {
        name: np.linalg.norm(pixels - np.array(rgb, dtype=np.float64), axis=-1) <= tolerance
        for name, rgb in COLOURS.items()
    }


def shape_kind(mask: np.ndarray) -> str:
    """The kind (``circle``, ``square``, ``triangle``) of one shape's ``(H, W)`` bool mask: the ideal shape drawn
    in its bounding box that overlaps it best (robust to the soft edges JPEG gives small shapes)."""
    ys, xs = np.nonzero(mask)
    if ys.size == 0:
        raise ValueError("shape_kind: empty mask")
    region = mask[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]
    height, width = region.shape
    # Pixel centres in units of the box: u across, v down, both in [-1, 1].
    v = (np.arange(height) + 0.5) / height * 2 - 1
    u = (np.arange(width) + 0.5) / width * 2 - 1
    v, u = v[:, None], u[None, :]
    ideal = {
        "circle": u**2 + v**2 <= 1,
        "square": np.ones((height, width), dtype=bool),
        "triangle": np.abs(u) <= (v + 1) / 2,  # apex at the top centre, base along the bottom
    }

    def iou(template: np.ndarray) -> float:
        return float((template & region).sum() / (template | region).sum())

    return max(KINDS, key=lambda kind: iou(ideal[kind]))


def find_shapes(
    image: np.ndarray,
    colour: str | None = None,
    kind: str | None = None,
    *,
    tolerance: float = COLOUR_TOLERANCE,
    min_pixels: int = MIN_SHAPE_PIXELS,
) -> list[np.ndarray]:
    """The ``(H, W)`` bool masks of the shapes of ``colour`` and ``kind`` (``None``: any) in an image.

    A shape is a connected region of one palette colour (within ``tolerance``) of at least ``min_pixels`` pixels;
    its kind is read off its mask (:func:`shape_kind`). Needs neither ground truth nor weights.
    """
    from scipy import ndimage  # deferred: only grounding and tests need it

    colours = colour_map(image, tolerance)
    found = []
    for name in [colour] if colour is not None else list(COLOURS):
        if name not in colours:
            continue
        labels, count = ndimage.label(colours[name], structure=np.ones((3, 3), dtype=bool))
        for index in range(1, count + 1):
            region = labels == index
            if region.sum() >= min_pixels and (kind is None or shape_kind(region) == kind):
                found.append(region)
    return found


def describe(image: np.ndarray, mask: np.ndarray) -> str:
    """``"the red circle"``: a single-image description of the object under ``mask`` (its colour and kind read
    off the pixels), the rewrite a reference answer gives."""
    if not mask.any():
        raise ValueError("describe: the object is not visible in this image")
    colours = colour_map(image)
    colour = max(colours, key=lambda name: int((colours[name] & mask).sum()))
    return f"the {colour} {shape_kind(mask)}"


# ---------------------------------------------------------------------------------------------- clips
def _pairs(rng: np.random.Generator, held_out: bool) -> list[tuple[str, str]]:
    """(colour, kind) of three objects: distinct colours and kinds; held-out clips hold a held-out pair, training
    clips none."""
    while True:
        kinds = [str(k) for k in rng.permutation(KINDS)]
        colours = [str(c) for c in rng.permutation(list(COLOURS))[:3]]
        pairs = list(zip(colours, kinds))
        unseen = sum(pair in HELD_OUT_PAIRS for pair in pairs)
        if (unseen >= 1) if held_out else (unseen == 0):
            return pairs


def _windows(rng: np.random.Generator, form: ClipForm) -> list[tuple[int, int]]:
    """Visibility per object: video clips have one object entering late and one leaving early; audio-visual clips
    show every object at frame 0 and have one leave early."""
    gap = [int(g) for g in rng.integers(3, 5, size=2)]
    windows = [(0, FRAMES), (0, FRAMES - gap[1]), (gap[0], FRAMES) if form == "video" else (0, FRAMES)]
    return [windows[i] for i in rng.permutation(3)]


def _motion_starts(rng: np.random.Generator, windows: list[tuple[int, int]]) -> list[int] | None:
    """Distinct frames at which the objects start moving, at least 2 apart, each while the object is seen and
    early enough to be seen moving for 3 frames."""
    for _ in range(50):
        starts = [int(rng.integers(a, b - 2)) for a, b in windows]
        if all(abs(x - y) >= 2 for i, x in enumerate(starts) for y in starts[i + 1 :]):
            return starts
    return None


def _sounding(rng: np.random.Generator, windows: list[tuple[int, int]]) -> list[tuple[int, int] | None]:
    """Seconds each object sounds in: two or three objects sound, with onsets at least 2 s apart, while on screen;
    the others are silent."""
    while True:
        count = int(rng.integers(2, 4))
        sounding = set(rng.permutation(3)[:count].tolist())
        out: list[tuple[int, int] | None] = []
        for o, (a, b) in enumerate(windows):
            if o not in sounding:
                out.append(None)
                continue
            onset = int(rng.integers(a, b - 1))
            out.append((onset, min(b, onset + int(rng.integers(2, 5)))))
        onsets = [w[0] for w in out if w is not None]
        if all(abs(x - y) >= 2 for i, x in enumerate(onsets) for y in onsets[i + 1 :]):
            return out


def _no_contact(shapes: list[Shape]) -> bool:
    """Whether no two shapes touch (8-neighbourhood) in any frame: each then stays one whole region."""
    from scipy import ndimage

    solo = [render([s], FRAMES, HEIGHT, WIDTH)[1][0] for s in shapes]  # (T, H, W) each, unoccluded
    grown = [ndimage.binary_dilation(m, structure=np.ones((1, 3, 3), dtype=bool)) for m in solo]
    return not any((grown[i] & solo[j]).any() for i in range(len(shapes)) for j in range(len(shapes)) if i != j)


def draw_clip(video_id: str, rng: np.random.Generator, form: ClipForm, held_out: bool) -> SoundingClip:
    """Sample three non-touching objects (looks, motion, visibility, sound) and render their clip.

    Args:
        video_id: name of the clip.
        rng: the clip's generator (:func:`~omni_r1.data.synthetic.render.video_rng`).
        form: ``"video"`` (ReVOS layout: no audio) or ``"audio_visual"`` (RefAVS layout).
        held_out: draw from the held-out colour/kind pairs (see :data:`HELD_OUT_PAIRS`).

    Raises:
        RuntimeError: no placement was found (it takes a handful of tries at the default size).
    """
    size = min(HEIGHT, WIDTH)
    for _ in range(200):
        pairs, windows = _pairs(rng, held_out), _windows(rng, form)
        starts = _motion_starts(rng, windows)
        if starts is None:
            continue
        shapes = []
        for (colour, kind), window, moves_from in zip(pairs, windows, starts):
            radius = float(rng.uniform(0.13, 0.17) * size)
            angle = float(rng.uniform(0, 2 * math.pi))
            speed = float(rng.uniform(1.5, 2.5))  # pixels per frame: slow enough for a box to stay on the shape
            start = (float(rng.uniform(radius, HEIGHT - 1 - radius)), float(rng.uniform(radius, WIDTH - 1 - radius)))
            velocity = (speed * math.sin(angle), speed * math.cos(angle))
            shapes.append(Shape(kind, colour, radius, start, velocity, window, moves_from))
        if not _no_contact(shapes):
            continue
        sounds = _sounding(rng, windows) if form == "audio_visual" else [None] * 3
        objects = [SoundingObject(s, w) for s, w in zip(shapes, sounds)]
        frames, masks = render(shapes, FRAMES, HEIGHT, WIDTH)
        audio = mix(objects) if form == "audio_visual" else np.zeros(SECONDS * SAMPLE_RATE, dtype=np.int16)
        clip = SoundingClip(SyntheticVideo(video_id, shapes, frames, masks), objects, audio, form=form)
        clip.queries = video_queries(objects) if form == "video" else audio_queries(objects)
        return clip
    raise RuntimeError(f"could not place three non-touching shapes for {video_id} at {HEIGHT}x{WIDTH}")


# ---------------------------------------------------------------------------------------------- queries
def video_queries(objects: Sequence[SoundingObject]) -> list[Query]:
    """Referring queries (one per object) and temporal ones (first / last to start moving, appears late, leaves
    early) of a video clip; each has exactly one target."""
    queries = [Query(f"the {obj.name}", "referring", (o,)) for o, obj in enumerate(objects)]
    order = sorted(range(len(objects)), key=lambda o: objects[o].shape.moves_from)
    queries.append(Query("the shape that starts moving first", "temporal", (order[0],)))
    queries.append(Query("the shape that starts moving last", "temporal", (order[-1],)))
    for o, obj in enumerate(objects):
        first, last = obj.shape.visible
        if first > 0:
            queries.append(Query("the shape that appears late", "temporal", (o,)))
        elif last < FRAMES:
            queries.append(Query("the shape that leaves early", "temporal", (o,)))
    return queries


def audio_queries(objects: Sequence[SoundingObject]) -> list[Query]:
    """Audio queries of an audio-visual clip: the first and the last object to make a sound, the highest and the
    lowest sound, and the silent object when there is one; each has exactly one target."""
    heard = [o for o, obj in enumerate(objects) if obj.sounding is not None]
    by_onset = sorted(heard, key=lambda o: objects[o].sounding[0])  # type: ignore[index]
    by_pitch = sorted(heard, key=lambda o: TONES_HZ[objects[o].shape.colour])
    queries = [
        Query("the first object to make a sound", "audio", (by_onset[0],)),
        Query("the last object to make a sound", "audio", (by_onset[-1],)),
        Query("the object making the highest sound", "audio", (by_pitch[-1],)),
        Query("the object making the lowest sound", "audio", (by_pitch[0],)),
    ]
    silent = [o for o in range(len(objects)) if o not in heard]
    if len(silent) == 1:
        queries.append(Query("the silent object", "audio", (silent[0],)))
    return queries


def null_queries(objects: Sequence[SoundingObject], rng: np.random.Generator) -> list[Query]:
    """Two queries for objects the clip does not hold: a colour it lacks, and a colour it has on another kind."""
    present = {obj.shape.colour for obj in objects}
    absent = [c for c in COLOURS if c not in present]
    colour = absent[int(rng.integers(len(absent)))]
    other = objects[int(rng.integers(len(objects)))].shape
    wrong_kind = next(k for k in rng.permutation(KINDS) if k != other.kind)
    return [
        Query(f"the {colour} {KINDS[int(rng.integers(len(KINDS)))]}", "null", ()),
        Query(f"the {other.colour} {wrong_kind}", "null", ()),
    ]
