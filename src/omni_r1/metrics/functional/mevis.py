"""MeViS / ReasonVOS summary as the official ``eval_mevis.py`` (and VideoLISA's ReasonVOS copy) computes it.

Per expression the official script takes the DAVIS frame means ``j`` and ``f`` over all frames
(:func:`~omni_r1.metrics.functional.davis.j_and_f`); a video without a prediction folder scores ``j = f = 0``. The
summary is ``np.mean`` over expressions, unrounded, with ``J&F = (J + F) / 2``. The official script prints
fractions; the kit reports percent, as the papers' tables do.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def mevis_aggregate(j: Sequence[float], f: Sequence[float]) -> dict[str, float]:
    """Means over expressions, in percent.

    Args:
        j: per-expression frame-mean J as a fraction (0 for a missing prediction).
        f: per-expression frame-mean F.

    Returns:
        ``{"J", "F", "JF"}`` in percent.
    """
    if len(j) != len(f) or not len(j):
        raise ValueError(f"need one j and one f per expression and at least one expression, got {len(j)}, {len(f)}")
    j_mean = float(np.array(j, dtype=np.float64).mean())
    f_mean = float(np.array(f, dtype=np.float64).mean())
    return {"J": 100 * j_mean, "F": 100 * f_mean, "JF": 100 * (j_mean + f_mean) / 2}
