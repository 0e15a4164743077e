"""The figures of one evaluated policy, read from what ``python -m omni_r1.evaluate run`` wrote.

One policy is evaluated on three held-out splits of the sounding-shapes task (:data:`EVAL_SPLITS`): ReVOS-layout
video clips (referring and temporal queries), RefAVS ``test_u`` (audio queries) and ``test_n`` (null queries); and
on two in-distribution ones (:data:`SEEN_SPLITS`: other clips of the training pairs; no null split there).
Their ``scores.json`` give J, F and J&F per query type (ReVOS ``referring`` / ``reason`` subsets, RefAVS J and F),
the robustness R (ReVOS) and the null-split S (RefAVS). The keyframe hit rate, the share of handed-over keyframes
on which the target is visible, is computed here from ``answers.jsonl`` and the split's ground truth, and so is the
same-answer share: how many prompts of a split get the policy's most common description (100 % = one answer for
every query, whatever it asks or the sound says; the reference answers' share is the floor a perfect S1 shows).
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pycocotools import mask as mask_utils

from omni_r1.data import refavs, revos
from omni_r1.data.io import read_mask_png


@dataclass(frozen=True)
class EvalSplit:
    """One evaluation split: the mixture member it is read through, its root (under the data folder) and split."""

    dataset: str
    root: str
    split: str


EVAL_SPLITS: dict[str, EvalSplit] = {
    "video": EvalSplit("revos", "revos_heldout", "valid"),
    "audio": EvalSplit("refavs", "refavs", "test_u"),
    "null": EvalSplit("refavs", "refavs", "test_n"),
}
# In distribution: clips training never shows, of the colour/kind pairs it does (read by nothing that selects).
SEEN_SPLITS: dict[str, EvalSplit] = {
    "video": EvalSplit("revos", "revos_seen", "valid"),
    "audio": EvalSplit("refavs", "refavs", "test_s"),
}
# The columns of the tables, in order: (key, label, higher is better).
METRICS: tuple[tuple[str, str, bool], ...] = (
    ("referring/J", "referring J", True),
    ("referring/F", "referring F", True),
    ("referring/JF", "referring J&F", True),
    ("temporal/J", "temporal J", True),
    ("temporal/F", "temporal F", True),
    ("temporal/JF", "temporal J&F", True),
    ("audio/J", "audio J", True),
    ("audio/F", "audio F", True),
    ("audio/JF", "audio J&F", True),
    ("overall/JF", "overall J&F", True),
    ("keyframes/hit", "keyframe hit %", True),
    ("video/R", "R", True),
    ("video/same", "video same-answer %", False),
    ("audio/same", "audio same-answer %", False),
    ("null/S", "null S", False),
)


def _answers(folder: Path) -> list[dict[str, Any]]:
    path = folder / "answers.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _same_answer_share(rows: Mapping[tuple[str, str], dict[str, Any]]) -> float:
    """Percent of prompts whose descriptions are the split's most common ones (a prompt with none counts as one
    more answer, the empty one)."""
    answers = Counter(tuple(row.get("descriptions") or ()) for row in rows.values())
    return 100 * max(answers.values()) / len(rows) if rows else math.nan


def _hit_rate(rows: Mapping[tuple[str, str], dict[str, Any]], visible: Mapping[tuple[str, str], list[bool]]) -> float:
    """Mean over prompts of the share of their keyframes showing the target, in percent; a prompt that handed
    nothing over (or failed) scores 0."""
    rates = []
    for key, frames in visible.items():
        keyframes = rows.get(key, {}).get("keyframes", [])
        rates.append(sum(frames[k] for k in keyframes) / len(keyframes) if keyframes else 0.0)
    return 100 * sum(rates) / len(rates) if rates else math.nan


def revos_visibility(root: Path, split: str) -> dict[tuple[str, str], list[bool]]:
    """Per ReVOS ``(video, exp_id)``, whether any target object is visible in each frame."""
    meta, mask_dict = revos.load_meta(root, split), revos.load_mask_dict(root)
    out = {}
    for video, info in meta.items():
        for exp_id, exp in info["expressions"].items():
            tracks = [mask_dict[str(a)] for a in exp["anno_id"]]
            out[(video, exp_id)] = [
                any(track[t] is not None and mask_utils.area(_rle(track[t])) > 0 for track in tracks)
                for t in range(len(info["frames"]))
            ]
    return out


def _rle(entry: dict[str, Any]) -> dict[str, Any]:
    counts = entry["counts"]
    return {"size": entry["size"], "counts": counts.encode() if isinstance(counts, str) else counts}


def refavs_visibility(root: Path, split: str) -> dict[tuple[str, str], list[bool]]:
    """Per RefAVS ``(video folder, uid)``, whether the target is visible in each of the 10 frames."""
    out = {}
    for row in refavs.read_metadata(root, split):
        folder = refavs.video_folder(root, row)
        mask_dir = root / "gt_mask" / folder / f"fid_{row['fid']}"
        out[(folder, row["uid"])] = [bool(read_mask_png(mask_dir / f"{t:05d}.png").any()) for t in range(10)]
    return out


def policy_figures(
    eval_dir: str | Path, data_dir: str | Path, splits: Mapping[str, EvalSplit] = EVAL_SPLITS
) -> dict[str, float]:
    """Every figure of one evaluated policy (keys of :data:`METRICS` and a few more), in percent (S: a fraction).

    Args:
        eval_dir: holds one ``evaluate run`` output folder per name of ``splits``.
        data_dir: the folder the sounding-shapes roots were written to.
        splits: :data:`EVAL_SPLITS` or :data:`SEEN_SPLITS` (``video`` and ``audio``; ``null`` optional: null S is
            NaN without it).

    Raises:
        FileNotFoundError: an evaluation is missing its ``scores.json``.
    """
    eval_dir, data_dir = Path(eval_dir), Path(data_dir)
    scores = {name: json.loads((eval_dir / name / "scores.json").read_text()) for name in splits}
    figures: dict[str, float] = {}
    for subset, label in (("referring", "referring"), ("reason", "temporal")):
        for key in ("J", "F", "JF"):
            figures[f"{label}/{key}"] = float(scores["video"][subset][key])
    for key in ("J", "F", "JF"):
        figures[f"audio/{key}"] = float(scores["audio"][key])
    figures["overall/JF"] = (figures["referring/JF"] + figures["temporal/JF"] + figures["audio/JF"]) / 3
    figures["video/R"] = float(scores["video"]["overall"]["R"])
    figures["null/S"] = float(scores["null"]["S"]) if "null" in scores else math.nan
    video, audio = splits["video"], splits["audio"]
    video_rows = {(r["video"], r["exp_id"]): r for r in _answers(eval_dir / "video") if "video" in r}
    visible = revos_visibility(data_dir / video.root, video.split)
    meta = revos.load_meta(data_dir / video.root, video.split)
    types = {(v, e): int(x.get("type_id", 0)) for v, info in meta.items() for e, x in info["expressions"].items()}
    for label, type_id in (("referring", 0), ("temporal", 1)):
        subset = {key: frames for key, frames in visible.items() if types[key] == type_id}
        figures[f"{label}/hit"] = _hit_rate(video_rows, subset)
    figures["keyframes/hit"] = _hit_rate(video_rows, visible)
    figures["video/same"] = _same_answer_share(video_rows)
    audio_rows = {(r["video"], r["exp_id"]): r for r in _answers(eval_dir / "audio") if "video" in r}
    figures["audio/hit"] = _hit_rate(audio_rows, refavs_visibility(data_dir / audio.root, audio.split))
    figures["audio/same"] = _same_answer_share(audio_rows)
    return figures
