"""The run's curves in one figure: reward and each reward term, KL, completion length, SFT losses.

Drawn with matplotlib's Agg backend from the metric history the run itself recorded
(:class:`~omni_r1.callbacks.run_summary.RunSummaryCallback`), so it needs neither a logger nor a display. Each panel's
title is the metric's name, which is what tests check.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # no display: the figure is written to a file
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

History = Mapping[str, Sequence[tuple[int, float]]]
# Panels in this order, when the run logged them; reward terms are added after the total reward.
FIRST = ("train/reward",)
LAST = ("train/kl", "train/completions/mean_length", "train/grad_norm", "train/loss")


def plot_keys(history: History) -> list[str]:
    """The metrics that get a panel: the reward, each reward term's mean, KL, completion length, losses."""
    terms = sorted(k for k in history if k.startswith("train/rewards/") and k.endswith("/mean"))
    validation = sorted(k for k in history if k.startswith("val/") and "loss" in k)
    keys = [k for k in FIRST if k in history] + terms + [k for k in LAST if k in history] + validation
    return [k for k in keys if history[k]]


def draw_run_plots(history: History, path: str | Path | None = None, title: str = "") -> Figure:
    """One panel per metric of :func:`plot_keys` (x: optimizer step); written to ``path`` as PNG when given."""
    keys = plot_keys(history)
    columns = min(3, max(len(keys), 1))
    rows = max(1, math.ceil(len(keys) / columns))
    figure, axes = plt.subplots(rows, columns, figsize=(4.2 * columns, 2.8 * rows), squeeze=False)
    for ax in axes.flat[len(keys) :]:
        ax.set_visible(False)
    for ax, key in zip(axes.flat, keys):
        steps, values = zip(*history[key])
        ax.plot(steps, values, marker="." if len(steps) < 40 else None, linewidth=1.2)
        ax.set_title(key, fontsize=9)
        ax.set_xlabel("step", fontsize=8)
        ax.tick_params(labelsize=7)
        ax.grid(alpha=0.3)
    if not keys:
        axes.flat[0].set_visible(True)
        axes.flat[0].text(0.5, 0.5, "no metrics were logged", ha="center", va="center")
        axes.flat[0].set_axis_off()
    if title:
        figure.suptitle(title, fontsize=10)
    figure.tight_layout()
    if path is not None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        figure.savefig(path, dpi=110)
    return figure
