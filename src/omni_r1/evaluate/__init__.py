"""Evaluation on the paper's benchmarks: ``python -m omni_r1.evaluate score ...`` scores a prediction folder in
the official layout exactly like the official scripts (see :mod:`omni_r1.evaluate.score`)."""

from __future__ import annotations

from omni_r1.evaluate.score import BENCHMARKS, score_predictions, write_scores

__all__ = ["BENCHMARKS", "score_predictions", "write_scores"]
