"""Evaluation metrics of the kit: torchmetrics classes over the functional definitions in ``functional``."""

from __future__ import annotations

from omni_r1.metrics.jandf import JAndF

__all__ = ["JAndF"]
