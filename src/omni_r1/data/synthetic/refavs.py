"""A synthetic RefAVS root: 10-frame clips with one sounding shape each, and a pure tone per sounding colour.

Solving an expression needs the audio: the sounding shape is named by its sound ("the object that produces the
tone"), not only by its looks.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from omni_r1.data.synthetic.render import COLOURS, KINDS, SyntheticVideo, draw_video, tone, video_rng
from omni_r1.data.synthetic.writers import write_frames, write_png, write_wav

REFAVS_SPLITS = ("train", "val", "test_s", "test_u", "test_n")
REFAVS_COLUMNS = ("vid", "uid", "split", "fid", "exp")
REFAVS_FRAMES = 10
REFAVS_NULL_SPLIT = "test_n"


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
            rng = video_rng(seed, vid)
            count = int(rng.integers(2, 4))
            speeds = rng.uniform(1.5, 4.0, size=count) * min(height, width) / 64
            video = draw_video(vid, rng, REFAVS_FRAMES, height, width, speeds=speeds, absent=False)
            sounding = int(rng.integers(count))
            data.videos[vid] = video
            data.audio[vid] = tone(video.shapes[sounding].colour, REFAVS_FRAMES)
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
        write_frames(root / "media" / vid / "frames", video.frames, "{}.jpg")
        write_wav(root / "media" / vid / "audio.wav", data.audio[vid])
    for (vid, fid), masks in data.gt_masks.items():
        mask_dir = root / "gt_mask" / vid / f"fid_{fid}"
        mask_dir.mkdir(parents=True, exist_ok=True)
        for t, mask in enumerate(masks):
            write_png(mask_dir / f"{t:05d}.png", mask)
    with open(root / "metadata.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=REFAVS_COLUMNS)
        writer.writeheader()
        writer.writerows(data.rows)
    return root
