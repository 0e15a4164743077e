"""A picture of a score summary: grouped bars, one group per subset (ReVOS referring / reason / overall, RefAVS
seen / unseen / null…), one bar per metric (J, F, J&F, A, R, S), each labelled with its value.

Written as ``scores.png`` next to ``scores.json`` by :func:`~omni_r1.evaluate.score.write_scores`, so both
``evaluate score`` and ``evaluate run`` leave one.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None


def score_groups(summary: Mapping[str, Any]) -> dict[str, dict[str, float]]:
    """``{subset: {metric: value}}`` from a summary: nested mappings of numbers are subsets, top-level numbers one
    group of their own (``"all"``); counts (keys starting with ``n``/``num``) are left out."""
    groups: dict[str, dict[str, float]] = {}
    flat: dict[str, float] = {}
    for key, value in summary.items():
        if isinstance(value, Mapping):
            numbers = {k: _number(v) for k, v in value.items() if not str(k).lower().startswith(("n_", "num"))}
            numbers = {k: v for k, v in numbers.items() if v is not None}
            if numbers:
                groups[str(key)] = numbers
        elif (number := _number(value)) is not None and not str(key).lower().startswith(("n_", "num", "count")):
            flat[str(key)] = number
    if flat:
        groups = {"all": flat, **groups}
    return groups


def draw_scores(summary: Mapping[str, Any], path: str | Path | None = None, title: str = "") -> Figure:
    """Grouped bars of :func:`score_groups`; written to ``path`` as PNG when given."""
    groups = score_groups(summary)
    metrics = list(dict.fromkeys(m for values in groups.values() for m in values))
    figure, ax = plt.subplots(figsize=(max(4.0, 1.2 * len(groups) * max(len(metrics), 1) / 2 + 2), 3.6))
    width = 0.8 / max(len(metrics), 1)
    for m, metric in enumerate(metrics):
        xs = [g + (m - (len(metrics) - 1) / 2) * width for g in range(len(groups))]
        values = [groups[name].get(metric, math.nan) for name in groups]
        bars = ax.bar(xs, values, width, label=metric)
        ax.bar_label(bars, fmt="%.1f", fontsize=7, padding=1)
    ax.set_xticks(range(len(groups)), list(groups))
    ax.set_ylabel("score")
    ax.set_title(title or "scores", fontsize=10)
    if metrics:
        ax.legend(fontsize=8, ncols=min(len(metrics), 6), loc="upper center", bbox_to_anchor=(0.5, -0.12))
    ax.grid(axis="y", alpha=0.3)
    figure.tight_layout()
    if path is not None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        figure.savefig(path, dpi=110, bbox_inches="tight")
    return figure
