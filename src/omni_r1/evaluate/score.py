"""``python -m omni_r1.evaluate score``: score an existing prediction folder exactly like the official scripts.

    python -m omni_r1.evaluate score --benchmark revos --root data/ReVOS --split valid \\
        --predictions runs/revos_valid/predictions --output runs/revos_valid/scores.json

Writes the summary JSON to ``--output`` and one row per expression (ReVOS, MeViS) or csv row (RefAVS) to a CSV
next to it (same name, ``.csv``). Prediction layouts: ``<predictions>/<video>/<exp_id>/<frame>.png`` for ReVOS and
MeViS (:mod:`omni_r1.evaluate.vos`), ``<predictions>/<video>/<uid>/<i>.png`` for RefAVS
(:mod:`omni_r1.evaluate.refavs`). Missing predictions score 0, as in the official scripts; how many were missing
is printed and marked in the CSV.
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Collection
from pathlib import Path
from typing import Any, Literal

import matplotlib.pyplot as plt
from jsonargparse import ArgumentParser, Namespace
from jsonargparse.typing import PositiveInt

from omni_r1.command_line import command_parser
from omni_r1.evaluate.plots import draw_scores
from omni_r1.evaluate.refavs import score_refavs
from omni_r1.evaluate.vos import score_mevis, score_revos
from omni_r1.metrics.functional.revos import ACCURACY_MODES, ROBUSTNESS_MODES

BENCHMARKS = ("revos", "mevis", "refavs")
DEFAULT_SPLITS = {"revos": "valid", "mevis": "valid_u", "refavs": "test_s"}


def score_predictions(
    benchmark: str,
    root: str | Path,
    split: str,
    predictions: str | Path,
    *,
    robustness: str = "official",
    workers: int = 1,
    exclude: Collection[tuple[str, str]] = (),
    accuracy: str = "official",
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Score a prediction folder; returns the summary and the per-expression (or per-row) table.

    Args:
        benchmark: ``"revos"``, ``"mevis"`` or ``"refavs"``.
        root: the benchmark's dataset root in its official layout.
        split: split to score (``valid``; ``valid_u``; ``test_s`` / ``test_u`` / ``test_n``).
        predictions: prediction folder in the benchmark's official layout.
        robustness: ReVOS robustness mode, ``"official"`` or ``"corrected"`` (ignored by the others).
        workers: processes scoring videos in parallel (ReVOS, MeViS; RefAVS scores in one process).
        exclude: ``(video, exp_id)`` (RefAVS: ``(video folder, uid)``) of prompts left out of the table and the
            means, neither scored nor counted missing: ``evaluate run`` passes those whose ground truth is broken.
        accuracy: ReVOS pixel-accuracy mode of ``A``, ``"official"`` or ``"corrected"`` (ignored by the others).
    """
    if not Path(predictions).is_dir():
        raise FileNotFoundError(f"prediction folder not found: {predictions}")
    if benchmark == "revos":
        return score_revos(root, split, predictions, robustness, workers, exclude, accuracy)
    if benchmark == "mevis":
        return score_mevis(root, split, predictions, workers, exclude)
    if benchmark == "refavs":
        return score_refavs(root, split, predictions, exclude)
    raise ValueError(f"benchmark must be one of {BENCHMARKS}, got {benchmark!r}")


def _jsonable(value: Any) -> Any:
    """NaN (an empty subset) becomes null: strict JSON has no NaN."""
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    return None if isinstance(value, float) and math.isnan(value) else value


def write_scores(summary: dict[str, Any], table: list[dict[str, Any]], output: str | Path) -> tuple[Path, Path]:
    """Write ``summary`` as JSON to ``output``, ``table`` as CSV and the bars of :mod:`omni_r1.evaluate.plots` as
    PNG next to it; returns the JSON and CSV paths."""
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(_jsonable(summary), indent=2) + "\n")
    table_path = output.with_suffix(".csv")
    with open(table_path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(table[0]) if table else ["missing"])
        writer.writeheader()
        writer.writerows(table)
    figure = draw_scores(summary, output.with_suffix(".png"), title=output.parent.name)  # scores.png beside it
    plt.close(figure)
    return output, table_path


SUMMARY = "score a prediction folder like the official scripts"
DESCRIPTION = f"""Score a prediction folder exactly as the benchmark's official script does.

Prediction layouts: <predictions>/<video>/<exp_id>/<frame>.png (ReVOS, MeViS), <predictions>/<video>/<uid>/<i>.png
(RefAVS), 0/255 greyscale masks. A prompt without predictions scores 0, as in the official scripts. Writes the
summary JSON to --output and one row per expression (RefAVS: per csv row) to a CSV next to it (same name, .csv).
Default splits: {", ".join(f"{k} {v}" for k, v in DEFAULT_SPLITS.items())}.

example:
  python -m omni_r1.evaluate score --benchmark revos --root /data/ReVOS --split valid \\
      --predictions runs/eval/revos_valid/predictions --output runs/eval/revos_valid/scores.json
"""


def build_parser(prog: str) -> ArgumentParser:
    """The ``score`` subcommand's options."""
    parser = command_parser(prog, DESCRIPTION)
    parser.add_argument("--benchmark", type=Literal[BENCHMARKS], required=True, help="the benchmark's layout")
    parser.add_argument("--root", type=str, required=True, help="dataset root in the official layout")
    parser.add_argument("--split", type=str | None, default=None, help="split to score (default: see above)")
    parser.add_argument("--predictions", type=str, required=True, help="prediction folder in the official layout")
    parser.add_argument("--output", type=str, required=True, help="summary JSON to write; the CSV goes next to it")
    parser.add_argument(
        "--robustness", type=Literal[ROBUSTNESS_MODES], default="official", help="ReVOS robustness (R) mode"
    )
    parser.add_argument(
        "--accuracy",
        type=Literal[ACCURACY_MODES],
        default="official",
        help="ReVOS pixel-accuracy (A) mode: official compares the stored 0/255 and 0/1 values",
    )
    parser.add_argument(
        "--workers", type=PositiveInt, default=1, help="processes scoring videos in parallel (ReVOS, MeViS)"
    )
    return parser


def run(args: Namespace) -> int:
    """Run the ``score`` subcommand; prints the scores and returns the exit status."""
    split = args.split or DEFAULT_SPLITS[args.benchmark]
    summary, table = score_predictions(
        args.benchmark,
        args.root,
        split,
        args.predictions,
        robustness=args.robustness,
        workers=args.workers,
        accuracy=args.accuracy,
    )
    json_path, csv_path = write_scores(summary, table, args.output)
    missing = sum(bool(row["missing"]) for row in table)
    print(json.dumps(_jsonable(summary), indent=2))
    print(f"{args.benchmark} {split}: {len(table)} scored, {missing} without predictions (scored 0)")
    print(f"wrote {json_path} and {csv_path}")
    return 0
