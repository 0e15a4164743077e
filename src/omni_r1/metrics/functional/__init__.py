"""Stateless metric functions on tensors, equal to the official evaluation scripts."""

from __future__ import annotations

from omni_r1.metrics.functional.davis import (
    boundary_f_measure,
    boundary_map,
    boundary_radius,
    disk_dilation,
    j_and_f,
    region_similarity,
)

__all__ = [
    "boundary_f_measure",
    "boundary_map",
    "boundary_radius",
    "disk_dilation",
    "j_and_f",
    "region_similarity",
]
