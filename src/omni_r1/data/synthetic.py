"""Tiny datasets written in the official RefAVS and ReVOS layouts, for demos and tests without downloads.

Videos show 2-3 coloured shapes (circle, square, triangle) bouncing over a plain background. Masks are drawn first
and frames are painted from them, so the ground truth is exact whatever the JPEG compression does. RefAVS clips
carry a pure tone per sounding shape (one frequency per colour), so solving an expression needs the audio; ReVOS
expressions are either referring ("the blue square") or reasoning about motion ("the object that moves
fastest"), some with two targets, and some objects are absent from part of the video.

``build_*`` return the content in memory (what tests compare against); ``write_*`` put it on disk;
:func:`ensure_synthetic` writes a root once and redoes a half-written one.
"""

from __future__ import annotations

import csv
import json
import math
import shutil
import wave
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from inspect import signature
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image
from pycocotools import mask as mask_utils

COLOURS: dict[str, tuple[int, int, int]] = {
    "red": (220, 40, 40),
    "green": (40, 170, 70),
    "blue": (40, 80, 220),
    "yellow": (230, 200, 40),
    "purple": (150, 60, 190),
}
TONES_HZ: dict[str, float] = {"red": 440.0, "green": 550.0, "blue": 660.0, "yellow": 770.0, "purple": 880.0}
KINDS = ("circle", "square", "triangle")
REFAVS_SPLITS = ("train", "val", "test_s", "test_u", "test_n")
REFAVS_COLUMNS = ("vid", "uid", "split", "fid", "exp")
REFAVS_FRAMES = 10
REFAVS_NULL_SPLIT = "test_n"
SAMPLE_RATE = 16000
MARKER = ".omni_r1_synthetic.json"


@dataclass(frozen=True)
class Shape:
    """One moving shape: drawn at ``start + t * velocity`` (bouncing off the borders) while ``t`` is in ``visible``."""

    kind: str
    colour: str
    radius: float
    start: tuple[float, float]
    velocity: tuple[float, float]
    visible: tuple[int, int]

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


def _rng(seed: int, video_id: str) -> np.random.Generator:
    # Keyed by the video name so a video's content does not depend on which other videos or splits are written.
    return np.random.default_rng([seed, zlib.crc32(video_id.encode())])


def _bounce(position: float, low: float, high: float) -> float:
    span = high - low
    offset = (position - low) % (2 * span)
    return low + (offset if offset <= span else 2 * span - offset)


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
            cy = _bounce(s.start[0] + t * s.velocity[0], s.radius, height - 1 - s.radius)
            cx = _bounce(s.start[1] + t * s.velocity[1], s.radius, width - 1 - s.radius)
            masks[o, t] = _shape_mask(s.kind, cy, cx, s.radius, ys, xs)
    cover = np.zeros((num_frames, height, width), dtype=bool)
    for o in reversed(range(len(shapes))):  # front to back: keep only the pixels not covered by a later shape
        masks[o] &= ~cover
        cover |= masks[o]
    frames = np.full((num_frames, height, width, 3), 235, dtype=np.uint8)
    for o, s in enumerate(shapes):
        frames[masks[o]] = COLOURS[s.colour]
    return frames, masks


def _draw_video(
    video_id: str,
    rng: np.random.Generator,
    num_frames: int,
    height: int,
    width: int,
    *,
    speeds: Sequence[float],
    absent: bool,
) -> SyntheticVideo:
    """Sample shapes until every shape stays mostly visible whenever it is on screen, then render them."""
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


# ----------------------------------------------------------------------------------------------------- RefAVS


@dataclass
class SyntheticRefAVS:
    """In-memory RefAVS content.

    Attributes:
        rows: ``metadata.csv`` rows (keys ``vid, uid, split, fid, exp``).
        videos: rendered clips by ``vid``.
        audio: int16 mono 16 kHz waveform by ``vid``.
        gt_masks: ``(10, H, W)`` bool masks by ``(vid, fid)``: exactly what ``gt_mask/<vid>/fid_<fid>/`` holds.
    """

    rows: list[dict[str, str]]
    videos: dict[str, SyntheticVideo]
    audio: dict[str, np.ndarray]
    gt_masks: dict[tuple[str, str], np.ndarray]


def _tone(colour: str, seconds: float) -> np.ndarray:
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    return np.round(0.3 * 32767 * np.sin(2 * math.pi * TONES_HZ[colour] * t)).astype(np.int16)


def build_refavs(
    *, num_videos: int = 4, height: int = 64, width: int = 96, seed: int = 0, splits: Sequence[str] = REFAVS_SPLITS
) -> SyntheticRefAVS:
    """Generate RefAVS content: ``num_videos`` videos *per split*, so that even a tiny root fills every split.

    Video names contain underscores (``syn_<split>_<i>``) like YouTube-based RefAVS ids, so a loader that splits
    uids on the first underscore instead of ``uid.rsplit('_', 2)[0]`` fails on them. Each video has one sounding
    shape; every shape gets an expression (the sounding one two). ``test_n`` rows ask for a shape that is absent
    (``uid = null_c-<vid>_null_<k>``) and point to an all-zero mask folder.
    """
    if num_videos < 1 or len(set(splits)) != len(splits) or not splits:
        raise ValueError(f"need num_videos >= 1 and distinct splits, got {num_videos}, {tuple(splits)}")
    data = SyntheticRefAVS([], {}, {}, {})
    for split in splits:
        for i in range(num_videos):
            vid = f"syn_{split}_{i:02d}"
            rng = _rng(seed, vid)
            count = int(rng.integers(2, 4))
            speeds = rng.uniform(1.5, 4.0, size=count) * min(height, width) / 64
            video = _draw_video(vid, rng, REFAVS_FRAMES, height, width, speeds=speeds, absent=False)
            sounding = int(rng.integers(count))
            data.videos[vid] = video
            data.audio[vid] = _tone(video.shapes[sounding].colour, REFAVS_FRAMES)
            if split == REFAVS_NULL_SPLIT:
                colour = next(c for c in COLOURS if c not in {s.colour for s in video.shapes})
                exp = f"the {colour} {KINDS[int(rng.integers(len(KINDS)))]} that is making a sound"
                data.rows.append({"vid": vid, "uid": f"null_c-{vid}_null_0", "split": split, "fid": "0", "exp": exp})
                data.gt_masks[(vid, "0")] = np.zeros((REFAVS_FRAMES, height, width), dtype=bool)
                continue
            for fid, shape in enumerate(video.shapes):
                if fid == sounding:
                    exps = [f"the {shape.name} that is making a sound", "the object that produces the tone"]
                else:
                    exps = [f"the silent {shape.name}"]
                for k, exp in enumerate(exps):
                    data.rows.append(
                        {"vid": vid, "uid": f"{vid}_{fid}_{k}", "split": split, "fid": str(fid), "exp": exp}
                    )
                data.gt_masks[(vid, str(fid))] = video.masks[fid]
    return data


def _write_wav(path: Path, samples: np.ndarray) -> None:
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(SAMPLE_RATE)
        out.writeframes(samples.astype("<i2").tobytes())


def _write_png(path: Path, mask: np.ndarray) -> None:
    Image.fromarray(mask.astype(np.uint8) * 255, mode="L").save(path)


def write_refavs(
    root: str | Path,
    *,
    num_videos: int = 4,
    height: int = 64,
    width: int = 96,
    seed: int = 0,
    splits: Sequence[str] = REFAVS_SPLITS,
) -> Path:
    """Write a RefAVS root (``metadata.csv``, ``media/``, ``gt_mask/``); see :func:`build_refavs`. Returns ``root``."""
    root = Path(root)
    data = build_refavs(num_videos=num_videos, height=height, width=width, seed=seed, splits=splits)
    for vid, video in data.videos.items():
        frames_dir = root / "media" / vid / "frames"
        frames_dir.mkdir(parents=True, exist_ok=True)
        for t, frame in enumerate(video.frames):
            Image.fromarray(frame).save(frames_dir / f"{t}.jpg", quality=95)
        _write_wav(root / "media" / vid / "audio.wav", data.audio[vid])
    for (vid, fid), masks in data.gt_masks.items():
        mask_dir = root / "gt_mask" / vid / f"fid_{fid}"
        mask_dir.mkdir(parents=True, exist_ok=True)
        for t, mask in enumerate(masks):
            _write_png(mask_dir / f"{t:05d}.png", mask)
    with open(root / "metadata.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=REFAVS_COLUMNS)
        writer.writeheader()
        writer.writerows(data.rows)
    return root


# ------------------------------------------------------------------------------------------------------ ReVOS


@dataclass
class SyntheticReVOS:
    """In-memory ReVOS content.

    Attributes:
        meta: ``{"train": ..., "valid": ...}`` contents of ``meta_expressions_<split>_.json``.
        videos: rendered clips by video id.
        masks: per ``anno_id``, one ``(H, W)`` bool mask per frame, ``None`` where the object is absent.
    """

    meta: dict[str, dict[str, Any]]
    videos: dict[str, SyntheticVideo]
    masks: dict[int, list[np.ndarray | None]]


def _revos_expressions(
    shapes: list[Shape], annos: list[int], num_frames: int, rng: np.random.Generator
) -> list[dict[str, Any]]:
    def target(exp: str, objs: list[int], type_id: int) -> dict[str, Any]:
        return {"exp": exp, "obj_id": objs, "anno_id": [annos[o] for o in objs], "type_id": type_id}

    count = len(shapes)
    by_speed = sorted(range(count), key=lambda o: shapes[o].speed)
    pair = sorted(int(o) for o in rng.choice(count, size=2, replace=False))
    absent = next(o for o, s in enumerate(shapes) if s.visible != (0, num_frames))
    late = shapes[absent].visible[0] > 0
    exps = [target(f"the {s.name}", [o], 0) for o, s in enumerate(shapes)]
    exps.append(target(f"the {shapes[pair[0]].name} and the {shapes[pair[1]].name}", pair, 0))
    exps.append(target("the object that moves fastest", [by_speed[-1]], 1))
    exps.append(target(f"the object that {'enters the scene late' if late else 'leaves the scene early'}", [absent], 1))
    if count == 3:
        exps.append(
            target(f"the objects that move faster than the {shapes[by_speed[0]].name}", sorted(by_speed[1:]), 1)
        )
    return exps


def build_revos(
    *, num_videos: int = 4, num_frames: int = 12, height: int = 64, width: int = 96, seed: int = 0
) -> SyntheticReVOS:
    """Generate ReVOS content: odd-numbered videos go to ``valid``, the others to ``train``.

    Every video has 2-3 shapes with clearly different speeds, one of which is absent at the start or end of the
    video (``null`` in ``mask_dict``). Expressions: one referring expression per shape, one referring to a pair,
    and reasoning ones ("moves fastest", "enters the scene late", and with three shapes a two-object one).
    """
    if num_videos < 2 or num_frames < 3:
        raise ValueError(f"need num_videos >= 2 (train and valid) and num_frames >= 3, got {num_videos}, {num_frames}")
    data = SyntheticReVOS({"train": {"videos": {}}, "valid": {"videos": {}}}, {}, {})
    next_anno = 1
    for i in range(num_videos):
        vid = f"video_{i:03d}"
        rng = _rng(seed, vid)
        count = int(rng.integers(2, 4))
        speeds = rng.permutation(np.array([0.5, 2.0, 4.5])[:count]) * min(height, width) / 64
        video = _draw_video(vid, rng, num_frames, height, width, speeds=speeds, absent=True)
        annos = list(range(next_anno, next_anno + count))
        next_anno += count
        for o, (anno, shape) in enumerate(zip(annos, video.shapes)):
            first, last = shape.visible
            data.masks[anno] = [video.masks[o, t] if first <= t < last else None for t in range(num_frames)]
        expressions = _revos_expressions(video.shapes, annos, num_frames, rng)
        data.videos[vid] = video
        data.meta["valid" if i % 2 else "train"]["videos"][vid] = {
            "height": height,
            "width": width,
            "frames": [f"{t:05d}" for t in range(num_frames)],
            "expressions": {str(k): e for k, e in enumerate(expressions)},
        }
    return data


def encode_rle(mask: np.ndarray) -> dict[str, Any]:
    """COCO RLE of a bool mask with ``counts`` as str (JSON-serialisable), as the official mask files store it."""
    rle = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
    return {"size": [int(s) for s in rle["size"]], "counts": rle["counts"].decode("ascii")}


def write_revos(
    root: str | Path, *, num_videos: int = 4, num_frames: int = 12, height: int = 64, width: int = 96, seed: int = 0
) -> Path:
    """Write a ReVOS root (``JPEGImages/``, meta expression files, mask dicts); see :func:`build_revos`."""
    root = Path(root)
    data = build_revos(num_videos=num_videos, num_frames=num_frames, height=height, width=width, seed=seed)
    for vid, video in data.videos.items():
        frame_dir = root / "JPEGImages" / vid
        frame_dir.mkdir(parents=True, exist_ok=True)
        for t, frame in enumerate(video.frames):
            Image.fromarray(frame).save(frame_dir / f"{t:05d}.jpg", quality=95)
    for split, meta in data.meta.items():
        (root / f"meta_expressions_{split}_.json").write_text(json.dumps(meta))
    mask_dict = {str(a): [None if m is None else encode_rle(m) for m in ms] for a, ms in data.masks.items()}
    (root / "mask_dict.json").write_text(json.dumps(mask_dict))
    foreground = {}
    for vid, video in data.videos.items():
        union = video.masks.any(axis=0)  # (T, H, W)
        foreground[vid] = {
            "masks_rle": [encode_rle(m) for m in union],
            "foreground_ratio": [float(m.mean()) for m in union],
        }
    (root / "mask_dict_foreground.json").write_text(json.dumps(foreground))
    return root


# ------------------------------------------------------------------------------------------------ ensure root

_WRITERS: dict[str, tuple[Callable[..., Path], tuple[str, ...]]] = {
    "refavs": (write_refavs, ("metadata.csv", "media", "gt_mask")),
    "revos": (
        write_revos,
        (
            "JPEGImages",
            "meta_expressions_train_.json",
            "meta_expressions_valid_.json",
            "mask_dict.json",
            "mask_dict_foreground.json",
        ),
    ),
}


def ensure_synthetic(kind: str, root: str | Path, **kwargs: Any) -> Path:
    """Write a synthetic ``kind`` root unless it is already there; used by DataModules' ``prepare_data``.

    A marker file records the writer's arguments and is flagged complete only after the last file is written, so
    an interrupted write (or one with other arguments) is wiped and redone. A root that holds the layout's files
    but no marker is a real dataset and is never touched.

    Args:
        kind: ``"refavs"`` or ``"revos"``.
        root: dataset root to fill.
        **kwargs: keyword arguments of :func:`write_refavs` / :func:`write_revos`.

    Returns:
        ``root`` as a ``Path``.
    """
    if kind not in _WRITERS:
        raise ValueError(f"unknown synthetic dataset kind {kind!r}; expected one of {sorted(_WRITERS)}")
    writer, entries = _WRITERS[kind]
    root = Path(root)
    bound = signature(writer).bind(root, **kwargs)
    bound.apply_defaults()
    params = json.loads(json.dumps({k: v for k, v in bound.arguments.items() if k != "root"}))
    marker = root / MARKER
    wanted = {"kind": kind, "params": params, "complete": True}
    if marker.is_file():
        if json.loads(marker.read_text()) == wanted:
            return root
    elif any((root / entry).exists() for entry in entries):
        return root
    for entry in entries:
        path = root / entry
        if path.is_dir():
            shutil.rmtree(path)
        elif path.exists():
            path.unlink()
    root.mkdir(parents=True, exist_ok=True)
    marker.write_text(json.dumps({**wanted, "complete": False}))
    writer(root, **kwargs)
    marker.write_text(json.dumps(wanted))
    return root
