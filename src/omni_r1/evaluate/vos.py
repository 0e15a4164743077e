"""Scoring a prediction folder against a ReVOS or MeViS root, expression by expression, as the official scripts do.

Predictions are read from the official layout ``<predictions>/<video>/<exp_id>/<frame>.png`` (0/255 greyscale at
the frame's original size, one file per frame listed in the meta file). As in the official scripts, an
expression whose video folder or any frame file is missing scores 0 (J, F, A and R). Where the official scripts
would also silently score 0 (a prediction of the wrong size, an ``anno_id`` absent from ``mask_dict.json``), the
kit stops with an error naming the file: those are pipeline bugs, not missing predictions. Expressions without
``type_id`` count as referring, as in the kit's ReVOS reader (the official script would stop on them); type 2
(VISA's "nan") expressions are scored and listed but kept out of the official means (the ``nan`` subset). The official
MeViS script scores a missing video folder 0 but crashes on a missing file inside an existing one; the kit scores
both 0, like the ReVOS script.

Like the official scripts, scoring can spread videos over worker processes (``workers``); the per-expression
scores and the summary do not depend on it (results are put back in the meta file's order).
"""

from __future__ import annotations

import json
import multiprocessing
import pickle
from collections.abc import Callable, Collection, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from omni_r1.data import mevis, revos
from omni_r1.data.io import decode_rle
from omni_r1.data.layout import DatasetFormatError, require_paths
from omni_r1.evaluate.masks import read_sequence
from omni_r1.metrics.functional.davis import j_and_f
from omni_r1.metrics.functional.mevis import mevis_aggregate
from omni_r1.metrics.functional.revos import (
    revos_aggregate,
    revos_expression,
    revos_expression_accuracy,
    revos_percent,
)

MaskDict = dict[str, list[Any]]


@dataclass(frozen=True)
class _Expression:
    video: str
    exp_id: str
    text: str
    anno_ids: tuple[int, ...]
    type_id: int
    frames: tuple[str, ...]
    size: tuple[int, int] | None  # (H, W) from the meta file, when it has one


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise DatasetFormatError(path, f"not valid JSON ({err})") from err


def _expressions(videos: dict[str, dict[str, Any]]) -> Iterator[_Expression]:
    for video, info in videos.items():
        size = (int(info["height"]), int(info["width"])) if "height" in info and "width" in info else None
        for exp_id, exp in info["expressions"].items():
            yield _Expression(
                video,
                exp_id,
                exp["exp"],
                tuple(exp["anno_id"]),
                int(exp.get("type_id", 0)),
                tuple(info["frames"]),
                size,
            )


def _object_rles(item: _Expression, mask_dict: MaskDict, path: Path) -> list[list[Any]]:
    rles = []
    for anno in item.anno_ids:
        entry = mask_dict.get(str(anno))
        if not isinstance(entry, list) or len(entry) != len(item.frames):
            raise DatasetFormatError(
                path,
                f"anno_id {anno} (video {item.video}, expression {item.exp_id}) needs a list of {len(item.frames)} "
                f"RLEs or nulls, one per frame; got {type(entry).__name__}"
                + (f" of length {len(entry)}" if isinstance(entry, list) else ""),
            )
        rles.append(entry)
    return rles


def _frame_size(item: _Expression, rles: list[list[Any]]) -> tuple[int, int] | None:
    """The meta file's size, else the first RLE's; ``None`` leaves it to the prediction (the official fallback)."""
    if item.size is not None:
        return item.size
    for rle in (r for entry in rles for r in entry if r):
        if isinstance(rle, dict) and "size" in rle:
            return int(rle["size"][0]), int(rle["size"][1])
    return None


def _target(item: _Expression, rles: list[list[Any]], size: tuple[int, int]) -> Tensor:
    """``(T, H, W)`` uint8 object count: the objects' masks added in uint8, as the official ``gt_masks +=``."""
    target = torch.zeros(len(item.frames), *size, dtype=torch.uint8)
    for anno, entry in zip(item.anno_ids, rles):
        for t, rle in enumerate(entry):
            if rle:
                target[t] += decode_rle(rle, *size, source=f"mask_dict.json[{anno}][{t}]").to(torch.uint8)
    return target


def _prediction(item: _Expression, predictions: Path, size: tuple[int, int] | None) -> Tensor | None:
    folder = predictions / item.video
    return read_sequence(folder / item.exp_id, item.frames, size) if folder.is_dir() else None


class _Foreground:
    """``mask_dict_foreground.json`` decoded one video at a time (expressions of a video come together)."""

    def __init__(self, root: Path) -> None:
        self.path = root / "mask_dict_foreground.json"
        require_paths("ReVOS", root, [self.path], revos.LAYOUT)
        self.content = _read_json(self.path)
        self.video: str | None = None
        self.masks: Tensor | None = None

    def __call__(self, video: str, num_frames: int, size: tuple[int, int]) -> Tensor:
        if video != self.video or self.masks is None or tuple(self.masks.shape[-2:]) != size:
            self.video, self.masks = video, self._decode(video, num_frames, size)
        return self.masks

    def _decode(self, video: str, num_frames: int, size: tuple[int, int]) -> Tensor:
        entry = self.content.get(video) if isinstance(self.content, dict) else None
        rles = entry.get("masks_rle") if isinstance(entry, dict) else None
        if not isinstance(rles, list) or len(rles) != num_frames:
            raise DatasetFormatError(
                self.path, f'video {video} needs {{"masks_rle": [one RLE per frame]}} with {num_frames} entries'
            )
        masks = torch.zeros(num_frames, *size, dtype=torch.uint8)
        for t, rle in enumerate(rles):
            # A list of RLEs decodes to one channel per object; the official script sums them (in uint8).
            for k, part in enumerate(rle if isinstance(rle, list) else [rle]):
                masks[t] += decode_rle(part, *size, source=f"{self.path.name}[{video}][masks_rle][{t}][{k}]").to(
                    torch.uint8
                )
        return masks


def score_revos(
    root: str | Path,
    split: str,
    predictions: str | Path,
    robustness: str = "official",
    workers: int = 1,
    exclude: Collection[tuple[str, str]] = (),
    accuracy: str = "official",
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Score ``predictions`` against ReVOS ``split``.

    Args:
        root: ReVOS root in the official layout.
        split: ``"valid"`` (or ``"train"``).
        predictions: folder holding ``<video>/<exp_id>/<frame>.png``.
        robustness: ``"official"`` (×255, as published) or ``"corrected"``.
        workers: processes scoring videos in parallel (1: this process).
        exclude: ``(video, exp_id)`` of expressions left out of the table and the means (their ground truth is
            broken: they are neither scored nor counted missing).
        accuracy: pixel-accuracy mode of ``A``, ``"official"`` (VISA's ``mean(gt == pred)`` on the stored 0/255
            and 0/1 values) or ``"corrected"`` (foreground against foreground).

    Returns:
        The summary ``{"referring" | "reason" | "overall": {"J", "F", "JF", "A", "R"}}`` in percent, plus ``"nan"``
        (same keys) when the split has type-2 expressions, and one row per expression (``video, exp_id, exp,
        type_id, J, F, JF, A, R, missing``; rounded percent as the official CSV).
    """
    if split not in revos.SPLITS:
        raise ValueError(f"ReVOS split must be one of {revos.SPLITS}, got {split!r}")
    root, predictions = Path(root), Path(predictions)
    items = [i for i in _expressions(revos.load_meta(root, split)) if (i.video, i.exp_id) not in exclude]
    shared = {
        "root": root,
        "predictions": predictions,
        "mask_dict": revos.load_mask_dict(root),
        "foreground": _Foreground(root),
        "robustness": robustness,
        "accuracy": accuracy,
    }
    results = _per_video(_score_revos_video, items, workers, shared)
    rows: list[dict[str, Any]] = []
    for item, (j, f, r, a, missing) in zip(items, results):
        rows.append(
            {
                "video": item.video,
                "exp_id": item.exp_id,
                "exp": item.text,
                "type_id": item.type_id,
                "J": revos_percent(j),
                "F": revos_percent(f),
                "JF": revos_percent((j + f) / 2),
                "A": revos_percent(a),
                "R": revos_percent(r),
                "missing": missing,
            }
        )
    j, f, r, a = ([result[k] for result in results] for k in range(4))
    return revos_aggregate([item.type_id for item in items], j, f, r, a), rows


def _score_revos_video(
    items: list[_Expression],
    *,
    root: Path,
    predictions: Path,
    mask_dict: MaskDict,
    foreground: _Foreground,
    robustness: str,
    accuracy: str,
) -> list[tuple[float, float, float, float, bool]]:
    """``(j, f, r, a, missing)`` of each expression of one video."""
    scores = []
    for item in items:
        rles = _object_rles(item, mask_dict, root / "mask_dict.json")
        size = _frame_size(item, rles)
        pred = _prediction(item, predictions, size)
        if pred is None:
            scores.append((0.0, 0.0, 0.0, 0.0, True))
            continue
        size = size or (pred.shape[-2], pred.shape[-1])
        fg = foreground(item.video, len(item.frames), size)
        target = _target(item, rles, size)
        j, f, r = (v.item() for v in revos_expression(pred, target, fg, robustness))
        scores.append((j, f, r, revos_expression_accuracy(pred, target, accuracy).item(), False))
    return scores


def score_mevis(
    root: str | Path, split: str, predictions: str | Path, workers: int = 1, exclude: Collection[tuple[str, str]] = ()
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Score ``predictions`` against MeViS ``split`` (``valid_u``; ``valid`` withholds its masks).

    Args:
        root: MeViS root in the official layout.
        split: an annotated split.
        predictions: folder holding ``<video>/<exp_id>/<frame>.png``.
        workers: processes scoring videos in parallel (1: this process).
        exclude: ``(video, exp_id)`` of expressions left out of the table and the means (see :func:`score_revos`).

    Returns:
        The summary ``{"J", "F", "JF"}`` in percent and one row per expression (``video, exp_id, exp, J, F, JF,
        missing``; percent).
    """
    if split not in mevis.SPLITS or split in mevis.UNANNOTATED:
        annotated = [s for s in mevis.SPLITS if s not in mevis.UNANNOTATED]
        raise ValueError(
            f"MeViS split must be one of {annotated} (the 'valid' masks are withheld: score it on the official "
            f"server), got {split!r}"
        )
    root, predictions = Path(root), Path(predictions)
    split_root = root / split
    meta_path = split_root / "meta_expressions.json"
    require_paths("MeViS", root, [split_root, meta_path], mevis.LAYOUT)
    videos = revos.check_meta_videos(meta_path, _read_json(meta_path))
    items = [i for i in _expressions(videos) if (i.video, i.exp_id) not in exclude]
    shared = {
        "mask_path": split_root / "mask_dict.json",
        "predictions": predictions,
        "mask_dict": revos.load_mask_dict(split_root, dataset="MeViS", layout=mevis.LAYOUT),
    }
    results = _per_video(_score_mevis_video, items, workers, shared)
    rows = [
        {
            "video": item.video,
            "exp_id": item.exp_id,
            "exp": item.text,
            "J": 100 * j,
            "F": 100 * f,
            "JF": 100 * (j + f) / 2,
            "missing": missing,
        }
        for item, (j, f, missing) in zip(items, results)
    ]
    return mevis_aggregate([r[0] for r in results], [r[1] for r in results]), rows


def _score_mevis_video(
    items: list[_Expression], *, mask_path: Path, predictions: Path, mask_dict: MaskDict
) -> list[tuple[float, float, bool]]:
    """``(j, f, missing)`` of each expression of one video."""
    scores = []
    for item in items:
        rles = _object_rles(item, mask_dict, mask_path)
        size = _frame_size(item, rles)
        pred = _prediction(item, predictions, size)
        if pred is None:
            scores.append((0.0, 0.0, True))
            continue
        size = size or (pred.shape[-2], pred.shape[-1])
        j, f = (v.item() for v in j_and_f(pred, _target(item, rles, size))[:2])
        scores.append((j, f, False))
    return scores


# ---------------------------------------------------------------------------------------------- worker processes
# What every worker needs (the parsed mask dictionary can be gigabytes): set before the pool forks, so the workers
# inherit it instead of receiving a pickled copy per task.
_SHARED: dict[str, Any] = {}


def _per_video(score: Callable[..., list], items: list[_Expression], workers: int, shared: dict[str, Any]) -> list:
    """``score(video_items, **shared)`` for each video's expressions, flattened back into ``items``' order (which
    :func:`_expressions` yields video by video)."""
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    groups: dict[str, list[_Expression]] = {}
    for item in items:
        groups.setdefault(item.video, []).append(item)
    if workers == 1 or len(groups) < 2:
        scored = [score(group, **shared) for group in groups.values()]
    else:
        if "fork" not in multiprocessing.get_all_start_methods():
            raise ValueError("scoring with workers > 1 needs the 'fork' start method (Linux); use workers=1")
        _SHARED.update(shared, score=score)
        try:
            # An executor, not a Pool: a worker that dies breaks the executor with an error instead of a hang.
            with ProcessPoolExecutor(
                min(workers, len(groups)), mp_context=multiprocessing.get_context("fork"), initializer=_single_threaded
            ) as pool:
                scored = list(pool.map(_score_shared, groups.values()))
        finally:
            _SHARED.clear()
    return [result for video_results in scored for result in video_results]


def _single_threaded() -> None:
    torch.set_num_threads(1)  # the workers are the parallelism


def _score_shared(group: list[_Expression]) -> list:
    shared = dict(_SHARED)
    try:
        return shared.pop("score")(group, **shared)
    except Exception as error:
        try:  # the caller gets the error through a pickle: it must survive the round trip
            pickle.loads(pickle.dumps(error))
        except Exception:
            raise RuntimeError(f"{type(error).__name__}: {error}") from None
        raise
