"""A synthetic MeViS root: the ReVOS clips and expressions in MeViS's schema, one folder per split.

The ``valid`` split withholds its annotations as the official release does (expressions carry only ``exp`` and
there is no ``mask_dict.json``), so loaders and scorers meet the unannotated case too.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from omni_r1.data.synthetic.render import SyntheticVideo, video_rng
from omni_r1.data.synthetic.revos import draw_motion_clip, mask_tracks, motion_expressions
from omni_r1.data.synthetic.writers import encode_track, write_frames, write_json

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


def build_mevis(
    *, num_videos: int = 3, num_frames: int = 12, height: int = 64, width: int = 96, seed: int = 0
) -> SyntheticMeViS:
    """Generate MeViS content: video ``i`` goes to split ``MEVIS_SPLITS[i % 3]``.

    Same clips and expressions as :func:`~omni_r1.data.synthetic.revos.build_revos` (motion expressions, some
    with two targets, one object absent in part of each video), in MeViS's schema: no ``height`` / ``width`` /
    ``type_id``, a ``vid_id`` per video, and ``valid`` expressions that carry only ``exp`` (the official ``valid``
    split has no public annotations).
    """
    if num_videos < 3 or num_frames < 3:
        raise ValueError(f"need num_videos >= 3 (one per split) and num_frames >= 3, got {num_videos}, {num_frames}")
    data = SyntheticMeViS({split: {"videos": {}} for split in MEVIS_SPLITS}, {}, {}, {})
    next_anno = 0
    for i in range(num_videos):
        vid = f"mevis_{i:03d}"
        split = MEVIS_SPLITS[i % len(MEVIS_SPLITS)]
        rng = video_rng(seed, vid)
        video = draw_motion_clip(vid, rng, num_frames, height, width)
        annos = list(range(next_anno, next_anno + len(video.shapes)))
        next_anno += len(video.shapes)
        data.masks.update(zip(annos, mask_tracks(video)))
        expressions = []
        for exp in motion_expressions(video.shapes, annos, num_frames, rng):
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
        write_json(root / split / "meta_expressions.json", data.meta[split])
    for vid, video in data.videos.items():
        write_frames(root / data.split_of[vid] / "JPEGImages" / vid, video.frames)
    for split in ("train", "valid_u"):
        annos = {
            a
            for info in data.meta[split]["videos"].values()
            for e in info["expressions"].values()
            for a in e["anno_id"]
        }
        write_json(root / split / "mask_dict.json", {str(a): encode_track(data.masks[a]) for a in sorted(annos)})
    return root
