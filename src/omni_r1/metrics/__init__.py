"""Evaluation metrics of the kit: torchmetrics classes over the functional definitions in ``functional``."""

from __future__ import annotations

from omni_r1.metrics.avhbench import AVHBenchScore
from omni_r1.metrics.jandf import JAndF
from omni_r1.metrics.refavs import RefAVSNullScore, RefAVSScore
from omni_r1.metrics.revos import ReVOSScore

__all__ = ["AVHBenchScore", "JAndF", "RefAVSNullScore", "RefAVSScore", "ReVOSScore"]
