"""File checks of a ReVOS / MeViS dataset: frames, mask lists and RLEs, at the levels of
:mod:`omni_r1.data.integrity`.

Shared by :class:`~omni_r1.data.revos.ReVOSDataset` and the MeViS dataset that derives from it; the dataset supplies
its layout (``items``, ``videos``, ``mask_dict``, ``_frame_dir``, ``_mask_path``) and this module walks it once.
"""

from __future__ import annotations

from typing import Any

from omni_r1.data.integrity import (
    CheckLevel,
    Problem,
    Report,
    Requirement,
    check_requirements,
    found,
    image_size,
    rle_problems,
)


def check_vos_files(dataset: Any, level: CheckLevel, workers: int = 8) -> Report:
    """Check a ReVOS / MeViS dataset's frames, mask lists and (from ``"open"`` on) RLEs at ``level``; never raises
    for a broken entry (the :class:`~omni_r1.data.integrity.Report` lists it)."""
    frames_of: dict[str, list[Requirement]] = {}
    for vid in sorted({item.video for item in dataset.items}):
        folder = dataset._frame_dir(vid)
        stems = dataset.videos[vid]["frames"]
        frames_of[vid] = (
            [Requirement(folder / f"{stem}.jpg", "image") for stem in stems]
            if folder.is_dir()
            else [Requirement(folder, "dir")]
        )
    outcome, bad = check_requirements([frames_of[item.video] for item in dataset.items], level, workers)
    problems = [p for p in outcome.values() if p is not None]
    mask_problems, broken_annos, entries = _check_masks(dataset, frames_of, outcome, level)
    problems += mask_problems
    bad |= {i for i, item in enumerate(dataset.items) if broken_annos.intersection(item.anno_ids)}
    types = sorted({item.type_id for item in dataset.items})
    type_names = {0: "referring", 1: "reasoning", 2: "nan"}
    counts: dict[str, int | str] = {"videos": len(frames_of), "expressions": len(dataset.items)}
    counts.update(
        {
            f"  type {t} ({type_names.get(t, 'other')})": sum(item.type_id == t for item in dataset.items)
            for t in types
            if len(types) > 1 or t != 0
        }
    )
    num_frames = sum(len(dataset.videos[vid]["frames"]) for vid in frames_of)
    counts["frames"] = found(outcome, "image", dataset.root, num_frames)
    counts["objects (anno_id)"] = len({a for item in dataset.items for a in item.anno_ids})
    counts["masks (non-null RLE)"] = entries
    return Report(dataset.name, dataset.split, dataset.root, len(dataset.items), counts, problems, bad)


def _check_masks(
    dataset: Any, frames_of: dict[str, list[Requirement]], outcome: dict[Requirement, Problem | None], level: CheckLevel
) -> tuple[list[Problem], set[int], int]:
    """Problems of the mask lists, the anno ids they break, and the count of non-null RLE entries."""
    problems: list[Problem] = []
    broken: set[int] = set()
    entries = 0
    seen: set[int] = set()
    mask_file = dataset._mask_path()
    sizes: dict[str, tuple[int, int] | None] = {}
    for item in dataset.items:
        expected = len(dataset.videos[item.video]["frames"])
        if level != "exists" and item.video not in sizes:
            sizes[item.video] = _frame_size(frames_of[item.video], outcome)
        size = sizes.get(item.video)
        for anno in item.anno_ids:
            if anno in seen:
                continue
            seen.add(anno)
            rles = dataset.mask_dict.get(str(anno))
            where = f"{mask_file}[{anno}]"
            if not isinstance(rles, list) or len(rles) != expected:
                have = f"has {len(rles)} mask entries" if isinstance(rles, list) else "has no mask list"
                detail = (
                    f"anno_id {anno} of video {item.video} expression {item.exp_id} {have}, "
                    f"expected {expected} entries (one per frame)"
                )
                problems.append(Problem("invalid", where, detail))
                broken.add(anno)
                continue
            entries += sum(rle is not None for rle in rles)
            if size is None:
                continue
            for t, detail in enumerate(rle_problems(rles, *size, level)):  # one vectorised pass per object
                if detail:
                    problems.append(Problem("invalid", f"{where}[{t}]", detail))
                    broken.add(anno)
    return problems, broken, entries


def _frame_size(frames: list[Requirement], outcome: dict[Requirement, Problem | None]) -> tuple[int, int] | None:
    """``(height, width)`` of a video from its first readable frame's header (the masks must match it)."""
    readable = next((r for r in frames if r.kind == "image" and outcome[r] is None), None)
    return image_size(readable.path) if readable is not None else None
