"""A synthetic ReVOS root: clips of 2-3 shapes at clearly different speeds, with referring and reasoning expressions.

Expressions are either referring ("the blue square") or reason about motion ("the object that moves fastest"),
some with two targets, and one object of each clip is absent from part of it. MeViS reuses these clips and
expressions in its own schema (:mod:`omni_r1.data.synthetic.mevis`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from omni_r1.data.synthetic.render import Shape, SyntheticVideo, draw_video, video_rng
from omni_r1.data.synthetic.writers import encode_rle, encode_track, write_frames, write_json


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


def draw_motion_clip(
    video_id: str, rng: np.random.Generator, num_frames: int, height: int, width: int
) -> SyntheticVideo:
    """2-3 shapes whose speeds differ clearly (so "moves fastest" has one answer), one absent in part of the clip."""
    count = int(rng.integers(2, 4))
    speeds = rng.permutation(np.array([0.5, 2.0, 4.5])[:count]) * min(height, width) / 64
    return draw_video(video_id, rng, num_frames, height, width, speeds=speeds, absent=True)


def mask_tracks(video: SyntheticVideo) -> list[list[np.ndarray | None]]:
    """Per shape, its ``(H, W)`` mask per frame, ``None`` while it is off screen (JSON ``null`` in ``mask_dict``)."""
    num_frames = len(video.frames)
    return [
        [video.masks[o, t] if shape.visible[0] <= t < shape.visible[1] else None for t in range(num_frames)]
        for o, shape in enumerate(video.shapes)
    ]


def motion_expressions(
    shapes: list[Shape], annos: list[int], num_frames: int, rng: np.random.Generator
) -> list[dict[str, Any]]:
    """The expressions of one clip in ReVOS's schema (``exp, obj_id, anno_id, type_id``; 0 referring, 1 reasoning)."""

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
        rng = video_rng(seed, vid)
        video = draw_motion_clip(vid, rng, num_frames, height, width)
        annos = list(range(next_anno, next_anno + len(video.shapes)))
        next_anno += len(video.shapes)
        data.masks.update(zip(annos, mask_tracks(video)))
        expressions = motion_expressions(video.shapes, annos, num_frames, rng)
        data.videos[vid] = video
        data.meta["valid" if i % 2 else "train"]["videos"][vid] = {
            "height": height,
            "width": width,
            "frames": [f"{t:05d}" for t in range(num_frames)],
            "expressions": {str(k): e for k, e in enumerate(expressions)},
        }
    return data


def write_revos(
    root: str | Path, *, num_videos: int = 4, num_frames: int = 12, height: int = 64, width: int = 96, seed: int = 0
) -> Path:
    """Write a ReVOS root (``JPEGImages/``, meta expression files, mask dicts); see :func:`build_revos`."""
    root = Path(root)
    data = build_revos(num_videos=num_videos, num_frames=num_frames, height=height, width=width, seed=seed)
    for vid, video in data.videos.items():
        write_frames(root / "JPEGImages" / vid, video.frames)
    for split, meta in data.meta.items():
        write_json(root / f"meta_expressions_{split}_.json", meta)
    write_json(root / "mask_dict.json", {str(a): encode_track(ms) for a, ms in data.masks.items()})
    foreground = {}
    for vid, video in data.videos.items():
        union = video.masks.any(axis=0)  # (T, H, W)
        foreground[vid] = {
            "masks_rle": [encode_rle(m) for m in union],
            "foreground_ratio": [float(m.mean()) for m in union],
        }
    write_json(root / "mask_dict_foreground.json", foreground)
    return root
