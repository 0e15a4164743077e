"""The Detail Understanding system (S2): grounders, segmenters and the collaboration step with the Global system."""

from __future__ import annotations

from omni_r1.detail.box_parsing import parse_bbox_2d, rescale_boxes
from omni_r1.detail.box_segmenter import BoxSegmenter, box_mask
from omni_r1.detail.colour_grounder import ColourShapeGrounder
from omni_r1.detail.grounders import HFGrounder, OracleGrounder, ReferenceGrounder
from omni_r1.detail.grounding_prompts import GroundingPrompts
from omni_r1.detail.matching import per_box_prompts, per_object_prompts
from omni_r1.detail.protocols import BoxPrompt, Grounder, Segmenter
from omni_r1.detail.sam2_segmenter import SAM2Segmenter, SegmentStats
from omni_r1.detail.system import DetailSystem
from omni_r1.detail.vlm_grounding import S2_PIXELS

__all__ = [
    "S2_PIXELS",
    "BoxPrompt",
    "BoxSegmenter",
    "ColourShapeGrounder",
    "DetailSystem",
    "Grounder",
    "GroundingPrompts",
    "HFGrounder",
    "OracleGrounder",
    "ReferenceGrounder",
    "SAM2Segmenter",
    "Segmenter",
    "SegmentStats",
    "box_mask",
    "parse_bbox_2d",
    "per_box_prompts",
    "per_object_prompts",
    "rescale_boxes",
]
