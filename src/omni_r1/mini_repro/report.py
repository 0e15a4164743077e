"""Tables and charts shaped like the paper's Tables 1, 2 and 4: mean and 95 % interval over seeds per policy.

The interval is Student's t over the seeds (``mean ± t(0.975, n-1) · sd / sqrt(n)``), so with 3 seeds it is wide
(t = 4.30): "non-overlapping" is a strict test. Figures are percentages except the null split's S (a fraction,
lower is better).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from omni_r1.mini_repro.results import METRICS


@dataclass(frozen=True)
class Interval:
    """Mean and 95 % half-width of one figure over seeds (``half`` is NaN for a single seed)."""

    mean: float
    half: float
    n: int

    @property
    def low(self) -> float:
        return self.mean - self.half

    @property
    def high(self) -> float:
        return self.mean + self.half

    def __str__(self) -> str:
        if math.isnan(self.mean):
            return "n/a"
        digits = 3 if abs(self.mean) < 1 else 1
        return f"{self.mean:.{digits}f}" if self.n < 2 else f"{self.mean:.{digits}f} ± {self.half:.{digits}f}"


def interval(values: Sequence[float]) -> Interval:
    """The mean and Student-t 95 % half-width of ``values`` (NaNs dropped)."""
    from scipy import stats  # deferred: only reports need it

    kept = [v for v in values if not math.isnan(v)]
    n = len(kept)
    if n == 0:
        return Interval(math.nan, math.nan, 0)
    mean = sum(kept) / n
    if n < 2:
        return Interval(mean, math.nan, n)
    sd = math.sqrt(sum((v - mean) ** 2 for v in kept) / (n - 1))
    return Interval(mean, float(stats.t.ppf(0.975, n - 1)) * sd / math.sqrt(n), n)


def summarise(figures: Mapping[str, Sequence[Mapping[str, float]]]) -> dict[str, dict[str, Interval]]:
    """Per policy (``figures[policy]`` is one figure dict per seed), the interval of every figure."""
    return {
        policy: {key: interval([seed[key] for seed in seeds if key in seed]) for key, _, _ in METRICS}
        for policy, seeds in figures.items()
    }


def markdown_table(summary: Mapping[str, Mapping[str, Interval]], first_column: str = "policy") -> str:
    """The summary as a markdown table: one row per policy, one column per figure of :data:`METRICS`."""
    header = [first_column, "seeds", *(label for _, label, _ in METRICS)]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for policy, values in summary.items():
        seeds = max((v.n for v in values.values()), default=0)
        cells = [policy, str(seeds), *(str(values[key]) for key, _, _ in METRICS)]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def ordering(summary: Mapping[str, Mapping[str, Interval]], policies: Sequence[str], key: str) -> str:
    """Whether ``key`` rises strictly along ``policies`` with non-overlapping intervals, as one sentence."""
    values = [summary[p][key] for p in policies if p in summary]
    if len(values) != len(policies):
        return f"{key}: not every policy was evaluated"
    rising = all(a.mean < b.mean for a, b in zip(values, values[1:]))
    separate = all(a.high < b.low for a, b in zip(values, values[1:]))
    chain = " < ".join(f"{p} {v}" for p, v in zip(policies, values))
    verdict = "holds, intervals apart" if separate else "holds in the means, intervals overlap" if rising else "fails"
    return f"{key}: {chain} — {verdict}"


def paired(
    before: Mapping[int, Mapping[str, float]], after: Mapping[int, Mapping[str, float]], keys: Sequence[str]
) -> str:
    """The per-seed change ``after - before`` of each of ``keys`` (mean ± 95 % interval over the seeds both ran,
    and how many seeds rose), as one sentence. Seeds share a start (``after`` is trained from ``before``), so the
    paired change is the sharper test of what the second stage did than the two rows' intervals."""
    seeds = sorted(set(before) & set(after))
    if not seeds:
        return "no seed has both"
    parts = []
    for key in keys:
        diffs = [after[s][key] - before[s][key] for s in seeds]
        change = interval(diffs)
        half = "" if change.n < 2 else f" ± {change.half:.1f}"
        parts.append(f"{key} {change.mean:+.1f}{half} (up in {sum(d > 0 for d in diffs)} of {len(diffs)})")
    return "; ".join(parts)


def bar_chart(summary: Mapping[str, Mapping[str, Interval]], path: str | Path, title: str) -> Path:
    """A PNG of grouped bars with 95 % error bars: J&F per query type and overall, keyframe hit rate and R (left,
    percent), null S (right, lower is better)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    groups = [
        ("referring/JF", "referring\nJ&F"),
        ("temporal/JF", "temporal\nJ&F"),
        ("audio/JF", "audio\nJ&F"),
        ("overall/JF", "overall\nJ&F"),
        ("keyframes/hit", "keyframe\nhit"),
        ("video/R", "R"),
    ]
    policies = list(summary)
    width = 0.8 / max(1, len(policies))
    figure, (left, right) = plt.subplots(1, 2, figsize=(12, 4.2), gridspec_kw={"width_ratios": [5, 1]})
    for i, policy in enumerate(policies):
        offsets = [g + (i - (len(policies) - 1) / 2) * width for g in range(len(groups))]
        values = [summary[policy][key] for key, _ in groups]
        errors = [0 if math.isnan(v.half) else v.half for v in values]
        left.bar(offsets, [v.mean for v in values], width, yerr=errors, capsize=3, label=policy)
        null = summary[policy]["null/S"]
        right.bar(i, null.mean, 0.7, yerr=0 if math.isnan(null.half) else null.half, capsize=3)
    left.set_xticks(range(len(groups)), [label for _, label in groups])
    left.set_ylabel("% (mean, 95 % interval over seeds)")
    left.legend(fontsize=8)
    left.set_title(title)
    right.set_xticks(range(len(policies)), policies, rotation=30, ha="right", fontsize=8)
    right.set_title("null S (lower is better)")
    figure.tight_layout()
    path = Path(path)
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path
