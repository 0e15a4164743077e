"""Stateless metric functions on tensors, equal to the official evaluation scripts."""

from __future__ import annotations

from omni_r1.metrics.functional.avhbench import (
    avhbench_confusion,
    avhbench_scores,
    avhbench_scores_from_confusion,
    parse_yes_no,
)
from omni_r1.metrics.functional.davis import (
    boundary_f_measure,
    boundary_map,
    boundary_radius,
    disk_dilation,
    j_and_f,
    region_and_boundary,
    region_similarity,
)
from omni_r1.metrics.functional.mevis import mevis_aggregate
from omni_r1.metrics.functional.refavs import (
    refavs_aggregate,
    refavs_batch_fmeasure,
    refavs_batch_iou,
    refavs_batches,
    refavs_fmeasure_curves,
    refavs_frame_iou,
    refavs_null_aggregate,
    refavs_null_s,
    refavs_resize,
    refavs_target,
)
from omni_r1.metrics.functional.revos import (
    revos_accuracy,
    revos_aggregate,
    revos_expression,
    revos_expression_accuracy,
    revos_percent,
    revos_robustness,
)

__all__ = [
    "avhbench_confusion",
    "avhbench_scores",
    "avhbench_scores_from_confusion",
    "boundary_f_measure",
    "boundary_map",
    "boundary_radius",
    "disk_dilation",
    "j_and_f",
    "mevis_aggregate",
    "parse_yes_no",
    "refavs_aggregate",
    "refavs_batch_fmeasure",
    "refavs_batch_iou",
    "refavs_batches",
    "refavs_fmeasure_curves",
    "refavs_frame_iou",
    "refavs_null_aggregate",
    "refavs_null_s",
    "refavs_resize",
    "refavs_target",
    "region_and_boundary",
    "region_similarity",
    "revos_accuracy",
    "revos_aggregate",
    "revos_expression",
    "revos_expression_accuracy",
    "revos_percent",
    "revos_robustness",
]
