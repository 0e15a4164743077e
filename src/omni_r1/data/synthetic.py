"""Tiny datasets written in the official layouts (RefAVS, ReVOS, MeViS, refCOCOg, AVHBench, VideoQA JSONL), for
demos and tests without downloads.

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
import pickle
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


# ------------------------------------------------------------------------------------------------------ MeViS

MEVIS_SPLITS = ("train", "valid_u", "valid")


@dataclass
class SyntheticMeViS:
    """In-memory MeViS content.

    Attributes:
        meta: per split, the content of ``<split>/meta_expressions.json``.
        videos: rendered clips by video id.
        masks: per ``anno_id``, one ``(H, W)`` bool mask per frame, ``None`` where the object is absent. ``valid``
            objects are here too, although that split's files withhold them (as the official release does).
        split_of: the split each video belongs to.
    """

    meta: dict[str, dict[str, Any]]
    videos: dict[str, SyntheticVideo]
    masks: dict[int, list[np.ndarray | None]]
    split_of: dict[str, str]


def expression_target(data: SyntheticReVOS | SyntheticMeViS, split: str, video: str, exp_id: str) -> np.ndarray:
    """``(T, H, W)`` bool union of one expression's objects: the ground truth a scorer compares predictions with.

    Args:
        data: built ReVOS or MeViS content.
        split: split of ``video`` in ``data.meta``.
        video: video id.
        exp_id: expression id within the video.
    """
    anno_ids = data.meta[split]["videos"][video]["expressions"][exp_id]["anno_id"]
    union = np.zeros(data.videos[video].masks.shape[1:], dtype=bool)  # (T, H, W)
    for anno in anno_ids:
        for t, mask in enumerate(data.masks[anno]):
            if mask is not None:
                union[t] |= mask
    return union


def build_mevis(
    *, num_videos: int = 3, num_frames: int = 12, height: int = 64, width: int = 96, seed: int = 0
) -> SyntheticMeViS:
    """Generate MeViS content: video ``i`` goes to split ``MEVIS_SPLITS[i % 3]``.

    Same clips and expressions as :func:`build_revos` (motion expressions, some with two targets, one object absent
    in part of each video), in MeViS's schema: no ``height`` / ``width`` / ``type_id``, a ``vid_id`` per video, and
    ``valid`` expressions that carry only ``exp`` (the official ``valid`` split has no public annotations).
    """
    if num_videos < 3 or num_frames < 3:
        raise ValueError(f"need num_videos >= 3 (one per split) and num_frames >= 3, got {num_videos}, {num_frames}")
    data = SyntheticMeViS({split: {"videos": {}} for split in MEVIS_SPLITS}, {}, {}, {})
    next_anno = 0
    for i in range(num_videos):
        vid = f"mevis_{i:03d}"
        split = MEVIS_SPLITS[i % len(MEVIS_SPLITS)]
        rng = _rng(seed, vid)
        count = int(rng.integers(2, 4))
        speeds = rng.permutation(np.array([0.5, 2.0, 4.5])[:count]) * min(height, width) / 64
        video = _draw_video(vid, rng, num_frames, height, width, speeds=speeds, absent=True)
        annos = list(range(next_anno, next_anno + count))
        next_anno += count
        for o, (anno, shape) in enumerate(zip(annos, video.shapes)):
            first, last = shape.visible
            data.masks[anno] = [video.masks[o, t] if first <= t < last else None for t in range(num_frames)]
        expressions = []
        for exp in _revos_expressions(video.shapes, annos, num_frames, rng):
            expressions.append(
                {"exp": exp["exp"]} if split == "valid" else {k: v for k, v in exp.items() if k != "type_id"}
            )
        data.videos[vid] = video
        data.split_of[vid] = split
        data.meta[split]["videos"][vid] = {
            "expressions": {str(k): e for k, e in enumerate(expressions)},
            "vid_id": i,
            "frames": [f"{t:05d}" for t in range(num_frames)],
        }
    return data


def write_mevis(
    root: str | Path, *, num_videos: int = 3, num_frames: int = 12, height: int = 64, width: int = 96, seed: int = 0
) -> Path:
    """Write a MeViS root (``{train,valid_u,valid}/{JPEGImages/, meta_expressions.json, mask_dict.json}``, no
    ``mask_dict.json`` in ``valid``); see :func:`build_mevis`. Returns ``root``."""
    root = Path(root)
    data = build_mevis(num_videos=num_videos, num_frames=num_frames, height=height, width=width, seed=seed)
    for split in MEVIS_SPLITS:
        (root / split / "JPEGImages").mkdir(parents=True, exist_ok=True)
        (root / split / "meta_expressions.json").write_text(json.dumps(data.meta[split]))
    for vid, video in data.videos.items():
        frame_dir = root / data.split_of[vid] / "JPEGImages" / vid
        frame_dir.mkdir(parents=True, exist_ok=True)
        for t, frame in enumerate(video.frames):
            Image.fromarray(frame).save(frame_dir / f"{t:05d}.jpg", quality=95)
    for split in ("train", "valid_u"):
        annos = {
            a
            for info in data.meta[split]["videos"].values()
            for e in info["expressions"].values()
            for a in e["anno_id"]
        }
        mask_dict = {str(a): [None if m is None else encode_rle(m) for m in data.masks[a]] for a in sorted(annos)}
        (root / split / "mask_dict.json").write_text(json.dumps(mask_dict))
    return root


# --------------------------------------------------------------------------------------------------- refCOCOg

REFCOCOG_SPLITS = ("train", "val", "test")


@dataclass
class SyntheticRefCOCOg:
    """In-memory refCOCOg content in the REFER layout.

    Attributes:
        instances: content of ``refcocog/instances.json`` (``images``, ``annotations``, ``categories``).
        refs: content of ``refcocog/refs(umd).p``.
        images: ``(H, W, 3)`` uint8 pictures by image id.
        masks: ``(H, W)`` bool mask of each annotation id: what pycocotools rasterises from its segmentation.
    """

    instances: dict[str, Any]
    refs: list[dict[str, Any]]
    images: dict[int, np.ndarray]
    masks: dict[int, np.ndarray]


def _polygon(kind: str, cy: float, cx: float, r: float) -> list[float]:
    """Vertices ``[x1, y1, x2, y2, ...]`` of a shape (a 16-gon stands in for the circle)."""
    if kind == "square":
        corners = [(-1, -1), (1, -1), (1, 1), (-1, 1)]
        points = [(cx + 0.85 * r * dx, cy + 0.85 * r * dy) for dx, dy in corners]
    elif kind == "triangle":
        points = [(cx, cy - r), (cx + r, cy + r), (cx - r, cy + r)]
    else:
        points = [(cx + r * math.cos(2 * math.pi * k / 16), cy + r * math.sin(2 * math.pi * k / 16)) for k in range(16)]
    return [round(float(v), 2) for point in points for v in point]


def build_refcocog(*, num_images: int = 6, height: int = 64, width: int = 96, seed: int = 0) -> SyntheticRefCOCOg:
    """Generate refCOCOg content: image ``i`` goes to split ``REFCOCOG_SPLITS[i % 3]``.

    Each image holds 2-3 static shapes side by side (never overlapping), one referred expression per shape with two
    sentences (colour and position). Squares and triangles are stored as polygons, circles as compressed RLE, so
    both segmentation forms of COCO are exercised; masks are what pycocotools rasterises, and pictures are painted
    from them, so the decoded ground truth is exact.
    """
    if num_images < 3:
        raise ValueError(f"need num_images >= 3 (one per split), got {num_images}")
    kinds = {kind: k + 1 for k, kind in enumerate(KINDS)}
    data = SyntheticRefCOCOg(
        {"info": {"description": "synthetic refCOCOg"}, "images": [], "annotations": [], "categories": []}, [], {}, {}
    )
    data.instances["categories"] = [{"id": i, "name": kind, "supercategory": "shape"} for kind, i in kinds.items()]
    ann_id, sent_id = 100, 1000
    for i in range(num_images):
        image_id = 500 + i
        rng = _rng(seed, f"refcocog_{image_id}")
        count = int(rng.integers(2, 4))
        cell = width / count
        picture = np.full((height, width, 3), 235, dtype=np.uint8)
        positions = ["left", "right"] if count == 2 else ["left", "middle", "right"]
        for o, (kind, colour) in enumerate(zip(rng.permutation(KINDS)[:count], rng.permutation(list(COLOURS))[:count])):
            radius = float(min(cell, height) / 2 - 3) * float(rng.uniform(0.7, 1.0))
            cy = float(rng.uniform(radius + 1, height - 2 - radius))
            polygon = _polygon(str(kind), cy, cell * (o + 0.5), radius)
            rle = mask_utils.merge(mask_utils.frPyObjects([polygon], height, width))
            mask = mask_utils.decode(rle).astype(bool)
            picture[mask] = COLOURS[str(colour)]
            segmentation: Any = encode_rle(mask) if kind == "circle" else [polygon]
            box = [float(v) for v in mask_utils.toBbox(rle)]
            data.masks[ann_id] = mask
            data.instances["annotations"].append(
                {
                    "id": ann_id,
                    "image_id": image_id,
                    "category_id": kinds[str(kind)],
                    "segmentation": segmentation,
                    "area": float(mask.sum()),
                    "bbox": box,
                    "iscrowd": 0,
                }
            )
            sentences = [f"the {colour} {kind}", f"the {kind} on the {positions[o]}"]
            data.refs.append(
                {
                    "ref_id": ann_id - 100,
                    "ann_id": ann_id,
                    "image_id": image_id,
                    "split": REFCOCOG_SPLITS[i % len(REFCOCOG_SPLITS)],
                    "sentences": [
                        {"tokens": s.split(), "raw": s.capitalize() + ".", "sent": s, "sent_id": sent_id + k}
                        for k, s in enumerate(sentences)
                    ],
                    "file_name": f"COCO_train2014_{image_id:012d}_{ann_id}.jpg",
                    "category_id": kinds[str(kind)],
                    "sent_ids": [sent_id, sent_id + 1],
                }
            )
            ann_id, sent_id = ann_id + 1, sent_id + 2
        data.images[image_id] = picture
        data.instances["images"].append(
            {"id": image_id, "file_name": f"COCO_train2014_{image_id:012d}.jpg", "height": height, "width": width}
        )
    return data


def write_refcocog(root: str | Path, *, num_images: int = 6, height: int = 64, width: int = 96, seed: int = 0) -> Path:
    """Write a refCOCOg root in the REFER layout (``train2014/``, ``refcocog/instances.json``,
    ``refcocog/refs(umd).p`` written with the stdlib pickle, protocol 2 like the original); see
    :func:`build_refcocog`. Returns ``root``."""
    root = Path(root)
    data = build_refcocog(num_images=num_images, height=height, width=width, seed=seed)
    (root / "train2014").mkdir(parents=True, exist_ok=True)
    (root / "refcocog").mkdir(parents=True, exist_ok=True)
    for info in data.instances["images"]:
        Image.fromarray(data.images[info["id"]]).save(root / "train2014" / info["file_name"], quality=95)
    (root / "refcocog" / "instances.json").write_text(json.dumps(data.instances))
    with open(root / "refcocog" / "refs(umd).p", "wb") as handle:
        pickle.dump(data.refs, handle, protocol=2)
    return root


# ------------------------------------------------------------------------------------------ AVHBench, VideoQA

AVHBENCH_TASKS = (
    "Audio-driven Video Hallucination",
    "Video-driven Audio Hallucination",
    "AV Matching",
    "AV Captioning",
)


def _write_mp4(path: Path, frames: np.ndarray, fps: float, audio: np.ndarray | None) -> None:
    """Encode ``(T, H, W, 3)`` frames (and an int16 16 kHz mono track) into an mp4 with torchcodec."""
    import torch
    from torchcodec.encoders import Encoder  # deferred: loading FFmpeg is slow and only the video writers need it

    encoder = Encoder()
    video = encoder.add_video(height=frames.shape[1], width=frames.shape[2], frame_rate=fps)
    sound = encoder.add_audio(sample_rate=SAMPLE_RATE, num_channels=1) if audio is not None else None
    with encoder.open_file(str(path)):
        video.add_frames(torch.from_numpy(frames).permute(0, 3, 1, 2).contiguous())
        if sound is not None and audio is not None:
            sound.add_samples(torch.from_numpy(audio.astype(np.float32) / 32768)[None])


@dataclass
class SyntheticAVHBench:
    """In-memory AVHBench content: ``qa`` records per json file stem, the clips, and each mp4's sounding colour."""

    qa: dict[str, list[dict[str, str]]]
    videos: dict[str, SyntheticVideo]
    sounds: dict[str, str]


def build_avhbench(
    *, num_videos: int = 2, seconds: float = 2.0, fps: float = 4.0, height: int = 64, width: int = 96, seed: int = 0
) -> SyntheticAVHBench:
    """Generate AVHBench content in the published v0 schema (one json list of ``video_id, task, text, label`` per
    video). Each video ``<id>`` has a real mp4 whose tone belongs to a visible shape and a ``<id>_swap`` mp4 whose
    tone belongs to an absent colour; questions cover the four published tasks with yes and no answers."""
    data = SyntheticAVHBench({}, {}, {})
    num_frames = max(2, round(seconds * fps))
    for i in range(num_videos):
        vid = f"{i + 1:05d}"
        rng = _rng(seed, f"avh_{vid}")
        count = int(rng.integers(2, 4))
        video = _draw_video(vid, rng, num_frames, height, width, speeds=[1.0] * count, absent=False)
        shapes = video.shapes
        sounding = shapes[int(rng.integers(count))]
        silent = next(s for s in shapes if s is not sounding)
        absent = next(c for c in COLOURS if c not in {s.colour for s in shapes})
        data.videos[vid] = data.videos[f"{vid}_swap"] = video
        data.sounds[vid], data.sounds[f"{vid}_swap"] = sounding.colour, absent

        def record(video_id: str, task: str, text: str, label: str) -> dict[str, str]:
            return {"video_id": video_id, "task": task, "text": text, "label": label}

        a2v, v2a, match, caption = AVHBENCH_TASKS
        data.qa[vid] = [
            record(vid, a2v, f"Is the {sounding.name} visible in the video?", "Yes"),
            record(vid, a2v, f"Is the {absent} {sounding.kind} visible in the video?", "No"),
            record(vid, v2a, f"Is the {sounding.name} making sound in the audio?", "Yes"),
            record(vid, v2a, f"Is the {silent.name} making sound in the audio?", "No"),
            record(vid, match, "Are the contexts of audio and visual content matching?", "Yes"),
            record(f"{vid}_swap", match, "Are the contexts of audio and visual content matching?", "No"),
            record(vid, caption, "Describe what you see and hear in a single sentence.", f"A {sounding.name} hums."),
        ]
    return data


def write_avhbench(
    root: str | Path,
    *,
    num_videos: int = 2,
    seconds: float = 2.0,
    fps: float = 4.0,
    height: int = 64,
    width: int = 96,
    seed: int = 0,
) -> Path:
    """Write an AVHBench root in the published v0 layout (``json/<video_id>.json``, ``video/<video_id>.mp4`` and
    ``video/<video_id>_swap.mp4``, audio inside the mp4); see :func:`build_avhbench`. Returns ``root``."""
    root = Path(root)
    data = build_avhbench(num_videos=num_videos, seconds=seconds, fps=fps, height=height, width=width, seed=seed)
    (root / "json").mkdir(parents=True, exist_ok=True)
    (root / "video").mkdir(parents=True, exist_ok=True)
    for stem, records in data.qa.items():
        (root / "json" / f"{stem}.json").write_text(json.dumps(records, indent=2))
    for video_id, video in data.videos.items():
        tone = _tone(data.sounds[video_id], len(video.frames) / fps)
        _write_mp4(root / "video" / f"{video_id}.mp4", video.frames, fps, tone)
    return root


@dataclass
class SyntheticVideoQA:
    """In-memory VideoQA content: the JSONL entries, and the pictures behind each media path."""

    entries: list[dict[str, Any]]
    videos: dict[str, SyntheticVideo]


def build_videoqa(
    *, num_videos: int = 2, seconds: float = 2.0, fps: float = 4.0, height: int = 64, width: int = 96, seed: int = 0
) -> SyntheticVideoQA:
    """Generate VideoQA entries of the three media forms of the format: an mp4 with its own audio track
    (Video-MME style), an image plus a wav (OmniBench style) and a JPEG frame folder (MVBench style)."""
    data = SyntheticVideoQA([], {})
    num_frames = max(2, round(seconds * fps))
    colours = list(COLOURS)
    for i in range(num_videos):
        vid = f"qa_{i:03d}"
        rng = _rng(seed, vid)
        count = int(rng.integers(2, 4))
        video = _draw_video(vid, rng, num_frames, height, width, speeds=[1.0] * count, absent=False)
        data.videos[vid] = video
        sounding = video.shapes[int(rng.integers(count))]
        absent = next(c for c in colours if c not in {s.colour for s in video.shapes})
        options = [f"the {s.name}" for s in video.shapes] + [f"the {absent} circle"]
        data.entries.append(
            {
                "id": f"{vid}_sound",
                "video": f"videos/{vid}.mp4",
                "audio": "video",
                "question": "Which shape makes the sound you hear?",
                "options": options,
                "answer": "ABCD"[options.index(f"the {sounding.name}")],
                "category": "audio-visual",
            }
        )
        data.entries.append(
            {
                "id": f"{vid}_image",
                "image": f"images/{vid}.jpg",
                "audio": f"audio/{vid}.wav",
                "question": f"What colour is the {video.shapes[0].kind} in the picture?",
                "options": ["red", "green", "blue", "yellow", "purple"],
                "answer": video.shapes[0].colour,
                "category": "image-audio",
            }
        )
        data.entries.append(
            {
                "id": f"{vid}_count",
                "video": f"frames/{vid}",
                "video_fps": fps,
                "question": "How many shapes move in the video?",
                "options": ["(A) 1", "(B) 2", "(C) 3", "(D) 4"],
                "answer": count - 1,
                "category": "counting",
            }
        )
    return data


def write_videoqa(
    root: str | Path,
    *,
    num_videos: int = 2,
    seconds: float = 2.0,
    fps: float = 4.0,
    height: int = 64,
    width: int = 96,
    seed: int = 0,
    split: str = "test",
) -> Path:
    """Write a VideoQA root (``<split>.jsonl`` + ``videos/``, ``images/``, ``audio/``, ``frames/``); see
    :func:`build_videoqa` and :mod:`omni_r1.data.videoqa` for the format. Returns ``root``."""
    root = Path(root)
    data = build_videoqa(num_videos=num_videos, seconds=seconds, fps=fps, height=height, width=width, seed=seed)
    for folder in ("videos", "images", "audio", "frames"):
        (root / folder).mkdir(parents=True, exist_ok=True)
    for vid, video in data.videos.items():
        sounding = next(e for e in data.entries if e["id"] == f"{vid}_sound")["answer"]
        colour = video.shapes["ABCD".index(sounding)].colour
        _write_mp4(root / "videos" / f"{vid}.mp4", video.frames, fps, _tone(colour, len(video.frames) / fps))
        Image.fromarray(video.frames[0]).save(root / "images" / f"{vid}.jpg", quality=95)
        _write_wav(root / "audio" / f"{vid}.wav", _tone(video.shapes[0].colour, 1.0))
        (root / "frames" / vid).mkdir(exist_ok=True)
        for t, frame in enumerate(video.frames):
            Image.fromarray(frame).save(root / "frames" / vid / f"{t:05d}.jpg", quality=95)
    with open(root / f"{split}.jsonl", "w") as handle:
        handle.writelines(json.dumps(entry) + "\n" for entry in data.entries)
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
    but no marker is a real dataset and is never touched; one that holds another kind's synthetic data is an error.

    Args:
        kind: ``"refavs"`` or ``"revos"``.
        root: dataset root to fill.
        **kwargs: keyword arguments of :func:`write_refavs` / :func:`write_revos`.

    Returns:
        ``root`` as a ``Path``.

    Raises:
        ValueError: an unknown ``kind``, or ``root`` holds synthetic data of another kind.
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
        found = json.loads(marker.read_text())
        if found == wanted:
            return root
        if found.get("kind") != kind:
            # Rewriting would leave two layouts mixed in one folder, each DataModule wiping the other's files.
            raise ValueError(
                f"{root} holds a synthetic {found.get('kind')!r} dataset, not {kind!r}: give the {kind} DataModule "
                "its own root"
            )
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
