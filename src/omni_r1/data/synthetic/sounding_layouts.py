"""The sounding-shapes task (:mod:`~omni_r1.data.synthetic.sounding`) written in the ReVOS and RefAVS layouts.

Four roots under one folder, each read by the kit's own DataModules:

- ``revos/``: video clips, ``train`` and an in-distribution ``valid`` split (model selection), referring
  (``type_id`` 0) and temporal (``type_id`` 1) expressions;
- ``revos_heldout/``: ``valid`` holds the held-out video clips (``train`` is empty): evaluation only;
- ``revos_seen/``: ``valid`` holds other clips of the training pairs (``train`` is empty): the in-distribution
  test, read by nothing that selects or tunes (``refavs`` ``test_s`` is its audio-visual counterpart);
- ``refavs/``: audio-visual clips (10 frames, ``audio.wav``): ``train``, ``val`` and ``test_s`` (seen pairs),
  ``test_u`` (held-out pairs, audio queries) and ``test_n`` (held-out clips, null queries, all-zero masks).

Held-out splits use other videos and the colour/kind pairs, hence sounds, that training never shows. Every clip's
randomness is keyed by its name, so a split's content does not depend on the sizes of the others.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from omni_r1.data.synthetic.render import video_rng
from omni_r1.data.synthetic.revos import mask_tracks
from omni_r1.data.synthetic.sounding import FRAMES, HEIGHT, WIDTH, SoundingClip, draw_clip, null_queries
from omni_r1.data.synthetic.writers import encode_rle, encode_track, write_frames, write_json, write_png, write_wav

VOS_SPLITS = {"train": False, "valid": False, "test": False, "heldout": True}  # split -> held-out pairs
AVS_SPLITS = {"train": False, "val": False, "test_s": False, "test_u": True, "test_n": True}
TYPE_IDS = {"referring": 0, "temporal": 1}
MARKER = "sounding_task.json"
# Of the drawing: a root written by another version is rewritten (3 added revos_seen; other clips are 2's).
VERSION = 3


@dataclass
class SoundingTask:
    """In-memory content: clips per split of each layout (``vos``: ``train, valid, test, heldout``; ``avs``: the
    RefAVS splits)."""

    vos: dict[str, list[SoundingClip]]
    avs: dict[str, list[SoundingClip]]


def build_sounding_task(
    *, train_clips: int = 48, val_clips: int = 8, test_clips: int = 16, seed: int = 0
) -> SoundingTask:
    """Draw every clip: ``train_clips`` per training split, ``val_clips`` for ``valid`` / ``val`` / ``test_s``,
    ``test_clips`` for each test split (``test``: seen pairs; the held-out ones). ``test_n`` clips carry null
    queries instead of audio ones."""
    if min(train_clips, val_clips, test_clips) < 1:
        raise ValueError(f"every split needs a clip, got {train_clips}, {val_clips}, {test_clips}")
    sizes = {"train": train_clips, "valid": val_clips, "val": val_clips, "test_s": val_clips}
    task = SoundingTask({}, {})
    for split, held_out in VOS_SPLITS.items():
        task.vos[split] = [
            draw_clip(f"snd_vos_{split}_{i:03d}", video_rng(seed, f"snd_vos_{split}_{i:03d}"), "video", held_out)
            for i in range(sizes.get(split, test_clips))
        ]
    for split, held_out in AVS_SPLITS.items():
        clips = []
        for i in range(sizes.get(split, test_clips)):
            vid = f"snd_{split}_{i:03d}"
            rng = video_rng(seed, vid)
            clip = draw_clip(vid, rng, "audio_visual", held_out)
            if split == "test_n":
                clip.queries = null_queries(clip.objects, rng)
            clips.append(clip)
        task.avs[split] = clips
    return task


# ---------------------------------------------------------------------------------------------- ReVOS layout
def _revos_meta(clips: list[SoundingClip], first_anno: int) -> tuple[dict[str, Any], dict[str, Any]]:
    """``meta_expressions`` content and ``mask_dict`` entries of a split's clips (anno ids from ``first_anno``)."""
    videos, masks = {}, {}
    anno = first_anno
    for clip in clips:
        annos = list(range(anno, anno + len(clip.objects)))
        anno += len(clip.objects)
        masks.update({str(a): encode_track(track) for a, track in zip(annos, mask_tracks(clip.video))})
        expressions = {
            str(k): {
                "exp": q.text,
                "obj_id": list(q.targets),
                "anno_id": [annos[o] for o in q.targets],
                "type_id": TYPE_IDS[q.type],
            }
            for k, q in enumerate(clip.queries)
        }
        videos[clip.video.video_id] = {
            "height": HEIGHT,
            "width": WIDTH,
            "frames": [f"{t:05d}" for t in range(FRAMES)],
            "expressions": expressions,
        }
    return {"videos": videos}, masks


def _write_revos(root: Path, splits: dict[str, list[SoundingClip]]) -> None:
    """A ReVOS root holding ``splits`` (``train`` / ``valid``: clips); absent splits are written empty."""
    (root / "JPEGImages").mkdir(parents=True, exist_ok=True)
    mask_dict: dict[str, Any] = {}
    foreground: dict[str, Any] = {}
    for split in ("train", "valid"):
        clips = splits.get(split, [])
        meta, masks = _revos_meta(clips, first_anno=len(mask_dict) + 1)
        mask_dict.update(masks)
        write_json(root / f"meta_expressions_{split}_.json", meta)
        for clip in clips:
            write_frames(root / "JPEGImages" / clip.video.video_id, clip.video.frames)
            union = clip.video.masks.any(axis=0)  # (T, H, W)
            foreground[clip.video.video_id] = {
                "masks_rle": [encode_rle(m) for m in union],
                "foreground_ratio": [float(m.mean()) for m in union],
            }
    write_json(root / "mask_dict.json", mask_dict)
    write_json(root / "mask_dict_foreground.json", foreground)


# ---------------------------------------------------------------------------------------------- RefAVS layout
def _write_refavs(root: Path, splits: dict[str, list[SoundingClip]]) -> None:
    """A RefAVS root: one csv row per query; a null row points to the clip's all-zero ``fid_0`` folder."""
    rows = []
    for split, clips in splits.items():
        for clip in clips:
            vid = clip.video.video_id
            write_frames(root / "media" / vid / "frames", clip.video.frames, "{}.jpg")
            write_wav(root / "media" / vid / "audio.wav", clip.audio)
            written: set[str] = set()
            for k, query in enumerate(clip.queries):
                if query.targets:
                    fid = str(query.targets[0])
                    masks = clip.video.masks[query.targets[0]]
                    uid = f"{vid}_{fid}_{k}"
                else:
                    fid, masks = "0", np.zeros((FRAMES, HEIGHT, WIDTH), dtype=bool)
                    uid = f"null_c-{vid}_null_{k}"
                rows.append({"vid": vid, "uid": uid, "split": split, "fid": fid, "exp": query.text})
                if fid not in written:
                    written.add(fid)
                    mask_dir = root / "gt_mask" / vid / f"fid_{fid}"
                    mask_dir.mkdir(parents=True, exist_ok=True)
                    for t, mask in enumerate(masks):
                        write_png(mask_dir / f"{t:05d}.png", mask)
    with open(root / "metadata.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=("vid", "uid", "split", "fid", "exp"))
        writer.writeheader()
        writer.writerows(rows)


def write_sounding_task(
    root: str | Path, *, train_clips: int = 48, val_clips: int = 8, test_clips: int = 16, seed: int = 0
) -> Path:
    """Write ``revos/``, ``revos_heldout/``, ``revos_seen/`` and ``refavs/`` under ``root`` (module docstring), once.

    The three roots are written into a temporary sibling folder and moved into place with a marker recording the
    arguments and the drawing's :data:`VERSION`: a root with the same marker is left as it is, a half-written one
    never exists, and one written with other arguments (or another version) is replaced. A non-empty folder
    without the marker is never touched.

    Raises:
        FileExistsError: ``root`` holds other files.

    Returns:
        ``root`` as a ``Path``.
    """
    root = Path(root)
    params = {"train_clips": train_clips, "val_clips": val_clips, "test_clips": test_clips, "seed": seed}
    marker = root / MARKER
    if marker.is_file() and json.loads(marker.read_text()) == {**params, "version": VERSION}:
        return root
    if root.exists() and not marker.is_file() and any(root.iterdir()):
        raise FileExistsError(f"{root} holds files but no {MARKER}: not a sounding-task root, left untouched")
    task = build_sounding_task(**params)
    root.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{root.name}.", dir=root.parent))
    try:
        _write_revos(tmp / "revos", {"train": task.vos["train"], "valid": task.vos["valid"]})
        _write_revos(tmp / "revos_heldout", {"valid": task.vos["heldout"]})
        _write_revos(tmp / "revos_seen", {"valid": task.vos["test"]})
        (tmp / "refavs").mkdir()
        _write_refavs(tmp / "refavs", task.avs)
        write_json(tmp / MARKER, {**params, "version": VERSION})
        if root.exists():
            shutil.rmtree(root)
        os.replace(tmp, root)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return root
